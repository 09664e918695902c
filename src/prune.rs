//! Which local images `prune --images` may remove, and how it tells what their removal freed.
//! Pure: the command lists the images and removes them.
//!
//! Safe to remove is a tag of `dagster/<name>` of the form `py<V>-<timestamp>`, V a Python
//! version of versions.yaml, that no `last_updated.yaml` entry of the image names. Any other tag
//! (`latest`, a custom one, a version no longer built) and any other repository stay. A recorded
//! build's platform tags (`py<V>-<timestamp>-<os>-<arch>`) count as recorded: what follows the
//! recorded tag and a `-` is taken for a platform, so that a current image is never removed.

use crate::catalog::Image;
use crate::reference::{LOCAL_NAMESPACE, version_tag, version_tag_prefix};

/// The local repository of `image`'s builds.
pub fn repository(image: &Image) -> String {
    format!("{LOCAL_NAMESPACE}/{}", image.name)
}

/// Whether `reference` (`repository:tag`) is a build of one of `images` that no
/// `last_updated.yaml` entry names any more.
pub fn is_old_build(images: &[Image], reference: &str) -> bool {
    let Some((repository_name, tag)) = reference.rsplit_once(':') else {
        return false;
    };
    images
        .iter()
        .find(|image| repository(image) == repository_name)
        .is_some_and(|image| is_build_tag(image, tag) && !is_recorded(image, tag))
}

/// `py<V>-<timestamp>` for a Python version V of the image.
fn is_build_tag(image: &Image, tag: &str) -> bool {
    image.versions.keys().any(|version| {
        tag.strip_prefix(&version_tag_prefix(version))
            .is_some_and(|timestamp| !timestamp.is_empty())
    })
}

/// Named by an entry of `last_updated.yaml`, also one of a version no longer in versions.yaml.
fn is_recorded(image: &Image, tag: &str) -> bool {
    image
        .last_updated
        .timestamps
        .iter()
        .any(|(version, timestamp)| {
            let recorded = version_tag(version, timestamp);
            tag == recorded || tag.starts_with(&format!("{recorded}-"))
        })
}

/// `bytes` as docker shows sizes: decimal units, three significant digits or so.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.2} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(name: &str, versions: &[&str], recorded: &[(&str, &str)]) -> Image {
        Image::fixture(name, versions, recorded)
    }

    #[test]
    fn only_unrecorded_builds_of_known_versions_of_the_image_are_old() {
        let images = [image(
            "app",
            &["3.9", "3.10"],
            &[("3.9", "T2"), ("3.7", "T0")],
        )];
        let old = |reference| is_old_build(&images, reference);
        assert!(old("dagster/app:py3.9-T1"));
        assert!(
            old("dagster/app:py3.10-T2"),
            "3.10 was never recorded at T2"
        );
        assert!(!old("dagster/app:py3.9-T2"), "the current build");
        assert!(!old("dagster/app:py3.7-T0"), "a version no longer built");
        assert!(!old("dagster/app:py3.8-T1"), "a version never built here");
        assert!(!old("dagster/app:py3.9-"), "no timestamp");
        assert!(!old("dagster/app:py3.90-T1"), "3.90 is not 3.9");
        assert!(!old("dagster/app:latest"));
        assert!(!old("dagster/app:keepme"));
        assert!(!old("dagster/app-extra:py3.9-T1"), "another repository");
        assert!(!old("other/app:py3.9-T1"), "another namespace");
        assert!(
            !old("127.0.0.1:5000/x/app:py3.9-T1"),
            "a registry's repository"
        );
        assert!(!old("dagster/app"), "no tag");
    }

    #[test]
    fn a_recorded_tag_of_one_version_is_kept_even_if_it_reads_as_another() {
        let images = [image("app", &["3.10", "3.10-slim"], &[("3.10-slim", "T")])];
        assert!(!is_old_build(&images, "dagster/app:py3.10-slim-T"));
        assert!(is_old_build(&images, "dagster/app:py3.10-slim-S"));
    }

    #[test]
    fn the_platform_tags_of_a_recorded_build_are_kept() {
        let images = [image("app", &["3.9"], &[("3.9", "T")])];
        assert!(!is_old_build(&images, "dagster/app:py3.9-T-linux-arm64"));
        assert!(is_old_build(&images, "dagster/app:py3.9-S-linux-arm64"));
    }

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1984177), "1.98 MB");
        assert_eq!(human_size(2_500_000_000), "2.50 GB");
    }
}
