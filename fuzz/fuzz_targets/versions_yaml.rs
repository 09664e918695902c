//! `versions.yaml` parsing: any text gives versions or an error, never a panic.
#![no_main]

use std::path::Path;

use dagster_image::catalog::versions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = versions::parse(Path::new("versions.yaml"), text);
});
