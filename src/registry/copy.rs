//! Copying an image inside and between registries without a daemon: the blobs it needs are
//! mounted from the source repository when both are in one registry (a registry that answers a
//! mount with 202 has started an upload instead, and gets the blob copied), copied through this
//! process otherwise, then the manifest is pushed as the same bytes, so it keeps its digest.

use std::collections::BTreeSet;

use futures_util::TryStreamExt;
use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciDescriptor;
use reqwest::header::HeaderValue;

use super::client::{Blamed, RegistryClient, parse};
use super::failure::RemoteError;
use super::manifest::Manifest;

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copied {
    /// The digest of the copied manifest, the same at the source and every target.
    pub digest: String,
    /// Blobs the registry linked from the source repository (no data sent).
    pub mounted: usize,
    /// Blobs sent through this process.
    pub uploaded: usize,
}

impl RegistryClient {
    /// Copies the image `source` names (`HOST[:PORT]/PATH:TAG`) to each of `targets`, which
    /// may be in other repositories and registries, in order; `on_published` hears of each
    /// target as its tag is written, so that a copy that fails halfway can say what it did.
    pub fn copy(
        &self,
        source: &str,
        targets: &[String],
        on_published: &mut dyn FnMut(&str),
    ) -> Result<Copied, RemoteError> {
        let source = parse(source)?;
        let targets = targets
            .iter()
            .map(|target| Ok((parse(target)?, target.as_str())))
            .collect::<Result<Vec<_>, RemoteError>>()?;
        self.block_on(self.copy_to_all(&source, &targets, on_published))
    }

    /// Copies the image `source` names into the repository `target_repository`
    /// (`HOST[:PORT]/PATH`) under its digest only, without a tag, and returns that digest: an
    /// index can then list it, and the repository gains no tag.
    pub fn copy_untagged(
        &self,
        source: &str,
        target_repository: &str,
    ) -> Result<String, RemoteError> {
        let source = parse(source)?;
        // Any tag: the manifest is put under its digest, which a reference's tag gives way to.
        let repository = parse(&format!("{target_repository}:untagged"))?;
        self.block_on(async {
            let manifest = self.source_manifest(&source).await?;
            let target = repository.clone_with_digest(manifest.digest.clone());
            self.copy_content(&source, &manifest, &target, &mut Copied::default())
                .await?;
            self.push_manifest(&target, &manifest).await?;
            Ok(manifest.digest)
        })
    }

    async fn copy_to_all(
        &self,
        source: &Reference,
        targets: &[(Reference, &str)],
        on_published: &mut dyn FnMut(&str),
    ) -> Result<Copied, RemoteError> {
        let manifest = self.source_manifest(source).await?;
        let mut copied = Copied {
            digest: manifest.digest.clone(),
            ..Copied::default()
        };
        let mut filled = BTreeSet::new();
        for (target, name) in targets {
            if filled.insert((target.registry(), target.repository())) {
                self.copy_content(source, &manifest, target, &mut copied)
                    .await?;
            }
            self.push_manifest(target, &manifest).await?;
            on_published(name);
        }
        Ok(copied)
    }

    /// Puts what `manifest` refers to in the repository of `target`: its blobs, or, for an
    /// index, each platform's manifest and its blobs.
    async fn copy_content(
        &self,
        source: &Reference,
        manifest: &Manifest,
        target: &Reference,
        copied: &mut Copied,
    ) -> Result<(), RemoteError> {
        for blob in manifest.blobs() {
            self.copy_blob(source, target, blob, copied).await?;
        }
        for platform in &manifest.manifests {
            let platform_source = source.clone_with_digest(platform.digest.clone());
            let platform_manifest = self.source_manifest(&platform_source).await?;
            let platform_target = target.clone_with_digest(platform.digest.clone());
            Box::pin(self.copy_content(
                &platform_source,
                &platform_manifest,
                &platform_target,
                copied,
            ))
            .await?;
            self.push_manifest(&platform_target, &platform_manifest)
                .await?;
        }
        Ok(())
    }

    /// The manifest `image` names, which must exist.
    async fn source_manifest(&self, image: &Reference) -> Result<Manifest, RemoteError> {
        let action = || format!("copying `{image}`");
        match self.fetch_manifest(&action, image).await? {
            Some(manifest) => Ok(manifest),
            None => {
                let missing = OciDistributionError::ImageManifestNotFoundError(image.whole());
                Err(self.failure(&action, Blamed::on(image, missing), 1))
            }
        }
    }

    async fn copy_blob(
        &self,
        source: &Reference,
        target: &Reference,
        blob: &OciDescriptor,
        copied: &mut Copied,
    ) -> Result<(), RemoteError> {
        let same_registry = source.registry() == target.registry();
        if same_registry && source.repository() == target.repository() {
            return Ok(());
        }
        self.authorize(target).await;
        if same_registry {
            if self.mount(source, target, blob).await? {
                copied.mounted += 1;
                return Ok(());
            }
        } else if self.has_blob(target, blob).await? {
            return Ok(());
        }
        self.upload(source, target, blob).await?;
        copied.uploaded += 1;
        Ok(())
    }

    /// Asks the registry to link `blob` from the source repository; false when it started an
    /// upload instead (202), as registries do that refuse cross-repository mounts.
    pub(super) async fn mount(
        &self,
        source: &Reference,
        target: &Reference,
        blob: &OciDescriptor,
    ) -> Result<bool, RemoteError> {
        let action = || blob_step("mounting", blob, "into", target);
        self.request(&action, target, async || {
            match self.oci.mount_blob(target, source, &blob.digest).await {
                Ok(()) => Ok(true),
                Err(OciDistributionError::SpecViolationError(_)) => Ok(false),
                Err(error) => Err(error),
            }
        })
        .await
    }

    pub(super) async fn has_blob(
        &self,
        target: &Reference,
        blob: &OciDescriptor,
    ) -> Result<bool, RemoteError> {
        let action = || blob_step("checking", blob, "in", target);
        self.request(&action, target, async || {
            self.oci.blob_exists(target, &blob.digest).await
        })
        .await
    }

    /// Streams `blob` from the source registry to the target one, through memory a chunk at a
    /// time.
    async fn upload(
        &self,
        source: &Reference,
        target: &Reference,
        blob: &OciDescriptor,
    ) -> Result<(), RemoteError> {
        self.authorize(source).await;
        let action = || blob_step("copying", blob, "to", target);
        let size = u64::try_from(blob.size).ok();
        self.request_blaming(&action, async || {
            let download = self
                .oci
                .pull_blob_stream(source, blob)
                .await
                .map_err(|e| Blamed::on(source, e))?;
            let stream = download.stream.map_err(OciDistributionError::from);
            let upload = self
                .oci
                .push_blob_stream(target, stream, &blob.digest, size);
            upload.await.map_err(|e| Blamed::on(target, e))
        })
        .await?;
        Ok(())
    }

    pub(super) async fn push_manifest(
        &self,
        target: &Reference,
        manifest: &Manifest,
    ) -> Result<(), RemoteError> {
        self.authorize(target).await;
        let action = || format!("pushing the manifest of `{target}`");
        let content_type = HeaderValue::from_str(&manifest.media_type).map_err(|e| {
            let error = OciDistributionError::GenericError(Some(e.to_string()));
            self.failure(&action, Blamed::on(target, error), 1)
        })?;
        self.request(&action, target, async || {
            let bytes = manifest.bytes.clone();
            self.oci
                .push_manifest_raw(target, bytes, content_type.clone())
                .await
        })
        .await?;
        Ok(())
    }
}

/// `<doing> blob `<digest>` <preposition> `<repository of target>``, to name a step in errors.
fn blob_step(doing: &str, blob: &OciDescriptor, preposition: &str, target: &Reference) -> String {
    let repository = format!("{}/{}", target.registry(), target.repository());
    format!(
        "{doing} blob `{}` {preposition} `{repository}`",
        blob.digest
    )
}
