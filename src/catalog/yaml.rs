//! Reading a catalog YAML file into a typed value, with errors that name the file and line.
//!
//! Files go straight into typed structs (keys are `String`), never through a generic YAML value,
//! so an unquoted `3.10` stays the text "3.10" instead of becoming the float 3.1.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{Error, Result};
use crate::names;

/// Parses `text`, the content of `path`, as `T`.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        Error::Yaml {
            path: path.to_owned(),
            line,
            column,
            message: yaml_message(&e),
        }
    })
}

/// Parser messages that speak of the parser or of Rust types, in the file's terms instead.
const REWORDED: [(&str, &str); 7] = [
    (
        "multiple YAML documents detected; use from_str_multiple or from_str_multiple_with_options",
        "a second YAML document starts here (after `---`); the file holds one",
    ),
    (", set DuplicateKeyPolicy in Options if acceptable", ""),
    (
        "cannot deserialize null into string; use Option<String>",
        "a value is missing here (empty or null); write it as text",
    ),
    (
        "expected mapping start",
        "expected a mapping of `key: value` entries here",
    ),
    ("expected string scalar", "expected a text value here"),
    ("invalid type: unit value", "found an empty value (null)"),
    (
        "expected sequence start",
        "expected a list (`- item` lines, or `[a, b]`) here",
    ),
];

/// The parser's message without its "line L column C" prefix and code snippet, which the
/// error shows in `path:line:column` form instead.
fn yaml_message(error: &serde_saphyr::Error) -> String {
    let text = error.without_snippet().to_string();
    let first_line = text.lines().next().unwrap_or_default();
    let message = first_line.strip_prefix("error: ").unwrap_or(first_line);
    let message = match message.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest,
        _ => message,
    };
    if let Some(breach) = message.strip_prefix("budget breached: ") {
        // `Nodes { nodes: 250001 } (defined at ...`: the parser's resource limit that was hit.
        let limit = breach.split([' ', '{']).next().unwrap_or_default();
        return format!(
            "too large once its `*alias` references are expanded (past the parser's limit on {})",
            limit.to_lowercase()
        );
    }
    let message = match message.rsplit_once(" at line ") {
        Some((text, position)) if position.contains(", column ") => text,
        _ => message,
    };
    let message = REWORDED
        .iter()
        .fold(message.to_owned(), |text, (from, to)| {
            text.replace(from, to)
        });
    match suggestion(&message) {
        Some(known) => format!("{message}; did you mean `{known}`?"),
        None => message,
    }
}

/// For "unknown field `nmae`, expected one of name, source" (or `variant`), the known name the
/// unknown one is likely a typo of.
fn suggestion(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (unknown, rest) = rest.split_once('`')?;
    let (_, expected) = rest.split_once("expected ")?;
    let known = expected
        .trim_start_matches("one of ")
        .split([',', ' '])
        .map(|name| name.trim_matches('`'))
        .filter(|name| !name.is_empty() && *name != "or");
    names::suggest(unknown, known).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Spec {
            docker_args: Option<String>,
            base_image: Option<String>,
            source: Option<Source>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Source {
            Local,
            Aws,
        }
        parse::<Spec>(Path::new("f.yaml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_keys_and_values_suggest_the_likely_one() {
        assert!(
            message("docker_arg: x\n").ends_with(
                "unknown field `docker_arg`, expected one of docker_args, base_image, source; \
                 did you mean `docker_args`?"
            ),
            "{}",
            message("docker_arg: x\n")
        );
        assert!(message("sorce: aws\n").ends_with("did you mean `source`?"));
        assert!(message("source: locl\n").ends_with("did you mean `local`?"));
        assert!(!message("something_else: x\n").contains("did you mean"));
    }

    /// A "billion laughs" file stays small on disk and grows through aliases; the parser stops
    /// it, and the message says so in the file's terms.
    #[test]
    fn alias_expansion_past_the_parser_limits_is_refused_in_plain_words() {
        let aliases: String = (0..200).map(|i| format!("v{i}: *a\n")).collect();
        let error = parse::<indexmap::IndexMap<String, indexmap::IndexMap<String, String>>>(
            Path::new("f.yaml"),
            &format!("x: &a {{}}\n{aliases}"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(
                "too large once its `*alias` references are expanded (past the parser's limit on "
            ),
            "{error}"
        );
    }

    #[test]
    fn a_second_document_is_refused_at_its_line_without_naming_parser_functions() {
        assert_eq!(
            message("source: aws\n---\nsource: local\n"),
            "f.yaml:3:1: a second YAML document starts here (after `---`); the file holds one"
        );
    }
}
