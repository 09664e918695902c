//! Everything that can be wrong with a catalog on disk. Each variant names the file (and line,
//! for YAML) or the value, so the message alone tells the user what to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no images directory: pass `--images-dir DIR` or set `DAGSTER_IMAGES_DIR` (looked for `./images` and `{}`)",
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

    #[error("unknown image `{name}` in `{}`{}", .dir.display(), did_you_mean(.suggestion))]
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

    #[error("`{value}` is not a valid {what}: {why}")]
    InvalidValue {
        what: &'static str,
        value: String,
        why: String,
    },

    /// Reading or writing failed for a reason that is not the file's content.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None => String::new(),
    }
}

impl Error {
    /// True when the user's input is at fault (exit code 2), false when the work failed.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Error::Io(_))
    }
}

pub type Result<T> = std::result::Result<T, Error>;
