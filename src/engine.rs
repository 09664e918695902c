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
    /// More names for the same image (`--tag` each).
    pub extra_tags: Vec<String>,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub build_args: Vec<(String, String)>,
    pub platform: Option<String>,
    /// Labels put on the image (`--label NAME=VALUE`).
    pub labels: Vec<(String, String)>,
}

/// Whether a line of an engine's stderr says only that an image is not there: docker's
/// `Error: No such image: X`, podman's `Error: X: image not known`.
pub fn says_image_missing(line: &str) -> bool {
    line.contains("No such image") || line.contains("image not known")
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
        let mut args = vec!["build".to_owned(), "--force-rm".into()];
        for tag in std::iter::once(&request.tag).chain(&request.extra_tags) {
            args.extend(["--tag".into(), tag.clone()]);
        }
        args.extend(["--file".into(), request.dockerfile.display().to_string()]);
        if let Some(platform) = &request.platform {
            args.extend(["--platform".into(), platform.clone()]);
        }
        for (name, value) in &request.build_args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        for (name, value) in &request.labels {
            args.extend(["--label".into(), format!("{name}={value}")]);
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

    pub fn pull(&self, reference: &str) -> Command {
        self.command(["pull", reference])
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

    /// Prints, for each of `references` that exists, a line with the JSON list of its tags, its
    /// id, and the JSON list of its registry digests (`REPOSITORY@sha256:...`, one per
    /// repository it was pushed to or pulled from). Missing images are reported on stderr as
    /// `No such image` (and make it fail).
    pub fn image_digests(&self, references: &[String]) -> Command {
        let format = "{{json .RepoTags}} {{.Id}} {{json .RepoDigests}}";
        let inspect = ["image", "inspect", "--format", format].map(String::from);
        self.command(inspect.into_iter().chain(references.iter().cloned()))
    }

    /// Lists the local images of repositories matching `pattern` (e.g. `dagster/*`), one
    /// `repository:tag` a line.
    pub fn list_images(&self, pattern: &str) -> Command {
        let filter = format!("reference={pattern}");
        self.command([
            "image",
            "ls",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            &filter,
        ])
    }

    /// Prints, for each of `references` that exists, a line with the JSON list of its tags, a
    /// space, and the value of its `label` (`<no value>` when unset). Missing images are
    /// reported on stderr as `No such image` (and make it fail).
    pub fn tags_and_label(&self, label: &str, references: &[String]) -> Command {
        let format = format!("{{{{json .RepoTags}}}} {{{{index .Config.Labels \"{label}\"}}}}");
        let mut args = vec![
            "image".to_owned(),
            "inspect".into(),
            "--format".into(),
            format,
        ];
        args.extend(references.iter().cloned());
        self.command(args)
    }

    /// Prints `ID SIZE TAG...` of each image, one a line in argument order: its id, its size in
    /// bytes (layers shared with other images included) and every tag it has.
    pub fn image_sizes(&self, references: &[String]) -> Command {
        let format = "{{.Id}} {{.Size}}{{range .RepoTags}} {{.}}{{end}}";
        let inspect = ["image", "inspect", "--format", format].map(String::from);
        self.command(inspect.into_iter().chain(references.iter().cloned()))
    }

    /// `docker image rm REFERENCE`: removes the tag, and the image when nothing else uses it;
    /// prints `Deleted: ID` for each image it deletes.
    pub fn remove_image(&self, reference: &str) -> Command {
        self.command(["image", "rm", reference])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_images_are_recognised_in_docker_and_podman_words_only() {
        assert!(says_image_missing(
            "Error: No such image: dagster/a:py3.9-T"
        ));
        assert!(says_image_missing(
            "Error: dagster/a:py3.9-T: image not known"
        ));
        assert!(!says_image_missing(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"
        ));
    }

    #[test]
    fn build_passes_tag_file_platform_args_and_context_in_order() {
        let docker = Docker {
            program: "docker".into(),
        };
        let request = BuildRequest {
            tag: "dagster/app:py3.10-T".into(),
            extra_tags: vec!["reg/app:py3.10-T".into()],
            dockerfile: "images/app/Dockerfile".into(),
            context: "images/app".into(),
            build_args: vec![("BASE_IMAGE".into(), "dagster/base:py3.10-S".into())],
            platform: Some("linux/amd64".into()),
            labels: vec![("io.dagster-image.input-digest".into(), "blake3:d".into())],
        };
        assert_eq!(
            docker.build(&request).to_string(),
            "docker build --force-rm --tag dagster/app:py3.10-T --tag reg/app:py3.10-T \
             --file images/app/Dockerfile \
             --platform linux/amd64 --build-arg BASE_IMAGE=dagster/base:py3.10-S \
             --label io.dagster-image.input-digest=blake3:d images/app"
        );
    }
}
