//! The docker CLI as argument vectors: build, tag, push, run, login, inspect. Uses the user's
//! `docker` (or the program in `$DOCKER`, e.g. podman), so their contexts, builders and
//! credential helpers apply. Knows nothing of the catalog.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::process::Command;

/// The container engine's command-line client.
#[derive(Debug, Clone)]
pub struct Docker {
    program: OsString,
}

/// Everything `docker build` needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    pub tag: String,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub build_args: Vec<(String, String)>,
    pub platform: Option<String>,
}

impl Docker {
    /// `$DOCKER` when set, else `docker` from PATH.
    pub fn from_env() -> Self {
        Self {
            program: std::env::var_os("DOCKER").unwrap_or_else(|| "docker".into()),
        }
    }

    fn command<S: Into<String>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        Command::new(self.program.clone(), args)
    }

    pub fn build(&self, request: &BuildRequest) -> Command {
        // --force-rm: a failed step's container is removed, not left behind for every failure.
        let mut args = vec![
            "build".to_owned(),
            "--force-rm".into(),
            "--tag".into(),
            request.tag.clone(),
        ];
        args.extend(["--file".into(), request.dockerfile.display().to_string()]);
        if let Some(platform) = &request.platform {
            args.extend(["--platform".into(), platform.clone()]);
        }
        for (name, value) in &request.build_args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        args.push(request.context.display().to_string());
        self.command(args)
    }

    pub fn tag(&self, source: &str, target: &str) -> Command {
        self.command(["tag", source, target])
    }

    pub fn push(&self, reference: &str) -> Command {
        self.command(["push", reference])
    }

    /// `docker run --rm IMAGE ARGS...`, for commands whose output we want.
    pub fn run(&self, image: &str, args: &[&str]) -> Command {
        self.command(
            ["run", "--rm", image]
                .into_iter()
                .chain(args.iter().copied()),
        )
    }

    /// `docker login` reading the password from stdin, so it is never in an argument list.
    pub fn login(&self, host: &str, username: &str) -> Command {
        self.command(["login", "--username", username, "--password-stdin", host])
    }

    /// Prints the image's id; fails when there is no such local image.
    pub fn image_id(&self, reference: &str) -> Command {
        self.command(["image", "inspect", "--format", "{{.Id}}", reference])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_passes_tag_file_platform_args_and_context_in_order() {
        let docker = Docker {
            program: "docker".into(),
        };
        let request = BuildRequest {
            tag: "dagster/app:py3.10-T".into(),
            dockerfile: "images/app/Dockerfile".into(),
            context: "images/app".into(),
            build_args: vec![("BASE_IMAGE".into(), "dagster/base:py3.10-S".into())],
            platform: Some("linux/amd64".into()),
        };
        assert_eq!(
            docker.build(&request).to_string(),
            "docker build --force-rm --tag dagster/app:py3.10-T --file images/app/Dockerfile \
             --platform linux/amd64 --build-arg BASE_IMAGE=dagster/base:py3.10-S images/app"
        );
    }
}
