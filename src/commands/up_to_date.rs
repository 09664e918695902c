//! Whether a registry tag already holds a local image, so that pushing it again can be skipped.
//!
//! The registry digest docker recorded when it pushed the image (`RepoDigests`,
//! `REPOSITORY@sha256:...`) is the exact test: the tag names the very manifest docker uploaded.
//! Docker forgets it when the last tag of that repository is removed locally, so a tag whose
//! manifest has the local image's ID as its config digest (the same config, hence the same layers)
//! also counts.

use std::collections::HashMap;

use crate::engine::Docker;
use crate::error::Result;
use crate::registry::{RegistryClient, RemoteError, split_tag};

/// What docker knows of a local image that identifies it in registries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    /// `sha256:...`: the digest of its config.
    pub id: String,
    /// `REPOSITORY@sha256:...` for each repository it was pushed to or pulled from.
    pub repo_digests: Vec<String>,
}

/// The local images of `references` that exist, by reference.
pub fn local_images(docker: &Docker, references: &[String]) -> Result<HashMap<String, LocalImage>> {
    let listing = docker
        .image_digests(references)
        .output_tolerating("reading the registry digests of local images", |line| {
            line.contains("No such image") || line.trim().is_empty()
        })?;
    Ok(parse_image_digests(&listing, references))
}

/// The digest of `target`'s manifest when that tag already holds `local`; None when it does
/// not, or when there is no local image to compare with (the push then says what is wrong).
pub fn remote_copy(
    client: &RegistryClient,
    target: &str,
    local: Option<&LocalImage>,
) -> std::result::Result<Option<String>, RemoteError> {
    let Some(local) = local else {
        return Ok(None);
    };
    let Some(remote) = client.manifest_digest(target)? else {
        return Ok(None);
    };
    let (repository, _tag) = split_tag(target);
    let pushed_by_docker = format!("{repository}@{remote}");
    if local.repo_digests.contains(&pushed_by_docker) {
        return Ok(Some(remote));
    }
    let same_config = client.config_digest(target)?.as_deref() == Some(local.id.as_str());
    Ok(same_config.then_some(remote))
}

/// Reads `image_digests` lines (`TAGS_JSON ID DIGESTS_JSON`) into the images of `wanted`.
fn parse_image_digests(listing: &str, wanted: &[String]) -> HashMap<String, LocalImage> {
    let mut images = HashMap::new();
    for line in listing.lines() {
        let mut fields = line.split_whitespace();
        let (Some(tags), Some(id), Some(digests)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(tags), Ok(repo_digests)) = (
            serde_json::from_str::<Vec<String>>(tags),
            serde_json::from_str::<Vec<String>>(digests),
        ) else {
            continue;
        };
        let image = LocalImage {
            id: id.to_owned(),
            repo_digests,
        };
        for tag in tags.into_iter().filter(|tag| wanted.contains(tag)) {
            images.insert(tag, image.clone());
        }
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_and_registry_digests_of_the_wanted_tags_only() {
        let listing = "[\"dagster/a:py3.9-T\",\"other:x\"] sha256:id1 [\"r/a@sha256:m1\"]\n\
                       [\"dagster/b:py3.9-T\"] sha256:id2 []\n\
                       garbage\n";
        let wanted = [
            "dagster/a:py3.9-T".to_owned(),
            "dagster/b:py3.9-T".to_owned(),
        ];
        let images = parse_image_digests(listing, &wanted);
        assert_eq!(images.len(), 2);
        assert_eq!(
            images["dagster/a:py3.9-T"],
            LocalImage {
                id: "sha256:id1".into(),
                repo_digests: vec!["r/a@sha256:m1".into()],
            }
        );
        assert!(images["dagster/b:py3.9-T"].repo_digests.is_empty());
    }
}
