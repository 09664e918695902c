//! `push`, `push-all`, `release` and `tags`. The registry is asked first, over the OCI
//! distribution API: a push skips the tags that already hold the local image, and a release
//! copies the already-pushed image inside the registries. Otherwise the local image is tagged
//! and pushed with docker, logged in first to the AWS registries docker has no credentials for.

use std::collections::BTreeSet;

use crate::catalog::names;
use crate::engine::LocalImages;
use crate::error::{Error, Result};
use crate::plan::{local_tag, version_tag};
use crate::process::Command;
use crate::registry::{self, Logins, Registry, RegistryClient, RemoteError, ecr};

use super::platform_push;
use super::up_to_date::remote_copy;
use super::{Context, invalid, print_stdout};

/// A local image and the remote references it is pushed as.
struct Publication {
    source: String,
    targets: Vec<String>,
}

/// Pushes `python_version` of `name` (or every version) as `<registry>/<name>:py<V>-<timestamp>`,
/// or as `<registry>/<name>:<custom_tag>`: for several `platforms` (else those of its
/// image.yaml), each platform's image and then their index under that tag.
pub fn push(
    context: &Context,
    name: &str,
    python_version: Option<&str>,
    custom_tag: Option<&str>,
    platforms: &[String],
    dry_run: bool,
) -> Result<()> {
    if let Some(tag) = custom_tag {
        names::check_tag(tag).map_err(|why| invalid("tag", tag, why))?;
    }
    let image = context.catalog()?.image(name)?;
    let registry = context.registry()?;
    let versions: Vec<&str> = match python_version {
        Some(version) => {
            image.version(version)?;
            vec![version]
        }
        None => image.versions.keys().map(String::as_str).collect(),
    };
    let platforms = platform_push::platforms_to_push(&image, platforms)?;
    let mut pushes = Pushes::default();
    for version in versions {
        let timestamp = image.last_built(version)?;
        pushes.add(&registry, name, (version, timestamp), platforms, custom_tag);
    }
    pushes.run(context, &registry, dry_run)
}

/// What a push does: publications with docker, then the indexes of the multi-platform ones.
#[derive(Default)]
struct Pushes {
    publications: Vec<Publication>,
    indexes: Vec<platform_push::PlannedIndex>,
}

impl Pushes {
    /// Adds `version` of `name` built at `timestamp`, as `<registry>/<name>:py<V>-<timestamp>`
    /// or as `<registry>/<name>:<custom_tag>`: for several `platforms`, each platform's image
    /// under its own tag, then their index under that one.
    fn add(
        &mut self,
        registry: &Registry,
        name: &str,
        (version, timestamp): (&str, &str),
        platforms: &[String],
        custom_tag: Option<&str>,
    ) {
        if platforms.len() < 2 {
            let publication = version_publication(registry, name, version, timestamp, custom_tag);
            self.publications.push(publication);
            return;
        }
        let tag = custom_tag.map_or_else(|| version_tag(version, timestamp), str::to_owned);
        let (pushes, index) =
            platform_push::per_platform(registry, name, version, timestamp, platforms, &tag);
        let publications = pushes.into_iter().map(|(source, target)| Publication {
            source,
            targets: vec![target],
        });
        self.publications.extend(publications);
        self.indexes.push(index);
    }

    fn run(&self, context: &Context, registry: &Registry, dry_run: bool) -> Result<()> {
        let hosts = [registry.host().to_owned()];
        publish(context, &hosts, &self.publications, dry_run)?;
        platform_push::assemble(&hosts, &self.indexes, dry_run)
    }

    /// Every reference pushed: each publication's targets and each index.
    fn references(self) -> Vec<String> {
        let indexes = self.indexes.into_iter().map(|index| index.target);
        let targets = self.publications.into_iter().flat_map(|p| p.targets);
        targets.chain(indexes).collect()
    }
}

/// Pushes every Python version of `name` as built at `timestamp` (by `publish`, which knows it
/// before `last_updated.yaml` records it), for the platforms of its image.yaml; returns the
/// references pushed.
pub(super) fn push_all_built_at(
    context: &Context,
    name: &str,
    timestamp: &str,
    dry_run: bool,
) -> Result<Vec<String>> {
    let image = context.catalog()?.image(name)?;
    let registry = context.registry()?;
    let mut pushes = Pushes::default();
    for version in image.versions.keys() {
        let platforms = &image.config.platforms;
        pushes.add(&registry, name, (version, timestamp), platforms, None);
    }
    pushes.run(context, &registry, dry_run)?;
    Ok(pushes.references())
}

/// `version` of `name` built at `timestamp`, as `<registry>/<name>:py<V>-<timestamp>` or as
/// `<registry>/<name>:<custom_tag>`.
fn version_publication(
    registry: &Registry,
    name: &str,
    version: &str,
    timestamp: &str,
    custom_tag: Option<&str>,
) -> Publication {
    let tag = custom_tag.map_or_else(|| version_tag(version, timestamp), str::to_owned);
    Publication {
        source: local_tag(name, version, timestamp),
        targets: vec![format!("{}:{tag}", registry.repository(name))],
    }
}

/// Publishes the first Python version of `name` as `<repo>:<dagster_version>` and `<repo>:latest`
/// for every destination repository.
pub fn release(
    context: &Context,
    name: &str,
    dagster_version: &str,
    destinations: &[String],
    dry_run: bool,
) -> Result<()> {
    names::check_tag(dagster_version)
        .map_err(|why| invalid("version tag", dagster_version, why))?;
    let image = context.catalog()?.image(name)?;
    let version = image.first_version();
    let timestamp = image.last_built(version)?;
    let mut hosts = BTreeSet::new();
    let mut targets = Vec::new();
    let mut seen = BTreeSet::new();
    for destination in destinations.iter().filter(|d| seen.insert(d.as_str())) {
        hosts.insert(repository_host(destination)?);
        targets.push(format!("{destination}:{dagster_version}"));
        targets.push(format!("{destination}:latest"));
    }
    let publication = Publication {
        source: local_tag(name, version, timestamp),
        targets,
    };
    let pushed = context.registry().ok().map(|registry| Pushed {
        host: registry.host().to_owned(),
        reference: format!(
            "{}:{}",
            registry.repository(name),
            version_tag(version, timestamp)
        ),
    });
    let hosts: Vec<String> = hosts.into_iter().collect();
    let several_platforms = image.config.platforms.len() > 1;
    if dry_run && several_platforms {
        print_index_copy(pushed.as_ref(), &publication.targets);
        return Ok(());
    }
    if dry_run {
        if let Some(pushed) = &pushed {
            note_copy_inside_registries(pushed);
        }
        print_docker_steps(context, &hosts, &[publication]);
        return Ok(());
    }
    if several_platforms {
        return copy_index(&hosts, pushed, name, &publication.targets);
    }
    copy_else_push(context, &hosts, pushed.as_ref(), publication)
}

/// What a release of several platforms does, as `--dry-run` shows it: the index is copied inside
/// the registries, with no docker command.
fn print_index_copy(pushed: Option<&Pushed>, targets: &[String]) {
    let source = pushed.map_or("the pushed index (no registry given)", |p| {
        p.reference.as_str()
    });
    let mut out = String::new();
    for target in targets {
        out += &format!(
            "# copy {source} (an index, every platform) to {target} inside the registries\n"
        );
    }
    print_stdout(&out);
}

/// Copies the index `pushed` of a multi-platform image with every platform's image inside the
/// registries: the local store has one platform per tag, so there is nothing to push instead.
fn copy_index(
    hosts: &[String],
    pushed: Option<Pushed>,
    name: &str,
    targets: &[String],
) -> Result<()> {
    let pushed = match pushed {
        Some(pushed) => pushed,
        None => return Err(registry::Error::Missing.into()),
    };
    let mut logins = registry::sign_in(hosts)?;
    if copy_inside_registries(&mut logins, hosts, &pushed, targets)? {
        return Ok(());
    }
    Err(Error::IndexNotPushed {
        name: name.to_owned(),
        reference: pushed.reference,
    })
}

/// Where the image a release publishes was pushed: `<registry>/<name>:py<V>-<timestamp>`.
struct Pushed {
    host: String,
    reference: String,
}

/// Says on stderr what `--dry-run` does not show of a release: the copy it tries first, and the
/// AWS password reading the source needs.
fn note_copy_inside_registries(pushed: &Pushed) {
    let password = registry::aws_password_needed(&pushed.host)
        .map(|command| format!(" (reading it needs the password of `{command}`)"))
        .unwrap_or_default();
    eprintln!(
        "note: without --dry-run, `{}` is copied inside the registries when its registry has \
         it{password}; these are the commands run when it does not, or cannot be copied",
        pushed.reference
    );
}

/// Copies `pushed` to the targets inside the registries when its registry has it, else tags
/// and pushes the local image with docker: also when the copy fails, saying why in one line.
fn copy_else_push(
    context: &Context,
    destination_hosts: &[String],
    pushed: Option<&Pushed>,
    publication: Publication,
) -> Result<()> {
    let mut logins = registry::sign_in(destination_hosts)?;
    if let Some(pushed) = pushed {
        match copy_inside_registries(&mut logins, destination_hosts, pushed, &publication.targets) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) if error.is_interrupted() => return Err(error.into()),
            Err(error) => eprintln!(
                "warning: cannot copy `{}` inside the registry ({}): pushing the local image \
                 instead",
                pushed.reference,
                registry::joined_lines(&error.to_string())
            ),
        }
    }
    push_with_docker(context, destination_hosts, &logins, &[publication])
}

/// Copies `pushed` to `targets` inside the registries when its registry has it (true); false,
/// said on stderr, when it does not. Signs in to its registry first when it is no destination.
fn copy_inside_registries(
    logins: &mut Logins,
    destination_hosts: &[String],
    pushed: &Pushed,
    targets: &[String],
) -> std::result::Result<bool, RemoteError> {
    let mut hosts = destination_hosts.to_vec();
    if !hosts.contains(&pushed.host) {
        registry::sign_in_to(logins, &pushed.host)?;
        hosts.push(pushed.host.clone());
    }
    let copy_when_present =
        |client: &RegistryClient| match client.manifest_digest(&pushed.reference)? {
            Some(_) => client.copy(&pushed.reference, targets).map(Some),
            None => Ok(None),
        };
    let Some(copied) = registry::with_client(&hosts, logins, copy_when_present)? else {
        eprintln!(
            "`{}` is not in the registry: pushing the local image",
            pushed.reference
        );
        return Ok(false);
    };
    eprintln!(
        "copied `{}` ({}) to `{}` without docker: {} blob(s) mounted, {} uploaded",
        pushed.reference,
        copied.digest,
        targets.join("`, `"),
        copied.mounted,
        copied.uploaded
    );
    Ok(true)
}

/// Prints the tags of `<registry>/<name>`, one per line.
pub fn tags(context: &Context, name: &str) -> Result<()> {
    names::check_image_name(name).map_err(|why| invalid("image name", name, why))?;
    let registry = context.registry()?;
    let hosts = [registry.host().to_owned()];
    let mut logins = registry::sign_in(&hosts)?;
    let repository = registry.repository(name);
    let tags = registry::with_client(&hosts, &mut logins, |client| client.tags(&repository))?;
    print_stdout(
        &tags
            .iter()
            .map(|tag| format!("{tag}\n"))
            .collect::<String>(),
    );
    Ok(())
}

/// The registry host of a repository reference such as `127.0.0.1:5000/team/app` or
/// `dagster/app` (Docker Hub), checking every path component.
fn repository_host(repository: &str) -> Result<String> {
    let (host, path) = registry::split_repository(repository);
    Registry::parse(host)?;
    for component in path.split('/') {
        names::check_image_name(component).map_err(|why| invalid("repository", repository, why))?;
    }
    Ok(host.to_owned())
}

/// Pushes each publication's targets that the registry does not already have with the local
/// image, with docker; `--dry-run` prints the docker commands instead.
fn publish(
    context: &Context,
    hosts: &[String],
    publications: &[Publication],
    dry_run: bool,
) -> Result<()> {
    if dry_run {
        print_docker_steps(context, hosts, publications);
        return Ok(());
    }
    let sources: Vec<String> = publications.iter().map(|p| p.source.clone()).collect();
    let local = context.docker.local_images(&sources)?;
    let mut logins = registry::sign_in(hosts)?;
    let pending = registry::with_client(hosts, &mut logins, |client| {
        not_up_to_date(client, publications, &local)
    })?;
    push_with_docker(context, hosts, &logins, &pending)
}

/// The publications less the targets that already hold their local image, reported as up to
/// date.
fn not_up_to_date(
    client: &RegistryClient,
    publications: &[Publication],
    local: &LocalImages,
) -> std::result::Result<Vec<Publication>, RemoteError> {
    let mut pending = Vec::new();
    for publication in publications {
        let mut targets = Vec::new();
        for target in &publication.targets {
            match remote_copy(client, target, local.get(&publication.source))? {
                Some(digest) => eprintln!("`{target}` is up to date ({digest}): not pushed"),
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

/// `docker tag` of every target, then `docker push` of every target, per publication.
fn docker_steps(context: &Context, publications: &[Publication]) -> Vec<(String, Command)> {
    let docker = &context.docker;
    let mut steps: Vec<(String, Command)> = Vec::new();
    for publication in publications {
        for target in &publication.targets {
            steps.push((
                format!("tagging `{}` as `{target}`", publication.source),
                docker.tag(&publication.source, target),
            ));
        }
        for target in &publication.targets {
            steps.push((format!("pushing `{target}`"), docker.push(target)));
        }
    }
    steps
}

/// What `push_with_docker` would run, the AWS logins as the pipelines they are.
fn print_docker_steps(context: &Context, hosts: &[String], publications: &[Publication]) {
    let docker = &context.docker;
    let mut out = String::new();
    for host in hosts {
        if let Some(password) = registry::aws_password_needed(host) {
            out += &format!("{password} | {}\n", docker.login(host, ecr::AWS_USER));
        }
    }
    for (_, command) in docker_steps(context, publications) {
        out += &format!("{command}\n");
    }
    print_stdout(&out);
}

/// Tags and pushes `publications` with docker, logged in to the AWS registries of `logins`.
fn push_with_docker(
    context: &Context,
    hosts: &[String],
    logins: &Logins,
    publications: &[Publication],
) -> Result<()> {
    if publications.is_empty() {
        return Ok(());
    }
    super::login::log_docker_in(&context.docker, logins, hosts)?;
    for (step, command) in docker_steps(context, publications) {
        command.run(&step)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_hosts_default_to_docker_hub() {
        assert_eq!(repository_host("dagster/app").unwrap(), "docker.io");
        assert_eq!(
            repository_host("127.0.0.1:5000/a/b").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            repository_host("public.ecr.aws/dagster/app").unwrap(),
            "public.ecr.aws"
        );
        assert_eq!(repository_host("localhost/app").unwrap(), "localhost");
        assert!(repository_host("Dagster/App").is_err());
        assert!(repository_host("host:99999/app").is_err());
    }
}
