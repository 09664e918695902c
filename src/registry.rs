//! Remote registries: where pushed images go (`HOST[:PORT][/PATH]`), and logging docker in to
//! AWS ECR with a password from `aws ecr get-login-password` that is never shown.

use std::fmt;

use crate::catalog::names;
use crate::engine::Docker;
use crate::process::{self, Command};

const DEFAULT_AWS_REGION: &str = "us-west-2";
/// Public ECR issues its passwords from this region only.
const PUBLIC_ECR_REGION: &str = "us-east-1";
pub const PUBLIC_ECR_HOST: &str = "public.ecr.aws";

/// A registry and an optional path inside it, under which images are pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    host: String,
    path: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{value}` is not a registry (`HOST[:PORT][/PATH]`): {why}")]
    Invalid { value: String, why: String },
    #[error(
        "no registry: pass `--registry HOST[:PORT][/PATH]`, set `DAGSTER_IMAGE_REGISTRY`, or set `AWS_ACCOUNT_ID` to use AWS ECR"
    )]
    Missing,
}

impl Registry {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::Invalid {
            value: value.to_owned(),
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

    /// The repository of `image` in this registry.
    pub fn repository(&self, image: &str) -> String {
        match &self.path {
            Some(path) => format!("{}/{path}/{image}", self.host),
            None => format!("{}/{image}", self.host),
        }
    }

    /// The command printing a docker password for this registry, when it is an AWS one.
    pub fn aws_password_command(&self) -> Option<Command> {
        aws_password_command(&self.host)
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

/// The AWS region of a private ECR host `<account>.dkr.ecr.<region>.amazonaws.com[:port]`.
fn ecr_region(host: &str) -> Option<&str> {
    let name = host.split(':').next()?;
    let rest = name.strip_suffix(".amazonaws.com")?;
    let (account, region) = rest.split_once(".dkr.ecr.")?;
    let valid_account = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let valid_region = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    (valid_account && valid_region).then_some(region)
}

/// `aws ecr get-login-password` for a private ECR host, `aws ecr-public ...` for public ECR.
pub fn aws_password_command(host: &str) -> Option<Command> {
    let aws = std::env::var_os("AWS_CLI").unwrap_or_else(|| "aws".into());
    if host == PUBLIC_ECR_HOST {
        return Some(Command::new(
            aws,
            [
                "ecr-public",
                "get-login-password",
                "--region",
                PUBLIC_ECR_REGION,
            ],
        ));
    }
    let region = ecr_region(host)?;
    Some(Command::new(
        aws,
        ["ecr", "get-login-password", "--region", region],
    ))
}

/// Logs docker in to `host` when it is an AWS registry; other registries use the credentials
/// docker already has. The password goes from one process to the other through memory only.
pub fn login_if_aws(docker: &Docker, host: &str) -> process::Result<()> {
    let Some(password_command) = aws_password_command(host) else {
        return Ok(());
    };
    let step = format!("getting an ECR password for `{host}`");
    let password = password_command.output(&step, None)?;
    docker.login(host, "AWS").output(
        &format!("logging docker in to `{host}`"),
        Some(password.trim_end()),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        let registry = Registry::parse("127.0.0.1:5000/team/ci").unwrap();
        assert_eq!(registry.host(), "127.0.0.1:5000");
        assert_eq!(registry.repository("app"), "127.0.0.1:5000/team/ci/app");
        assert_eq!(
            Registry::parse("ghcr.io").unwrap().repository("app"),
            "ghcr.io/app"
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

    #[test]
    fn recognises_ecr_hosts_and_their_region() {
        assert_eq!(
            ecr_region("968703565975.dkr.ecr.us-west-1.amazonaws.com"),
            Some("us-west-1")
        );
        assert_eq!(
            ecr_region("968703565975.dkr.ecr.eu-central-1.amazonaws.com:5001"),
            Some("eu-central-1")
        );
        assert_eq!(ecr_region("12345.dkr.ecr.us-west-1.amazonaws.com"), None);
        assert_eq!(ecr_region("127.0.0.1:5000"), None);
        assert_eq!(ecr_region("example.com"), None);
    }

    #[test]
    fn asks_aws_for_the_password_of_ecr_hosts_only() {
        let command = aws_password_command("968703565975.dkr.ecr.us-west-1.amazonaws.com").unwrap();
        assert_eq!(
            command.args,
            ["ecr", "get-login-password", "--region", "us-west-1"]
        );
        let public = aws_password_command(PUBLIC_ECR_HOST).unwrap();
        assert_eq!(
            public.args,
            ["ecr-public", "get-login-password", "--region", "us-east-1"]
        );
        assert!(aws_password_command("127.0.0.1:5000").is_none());
    }
}
