//! The error of a whole command, and the exit code it maps to: 2 for bad input, 1 for failed
//! work, 130 when interrupted.

use std::io::ErrorKind;

use crate::{build_context, catalog, engine, export, plan, process, publish, registry};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Catalog(#[from] catalog::Error),
    #[error(transparent)]
    Plan(#[from] plan::Error),
    #[error(transparent)]
    Registry(#[from] registry::Error),
    /// A registry spoken to directly failed (one line naming it).
    #[error(transparent)]
    Remote(#[from] registry::RemoteError),
    #[error(transparent)]
    Process(#[from] process::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    BuildContext(#[from] build_context::Error),
    #[error(transparent)]
    Export(#[from] export::Error),
    #[error(transparent)]
    Publish(#[from] publish::Error),
    /// A request that cannot be carried out as given (bad input).
    #[error("{0}")]
    Usage(String),
    #[error("{failed} of {total} builds failed{}", skipped_note(*.skipped))]
    BuildsFailed {
        failed: usize,
        skipped: usize,
        total: usize,
    },
    /// A build succeeded but its timestamp could not be written.
    #[error("{0}")]
    Record(String),
    #[error("interrupted")]
    Interrupted,
    /// Pushes or a release that left some tags unpublished.
    #[error(transparent)]
    Unpublished(#[from] crate::commands::Unpublished),
    /// `check` found problems in the catalog (listed on stdout).
    #[error("found {count} problem(s) in the catalog")]
    ProblemsFound { count: usize },
}

impl From<crate::run::Failure> for Error {
    fn from(failure: crate::run::Failure) -> Self {
        match failure {
            crate::run::Failure::Process(error) => error.into(),
            crate::run::Failure::Record(message) => Error::Record(message),
        }
    }
}

fn skipped_note(skipped: usize) -> String {
    match skipped {
        0 => String::new(),
        n => format!(", {n} not built"),
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INTERRUPTED: u8 = 130;

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            // Stopped by Ctrl-C while waiting for another run's lock.
            Error::Catalog(catalog::Error::Io(e))
            | Error::BuildContext(build_context::Error::Io(e))
                if e.kind() == ErrorKind::Interrupted =>
            {
                EXIT_INTERRUPTED
            }
            Error::Catalog(e) if !e.is_bad_input() => EXIT_FAILED,
            Error::Publish(e) if !e.is_bad_input() => EXIT_FAILED,
            Error::Catalog(_) | Error::Plan(_) | Error::Registry(_) | Error::Usage(_) => {
                EXIT_BAD_INPUT
            }
            Error::Export(_) => EXIT_BAD_INPUT,
            Error::Publish(_) => EXIT_BAD_INPUT,
            Error::ProblemsFound { .. } => EXIT_FAILED,
            Error::Remote(e) if e.is_interrupted() => EXIT_INTERRUPTED,
            Error::Process(process::Error::Interrupted)
            | Error::Engine(engine::Error::Process(process::Error::Interrupted))
            | Error::Interrupted => EXIT_INTERRUPTED,
            Error::Remote(registry::RemoteError::Reference { .. }) => EXIT_BAD_INPUT,
            Error::Remote(_) => EXIT_FAILED,
            Error::BuildContext(build_context::Error::InTheWay { .. }) => EXIT_BAD_INPUT,
            Error::Process(_)
            | Error::Engine(_)
            | Error::BuildContext(_)
            | Error::BuildsFailed { .. }
            | Error::Unpublished(_)
            | Error::Record(_) => EXIT_FAILED,
        }
    }
}
