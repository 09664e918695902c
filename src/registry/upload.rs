//! Uploading an image the engine saved ([`SavedImage`]) to registries, without the engine: each
//! blob is asked for first (HEAD), mounted from another repository of the registry that got it
//! earlier in the run, else sent from the saved file in one request after the upload's start;
//! the blobs of an image go concurrently, each request retried by the client's own rules. The
//! layers go gzipped as `docker push` sends them ([`SavedImage::compressed_layers`]); the
//! manifest (docker's schema 2) refers to the config as saved, so the registry's config digest
//! is the local image ID, its `rootfs.diff_ids` the digests of the uncompressed layers.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{
    IMAGE_DOCKER_CONFIG_MEDIA_TYPE, IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE,
    OciDescriptor,
};
use oci_client::{Reference, RegistryOperation};

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};

use super::client::{Blamed, RegistryClient, parse};
use super::failure::RemoteError;
use super::index::sha256;
use super::manifest::Manifest;
use super::tags::{Authorization, check_status};
use crate::engine::{CompressedLayer, SavedImage};

/// Blobs of one image sent at once: enough to overlap the waits of a slow or failing registry,
/// few enough not to crowd it.
const CONCURRENT_BLOBS: usize = 4;
/// Bytes of a layer read from its file at a time.
const READ_CHUNK: u64 = 1 << 20;

/// Where the bytes of a blob are.
#[derive(Clone, Copy)]
enum Content<'a> {
    Config(&'a [u8]),
    /// A gzipped layer's file.
    Layer(&'a Path),
}

/// One blob of the image: what the manifest says of it, and where its bytes are.
struct Blob<'a> {
    descriptor: OciDescriptor,
    content: Content<'a>,
}

impl RegistryClient {
    /// Uploads the saved `image`, its layers as gzipped into `layers`, under each of `targets`
    /// (`HOST[:PORT]/PATH:TAG`), in order; `on_published` hears of each target as its tag is written, with the manifest's digest.
    /// Returns that digest.
    pub fn push_saved(
        &self,
        (image, layers): (&SavedImage, &[CompressedLayer]),
        targets: &[String],
        on_published: &mut dyn FnMut(&str, &str),
    ) -> Result<String, RemoteError> {
        let targets = targets
            .iter()
            .map(|target| Ok((parse(target)?, target.as_str())))
            .collect::<Result<Vec<_>, RemoteError>>()?;
        let blobs = blobs_of(image, layers);
        let manifest = schema2_manifest(&blobs);
        self.block_on(async {
            let mut filled = BTreeSet::new();
            for (target, name) in &targets {
                if filled.insert((target.registry(), target.repository())) {
                    self.fill(target, &blobs).await?;
                }
                self.push_manifest(target, &manifest).await?;
                on_published(name, &manifest.digest);
            }
            Ok(manifest.digest.clone())
        })
    }

    /// Puts every blob of `blobs` in the repository of `target`, a few at a time.
    async fn fill(&self, target: &Reference, blobs: &[Blob<'_>]) -> Result<(), RemoteError> {
        self.authorize(target).await;
        let action = || {
            format!(
                "signing in to push to `{}/{}`",
                target.registry(),
                target.repository()
            )
        };
        let authorization = self
            .request(&action, target, async || {
                self.authorization_for(target, RegistryOperation::Push)
                    .await
            })
            .await?;
        let upload = Upload {
            target,
            authorization: &authorization,
        };
        let puts = blobs.iter().map(|blob| self.put_blob(&upload, blob));
        futures_util::stream::iter(puts)
            .buffer_unordered(CONCURRENT_BLOBS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Puts `blob` in the repository of the upload's target unless it is there: mounted from a
    /// repository of the registry that has it, else sent.
    async fn put_blob(&self, upload: &Upload<'_>, blob: &Blob<'_>) -> Result<(), RemoteError> {
        let (target, descriptor) = (upload.target, &blob.descriptor);
        if self.has_blob(target, descriptor).await? {
            self.blob_homes.remember(target, &descriptor.digest);
            return Ok(());
        }
        if let Some(home) = self.blob_homes.home(target, &descriptor.digest)
            && self.mount(&home, target, descriptor).await?
        {
            return Ok(());
        }
        self.send_blob(upload, blob).await?;
        self.blob_homes.remember(target, &descriptor.digest);
        Ok(())
    }

    /// Starts an upload (POST), then sends the whole blob to it (PUT), each request retried
    /// on its own: a registry failing one request in a few fails some pair of them often.
    async fn send_blob(&self, upload: &Upload<'_>, blob: &Blob<'_>) -> Result<(), RemoteError> {
        let target = upload.target;
        let digest = &blob.descriptor.digest;
        let action = || {
            let repository = format!("{}/{}", target.registry(), target.repository());
            format!("uploading blob `{digest}` to `{repository}`")
        };
        let uploads = uploads_url(target)
            .map_err(|error| self.failure(&action, Blamed::on(target, error), 1))?;
        let location = self
            .request(&action, target, async || {
                start_upload(&self.http, &uploads, upload.authorization).await
            })
            .await?;
        let size = u64::try_from(blob.descriptor.size).unwrap_or_default();
        self.request(&action, target, async || {
            let content = blob_stream(blob.content, size)?;
            let body = reqwest::Body::wrap_stream(content);
            finish_upload(
                &self.http,
                &location,
                (digest, size, body),
                upload.authorization,
            )
            .await
        })
        .await
    }
}

/// Where blobs of one image are put: the target, the credentials to push.
struct Upload<'a> {
    target: &'a Reference,
    authorization: &'a Authorization,
}

/// `/v2/<repository>/blobs/uploads/` of `target`'s registry.
fn uploads_url(target: &Reference) -> Result<Url, OciDistributionError> {
    let registry = target.resolve_registry();
    let scheme = super::transport::scheme(registry);
    let text = format!(
        "{scheme}://{registry}/v2/{}/blobs/uploads/",
        target.repository()
    );
    Url::parse(&text).map_err(|e| OciDistributionError::UrlParseError(e.to_string()))
}

/// Starts an upload at `uploads` (POST); its location, which the registry gives relative or
/// absolute.
async fn start_upload(
    http: &reqwest::Client,
    uploads: &Url,
    authorization: &Authorization,
) -> Result<Url, OciDistributionError> {
    let request = http.post(uploads.clone()).header(CONTENT_LENGTH, 0);
    let response = authorization.apply(request).send().await?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await?;
    check_status(StatusCode::ACCEPTED, status, &body, uploads)?;
    let location = location.ok_or(OciDistributionError::RegistryNoLocationError)?;
    uploads
        .join(&location)
        .map_err(|e| OciDistributionError::UrlParseError(format!("`{location}`: {e}")))
}

/// Sends the `size` bytes of `body`, the blob `digest`, to the upload at `location` (PUT), which
/// ends it.
async fn finish_upload(
    http: &reqwest::Client,
    location: &Url,
    (digest, size, body): (&str, u64, reqwest::Body),
    authorization: &Authorization,
) -> Result<(), OciDistributionError> {
    let mut url = location.clone();
    url.query_pairs_mut().append_pair("digest", digest);
    let request = http
        .put(url.clone())
        .header(CONTENT_LENGTH, size)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body);
    let response = authorization.apply(request).send().await?;
    let status = response.status();
    let answer = response.bytes().await?;
    check_status(StatusCode::CREATED, status, &answer, &url)
}

/// The config of `image` then its gzipped `layers`, described as the manifest lists them.
fn blobs_of<'a>(image: &'a SavedImage, layers: &'a [CompressedLayer]) -> Vec<Blob<'a>> {
    let descriptor = |media_type: &str, digest: String, size: u64| OciDescriptor {
        media_type: media_type.to_owned(),
        digest,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        ..OciDescriptor::default()
    };
    let config = Blob {
        descriptor: descriptor(
            IMAGE_DOCKER_CONFIG_MEDIA_TYPE,
            image.id(),
            image.config.len() as u64,
        ),
        content: Content::Config(&image.config),
    };
    let layers = layers.iter().map(|layer| Blob {
        descriptor: descriptor(
            IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE,
            layer.digest.clone(),
            layer.size,
        ),
        content: Content::Layer(&layer.file),
    });
    std::iter::once(config).chain(layers).collect()
}

/// Docker's schema 2 manifest of `blobs` (config first).
fn schema2_manifest(blobs: &[Blob<'_>]) -> Manifest {
    let descriptors: Vec<&OciDescriptor> = blobs.iter().map(|blob| &blob.descriptor).collect();
    let fields = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST_MEDIA_TYPE,
        "config": descriptors[0],
        "layers": descriptors[1..],
    });
    let bytes = fields.to_string().into_bytes();
    Manifest {
        digest: sha256(&bytes),
        bytes,
        media_type: IMAGE_MANIFEST_MEDIA_TYPE.to_owned(),
        config: Some(descriptors[0].clone()),
        layers: descriptors[1..].iter().map(|&d| d.clone()).collect(),
        manifests: Vec::new(),
    }
}

/// The `size` bytes of `content` as a stream of chunks, read from its file as they are sent.
fn blob_stream(
    content: Content<'_>,
    size: u64,
) -> Result<
    impl Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static,
    OciDistributionError,
> {
    let reader: Box<dyn Read + Send> = match content {
        Content::Config(bytes) => Box::new(std::io::Cursor::new(bytes.to_vec())),
        Content::Layer(file) => Box::new(std::fs::File::open(file)?),
    };
    Ok(futures_util::stream::unfold(
        (reader, size),
        |(mut reader, left)| async move {
            if left == 0 {
                return None;
            }
            let length = left.min(READ_CHUNK);
            let mut chunk = vec![0; usize::try_from(length).unwrap_or_default()];
            match reader.read_exact(&mut chunk) {
                Ok(()) => Some((Ok(Bytes::from(chunk)), (reader, left - length))),
                Err(error) => Some((Err(error.into()), (reader, 0))),
            }
        },
    ))
}

/// A repository of each registry known to hold each blob, learnt in this run, to mount it from.
#[derive(Default)]
pub(super) struct BlobHomes(Mutex<BTreeMap<(String, String), Reference>>);

impl BlobHomes {
    /// Notes that the repository of `image` holds `digest`.
    fn remember(&self, image: &Reference, digest: &str) {
        let key = (image.registry().to_owned(), digest.to_owned());
        let mut homes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        homes.entry(key).or_insert_with(|| image.clone());
    }

    /// Another repository of `target`'s registry that holds `digest`.
    fn home(&self, target: &Reference, digest: &str) -> Option<Reference> {
        let key = (target.registry().to_owned(), digest.to_owned());
        let homes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let home = homes.get(&key)?;
        (home.repository() != target.repository()).then(|| home.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SavedLayer;

    #[test]
    fn the_manifest_refers_to_the_config_as_saved_and_the_layers_gzipped_in_order() {
        let layer = |digest: &str, offset| SavedLayer {
            digest: digest.into(),
            offset,
            size: 1024,
        };
        let image = SavedImage {
            file: "image.tar".into(),
            config: br#"{"rootfs":{"diff_ids":["sha256:a","sha256:b"]}}"#.to_vec(),
            layers: vec![layer("sha256:a", 512), layer("sha256:b", 2048)],
        };
        let gzipped = |digest: &str| CompressedLayer {
            file: "layer.tar.gz".into(),
            digest: digest.into(),
            size: 300,
        };
        let layers = [gzipped("sha256:za"), gzipped("sha256:zb")];
        let manifest = schema2_manifest(&blobs_of(&image, &layers));
        let fields: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
        assert_eq!(manifest.digest, sha256(&manifest.bytes));
        assert_eq!(fields["mediaType"], IMAGE_MANIFEST_MEDIA_TYPE);
        assert_eq!(fields["config"]["digest"], image.id().as_str());
        assert_eq!(fields["config"]["size"], image.config.len());
        let layers = fields["layers"].as_array().unwrap();
        let digests: Vec<&str> = layers
            .iter()
            .map(|l| l["digest"].as_str().unwrap())
            .collect();
        assert_eq!(digests, ["sha256:za", "sha256:zb"]);
        assert!(
            layers
                .iter()
                .all(|l| l["mediaType"] == IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE && l["size"] == 300)
        );
    }

    #[test]
    fn a_blob_is_mounted_from_another_repository_of_the_same_registry_only() {
        let at = |registry: &str, repository: &str| {
            Reference::with_tag(registry.into(), repository.into(), "t".into())
        };
        let homes = BlobHomes::default();
        homes.remember(&at("r:5000", "a"), "sha256:x");
        let home = homes.home(&at("r:5000", "b"), "sha256:x");
        assert_eq!(home.map(|h| h.repository().to_owned()), Some("a".into()));
        assert!(
            homes.home(&at("r:5000", "a"), "sha256:x").is_none(),
            "same repository"
        );
        assert!(
            homes.home(&at("other:5000", "b"), "sha256:x").is_none(),
            "other registry"
        );
        assert!(
            homes.home(&at("r:5000", "b"), "sha256:y").is_none(),
            "other blob"
        );
    }
}
