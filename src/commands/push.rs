//! `push`, `push-all` and `release`: tag local images with their remote names and push them,
//! logging docker in to AWS registries first.

use std::collections::BTreeSet;

use crate::catalog::{Image, names};
use crate::error::{Error, Result};
use crate::plan::{local_tag, version_tag};
use crate::process::Command;
use crate::registry::{self, Registry};

use super::{Context, invalid, print_stdout};

/// A local image and the remote references it is pushed as.
struct Publication {
    source: String,
    targets: Vec<String>,
}

/// Pushes `python_version` of `name` (or every version) as `<registry>/<name>:py<V>-<timestamp>`,
/// or as `<registry>/<name>:<custom_tag>`.
pub fn push(
    context: &Context,
    name: &str,
    python_version: Option<&str>,
    custom_tag: Option<&str>,
    dry_run: bool,
) -> Result<()> {
    if let Some(tag) = custom_tag {
        names::check_tag(tag).map_err(|why| invalid("tag", tag, why))?;
    }
    let image = context.catalog.image(name)?;
    let registry = context.registry()?;
    let versions: Vec<&str> = match python_version {
        Some(version) => {
            image.version(version)?;
            vec![version]
        }
        None => image.versions.keys().map(String::as_str).collect(),
    };
    let mut publications = Vec::new();
    for version in versions {
        let timestamp = built_timestamp(&image, version)?;
        let tag = custom_tag.map_or_else(|| version_tag(version, timestamp), str::to_owned);
        publications.push(Publication {
            source: local_tag(name, version, timestamp),
            targets: vec![format!("{}:{tag}", registry.repository(name))],
        });
    }
    publish(
        context,
        &[registry.host().to_owned()],
        &publications,
        dry_run,
    )
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
    let image = context.catalog.image(name)?;
    let version = image.first_version();
    let timestamp = built_timestamp(&image, version)?;
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
    let hosts: Vec<String> = hosts.into_iter().collect();
    publish(context, &hosts, &[publication], dry_run)
}

fn built_timestamp<'a>(image: &'a Image, version: &str) -> Result<&'a str> {
    image.last_updated.get(version).ok_or_else(|| {
        Error::Usage(format!(
            "`{}` has not been built for Python {version}: there is no `{version}` in `{}`; build it first",
            image.name,
            image.last_updated_path().display()
        ))
    })
}

/// The registry host of a repository reference such as `127.0.0.1:5000/team/app` or
/// `dagster/app` (Docker Hub), checking every path component.
fn repository_host(repository: &str) -> Result<String> {
    let (host, path) = match repository.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_owned(), rest)
        }
        _ => ("docker.io".to_owned(), repository),
    };
    Registry::parse(&host)?;
    for component in path.split('/') {
        names::check_image_name(component).map_err(|why| invalid("repository", repository, why))?;
    }
    Ok(host)
}

fn publish(
    context: &Context,
    hosts: &[String],
    publications: &[Publication],
    dry_run: bool,
) -> Result<()> {
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
    if dry_run {
        let mut out = String::new();
        for host in hosts {
            if let Some(password) = registry::aws_password_command(host) {
                out += &format!("{password} | {}\n", docker.login(host, "AWS"));
            }
        }
        for (_, command) in &steps {
            out += &format!("{command}\n");
        }
        print_stdout(&out);
        return Ok(());
    }
    for host in hosts {
        registry::login_if_aws(docker, host)?;
    }
    for (step, command) in &steps {
        command.run(step)?;
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
