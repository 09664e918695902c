//! Multi-platform images assembled in the registry: an index (a Docker manifest list when the
//! children are Docker manifests, an OCI image index when they are OCI ones) listing each
//! platform's manifest, already pushed, with its `platform`; put under the common tag through the
//! registry API, and only when the registry does not already hold the very same index.

use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
};
use reqwest::header::HeaderValue;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::client::{Blamed, RegistryClient, parse};
use super::failure::RemoteError;
use super::manifest::Manifest;
use crate::reference;

/// One platform's image of an index: where it was pushed, and its platform (`os/arch[/variant]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub reference: String,
    pub platform: reference::Platform,
}

/// What putting an index did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    pub digest: String,
    /// False when the tag already held this index.
    pub pushed: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index<'a> {
    schema_version: u8,
    media_type: &'a str,
    manifests: Vec<Entry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: usize,
    platform: Platform<'a>,
}

#[derive(Serialize)]
struct Platform<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

impl<'a> Platform<'a> {
    /// An index entry's platform; a platform without an architecture is refused by `check`.
    fn of(platform: &'a reference::Platform) -> Self {
        Self {
            os: platform.os(),
            architecture: platform.arch(),
            variant: platform.variant(),
        }
    }
}

/// The bytes of the index of `children` (their manifests as served, with their platforms), and
/// its media type: a Docker manifest list for Docker manifests, else an OCI index.
fn index_bytes(children: &[(&Manifest, &reference::Platform)]) -> (Vec<u8>, &'static str) {
    let all_docker = children
        .iter()
        .all(|(m, _)| m.media_type == IMAGE_MANIFEST_MEDIA_TYPE);
    let media_type = if all_docker {
        IMAGE_MANIFEST_LIST_MEDIA_TYPE
    } else {
        OCI_IMAGE_INDEX_MEDIA_TYPE
    };
    let index = Index {
        schema_version: 2,
        media_type,
        manifests: children
            .iter()
            .map(|(manifest, platform)| Entry {
                media_type: &manifest.media_type,
                digest: &manifest.digest,
                size: manifest.bytes.len(),
                platform: Platform::of(platform),
            })
            .collect(),
    };
    let bytes = serde_json::to_vec(&index).expect("an index has string keys only");
    (bytes, media_type)
}

/// `sha256:<hex>` of `bytes`, the digest the registry gives a manifest.
pub(super) fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl RegistryClient {
    /// Puts the index of `children` (pushed already, in the repository of `target`) under
    /// `target`, unless `target` already names that index.
    pub fn assemble_index(
        &self,
        target: &str,
        children: &[Child],
    ) -> Result<Assembled, RemoteError> {
        let image = parse(target)?;
        let sources = children
            .iter()
            .map(|child| parse(&child.reference))
            .collect::<Result<Vec<_>, _>>()?;
        self.block_on(async {
            let mut manifests = Vec::with_capacity(children.len());
            for source in &sources {
                manifests.push(self.child_manifest(source).await?);
            }
            let with_platforms: Vec<(&Manifest, &reference::Platform)> = manifests
                .iter()
                .zip(children)
                .map(|(m, c)| (m, &c.platform))
                .collect();
            let (bytes, media_type) = index_bytes(&with_platforms);
            let digest = sha256(&bytes);
            let action = || format!("checking `{target}`");
            let current = self
                .request(&action, &image, async || {
                    let auth = self.auth(&image);
                    match self.oci.fetch_manifest_digest(&image, &auth).await {
                        Ok(digest) => Ok(Some(digest)),
                        Err(e) if super::failure::is_not_found(&e) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await?;
            if current.as_deref() == Some(digest.as_str()) {
                return Ok(Assembled {
                    digest,
                    pushed: false,
                });
            }
            self.put_index(&image, bytes, media_type).await?;
            Ok(Assembled {
                digest,
                pushed: true,
            })
        })
    }

    /// The image manifest `image` names, which must exist and be no index.
    async fn child_manifest(&self, image: &Reference) -> Result<Manifest, RemoteError> {
        let action = || format!("reading `{image}` for its index");
        let problem = match self.fetch_manifest(&action, image).await? {
            Some(manifest) if manifest.manifests.is_empty() => return Ok(manifest),
            Some(_) => OciDistributionError::GenericError(Some(
                "it is an index already, not one platform's image".into(),
            )),
            None => OciDistributionError::ImageManifestNotFoundError(image.whole()),
        };
        Err(self.failure(&action, Blamed::on(image, problem), 1))
    }

    async fn put_index(
        &self,
        image: &Reference,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> Result<(), RemoteError> {
        self.authorize(image).await;
        let action = || format!("pushing the index `{image}`");
        let content_type = HeaderValue::from_static(match media_type {
            IMAGE_MANIFEST_LIST_MEDIA_TYPE => IMAGE_MANIFEST_LIST_MEDIA_TYPE,
            _ => OCI_IMAGE_INDEX_MEDIA_TYPE,
        });
        self.request(&action, image, async || {
            self.oci
                .push_manifest_raw(image, bytes.clone(), content_type.clone())
                .await
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(value: &str) -> reference::Platform {
        reference::Platform::parse(value).unwrap()
    }

    fn manifest(media_type: &str, digest: &str) -> Manifest {
        let text = format!(r#"{{"schemaVersion": 2, "mediaType": "{media_type}", "layers": []}}"#);
        Manifest::parse(text.into_bytes(), digest.into()).unwrap()
    }

    #[test]
    fn docker_children_make_a_manifest_list_with_each_platform() {
        let amd = manifest(IMAGE_MANIFEST_MEDIA_TYPE, "sha256:a");
        let arm = manifest(IMAGE_MANIFEST_MEDIA_TYPE, "sha256:b");
        let (bytes, media_type) = index_bytes(&[
            (&amd, &platform("linux/amd64")),
            (&arm, &platform("linux/arm/v7")),
        ]);
        assert_eq!(media_type, IMAGE_MANIFEST_LIST_MEDIA_TYPE);
        let index: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(index["mediaType"], IMAGE_MANIFEST_LIST_MEDIA_TYPE);
        assert_eq!(index["manifests"][0]["digest"], "sha256:a");
        assert_eq!(index["manifests"][0]["size"], amd.bytes.len());
        assert_eq!(index["manifests"][0]["platform"]["architecture"], "amd64");
        assert_eq!(index["manifests"][1]["platform"]["os"], "linux");
        assert_eq!(index["manifests"][1]["platform"]["variant"], "v7");
        assert!(index["manifests"][0]["platform"].get("variant").is_none());
    }

    #[test]
    fn oci_children_make_an_oci_index_and_its_digest_is_of_its_bytes() {
        let child = manifest("application/vnd.oci.image.manifest.v1+json", "sha256:a");
        let arm = platform("linux/arm64");
        let (bytes, media_type) = index_bytes(&[(&child, &arm)]);
        assert_eq!(media_type, OCI_IMAGE_INDEX_MEDIA_TYPE);
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sha256(&bytes), sha256(&index_bytes(&[(&child, &arm)]).0));
    }
}
