//! Entry point: parse the command line, run the command, map its error to an exit code.

use std::process::ExitCode;

use clap::Parser;
use dagster_image::{cli::Cli, commands, error::EXIT_INTERRUPTED, lock, process, report};

fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    lock::on_wait(report::line);
    if let Err(error) = ctrlc::set_handler(on_interrupt) {
        eprintln!("warning: cannot handle Ctrl-C: {error}");
    }
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// First signal: stop the running docker commands and wind down. Second: leave at once.
fn on_interrupt() {
    if process::is_interrupted() {
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    }
    eprintln!("interrupted: stopping running commands");
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
        eprintln!("{}", panic_report(info.location()));
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
    fn a_panic_report_names_the_place() {
        let report = panic_report(Some(std::panic::Location::caller()));
        assert!(
            report.starts_with("error: dagster-image stopped on an internal error at src/main.rs:"),
            "{report}"
        );
    }
}
