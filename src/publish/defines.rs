//! `.buildkite/defines.py` of the repository: where its CI reads the timestamp T of the
//! published images, as a top-level `INTEGRATION_IMAGE_VERSION = "<T>"` (or
//! `UNIT_IMAGE_VERSION`). Only the text between that string's quotes is ever replaced.

use std::ops::Range;
use std::path::Path;

use super::Error;

/// Where `.buildkite/defines.py` is, relative to the repository root.
pub const PATH: &str = ".buildkite/defines.py";

/// The variable holding the timestamp of the images of `snap_type`.
pub fn variable(snap_type: &str) -> &'static str {
    match snap_type {
        "integration" => "INTEGRATION_IMAGE_VERSION",
        _ => "UNIT_IMAGE_VERSION",
    }
}

/// The value `text` (the file at `path`) assigns to `name`.
pub fn value<'a>(path: &Path, text: &'a str, name: &'static str) -> Result<&'a str, Error> {
    Ok(&text[value_range(path, text, name)?])
}

/// `text` (the file at `path`) with `name` set to `value`, quotes and all else unchanged.
pub fn with_value(
    path: &Path,
    text: &str,
    name: &'static str,
    value: &str,
) -> Result<String, Error> {
    let range = value_range(path, text, name)?;
    Ok(format!(
        "{}{value}{}",
        &text[..range.start],
        &text[range.end..]
    ))
}

/// Where the string assigned to `name` is, between its quotes. The assignment must be one, at
/// the top level (a line starting with the name), of a plain one-line string.
fn value_range(path: &Path, text: &str, name: &'static str) -> Result<Range<usize>, Error> {
    let mut found = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if let Some(assigned) = assigned_value(line, name) {
            found.push((
                index + 1,
                assigned.map(|r| offset + r.start..offset + r.end),
            ));
        }
        offset += line.len();
    }
    match found.as_slice() {
        [] => Err(Error::NoVariable {
            path: path.to_owned(),
            name,
        }),
        [(_, Some(range))] => Ok(range.clone()),
        [(line, None)] => Err(Error::NotAString {
            path: path.to_owned(),
            line: *line,
            name,
        }),
        several => Err(Error::AssignedTwice {
            path: path.to_owned(),
            name,
            lines: several.iter().map(|(line, _)| *line).collect(),
        }),
    }
}

/// `None` when `line` does not assign `name`; `Some(None)` when it assigns something other than
/// a plain string; else where the string's content is in `line`.
fn assigned_value(line: &str, name: &str) -> Option<Option<Range<usize>>> {
    let rest = line.strip_prefix(name)?;
    let rest = rest.trim_start_matches([' ', '\t']);
    // `NAME: str = ...` is an assignment too.
    let rest = match rest.strip_prefix(':') {
        Some(annotated) => annotated.split_once('=').map_or("", |(_, value)| value),
        None => rest.strip_prefix('=').filter(|r| !r.starts_with('='))?,
    };
    let value = rest.trim_start_matches([' ', '\t']);
    let start = line.len() - value.len() + 1;
    Some(plain_string(value).map(|length| start..start + length))
}

/// The length of the content of the string literal `value` starts with, when it is a plain
/// one (quoted with `"` or `'`, no escapes, nothing but a comment after it).
fn plain_string(value: &str) -> Option<usize> {
    let quote = value.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let content = &value[1..];
    let length = content.find(quote)?;
    let after = content[length + 1..].trim();
    let plain = !content[..length].contains('\\') && (after.is_empty() || after.starts_with('#'));
    plain.then_some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "UNIT_IMAGE_VERSION";

    fn set(text: &str) -> Result<String, Error> {
        with_value(Path::new("defines.py"), text, NAME, "2024-05-01T120000")
    }

    fn error(text: &str) -> String {
        set(text).unwrap_err().to_string()
    }

    #[test]
    fn replaces_only_the_value_keeping_quotes_comments_and_other_lines() {
        let text = "# Update this when releasing\nINTEGRATION_IMAGE_VERSION = \"2020-12-27T184610\"\nUNIT_IMAGE_VERSION = \"2020-12-11T192450\"  # unit\n\nCOVERAGE = 'x'\n";
        assert_eq!(
            set(text).unwrap(),
            text.replace("2020-12-11T192450", "2024-05-01T120000")
        );
        assert_eq!(
            set("UNIT_IMAGE_VERSION='old'\r\n").unwrap(),
            "UNIT_IMAGE_VERSION='2024-05-01T120000'\r\n"
        );
        assert_eq!(
            set("UNIT_IMAGE_VERSION: str = \"old\"").unwrap(),
            "UNIT_IMAGE_VERSION: str = \"2024-05-01T120000\""
        );
    }

    #[test]
    fn reads_the_current_value() {
        let text = "UNIT_IMAGE_VERSION_OLD = \"a\"\nUNIT_IMAGE_VERSION = \"b\"\n";
        assert_eq!(value(Path::new("d.py"), text, NAME).unwrap(), "b");
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_the_file() {
        for text in [
            "",
            "INTEGRATION_IMAGE_VERSION = \"x\"\n",
            "    UNIT_IMAGE_VERSION = \"nested\"\n",
            "UNIT_IMAGE_VERSION_2 = \"x\"\n",
            "UNIT_IMAGE_VERSION == \"x\"\n",
        ] {
            assert_eq!(
                error(text),
                "`defines.py` does not assign `UNIT_IMAGE_VERSION`; add a line `UNIT_IMAGE_VERSION = \"...\"`",
                "{text:?}"
            );
        }
    }

    #[test]
    fn values_other_than_a_plain_string_are_refused_at_their_line() {
        for text in [
            "x = 1\nUNIT_IMAGE_VERSION = get_image_version(\"buildkite-unit\")\n",
            "x = 1\nUNIT_IMAGE_VERSION = \"a\" + B\n",
            "x = 1\nUNIT_IMAGE_VERSION = \"a\\\"b\"\n",
            "x = 1\nUNIT_IMAGE_VERSION = \"\"\"a\"\"\"\n",
            "x = 1\nUNIT_IMAGE_VERSION = \"unterminated\n",
        ] {
            assert_eq!(
                error(text),
                "defines.py:2: `UNIT_IMAGE_VERSION` must be assigned a plain string, as in `UNIT_IMAGE_VERSION = \"...\"`",
                "{text:?}"
            );
        }
    }

    #[test]
    fn two_assignments_are_refused() {
        assert_eq!(
            error("UNIT_IMAGE_VERSION = \"a\"\nUNIT_IMAGE_VERSION = \"b\"\n"),
            "`defines.py` assigns `UNIT_IMAGE_VERSION` on lines 1, 2; keep one"
        );
    }
}
