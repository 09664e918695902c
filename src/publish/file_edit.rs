//! A new content for a file, computed before anything is written, so that `--dry-run` can show
//! it as a unified diff and a run can check every edit before making the first.

use std::path::PathBuf;

/// A file and its content before and after an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    pub path: PathBuf,
    pub old: String,
    pub new: String,
}

impl FileEdit {
    pub fn changes_anything(&self) -> bool {
        self.old != self.new
    }

    /// The edit as a unified diff with three lines of context; empty when nothing changes.
    pub fn unified_diff(&self) -> String {
        if !self.changes_anything() {
            return String::new();
        }
        let path = self.path.display().to_string();
        similar::TextDiff::from_lines(&self.old, &self.new)
            .unified_diff()
            .context_radius(3)
            .header(&path, &path)
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(old: &str, new: &str) -> FileEdit {
        FileEdit {
            path: "images/b/Dockerfile".into(),
            old: old.to_owned(),
            new: new.to_owned(),
        }
    }

    #[test]
    fn shows_the_changed_lines_with_context() {
        let old = "1\n2\n3\n4\nold\n6\n7\n8\n9\n";
        assert_eq!(
            edit(old, &old.replace("old", "new")).unified_diff(),
            "--- images/b/Dockerfile\n+++ images/b/Dockerfile\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-old\n+new\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn an_unchanged_file_shows_nothing() {
        assert!(!edit("a\n", "a\n").changes_anything());
        assert_eq!(edit("a\n", "a\n").unified_diff(), "");
    }
}
