//! Pushing a set of local images, the operation `push`, `push-all`, `publish` and `release`
//! compose. The registry is asked first, over the OCI distribution API: a push skips the tags
//! that already hold the local image. Otherwise the local image is tagged and pushed with
//! docker, logged in first to the AWS registries docker has no credentials for; a push that
//! fails transiently is tried again, and every tag's outcome is reported. The images of a
//! multi-platform image-version are followed by their index ([`super::platform_index`]).

use crate::engine::{LocalImages, PushError, push_retrying};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::process::{self, Command};
use crate::reference::{ImageName, Platform, PythonVersion, Timestamp, local_tag, version_tag};
use crate::registry::{self, Logins, Registry, RegistryClient, RemoteError, ecr};

use super::PushedDigests;
use super::Session;
use super::outcome::Outcome;
use super::platform_index;
use super::saved_push;
use super::up_to_date::remote_copy;

/// A local image and the remote references it is pushed as.
pub struct Publication {
    pub source: String,
    pub targets: Vec<String>,
}

/// Whether pushes go on after one failed: `push-all` tries every version, a release stops so
/// that `latest` is never written after its version tag failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    KeepGoing,
    Stop,
}

/// What a push does: publications with docker, then the indexes of the multi-platform ones.
#[derive(Default)]
pub struct Pushes {
    publications: Vec<Publication>,
    indexes: Vec<platform_index::PlannedIndex>,
}

impl Pushes {
    /// Adds `version` of `name` built at `timestamp`, as `<registry>/<name>:py<V>-<timestamp>`
    /// or as `<registry>/<name>:<custom_tag>`: for several `platforms`, each platform's image
    /// under its own tag, then their index under that one.
    pub fn add(
        &mut self,
        registry: &Registry,
        name: &ImageName,
        (version, timestamp): (&PythonVersion, &Timestamp),
        platforms: &[Platform],
        custom_tag: Option<&str>,
    ) {
        if platforms.len() < 2 {
            let publication = version_publication(registry, name, version, timestamp, custom_tag);
            self.publications.push(publication);
            return;
        }
        let tag = custom_tag.map_or_else(|| version_tag(version, timestamp), str::to_owned);
        let (pushes, index) =
            platform_index::per_platform(registry, name, version, timestamp, platforms, &tag);
        let publications = pushes.into_iter().map(|(source, target)| Publication {
            source,
            targets: vec![target],
        });
        self.publications.extend(publications);
        self.indexes.push(index);
    }

    pub fn run(&self, session: &Session, registry: &Registry, dry_run: bool) -> Result<()> {
        let hosts = [registry.host().to_owned()];
        publish(session, &hosts, &self.publications, dry_run)?;
        platform_index::assemble(session, &hosts, &self.indexes, dry_run)
    }

    /// Every reference pushed: each publication's targets and each index.
    fn references(self) -> Vec<String> {
        let indexes = self.indexes.into_iter().map(|index| index.target);
        let targets = self.publications.into_iter().flat_map(|p| p.targets);
        targets.chain(indexes).collect()
    }
}

/// Pushes every Python version of `name` as built at a timestamp for platforms (`--platform`s,
/// else none: the image.yaml ones), by `publish`, which knows them before `last_updated.yaml`
/// records the timestamp; returns the references pushed.
pub fn push_every_version_at(
    session: &Session,
    name: &ImageName,
    (timestamp, platforms): (&Timestamp, &[Platform]),
    dry_run: bool,
) -> Result<Vec<String>> {
    let image = session.catalog()?.image(name)?;
    let registry = session.registry()?;
    let mut pushes = Pushes::default();
    let platforms = platform_index::platforms_to_push(&image, platforms);
    for version in image.versions.keys() {
        pushes.add(registry, &image.name, (version, timestamp), platforms, None);
    }
    pushes.run(session, registry, dry_run)?;
    Ok(pushes.references())
}

/// `version` of `name` built at `timestamp`, as `<registry>/<name>:py<V>-<timestamp>` or as
/// `<registry>/<name>:<custom_tag>`.
fn version_publication(
    registry: &Registry,
    name: &ImageName,
    version: &PythonVersion,
    timestamp: &Timestamp,
    custom_tag: Option<&str>,
) -> Publication {
    let tag = custom_tag.map_or_else(|| version_tag(version, timestamp), str::to_owned);
    Publication {
        source: local_tag(name, version, timestamp),
        targets: vec![format!("{}:{tag}", registry.repository(name))],
    }
}

/// Pushes each publication's targets that the registry does not already have with the local
/// image, with docker; `--dry-run` prints the docker commands instead.
fn publish(
    session: &Session,
    hosts: &[String],
    publications: &[Publication],
    dry_run: bool,
) -> Result<()> {
    if dry_run {
        print_docker_steps(session, hosts, publications);
        return Ok(());
    }
    let sources: Vec<String> = publications.iter().map(|p| p.source.clone()).collect();
    let mut local = session.docker.local_images(&sources)?;
    super::PushedDigests::load(session).add_to(&mut local);
    let mut logins = session.sign_ins.sign_in(hosts)?;
    let deadline = session.registry_timeout;
    let pending = session
        .sign_ins
        .with_client(hosts, &mut logins, deadline, |client| {
            not_up_to_date(&session.out, client, publications, &local)
        })?;
    push_with_docker(session, hosts, &logins, &pending, AfterFailure::KeepGoing)
}

/// The publications less the targets that already hold their local image, reported as up to
/// date.
fn not_up_to_date(
    out: &Output,
    client: &RegistryClient,
    publications: &[Publication],
    local: &LocalImages,
) -> std::result::Result<Vec<Publication>, RemoteError> {
    let mut pending = Vec::new();
    for publication in publications {
        let mut targets = Vec::new();
        for target in &publication.targets {
            match remote_copy(client, target, local.get(&publication.source))? {
                Some(digest) => out.say(format_args!(
                    "`{target}` is up to date ({digest}): not pushed"
                )),
                None => targets.push(target.clone()),
            }
        }
        if !targets.is_empty() {
            pending.push(Publication {
                source: publication.source.clone(),
                targets,
            });
        }
    }
    Ok(pending)
}

/// A `docker tag` of `source` as `target`, with its step.
fn tag_step(session: &Session, source: &str, target: &str) -> (String, Command) {
    let step = format!("tagging `{source}` as `{target}`");
    (step, session.docker.tag(source, target))
}

/// A `docker push` of `target`, with its step.
fn push_step(session: &Session, target: &str) -> (String, Command) {
    (format!("pushing `{target}`"), session.docker.push(target))
}

/// What `push_with_docker` would run, the AWS logins as the pipelines they are: per
/// publication, `docker tag` of every target, then `docker push` of every target.
pub fn print_docker_steps(session: &Session, hosts: &[String], publications: &[Publication]) {
    let docker = &session.docker;
    let mut out = String::new();
    for host in hosts {
        if let Some(password) = registry::aws_password_needed(host) {
            out += &format!("{password} | {}\n", docker.login(host, ecr::AWS_USER));
        }
    }
    for publication in publications {
        for target in &publication.targets {
            out += &format!("{}\n", tag_step(session, &publication.source, target).1);
        }
        for target in &publication.targets {
            out += &format!("{}\n", push_step(session, target).1);
        }
    }
    session.out.data(&out);
}

/// Tags and pushes `publications` with docker, logged in to the AWS registries of `logins`; a
/// push failing transiently is tried again. Says what was published and what was not when a
/// tag fails.
pub fn push_with_docker(
    session: &Session,
    hosts: &[String],
    logins: &Logins,
    publications: &[Publication],
    after_failure: AfterFailure,
) -> Result<()> {
    if publications.is_empty() {
        return Ok(());
    }
    super::engine_login::log_docker_in(&session.docker, logins, hosts)?;
    let client = match saved_push::uses_client(session) {
        true => {
            let client = RegistryClient::connect(hosts, logins, session.registry_timeout)?;
            Some(client.for_pushes())
        }
        false => None,
    };
    let mut outcome = Outcome::default();
    let mut pushed = super::PushedDigests::load(session);
    for publication in publications {
        if outcome.has_failed() && after_failure == AfterFailure::Stop {
            outcome.untried(publication.targets.iter().cloned());
            continue;
        }
        let pushing = (client.as_ref().map(|c| (c, &mut pushed)), after_failure);
        push_publication(session, publication, pushing, &mut outcome)
            .inspect_err(|_| pushed.save(session))?;
    }
    pushed.save(session);
    outcome.into_result()
}

/// Tags then pushes the targets of `publication`, with the registry `client` when there is one,
/// else with docker, each outcome into `outcome`; Err only when interrupted.
fn push_publication(
    session: &Session,
    publication: &Publication,
    (client, after_failure): (Option<(&RegistryClient, &mut PushedDigests)>, AfterFailure),
    outcome: &mut Outcome,
) -> Result<()> {
    for (i, target) in publication.targets.iter().enumerate() {
        let (step, command) = tag_step(session, &publication.source, target);
        if let Err(error) = command.output(&step, None) {
            let rest = publication.targets.iter().enumerate();
            return record_failure(error, target, rest.filter(|(j, _)| *j != i), outcome);
        }
    }
    if let Some((client, pushed)) = client {
        let (source, targets) = (&publication.source, &publication.targets);
        return saved_push::push_saved(session, (client, pushed), source, targets, outcome);
    }
    let retries = session.push_retries();
    for (i, target) in publication.targets.iter().enumerate() {
        let (step, command) = push_step(session, target);
        let pushed = match push_retrying(&command, &step, &retries) {
            Err(PushError::RateLimited { step, reason }) => {
                return Err(rate_limited(step, target, reason));
            }
            Err(PushError::Failed(error)) => Err(error),
            Ok(()) => Ok(()),
        };
        match pushed {
            Ok(()) => outcome.published(target),
            Err(error) if after_failure == AfterFailure::Stop => {
                let rest = publication.targets.iter().enumerate().skip(i + 1);
                return record_failure(error, target, rest, outcome);
            }
            Err(error) => record_failure(error, target, std::iter::empty(), outcome)?,
        }
    }
    Ok(())
}

/// The failure of a push of `target` its registry refused, its rate limit spent: it stops the
/// whole push, as every next push would be refused too.
fn rate_limited(step: String, target: &str, reason: String) -> Error {
    let (repository, _) = registry::split_tag(target);
    let (host, _) = registry::split_repository(repository);
    Error::RateLimited {
        step,
        registry: host.to_owned(),
        reason,
    }
}

/// Notes that `target` failed with `error` and that the `untried` targets were not pushed;
/// an interruption is returned instead.
fn record_failure<'a>(
    error: process::Error,
    target: &str,
    untried: impl Iterator<Item = (usize, &'a String)>,
    outcome: &mut Outcome,
) -> Result<()> {
    if matches!(error, process::Error::Interrupted) {
        return Err(Error::Interrupted);
    }
    outcome.failed(target, error.into());
    outcome.untried(untried.map(|(_, t)| t.clone()));
    Ok(())
}
