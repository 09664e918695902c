//! A manifest as the registry serves it: its exact bytes (pushed again unchanged, so a copy keeps
//! the digest), its media type, and what it refers to (config and layer blobs, or the platform
//! manifests of an index).

use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE, OciDescriptor,
};

/// The manifest kinds the client asks for and copies.
pub(super) const ACCEPTED_MEDIA_TYPES: [&str; 4] = [
    IMAGE_MANIFEST_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
];

#[derive(Debug, Clone)]
pub(super) struct Manifest {
    pub bytes: Vec<u8>,
    pub digest: String,
    pub media_type: String,
    pub config: Option<OciDescriptor>,
    pub layers: Vec<OciDescriptor>,
    /// The manifests of an index (one per platform); empty for an image manifest.
    pub manifests: Vec<OciDescriptor>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    media_type: Option<String>,
    config: Option<OciDescriptor>,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

impl Manifest {
    /// Reads the manifest served as `bytes` with `digest`.
    pub fn parse(bytes: Vec<u8>, digest: String) -> Result<Self, serde_json::Error> {
        let fields: Fields = serde_json::from_slice(&bytes)?;
        // OCI manifests may leave out `mediaType`; what they hold says which kind they are.
        let media_type = fields.media_type.unwrap_or_else(|| {
            if fields.manifests.is_empty() {
                OCI_IMAGE_MEDIA_TYPE.to_owned()
            } else {
                OCI_IMAGE_INDEX_MEDIA_TYPE.to_owned()
            }
        });
        Ok(Self {
            bytes,
            digest,
            media_type,
            config: fields.config,
            layers: fields.layers,
            manifests: fields.manifests,
        })
    }

    /// The blobs an image manifest needs in its repository: its config, then its layers.
    pub fn blobs(&self) -> impl Iterator<Item = &OciDescriptor> {
        self.config.iter().chain(&self.layers)
    }

    /// The digest of the image's config, which docker uses as the image ID; None for an index.
    pub fn config_digest(&self) -> Option<&str> {
        self.config.as_ref().map(|config| config.digest.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER_MANIFEST: &str = r#"{
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:c"},
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3, "digest": "sha256:l1"},
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 4, "digest": "sha256:l2"}
        ]
    }"#;

    #[test]
    fn an_image_manifest_needs_its_config_then_its_layers() {
        let manifest =
            Manifest::parse(DOCKER_MANIFEST.as_bytes().to_vec(), "sha256:m".into()).unwrap();
        assert_eq!(manifest.media_type, IMAGE_MANIFEST_MEDIA_TYPE);
        let blobs: Vec<&str> = manifest.blobs().map(|b| b.digest.as_str()).collect();
        assert_eq!(blobs, ["sha256:c", "sha256:l1", "sha256:l2"]);
        assert_eq!(manifest.config_digest(), Some("sha256:c"));
        assert!(manifest.manifests.is_empty());
        assert_eq!(
            manifest.bytes,
            DOCKER_MANIFEST.as_bytes(),
            "bytes kept as served"
        );
    }

    #[test]
    fn an_oci_index_without_media_type_is_recognised_by_its_manifests() {
        let index = r#"{"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 5, "digest": "sha256:a",
             "platform": {"architecture": "amd64", "os": "linux"}}
        ]}"#;
        let manifest = Manifest::parse(index.as_bytes().to_vec(), "sha256:i".into()).unwrap();
        assert_eq!(manifest.media_type, OCI_IMAGE_INDEX_MEDIA_TYPE);
        assert_eq!(manifest.blobs().count(), 0);
        assert_eq!(manifest.config_digest(), None);
        assert_eq!(manifest.manifests[0].digest, "sha256:a");
    }
}
