//! Whether a registry tag already holds a local image, so that pushing it again can be skipped.
//!
//! The registry digest docker recorded when it pushed the image (`RepoDigests`,
//! `REPOSITORY@sha256:...`) is the exact test: the tag names the very manifest docker uploaded.
//! Docker forgets it when the last tag of that repository is removed locally, and podman never
//! records it, so a tag whose manifest has the local image's ID as its config digest (the same
//! config, hence the same layers) also counts.

use crate::engine::LocalImage;
use crate::registry::{RegistryClient, RemoteError, split_tag};

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
