//! Reading a catalog YAML file into a typed value, with errors that name the file and line.
//!
//! Files go straight into typed structs (keys are `String`), never through a generic YAML value,
//! so an unquoted `3.10` stays the text "3.10" instead of becoming the float 3.1.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{Error, Result};

/// Files larger than this are refused before parsing: catalog files are a few lines long.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads `path` as UTF-8 text, refusing huge files.
pub fn read_text(path: &Path) -> Result<String> {
    let size = fs_err::metadata(path)?.len();
    if size > MAX_FILE_BYTES {
        return Err(Error::Invalid {
            path: path.to_owned(),
            problem: format!(
                "the file is {size} bytes; catalog files are limited to {MAX_FILE_BYTES}"
            ),
        });
    }
    let bytes = fs_err::read(path)?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid {
        path: path.to_owned(),
        problem: format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
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
const REWORDED: [(&str, &str); 4] = [
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
    let message = match message.rsplit_once(" at line ") {
        Some((text, position)) if position.contains(", column ") => text,
        _ => message,
    };
    REWORDED
        .iter()
        .fold(message.to_owned(), |text, (from, to)| {
            text.replace(from, to)
        })
}
