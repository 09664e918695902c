//! The engine's answers about local images, read into one typed form whatever the engine: Docker
//! and podman both describe images with `image inspect` as a JSON array, but podman names local
//! images `localhost/<name>`, writes image IDs without `sha256:` and says `image not known` where
//! docker says `No such image`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::reference::Platform;

/// A local image as the engine describes it, in docker's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    /// `sha256:...`, the digest of its config.
    pub id: String,
    /// Every `repository:tag` naming it, as docker would write them (`dagster/app:py3.9-T`).
    pub tags: Vec<String>,
    /// `REPOSITORY@sha256:...` for each repository docker pushed it to or pulled it from.
    pub repo_digests: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// In bytes, layers shared with other images included.
    pub size: u64,
    /// `os/architecture[/variant]`, e.g. `linux/arm64`.
    pub platform: Platform,
}

/// The answer to one `image inspect` of several references: the images that exist.
#[derive(Debug, Default)]
pub struct LocalImages {
    images: Vec<LocalImage>,
}

impl LocalImages {
    /// The image `reference` (`repository:tag`) names, when it exists here.
    pub fn get(&self, reference: &str) -> Option<&LocalImage> {
        let wanted = familiar(reference);
        self.images
            .iter()
            .find(|image| image.tags.contains(&wanted))
    }

    /// Adds `digests` (`REPOSITORY@DIGEST`) to the image `id`, when it is among these.
    pub fn add_repo_digests(&mut self, id: &str, digests: impl IntoIterator<Item = String>) {
        if let Some(image) = self.images.iter_mut().find(|image| image.id == id) {
            for digest in digests {
                if !image.repo_digests.contains(&digest) {
                    image.repo_digests.push(digest);
                }
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &LocalImage> {
        self.images.iter()
    }

    /// Adds the answer of another query (of other references); an image both found is kept
    /// once.
    pub fn extend(&mut self, other: LocalImages) {
        for image in other.images {
            if !self.images.iter().any(|known| known.id == image.id) {
                self.images.push(image);
            }
        }
    }
}

/// One image of `image inspect`'s JSON array; the fields docker and podman share.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<InspectedConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedConfig {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Reads the output of `image inspect REFERENCE...` (a JSON array; empty output when none of
/// them exists).
pub fn parse_inspect(output: &str) -> Result<LocalImages, serde_json::Error> {
    if output.trim().is_empty() {
        return Ok(LocalImages::default());
    }
    let inspected: Vec<Inspected> = serde_json::from_str(output)?;
    Ok(LocalImages {
        images: inspected.into_iter().map(LocalImage::from).collect(),
    })
}

impl From<Inspected> for LocalImage {
    fn from(inspected: Inspected) -> Self {
        let platform = Platform::from_parts(
            &inspected.os,
            &inspected.architecture,
            inspected.variant.as_deref(),
        );
        Self {
            id: image_id(&inspected.id),
            tags: names(inspected.repo_tags),
            repo_digests: registry_digests(inspected.repo_digests),
            labels: inspected.config.and_then(|c| c.labels).unwrap_or_default(),
            size: inspected.size,
            platform,
        }
    }
}

/// The digests an image is known by in registries: podman's `localhost/NAME@DIGEST` is its own
/// digest of a local image, which no registry holds.
fn registry_digests(listed: Option<Vec<String>>) -> Vec<String> {
    let listed = listed.unwrap_or_default();
    let remote = listed.into_iter().filter(|d| !d.starts_with("localhost/"));
    names(Some(remote.collect()))
}

fn names(listed: Option<Vec<String>>) -> Vec<String> {
    listed
        .unwrap_or_default()
        .iter()
        .map(|name| familiar(name))
        .collect()
}

/// The IDs of the images `image rm` says it deleted (`Deleted: ID` lines), as docker writes them.
pub fn deleted_ids(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("Deleted: "))
        .map(image_id)
        .collect()
}

/// An image ID as docker writes it: `sha256:<hex>` (podman writes the hex alone).
pub fn image_id(id: &str) -> String {
    let id = id.trim();
    if id.contains(':') {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}

/// A reference as docker writes it: without podman's `localhost/` for local names, and without
/// the `docker.io/` (and `library/`) that both may spell out for Docker Hub.
pub fn familiar(reference: &str) -> String {
    if let Some(local) = reference.strip_prefix("localhost/") {
        return local.to_owned();
    }
    let hub = ["docker.io/", "index.docker.io/"]
        .iter()
        .find_map(|prefix| reference.strip_prefix(prefix));
    match hub {
        Some(rest) => rest.strip_prefix("library/").unwrap_or(rest).to_owned(),
        None => reference.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER: &str = r#"[{"Id":"sha256:aa","RepoTags":["dagster/app:py3.9-T","reg/app:x"],
        "RepoDigests":["reg/app@sha256:m1"],"Size":12,"Os":"linux","Architecture":"amd64",
        "Config":{"Labels":{"io.dagster-image.input-digest":"blake3:d"}}},
        {"Id":"sha256:bb","RepoTags":null,"RepoDigests":null,"Size":1,"Os":"linux",
        "Architecture":"arm64","Variant":"v8","Config":{"Labels":null}}]"#;

    const PODMAN: &str = r#"[{"Id":"25176334f2","RepoTags":["localhost/dagster/app:py3.9-T",
        "docker.io/library/busybox:latest"],"RepoDigests":["localhost/dagster/app@sha256:7e"],
        "Size":2138363,"Os":"linux","Architecture":"amd64","Config":{"Labels":{"a.b":"c"}}}]"#;

    #[test]
    fn reads_docker_images_with_labels_digests_and_platform() {
        let images = parse_inspect(DOCKER).unwrap();
        let app = images.get("dagster/app:py3.9-T").unwrap();
        assert_eq!(app.id, "sha256:aa");
        assert_eq!(app.repo_digests, ["reg/app@sha256:m1"]);
        assert_eq!(app.labels["io.dagster-image.input-digest"], "blake3:d");
        assert_eq!(
            (app.size, app.platform.to_string()),
            (12, "linux/amd64".into())
        );
        assert!(images.get("dagster/app:py3.10-T").is_none());
        let untagged = images.iter().nth(1).unwrap();
        assert!(untagged.tags.is_empty() && untagged.labels.is_empty());
        assert_eq!(untagged.platform.to_string(), "linux/arm64/v8");
    }

    #[test]
    fn reads_podman_names_and_ids_as_docker_writes_them() {
        let images = parse_inspect(PODMAN).unwrap();
        let app = images.get("dagster/app:py3.9-T").unwrap();
        assert_eq!(app.id, "sha256:25176334f2");
        assert_eq!(app.tags, ["dagster/app:py3.9-T", "busybox:latest"]);
        assert!(
            app.repo_digests.is_empty(),
            "podman's own digest of a local image"
        );
        assert!(images.get("localhost/dagster/app:py3.9-T").is_some());
        assert!(images.get("busybox:latest").is_some());
    }

    #[test]
    fn nothing_found_is_an_empty_answer_and_garbage_an_error() {
        assert_eq!(parse_inspect("").unwrap().iter().count(), 0);
        assert_eq!(parse_inspect("[]\n").unwrap().iter().count(), 0);
        assert!(parse_inspect("Error: boom").is_err());
    }

    #[test]
    fn reads_the_ids_docker_and_podman_say_they_deleted() {
        let docker = "Untagged: dagster/a:py3.9-T\nDeleted: sha256:ab\nDeleted: sha256:cd\n";
        assert_eq!(deleted_ids(docker), ["sha256:ab", "sha256:cd"]);
        let podman = "Untagged: localhost/dagster/a:py3.9-T\nDeleted: ab\n";
        assert_eq!(deleted_ids(podman), ["sha256:ab"]);
    }

    #[test]
    fn names_are_familiar_whatever_the_engine_spelled() {
        assert_eq!(familiar("localhost/dagster/a:1"), "dagster/a:1");
        assert_eq!(familiar("docker.io/library/python:3.10"), "python:3.10");
        assert_eq!(familiar("docker.io/dagster/a:1"), "dagster/a:1");
        assert_eq!(familiar("127.0.0.1:5000/a:1"), "127.0.0.1:5000/a:1");
        assert_eq!(image_id("ab12"), "sha256:ab12");
        assert_eq!(image_id("sha256:ab12"), "sha256:ab12");
    }
}
