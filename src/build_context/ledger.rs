//! The ledger of an image's copies: one JSON object a line, `{"to": PATH, "identity": {"dev":
//! N, "ino": N}}`, the path relative to the image folder of what a run created (the outermost
//! folder it made, or the copy itself), and the identity it got. A line is written before the
//! thing is created (without an identity) and again once it exists; what a killed run left is
//! removed by the next run only where the identity matches, so a ledger can never make a run
//! remove what another program put there. JSON escapes every character: no path breaks a line.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::nofollow::Identity;

/// One thing a run created, or is about to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative to the image folder, as `copy:` writes it.
    pub to: PathBuf,
    /// `None` until it exists.
    pub identity: Option<Identity>,
}

/// The ledger file of one image and what it lists.
pub struct Ledger {
    path: PathBuf,
    pub entries: Vec<Entry>,
}

impl Ledger {
    /// The ledger at `path`, empty when there is none. Lines that do not parse (a ledger of an
    /// older version of the tool, which listed bare paths) are left out: what they name is never
    /// removed, and is reported in the way if a copy needs its place.
    pub fn read(path: &Path) -> io::Result<Self> {
        let text = match fs_err::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let entries = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// Whether the ledger names `to`, created or about to be.
    pub fn names(&self, to: &Path) -> bool {
        self.entries.iter().any(|e| e.to == to)
    }

    /// Adds `to`, not created yet, and writes the ledger.
    pub fn add(&mut self, to: &Path) -> io::Result<()> {
        self.entries.push(Entry {
            to: to.to_owned(),
            identity: None,
        });
        self.write()
    }

    /// Records the identity of the last entry, now created, and writes the ledger.
    pub fn created(&mut self, identity: Identity) -> io::Result<()> {
        if let Some(last) = self.entries.last_mut() {
            last.identity = Some(identity);
        }
        self.write()
    }

    fn write(&self) -> io::Result<()> {
        let mut text = String::new();
        for entry in &self.entries {
            text.push_str(&serde_json::to_string(entry).map_err(io::Error::other)?);
            text.push('\n');
        }
        crate::atomic::write(&self.path, text.as_bytes())
    }

    /// Deletes the ledger file, once everything it listed is gone.
    pub fn delete(&mut self) -> io::Result<()> {
        self.entries.clear();
        match fs_err::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_with_a_newline_stays_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.jsonl");
        let mut ledger = Ledger::read(&path).unwrap();
        ledger.add(Path::new("x\n/some/dir/victim")).unwrap();
        ledger.created(Identity { dev: 1, ino: 2 }).unwrap();
        let text = fs_err::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let again = Ledger::read(&path).unwrap();
        assert_eq!(again.entries, ledger.entries);
        assert!(again.names(Path::new("x\n/some/dir/victim")));
        assert!(!again.names(Path::new("/some/dir/victim")));
    }

    #[test]
    fn lines_of_another_form_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.jsonl");
        fs_err::write(
            &path,
            "/some/dir/victim\n{\"to\":\"a\",\"identity\":null}\n",
        )
        .unwrap();
        let ledger = Ledger::read(&path).unwrap();
        assert_eq!(
            ledger.entries,
            [Entry {
                to: "a".into(),
                identity: None
            }]
        );
    }
}
