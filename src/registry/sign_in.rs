//! Which credentials each registry of a run gets: docker's own first (`auths`, `credHelpers`,
//! `credsStore`), as docker itself would use them, then podman's auth file; for an AWS registry
//! neither has credentials for, or that refuses them, the password of `aws ecr
//! get-login-password`. `--debug` says which each registry got, never the secret.
//!
//! Each registry is signed in to once per run: the login decided for a host is held in the
//! run's [`SignIns`] (the session's), so that the commands' several operations (a multi-platform push's images,
//! then its indexes) ask the AWS CLI at most once per registry.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::debug;
use crate::process::Command;

use super::client::RegistryClient;
use super::credentials::{self, Login, Logins};
use super::ecr;
use super::failure::RemoteError;

/// The logins one run decided, by host (None inside: anonymous): the run's session holds one,
/// so that each registry is signed in to once per run.
#[derive(Debug, Default)]
pub struct SignIns {
    held: Mutex<BTreeMap<String, Option<Login>>>,
}

impl SignIns {
    /// The logins of `hosts`.
    pub fn sign_in(&self, hosts: &[String]) -> Result<Logins, RemoteError> {
        let mut logins = Logins::default();
        for host in hosts {
            self.sign_in_to(&mut logins, host)?;
        }
        Ok(logins)
    }

    /// Adds the login of `host` to `logins`: the credentials docker's or podman's login stored,
    /// else for an AWS registry the AWS password, else none (anonymous).
    pub fn sign_in_to(&self, logins: &mut Logins, host: &str) -> Result<(), RemoteError> {
        let login = match self.decided(host) {
            Some(login) => login,
            None => {
                let login = decide_login(host)?;
                announce(host, login.as_ref());
                self.remember(host, login.clone());
                login
            }
        };
        if let Some(login) = login {
            logins.add(host, login);
        }
        Ok(())
    }

    /// `work` with a client of `hosts`; when an AWS registry refuses the stored credentials for
    /// it, once more with the AWS password instead.
    pub fn with_client<T>(
        &self,
        hosts: &[String],
        logins: &mut Logins,
        deadline: Duration,
        work: impl Fn(&RegistryClient) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        match work(&RegistryClient::connect(hosts, logins, deadline)?) {
            Err(error) if self.renewed_after(logins, &error)? => {
                work(&RegistryClient::connect(hosts, logins, deadline)?)
            }
            result => result,
        }
    }

    /// The login this run already decided for `host`, when it did.
    fn decided(&self, host: &str) -> Option<Option<Login>> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(host).cloned()
    }

    /// Holds `login` as the login of `host` for the rest of the run.
    fn remember(&self, host: &str, login: Option<Login>) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.insert(host.to_owned(), login);
    }

    /// When `error` is an AWS registry refusing the stored credentials: its login replaced by
    /// the AWS password (true); otherwise nothing changes (false).
    fn renewed_after(&self, logins: &mut Logins, error: &RemoteError) -> Result<bool, RemoteError> {
        let Some(host) = error.refusing_registry() else {
            return Ok(false);
        };
        if !logins
            .get(host)
            .is_some_and(|login| login.source.is_stored())
        {
            return Ok(false);
        }
        let Some(login) = ecr::aws_login(host)? else {
            return Ok(false);
        };
        debug::line(format_args!(
            "registry `{host}` refused the stored credentials for it"
        ));
        announce(host, Some(&login));
        self.remember(host, Some(login.clone()));
        logins.add(host, login);
        Ok(true)
    }
}

/// The login of `host`, asked for: the stored credentials, else the AWS password of an AWS
/// registry, else none.
fn decide_login(host: &str) -> Result<Option<Login>, RemoteError> {
    Ok(match credentials::stored_login(host) {
        Ok(Some(login)) => Some(login),
        Ok(None) => ecr::aws_login(host)?,
        Err(error) if ecr::is_aws(host) => {
            debug::line(format_args!("{error}: asking the AWS CLI instead"));
            ecr::aws_login(host)?
        }
        Err(error) => return Err(error),
    })
}

/// The AWS CLI command `sign_in_to` would run for `host`: for an AWS registry docker has no
/// credentials for, nor podman. (A registry may still refuse them: only asking it can tell.)
pub fn aws_password_needed(host: &str) -> Option<Command> {
    let command = ecr::aws_password_command(host)?;
    match credentials::stored_login(host) {
        Ok(Some(_)) => None,
        Ok(None) | Err(_) => Some(command),
    }
}

/// Says, under `--debug`, where the credentials of `host` come from.
fn announce(host: &str, login: Option<&Login>) {
    match login {
        Some(login) => debug::line(format_args!("credentials for `{host}`: {}", login.source)),
        None => debug::line(format_args!("credentials for `{host}`: none (anonymous)")),
    }
}
