//! `.dockerignore` as docker applies it to a build context: one pattern a line (`#` comments,
//! blank lines ignored), Go `filepath.Match` syntax plus `**`, a leading `!` re-including what
//! an earlier line excluded, the last matching line deciding, and a pattern that matches a folder
//! excluding everything inside it.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::catalog::{self, file};

#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    matcher: GlobMatcher,
    /// `!pattern`: matching paths are included again.
    include: bool,
}

impl DockerIgnore {
    /// Reads `<context>/.dockerignore`; none means nothing is excluded. Guarded like the
    /// catalog's files: a FIFO or a link to `/dev/zero` is refused, not read forever.
    pub fn read(context: &Path) -> std::io::Result<Self> {
        match file::read_text_if_exists(&context.join(".dockerignore")) {
            Ok(text) => Ok(Self::parse(&text.unwrap_or_default())),
            Err(catalog::Error::Io(e)) => Err(e),
            Err(invalid) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                invalid.to_string(),
            )),
        }
    }

    /// Patterns that do not compile are skipped, as docker skips what never matches.
    pub fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| {
                let (include, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let pattern = clean(pattern);
                let glob = GlobBuilder::new(&pattern)
                    .literal_separator(true)
                    .build()
                    .ok()?;
                Some(Rule {
                    matcher: glob.compile_matcher(),
                    include,
                })
            })
            .collect();
        Self { rules }
    }

    /// Whether `path` (relative to the context) is left out of the context.
    pub fn excludes(&self, path: &Path) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if rule.include != excluded {
                continue; // cannot change the verdict
            }
            if path
                .ancestors()
                .filter(|p| !p.as_os_str().is_empty())
                .any(|p| rule.matcher.is_match(p))
            {
                excluded = !rule.include;
            }
        }
        excluded
    }

    /// Whether a folder that is excluded may still hold included files (a `!` rule exists), so
    /// it must be walked rather than skipped unread.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|rule| rule.include)
    }
}

/// Like Go's `filepath.Clean` on a pattern, without a leading `/` or `./`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(pattern).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts
        .iter()
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(rules: &str, path: &str) -> bool {
        DockerIgnore::parse(rules).excludes(Path::new(path))
    }

    #[test]
    fn plain_patterns_match_files_and_everything_in_matching_folders() {
        assert!(excluded("build_cache", "build_cache/dagster/setup.py"));
        assert!(excluded("/build_cache/", "build_cache/x"));
        assert!(excluded("*.pyc", "a.pyc"));
        assert!(!excluded("*.pyc", "sub/a.pyc"), "`*` does not cross `/`");
        assert!(excluded("**/*.pyc", "sub/deep/a.pyc"));
        assert!(excluded("docs/*.md", "docs/readme.md"));
        assert!(!excluded("docs/*.md", "readme.md"));
        assert!(!excluded("", "anything"));
    }

    #[test]
    fn the_last_matching_line_decides() {
        let rules = "*.md\n!README.md\n";
        assert!(excluded(rules, "CHANGES.md"));
        assert!(!excluded(rules, "README.md"));
        assert!(excluded("!README.md\n*.md\n", "README.md"));
    }

    #[test]
    fn comments_blank_lines_and_dot_segments_are_handled() {
        let rules = "# a comment\n\n  ./tmp/  \n";
        assert!(excluded(rules, "tmp/file"));
        assert!(!excluded(rules, "# a comment"));
        assert!(DockerIgnore::parse("!keep\n").has_exceptions());
        assert!(!DockerIgnore::parse("drop\n").has_exceptions());
    }
}
