//! What kind of failure an error is, and the exit code each kind gives: 2 for bad input, 1 for
//! failed work, 130 when interrupted. Every layer's error says its kind through one `kind()`.

/// The kind of a failure, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request or the catalog cannot be used as given; nothing was done.
    BadInput,
    /// The work was tried and failed.
    Failed,
    /// The user stopped it (Ctrl-C, SIGTERM).
    Interrupted,
}

pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INTERRUPTED: u8 = 130;

impl Kind {
    pub const fn exit_code(self) -> u8 {
        match self {
            Kind::BadInput => EXIT_BAD_INPUT,
            Kind::Failed => EXIT_FAILED,
            Kind::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// An I/O failure: interrupted when a wait was ended by Ctrl-C, else failed work.
    pub fn of_io(error: &std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::Interrupted => Kind::Interrupted,
            _ => Kind::Failed,
        }
    }
}

/// The exit code of work that failed because a program it ran failed with `status`: the
/// program's own code (`build-and-push-dockerhub` exits with its build's, as the original tool
/// does), or failed work's 1 when a signal ended the program.
pub fn of_failed_program(status: std::process::ExitStatus) -> u8 {
    status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .filter(|&code| code != 0)
        .unwrap_or(EXIT_FAILED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn each_kind_has_its_documented_exit_code() {
        assert_eq!(Kind::BadInput.exit_code(), 2);
        assert_eq!(Kind::Failed.exit_code(), 1);
        assert_eq!(Kind::Interrupted.exit_code(), 130);
        let waited = std::io::Error::new(std::io::ErrorKind::Interrupted, "stopped");
        assert_eq!(Kind::of_io(&waited), Kind::Interrupted);
        assert_eq!(Kind::of_io(&std::io::Error::other("disk")), Kind::Failed);
    }

    #[test]
    fn a_failed_program_gives_its_own_exit_code_and_one_when_a_signal_ended_it() {
        // Raw wait statuses: the code in the second byte, or the signal in the first.
        assert_eq!(of_failed_program(ExitStatusExt::from_raw(3 << 8)), 3);
        assert_eq!(of_failed_program(ExitStatusExt::from_raw(255 << 8)), 255);
        assert_eq!(of_failed_program(ExitStatusExt::from_raw(9)), EXIT_FAILED);
        assert_eq!(of_failed_program(ExitStatusExt::from_raw(15)), EXIT_FAILED);
    }
}
