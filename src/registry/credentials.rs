//! Who the registry client is to each registry: a login held in memory (an ECR password), else
//! the credentials docker already has (`config.json` `auths`, `credHelpers`, `credsStore`).

use std::collections::BTreeMap;
use std::fmt;

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

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

/// Logins made for this run only (ECR passwords), by registry host; they take precedence over
/// docker's stored credentials.
#[derive(Debug, Default)]
pub struct Logins {
    by_host: BTreeMap<String, (String, Password)>,
}

impl Logins {
    pub fn add(&mut self, host: &str, user: &str, password: Password) {
        self.by_host
            .insert(host.to_owned(), (user.to_owned(), password));
    }

    /// The user and password of `host`, when there is a login for it.
    pub fn get(&self, host: &str) -> Option<(&str, &Password)> {
        let (user, password) = self.by_host.get(host)?;
        Some((user, password))
    }
}

/// How to authenticate to one registry, and as whom (for error messages; never the secret).
#[derive(Debug, Clone)]
pub(super) struct Access {
    pub auth: RegistryAuth,
    pub user: Option<String>,
}

impl Access {
    fn anonymous() -> Self {
        Self {
            auth: RegistryAuth::Anonymous,
            user: None,
        }
    }

    fn basic(user: &str, password: &str) -> Self {
        Self {
            auth: RegistryAuth::Basic(user.to_owned(), password.to_owned()),
            user: Some(user.to_owned()),
        }
    }
}

/// The access to `host`: its login of this run, else docker's credentials, else anonymous.
pub(super) fn access_for(host: &str, logins: &Logins) -> Result<Access, RemoteError> {
    if let Some((user, password)) = logins.get(host) {
        return Ok(Access::basic(user, password.expose()));
    }
    match docker_credential::get_credential(docker_server(host)) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(Access::basic(&user, &password))
        }
        // An OAuth refresh token needs a token exchange oci-client does not make; the registry
        // then answers as to an anonymous client, and says so if that is not enough.
        Ok(DockerCredential::IdentityToken(_)) => Ok(Access::anonymous()),
        Err(error) if means_no_credentials(&error) => Ok(Access::anonymous()),
        Err(error) => Err(RemoteError::Credentials {
            registry: host.to_owned(),
            why: describe(&error),
        }),
    }
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
    fn a_login_of_this_run_wins_and_its_password_never_prints() {
        let mut logins = Logins::default();
        logins.add("a.example:5000", "AWS", Password::new("s3cr3t"));
        let access = access_for("a.example:5000", &logins).unwrap();
        assert_eq!(
            access.auth,
            RegistryAuth::Basic("AWS".into(), "s3cr3t".into())
        );
        assert_eq!(access.user.as_deref(), Some("AWS"));
        assert!(!format!("{logins:?} {access:?}").contains("s3cr3t"));
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
