//! dagster-image: builds, snapshots and pushes a catalog of Docker images, one per Python
//! version, kept as `images/<name>/` folders.
//!
//! Data flows one way: files on disk ([`catalog`]) -> a [`plan`] -> actions on the [`engine`]
//! and [`registry`] ([`run`]) -> files written back ([`atomic`]).

#![forbid(unsafe_code)]

/// Like `eprintln!`, but a closed or full stderr (`2>&1 | head`) loses the line instead of
/// panicking (`output::stderr_line`): for the layers below the run's session, which print
/// through its `Output`.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}

pub mod atomic;
pub mod build_context;
pub mod cached_build;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod commands;
pub mod debug;
pub mod digest;
pub mod dockerfile;
pub mod dockerignore;
pub mod engine;
pub mod error;
pub mod exit;
pub mod export;
pub mod freshness;
pub mod git;
pub mod lock;
pub mod names;
pub mod oci_labels;
pub mod ops;
pub mod output;
pub mod plan;
pub mod process;
pub mod prune;
pub mod prune_remote;
pub mod publish;
pub mod reference;
pub mod registry;
pub mod report;
pub mod run;
pub mod secrets;
pub mod upstream;

/// What `--version` prints after the name: the crate's version, and `(<short commit> <date>)`
/// of the commit it was built from when built from a git checkout of this repository (build.rs).
pub const VERSION: &str = env!("DAGSTER_IMAGE_VERSION");
