//! Which tags of an image's registry repository `prune --remote` deletes. Pure: the command
//! lists the tags with their manifest digests and deletes what this module picks.
//!
//! A build tag is `py<V>-<T>[-<os>-<arch>...]`, V a Python version of the image's versions.yaml
//! (or of its `last_updated.yaml`) and T a timestamp of the tool's own format (`%Y-%m-%dT%H%M%S`).
//! Per version and platform suffix, the `keep` newest build tags stay; of the others, only those
//! older than the cutoff go, when there is one. Never deleted: any other tag; a tag whose version
//! and timestamp `last_updated.yaml` records; a tag whose timestamp a file naming published tags
//! (`references:`, `.buildkite/defines.py`) holds; a tag whose manifest a tag that stays has too
//! (a registry deletes manifests, so deleting it would delete the kept one).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::DateTime;

use crate::catalog::Image;
use crate::reference::{PythonVersion, TIMESTAMP_FORMAT, version_tag_prefix};

/// A tag of the repository and the digest of the manifest it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTag {
    pub tag: String,
    pub digest: String,
}

/// What may not be deleted, and how many builds stay. Protected builds are not among the `keep`
/// newest: `--keep K` keeps K builds besides those files name.
pub struct Policy<'a> {
    /// Build tags kept per version and platform, the newest.
    pub keep: usize,
    /// Only builds older than this go (None: any beyond the `keep` newest).
    pub cutoff: Option<DateTime>,
    /// Texts of the files that name published tags; a timestamp they hold is kept.
    pub naming_files: &'a [String],
}

/// A build tag read: its version, its timestamp and what follows it (a platform, or nothing).
#[derive(Debug, PartialEq, Eq)]
struct BuildTag<'t> {
    version: &'t str,
    timestamp: &'t str,
    time: DateTime,
    suffix: &'t str,
}

/// The tags of `tags` (of `image`'s repository) to delete, in the order given.
pub fn doomed_tags(image: &Image, tags: &[RemoteTag], policy: &Policy) -> Vec<RemoteTag> {
    let versions: BTreeSet<&str> = image
        .versions
        .keys()
        .chain(image.last_updated.timestamps.keys())
        .map(PythonVersion::as_str)
        .collect();
    let mut groups: BTreeMap<(&str, &str), Vec<(DateTime, usize)>> = BTreeMap::new();
    for (index, remote) in tags.iter().enumerate() {
        let Some(build) = read_build_tag(&versions, &remote.tag) else {
            continue;
        };
        if is_protected(image, &build, policy.naming_files) {
            continue;
        }
        groups
            .entry((build.version, build.suffix))
            .or_default()
            .push((build.time, index));
    }
    let mut doomed = BTreeSet::new();
    for builds in groups.values_mut() {
        builds.sort_by(|a, b| b.cmp(a));
        doomed.extend(
            builds
                .iter()
                .skip(policy.keep)
                .filter(|(time, _)| policy.cutoff.is_none_or(|cutoff| *time < cutoff))
                .map(|(_, index)| *index),
        );
    }
    let kept_digests: BTreeSet<&str> = tags
        .iter()
        .enumerate()
        .filter(|(index, _)| !doomed.contains(index))
        .map(|(_, remote)| remote.digest.as_str())
        .collect();
    tags.iter()
        .enumerate()
        .filter(|(index, remote)| {
            doomed.contains(index) && !kept_digests.contains(remote.digest.as_str())
        })
        .map(|(_, remote)| remote.clone())
        .collect()
}

/// `tag` as a build tag of one of `versions`, None when it is none.
fn read_build_tag<'t>(versions: &BTreeSet<&'t str>, tag: &'t str) -> Option<BuildTag<'t>> {
    versions.iter().find_map(|&version| {
        let rest = tag.strip_prefix(&version_tag_prefix(&PythonVersion::new(version)))?;
        let timestamp = rest.get(..TIMESTAMP_LENGTH)?;
        let suffix = &rest[TIMESTAMP_LENGTH..];
        let time = parse_timestamp(timestamp)?;
        (suffix.is_empty() || (suffix.len() > 1 && suffix.starts_with('-'))).then_some(BuildTag {
            version,
            timestamp,
            time,
            suffix,
        })
    })
}

/// The length of a timestamp of [`TIMESTAMP_FORMAT`]: `2024-01-31T235959`.
const TIMESTAMP_LENGTH: usize = 17;

/// `text` as a time, when it is one written in [`TIMESTAMP_FORMAT`] exactly.
pub fn parse_timestamp(text: &str) -> Option<DateTime> {
    let time = DateTime::strptime(TIMESTAMP_FORMAT, text).ok()?;
    (time.strftime(TIMESTAMP_FORMAT).to_string() == text).then_some(time)
}

/// Named by `last_updated.yaml`, or its timestamp held by one of `naming_files`.
fn is_protected(image: &Image, build: &BuildTag, naming_files: &[String]) -> bool {
    let recorded = image.last_updated.timestamps.get(build.version);
    recorded.is_some_and(|timestamp| timestamp == build.timestamp)
        || naming_files
            .iter()
            .any(|text| text.contains(build.timestamp))
}

#[cfg(test)]
#[path = "prune_remote_tests.rs"]
mod tests;
