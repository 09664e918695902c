//! Entry point: parse the command line, run the command, map its error to an exit code.

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use dagster_image::error::Error;
use dagster_image::exit::{EXIT_BAD_INPUT, EXIT_INTERRUPTED};
use dagster_image::reference::Invalid;
use dagster_image::{cli::Cli, commands, lock, process, report};

fn main() -> ExitCode {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return refused_by_clap(error),
    };
    lock::on_wait(report::line);
    if let Err(error) = ctrlc::set_handler(on_interrupt) {
        let _ = writeln!(std::io::stderr(), "warning: cannot handle Ctrl-C: {error}");
    }
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Written even to a closed stderr without panicking: the exit code still says how.
            let _ = std::io::stderr().write_all(error_report(&error).as_bytes());
            ExitCode::from(error.exit_code())
        }
    }
}

/// A command line clap refuses: a value one of the tool's types refused (a `--platform`) is
/// reported as the tool reports bad input, `error:` and the value's own message; any other is
/// clap's own report (and `--help` and `--version` are printed) with clap's exit code.
fn refused_by_clap(error: clap::Error) -> ExitCode {
    let invalid = std::error::Error::source(&error).and_then(|s| s.downcast_ref::<Invalid>());
    match invalid {
        Some(invalid) if error.kind() == clap::error::ErrorKind::ValueValidation => {
            let _ = writeln!(std::io::stderr(), "error: {invalid}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        _ => error.exit(),
    }
}

/// `error: ...`, a `Caused by: ...` line for each error beneath it, and `hint: ...` when there is
/// something to do that the messages do not say.
fn error_report(error: &Error) -> String {
    let mut report = format!("error: {error}\n");
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        report += &format!("  Caused by: {inner}\n");
        cause = inner.source();
    }
    if let Some(hint) = error.hint() {
        report += &format!("hint: {hint}\n");
    }
    report
}

/// First signal: stop the running docker commands and wind down. Second: leave at once.
fn on_interrupt() {
    if process::is_interrupted() {
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    }
    let _ = writeln!(std::io::stderr(), "interrupted: stopping running commands");
    process::interrupt();
}

/// A panic's message can quote any value the code held (a build argument, a password read for a
/// registry), so by default only where it happened is shown. `RUST_BACKTRACE` set: the standard
/// report, message and backtrace, for whoever debugs it.
fn install_panic_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "{}", panic_report(info.location()));
    }));
}

fn panic_report(location: Option<&std::panic::Location>) -> String {
    let place = location
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!(
        "error: dagster-image stopped on an internal error{place} (a bug: please report it; \
         RUST_BACKTRACE=1 shows its message, which may include argument values)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report is made from the location alone: the message never reaches it.
    #[test]
    fn an_error_report_shows_the_causes_then_the_hint() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::from(dagster_image::process::Error::Spawn {
            step: "building `dagster/a:py3.9-T`".into(),
            program: "docker".into(),
            source: missing,
        });
        assert_eq!(
            error_report(&error),
            "error: building `dagster/a:py3.9-T` failed: could not run `docker`\n  \
             Caused by: no such file\n"
        );
        let unbuilt = Error::from(dagster_image::catalog::Error::NotBuilt {
            image: "app".into(),
            version: "3.9".into(),
            path: "images/app/last_updated.yaml".into(),
        });
        assert!(
            error_report(&unbuilt).ends_with("\nhint: build `app` first\n"),
            "{}",
            error_report(&unbuilt)
        );
    }

    #[test]
    fn a_panic_report_names_the_place() {
        let report = panic_report(Some(std::panic::Location::caller()));
        assert!(
            report.starts_with("error: dagster-image stopped on an internal error at src/main.rs:"),
            "{report}"
        );
    }
}
