//! The commit pin of a snapshot builder's Dockerfile (`git checkout <40 hex digits>`): any text
//! is pinned or refused without a panic, and a pinned text differs from the original only in one
//! 40-character window, which holds the new commit; pinning again changes nothing.
#![no_main]

use std::path::Path;

use dagster_image::publish::pin::{check_commit, with_commit};
use libfuzzer_sys::fuzz_target;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Whether `pinned` is `original` with one 40-byte window replaced by `COMMIT`.
fn one_window_replaced(original: &str, pinned: &str) -> bool {
    original.len() == pinned.len()
        && (0..=pinned.len().saturating_sub(COMMIT.len())).any(|start| {
            let end = start + COMMIT.len();
            pinned.get(start..end) == Some(COMMIT)
                && pinned.as_bytes()[..start] == original.as_bytes()[..start]
                && pinned.as_bytes()[end..] == original.as_bytes()[end..]
        })
}

fuzz_target!(|text: &str| {
    let _ = check_commit(text);
    let path = Path::new("Dockerfile");
    let Ok(pinned) = with_commit(path, text, COMMIT) else {
        return;
    };
    assert!(
        one_window_replaced(text, &pinned),
        "\n{text}\n---\n{pinned}"
    );
    assert_eq!(
        with_commit(path, &pinned, COMMIT).ok().as_deref(),
        Some(pinned.as_str())
    );
});
