//! The tolerant Dockerfile reader: any text gives its ARGs and undeclared uses, never a panic.
#![no_main]

use dagster_image::dockerfile::Dockerfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let dockerfile = Dockerfile::parse(text);
    let _ = dockerfile.declared_args();
    let _ = dockerfile.undeclared_uses();
});
