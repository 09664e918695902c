//! AWS registries, private ECR (`<account>.dkr.ecr.<region>.amazonaws.com`) and public ECR: when
//! docker has no credentials for them, their password comes from `aws ecr get-login-password`, is
//! held in memory only, and goes to the registry client (and, through `ops/engine_login.rs`, to
//! `docker login` on stdin); it is never shown.

use crate::process::{self, Command};

use super::credentials::{Login, Password, Source};

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
}
