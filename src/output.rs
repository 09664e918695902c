//! What a run prints, through the session's [`Output`]: lines for the user on stderr, data on
//! stdout, and `debug:` lines when `--debug` is on. A closed or full pipe (`2>&1 | head`) loses
//! the text instead of panicking: the work goes on, and a panic on a build's thread would leave
//! the run waiting.

use std::fmt::Display;
use std::io::Write as _;

/// The run's output settings and the ways it prints, owned by the run's session.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// `--debug` (or `DAGSTER_IMAGE_DEBUG=1`): the `debug:` lines are printed.
    debug: bool,
}

impl Output {
    pub fn new(debug: bool) -> Self {
        Self { debug }
    }

    /// One line on stderr (a message, a warning, a note).
    pub fn say(&self, line: impl Display) {
        stderr_line(line);
    }

    /// Text on stderr as it is, its own line ends included.
    pub fn text(&self, text: impl Display) {
        let _ = write!(std::io::stderr().lock(), "{text}");
    }

    /// Data on stdout (a table, JSON, a plan, a pipeline), written as it is.
    pub fn data(&self, text: &str) {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }

    /// `debug: <message>` on stderr when debug output is on.
    pub fn debug(&self, message: impl Display) {
        if self.debug {
            stderr_line(format_args!("debug: {message}"));
        }
    }
}

/// One line on stderr, lost rather than a panic when stderr is closed: what [`Output::say`]
/// prints, and `say!` in the layers below the session (the run, the engine, the registry).
pub fn stderr_line(line: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
