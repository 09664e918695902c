//! Registries that limit the requests they take answer `429 Too Many Requests`, often with a
//! `Retry-After` (seconds, or an HTTP date). The client waits as asked when the wait fits in the
//! request's deadline, and fails at once, saying when to retry, when it does not. oci-client
//! hides the headers of its answers, so the wait is read from a `HEAD` of the same address
//! (which Docker Hub does not count as a pull).

use std::time::Duration;

use oci_client::Reference;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use super::client::RegistryClient;
use super::failure::Problem;

/// How many times one request waits as a registry's `Retry-After` asks, at most.
pub(super) const MAX_ASKED_WAITS: usize = 5;

/// Whether `error` is a registry's 429 Too Many Requests.
pub(super) fn is_too_many(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ServerError { code, .. } => *code == 429,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests),
        OciDistributionError::RequestError(error) => {
            error.status() == Some(StatusCode::TOO_MANY_REQUESTS)
        }
        _ => false,
    }
}

/// The address the request that failed with `error` went to, when the error says.
fn url_of(error: &OciDistributionError) -> Option<String> {
    match error {
        OciDistributionError::ServerError { url, .. }
        | OciDistributionError::RegistryError { url, .. } => Some(url.clone()),
        OciDistributionError::RequestError(error) => error.url().map(ToString::to_string),
        _ => None,
    }
}

/// The wait a `Retry-After` value asks for at `now`: a number of seconds, or an HTTP date (a
/// date already past asks for none). None when it is neither.
pub(super) fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    let wait = now.duration_until(at);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The problem of a registry asking to be retried after `wait`, past a `deadline`.
pub(super) fn too_late(wait: Duration, deadline: Duration) -> Problem {
    let seconds = wait.as_secs();
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds as i64);
    Problem::RetryTooLate {
        seconds,
        at: at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        deadline: deadline.as_secs(),
    }
}

impl RegistryClient {
    /// The wait `image`'s registry asks for after it answered `error` (a 429): the
    /// `Retry-After` of a `HEAD` of the same address, with the same credentials. None when it
    /// says none, or no longer answers 429.
    pub(super) async fn asked_wait(
        &self,
        image: &Reference,
        error: &OciDistributionError,
    ) -> Option<Duration> {
        let url = url_of(error)?;
        let authorization = self.authorization(image).await.ok()?;
        let answer = authorization.apply(self.http.head(url)).send().await.ok()?;
        if answer.status() != StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        let value = answer.headers().get(RETRY_AFTER)?.to_str().ok()?;
        retry_after(value, jiff::Timestamp::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now: jiff::Timestamp = "2026-12-06T20:00:00Z".parse().unwrap();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 06 Dec 2026 20:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after("Sun, 06 Dec 2026 19:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date past"
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn a_wait_past_the_deadline_says_when_to_retry() {
        let problem = too_late(Duration::from_secs(3600), Duration::from_secs(30));
        let text = problem.to_string();
        assert!(
            text.starts_with("answered 429 Too Many Requests: retry after 20"),
            "{text}"
        );
        assert!(
            text.ends_with("UTC (3600 s from now), later than the 30 s of `--registry-timeout`"),
            "{text}"
        );
    }
}
