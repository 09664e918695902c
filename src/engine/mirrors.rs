//! The engine's Docker Hub mirrors, which its own pulls of Docker Hub images ask first: docker's
//! `registry-mirrors` (daemon.json), as `docker info` reports them (`RegistryConfig.Mirrors`,
//! also for a remote daemon), podman's `[[registry.mirror]]` of the `docker.io` registry of
//! registries.conf, as `podman info` reports them (`registries`). `DAGSTER_IMAGE_REGISTRY_MIRRORS`
//! (mirrors separated by commas or spaces, empty for none) replaces the engine's answer.

use serde::Deserialize;
use std::collections::BTreeMap;

use super::Docker;
use crate::debug;

/// The variable that, when set, lists the Docker Hub mirrors instead of the engine.
pub const MIRRORS_VARIABLE: &str = "DAGSTER_IMAGE_REGISTRY_MIRRORS";

/// The parts of `docker info` and `podman info` (`--format '{{json .}}'`) that name mirrors.
#[derive(Deserialize, Default)]
struct Info {
    /// docker's.
    #[serde(rename = "RegistryConfig", default)]
    registry_config: Option<RegistryConfig>,
    /// podman's: registries.conf's registries by prefix (and `search`, a list, not read).
    #[serde(default)]
    registries: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RegistryConfig {
    #[serde(rename = "Mirrors", default)]
    mirrors: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct PodmanRegistry {
    #[serde(rename = "Mirrors", default)]
    mirrors: Option<Vec<PodmanMirror>>,
    #[serde(rename = "MirrorByDigestOnly", default)]
    mirror_by_digest_only: bool,
}

#[derive(Deserialize)]
struct PodmanMirror {
    #[serde(rename = "Location")]
    location: String,
}

impl Docker {
    /// The Docker Hub mirrors of the engine (`HOST[:PORT]` each, in the engine's order); none
    /// when it has none or cannot say (said under `--debug`).
    pub fn hub_mirrors(&self) -> Vec<String> {
        if let Ok(value) = std::env::var(MIRRORS_VARIABLE) {
            return mirrors_listed(&value);
        }
        let command = self.command(["info", "--format", "{{json .}}"]);
        match command.output("asking the engine for its registry mirrors", None) {
            Ok(json) => mirrors_in_info(&json).unwrap_or_else(|why| {
                debug::line(format_args!(
                    "cannot read the mirrors of `{command}`: {why}"
                ));
                Vec::new()
            }),
            Err(error) => {
                debug::line(format_args!("{error}: asking Docker Hub itself"));
                Vec::new()
            }
        }
    }
}

/// The mirrors of `DAGSTER_IMAGE_REGISTRY_MIRRORS`.
fn mirrors_listed(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|mirror| !mirror.is_empty())
        .map(mirror_host)
        .collect()
}

/// The Docker Hub mirrors an engine's `info` (JSON) names.
fn mirrors_in_info(json: &str) -> Result<Vec<String>, serde_json::Error> {
    let info: Info = serde_json::from_str(json)?;
    if let Some(mirrors) = info.registry_config.and_then(|config| config.mirrors) {
        return Ok(mirrors.iter().map(|m| mirror_host(m)).collect());
    }
    let registries = info.registries.unwrap_or_default();
    let hub = ["docker.io", "index.docker.io", "registry-1.docker.io"]
        .iter()
        .find_map(|prefix| registries.get(*prefix));
    let Some(hub) = hub else {
        return Ok(Vec::new());
    };
    let hub: PodmanRegistry = serde_json::from_value(hub.clone())?;
    if hub.mirror_by_digest_only {
        // Its mirrors serve pulls by digest only; the lookups are of tags.
        return Ok(Vec::new());
    }
    Ok(hub
        .mirrors
        .unwrap_or_default()
        .iter()
        .map(|m| mirror_host(&m.location))
        .collect())
}

/// `HOST[:PORT]` of a mirror given as a URL (`https://mirror.example/`) or a location.
fn mirror_host(mirror: &str) -> String {
    let without_scheme = mirror.split_once("://").map_or(mirror, |(_, rest)| rest);
    without_scheme.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docker info --format '{{json .}}'` of docker 20.10, trimmed, with `registry-mirrors`
    /// in daemon.json.
    const DOCKER_INFO: &str = r#"{"ID":"X","Containers":3,"Driver":"overlay2",
        "RegistryConfig":{"AllowNondistributableArtifactsCIDRs":[],
        "IndexConfigs":{"docker.io":{"Name":"docker.io","Mirrors":["https://mirror.gcr.io/",
        "http://127.0.0.1:5001/"],"Secure":true,"Official":true}},
        "InsecureRegistryCIDRs":["127.0.0.0/8"],
        "Mirrors":["https://mirror.gcr.io/","http://127.0.0.1:5001/"]},"ServerVersion":"20.10.24"}"#;

    /// `podman info --format '{{json .}}'` of podman 4.3, trimmed, with a registries.conf whose
    /// `docker.io` registry has two mirrors.
    const PODMAN_INFO: &str = r#"{"host":{"arch":"amd64"},"store":{},"registries":{
        "docker.io":{"Prefix":"docker.io","Location":"docker.io","Insecure":false,
        "PullFromMirror":"","Mirrors":[{"Location":"127.0.0.1:5000","Insecure":true,
        "PullFromMirror":""},{"Location":"mirror.example/hub","Insecure":false,
        "PullFromMirror":""}],"Blocked":false,"MirrorByDigestOnly":false},
        "search":["docker.io"]},"plugins":{},"version":{"Version":"4.3.1"}}"#;

    #[test]
    fn reads_dockers_registry_mirrors_as_hosts() {
        assert_eq!(
            mirrors_in_info(DOCKER_INFO).unwrap(),
            ["mirror.gcr.io", "127.0.0.1:5001"]
        );
        let none = r#"{"RegistryConfig":{"IndexConfigs":{},"Mirrors":[]}}"#;
        assert!(mirrors_in_info(none).unwrap().is_empty());
    }

    #[test]
    fn reads_podmans_docker_io_mirrors_from_its_registries() {
        assert_eq!(
            mirrors_in_info(PODMAN_INFO).unwrap(),
            ["127.0.0.1:5000", "mirror.example/hub"]
        );
        let other_registry = PODMAN_INFO.replace("\"docker.io\":{", "\"quay.io\":{");
        assert!(mirrors_in_info(&other_registry).unwrap().is_empty());
        let no_mirrors = r#"{"registries":{"docker.io":{"Mirrors":null},"search":[]}}"#;
        assert!(mirrors_in_info(no_mirrors).unwrap().is_empty());
        let by_digest = PODMAN_INFO.replace(
            "\"MirrorByDigestOnly\":false",
            "\"MirrorByDigestOnly\":true",
        );
        assert!(mirrors_in_info(&by_digest).unwrap().is_empty());
        assert!(mirrors_in_info(r#"{"host":{}}"#).unwrap().is_empty());
    }

    #[test]
    fn the_variable_lists_mirrors_by_commas_or_spaces() {
        assert_eq!(
            mirrors_listed("https://a.example/, 127.0.0.1:5001  b.example"),
            ["a.example", "127.0.0.1:5001", "b.example"]
        );
        assert!(mirrors_listed("").is_empty());
    }
}
