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
pub type Wanted = (String, Option<String>);

/// The registry's answer for each of `wanted`, in order. A registry that cannot be asked gives
/// `Lookup::Failed` for its references; only an interruption is an error.
pub fn look_up(
    sign_ins: &SignIns,
    wanted: &[Wanted],
    deadline: Duration,
    concurrency: usize,
    known: &mut KnownManifests,
) -> Result<Vec<Lookup>, RemoteError> {
    let mut references: Vec<&str> = wanted.iter().map(|(r, _)| r.as_str()).collect();
    references.sort_unstable();
    references.dedup();
    let hosts = hosts_of(&references);
    let mut logins = Logins::default();
    let mut refused = BTreeMap::new();
    for host in &hosts {
        if let Err(error) = sign_ins.sign_in_to(&mut logins, host) {
            refused.insert(host.clone(), error.reason());
        }
    }
    let manifests = match RegistryClient::connect(&hosts, &logins, deadline) {
        Ok(client) => client.manifests(&references, concurrency, known)?,
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
            if let Some(reason) = refused.get(&host) {
                return failed(host, reason.clone());
            }
            match manifests.get(reference.as_str()) {
                Some(Ok(Some(manifest))) => for_platform(manifest, platform.as_deref()),
                Some(Ok(None)) => Lookup::Missing,
                Some(Err(error)) => failed(host, error.reason()),
                None => Lookup::Missing,
            }
        })
        .collect())
}

impl RegistryClient {
    /// The manifest of each of `references`, at most `concurrency` requests at once.
    fn manifests<'r>(
        &self,
        references: &[&'r str],
        concurrency: usize,
        known: &KnownManifests,
    ) -> Result<HashMap<&'r str, Result<Option<Manifest>, RemoteError>>, RemoteError> {
        let fetches = references.iter().map(|&reference| async move {
            let action = || format!("reading `{reference}`");
            let result = match parse(reference) {
                Ok(image) => {
                    let known = known.get(reference);
                    self.current_manifest(&action, &image, known).await
                }
                Err(error) => Err(error),
            };
            (reference, result)
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
fn for_platform(manifest: &Manifest, platform: Option<&str>) -> Lookup {
    if manifest.manifests.is_empty() {
        return Lookup::Found {
            digest: manifest.digest.clone(),
            aliases: Vec::new(),
        };
    }
    let wanted = Platform::of(&platform.map_or_else(this_platform, str::to_owned));
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
pub fn this_platform() -> String {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{architecture}")
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
            for_platform(&index(), Some("linux/amd64")),
            found("sha256:amd")
        );
        assert_eq!(
            for_platform(&index(), Some("linux/arm64")),
            found("sha256:arm")
        );
        assert_eq!(
            for_platform(&index(), Some("linux/arm64/v8")),
            found("sha256:arm")
        );
        assert_eq!(
            for_platform(&index(), Some("linux/arm64/v7")),
            Lookup::Missing
        );
        assert_eq!(for_platform(&index(), Some("linux/s390x")), Lookup::Missing);
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
    fn an_unreachable_registry_fails_every_lookup_of_it_without_error() {
        let wanted = vec![
            ("127.0.0.1:9/up/python:3.10".to_owned(), None),
            (
                "127.0.0.1:9/up/python:3.11".to_owned(),
                Some("linux/amd64".to_owned()),
            ),
        ];
        let mut known = KnownManifests::default();
        let sign_ins = SignIns::default();
        let answers = look_up(&sign_ins, &wanted, Duration::from_secs(5), 8, &mut known).unwrap();
        assert_eq!(answers.len(), 2);
        for answer in answers {
            assert!(
                matches!(&answer, Lookup::Failed { registry, .. } if registry == "127.0.0.1:9"),
                "{answer:?}"
            );
        }
    }
}
