//! Reading a catalog YAML file into a typed value, with errors that name the file and line.
//!
//! Files go straight into typed structs (keys are `String`), never through a generic YAML value,
//! so an unquoted `3.10` stays the text "3.10" instead of becoming the float 3.1.

use std::io::Read;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{Error, Result};
use super::names;

/// Files larger than this are refused before parsing: catalog files are a few lines long.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads `path` as UTF-8 text, refusing what is not a regular file (a folder, a FIFO, a link to
/// `/dev/zero`: reading those fails, blocks or never ends) and huge files.
pub fn read_text(path: &Path) -> Result<String> {
    let invalid = |problem: String| Error::Invalid {
        path: path.to_owned(),
        problem,
    };
    let metadata = fs_err::metadata(path)?;
    if !metadata.is_file() {
        let found = if metadata.is_dir() {
            "a folder"
        } else {
            "a special file"
        };
        return Err(invalid(format!("expected a regular file, found {found}")));
    }
    let too_large = |size: &str| {
        invalid(format!(
            "the file is {size} bytes; catalog files are limited to {MAX_FILE_BYTES}"
        ))
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(&metadata.len().to_string()));
    }
    let mut bytes = Vec::new();
    // Bounded, in case the file grew since its size was read.
    fs_err::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(&format!("more than {MAX_FILE_BYTES}")));
    }
    String::from_utf8(bytes).map_err(|e| {
        invalid(format!(
            "not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

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
const REWORDED: [(&str, &str); 6] = [
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
    fn what_is_not_a_regular_file_or_is_huge_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_text(dir.path()).unwrap_err().to_string();
        assert!(
            error.ends_with("expected a regular file, found a folder"),
            "{error}"
        );
        let error = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(
            error.ends_with("expected a regular file, found a special file"),
            "{error}"
        );
        let huge = dir.path().join("huge.yaml");
        fs_err::write(&huge, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let error = read_text(&huge).unwrap_err().to_string();
        assert!(
            error.ends_with("catalog files are limited to 1048576"),
            "{error}"
        );
    }
}
