//! `last_updated.yaml`: the timestamp of each Python version's last successful build.
//!
//! The tool writes it only after a build succeeded, under a lock on the image folder (so two
//! processes recording different versions both land), keeping the file's comments, order and
//! mode, and atomically (a crash leaves the old file).

use std::path::Path;
use std::str::FromStr;

use indexmap::IndexMap;

use super::error::{Error, Result};
use super::{file, yaml};
use crate::names;
use crate::reference::{PythonVersion, Timestamp};

/// The timestamps recorded for one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastUpdated {
    /// Python version -> timestamp, in file order; each timestamp checked as tag characters
    /// when the file was read.
    pub timestamps: IndexMap<PythonVersion, Timestamp>,
}

impl LastUpdated {
    /// Reads `path`; a missing or empty file means nothing was built yet.
    pub fn read(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Self::default());
        }
        Self::parse(path, &file::read_text(path)?)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        // Keys read as text, so that `3.10` stays `3.10`, then typed once.
        let read: IndexMap<String, String> = yaml::parse(path, text)?;
        let mut timestamps = IndexMap::with_capacity(read.len());
        for (version, timestamp) in read {
            names::check_tag_chars(&timestamp).map_err(|why| Error::Invalid {
                path: path.to_owned(),
                problem: format!(
                    "timestamp `{timestamp}` of Python {version} cannot be part of a tag: {why}"
                ),
            })?;
            timestamps.insert(PythonVersion::new(version), Timestamp::recorded(timestamp));
        }
        Ok(Self { timestamps })
    }

    /// The timestamp recorded for `version`, if it was ever built.
    pub fn get(&self, version: &str) -> Option<&Timestamp> {
        self.timestamps.get(version)
    }

    /// Sets `version` to `timestamp` in the file at `path`, re-reading it under the lock so that
    /// entries written meanwhile by another process are kept; `order` is versions.yaml's.
    pub fn record(
        path: &Path,
        version: &PythonVersion,
        timestamp: &Timestamp,
        order: &[String],
    ) -> Result<()> {
        Self::edit(path, |text| with_entry(text, version, timestamp, order))
    }

    /// Removes the entries of `versions` from the file at `path`, under the lock like `record`.
    pub fn remove(path: &Path, versions: &[String]) -> Result<()> {
        Self::edit(path, |text| without_entries(text, versions))
    }

    /// The entries, in file order, for Python versions that `versions` (versions.yaml's) lacks.
    pub fn entries_not_in<K, V>(&self, versions: &IndexMap<K, V>) -> Vec<(&str, &str)>
    where
        K: std::hash::Hash + Eq + std::borrow::Borrow<str>,
    {
        self.timestamps
            .iter()
            .filter(|(version, _)| !versions.contains_key(version.as_str()))
            .map(|(version, timestamp)| (version.as_str(), timestamp.as_str()))
            .collect()
    }

    /// Replaces the file at `path` by `change` of its text, re-read and checked under the lock.
    fn edit(path: &Path, change: impl FnOnce(&str) -> String) -> Result<()> {
        file::replace(path, |old| {
            let text = old.unwrap_or_default();
            Self::parse(path, text)?;
            let updated = change(text);
            // Never replace a file that reads by one that does not.
            if let Err(error) = Self::parse(path, &updated) {
                return Err(Error::Invalid {
                    path: path.to_owned(),
                    problem: format!(
                        "left as it was: the edited file would not read back ({error})"
                    ),
                });
            }
            Ok(updated)
        })
    }
}

/// `text` (a valid last_updated file) with `version` set to `timestamp`, all else unchanged.
/// A new version goes where `order` (the versions.yaml order) puts it among the others, so the
/// file does not depend on which build finished first.
pub fn with_entry(text: &str, version: &str, timestamp: &str, order: &[String]) -> String {
    let edited = with_entry_in_place(text, version, timestamp, order);
    checked_or_rewritten(text, edited, |entries| match entries.get_mut(version) {
        Some(existing) => *existing = timestamp.to_owned(),
        None => {
            let keys: Vec<String> = entries.keys().cloned().collect();
            let index = insertion_index(&keys, version, order);
            entries.shift_insert(index, version.to_owned(), timestamp.to_owned());
        }
    })
}

/// `text` (a valid last_updated file) without the entries of `versions`, comments and other
/// entries unchanged.
pub fn without_entries(text: &str, versions: &[String]) -> String {
    let edited = without_entries_in_place(text, versions);
    checked_or_rewritten(text, edited, |entries| {
        entries.retain(|version, _| !versions.contains(version))
    })
}

/// `edited`, when it reads as the entries of `text` changed by `change`. Else those entries
/// written afresh: yaml-edit cannot edit every valid file in place (anchors, for one, found by
/// fuzzing), and losing the comments of such a file is better than losing its entries.
fn checked_or_rewritten(
    text: &str,
    edited: String,
    change: impl FnOnce(&mut IndexMap<String, String>),
) -> String {
    let Some(mut expected) = entries(text) else {
        return edited;
    };
    change(&mut expected);
    if entries(&edited).is_some_and(|read| read == expected) {
        return edited;
    }
    expected
        .iter()
        .map(|(version, timestamp)| {
            let version = version.replace('\'', "''");
            format!("'{version}': {}\n", plain_or_quoted(timestamp))
        })
        .collect()
}

/// The entries of a last_updated file, in file order; `None` when it does not parse.
fn entries(text: &str) -> Option<IndexMap<String, String>> {
    yaml::parse(Path::new("last_updated.yaml"), text).ok()
}

fn with_entry_in_place(text: &str, version: &str, timestamp: &str, order: &[String]) -> String {
    if let Ok(file) = yaml_edit::YamlFile::from_str(text)
        && let Some(mapping) = file.document().and_then(|doc| doc.as_mapping())
    {
        let keys = key_texts(&mapping);
        match keys.iter().position(|key| key == version) {
            Some(existing) => {
                if let Some(entry) = mapping.entries().nth(existing) {
                    entry.set_value(scalar(timestamp), false);
                }
            }
            None => mapping.insert_at_index(
                insertion_index(&keys, version, order),
                version,
                scalar(timestamp),
            ),
        }
        return file.to_string();
    }
    // Empty or comments only: there is no mapping to edit yet.
    let separator = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    format!(
        "{text}{separator}'{version}': {}\n",
        plain_or_quoted(timestamp)
    )
}

fn without_entries_in_place(text: &str, versions: &[String]) -> String {
    let Ok(file) = yaml_edit::YamlFile::from_str(text) else {
        return text.to_owned();
    };
    let Some(mapping) = file.document().and_then(|doc| doc.as_mapping()) else {
        return text.to_owned();
    };
    let keys = key_texts(&mapping);
    let doomed: Vec<_> = mapping
        .entries()
        .zip(&keys)
        .filter(|(_, key)| versions.contains(key))
        .map(|(entry, _)| entry)
        .collect();
    // The entry itself, not `Mapping::remove`, which would leave `{}` for the last one.
    doomed.into_iter().for_each(yaml_edit::MappingEntry::remove);
    file.to_string()
}

/// The keys of `mapping` as text, read the way `LastUpdated::parse` reads them. Entries are
/// matched by this text: yaml-edit's own lookup does not find an unquoted `3.10`, and takes
/// `3.1` for `3.10`.
fn key_texts(mapping: &yaml_edit::Mapping) -> Vec<String> {
    mapping
        .entries()
        .map(|entry| {
            entry
                .key_node()
                .map(|key| key_text(&key.to_string()))
                .unwrap_or_default()
        })
        .collect()
}

/// The text a key as written stands for: quotes, escapes (`"3\x2e9"`) and tags (`!!str 3.9`)
/// resolved by the same parser that reads the file, so a key is found however it is spelled. A
/// key that is no string (`~`, `[a]`, `!!int 3`) matches no version: its text as written.
fn key_text(written: &str) -> String {
    serde_saphyr::from_str::<String>(written).unwrap_or_else(|_| written.trim().to_owned())
}

/// Just after the last of `keys` that comes before `version` in `order`.
fn insertion_index(keys: &[String], version: &str, order: &[String]) -> usize {
    let rank = |key: &str| order.iter().position(|v| v == key);
    let Some(wanted) = rank(version) else {
        return keys.len();
    };
    keys.iter()
        .rposition(|key| rank(key).is_some_and(|r| r < wanted))
        .map_or(0, |i| i + 1)
}

/// `value` as yaml-edit writes it: quoted exactly when `plain_or_quoted` quotes it (yaml-edit's
/// own choice follows YAML 1.2, and PyYAML reads its plain `1_0` as 10 and `2030-01-02` as a date).
fn scalar(value: &str) -> yaml_edit::ScalarValue {
    if needs_quotes(value) {
        yaml_edit::ScalarValue::single_quoted(value)
    } else {
        yaml_edit::ScalarValue::plain(value)
    }
}

/// `value` as a YAML scalar that every reader takes for the same text: quoted when it would
/// otherwise read as null, a boolean, a number or a date (a timestamp tag may be any of `null`,
/// `1e3`, `1_0`, `2030-01-02`).
fn plain_or_quoted(value: &str) -> String {
    if needs_quotes(value) {
        format!("'{value}'")
    } else {
        value.to_owned()
    }
}

/// Whether `value` written plain would read as something else than that text, in YAML 1.1
/// (PyYAML, the original's reader) or 1.2: null, a boolean (YAML 1.1's `y`, `off` too), a
/// number (YAML 1.1's `0b1`, `0_7`, `1_000`, `1._` too), a date (`2030-01-02`), or a plain scalar
/// starting with an indicator.
fn needs_quotes(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let special = matches!(
        lower.as_str(),
        "" | "~"
            | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | ".nan"
    );
    let numeric = lower
        .trim_start_matches(['-', '+'])
        .replace('_', "")
        .parse::<f64>()
        .is_ok()
        || ["0x", "0o", "0b"]
            .iter()
            .any(|prefix| lower.starts_with(prefix));
    special || numeric || is_date(value) || value.starts_with(['-', '.'])
}

/// `YYYY-M[M]-D[D]`, which YAML 1.1 reads as a date (PyYAML: a `date`, or an error for a day
/// that does not exist).
fn is_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let digits = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
    };
    matches!(parts.as_slice(), [year, month, day]
        if digits(year, 4..=4) && digits(month, 1..=2) && digits(day, 1..=2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Vec<String> {
        ["3.8", "3.9", "3.10", "3.11"].map(String::from).to_vec()
    }

    fn set(text: &str, version: &str, timestamp: &str) -> String {
        with_entry(text, version, timestamp, &order())
    }

    #[test]
    fn updates_an_unquoted_key_in_place_keeping_comments() {
        let text =
            "# built by dagster-image\n3.9: 2020-01-01T000000  # old\n3.10: 2020-01-01T000000\n";
        assert_eq!(
            set(text, "3.10", "2021-02-02T020202"),
            "# built by dagster-image\n3.9: 2020-01-01T000000  # old\n3.10: 2021-02-02T020202\n"
        );
    }

    #[test]
    fn updates_a_quoted_key_in_place() {
        assert_eq!(set("'3.9': x\n", "3.9", "w"), "'3.9': w\n");
        assert_eq!(set("\"3.9\": x\n", "3.9", "w"), "\"3.9\": w\n");
    }

    #[test]
    fn inserts_a_new_version_in_versions_yaml_order_quoted() {
        assert_eq!(set("3.9: a\n", "3.10", "b"), "3.9: a\n'3.10': b\n");
        assert_eq!(
            set("# head\n3.10: b\n", "3.9", "a"),
            "# head\n'3.9': a\n3.10: b\n"
        );
        assert_eq!(
            set("3.8: a\n3.11: c\n", "3.10", "b"),
            "3.8: a\n'3.10': b\n3.11: c\n"
        );
        assert_eq!(
            set("3.9: a\n", "2.7", "z"),
            "3.9: a\n'2.7': z\n",
            "unknown versions go last"
        );
    }

    #[test]
    fn writes_into_empty_and_comment_only_files() {
        assert_eq!(set("", "3.10", "b"), "'3.10': b\n");
        assert_eq!(set("# keep me", "3.10", "b"), "# keep me\n'3.10': b\n");
    }

    #[test]
    fn timestamps_that_yaml_would_misread_are_quoted() {
        for value in ["null", "true", "010", "1e3", "-1", ".5", "0x1f"] {
            let text = set("", "3.9", value);
            let read = LastUpdated::parse(Path::new("l.yaml"), &text).unwrap();
            assert_eq!(
                read.get("3.9").map(Timestamp::as_str),
                Some(value),
                "{text}"
            );
            let text = set(&text, "3.10", value);
            let read = LastUpdated::parse(Path::new("l.yaml"), &text).unwrap();
            assert_eq!(
                read.get("3.10").map(Timestamp::as_str),
                Some(value),
                "{text}"
            );
        }
        assert_eq!(
            set("", "3.9", "2020-07-11T040642"),
            "'3.9': 2020-07-11T040642\n"
        );
    }

    /// The original tool reads this file with PyYAML, which takes `0x1f` for 31 and `yes` for
    /// true: each such value is written quoted; a timestamp as the tool writes it stays plain.
    #[test]
    fn exactly_the_values_another_yaml_reader_would_misread_are_quoted() {
        let written = |value| plain_or_quoted(value);
        for value in [
            "",
            "~",
            "null",
            "NULL",
            "true",
            "yes",
            "off",
            "n",
            ".inf",
            "-.inf",
            ".nan",
            "010",
            "1e3",
            "-1",
            "+1",
            "1_000",
            ".5",
            "0x1f",
            "0o17",
            "-x",
            ".x",
            "0b101",
            "5_",
            "1._",
            "2030-01-02",
            "2030-1-2",
            "0000-00-00",
        ] {
            assert_eq!(written(value), format!("'{value}'"), "{value}");
        }
        for value in [
            "2020-07-11T040642",
            "x-1",
            "1.2.3",
            "nulls",
            "a.b",
            "ox1f",
            "2030-01-02x",
            "20300-1-2",
            "2030-01",
            "b0101",
        ] {
            assert_eq!(written(value), value, "{value}");
        }
    }

    #[test]
    fn a_key_that_is_no_string_keeps_its_text_and_matches_no_version() {
        assert_eq!(key_text(" '3.9' "), "3.9");
        assert_eq!(key_text("!!str 3.10"), "3.10");
        assert_eq!(key_text(" ~ "), "~");
        assert_eq!(key_text("!!int 3"), "!!int 3");
    }

    #[test]
    fn the_result_reads_back_with_every_entry() {
        let path = Path::new("last_updated.yaml");
        let text = set("3.9: a  # c\n3.10: b\n", "3.11", "c");
        let read = LastUpdated::parse(path, &set(&text, "3.10", "d")).unwrap();
        assert_eq!(read.get("3.9").map(Timestamp::as_str), Some("a"));
        assert_eq!(read.get("3.10").map(Timestamp::as_str), Some("d"));
        assert_eq!(read.get("3.11").map(Timestamp::as_str), Some("c"));
    }

    #[test]
    fn record_creates_the_file_and_keeps_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last_updated.yaml");
        LastUpdated::record(
            &path,
            &PythonVersion::new("3.10"),
            &Timestamp::recorded("t2"),
            &order(),
        )
        .unwrap();
        LastUpdated::record(
            &path,
            &PythonVersion::new("3.9"),
            &Timestamp::recorded("t1"),
            &order(),
        )
        .unwrap();
        assert_eq!(
            fs_err::read_to_string(&path).unwrap(),
            "'3.9': t1\n'3.10': t2\n"
        );
    }

    #[test]
    fn record_refuses_a_malformed_file_and_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last_updated.yaml");
        fs_err::write(&path, "3.9: [broken\n").unwrap();
        assert!(
            LastUpdated::record(
                &path,
                &PythonVersion::new("3.9"),
                &Timestamp::recorded("t"),
                &order()
            )
            .is_err()
        );
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "3.9: [broken\n");
    }

    fn remove(text: &str, versions: &[&str]) -> String {
        let versions: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
        without_entries(text, &versions)
    }

    #[test]
    fn removes_entries_by_key_text_keeping_comments_and_other_entries() {
        let text = "# head\n3.8: a  # old\n'3.9': b\n# about 3.10\n3.10: c\n";
        assert_eq!(
            remove(text, &["3.8", "3.10"]),
            "# head\n'3.9': b\n# about 3.10\n"
        );
        assert_eq!(remove("3.1: x\n3.10: y\n", &["3.10"]), "3.1: x\n");
        assert_eq!(remove("\"3.7\": x\n3.9: y\n", &["3.7"]), "3.9: y\n");
        assert_eq!(remove(text, &["2.7"]), text);
    }

    #[test]
    fn removing_every_entry_leaves_the_comments() {
        assert_eq!(remove("# c\n'3.8': a\n", &["3.8"]), "# c\n");
        assert_eq!(remove("# only a comment\n", &["3.8"]), "# only a comment\n");
        assert_eq!(remove("", &["3.8"]), "");
        assert_eq!(remove("'3.8': a\n", &["3.8"]), "");
    }

    #[test]
    fn remove_rewrites_the_file_and_lists_entries_of_unknown_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last_updated.yaml");
        fs_err::write(&path, "# c\n3.7: old\n3.9: t\n").unwrap();
        let read = LastUpdated::read(&path).unwrap();
        let versions = IndexMap::from([("3.9".to_owned(), ())]);
        assert_eq!(read.entries_not_in(&versions), [("3.7", "old")]);
        LastUpdated::remove(&path, &["3.7".to_owned()]).unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "# c\n3.9: t\n");
    }

    /// Found by fuzzing: an escaped or tagged key was updated in place but never removed.
    #[test]
    fn keys_are_matched_by_what_they_read_as_however_they_are_spelled() {
        for written in ["\"3\\x2e9\"", "!!str 3.9", "'3.9'", "\"3.9\""] {
            let text = format!("{written}: a\n3.10: b\n");
            assert_eq!(
                set(&text, "3.9", "c"),
                format!("{written}: c\n3.10: b\n"),
                "{written}"
            );
            assert_eq!(remove(&text, &["3.9"]), "3.10: b\n", "{written}");
        }
    }

    /// Found by fuzzing: yaml-edit dropped every entry of a file with anchors.
    #[test]
    fn a_file_that_cannot_be_edited_in_place_is_rewritten_with_every_entry() {
        let path = Path::new("last_updated.yaml");
        let text = "&dagster'image\n3.9: &a22'.9': --2-8";
        let edited = with_entry(text, "3.9", "3.1ll9", &[String::new()]);
        let read = LastUpdated::parse(path, &edited).unwrap();
        assert_eq!(
            read.get("3.9").map(Timestamp::as_str),
            Some("3.1ll9"),
            "{edited}"
        );
        // In place, the anchor of the mapping stayed, anchoring nothing: not YAML any more.
        let removed = remove(&edited, &["3.9"]);
        let read = LastUpdated::parse(path, &removed).unwrap();
        assert_eq!(read, LastUpdated::default(), "{removed}");
        let text = "# c\n3.9: &t t1\n3.10: *t\n";
        for edited in [set(text, "3.11", "t2"), remove(text, &["3.9"])] {
            let read = LastUpdated::parse(path, &edited).unwrap();
            assert_eq!(
                read.get("3.10").map(Timestamp::as_str),
                Some("t1"),
                "{edited}"
            );
        }
    }

    #[test]
    fn timestamps_must_fit_in_a_tag() {
        let error = LastUpdated::parse(Path::new("l.yaml"), "3.9: 2020 01\n").unwrap_err();
        assert!(
            error.to_string().contains("cannot be part of a tag"),
            "{error}"
        );
    }
}
