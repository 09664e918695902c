//! The command line validated once into typed values, before any work: clap's arguments
//! (`cli.rs`) go in, the options the commands take come out, and a value that cannot be used is
//! bad input naming it. Nothing past this module sees a clap type.

use std::collections::BTreeSet;

use crate::cli;
use crate::error::Result;
use crate::names;
pub use crate::ops::BuildSettings;
use crate::publish::SnapType;
use crate::reference::{ImageName, Invalid, Platform, PythonVersion, Tag, Timestamp};
use crate::registry::{self, Registry};

/// `-t` (else now), `--dagster-version` and `--platform` of `build`, `build-all`, `bake` and
/// `pipeline`.
pub fn build_settings(options: cli::BuildOptions) -> Result<BuildSettings> {
    Ok(BuildSettings {
        timestamp: Timestamp::given_or_now(options.timestamp.as_deref())?,
        dagster_version: options.dagster_version,
        platforms: options.platforms,
    })
}

/// `--custom-tag` of `push`.
pub fn custom_tag(given: Option<String>) -> Result<Option<Tag>> {
    Ok(given.map(|tag| Tag::parse("tag", &tag)).transpose()?)
}

/// A release's `--dagster-version`, which becomes a tag.
pub fn version_tag(given: &str) -> Result<Tag> {
    Ok(Tag::parse("version tag", given)?)
}

/// A repository a release publishes to (`--to`), and its registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub repository: String,
    pub host: String,
}

/// `--to` repositories, each once, in order, every path component checked.
pub fn destinations(given: Vec<String>) -> Result<Vec<Destination>> {
    let mut seen = BTreeSet::new();
    given
        .into_iter()
        .filter(|repository| seen.insert(repository.clone()))
        .map(|repository| {
            let host = repository_host(&repository)?;
            Ok(Destination { repository, host })
        })
        .collect()
}

/// The registry host of a repository reference such as `127.0.0.1:5000/team/app` or
/// `dagster/app` (Docker Hub), checking every path component.
fn repository_host(repository: &str) -> Result<String> {
    let (host, path) = registry::split_repository(repository);
    Registry::parse(host)?;
    for component in path.split('/') {
        names::check_image_name(component)
            .map_err(|why| Invalid::new("repository", repository, why))?;
    }
    Ok(host.to_owned())
}

/// One Python version of an image, built at a timestamp on another machine (`record`, `pull`,
/// `index`).
#[derive(Debug, Clone)]
pub struct BuiltElsewhere {
    pub name: ImageName,
    pub python_version: PythonVersion,
    pub timestamp: Timestamp,
}

impl BuiltElsewhere {
    pub fn from_cli(built: cli::BuiltElsewhere) -> Result<Self> {
        let timestamp = Timestamp::parse(&built.timestamp)?;
        Ok(Self {
            name: ImageName::parse(&built.name)?,
            python_version: PythonVersion::new(built.python_version),
            timestamp,
        })
    }
}

/// `--name` of a command: an image name, checked before any file is read.
pub fn image_name(given: &str) -> Result<ImageName> {
    Ok(ImageName::parse(given)?)
}

/// An optional `--name` (`build-all`, `bake`, `pipeline`), checked when given.
pub fn image_name_if_given(given: Option<String>) -> Result<Option<ImageName>> {
    given.as_deref().map(image_name).transpose()
}

/// `--agent KEY=VALUE` of `pipeline`, as the pairs they are; a key Buildkite would not take is
/// bad input.
pub fn agent_tags(given: &[String]) -> Result<Vec<(String, String)>> {
    given.iter().map(|agent| Ok(agent_tag(agent)?)).collect()
}

fn agent_tag(agent: &str) -> std::result::Result<(String, String), Invalid> {
    let valid_key = |key: &str| {
        !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match agent.split_once('=') {
        Some((key, value)) if valid_key(key) => Ok((key.to_owned(), value.to_owned())),
        _ => Err(Invalid::new(
            "agent tag",
            agent,
            "it must be KEY=VALUE, the key of letters, digits, `_`, `-` and `.`",
        )),
    }
}

/// `publish`'s options, checked.
#[derive(Debug, Clone)]
pub struct Publish {
    pub snap_type: SnapType,
    pub platforms: Vec<Platform>,
    pub git_hash: Option<String>,
    pub dagster_version: Option<String>,
    pub timestamp: Option<Timestamp>,
    pub resume: bool,
    pub restart: bool,
    pub dry_run: bool,
}

impl Publish {
    pub fn from_cli(args: cli::PublishArgs) -> Result<Self> {
        Ok(Self {
            snap_type: snap_type(args.snap_type),
            platforms: args.platforms,
            git_hash: args.git_hash,
            dagster_version: args.dagster_version,
            timestamp: args
                .timestamp
                .as_deref()
                .map(Timestamp::parse)
                .transpose()?,
            resume: args.resume,
            restart: args.restart,
            dry_run: args.dry_run,
        })
    }
}

pub fn snap_type(given: cli::SnapType) -> SnapType {
    match given {
        cli::SnapType::Integration => SnapType::Integration,
        cli::SnapType::Unit => SnapType::Unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_tags_are_key_value_pairs_with_buildkite_keys() {
        assert_eq!(
            agent_tags(&["queue=arm=64".into()]).unwrap(),
            [("queue".to_owned(), "arm=64".to_owned())]
        );
        for bad in ["queue", "=x", "a b=c"] {
            assert!(agent_tags(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }

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

    #[test]
    fn destinations_are_taken_once_each_in_order() {
        let given = ["b/app", "a/app", "b/app"].map(str::to_owned).to_vec();
        let repositories: Vec<String> = destinations(given)
            .unwrap()
            .into_iter()
            .map(|d| d.repository)
            .collect();
        assert_eq!(repositories, ["b/app", "a/app"]);
    }
}
