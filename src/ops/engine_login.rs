//! Logging the engine in to registries whose password this run got from the AWS CLI, so that
//! its own pushes and pulls are let in; docker already has every other registry's credentials.
//! The password goes from one process to the other through memory only.

use crate::engine::Docker;
use crate::error::Result;
use crate::registry::{Logins, ecr};

use super::Session;

/// Logs docker in to each of `hosts` whose login came from the AWS CLI, the password on stdin.
pub fn log_docker_in(docker: &Docker, logins: &Logins, hosts: &[String]) -> Result<()> {
    for host in hosts {
        if let Some(login) = logins.get(host).filter(|login| !login.source.is_stored()) {
            docker.login(host, &login.user).output(
                &format!("logging docker in to `{host}`"),
                Some(login.password.expose()),
            )?;
        }
    }
    Ok(())
}

/// Logs docker in to `host` when it is an AWS registry docker has no credentials for.
pub fn login_if_aws(session: &Session, host: &str) -> Result<()> {
    if !ecr::is_aws(host) {
        return Ok(());
    }
    let hosts = [host.to_owned()];
    log_docker_in(&session.docker, &session.sign_ins.sign_in(&hosts)?, &hosts)
}
