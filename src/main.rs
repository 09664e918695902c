//! Entry point: parse the command line, run the command, map its error to an exit code.

use std::process::ExitCode;

use clap::Parser;
use dagster_image::{cli::Cli, commands, error::EXIT_INTERRUPTED, process};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
