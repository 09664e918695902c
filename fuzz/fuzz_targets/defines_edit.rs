//! `.buildkite/defines.py`: any text gives the image timestamp it assigns or an error, never a
//! panic, and setting a new timestamp gives a file that reads back with it, the rest unchanged.
#![no_main]

use std::path::Path;

use dagster_image::names::check_tag_chars;
use dagster_image::publish::defines::{value, with_value};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "UNIT_IMAGE_VERSION";

fuzz_target!(|input: &str| {
    // `TEXT\0TIMESTAMP`, so that seeds are readable files.
    let Some((text, timestamp)) = input.split_once('\0') else {
        return;
    };
    let path = Path::new("defines.py");
    let Ok(old) = value(path, text, NAME) else {
        return;
    };
    if check_tag_chars(timestamp).is_err() {
        return;
    }
    let edited = with_value(path, text, NAME, timestamp)
        .unwrap_or_else(|e| panic!("a file whose value reads cannot be edited: {e}"));
    assert_eq!(
        value(path, &edited, NAME).ok(),
        Some(timestamp),
        "\n{edited}"
    );
    assert_eq!(
        edited.len() + old.len(),
        text.len() + timestamp.len(),
        "\n{edited}"
    );
});
