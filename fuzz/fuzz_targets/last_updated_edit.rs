//! `last_updated.yaml`: any text parses or is refused without a panic, and recording a version
//! into a file that parses gives a file that parses, holds the new timestamp and keeps every
//! other entry; removing it again keeps the others too.
#![no_main]

use std::path::Path;

use dagster_image::catalog::LastUpdated;
use dagster_image::catalog::last_updated::{with_entry, without_entries};
use dagster_image::names::check_tag_chars;
use libfuzzer_sys::fuzz_target;

/// The input, as `TEXT\0VERSION\0TIMESTAMP\0ORDER...` (the versions.yaml order, `\0`-separated),
/// so that seeds are readable files.
struct Edit<'a> {
    text: &'a str,
    version: &'a str,
    timestamp: &'a str,
    order: Vec<String>,
}

impl<'a> Edit<'a> {
    fn split(input: &'a str) -> Option<Self> {
        let mut parts = input.split('\0');
        Some(Self {
            text: parts.next()?,
            version: parts.next()?,
            timestamp: parts.next()?,
            order: parts.map(str::to_owned).collect(),
        })
    }
}

fn parse(text: &str) -> LastUpdated {
    LastUpdated::parse(Path::new("last_updated.yaml"), text)
        .unwrap_or_else(|e| panic!("the edited file does not parse: {e}\n---\n{text}\n---"))
}

/// Every entry of `before` but `version` is in `after` with the same timestamp.
fn keeps_the_others(before: &LastUpdated, after: &LastUpdated, version: &str) {
    for (other, timestamp) in &before.timestamps {
        if other != version {
            assert_eq!(
                after.get(other),
                Some(timestamp.as_str()),
                "entry {other} lost"
            );
        }
    }
}

fuzz_target!(|input: &str| {
    let Some(edit) = Edit::split(input) else {
        return;
    };
    let Ok(before) = LastUpdated::parse(Path::new("last_updated.yaml"), edit.text) else {
        return;
    };
    // The tool records only versions and timestamps that fit in a Docker tag.
    if check_tag_chars(edit.version).is_err() || check_tag_chars(edit.timestamp).is_err() {
        return;
    }
    let edited = with_entry(edit.text, edit.version, edit.timestamp, &edit.order);
    let after = parse(&edited);
    assert_eq!(after.get(edit.version), Some(edit.timestamp), "\n{edited}");
    keeps_the_others(&before, &after, edit.version);
    let extra = usize::from(before.get(edit.version).is_none());
    assert_eq!(
        after.timestamps.len(),
        before.timestamps.len() + extra,
        "\n{edited}"
    );

    let removed = without_entries(&edited, &[edit.version.to_owned()]);
    let after_removal = parse(&removed);
    assert_eq!(after_removal.get(edit.version), None, "\n{removed}");
    keeps_the_others(&before, &after_removal, edit.version);
});
