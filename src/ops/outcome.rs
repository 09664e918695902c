//! What a push or release published and what it did not, so that a run stopped halfway says
//! which tags are in the registry and which are missing, rather than only its last error.

use crate::error::{Error, Unpublished};
use crate::registry::joined_lines;

/// The tags a run published, those it failed to publish and why, and those it did not try.
#[derive(Debug, Default)]
pub struct Outcome {
    published: Vec<String>,
    failed: Vec<(String, Error)>,
    untried: Vec<String>,
}

impl Outcome {
    pub fn published(&mut self, target: &str) {
        self.published.push(target.to_owned());
    }

    pub fn failed(&mut self, target: &str, error: Error) {
        self.failed.push((target.to_owned(), error));
    }

    pub fn untried(&mut self, targets: impl IntoIterator<Item = String>) {
        self.untried.extend(targets);
    }

    /// Whether some target failed.
    pub fn has_failed(&self) -> bool {
        !self.failed.is_empty()
    }

    /// Ok when every target was published; the error itself when the only target tried
    /// failed; otherwise what is published and what is not. (An interrupted run is no
    /// outcome: its caller returns at once.)
    pub fn into_result(mut self) -> Result<(), Error> {
        if self.failed.is_empty() {
            return Ok(());
        }
        let alone = self.failed.len() == 1 && self.published.is_empty() && self.untried.is_empty();
        if alone && let Some((_, error)) = self.failed.pop() {
            return Err(error);
        }
        let failed =
            (self.failed.into_iter()).map(|(t, e)| (t, Some(joined_lines(&e.to_string()))));
        let untried = self.untried.into_iter().map(|t| (t, None));
        Err(Error::Unpublished(Unpublished::new(
            self.published,
            failed.chain(untried).collect(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_stopped_halfway_names_what_is_published_and_what_is_not() {
        let mut outcome = Outcome::default();
        outcome.published("r/a:1.0");
        outcome.failed(
            "r/a:latest",
            Error::WentAway {
                reference: "r/a:latest".into(),
            },
        );
        outcome.untried(["r/b:1.0".to_owned()]);
        let error = outcome.into_result().unwrap_err();
        assert_eq!(error.kind(), crate::exit::Kind::Failed);
        assert_eq!(
            error.to_string(),
            "2 of 3 tag(s) not published: `r/a:latest` (`r/a:latest` went away while the command \
             ran); \
             `r/b:1.0` (not tried after that); published: `r/a:1.0`; running the same command \
             again publishes the missing ones"
        );
    }

    #[test]
    fn a_lone_failure_is_its_own_error() {
        let mut outcome = Outcome::default();
        let went = || Error::WentAway {
            reference: "r/a:1.0".into(),
        };
        outcome.failed("r/a:1.0", went());
        assert_eq!(
            outcome.into_result().unwrap_err().to_string(),
            went().to_string()
        );
        assert!(Outcome::default().into_result().is_ok());
    }
}
