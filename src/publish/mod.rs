//! `publish`, the seed's multi-step release of snapshot images as one resumable run, less the
//! running: its steps and their state file, the file edits it makes (the snapshot builder's
//! commit pin, `.buildkite/defines.py`, the files naming the published tags) shown as diffs, and
//! what changed in a snapshot. All pure but the state file's load and save;
//! `commands/publish.rs` runs the steps.

pub mod defines;
mod file_edit;
pub mod pin;
pub mod references;
pub mod snapshot_diff;
mod state;

use std::path::PathBuf;

pub use file_edit::FileEdit;
pub use state::{State, Step};

/// The two kinds of snapshot images: `buildkite-integration` and `buildkite-unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapType {
    Integration,
    Unit,
}

impl SnapType {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapType::Integration => "integration",
            SnapType::Unit => "unit",
        }
    }

    /// The image whose `pip freeze` is the snapshot: `buildkite-<type>-snapshot-builder`.
    pub fn builder(self) -> String {
        format!("buildkite-{}-snapshot-builder", self.as_str())
    }

    /// The image the snapshot is for: `buildkite-<type>`.
    pub fn target(self) -> String {
        format!("buildkite-{}", self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{value}` is not a commit hash: it must be 40 hexadecimal digits")]
    BadCommit { value: String },
    #[error("`{}` pins no commit: it has no `git checkout <40-hex hash>`", .path.display())]
    NoPin { path: PathBuf },
    #[error(
        "`{}` pins more than one commit (`git checkout <hash>` on lines {}); keep one",
        .path.display(), join(.lines)
    )]
    SeveralPins { path: PathBuf, lines: Vec<usize> },
    #[error("`{}` does not assign `{name}`; add a line `{name} = \"...\"`", .path.display())]
    NoVariable { path: PathBuf, name: &'static str },
    #[error(
        "{}:{line}: `{name}` must be assigned a plain string, as in `{name} = \"...\"`",
        .path.display()
    )]
    NotAString {
        path: PathBuf,
        line: usize,
        name: &'static str,
    },
    #[error("`{}` assigns `{name}` on lines {}; keep one", .path.display(), join(.lines))]
    AssignedTwice {
        path: PathBuf,
        name: &'static str,
        lines: Vec<usize>,
    },
    #[error(
        "`{}` is not a publish state file of this version ({problem}); start over with `--restart`",
        .path.display()
    )]
    BadState { path: PathBuf, problem: String },
    #[error(
        "an unfinished publish of `{snap_type}` images at `{timestamp}` stopped before the step \
         `{next}`: continue it with `--resume`, or start over with `--restart` (state: `{}`)",
        .path.display()
    )]
    Unfinished {
        snap_type: &'static str,
        timestamp: String,
        next: Step,
        path: PathBuf,
    },
    #[error("there is no unfinished publish of `{snap_type}` images to resume")]
    NothingToResume { snap_type: &'static str },
    #[error(
        "the publish being resumed was started with {recorded}; resume without `--{option}`, or \
         start over with `--restart`"
    )]
    ResumedDifferently {
        option: &'static str,
        recorded: String,
    },
    #[error("another publish is running on the catalog `{}`", .path.display())]
    Busy { path: PathBuf },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Bad input but for failed reads and writes and a publish already running.
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            Error::Io(e) => crate::exit::Kind::of_io(e),
            Error::Busy { .. } => crate::exit::Kind::Failed,
            _ => crate::exit::Kind::BadInput,
        }
    }
}

fn join(lines: &[usize]) -> String {
    let texts: Vec<String> = lines.iter().map(usize::to_string).collect();
    texts.join(", ")
}

/// The 1-based line of the byte at `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}
