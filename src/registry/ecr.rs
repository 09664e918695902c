//! AWS registries, private ECR (`<account>.dkr.ecr.<region>.amazonaws.com`) and public ECR: when
//! docker has no credentials for them, their password comes from `aws ecr get-login-password`, is
//! held in memory only, and goes to the registry client (and, through `ops/engine_login.rs`, to
//! `docker login` on stdin); it is never shown.

use serde::Deserialize;

use crate::process::{self, Command};

use super::credentials::{Login, Password, Source};
use super::failure::RemoteError;

/// Public ECR issues its passwords from this region only.
const PUBLIC_ECR_REGION: &str = "us-east-1";
pub const PUBLIC_ECR_HOST: &str = "public.ecr.aws";
/// The user name that goes with an ECR password.
pub const AWS_USER: &str = "AWS";

/// The AWS region of a private ECR host `<account>.dkr.ecr.<region>.amazonaws.com[:port]`.
fn ecr_region(host: &str) -> Option<&str> {
    let name = host.split(':').next()?;
    let rest = name.strip_suffix(".amazonaws.com")?;
    let (account, region) = rest.split_once(".dkr.ecr.")?;
    let valid_account = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let valid_region = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    (valid_account && valid_region).then_some(region)
}

/// `aws ecr get-login-password` for a private ECR host, `aws ecr-public ...` for public ECR.
pub fn aws_password_command(host: &str) -> Option<Command> {
    let aws = std::env::var_os("AWS_CLI").unwrap_or_else(|| "aws".into());
    if host == PUBLIC_ECR_HOST {
        return Some(Command::new(
            aws,
            [
                "ecr-public",
                "get-login-password",
                "--region",
                PUBLIC_ECR_REGION,
            ],
        ));
    }
    let region = ecr_region(host)?;
    Some(Command::new(
        aws,
        ["ecr", "get-login-password", "--region", region],
    ))
}

/// Image IDs one `BatchDeleteImage` takes at most.
pub const BATCH_DELETE_MAX: usize = 100;

/// What `aws ecr batch-delete-image` did: the tags it deleted, and those it did not, with why.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchDeleted {
    pub deleted: Vec<String>,
    pub failed: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchDeleteAnswer {
    #[serde(default)]
    image_ids: Vec<ImageId>,
    #[serde(default)]
    failures: Vec<BatchFailure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageId {
    image_tag: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchFailure {
    image_id: ImageId,
    failure_code: Option<String>,
    failure_reason: Option<String>,
}

/// `aws ecr batch-delete-image` of `tags` of `repository` (its path in the registry) in the
/// AWS registry `host`, `aws ecr-public ...` for public ECR; None for another registry.
pub fn batch_delete_command(host: &str, repository: &str, tags: &[String]) -> Option<Command> {
    let password = aws_password_command(host)?;
    let mut args = password.args;
    let region_at = args.iter().position(|arg| arg == "--region")?;
    let region = args.get(region_at + 1)?.clone();
    args.truncate(1);
    args.extend(["batch-delete-image".into(), "--region".into(), region]);
    args.extend(["--repository-name".into(), repository.to_owned()]);
    args.extend(["--output".into(), "json".into(), "--image-ids".into()]);
    args.extend(tags.iter().map(|tag| format!("imageTag={tag}")));
    Some(Command::new(password.program, args))
}

/// Deletes `tags` (at most [`BATCH_DELETE_MAX`]) of `repository` in the AWS registry `host`
/// by tag, with the AWS CLI's credentials; an error when the call fails as a whole.
pub fn batch_delete(
    host: &str,
    repository: &str,
    tags: &[String],
) -> Result<BatchDeleted, RemoteError> {
    let Some(command) = batch_delete_command(host, repository, tags) else {
        return Err(RemoteError::Setup {
            why: format!("`{host}` is no AWS registry"),
        });
    };
    let step = format!("deleting tags of `{repository}` in `{host}`");
    let output = command.output(&step, None)?;
    parse_batch_delete(&output).map_err(|why| RemoteError::Setup {
        why: format!("`{command}` answered what is not its JSON ({why})"),
    })
}

/// The answer of `aws ecr batch-delete-image --output json`.
fn parse_batch_delete(json: &str) -> Result<BatchDeleted, serde_json::Error> {
    let answer: BatchDeleteAnswer = serde_json::from_str(json)?;
    Ok(BatchDeleted {
        deleted: answer
            .image_ids
            .into_iter()
            .filter_map(|id| id.image_tag)
            .collect(),
        failed: answer
            .failures
            .into_iter()
            .map(|failure| {
                let why = [failure.failure_code, failure.failure_reason]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                (failure.image_id.image_tag.unwrap_or_default(), why)
            })
            .collect(),
    })
}

/// Whether `host` is an AWS registry, whose password the AWS CLI gives.
pub fn is_aws(host: &str) -> bool {
    aws_password_command(host).is_some()
}

/// The login of `host` with a password from the AWS CLI; None when it is not an AWS registry.
pub fn aws_login(host: &str) -> process::Result<Option<Login>> {
    let Some(password_command) = aws_password_command(host) else {
        return Ok(None);
    };
    let step = format!("getting an ECR password for `{host}`");
    let output = password_command.output(&step, None)?;
    Ok(Some(Login {
        user: AWS_USER.to_owned(),
        password: Password::new(output.trim_end()),
        source: Source::Aws(password_command.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_ecr_hosts_and_their_region() {
        assert_eq!(
            ecr_region("968703565975.dkr.ecr.us-west-1.amazonaws.com"),
            Some("us-west-1")
        );
        assert_eq!(
            ecr_region("968703565975.dkr.ecr.eu-central-1.amazonaws.com:5001"),
            Some("eu-central-1")
        );
        assert_eq!(ecr_region("12345.dkr.ecr.us-west-1.amazonaws.com"), None);
        assert_eq!(ecr_region("127.0.0.1:5000"), None);
        assert_eq!(ecr_region("example.com"), None);
    }

    #[test]
    fn asks_aws_for_the_password_of_ecr_hosts_only() {
        let command = aws_password_command("968703565975.dkr.ecr.us-west-1.amazonaws.com").unwrap();
        assert_eq!(
            command.args,
            ["ecr", "get-login-password", "--region", "us-west-1"]
        );
        let public = aws_password_command(PUBLIC_ECR_HOST).unwrap();
        assert_eq!(
            public.args,
            ["ecr-public", "get-login-password", "--region", "us-east-1"]
        );
        assert!(aws_password_command("127.0.0.1:5000").is_none());
    }

    #[test]
    fn deletes_ecr_tags_by_name_in_the_registrys_region() {
        let tags = ["py3.9-T1".to_owned(), "py3.9-T2".to_owned()];
        let command = batch_delete_command(
            "968703565975.dkr.ecr.us-west-1.amazonaws.com",
            "ci/app",
            &tags,
        )
        .unwrap();
        assert_eq!(
            command.args,
            [
                "ecr",
                "batch-delete-image",
                "--region",
                "us-west-1",
                "--repository-name",
                "ci/app",
                "--output",
                "json",
                "--image-ids",
                "imageTag=py3.9-T1",
                "imageTag=py3.9-T2"
            ]
        );
        let public = batch_delete_command(PUBLIC_ECR_HOST, "app", &tags).unwrap();
        assert_eq!(
            public.args[..4],
            ["ecr-public", "batch-delete-image", "--region", "us-east-1"]
        );
        assert!(batch_delete_command("127.0.0.1:5000", "app", &tags).is_none());
    }

    #[test]
    fn reads_which_tags_batch_delete_image_deleted_and_which_not() {
        let answer = r#"{"imageIds": [{"imageDigest": "sha256:a", "imageTag": "py3.9-T1"}],
            "failures": [{"imageId": {"imageTag": "py3.9-T2"}, "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found"}]}"#;
        assert_eq!(
            parse_batch_delete(answer).unwrap(),
            BatchDeleted {
                deleted: vec!["py3.9-T1".into()],
                failed: vec![(
                    "py3.9-T2".into(),
                    "ImageNotFound: Requested image not found".into()
                )],
            }
        );
        assert_eq!(parse_batch_delete("{}").unwrap(), BatchDeleted::default());
        assert!(parse_batch_delete("not json").is_err());
    }
}
