//! The operations the commands compose (build a plan, push a set of images, push a
//! multi-platform index, freeze a snapshot builder, assess inputs), each over the run
//! [`Session`]. None calls a command.

pub mod build;
pub mod build_secrets;
pub mod engine_login;
pub mod freeze;
pub mod incremental;
pub mod labelling;
pub mod layer_cache;
pub mod outcome;
pub mod platform_index;
pub mod push;
mod pushed_digests;
pub mod saved_push;
mod session;
pub mod state_dir;
pub mod up_to_date;

pub use build::{BuildRequest, BuildSettings};
pub use pushed_digests::PushedDigests;
pub use session::Session;
pub use state_dir::{builds_lock, display, state_dir, state_path};

/// A value given on the command line that cannot be used, as an error naming it.
pub fn invalid(
    what: &'static str,
    value: &str,
    why: impl std::fmt::Display,
) -> crate::error::Error {
    crate::reference::Invalid::new(what, value, why).into()
}
