//! Who the registry client is to each registry: a login decided for the run (docker's stored
//! credentials, from `config.json` `auths`, `credHelpers` or `credsStore`; else podman's, from
//! its auth file; or an ECR password), held in memory, with where it came from; none means
//! anonymous.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::containers_auth;
use super::failure::RemoteError;

/// Where docker keeps the credentials of Docker Hub, whatever name the image uses for it.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// A secret that prints as `***`, so that no `{:?}` can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(secret: &str) -> Self {
        Self(secret.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a login came from, as the debug output names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An `auths` entry of docker's `config.json` (written by `docker login`).
    DockerAuths,
    /// A `credHelpers` entry: `docker-credential-<helper>` for this registry.
    DockerHelper(String),
    /// The `credsStore`: `docker-credential-<store>` for every registry.
    DockerStore(String),
    /// An `auths` entry of a containers auth file (written by `podman login`).
    ContainersAuth(PathBuf),
    /// The AWS CLI command that printed the password.
    Aws(String),
}

impl Source {
    /// Whether the engine's own login stored these credentials (so it needs no login).
    pub fn is_stored(&self) -> bool {
        !matches!(self, Source::Aws(_))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::DockerAuths => f.write_str("docker's config.json auths"),
            Source::DockerHelper(helper) => write!(f, "docker's credHelpers (`{helper}`)"),
            Source::DockerStore(store) => write!(f, "docker's credsStore (`{store}`)"),
            Source::ContainersAuth(file) => write!(f, "podman's auth file `{}`", file.display()),
            Source::Aws(command) => write!(f, "`{command}`"),
        }
    }
}

/// A user and password for one registry, and where they came from.
#[derive(Debug, Clone)]
pub struct Login {
    pub user: String,
    pub password: Password,
    pub source: Source,
}

/// The logins of a run, by registry host; a host without one is spoken to anonymously.
#[derive(Debug, Default)]
pub struct Logins {
    by_host: BTreeMap<String, Login>,
}

impl Logins {
    pub fn add(&mut self, host: &str, login: Login) {
        self.by_host.insert(host.to_owned(), login);
    }

    /// The login of `host`, when there is one.
    pub fn get(&self, host: &str) -> Option<&Login> {
        self.by_host.get(host)
    }
}

/// How to authenticate to one registry, and as whom (for error messages; never the secret).
#[derive(Debug, Clone)]
pub(super) struct Access {
    pub auth: RegistryAuth,
    pub user: Option<String>,
}

/// The access to `host`: its login of this run, else anonymous.
pub(super) fn access_for(host: &str, logins: &Logins) -> Access {
    match logins.get(host) {
        Some(login) => Access {
            auth: RegistryAuth::Basic(login.user.clone(), login.password.expose().to_owned()),
            user: Some(login.user.clone()),
        },
        None => Access {
            auth: RegistryAuth::Anonymous,
            user: None,
        },
    }
}

/// The credentials an engine's login stored for `host`: docker's, else podman's (which docker
/// never reads); None when neither has any the client can use.
pub fn stored_login(host: &str) -> Result<Option<Login>, RemoteError> {
    if let Some(login) = docker_login(host)? {
        return Ok(Some(login));
    }
    Ok(containers_auth::login(host).map(|stored| Login {
        user: stored.user,
        password: Password::new(&stored.password),
        source: Source::ContainersAuth(stored.file),
    }))
}

/// The credentials docker has for `host`; None when it has none the client can use.
fn docker_login(host: &str) -> Result<Option<Login>, RemoteError> {
    let server = docker_server(host);
    match docker_credential::get_credential(server) {
        Ok(DockerCredential::UsernamePassword(user, password)) => Ok(Some(Login {
            user,
            password: Password::new(&password),
            source: docker_source(server),
        })),
        // An OAuth refresh token needs a token exchange oci-client does not make. An `auths`
        // entry that also keeps `auth` (user and password) is used by that; one without is
        // spoken to anonymously, and the registry says so if that is not enough.
        Ok(DockerCredential::IdentityToken(_)) => Ok(auths_entry_login(server)),
        Err(error) if means_no_credentials(&error) => Ok(None),
        Err(error) => Err(RemoteError::Credentials {
            registry: host.to_owned(),
            why: describe(&error),
        }),
    }
}

/// The user and password of the `auth` field of docker's `auths` entry for `server`, when it
/// has one beside an `identitytoken`.
fn auths_entry_login(server: &str) -> Option<Login> {
    let config = read_docker_config();
    let (user, password) = basic_auth_in(&config, server)?;
    Some(Login {
        user,
        password: Password::new(&password),
        source: Source::DockerAuths,
    })
}

/// The `auth` field (`base64(user:password)`) of the `auths` entry of `server`, decoded.
fn basic_auth_in(config: &DockerConfig, server: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let entry = config
        .auths
        .iter()
        .find(|(key, _)| registry_of(key) == registry_of(server))?
        .1;
    let encoded = entry.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_owned(), password.to_owned()))
}

/// The parts of docker's `config.json` that say where the credentials of a registry are.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, serde_json::Value>,
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

/// Where docker found the credentials of `server`, in the order docker looks: its credential
/// helper, its `auths` entry, the credential store.
fn docker_source(server: &str) -> Source {
    source_in(&read_docker_config(), server)
}

/// Docker's `config.json` as far as it is read here; empty when there is none to read.
fn read_docker_config() -> DockerConfig {
    docker_config_path()
        .and_then(|path| fs_err::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str::<DockerConfig>(&text).ok())
        .unwrap_or_default()
}

fn source_in(config: &DockerConfig, server: &str) -> Source {
    if let Some(helper) = config.cred_helpers.get(server).filter(|h| !h.is_empty()) {
        return Source::DockerHelper(helper.clone());
    }
    let in_auths = (config.auths.keys()).any(|key| registry_of(key) == registry_of(server));
    match &config.creds_store {
        Some(store) if !in_auths => Source::DockerStore(store.clone()),
        _ => Source::DockerAuths,
    }
}

/// The registry an `auths` key or a server names: `host`, or `https://host/v1/` as docker
/// files Docker Hub and older dockers filed every registry.
fn registry_of(key: &str) -> &str {
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as docker reads it.
fn docker_config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))?;
    Some(dir.join("config.json"))
}

/// The name docker files the credentials of `host` under.
fn docker_server(host: &str) -> &str {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_SERVER,
        other => other,
    }
}

/// No config file, no entry, or a helper that has none: docker would go anonymous too.
fn means_no_credentials(error: &CredentialRetrievalError) -> bool {
    match error {
        CredentialRetrievalError::NoCredentialConfigured
        | CredentialRetrievalError::ConfigNotFound
        | CredentialRetrievalError::ConfigReadError => true,
        CredentialRetrievalError::HelperFailure { stdout, .. } => {
            stdout.contains("credentials not found")
        }
        _ => false,
    }
}

/// One line about a failed credential lookup, without the helper's output (it may hold secrets).
fn describe(error: &CredentialRetrievalError) -> String {
    match error {
        CredentialRetrievalError::HelperFailure { helper, .. } => {
            format!("the credential helper `{helper}` failed")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_credentials_are_filed_under_the_v1_index() {
        assert_eq!(docker_server("docker.io"), DOCKER_HUB_SERVER);
        assert_eq!(docker_server("ghcr.io"), "ghcr.io");
        assert_eq!(docker_server("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[test]
    fn a_login_is_used_as_given_and_its_password_never_prints() {
        let mut logins = Logins::default();
        let login = Login {
            user: "AWS".into(),
            password: Password::new("s3cr3t"),
            source: Source::DockerAuths,
        };
        logins.add("a.example:5000", login);
        let access = access_for("a.example:5000", &logins);
        assert_eq!(
            access.auth,
            RegistryAuth::Basic("AWS".into(), "s3cr3t".into())
        );
        assert_eq!(access.user.as_deref(), Some("AWS"));
        assert!(!format!("{logins:?} {access:?}").contains("s3cr3t"));
        assert_eq!(
            access_for("b.example", &logins).auth,
            RegistryAuth::Anonymous
        );
    }

    #[test]
    fn names_where_docker_keeps_a_registrys_credentials() {
        let config: DockerConfig = serde_json::from_str(
            r#"{"auths": {"a.example": {}, "https://index.docker.io/v1/": {}},
                "credsStore": "pass", "credHelpers": {"ecr.example": "ecr-login"}}"#,
        )
        .unwrap();
        assert_eq!(
            source_in(&config, "ecr.example"),
            Source::DockerHelper("ecr-login".into())
        );
        assert_eq!(source_in(&config, "a.example"), Source::DockerAuths);
        assert_eq!(source_in(&config, DOCKER_HUB_SERVER), Source::DockerAuths);
        assert_eq!(
            source_in(&config, "b.example"),
            Source::DockerStore("pass".into())
        );
        assert_eq!(
            Source::DockerHelper("ecr-login".into()).to_string(),
            "docker's credHelpers (`ecr-login`)"
        );
    }

    /// `docker login` to a registry with an OAuth flow keeps an `identitytoken`; an entry that
    /// keeps `auth` beside it is read for its user and password.
    #[test]
    fn the_auth_beside_an_identity_token_is_read() {
        let config: DockerConfig = serde_json::from_str(
            r#"{"auths": {"https://a.example/v1/": {"auth": "dXNlcjpwYTpzcw==",
                "identitytoken": "refresh"}, "b.example": {"identitytoken": "refresh"}}}"#,
        )
        .unwrap();
        assert_eq!(
            basic_auth_in(&config, "a.example"),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(basic_auth_in(&config, "b.example"), None);
        assert_eq!(basic_auth_in(&config, "c.example"), None);
    }

    #[test]
    fn a_helper_without_the_entry_means_anonymous_and_its_output_is_not_shown() {
        let not_found = CredentialRetrievalError::HelperFailure {
            helper: "docker-credential-pass".into(),
            stdout: "credentials not found in native keychain\n".into(),
            stderr: String::new(),
        };
        assert!(means_no_credentials(&not_found));
        let broken = CredentialRetrievalError::HelperFailure {
            helper: "docker-credential-pass".into(),
            stdout: "token=abc".into(),
            stderr: "boom".into(),
        };
        assert!(!means_no_credentials(&broken));
        assert_eq!(
            describe(&broken),
            "the credential helper `docker-credential-pass` failed"
        );
    }
}
