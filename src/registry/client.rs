//! The registry client: the OCI distribution API (oci-client) behind synchronous calls. Each call
//! runs on a small current-thread tokio runtime of the client's own, so the rest of the program
//! stays synchronous; transient failures are retried with backoff a bounded number of times,
//! each request with its retries has a deadline (a blob transfer: for each stalled read), and
//! Ctrl-C stops a call within a moment. A 429 waits as the registry's `Retry-After` asks
//! ([`rate_limit`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;

use super::credentials::{self, Access, Logins};
use super::failure::{self, Problem, RemoteError};
use super::manifest::{ACCEPTED_MEDIA_TYPES, Manifest};
use super::rate_limit;
use super::transport;
use crate::process;

/// The waits before the second, third and fourth attempts of a request that the registry
/// answered busy or failing (429, 5xx): a state of the registry's, which often lasts.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(900),
];
/// The waits before the attempts of a request of a push that the registry answered failing
/// (5xx, not 429), up to thirteen: a push is hundreds of requests that must all succeed, so a
/// registry failing one request in three fails one of them four times in a row in most pushes.
const PUSH_RETRY_DELAYS: [Duration; 12] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
];
/// The waits before the attempts after a broken connection, up to eight: a flaky network breaks
/// one connection in several (at 20% of connections reset, a check of three connections failed
/// four times in a row in one of ~20 pushes), and a new connection usually gets through.
const BROKEN_RETRY_DELAYS: [Duration; 7] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(900),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
    Duration::from_secs(1),
];
/// How often a running call looks whether the user interrupted.
const INTERRUPT_POLL: Duration = Duration::from_millis(50);

/// Talks to the registries it was connected to, with their credentials.
pub struct RegistryClient {
    runtime: tokio::runtime::Runtime,
    pub(super) oci: oci_client::Client,
    /// Where blobs are, to mount them from ([`super::upload`]).
    pub(super) blob_homes: super::upload::BlobHomes,
    /// For the requests oci-client does not make, configured as `oci`.
    pub(super) http: reqwest::Client,
    access: BTreeMap<String, Access>,
    /// How long a request may take, its retries included.
    deadline: Duration,
    /// The waits between attempts of a request the registry answered failing (5xx).
    failing_delays: &'static [Duration],
}

/// A failed request and the image (and so the registry) it failed at.
pub(super) struct Blamed {
    error: OciDistributionError,
    image: Reference,
    registry: String,
}

impl Blamed {
    pub fn on(image: &Reference, error: OciDistributionError) -> Self {
        Self {
            error,
            image: image.clone(),
            registry: image.registry().to_owned(),
        }
    }
}

impl RegistryClient {
    /// A client for the registries `hosts` (`HOST[:PORT]`), authenticating with `logins`, and
    /// anonymously to the hosts it has none for; a request that has not succeeded within
    /// `deadline`, retries included, fails.
    pub fn connect(
        hosts: &[String],
        logins: &Logins,
        deadline: Duration,
    ) -> Result<Self, RemoteError> {
        let setup = |why: String| RemoteError::Setup { why };
        // reqwest is built without a crypto provider of its own (aws-lc is slow to build).
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let config = transport::client_config(hosts, deadline)?;
        let http = transport::http_client(&config)?;
        let oci = oci_client::Client::try_from(config).map_err(|e| setup(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(e.to_string()))?;
        let mut access = BTreeMap::new();
        for host in hosts {
            access.insert(host.clone(), credentials::access_for(host, logins));
        }
        Ok(Self {
            runtime,
            oci,
            blob_homes: super::upload::BlobHomes::default(),
            http,
            access,
            deadline,
            failing_delays: &RETRY_DELAYS,
        })
    }

    /// This client, trying a request the registry answers failing (5xx) up to thirteen
    /// times, as the requests of a push must all succeed.
    pub fn for_pushes(mut self) -> Self {
        self.failing_delays = &PUSH_RETRY_DELAYS;
        self
    }

    /// The digest of the manifest `reference` names (a HEAD request), None when there is none.
    pub fn manifest_digest(&self, reference: &str) -> Result<Option<String>, RemoteError> {
        let image = parse(reference)?;
        let auth = self.auth(&image);
        let action = || format!("checking `{reference}`");
        self.block_on(self.lookup(&action, &image, async || {
            self.oci.fetch_manifest_digest(&image, &auth).await
        }))
    }

    /// The config digest of the image manifest `reference` names (docker's image ID for it),
    /// None when there is no such manifest or it is an index.
    pub fn config_digest(&self, reference: &str) -> Result<Option<String>, RemoteError> {
        let image = parse(reference)?;
        let action = || format!("reading `{reference}`");
        let manifest = self.block_on(self.fetch_manifest(&action, &image))?;
        Ok(manifest.and_then(|m| m.config_digest().map(str::to_owned)))
    }

    /// Runs `work` on the client's runtime until it is done or the user interrupts.
    pub(super) fn block_on<T>(
        &self,
        work: impl Future<Output = Result<T, RemoteError>>,
    ) -> Result<T, RemoteError> {
        self.runtime.block_on(async {
            tokio::select! {
                result = work => result,
                () = interrupted() => Err(RemoteError::Interrupted),
            }
        })
    }

    /// The manifest `image` names, as served; None when there is none.
    pub(super) async fn fetch_manifest(
        &self,
        action: &dyn Fn() -> String,
        image: &Reference,
    ) -> Result<Option<Manifest>, RemoteError> {
        let auth = self.auth(image);
        let raw = self
            .lookup(action, image, async || {
                let manifest = self
                    .oci
                    .pull_manifest_raw(image, &auth, &ACCEPTED_MEDIA_TYPES);
                manifest.await
            })
            .await?;
        let Some((bytes, digest)) = raw else {
            return Ok(None);
        };
        let manifest = Manifest::parse(bytes.to_vec(), digest).map_err(|e| {
            let error = OciDistributionError::ManifestParsingError(e.to_string());
            self.failure(action, Blamed::on(image, error), 1)
        })?;
        Ok(Some(manifest))
    }

    /// `work` against `image`'s registry, retried while it fails transiently, within the
    /// deadline; a failure as one line naming the registry.
    pub(super) async fn request<T>(
        &self,
        action: &dyn Fn() -> String,
        image: &Reference,
        work: impl AsyncFn() -> Result<T, OciDistributionError>,
    ) -> Result<T, RemoteError> {
        let retried = self.request_blaming(action, async || {
            work().await.map_err(|e| Blamed::on(image, e))
        });
        match tokio::time::timeout(self.deadline, retried).await {
            Ok(result) => result,
            Err(_elapsed) => Err(RemoteError::Request {
                action: action(),
                registry: image.registry().to_owned(),
                problem: Problem::Stalled {
                    seconds: self.deadline.as_secs(),
                },
            }),
        }
    }

    /// Like `request`, for work that talks to more than one registry and says which one failed.
    pub(super) async fn request_blaming<T>(
        &self,
        action: &dyn Fn() -> String,
        work: impl AsyncFn() -> Result<T, Blamed>,
    ) -> Result<T, RemoteError> {
        let started = Instant::now();
        let mut attempts = 0;
        let mut asked_waits = 0;
        loop {
            attempts += 1;
            let blamed = match work().await {
                Ok(value) => return Ok(value),
                Err(blamed) => blamed,
            };
            let asked = match rate_limit::is_too_many(&blamed.error) {
                true => self.asked_wait(&blamed.image, &blamed.error).await,
                false => None,
            };
            let delay = match asked {
                Some(wait) if started.elapsed() + wait > self.deadline => {
                    return Err(self.too_late(action, blamed, wait));
                }
                Some(wait) if asked_waits < rate_limit::MAX_ASKED_WAITS => {
                    asked_waits += 1;
                    Some(wait)
                }
                _ => retry_delay(&blamed.error, attempts, self.failing_delays),
            };
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(self.failure(action, blamed, attempts)),
            }
        }
    }

    /// The failure of a request whose registry asks to be retried after `wait`, past the
    /// deadline.
    fn too_late(&self, action: &dyn Fn() -> String, blamed: Blamed, wait: Duration) -> RemoteError {
        RemoteError::Request {
            action: action(),
            registry: blamed.registry,
            problem: rate_limit::too_late(wait, self.deadline),
        }
    }

    /// Like `request`, with "no such manifest, blob or repository" as None.
    pub(super) async fn lookup<T>(
        &self,
        action: &dyn Fn() -> String,
        image: &Reference,
        work: impl AsyncFn() -> Result<T, OciDistributionError>,
    ) -> Result<Option<T>, RemoteError> {
        self.request(action, image, async || match work().await {
            Ok(value) => Ok(Some(value)),
            Err(error) if failure::is_not_found(&error) => Ok(None),
            Err(error) => Err(error),
        })
        .await
    }

    /// How to authenticate to `image`'s registry.
    pub(super) fn auth(&self, image: &Reference) -> RegistryAuth {
        self.access
            .get(image.registry())
            .map_or(RegistryAuth::Anonymous, |access| access.auth.clone())
    }

    /// Makes the credentials of `image`'s registry known to the oci-client calls that do not
    /// take them. Anonymous access is left out: oci-client would ask `/v2/` before each call.
    pub(super) async fn authorize(&self, image: &Reference) {
        let auth = self.auth(image);
        if auth != RegistryAuth::Anonymous {
            self.oci
                .store_auth_if_needed(image.resolve_registry(), &auth)
                .await;
        }
    }

    pub(super) fn failure(
        &self,
        action: &dyn Fn() -> String,
        blamed: Blamed,
        attempts: usize,
    ) -> RemoteError {
        let user = self
            .access
            .get(&blamed.registry)
            .and_then(|access| access.user.as_deref());
        let problem = failure::problem(&blamed.error, &blamed.registry, user, attempts);
        RemoteError::Request {
            action: action(),
            registry: blamed.registry,
            problem,
        }
    }
}

/// The wait before trying again after `attempts` attempts ending in `error`, a 5xx answer
/// waited for by `failing_delays`; None: give up.
fn retry_delay(
    error: &OciDistributionError,
    attempts: usize,
    failing_delays: &[Duration],
) -> Option<Duration> {
    let delays: &[Duration] = match failure::transient(error)? {
        failure::Transient::Answered if rate_limit::is_too_many(error) => &RETRY_DELAYS,
        failure::Transient::Answered => failing_delays,
        failure::Transient::Broken => &BROKEN_RETRY_DELAYS,
    };
    delays.get(attempts - 1).copied()
}

/// `reference` (`[HOST[:PORT]/]PATH[:TAG]`, checked by the caller) as oci-client takes it.
/// Parsed here: oci-client's parser compiles a large regular expression, ~70 ms per run.
pub(super) fn parse(reference: &str) -> Result<Reference, RemoteError> {
    // `REPOSITORY@DIGEST`: an image put without a tag (a release's platform images).
    if let Some((repository, digest)) = reference.split_once('@') {
        let tagged = parse(&format!("{repository}:by-digest"))?;
        return Ok(tagged.clone_with_digest(digest.to_owned()));
    }
    let (repository, tag) = super::split_tag(reference);
    let (host, path) = super::split_repository(repository);
    if path.is_empty() || tag == Some("") {
        return Err(RemoteError::Reference {
            reference: reference.to_owned(),
            why: "it needs a repository and a non-empty tag".into(),
        });
    }
    let path = if host == super::DOCKER_HUB_HOST && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    let tag = tag.unwrap_or("latest").to_owned();
    Ok(Reference::with_tag(host.to_owned(), path, tag))
}

/// Resolves once the user has interrupted (Ctrl-C or SIGTERM).
async fn interrupted() {
    while !process::is_interrupted() {
        tokio::time::sleep(INTERRUPT_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: u16) -> OciDistributionError {
        OciDistributionError::ServerError {
            code,
            url: "http://127.0.0.1:5000/v2/".to_owned(),
            message: String::new(),
        }
    }

    /// The waits of every attempt after the first, until `retry_delay` gives up.
    fn waits(error: &OciDistributionError) -> Vec<Duration> {
        (1..)
            .map_while(|attempts| retry_delay(error, attempts, &RETRY_DELAYS))
            .collect()
    }

    #[test]
    fn a_failing_registry_is_tried_four_times_a_broken_connection_eight() {
        let ms = Duration::from_millis;
        assert_eq!(waits(&server_error(503)), [ms(100), ms(300), ms(900)]);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let broken = waits(&OciDistributionError::IoError(reset));
        assert_eq!(broken.len(), 7);
        assert_eq!(broken[..3], [ms(100), ms(300), ms(900)]);
        assert_eq!(broken.iter().sum::<Duration>(), ms(5300));
    }

    #[test]
    fn a_push_tries_a_failing_registry_thirteen_times_a_spent_rate_limit_four() {
        let push_waits = |error| {
            (1..)
                .map_while(|attempts| retry_delay(&error, attempts, &PUSH_RETRY_DELAYS))
                .count()
        };
        assert_eq!(push_waits(server_error(503)), 12);
        assert_eq!(push_waits(server_error(429)), 3);
    }

    #[test]
    fn a_refusal_is_not_tried_again() {
        assert_eq!(waits(&server_error(401)), []);
        assert_eq!(waits(&server_error(404)), []);
    }
}
