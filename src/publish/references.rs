//! Files that name published tags of an image, such as the FROM line of a Dockerfile built on
//! it (`FROM <registry>/buildkite-unit:py3.9-<T>`, or `py${PYTHON_VERSION}-<T>`): every tag of
//! that image at one of its previous timestamps is moved to the new one. Only the timestamp in a
//! tag of that image changes; other images' tags (`buildkite-unit-snapshot-builder:...`) and the
//! same timestamp elsewhere in the file stay as they are.

use super::line_of;
use crate::reference::Timestamp;

/// A file's text with the image's tags moved, and what was not moved.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewrite {
    pub text: String,
    /// How many tags were moved to the new timestamp.
    pub moved: usize,
    /// How many tags were at the new timestamp already.
    pub current: usize,
    /// Tags `py...` of the image at other timestamps, or pinned by digest, left as they are:
    /// line and reference.
    pub left: Vec<(usize, String)>,
}

/// `text` with every tag `<image>:py<V>-<P>`, P one of `previous`, moved to `timestamp`.
pub fn rewrite(text: &str, image: &str, previous: &[Timestamp], timestamp: &str) -> Rewrite {
    let mut candidates: Vec<&str> = previous
        .iter()
        .map(Timestamp::as_str)
        .filter(|p| *p != timestamp)
        .collect();
    // The longest first, so that a timestamp ending another one is not taken for it.
    candidates.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let prefix = format!("{image}:");
    let mut rewrite = Rewrite {
        text: String::with_capacity(text.len()),
        moved: 0,
        current: 0,
        left: Vec::new(),
    };
    let mut copied = 0;
    for (at, _) in text.match_indices(&prefix) {
        if !starts_a_name(text, at) {
            continue;
        }
        let tag_start = at + prefix.len();
        let tag_end = tag_start + tag_length(&text[tag_start..]);
        let tag = &text[tag_start..tag_end];
        let by_digest = text[tag_end..].starts_with('@');
        let old = candidates
            .iter()
            .find(|p| tag.len() > p.len() + 3 && tag.ends_with(&format!("-{p}")));
        match old {
            Some(old) if tag.starts_with("py") && !by_digest => {
                rewrite.text.push_str(&text[copied..tag_end - old.len()]);
                rewrite.text.push_str(timestamp);
                copied = tag_end;
                rewrite.moved += 1;
            }
            _ if tag.ends_with(&format!("-{timestamp}")) && !by_digest => rewrite.current += 1,
            _ if tag.starts_with("py") => rewrite
                .left
                .push((line_of(text, at), text[at..tag_end].to_owned())),
            _ => {}
        }
    }
    rewrite.text.push_str(&text[copied..]);
    rewrite
}

/// Whether the image name at `at` starts there rather than ending a longer name.
fn starts_a_name(text: &str, at: usize) -> bool {
    text[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
}

/// The length of the tag `rest` starts with: tag characters and `$NAME` or `${NAME}`.
fn tag_length(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut length = 0;
    while let Some(&byte) = bytes.get(length) {
        length += match byte {
            b'$' if bytes.get(length + 1) == Some(&b'{') => match rest[length..].find('}') {
                Some(close) => close + 1,
                None => break,
            },
            b'$' | b'_' | b'.' | b'-' => 1,
            _ if byte.is_ascii_alphanumeric() => 1,
            _ => break,
        };
    }
    length
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "buildkite-unit";
    const NEW: &str = "2024-05-01T120000";

    fn rewrite_from(text: &str, previous: &[&str]) -> Rewrite {
        let previous: Vec<Timestamp> = previous.iter().map(|p| Timestamp::recorded(*p)).collect();
        rewrite(text, IMAGE, &previous, NEW)
    }

    #[test]
    fn moves_tags_of_the_image_at_previous_timestamps_only() {
        let text = "# built from buildkite-unit at 2020-11-02T153125\n\
            ARG PYTHON_VERSION\n\
            FROM 9.dkr.ecr.us-west-1.amazonaws.com/buildkite-unit:py3.9-2020-11-02T153125 AS unit\n\
            FROM reg/buildkite-unit:py${PYTHON_VERSION}-2020-10-30T205209\n\
            COPY --from=reg/buildkite-unit-snapshot-builder:py3.9-2020-11-02T153125 /a /a\n\
            FROM reg/my-buildkite-unit:py3.9-2020-11-02T153125\n";
        let rewrite = rewrite_from(text, &["2020-11-02T153125", "2020-10-30T205209"]);
        assert_eq!(
            rewrite.text,
            "# built from buildkite-unit at 2020-11-02T153125\n\
            ARG PYTHON_VERSION\n\
            FROM 9.dkr.ecr.us-west-1.amazonaws.com/buildkite-unit:py3.9-2024-05-01T120000 AS unit\n\
            FROM reg/buildkite-unit:py${PYTHON_VERSION}-2024-05-01T120000\n\
            COPY --from=reg/buildkite-unit-snapshot-builder:py3.9-2020-11-02T153125 /a /a\n\
            FROM reg/my-buildkite-unit:py3.9-2020-11-02T153125\n"
        );
        assert_eq!((rewrite.moved, rewrite.current), (2, 0));
        assert!(rewrite.left.is_empty());
    }

    #[test]
    fn quoted_and_bare_references_move_too() {
        let rewrite = rewrite_from(
            "image: \"buildkite-unit:py3.10-old\"\nBASE=buildkite-unit:py3.10-old;\n",
            &["old"],
        );
        assert_eq!(
            rewrite.text,
            format!("image: \"buildkite-unit:py3.10-{NEW}\"\nBASE=buildkite-unit:py3.10-{NEW};\n")
        );
        assert_eq!(rewrite.moved, 2);
    }

    #[test]
    fn other_timestamps_and_digest_pins_are_left_and_reported() {
        let text = format!(
            "FROM r/buildkite-unit:py3.9-other\nFROM r/buildkite-unit:py3.9-old@sha256:ab\n\
             FROM r/buildkite-unit:py3.9-{NEW}\nFROM r/buildkite-unit:latest\n"
        );
        let rewrite = rewrite_from(&text, &["old", NEW]);
        assert_eq!(rewrite.text, text);
        assert_eq!((rewrite.moved, rewrite.current), (0, 1));
        assert_eq!(
            rewrite.left,
            [
                (1, "buildkite-unit:py3.9-other".to_owned()),
                (2, "buildkite-unit:py3.9-old".to_owned())
            ]
        );
    }

    #[test]
    fn a_timestamp_ending_another_is_not_taken_for_it() {
        let rewrite = rewrite_from("FROM buildkite-unit:py3.9-x-1\n", &["1", "x-1"]);
        assert_eq!(rewrite.text, format!("FROM buildkite-unit:py3.9-{NEW}\n"));
    }

    #[test]
    fn rewriting_twice_changes_nothing_more() {
        let once = rewrite_from("FROM buildkite-unit:py3.9-old\n", &["old"]);
        let twice = rewrite_from(&once.text, &["old"]);
        assert_eq!(twice.text, once.text);
        assert_eq!((twice.moved, twice.current), (0, 1));
    }
}
