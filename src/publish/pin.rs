//! The commit a snapshot builder's Dockerfile installs from: the 40-hex hash of its
//! `git checkout <hash>`, replaced in place so that every other byte of the file stays.

use std::ops::Range;
use std::path::Path;

use super::{Error, line_of};

const CHECKOUT: &str = "git checkout";
const HASH_DIGITS: usize = 40;

/// `value` must be a full commit hash: 40 hexadecimal digits.
pub fn check_commit(value: &str) -> Result<(), Error> {
    if value.len() == HASH_DIGITS && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::BadCommit {
            value: value.to_owned(),
        })
    }
}

/// `text`, the Dockerfile at `path`, pinned to `commit` instead: it must pin exactly one.
pub fn with_commit(path: &Path, text: &str, commit: &str) -> Result<String, Error> {
    match pins(text).as_slice() {
        [] => Err(Error::NoPin {
            path: path.to_owned(),
        }),
        [pin] => Ok(format!(
            "{}{commit}{}",
            &text[..pin.start],
            &text[pin.end..]
        )),
        several => Err(Error::SeveralPins {
            path: path.to_owned(),
            lines: several.iter().map(|pin| line_of(text, pin.start)).collect(),
        }),
    }
}

/// Where the hashes are that follow `git checkout` and blanks: exactly 40 hex digits, so that a
/// branch name or a short hash is not taken for a pin.
fn pins(text: &str) -> Vec<Range<usize>> {
    text.match_indices(CHECKOUT)
        .filter_map(|(at, _)| {
            let after = at + CHECKOUT.len();
            let rest = &text[after..];
            let hash = rest.trim_start_matches([' ', '\t']);
            let start = after + rest.len() - hash.len();
            let digits = hash.bytes().take_while(u8::is_ascii_hexdigit).count();
            (start > after && digits == HASH_DIGITS).then_some(start..start + HASH_DIGITS)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "5c2b1e9d3f8a7b6c4d2e1f0a9b8c7d6e5f4a3b2c";
    const NEW: &str = "0123456789abcdef0123456789abcdef01234567";

    fn pin(text: &str) -> Result<String, Error> {
        with_commit(Path::new("Dockerfile"), text, NEW)
    }

    #[test]
    fn replaces_the_hash_and_keeps_every_other_byte() {
        let text = format!(
            "FROM x\r\nRUN git clone r && cd r && git checkout  {OLD} \\\n  && pip install .\n# end"
        );
        let expected = text.replace(OLD, NEW);
        assert_eq!(pin(&text).unwrap(), expected);
        let quoted = format!("RUN echo \"git checkout {OLD}\" > /pin");
        assert_eq!(pin(&quoted).unwrap(), quoted.replace(OLD, NEW));
    }

    #[test]
    fn a_file_without_a_full_hash_pin_is_refused() {
        for text in [
            "FROM x\n",
            "RUN git checkout master\n",
            "RUN git checkout 5c2b1e9\n",
            &format!("RUN git checkout {OLD}0\n"),
            &format!("RUN git checkout-index {OLD}\n"),
            &format!("# {OLD}\n"),
        ] {
            let error = pin(text).unwrap_err();
            assert_eq!(
                error.to_string(),
                "`Dockerfile` pins no commit: it has no `git checkout <40-hex hash>`",
                "{text}"
            );
        }
    }

    #[test]
    fn two_pins_are_refused_with_their_lines() {
        let text = format!("RUN git checkout {OLD}\nRUN true\nRUN git checkout {NEW}\n");
        assert_eq!(
            pin(&text).unwrap_err().to_string(),
            "`Dockerfile` pins more than one commit (`git checkout <hash>` on lines 1, 3); keep one"
        );
    }

    #[test]
    fn a_commit_is_forty_hex_digits() {
        assert!(check_commit(NEW).is_ok());
        assert!(check_commit(&NEW.to_uppercase()).is_ok());
        for bad in ["", "abc", &format!("{NEW}0"), &NEW.replace('a', "g")] {
            assert!(check_commit(bad).is_err(), "{bad}");
        }
    }
}
