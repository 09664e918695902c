//! `last_updated.yaml`: the timestamp of each Python version's last successful build.
//!
//! The tool writes it only after a build succeeded, under a lock on the image folder (so two
//! processes recording different versions both land), keeping the file's comments, order and
//! mode, and atomically (a crash leaves the old file).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use indexmap::IndexMap;

use super::error::{Error, Result};
use super::names;
use super::yaml;

/// The timestamps recorded for one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastUpdated {
    /// Python version -> timestamp, in file order.
    pub timestamps: IndexMap<String, String>,
}

impl LastUpdated {
    /// Reads `path`; a missing or empty file means nothing was built yet.
    pub fn read(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Self::default());
        }
        Self::parse(path, &yaml::read_text(path)?)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let timestamps: IndexMap<String, String> = yaml::parse(path, text)?;
        for (version, timestamp) in &timestamps {
            names::check_tag_chars(timestamp).map_err(|why| Error::Invalid {
                path: path.to_owned(),
                problem: format!(
                    "timestamp `{timestamp}` of Python {version} cannot be part of a tag: {why}"
                ),
            })?;
        }
        Ok(Self { timestamps })
    }

    pub fn get(&self, version: &str) -> Option<&str> {
        self.timestamps.get(version).map(String::as_str)
    }

    /// Sets `version` to `timestamp` in the file at `path`, re-reading it under the lock so that
    /// entries written meanwhile by another process are kept.
    pub fn record(path: &Path, version: &str, timestamp: &str) -> Result<()> {
        let _lock = FolderLock::acquire(path)?;
        let text = if path.exists() {
            yaml::read_text(path)?
        } else {
            String::new()
        };
        Self::parse(path, &text)?;
        let updated = with_entry(&text, version, timestamp);
        crate::atomic::write(path, updated.as_bytes())?;
        Ok(())
    }
}

/// `text` (a valid last_updated file) with `version` set to `timestamp`, all else unchanged.
pub fn with_entry(text: &str, version: &str, timestamp: &str) -> String {
    if let Ok(file) = yaml_edit::YamlFile::from_str(text)
        && let Some(mapping) = file.document().and_then(|doc| doc.as_mapping())
    {
        // Matched by the key's text: yaml-edit's own lookup does not find an unquoted `3.10`.
        match mapping.entries().find(|entry| {
            entry
                .key_node()
                .is_some_and(|key| unquoted(&key.to_string()) == version)
        }) {
            Some(entry) => entry.set_value(timestamp, false),
            None => mapping.set(version, timestamp),
        }
        return file.to_string();
    }
    // Empty or comments only: there is no mapping to edit yet.
    let separator = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    format!("{text}{separator}'{version}': {timestamp}\n")
}

fn unquoted(key: &str) -> &str {
    let key = key.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = key.strip_prefix(quote).and_then(|k| k.strip_suffix(quote)) {
            return inner;
        }
    }
    key
}

/// An exclusive lock on the folder holding a file, held until dropped. The folder, not the file,
/// because the file is replaced by rename and a lock on the old one would not exclude anybody.
struct FolderLock(fs_err::File);

impl FolderLock {
    fn acquire(file: &Path) -> Result<Self> {
        let folder: PathBuf = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let handle = fs_err::File::open(&folder)?;
        handle.file().lock().map_err(|e| {
            std::io::Error::new(e.kind(), format!("locking {}: {e}", folder.display()))
        })?;
        Ok(Self(handle))
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = self.0.file().unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_an_unquoted_key_in_place_keeping_comments() {
        let text =
            "# built by dagster-image\n3.9: 2020-01-01T000000  # old\n3.10: 2020-01-01T000000\n";
        assert_eq!(
            with_entry(text, "3.10", "2021-02-02T020202"),
            "# built by dagster-image\n3.9: 2020-01-01T000000  # old\n3.10: 2021-02-02T020202\n"
        );
    }

    #[test]
    fn updates_a_quoted_key_in_place() {
        assert_eq!(with_entry("'3.9': x\n", "3.9", "y"), "'3.9': y\n");
        assert_eq!(with_entry("\"3.9\": x\n", "3.9", "y"), "\"3.9\": y\n");
    }

    #[test]
    fn appends_a_new_version_quoted_so_every_reader_sees_text() {
        assert_eq!(with_entry("3.9: a\n", "3.10", "b"), "3.9: a\n'3.10': b\n");
    }

    #[test]
    fn writes_into_empty_and_comment_only_files() {
        assert_eq!(with_entry("", "3.10", "b"), "'3.10': b\n");
        assert_eq!(
            with_entry("# keep me", "3.10", "b"),
            "# keep me\n'3.10': b\n"
        );
    }

    #[test]
    fn the_result_reads_back_with_every_entry() {
        let path = Path::new("last_updated.yaml");
        let text = with_entry("3.9: a  # c\n3.10: b\n", "3.11", "c");
        let read = LastUpdated::parse(path, &with_entry(&text, "3.10", "d")).unwrap();
        assert_eq!(read.get("3.9"), Some("a"));
        assert_eq!(read.get("3.10"), Some("d"));
        assert_eq!(read.get("3.11"), Some("c"));
    }

    #[test]
    fn record_creates_the_file_and_keeps_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last_updated.yaml");
        LastUpdated::record(&path, "3.9", "t1").unwrap();
        LastUpdated::record(&path, "3.10", "t2").unwrap();
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
        assert!(LastUpdated::record(&path, "3.9", "t").is_err());
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "3.9: [broken\n");
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
