//! The build-context sources of `COPY` and `ADD` instructions, and their expansion with the
//! build arguments of one version. Sources a build does not take from its context are left out:
//! those of `--from=` (another stage or image), URLs and heredocs.

use indexmap::IndexMap;

use super::{Args, Dockerfile, Instruction, Scope, words};

/// A `COPY` or `ADD` taking files from the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextCopy {
    /// The line it starts on, from 1.
    pub line: u64,
    /// `COPY` or `ADD`.
    pub keyword: String,
    /// Its sources as written, variables unexpanded.
    pub sources: Vec<String>,
    /// The `ARG`s it sees that no `ENV` overrides, with their defaults as written.
    args: Args,
    escape: char,
}

/// How deep an `ARG` default may refer to other `ARG`s before its value counts as unknown.
const MAX_DEPTH: usize = 16;

impl Dockerfile {
    /// Every `COPY` and `ADD` with at least one source from the build context, in order.
    pub fn context_copies(&self) -> Vec<ContextCopy> {
        let mut scope = Scope::default();
        let mut copies = Vec::new();
        for instruction in &self.instructions {
            if let Some(copy) = ContextCopy::of(instruction, &scope, self.escape) {
                copies.push(copy);
            }
            scope.take_in(instruction);
        }
        copies
    }
}

impl ContextCopy {
    fn of(instruction: &Instruction, scope: &Scope, escape: char) -> Option<Self> {
        if !matches!(instruction.keyword.as_str(), "COPY" | "ADD") {
            return None;
        }
        let sources = context_sources(&instruction.arguments)?;
        let mut args = scope.args(false).clone();
        // An `ENV` of the same name wins over the `ARG`, with a value this reader does not follow.
        args.retain(|name, _| !scope.environment.contains(name));
        Some(Self {
            line: instruction.line,
            keyword: instruction.keyword.clone(),
            sources,
            args,
            escape,
        })
    }

    /// `source` with its variables replaced as docker does for a build given `build_args`;
    /// `None` when one of them has no value known from the Dockerfile and `build_args` (an
    /// `ARG` without default, or a variable the base image may set).
    pub fn expand(&self, source: &str, build_args: &IndexMap<String, String>) -> Option<String> {
        expand(source, &self.args, self.escape, build_args)
    }
}

/// `text` with its variables replaced as docker does for a build given `build_args`, where
/// `args` are the `ARG`s the instruction sees with their defaults as written; `None` when a
/// variable has no known value.
pub(super) fn expand(
    text: &str,
    args: &Args,
    escape: char,
    build_args: &IndexMap<String, String>,
) -> Option<String> {
    expand_at(text, args, escape, build_args, 0)
}

fn expand_at(
    text: &str,
    args: &Args,
    escape: char,
    build_args: &IndexMap<String, String>,
    depth: usize,
) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    let value_of = |name: &str| match build_args.get(name) {
        Some(value) if args.contains_key(name) => Some(value.clone()),
        _ => {
            let default = args.get(name)?.as_deref()?;
            expand_at(default, args, escape, build_args, depth + 1)
        }
    };
    substitute(text, escape, &value_of)
}

/// The sources of a `COPY`/`ADD`'s arguments that come from the build context; `None` for a
/// `--from=` copy. Flags (`--chown=`, `--chmod=`, `--link`, ...) are skipped; the JSON-array form
/// is read as such.
fn context_sources(arguments: &str) -> Option<Vec<String>> {
    let mut rest = arguments.trim_start();
    while let Some(flag) = rest.strip_prefix("--") {
        if flag
            .get(..5)
            .is_some_and(|f| f.eq_ignore_ascii_case("from="))
        {
            return None;
        }
        rest = flag
            .split_once(char::is_whitespace)
            .map_or("", |(_, after)| after.trim_start());
    }
    let items = match serde_json::from_str::<Vec<String>>(rest) {
        Ok(items) if rest.starts_with('[') => items,
        _ => words(rest),
    };
    let (_destination, sources) = items.split_last()?;
    let from_context: Vec<String> = sources
        .iter()
        .filter(|s| !s.starts_with("<<") && !is_url(s))
        .cloned()
        .collect();
    (!from_context.is_empty()).then_some(from_context)
}

/// Whether an `ADD` source is fetched rather than taken from the context.
fn is_url(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    ["http://", "https://", "git@"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

/// `text` with `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` replaced by `value_of`,
/// and the escape character removed before what it escapes; `None` when a value is unknown or
/// the form is one this reader does not follow.
fn substitute(
    text: &str,
    escape: char,
    value_of: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == escape {
            out.extend(chars.next());
        } else if c != '$' {
            out.push(c);
        } else if chars.next_if_eq(&'{').is_some() {
            let inside: String = chars.by_ref().take_while(|c| *c != '}').collect();
            out.push_str(&braced(&inside, escape, value_of)?);
        } else {
            let name = take_name(&mut chars);
            if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(&value_of(&name)?);
            }
        }
    }
    Some(out)
}

/// The value of `${inside}`.
fn braced(inside: &str, escape: char, value_of: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut chars = inside.chars().peekable();
    let name = take_name(&mut chars);
    let rest: String = chars.collect();
    if name.is_empty() {
        return None;
    }
    let value = value_of(&name);
    if rest.is_empty() {
        return value;
    }
    let value = value?;
    match (rest.get(..2), rest.get(2..)) {
        (Some(":-"), Some(word)) if value.is_empty() => substitute(word, escape, value_of),
        (Some(":-"), _) => Some(value),
        (Some(":+"), Some(word)) if !value.is_empty() => substitute(word, escape, value_of),
        (Some(":+"), _) => Some(String::new()),
        _ => None,
    }
}

fn take_name(chars: &mut std::iter::Peekable<impl Iterator<Item = char>>) -> String {
    let mut name = String::new();
    while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
        name.push(c);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(line, keyword, sources)` of every context copy of `text`.
    fn copies(text: &str) -> Vec<(u64, String, Vec<String>)> {
        Dockerfile::parse(text)
            .context_copies()
            .into_iter()
            .map(|c| (c.line, c.keyword, c.sources))
            .collect()
    }

    fn row(line: u64, keyword: &str, sources: &[&str]) -> (u64, String, Vec<String>) {
        let sources = sources.iter().map(|s| s.to_string()).collect();
        (line, keyword.to_owned(), sources)
    }

    fn build_args(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// The first source of the only copy of `text`, expanded with `pairs`.
    fn expanded(text: &str, pairs: &[(&str, &str)]) -> Option<String> {
        let copy = Dockerfile::parse(text).context_copies().remove(0);
        copy.expand(&copy.sources[0], &build_args(pairs))
    }

    #[test]
    fn reads_sources_of_copy_and_add_with_their_lines() {
        let text = "FROM x\ncopy a b /dst/\nADD c.tar.gz /\nRUN cp a b\n";
        assert_eq!(
            copies(text),
            [row(2, "COPY", &["a", "b"]), row(3, "ADD", &["c.tar.gz"])]
        );
    }

    #[test]
    fn flags_are_skipped_and_from_copies_left_out() {
        let text = "FROM x\nCOPY --chown=1:1 --chmod=644 --link a /a\nCOPY --from=builder /out /out\nCOPY --FROM=img b /b\nCOPY --link\n";
        assert_eq!(copies(text), [row(2, "COPY", &["a"])]);
    }

    #[test]
    fn the_json_form_continued_lines_and_quotes_are_read() {
        let text = "FROM x\nCOPY [\"with space\", \"b\", \"/dst/\"]\nCOPY \\\n  build_cache/dagster \\\n  /dagster\nCOPY 'q r' /q\n";
        assert_eq!(
            copies(text),
            [
                row(2, "COPY", &["with space", "b"]),
                row(3, "COPY", &["build_cache/dagster"]),
                row(6, "COPY", &["q r"]),
            ]
        );
    }

    #[test]
    fn urls_and_heredocs_are_not_context_sources() {
        let text = "FROM x\nADD https://example.com/a.tgz /a\nADD git@github.com:o/r.git /r\nCOPY <<EOF /f\nCOPY nope /n\nEOF\nADD http://x/y local /dst/\n";
        assert_eq!(copies(text), [row(7, "ADD", &["local"])]);
    }

    #[test]
    fn sources_expand_with_build_args_then_arg_defaults() {
        let text = "FROM x\nARG PYTHON_VERSION=3.8\nCOPY snapshot-reqs-${PYTHON_VERSION}.txt /r\n";
        assert_eq!(
            expanded(text, &[("PYTHON_VERSION", "3.10")]).as_deref(),
            Some("snapshot-reqs-3.10.txt")
        );
        assert_eq!(
            expanded(text, &[]).as_deref(),
            Some("snapshot-reqs-3.8.txt")
        );
        let chained =
            "ARG ROOT=build_cache\nFROM x\nARG ROOT\nARG PKG=$ROOT/dagster\nCOPY $PKG /p\n";
        assert_eq!(
            expanded(chained, &[]).as_deref(),
            Some("build_cache/dagster")
        );
    }

    #[test]
    fn default_forms_and_escapes_are_followed() {
        let text = "FROM x\nARG EMPTY=\nARG SET=v\nCOPY ${EMPTY:-d}/${SET:-d}/${SET:+p}/${EMPTY:+p}/\\$HOME /x\n";
        assert_eq!(expanded(text, &[]).as_deref(), Some("d/v/p//$HOME"));
    }

    #[test]
    fn variables_without_a_known_value_make_the_source_unknown() {
        for text in [
            "FROM x\nCOPY $UNDECLARED /x\n",
            "FROM x\nARG NO_DEFAULT\nCOPY $NO_DEFAULT /x\n",
            "ARG GLOBAL_ONLY=a\nFROM x\nCOPY $GLOBAL_ONLY /x\n",
            "FROM x\nARG V=a\nENV V=b\nCOPY $V /x\n",
            "FROM x\nARG V=a\nCOPY ${V#a} /x\n",
            "FROM x\nARG LOOP=$LOOP\nCOPY $LOOP /x\n",
        ] {
            assert_eq!(expanded(text, &[]), None, "{text}");
        }
        let not_declared = "FROM x\nCOPY $PASSED /x\n";
        assert_eq!(expanded(not_declared, &[("PASSED", "a")]), None);
    }

    #[test]
    fn odd_text_gives_no_source_or_an_unknown_one_never_a_panic() {
        for text in [
            "COPY ${\u{e9}:-x} $ ${ /x\n",
            "COPY --from\n",
            "COPY --\u{e9}=1 a b\n",
            "ADD [\"a\"\n",
            "COPY ${A:\u{e9}} /x\n",
        ] {
            for copy in Dockerfile::parse(text).context_copies() {
                for source in &copy.sources {
                    let _ = copy.expand(source, &IndexMap::new());
                }
            }
        }
        assert_eq!(copies("COPY --from\n"), []);
    }
}
