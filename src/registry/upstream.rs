//! The digests of upstream images: for each reference and platform, the manifest digest the
//! registry has for it now (for an index, that platform's manifest), asked concurrently (at most
//! `concurrency` requests at once), each reference once, with the credentials and retries of a
//! push. A manifest read by an earlier run ([`KnownManifests`]) is only checked with a `HEAD`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;

use super::client::{RegistryClient, parse};
use super::credentials::Logins;
use super::failure::RemoteError;
use super::known::KnownManifests;
use super::manifest::Manifest;
use super::sign_in::SignIns;
use crate::reference::Platform;
use crate::upstream::Lookup;

/// One thing to look up: an image reference and the platform of the build that uses it (None:
/// this machine's).
pub type Wanted = (String, Option<Platform>);

/// The registry's answer for each of `wanted`, in order; a Docker Hub image is asked of each of
/// `hub_mirrors` first (`HOST[:PORT][/PATH]`), then of Docker Hub when none has it, as the
/// engine's own pulls do. A registry that cannot be asked gives `Lookup::Failed` for its
/// references; only an interruption is an error.
pub fn look_up(
    sign_ins: &SignIns,
    wanted: &[Wanted],
    deadline: Duration,
    concurrency: usize,
    known: &mut KnownManifests,
    hub_mirrors: &[String],
) -> Result<Vec<Lookup>, RemoteError> {
    let mut references: Vec<&str> = wanted.iter().map(|(r, _)| r.as_str()).collect();
    references.sort_unstable();
    references.dedup();
    let hub_mirrors: &[String] = match references.iter().any(|r| is_docker_hub(r)) {
        true => hub_mirrors,
        false => &[],
    };
    let mut hosts = hosts_of(&references);
    hosts.extend(hub_mirrors.iter().map(|m| host_of(&format!("{m}/x"))));
    hosts.sort_unstable();
    hosts.dedup();
    let mut logins = Logins::default();
    let mut refused = BTreeMap::new();
    for host in &hosts {
        if let Err(error) = sign_ins.sign_in_to(&mut logins, host) {
            refused.insert(host.clone(), error.reason());
        }
    }
    let manifests = match RegistryClient::connect(&hosts, &logins, deadline) {
        Ok(client) => client.through_mirrors(&references, hub_mirrors, concurrency, known)?,
        Err(error) => return Ok(failed_all(wanted, &error)),
    };
    for (reference, manifest) in &manifests {
        if let Ok(Some(manifest)) = manifest {
            known.record(reference, manifest);
        }
    }
    known.save();
    Ok(wanted
        .iter()
        .map(|(reference, platform)| {
            let host = host_of(reference);
            let answer = manifests.get(reference.as_str());
            match (answer, refused.get(&host)) {
                (Some(Ok(Some(manifest))), _) => for_platform(manifest, platform.as_ref()),
                (_, Some(reason)) => failed(host, reason.clone()),
                (Some(Ok(None)) | None, None) => Lookup::Missing,
                (Some(Err(error)), None) => failed(host, error.reason()),
            }
        })
        .collect())
}

/// The answers about `references`, by reference.
type Answers<'r> = HashMap<&'r str, Result<Option<Manifest>, RemoteError>>;

impl RegistryClient {
    /// The manifest of each of `references`; those of Docker Hub asked of each of `hub_mirrors`
    /// in turn, then of Docker Hub for those no mirror had.
    fn through_mirrors<'r>(
        &self,
        references: &[&'r str],
        hub_mirrors: &[String],
        concurrency: usize,
        known: &KnownManifests,
    ) -> Result<Answers<'r>, RemoteError> {
        let (mut pending, direct): (Vec<&str>, Vec<&str>) = references
            .iter()
            .partition(|r| !hub_mirrors.is_empty() && is_docker_hub(r));
        let asked = direct.iter().map(|&r| (r, r.to_owned())).collect();
        let mut answers = self.manifests(asked, concurrency, known)?;
        for mirror in hub_mirrors {
            let asked = pending.iter().map(|&r| (r, at_mirror(r, mirror))).collect();
            let mut found = self.manifests(asked, concurrency, known)?;
            pending.retain(|r| !matches!(found.get(r), Some(Ok(Some(_)))));
            found.retain(|_, answer| matches!(answer, Ok(Some(_))));
            answers.extend(found);
        }
        let asked = pending.iter().map(|&r| (r, r.to_owned())).collect();
        answers.extend(self.manifests(asked, concurrency, known)?);
        Ok(answers)
    }

    /// The manifest of each reference of `asked` (its key, and the reference asked for it, at
    /// a mirror or not), by key, at most `concurrency` requests at once.
    fn manifests<'r>(
        &self,
        asked: Vec<(&'r str, String)>,
        concurrency: usize,
        known: &KnownManifests,
    ) -> Result<Answers<'r>, RemoteError> {
        let fetches = asked.into_iter().map(|(key, reference)| async move {
            let action = || format!("reading `{reference}`");
            let result = match parse(&reference) {
                Ok(image) => {
                    let known = known.get(key);
                    self.current_manifest(&action, &image, known).await
                }
                Err(error) => Err(error),
            };
            say_asked(&reference, &result);
            (key, result)
        });
        let all = futures_util::stream::iter(fetches)
            .buffer_unordered(concurrency.max(1))
            .collect::<Vec<_>>();
        let answers = self.block_on(async { Ok(all.await) })?;
        if answers
            .iter()
            .any(|(_, result)| matches!(result, Err(RemoteError::Interrupted)))
        {
            return Err(RemoteError::Interrupted);
        }
        Ok(answers.into_iter().collect())
    }
}

/// Says, under `--debug`, which registry was asked about `reference` and what it answered.
fn say_asked(reference: &str, result: &Result<Option<Manifest>, RemoteError>) {
    let answer = match result {
        Ok(Some(manifest)) => format!("`{}`", manifest.digest),
        Ok(None) => "none".to_owned(),
        Err(error) => error.reason(),
    };
    crate::debug::line(format_args!(
        "asked registry `{}` for `{reference}`: {answer}",
        host_of(reference)
    ));
}

/// Whether `reference` is of an image on Docker Hub, as docker reads it.
pub fn is_docker_hub(reference: &str) -> bool {
    host_of(reference) == super::DOCKER_HUB_HOST
}

/// The Docker Hub `reference` as `mirror` serves it: `python:3.10` at `mirror/library/python:3.10`.
fn at_mirror(reference: &str, mirror: &str) -> String {
    let (name, pin) = match reference.split_once('@') {
        Some((name, digest)) => (name, format!("@{digest}")),
        None => match super::split_tag(reference) {
            (name, Some(tag)) => (name, format!(":{tag}")),
            (name, None) => (name, String::new()),
        },
    };
    let path = super::split_repository(name).1;
    let path = match path.contains('/') {
        true => path.to_owned(),
        false => format!("library/{path}"),
    };
    format!("{mirror}/{path}{pin}")
}

impl RegistryClient {
    /// The manifest `image` names now: `known` when a `HEAD` gives its digest still, else as
    /// read (`GET`).
    async fn current_manifest(
        &self,
        action: &dyn Fn() -> String,
        image: &oci_client::Reference,
        known: Option<Manifest>,
    ) -> Result<Option<Manifest>, RemoteError> {
        if let Some(known) = known {
            let auth = self.auth(image);
            let digest = self
                .lookup(action, image, async || {
                    self.oci.fetch_manifest_digest(image, &auth).await
                })
                .await?;
            match digest {
                None => return Ok(None),
                Some(digest) if digest == known.digest => return Ok(Some(known)),
                Some(_) => {}
            }
        }
        self.fetch_manifest(action, image).await
    }
}

fn failed(registry: String, reason: String) -> Lookup {
    Lookup::Failed { registry, reason }
}

fn failed_all(wanted: &[Wanted], error: &RemoteError) -> Vec<Lookup> {
    wanted
        .iter()
        .map(|(reference, _)| failed(host_of(reference), error.reason()))
        .collect()
}

/// The registry host of a reference, as docker reads it (`docker.io` when it names none).
fn host_of(reference: &str) -> String {
    let (repository, _) = super::split_tag(reference);
    super::split_repository(repository).0.to_owned()
}

fn hosts_of(references: &[&str]) -> Vec<String> {
    let mut hosts: Vec<String> = references.iter().map(|r| host_of(r)).collect();
    hosts.sort_unstable();
    hosts.dedup();
    hosts
}

/// The entries of an index, with their platforms.
#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    digest: String,
    platform: Option<EntryPlatform>,
}

#[derive(Deserialize)]
struct EntryPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// The answer for `platform` (None: this machine's) of a manifest: its own digest for an image
/// manifest, that of the platform's entry for an index (Missing when it lists none).
fn for_platform(manifest: &Manifest, platform: Option<&Platform>) -> Lookup {
    if manifest.manifests.is_empty() {
        return Lookup::Found {
            digest: manifest.digest.clone(),
            aliases: Vec::new(),
        };
    }
    let wanted = platform.cloned().unwrap_or_else(this_platform);
    let entries = serde_json::from_slice::<Index>(&manifest.bytes)
        .map(|index| index.manifests)
        .unwrap_or_default();
    let entry = entries
        .iter()
        .find(|e| e.platform.as_ref().is_some_and(|p| p.matches(&wanted)));
    match entry {
        Some(entry) => Lookup::Found {
            digest: entry.digest.clone(),
            aliases: vec![manifest.digest.clone()],
        },
        None => Lookup::Missing,
    }
}

impl EntryPlatform {
    /// Whether this is `wanted` (`os/arch[/variant]`); a wanted platform without a variant takes
    /// any.
    fn matches(&self, wanted: &Platform) -> bool {
        wanted.os() == self.os
            && wanted.arch() == self.architecture
            && (wanted.variant()).is_none_or(|v| self.variant.as_deref() == Some(v))
    }
}

/// This machine's platform in docker's words (`linux/amd64`, `linux/arm64`).
pub fn this_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    Platform::from_parts("linux", architecture, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 5, "digest": "sha256:amd",
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 5, "digest": "sha256:arm",
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}]}"#;

    fn platform(value: &str) -> Platform {
        Platform::parse(value).unwrap()
    }

    fn index() -> Manifest {
        Manifest::parse(INDEX.as_bytes().to_vec(), "sha256:index".into()).unwrap()
    }

    #[test]
    fn an_index_answers_with_the_manifest_of_the_platform() {
        let found = |digest: &str| Lookup::Found {
            digest: digest.into(),
            aliases: vec!["sha256:index".into()],
        };
        assert_eq!(
            for_platform(&index(), Some(&platform("linux/amd64"))),
            found("sha256:amd")
        );
        assert_eq!(
            for_platform(&index(), Some(&platform("linux/arm64"))),
            found("sha256:arm")
        );
        assert_eq!(
            for_platform(&index(), Some(&platform("linux/arm64/v8"))),
            found("sha256:arm")
        );
        assert_eq!(
            for_platform(&index(), Some(&platform("linux/arm64/v7"))),
            Lookup::Missing
        );
        assert_eq!(
            for_platform(&index(), Some(&platform("linux/s390x"))),
            Lookup::Missing
        );
    }

    #[test]
    fn an_image_manifest_answers_with_its_own_digest() {
        let text = r#"{"schemaVersion": 2, "config": {"mediaType": "x", "size": 1, "digest": "sha256:c"}, "layers": []}"#;
        let manifest = Manifest::parse(text.as_bytes().to_vec(), "sha256:m".into()).unwrap();
        assert_eq!(
            for_platform(&manifest, None),
            Lookup::Found {
                digest: "sha256:m".into(),
                aliases: Vec::new()
            }
        );
    }

    #[test]
    fn references_are_grouped_by_the_registry_docker_would_ask() {
        assert_eq!(host_of("python:3.10-slim"), "docker.io");
        assert_eq!(host_of("127.0.0.1:5000/up/python:3.10"), "127.0.0.1:5000");
        assert_eq!(
            hosts_of(&["a:1", "b/c:2", "localhost:5000/x:1"]),
            ["docker.io", "localhost:5000"]
        );
    }

    #[test]
    fn docker_hub_images_are_asked_of_a_mirror_under_their_full_path() {
        let mirror = "127.0.0.1:5001";
        assert_eq!(
            at_mirror("python:3.10-slim", mirror),
            "127.0.0.1:5001/library/python:3.10-slim"
        );
        assert_eq!(
            at_mirror("dagster/app:py3.9-T", "mirror.example/hub"),
            "mirror.example/hub/dagster/app:py3.9-T"
        );
        assert_eq!(
            at_mirror("docker.io/library/busybox@sha256:abc", mirror),
            "127.0.0.1:5001/library/busybox@sha256:abc"
        );
        assert_eq!(
            at_mirror("busybox", mirror),
            "127.0.0.1:5001/library/busybox"
        );
        assert!(is_docker_hub("busybox:1") && is_docker_hub("docker.io/x/y:1"));
        assert!(!is_docker_hub("127.0.0.1:5000/x:1") && !is_docker_hub("ghcr.io/x:1"));
    }

    #[test]
    fn an_unreachable_registry_fails_every_lookup_of_it_without_error() {
        let wanted = vec![
            ("127.0.0.1:9/up/python:3.10".to_owned(), None),
            (
                "127.0.0.1:9/up/python:3.11".to_owned(),
                Some(Platform::linux_amd64()),
            ),
        ];
        let mut known = KnownManifests::default();
        let sign_ins = SignIns::default();
        let answers = look_up(
            &sign_ins,
            &wanted,
            Duration::from_secs(5),
            8,
            &mut known,
            &[],
        )
        .unwrap();
        assert_eq!(answers.len(), 2);
        for answer in answers {
            assert!(
                matches!(&answer, Lookup::Failed { registry, .. } if registry == "127.0.0.1:9"),
                "{answer:?}"
            );
        }
    }
}
