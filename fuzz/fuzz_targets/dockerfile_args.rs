//! The tolerant Dockerfile reader: any text gives its ARGs, undeclared uses and COPY/ADD sources
//! (expanded), never a panic.
#![no_main]

use dagster_image::dockerfile::Dockerfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let dockerfile = Dockerfile::parse(text);
    let _ = dockerfile.declared_args();
    let _ = dockerfile.undeclared_uses();
    for copy in dockerfile.context_copies() {
        for source in &copy.sources {
            let _ = copy.expand(source, &Default::default());
        }
    }
});
