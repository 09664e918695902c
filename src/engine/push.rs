//! `docker push`, run again when it fails the way a registry fails for a moment. Docker retries
//! layer uploads itself, but not its `/v2/` check nor the manifest upload, so one 503 or reset
//! connection fails the whole push; a push is idempotent (layers already there are skipped), so
//! the command is run again, with backoff, a bounded number of times within a bounded time.
//! Which failures are transient is read from docker's own wording on stderr. A spent rate limit
//! (`toomanyrequests`, 429) is not: it lasts for hours, so the push stops at once.

use std::time::{Duration, Instant};

use crate::process::{self, Command};

/// How often and for how long a push is tried.
#[derive(Debug, Clone, Copy)]
pub struct PushRetries {
    /// Attempts at most, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles before each next one.
    pub first_wait: Duration,
    /// No attempt starts later than this after the first one started.
    pub window: Duration,
}

/// Attempts of a push at most. Docker does not retry five or more of the requests of a push
/// (its `/v2/` check, blob checks, the manifest), so a registry that resets a fifth of its
/// connections failed three attempts in four in `bench/faults.sh`, and one push in ~90 used up
/// fifteen; an attempt that fails that way costs a few milliseconds, and the window bounds the
/// whole.
const ATTEMPTS: u32 = 30;
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(4);
/// Waits are slept in steps this long, so that Ctrl-C ends them at once.
const SLEEP_STEP: Duration = Duration::from_millis(50);

/// What docker says when the registry or the way to it fails for a moment: a 5xx answer, a
/// connection reset, refused or cut short, a timeout.
const TRANSIENT: [&str; 10] = [
    "received unexpected http status: 5",
    "500 internal server error",
    "502 bad gateway",
    "503 service unavailable",
    "504 gateway timeout",
    "connection reset by peer",
    "connection refused",
    "broken pipe",
    "timeout",
    ": eof",
];

/// What docker says when trying again cannot help: credentials, permissions, a missing image or
/// host.
const PERMANENT: [&str; 7] = [
    "unauthorized",
    "no basic auth credentials",
    "authentication required",
    "denied",
    "does not exist locally",
    "no such host",
    "name unknown",
];

/// What docker says when the registry's rate limit is spent (Docker Hub's pull limit, a 429).
const RATE_LIMITED: [&str; 3] = [
    "toomanyrequests",
    "429 too many requests",
    "you have reached your pull rate limit",
];

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Failed(#[from] process::Error),
    /// The registry refused it, its rate limit spent: `reason`, docker's last line.
    #[error("{step} failed: the registry's rate limit is spent ({reason})")]
    RateLimited { step: String, reason: String },
}

impl PushRetries {
    /// Thirty attempts, after 1, 2, then 4 s each, starting within `window` of the first.
    pub fn within(window: Duration) -> Self {
        Self {
            attempts: ATTEMPTS,
            first_wait: FIRST_WAIT,
            window,
        }
    }

    /// The wait before attempt `next` (2 for the second), None when there is to be none.
    fn wait_before(&self, next: u32, started: Instant) -> Option<Duration> {
        if next > self.attempts {
            return None;
        }
        let wait = (self.first_wait.saturating_mul(1 << (next - 2).min(16))).min(MAX_WAIT);
        (started.elapsed() + wait <= self.window).then_some(wait)
    }
}

/// Runs the push `command`, again after a transient failure, saying so in one line each time;
/// the last failure's error ends with docker's reason and how many attempts were made.
pub fn push_retrying(
    command: &Command,
    step: &str,
    retries: &PushRetries,
) -> Result<(), PushError> {
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let (result, stderr) = command.run_teeing_stderr(step);
        let Err(error) = result else {
            return Ok(());
        };
        let reason = last_line(&stderr);
        if matches!(error, process::Error::Failed { .. }) && is_rate_limited(&stderr) {
            let step = step.to_owned();
            return Err(PushError::RateLimited { step, reason });
        }
        let transient = matches!(error, process::Error::Failed { .. }) && is_transient(&stderr);
        match retries.wait_before(attempt + 1, started) {
            Some(wait) if transient => {
                say!(
                    "warning: {step} failed ({reason}): trying again in {} s, attempt {} of {}",
                    wait.as_secs_f32(),
                    attempt + 1,
                    retries.attempts
                );
                sleep_unless_interrupted(wait)?;
                attempt += 1;
            }
            _ => return Err(with_reason(error, &reason, attempt).into()),
        }
    }
}

/// Whether docker's `stderr` tells of a failure that may go away by itself.
pub fn is_transient(stderr: &str) -> bool {
    let text = stderr.to_ascii_lowercase();
    TRANSIENT.iter().any(|words| text.contains(words))
        && !PERMANENT.iter().any(|words| text.contains(words))
}

/// Whether docker's `stderr` says the registry's rate limit is spent.
fn is_rate_limited(stderr: &str) -> bool {
    let text = stderr.to_ascii_lowercase();
    RATE_LIMITED.iter().any(|words| text.contains(words))
}

/// The last line docker wrote on stderr, where it says why it failed.
fn last_line(stderr: &str) -> String {
    let line = stderr.lines().rev().find(|line| !line.trim().is_empty());
    line.unwrap_or("no reason given").trim().to_owned()
}

/// `error` of a failed push with docker's `reason` and the number of `attempts` made.
fn with_reason(error: process::Error, reason: &str, attempts: u32) -> process::Error {
    match error {
        process::Error::Failed {
            step,
            command,
            status,
            ..
        } => process::Error::Failed {
            step,
            command,
            status,
            detail: match attempts {
                1 => format!(": {reason}"),
                n => format!(": {reason} ({n} attempts)"),
            },
        },
        other => other,
    }
}

fn sleep_unless_interrupted(wait: Duration) -> process::Result<()> {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if process::is_interrupted() {
            return Err(process::Error::Interrupted);
        }
        std::thread::sleep(SLEEP_STEP.min(until - Instant::now()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hiccups_as_docker_words_them_are_transient() {
        for stderr in [
            "received unexpected HTTP status: 503 Service Unavailable",
            "received unexpected HTTP status: 500 Internal Server Error",
            "Head \"http://127.0.0.1:41021/v2/a/blobs/sha256:5b\": read tcp 127.0.0.1:47150->\
             127.0.0.1:41021: read: connection reset by peer",
            "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
            "Put \"http://r.example/v2/a/manifests/t\": EOF",
            "net/http: request canceled (Client.Timeout exceeded while awaiting headers)",
        ] {
            assert!(is_transient(stderr), "{stderr}");
        }
    }

    #[test]
    fn a_spent_rate_limit_is_no_hiccup() {
        for stderr in [
            "toomanyrequests: You have reached your pull rate limit.",
            "received unexpected HTTP status: 429 Too Many Requests",
        ] {
            assert!(is_rate_limited(stderr), "{stderr}");
            assert!(!is_transient(stderr), "{stderr}");
        }
        assert!(!is_rate_limited("503 Service Unavailable"));
    }

    #[test]
    fn refusals_and_missing_things_are_not_transient() {
        for stderr in [
            "no basic auth credentials",
            "unauthorized: authentication required",
            "denied: requested access to the resource is denied",
            "An image does not exist locally with the tag: r.example/a",
            "Get \"https://x.invalid/v2/\": dial tcp: lookup x.invalid: no such host",
            "",
        ] {
            assert!(!is_transient(stderr), "{stderr}");
        }
    }

    #[test]
    fn waits_double_and_stop_at_the_attempt_count_or_the_window() {
        let retries = PushRetries::within(Duration::from_secs(60));
        let now = Instant::now();
        let waits: Vec<Option<Duration>> = (2..=5).map(|n| retries.wait_before(n, now)).collect();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(waits, [secs(1), secs(2), secs(4), secs(4)]);
        assert_eq!(retries.wait_before(30, now), secs(4));
        assert_eq!(retries.wait_before(31, now), None, "past the attempts");
        let short = PushRetries::within(Duration::from_millis(1500));
        assert_eq!(short.wait_before(2, now), secs(1));
        assert_eq!(short.wait_before(3, now), None, "past the window");
    }

    #[test]
    fn a_push_failing_transiently_is_run_again_until_it_passes() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("failed-once");
        let script = format!(
            "if [ -e '{0}' ]; then exit 0; fi; touch '{0}'; \
             echo 'received unexpected HTTP status: 503 Service Unavailable' >&2; exit 1",
            marker.display()
        );
        let retries = PushRetries {
            attempts: 2,
            first_wait: Duration::from_millis(10),
            window: Duration::from_secs(5),
        };
        push_retrying(&Command::new("sh", ["-c", &script]), "pushing", &retries).unwrap();
        let refused = Command::new("sh", ["-c", "echo 'no basic auth credentials' >&2; exit 1"]);
        let error = push_retrying(&refused, "pushing", &retries).unwrap_err();
        assert!(
            error.to_string().ends_with(": no basic auth credentials"),
            "{error}"
        );
    }
}
