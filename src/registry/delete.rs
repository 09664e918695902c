//! Deleting from a registry, for `prune --remote`: each tag of a repository with the digest of
//! the manifest it names (a `HEAD` each, concurrently), and a manifest deleted by digest
//! (`DELETE /v2/<name>/manifests/<digest>`, the OCI distribution API; oci-client has no call for
//! it). A registry that does not delete (405, `UNSUPPORTED`) says so in one line. AWS ECR deletes
//! tags through its own API instead ([`super::ecr::batch_delete`]).

use futures_util::StreamExt;
use oci_client::RegistryOperation;
use oci_client::errors::OciDistributionError;
use reqwest::{StatusCode, Url};

use super::client::{RegistryClient, parse};
use super::failure::{Problem, RemoteError};
use super::tags::{Authorization, check_status};
use super::transport;

/// A tag of a repository and the digest of the manifest it names.
pub type TagDigest = (String, String);

/// How a registry answered a `DELETE`.
enum Answer {
    /// Deleted, or gone already.
    Deleted,
    /// The registry does not delete: its answer, in one line.
    Refused(String),
}

impl RegistryClient {
    /// Each tag of `repository` (`HOST[:PORT]/PATH`) with the digest of its manifest, sorted by
    /// tag, at most `concurrency` requests at once; a tag deleted meanwhile is left out.
    pub fn tag_digests(
        &self,
        repository: &str,
        concurrency: usize,
    ) -> Result<Vec<TagDigest>, RemoteError> {
        let tags = self.tags(repository)?;
        let heads = tags.into_iter().map(|tag| async move {
            let digest = self.head_digest(&format!("{repository}:{tag}")).await;
            (tag, digest)
        });
        let answers = self.block_on(async {
            let all = futures_util::stream::iter(heads).buffered(concurrency.max(1));
            Ok(all.collect::<Vec<_>>().await)
        })?;
        let mut found = Vec::new();
        for (tag, digest) in answers {
            if let Some(digest) = digest? {
                found.push((tag, digest));
            }
        }
        Ok(found)
    }

    /// The digest of the manifest `reference` names, None when there is none.
    async fn head_digest(&self, reference: &str) -> Result<Option<String>, RemoteError> {
        let image = parse(reference)?;
        let auth = self.auth(&image);
        let action = || format!("checking `{reference}`");
        self.lookup(&action, &image, async || {
            self.oci.fetch_manifest_digest(&image, &auth).await
        })
        .await
    }

    /// Deletes the manifest `digest` of `repository`, and so every tag naming it; one already
    /// gone counts as deleted.
    pub fn delete_manifest(&self, repository: &str, digest: &str) -> Result<(), RemoteError> {
        let reference = format!("{repository}@{digest}");
        let image = parse(&reference)?;
        let action = || format!("deleting `{reference}`");
        let registry = image.resolve_registry();
        let url = Url::parse(&format!(
            "{}://{registry}/v2/{}/manifests/{digest}",
            transport::scheme(registry),
            image.repository()
        ))
        .map_err(|e| RemoteError::Reference {
            reference: reference.clone(),
            why: e.to_string(),
        })?;
        let answer = self.block_on(self.request(&action, &image, async || {
            let authorization = self
                .authorization_for(&image, RegistryOperation::Push)
                .await?;
            delete(&self.http, &url, &authorization).await
        }))?;
        match answer {
            Answer::Deleted => Ok(()),
            Answer::Refused(answer) => Err(RemoteError::Request {
                action: action(),
                registry: image.registry().to_owned(),
                problem: Problem::NoDeletes { answer },
            }),
        }
    }
}

/// `DELETE url`, and what the registry made of it.
async fn delete(
    http: &reqwest::Client,
    url: &Url,
    authorization: &Authorization,
) -> Result<Answer, OciDistributionError> {
    let response = authorization.apply(http.delete(url.clone())).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if status.is_success() || status == StatusCode::NOT_FOUND {
        return Ok(Answer::Deleted);
    }
    if let Some(refusal) = refusal(status, &body) {
        return Ok(Answer::Refused(refusal));
    }
    check_status(StatusCode::OK, status, &body, url).map(|()| Answer::Deleted)
}

/// The answer of a registry that does not delete, in one line; None for any other answer.
fn refusal(status: StatusCode, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let unsupported = text.contains("\"UNSUPPORTED\"");
    (status == StatusCode::METHOD_NOT_ALLOWED || unsupported).then(|| {
        let detail = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let detail: String = detail.chars().take(120).collect();
        format!("HTTP {} {detail}", status.as_u16())
            .trim_end()
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_without_deletes_is_told_from_other_failures() {
        let body =
            br#"{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}"#;
        let refused = refusal(StatusCode::METHOD_NOT_ALLOWED, body).unwrap();
        assert!(refused.starts_with("HTTP 405 {\"errors\""), "{refused}");
        assert!(refusal(StatusCode::BAD_REQUEST, body).is_some());
        assert_eq!(
            refusal(StatusCode::METHOD_NOT_ALLOWED, b"").as_deref(),
            Some("HTTP 405")
        );
        assert!(refusal(StatusCode::INTERNAL_SERVER_ERROR, b"oops").is_none());
        assert!(refusal(StatusCode::FORBIDDEN, br#"{"errors":[{"code":"DENIED"}]}"#).is_none());
    }
}
