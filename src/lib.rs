//! dagster-image: builds, snapshots and pushes a catalog of Docker images, one per Python
//! version, kept as `images/<name>/` folders.
//!
//! Data flows one way: files on disk ([`catalog`]) -> a [`plan`] -> actions on the [`engine`]
//! and [`registry`] ([`run`]) -> files written back ([`atomic`]).

pub mod atomic;
pub mod build_context;
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
pub mod lock;
pub mod plan;
pub mod process;
pub mod prune;
pub mod publish;
pub mod reference;
pub mod registry;
pub mod report;
pub mod run;
pub mod upstream;
