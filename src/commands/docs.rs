//! `completions` and `man-page`: the command line of `cli.rs` described for a shell's
//! completion and for `man`, generated from clap's definitions so they never drift from it.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::output::Output;

/// The name the scripts complete, as the binary is installed.
const BIN_NAME: &str = "dagster-image";

/// Prints the completion script of `shell`.
pub fn completions(out: &Output, shell: clap_complete::Shell) {
    // Generated into memory (clap_complete panics on a failed write), then written as data is.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut script);
    out.data(&String::from_utf8_lossy(&script));
}

/// Prints the man page, `dagster-image.1`, in roff. A closed pipe (`| head`) loses the rest of
/// it, as `Output::data` does.
pub fn man_page() {
    let _ = clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout().lock());
}
