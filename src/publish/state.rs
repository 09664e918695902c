//! The state of a publish run, kept beside the images folder (in `.dagster-image/`, ignored by git)
//! while it runs: its timestamp and options, the timestamps it replaces, and the steps that
//! finished, so that `publish --resume` continues where a failed run stopped. JSON, written
//! atomically after every step; removed when the run finishes.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use crate::reference::{Platform, Timestamp};

/// Written into every state file; a file of another format is not resumed.
const FORMAT: u32 = 1;

/// One step of a publish run, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Write `--git-hash` into the snapshot builder's Dockerfile.
    PinCommit,
    /// Build every version of the snapshot builder, with its local bases.
    BuildBuilder,
    /// Freeze the builder's requirements into the target image's snapshot files.
    Snapshot,
    /// Build every version of the target image.
    BuildTarget,
    /// Push every version of the target image.
    Push,
    /// Write the timestamp into `defines.py` and the files naming the target's tags.
    RecordTimestamp,
}

impl Step {
    /// The steps of a run, the commit pin only when a commit is given.
    pub fn all(pins_commit: bool) -> Vec<Step> {
        let mut steps = vec![
            Step::BuildBuilder,
            Step::Snapshot,
            Step::BuildTarget,
            Step::Push,
            Step::RecordTimestamp,
        ];
        if pins_commit {
            steps.insert(0, Step::PinCommit);
        }
        steps
    }

    fn name(self) -> &'static str {
        match self {
            Step::PinCommit => "pin-commit",
            Step::BuildBuilder => "build-builder",
            Step::Snapshot => "snapshot",
            Step::BuildTarget => "build-target",
            Step::Push => "push",
            Step::RecordTimestamp => "record-timestamp",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A publish run: what it was started with and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    format: u32,
    /// T: the timestamp of every image the run builds.
    pub timestamp: Timestamp,
    pub git_hash: Option<String>,
    pub dagster_version: Option<String>,
    /// `--platform`s of the run; none: each image's `image.yaml` ones.
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// The timestamps of the target image before the run: the tags the files that name it are
    /// moved away from.
    pub previous_timestamps: Vec<Timestamp>,
    /// The steps done, in order.
    pub finished: Vec<Step>,
    /// The references pushed by the push step.
    pub pushed: Vec<String>,
}

impl State {
    pub fn new(
        timestamp: Timestamp,
        git_hash: Option<String>,
        dagster_version: Option<String>,
        platforms: Vec<Platform>,
        previous_timestamps: Vec<Timestamp>,
    ) -> Self {
        Self {
            format: FORMAT,
            timestamp,
            git_hash,
            dagster_version,
            platforms,
            previous_timestamps,
            finished: Vec::new(),
            pushed: Vec::new(),
        }
    }

    /// The state file of publish runs of `snap_type` in the tool's folder `state_dir`.
    pub fn path(state_dir: &Path, snap_type: &str) -> PathBuf {
        state_dir.join(format!("publish-{snap_type}.json"))
    }

    /// The steps of this run, in order.
    pub fn steps(&self) -> Vec<Step> {
        Step::all(self.git_hash.is_some())
    }

    /// The first step not done yet, if any.
    pub fn next_step(&self) -> Option<Step> {
        self.steps()
            .into_iter()
            .find(|step| !self.finished.contains(step))
    }

    pub fn to_json(&self) -> String {
        let json = serde_json::to_string_pretty(self).expect("strings and lists serialize");
        format!("{json}\n")
    }

    pub fn from_json(path: &Path, text: &str) -> Result<Self, Error> {
        let bad = |problem: String| Error::BadState {
            path: path.to_owned(),
            problem,
        };
        let state: Self = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if state.format != FORMAT {
            return Err(bad(format!(
                "format {}, this tool writes {FORMAT}",
                state.format
            )));
        }
        Ok(state)
    }

    /// The state at `path`, or `None` when there is no unfinished run.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        match fs_err::read_to_string(path) {
            Ok(text) => Self::from_json(path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        crate::atomic::write(path, self.to_json().as_bytes())?;
        Ok(())
    }

    /// Removes the state file at `path`: the run finished (or is started over).
    pub fn remove(path: &Path) -> Result<(), Error> {
        match fs_err::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        let mut state = State::new(
            Timestamp::recorded("2024-05-01T120000"),
            Some("0123456789abcdef0123456789abcdef01234567".into()),
            None,
            vec!["linux/amd64".into(), "linux/arm64".into()],
            vec![Timestamp::recorded("2020-01-01T000000")],
        );
        state.finished = vec![Step::PinCommit, Step::BuildBuilder];
        state.pushed = vec!["r/buildkite-unit:py3.9-2024-05-01T120000".into()];
        state
    }

    #[test]
    fn a_state_reads_back_as_it_was_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = State::path(dir.path(), "unit");
        assert_eq!(path, dir.path().join("publish-unit.json"));
        assert_eq!(State::load(&path).unwrap(), None);
        state().save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(state()));
        State::remove(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), None);
        State::remove(&path).unwrap();
    }

    #[test]
    fn steps_are_written_by_name() {
        let json = state().to_json();
        assert!(
            json.contains("\"finished\": [\n    \"pin-commit\",\n    \"build-builder\"\n  ]"),
            "{json}"
        );
    }

    #[test]
    fn the_next_step_is_the_first_not_finished() {
        let mut state = state();
        assert_eq!(state.next_step(), Some(Step::Snapshot));
        state.git_hash = None;
        state.finished = vec![];
        assert_eq!(state.next_step(), Some(Step::BuildBuilder));
        state.finished = Step::all(false);
        assert_eq!(state.next_step(), None);
    }

    #[test]
    fn other_files_are_refused_with_a_way_out() {
        let path = Path::new("publish-unit.json");
        let error = State::from_json(path, "{\"format\": 2}").unwrap_err();
        assert!(error.to_string().contains("--restart"), "{error}");
        let mut other = state();
        other.format = 2;
        let error = State::from_json(path, &other.to_json()).unwrap_err();
        assert!(
            error.to_string().contains("format 2, this tool writes 1"),
            "{error}"
        );
    }
}
