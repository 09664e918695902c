//! What went wrong talking to a registry, as one line naming it, and which failures are worth a
//! retry (5xx, 429, connections broken mid-request) and which are not (refused, unknown host,
//! TLS, credentials).

use std::fmt;

use oci_client::errors::{OciDistributionError, OciErrorCode};

use super::transport::DOCKER_CERTS_DIR;

/// Longest registry message quoted in an error.
const MAX_DETAIL: usize = 160;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("`{reference}` is not an image reference: {why}")]
    Reference { reference: String, why: String },
    #[error("cannot read docker's credentials for registry `{registry}`: {why}")]
    Credentials { registry: String, why: String },
    #[error("cannot read the CA certificates of registry `{registry}` in `{path}`: {source}")]
    Certificates {
        registry: String,
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start the registry client: {why}")]
    Setup { why: String },
    #[error("{action} failed: registry `{registry}` {problem}")]
    Request {
        action: String,
        registry: String,
        problem: Problem,
    },
    /// The AWS CLI failed: it gave no password for an AWS registry, or a request of its own
    /// (`batch-delete-image`) failed.
    #[error(transparent)]
    AwsPassword(#[from] crate::process::Error),
    #[error("interrupted")]
    Interrupted,
}

impl RemoteError {
    /// Why the registry could not be asked, for a message that already names it: "it" and the
    /// problem for a failed request, the whole error otherwise.
    pub fn reason(&self) -> String {
        match self {
            RemoteError::Request { problem, .. } => format!("it {problem}"),
            other => other.to_string(),
        }
    }

    /// The registry that refused the credentials it was given (401 or 403), when that is what
    /// happened: an ECR token docker stored has expired, for one.
    pub fn refusing_registry(&self) -> Option<&str> {
        match self {
            RemoteError::Request {
                registry,
                problem: Problem::WrongCredentials { .. } | Problem::Forbidden,
                ..
            } => Some(registry),
            _ => None,
        }
    }

    /// Interrupted, bad input for a reference that cannot be asked about, else failed work.
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            _ if self.is_interrupted() => crate::exit::Kind::Interrupted,
            RemoteError::Reference { .. } => crate::exit::Kind::BadInput,
            _ => crate::exit::Kind::Failed,
        }
    }

    /// What to do about a spent rate limit: log in, or pull through a mirror.
    pub fn hint(&self) -> Option<String> {
        match self {
            RemoteError::Request {
                registry,
                problem: Problem::RateLimited { .. } | Problem::RetryTooLate { .. },
                ..
            } => Some(rate_limit_hint(registry)),
            _ => None,
        }
    }

    /// The registry a failed request was made to.
    pub fn registry(&self) -> Option<&str> {
        match self {
            RemoteError::Request { registry, .. } => Some(registry),
            _ => None,
        }
    }

    /// Whether the user stopped the work (Ctrl-C), here or in the AWS CLI.
    /// Whether the registry refused for a spent rate limit, which lasts: nothing more is to be
    /// asked of it.
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self,
            RemoteError::Request {
                problem: Problem::RateLimited { .. } | Problem::RetryTooLate { .. },
                ..
            }
        )
    }

    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            RemoteError::Interrupted | RemoteError::AwsPassword(crate::process::Error::Interrupted)
        )
    }
}

/// Why a request to a registry failed, worded to follow "registry `HOST` ".
#[derive(Debug)]
pub enum Problem {
    UnknownHost,
    Unreachable(String),
    Tls {
        why: String,
        registry: String,
    },
    WrongCredentials {
        user: String,
    },
    NoCredentials,
    Forbidden,
    Status {
        code: u16,
        attempts: usize,
    },
    Broken {
        why: String,
        attempts: usize,
    },
    Answered(String),
    EndlessTags {
        pages: usize,
    },
    TagLinkLoop {
        url: String,
    },
    ForeignTagLink {
        url: String,
    },
    Stalled {
        seconds: u64,
    },
    NoRepository {
        repository: String,
    },
    /// 429 Too Many Requests, still after `attempts` tries: a spent rate limit.
    RateLimited {
        attempts: usize,
    },
    /// A `DELETE` answered 405 or `UNSUPPORTED`: the registry does not delete.
    NoDeletes {
        answer: String,
    },
    /// 429 Too Many Requests with a `Retry-After` past the deadline: `at` (`seconds` from now).
    RetryTooLate {
        seconds: u64,
        at: String,
        deadline: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownHost => f.write_str("is unknown: no such host"),
            Problem::Unreachable(why) => write!(f, "is unreachable ({why})"),
            Problem::Tls { why, registry } => write!(
                f,
                "is not trusted over TLS ({why}); docker's CA for it goes in \
                 `{DOCKER_CERTS_DIR}/{registry}/ca.crt`"
            ),
            Problem::WrongCredentials { user } => {
                write!(
                    f,
                    "refused the credentials of user `{user}` (wrong password?)"
                )
            }
            Problem::NoCredentials => f.write_str("asks for credentials: log docker in to it"),
            Problem::Forbidden => f.write_str("denied access"),
            Problem::Status { code, attempts } => {
                write!(f, "answered HTTP {code}{}", times(*attempts))
            }
            Problem::Broken { why, attempts } => {
                write!(f, "broke the connection ({why}){}", times(*attempts))
            }
            Problem::Answered(message) => write!(f, "answered: {message}"),
            Problem::EndlessTags { pages } => {
                write!(f, "still linked a next page of tags after {pages} pages")
            }
            Problem::TagLinkLoop { url } => {
                write!(f, "linked a page of tags it had sent already (`{url}`)")
            }
            Problem::ForeignTagLink { url } => {
                write!(f, "linked the next page of tags to another host (`{url}`)")
            }
            Problem::Stalled { seconds } => write!(
                f,
                "did not answer within {seconds} s (`--registry-timeout` or \
                 `DAGSTER_IMAGE_REGISTRY_TIMEOUT` sets how long to wait)"
            ),
            Problem::NoRepository { repository } => {
                write!(f, "has no repository `{repository}`")
            }
            Problem::RateLimited { attempts } => write!(
                f,
                "answered 429 Too Many Requests{}: its rate limit is spent",
                times(*attempts)
            ),
            Problem::NoDeletes { answer } => write!(
                f,
                "does not delete manifests ({answer}): deletes are off in its configuration \
                 (a `docker-registry` deletes with `REGISTRY_STORAGE_DELETE_ENABLED=true`)"
            ),
            Problem::RetryTooLate {
                seconds,
                at,
                deadline,
            } => write!(
                f,
                "answered 429 Too Many Requests: retry after {at} ({seconds} s from now), later \
                 than the {deadline} s of `--registry-timeout`"
            ),
        }
    }
}

/// What to do when `registry` limits the requests it takes: a login gets a higher limit (Docker
/// Hub's), a mirror spends none of it.
pub fn rate_limit_hint(registry: &str) -> String {
    format!(
        "log in to `{registry}` for a higher limit (`docker login {registry}`), or pull through a \
         mirror of it (`registry-mirrors` of docker's daemon.json), or try again later"
    )
}

fn times(attempts: usize) -> String {
    match attempts {
        0 | 1 => String::new(),
        n => format!(", {n} times"),
    }
}

/// How a failure that may not happen again failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transient {
    /// The registry answered busy or failing (429, 5xx): its state, which may last.
    Answered,
    /// The connection broke or timed out: most often cured by the next connection.
    Broken,
}

/// Whether `error` may go away by itself, and how it failed: a 5xx or 429 answer, a timeout, or a
/// connection that broke after it was made. None for a refused connection, an unknown host or a
/// refusal, which are not retried.
pub(super) fn transient(error: &OciDistributionError) -> Option<Transient> {
    let answered = |code| is_transient_status(code).then_some(Transient::Answered);
    match error {
        OciDistributionError::ServerError { code, .. } => answered(*code),
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests)
            .then_some(Transient::Answered),
        OciDistributionError::RequestError(error) => match error.status() {
            Some(status) => answered(status.as_u16()),
            None => (error.is_timeout()
                || error.is_body()
                || (error.is_request() && !error.is_connect()))
            .then_some(Transient::Broken),
        },
        OciDistributionError::IoError(error) => matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        )
        .then_some(Transient::Broken),
        _ => None,
    }
}

/// Busy (429) or failing (5xx) registries may answer the next time.
fn is_transient_status(code: u16) -> bool {
    code >= 500 || code == 429
}

/// Whether `error` says there is no such manifest, blob or repository.
pub(super) fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NotFound
            )
        }),
        _ => false,
    }
}

/// The problem `error` shows, after `attempts` tries, for a client that authenticated as
/// `user` (None: anonymously).
pub(super) fn problem(
    error: &OciDistributionError,
    registry: &str,
    user: Option<&str>,
    attempts: usize,
) -> Problem {
    match error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => unauthorized(user),
        OciDistributionError::ServerError { code, message, .. } => {
            status_problem(*code, message, user, attempts)
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope_problem(envelope, user, attempts)
        }
        OciDistributionError::RequestError(error) => match error.status() {
            Some(status) => status_problem(status.as_u16(), "", user, attempts),
            None => request_problem(error, registry, attempts),
        },
        other => Problem::Answered(one_line(&other.to_string())),
    }
}

/// An HTTP answer that is an error, with the body `message`.
fn status_problem(code: u16, message: &str, user: Option<&str>, attempts: usize) -> Problem {
    match code {
        401 => unauthorized(user),
        403 => Problem::Forbidden,
        429 => Problem::RateLimited { attempts },
        code if is_transient_status(code) => Problem::Status { code, attempts },
        code => Problem::Answered(one_line(&format!("HTTP {code} {message}"))),
    }
}

/// A 401: the credentials were wrong, or there were none.
fn unauthorized(user: Option<&str>) -> Problem {
    match user {
        Some(user) => Problem::WrongCredentials {
            user: user.to_owned(),
        },
        None => Problem::NoCredentials,
    }
}

fn envelope_problem(
    envelope: &oci_client::errors::OciEnvelope,
    user: Option<&str>,
    attempts: usize,
) -> Problem {
    let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
    if codes.contains(&&OciErrorCode::Toomanyrequests) {
        return Problem::RateLimited { attempts };
    }
    if codes.contains(&&OciErrorCode::Unauthorized) {
        return unauthorized(user);
    }
    if codes.contains(&&OciErrorCode::Denied) {
        return Problem::Forbidden;
    }
    let messages: Vec<String> = envelope
        .errors
        .iter()
        .map(|e| format!("{:?}: {}", e.code, e.message))
        .collect();
    Problem::Answered(one_line(&messages.join("; ")))
}

/// A failure below HTTP: no such host, no connection, TLS, or a connection broken mid-way.
fn request_problem(error: &reqwest::Error, registry: &str, attempts: usize) -> Problem {
    let causes = causes(error);
    let innermost = causes.last().map_or_else(String::new, ToString::to_string);
    if let Some(tls) = causes
        .iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>())
    {
        return Problem::Tls {
            why: one_line(&tls.to_string()),
            registry: registry.to_owned(),
        };
    }
    if error.is_connect() {
        let refused = causes.iter().any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        });
        if refused {
            return Problem::Unreachable("connection refused".into());
        }
        if causes
            .iter()
            .any(|e| e.to_string().starts_with("dns error"))
        {
            return Problem::UnknownHost;
        }
        return Problem::Unreachable(one_line(&innermost));
    }
    if error.is_timeout() {
        return Problem::Unreachable("timed out".into());
    }
    Problem::Broken {
        why: one_line(&innermost),
        attempts,
    }
}

/// `error` and its causes, looking inside I/O errors (whose `source` skips the wrapped error).
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut all = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        all.push(current);
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref);
        next = match wrapped {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    all
}

/// `text` on one line, cut to a readable length.
fn one_line(text: &str) -> String {
    let line = joined_lines(text);
    match line.char_indices().nth(MAX_DETAIL) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// `text` on one line: its line breaks and runs of spaces as single spaces.
pub fn joined_lines(text: &str) -> String {
    text.split_whitespace().collect::<Vec<&str>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: u16, message: &str) -> OciDistributionError {
        OciDistributionError::ServerError {
            code,
            url: "https://r.example/v2/x/manifests/t".into(),
            message: message.into(),
        }
    }

    fn envelope(json: &str) -> OciDistributionError {
        OciDistributionError::RegistryError {
            envelope: serde_json::from_str(json).unwrap(),
            url: "https://r.example/v2/".into(),
        }
    }

    #[test]
    fn busy_and_failing_registries_are_retried_refusals_are_not() {
        for code in [500, 502, 503, 504, 429] {
            assert!(transient(&server_error(code, "")).is_some(), "{code}");
        }
        for code in [400, 401, 403, 404] {
            assert!(transient(&server_error(code, "")).is_none(), "{code}");
        }
        let throttled = envelope(r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow"}]}"#);
        assert_eq!(transient(&throttled), Some(Transient::Answered));
        assert_eq!(transient(&server_error(503, "")), Some(Transient::Answered));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(
            transient(&OciDistributionError::IoError(reset)),
            Some(Transient::Broken)
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(transient(&OciDistributionError::IoError(refused)), None);
    }

    #[test]
    fn missing_manifests_blobs_and_repositories_are_not_found() {
        assert!(is_not_found(&server_error(404, "")));
        let unknown = envelope(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}"#);
        assert!(is_not_found(&unknown));
        let name = envelope(r#"{"errors":[{"code":"NAME_UNKNOWN","message":"x"}]}"#);
        assert!(is_not_found(&name));
        assert!(!is_not_found(&server_error(500, "")));
    }

    #[test]
    fn a_401_blames_the_credentials_given_or_their_absence() {
        let refused = problem(&server_error(401, ""), "r.example", Some("AWS"), 1);
        assert_eq!(
            refused.to_string(),
            "refused the credentials of user `AWS` (wrong password?)"
        );
        let anonymous = envelope(r#"{"errors":[{"code":"UNAUTHORIZED","message":"x"}]}"#);
        assert_eq!(
            problem(&anonymous, "r.example", None, 1).to_string(),
            "asks for credentials: log docker in to it"
        );
    }

    #[test]
    fn refused_and_denied_credentials_name_the_registry_other_failures_do_not() {
        let failed = |problem| RemoteError::Request {
            action: "checking `r.example/a:t`".into(),
            registry: "r.example".into(),
            problem,
        };
        let wrong = Problem::WrongCredentials { user: "AWS".into() };
        assert_eq!(failed(wrong).refusing_registry(), Some("r.example"));
        assert_eq!(
            failed(Problem::Forbidden).refusing_registry(),
            Some("r.example")
        );
        assert_eq!(failed(Problem::NoCredentials).refusing_registry(), None);
        assert_eq!(failed(Problem::UnknownHost).refusing_registry(), None);
        let interrupted = RemoteError::AwsPassword(crate::process::Error::Interrupted);
        assert!(interrupted.is_interrupted() && interrupted.refusing_registry().is_none());
    }

    #[test]
    fn failures_read_as_one_line_saying_how_often_they_were_tried() {
        let unavailable = problem(&server_error(503, "busy\nbusy"), "r.example", None, 4);
        assert_eq!(unavailable.to_string(), "answered HTTP 503, 4 times");
        let bad = problem(&server_error(400, "bad\n  request\n"), "r.example", None, 1);
        assert_eq!(bad.to_string(), "answered: HTTP 400 bad request");
        let error = RemoteError::Request {
            action: "checking `r.example/a:t`".into(),
            registry: "r.example".into(),
            problem: Problem::UnknownHost,
        };
        assert_eq!(
            error.to_string(),
            "checking `r.example/a:t` failed: registry `r.example` is unknown: no such host"
        );
        assert_eq!(one_line(&"x ".repeat(200)).chars().count(), MAX_DETAIL + 3);
    }

    #[test]
    fn a_reason_follows_a_message_naming_the_registry() {
        let refused = RemoteError::Request {
            action: "checking `r.example/a:t`".into(),
            registry: "r.example".into(),
            problem: Problem::Unreachable("connection refused".into()),
        };
        assert_eq!(refused.reason(), "it is unreachable (connection refused)");
        let setup = RemoteError::Setup {
            why: "no runtime".into(),
        };
        assert_eq!(
            setup.reason(),
            "cannot start the registry client: no runtime"
        );
    }
}
