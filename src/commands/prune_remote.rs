//! `prune --remote`: deletes from the registry the old build tags of each image that
//! [`crate::prune_remote`] picks, by manifest digest on the OCI API, by tag on AWS ECR. Prints
//! each tag deleted (or, with `--dry-run`, to delete) on stdout; a failure midway names the
//! tags it did not delete.

use indexmap::IndexMap;
use jiff::ToSpan;

use crate::catalog::{Error as CatalogError, Image};
use crate::error::{Error, Result};
use crate::ops::Session;
use crate::output::Output;
use crate::prune_remote::{self, Policy, RemoteTag};
use crate::publish::defines;
use crate::registry::{self, Problem, Registry, RegistryClient, RemoteError, ecr};

/// Registry requests made at once when listing a repository's digests.
const CONCURRENCY: usize = 8;

/// The options of `prune --remote`.
pub struct Remote {
    /// Build tags kept per version and platform, the newest.
    pub keep: usize,
    /// Only tags older than this many days go.
    pub older_than: Option<u32>,
}

/// Deletes (or lists, with `dry_run`) the old build tags of `images` in the registry; returns
/// how many.
pub fn prune_remote(
    session: &Session,
    images: &[Image],
    remote: &Remote,
    dry_run: bool,
) -> Result<usize> {
    let registry = session.registry()?;
    let naming_files = naming_files(session, images)?;
    let policy = Policy {
        keep: remote.keep,
        cutoff: cutoff(remote.older_than)?,
        naming_files: &naming_files,
    };
    let hosts = [registry.host().to_owned()];
    let mut logins = session.sign_ins.sign_in(&hosts)?;
    let deadline = session.registry_timeout;
    let mut removed = 0;
    for image in images {
        let repository = registry.repository(&image.name);
        let listing = session
            .sign_ins
            .with_client(&hosts, &mut logins, deadline, |client| {
                client.tag_digests(&repository, CONCURRENCY)
            });
        let listing = match listing {
            Err(RemoteError::Request { problem, .. }) if is_no_repository(&problem) => {
                session
                    .out
                    .debug(format_args!("`{repository}` is not in the registry"));
                continue;
            }
            listing => listing?,
        };
        let tags: Vec<RemoteTag> = listing
            .into_iter()
            .map(|(tag, digest)| RemoteTag { tag, digest })
            .collect();
        let doomed = prune_remote::doomed_tags(image, &tags, &policy);
        removed += doomed.len();
        if dry_run {
            let lines: String = doomed
                .iter()
                .map(|remote| format!("would delete {repository}:{}\n", remote.tag))
                .collect();
            session.out.data(&lines);
        } else {
            delete(session, registry, &repository, &doomed, &logins)?;
        }
    }
    Ok(removed)
}

fn is_no_repository(problem: &Problem) -> bool {
    matches!(problem, Problem::NoRepository { .. })
}

/// The time `days` days ago, in UTC (the timestamps' zone); None without `--older-than`.
fn cutoff(days: Option<u32>) -> Result<Option<jiff::civil::DateTime>> {
    let Some(days) = days else {
        return Ok(None);
    };
    let then = jiff::Timestamp::now()
        .checked_sub((i64::from(days) * 24).hours())
        .map_err(|e| crate::ops::invalid("--older-than", &days.to_string(), e))?;
    Ok(Some(jiff::tz::TimeZone::UTC.to_datetime(then)))
}

/// The texts of the files that name published tags: each image's `references:` and
/// `.buildkite/defines.py` of the repository, when it has one.
fn naming_files(session: &Session, images: &[Image]) -> Result<Vec<String>> {
    let defines = session.catalog()?.repository_root().join(defines::PATH);
    let mut paths: Vec<_> = images
        .iter()
        .flat_map(|image| image.config.references.iter().cloned())
        .collect();
    if defines.is_file() {
        paths.push(defines);
    }
    paths
        .iter()
        .map(|path| fs_err::read_to_string(path).map_err(|e| CatalogError::Io(e).into()))
        .collect()
}

/// Deletes `doomed` from `repository`, saying each tag deleted; on a failure, which were not.
fn delete(
    session: &Session,
    registry: &Registry,
    repository: &str,
    doomed: &[RemoteTag],
    logins: &registry::Logins,
) -> Result<()> {
    let host = registry.host();
    let mut deleted = Vec::new();
    let result = if ecr::is_aws(host) {
        delete_ecr_tags(&session.out, host, repository, doomed, &mut deleted)
    } else {
        let hosts = [host.to_owned()];
        RegistryClient::connect(&hosts, logins, session.registry_timeout).and_then(|client| {
            delete_manifests(&session.out, &client, repository, doomed, &mut deleted)
        })
    };
    result.map_err(|source| Error::PruneIncomplete {
        source: Box::new(source),
        deleted: deleted.len(),
        not_deleted: doomed
            .iter()
            .filter(|remote| !deleted.contains(&remote.tag))
            .map(|remote| format!("{repository}:{}", remote.tag))
            .collect(),
    })
}

/// Deletes the manifest of each of `doomed` once, which deletes every tag naming it; adds the
/// tags deleted to `deleted`, saying each.
fn delete_manifests(
    out: &Output,
    client: &RegistryClient,
    repository: &str,
    doomed: &[RemoteTag],
    deleted: &mut Vec<String>,
) -> std::result::Result<(), RemoteError> {
    let mut by_digest: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for remote in doomed {
        by_digest
            .entry(&remote.digest)
            .or_default()
            .push(&remote.tag);
    }
    for (digest, tags) in by_digest {
        client.delete_manifest(repository, digest)?;
        say_deleted(out, repository, &tags);
        deleted.extend(tags.into_iter().map(str::to_owned));
    }
    Ok(())
}

/// Deletes `doomed` from `repository` of the AWS registry `host` by tag, in batches; adds the
/// tags deleted to `deleted`, saying each. A tag ECR did not delete is a failure.
fn delete_ecr_tags(
    out: &Output,
    host: &str,
    repository: &str,
    doomed: &[RemoteTag],
    deleted: &mut Vec<String>,
) -> std::result::Result<(), RemoteError> {
    let path = registry::split_repository(repository).1;
    let tags: Vec<String> = doomed.iter().map(|remote| remote.tag.clone()).collect();
    for batch in tags.chunks(ecr::BATCH_DELETE_MAX) {
        let answer = ecr::batch_delete(host, path, batch)?;
        let done: Vec<&str> = answer.deleted.iter().map(String::as_str).collect();
        say_deleted(out, repository, &done);
        deleted.extend(answer.deleted.iter().cloned());
        if !answer.failed.is_empty() {
            let failures: Vec<String> = answer
                .failed
                .iter()
                .map(|(tag, why)| format!("`{tag}`: {why}"))
                .collect();
            return Err(RemoteError::Request {
                action: format!("deleting tags of `{repository}`"),
                registry: host.to_owned(),
                problem: Problem::Answered(failures.join("; ")),
            });
        }
    }
    Ok(())
}

fn say_deleted(out: &Output, repository: &str, tags: &[&str]) {
    let lines: String = tags
        .iter()
        .map(|tag| format!("deleted {repository}:{tag}\n"))
        .collect();
    out.data(&lines);
}
