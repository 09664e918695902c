//! Remote registries: where pushed images go (`HOST[:PORT][/PATH]`), the OCI distribution API
//! spoken to them directly ([`RegistryClient`]: exists, copy, tags), the credentials it uses
//! (docker's first, then podman's, [`sign_in`]), and logging docker in to AWS ECR ([`ecr`]).

mod client;
mod containers_auth;
mod copy;
mod credentials;
mod delete;
pub mod ecr;
mod failure;
mod index;
mod known;
mod manifest;
mod rate_limit;
mod sign_in;
mod tags;
mod transport;
mod upload;
pub mod upstream;

use std::fmt;

use crate::names;
use crate::reference::{ImageName, PythonVersion, Timestamp};

pub use client::RegistryClient;
pub use copy::Copied;
pub use credentials::{Login, Logins, Password, Source, stored_login};
pub use delete::TagDigest;
pub use ecr::{PUBLIC_ECR_HOST, aws_password_command};
pub use failure::{Problem, RemoteError, joined_lines, rate_limit_hint};
pub use index::{Assembled, Child};
pub use known::KnownManifests;
pub use sign_in::{SignIns, aws_password_needed};

const DEFAULT_AWS_REGION: &str = "us-west-2";
/// The registry of repositories that name none.
pub const DOCKER_HUB_HOST: &str = "docker.io";

/// A registry and an optional path inside it, under which images are pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    host: String,
    path: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("`{value}` is not a registry (`HOST[:PORT][/PATH]`): {why}")]
    Invalid { value: String, why: String },
    #[error("no registry to push to or pull `source: aws` bases from")]
    Missing,
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Missing => Some(
                "pass `--registry HOST[:PORT][/PATH]`, set `DAGSTER_IMAGE_REGISTRY`, or set \
                 `AWS_ACCOUNT_ID` to use AWS ECR"
                    .to_owned(),
            ),
            Error::Invalid { .. } => None,
        }
    }
}

/// `value` with any `user:password@` before the host replaced by `***@`, for messages.
fn without_credentials(value: &str) -> String {
    let start = value.find("://").map_or(0, |i| i + 3);
    match value[start..]
        .split('/')
        .next()
        .and_then(|authority| authority.rfind('@'))
    {
        Some(at) => format!("{}***{}", &value[..start], &value[start + at..]),
        None => value.to_owned(),
    }
}

impl Registry {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::Invalid {
            value: without_credentials(value),
            why: why.to_owned(),
        };
        let value_trimmed = value.trim_end_matches('/');
        let (host, path) = match value_trimmed.split_once('/') {
            Some((host, path)) => (host, Some(path)),
            None => (value_trimmed, None),
        };
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid("the host must be a DNS name or an IP address"));
        }
        if port.is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(invalid("the port must be a number up to 65535"));
        }
        if let Some(path) = path {
            for component in path.split('/') {
                names::check_image_name(component)
                    .map_err(|why| invalid(&format!("path `{component}`: {why}")))?;
            }
        }
        Ok(Self {
            host: host.to_owned(),
            path: path.map(str::to_owned),
        })
    }

    /// The registry from the flag or environment, else AWS ECR of `AWS_ACCOUNT_ID`.
    pub fn resolve(explicit: Option<&str>) -> Result<Self, Error> {
        if let Some(value) = explicit {
            return Self::parse(value);
        }
        let account = std::env::var("AWS_ACCOUNT_ID").map_err(|_| Error::Missing)?;
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| DEFAULT_AWS_REGION.into());
        Self::parse(&format!("{account}.dkr.ecr.{region}.amazonaws.com"))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The tag of `image` for Python `python_version` built at `timestamp` in this registry:
    /// `<registry>/<image>:py<V>-<timestamp>`.
    pub fn image_tag(
        &self,
        image: &ImageName,
        python_version: &PythonVersion,
        timestamp: &Timestamp,
    ) -> String {
        format!(
            "{}:{}",
            self.repository(image),
            crate::reference::version_tag(python_version, timestamp)
        )
    }

    /// The repository of `image` in this registry.
    pub fn repository(&self, image: &ImageName) -> String {
        crate::reference::repository(&self.to_string(), image)
    }
}

/// The registry as the plan takes it: its address, or why there is none.
impl From<Error> for crate::plan::NoRegistry {
    fn from(error: Error) -> Self {
        Self {
            message: error.to_string(),
            hint: error.hint(),
            missing: matches!(error, Error::Missing),
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}/{path}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// The registry host and the path of a repository such as `127.0.0.1:5000/team/app`, or of
/// `dagster/app` on Docker Hub, as docker reads them: the first component is a host when it has
/// a dot or a port, or is `localhost`.
pub fn split_repository(repository: &str) -> (&str, &str) {
    match repository.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DOCKER_HUB_HOST, repository),
    }
}

/// The repository and the tag of `REPOSITORY[:TAG]`; a colon of the host's port is no tag.
pub fn split_tag(reference: &str) -> (&str, Option<&str>) {
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
        _ => (reference, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_rejected_registry_are_not_shown() {
        let error = Registry::parse("https://user:s3cr3t@host:5000/x")
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains("s3cr3t") && error.contains("`https://***@host:5000/x`"),
            "{error}"
        );
        let plain = Registry::parse("host:port").unwrap_err().to_string();
        assert!(plain.contains("`host:port`"), "{plain}");
    }

    #[test]
    fn parses_host_port_and_path() {
        let registry = Registry::parse("127.0.0.1:5000/team/ci").unwrap();
        let app = ImageName::parse("app").unwrap();
        assert_eq!(registry.host(), "127.0.0.1:5000");
        assert_eq!(registry.repository(&app), "127.0.0.1:5000/team/ci/app");
        assert_eq!(
            registry.image_tag(&app, &PythonVersion::new("3.10"), &Timestamp::recorded("T")),
            "127.0.0.1:5000/team/ci/app:py3.10-T"
        );
        assert_eq!(
            Registry::parse("ghcr.io").unwrap().repository(&app),
            "ghcr.io/app"
        );
    }

    #[test]
    fn splits_references_as_docker_reads_them() {
        assert_eq!(
            split_repository("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000", "a/b")
        );
        assert_eq!(split_repository("localhost/app"), ("localhost", "app"));
        assert_eq!(
            split_repository("dagster/app"),
            ("docker.io", "dagster/app")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/a/b:py3.9-T"),
            ("127.0.0.1:5000/a/b", Some("py3.9-T"))
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000/a/b", None)
        );
    }

    #[test]
    fn rejects_malformed_registries() {
        for bad in [
            "",
            ":5000",
            "host:port",
            "host:70000",
            "host/Upper",
            "ho st",
            "host//x",
        ] {
            assert!(Registry::parse(bad).is_err(), "{bad}");
        }
    }
}
