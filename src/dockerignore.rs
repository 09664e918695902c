//! `.dockerignore` as docker applies it to a build context: one pattern a line (`#` comments,
//! blank lines ignored), Go `filepath.Match` syntax plus `**`, a leading `!` re-including what
//! an earlier line excluded, the last matching line deciding, and a pattern that matches a folder
//! excluding everything inside it. The `exclude:` patterns of `image.yaml` copies use it too.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

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
    /// Patterns that do not compile are skipped, as docker skips what never matches.
    pub fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| Rule::compile(line).ok())
            .collect();
        Self { rules }
    }

    /// The rules of `patterns`, one `.dockerignore` line each, all checked beforehand with
    /// [`check_pattern`]; one that does not compile is skipped.
    pub fn from_patterns<S: AsRef<str>>(patterns: &[S]) -> Self {
        let rules = patterns
            .iter()
            .filter_map(|p| Rule::compile(p.as_ref().trim()).ok())
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

    /// Whether a walk must go into the folder `path`: it is kept, or a `!` rule may keep
    /// something inside it.
    pub fn enters(&self, path: &Path) -> bool {
        !self.excludes(path) || self.has_exceptions()
    }
}

/// Why `pattern` cannot be a `.dockerignore` line, when it cannot: empty, or not a pattern.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let line = pattern.trim();
    if line.is_empty() || line == "!" {
        return Err(format!("`{pattern}` is not a pattern: it is empty"));
    }
    Rule::compile(line)
        .map(drop)
        .map_err(|why| format!("`{pattern}` is not a pattern: {why}"))
}

impl Rule {
    /// One line, `!` and all, as a rule; the pattern's syntax error when it has one.
    fn compile(line: &str) -> Result<Self, String> {
        let (include, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let glob = GlobBuilder::new(&clean(pattern))
            .literal_separator(true)
            .build()
            .map_err(|e| e.kind().to_string())?;
        Ok(Self {
            matcher: glob.compile_matcher(),
            include,
        })
    }
}

/// Like Go's `filepath.Clean` on a pattern (or a `COPY` source, which docker cleans alike),
/// without a leading `/` or `./`.
pub fn clean(pattern: &str) -> String {
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

    #[test]
    fn patterns_given_one_by_one_work_as_lines() {
        let rules = DockerIgnore::from_patterns(&["*target*", "**/*.class", "!keep.class"]);
        assert!(rules.excludes(Path::new("target/out.jar")));
        assert!(rules.excludes(Path::new("sub/Deep.class")));
        assert!(!rules.excludes(Path::new("keep.class")));
        assert!(!rules.excludes(Path::new("src/Main.scala")));
        assert!(
            rules.enters(Path::new("target")),
            "a `!` rule may keep a file in it"
        );
        assert!(DockerIgnore::from_patterns(&["target"]).excludes(Path::new("target/x")));
        assert!(!DockerIgnore::from_patterns(&["target"]).enters(Path::new("target")));
    }

    #[test]
    fn empty_and_unclosed_patterns_are_refused_saying_why() {
        assert_eq!(check_pattern("*.class"), Ok(()));
        assert_eq!(check_pattern("!keep"), Ok(()));
        assert_eq!(
            check_pattern("  "),
            Err("`  ` is not a pattern: it is empty".to_owned())
        );
        let unclosed = check_pattern("[abc").unwrap_err();
        assert!(
            unclosed.starts_with("`[abc` is not a pattern: "),
            "{unclosed}"
        );
    }
}
