//! Debug output (`--debug`, `DAGSTER_IMAGE_DEBUG=1`): `debug: ...` lines on stderr about choices
//! the tool made on its own, such as where each registry's credentials came from; never a secret.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the debug lines on for the rest of the run.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Prints `debug: <message>` on stderr when debug output is on.
pub fn line(message: impl Display) {
    if ENABLED.load(Ordering::Relaxed) {
        say!("debug: {message}");
    }
}
