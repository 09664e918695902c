//! Everything that can be wrong with a catalog on disk. Each variant names the file (and line,
//! for YAML) or the value, so the message alone tells the user what to fix.

use std::path::PathBuf;

use crate::exit::Kind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no images directory (looked for `./images` and `{}`)",
        .looked_for.display()
    )]
    NoImagesDir { looked_for: PathBuf },

    #[error("`{}` is not a directory", .0.display())]
    NotADirectory(PathBuf),

    #[error("{}:{line}:{column}: {message}", .path.display())]
    Yaml {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },

    #[error("{}: {problem}", .path.display())]
    Invalid { path: PathBuf, problem: String },

    #[error("{}:{line}: {problem}", .path.display())]
    InvalidAt {
        path: PathBuf,
        line: u64,
        problem: String,
    },

    #[error("unknown image `{name}` in `{}`", .dir.display())]
    UnknownImage {
        name: String,
        dir: PathBuf,
        suggestion: Option<String>,
    },

    #[error(
        "image `{image}` has no Python version `{version}` in `{}` (it has: {})",
        .path.display(), .known.join(", ")
    )]
    UnknownVersion {
        image: String,
        version: String,
        path: PathBuf,
        known: Vec<String>,
    },

    #[error(
        "`{image}` has not been built for Python {version}: there is no `{version}` in `{}`",
        .path.display()
    )]
    NotBuilt {
        image: String,
        version: String,
        path: PathBuf,
    },

    #[error("`{value}` is not a valid {what}: {why}")]
    InvalidValue {
        what: &'static str,
        value: String,
        why: String,
    },

    /// An image looked up among those a command read, which it did not read: a bug.
    #[error("image `{name}` was not read from the catalog before it was looked up")]
    NotRead { name: String },

    /// Reading or writing failed for a reason that is not the file's content.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Bad input but for failed reads and writes, and a wait for another run that Ctrl-C ended.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Io(e) => Kind::of_io(e),
            Error::NotRead { .. } => Kind::Failed,
            _ => Kind::BadInput,
        }
    }

    /// What to do about it, when the message alone does not say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NoImagesDir { .. } => {
                Some("pass `--images-dir DIR` or set `DAGSTER_IMAGES_DIR`".to_owned())
            }
            Error::UnknownImage {
                suggestion: Some(name),
                ..
            } => Some(format!("did you mean `{name}`?")),
            Error::NotBuilt { image, .. } => Some(format!("build `{image}` first")),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
