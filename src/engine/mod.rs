//! The container engine's CLI as argument vectors: build, tag, push, run, login, and the
//! questions about local images, answered in one typed form ([`images`]). Uses the user's
//! `docker` (or `$DOCKER`, e.g. `podman`), so their contexts, builders and credential helpers
//! apply. Every engine dialect lives here; knows nothing of the catalog.

mod archive;
mod broken_store;
mod build_output;
pub mod buildx;
mod compressed;
pub mod images;
pub mod layer_cache;
mod mirrors;
mod push;
mod secrets;
mod transfer;

use std::ffi::OsString;
use std::path::Path;

use crate::plan::BuildSpec;
use crate::process::{self, Command};

pub use archive::{ArchiveError, SavedImage, SavedLayer};
pub use broken_store::broken_store_hint;
pub use build_output::build_step;
pub use compressed::CompressedLayer;
pub use images::{LocalImage, LocalImages};
pub use layer_cache::CacheDialect;
pub use mirrors::MIRRORS_VARIABLE;
pub use push::{PushError, PushRetries, push_retrying};
pub use secrets::secret_args;
pub use transfer::{EngineAddress, PushWith};

/// The container engine's command-line client.
#[derive(Debug, Clone)]
pub struct Docker {
    program: OsString,
    /// Words of `$DOCKER` after the program (`podman --remote`).
    leading_args: Vec<String>,
    /// How its builds take a registry layer cache, once asked (`--registry-cache`).
    cache_dialect: Option<CacheDialect>,
}

/// A question to the engine that failed, or whose answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Process(#[from] process::Error),
    #[error("{step}: cannot read the answer of `{command}`: {why}")]
    Unreadable {
        step: String,
        command: String,
        why: String,
    },
    #[error("{step} failed: `{command}` answered with an error: {answer}")]
    Answered {
        step: String,
        command: String,
        answer: String,
    },
}

impl Error {
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            Error::Process(e) => e.kind(),
            Error::Unreadable { .. } | Error::Answered { .. } => crate::exit::Kind::Failed,
        }
    }

    /// What to do about it, when the message alone does not say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Process(e) => broken_store_hint(e),
            Error::Unreadable { .. } | Error::Answered { .. } => None,
        }
    }
}

/// Whether a line of an engine's stderr says only that an image is not there: docker's
/// `Error: No such image: X`, podman's `Error: inspecting object: X: image not known`.
fn says_image_missing(line: &str) -> bool {
    line.contains("No such image") || line.contains("image not known")
}

impl Docker {
    /// `$DOCKER` when set, split into words as a command line (without a shell: no quotes), else
    /// `docker` from PATH.
    pub fn from_env() -> Self {
        let value = std::env::var("DOCKER").unwrap_or_default();
        let value = if value.trim().is_empty() {
            "docker"
        } else {
            &value
        };
        Self::from_program(value)
    }

    /// The engine of the command line `value` (`podman --remote`), split into words.
    pub(crate) fn from_program(value: &str) -> Self {
        let mut words = value.split_whitespace().map(str::to_owned);
        Self {
            program: words.next().unwrap_or_default().into(),
            leading_args: words.collect(),
            cache_dialect: None,
        }
    }

    fn command<S: Into<String>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let leading = self.leading_args.iter().cloned();
        Command::new(
            self.program.clone(),
            leading.chain(args.into_iter().map(Into::into)),
        )
    }

    /// `docker build` of `request`, importing and exporting its layer cache when it has one.
    pub fn build(&self, request: &BuildSpec) -> Command {
        self.build_with_cache(request, true)
    }

    /// `docker build` of `request` that only reads its layer cache: podman's build again after
    /// the push of its cache failed, which failed the build.
    pub fn build_reading_cache(&self, request: &BuildSpec) -> Command {
        self.build_with_cache(request, false)
    }

    fn build_with_cache(&self, request: &BuildSpec, export_cache: bool) -> Command {
        // --force-rm: a failed step's container is removed, not left behind for every failure.
        let mut args = vec!["build".to_owned(), "--force-rm".into()];
        for tag in std::iter::once(&request.tag).chain(&request.extra_tags) {
            args.extend(["--tag".into(), tag.clone()]);
        }
        args.extend(["--file".into(), request.dockerfile.display().to_string()]);
        if let Some(platform) = &request.platform {
            args.extend(["--platform".into(), platform.to_string()]);
        }
        if request.pull {
            // `--pull=true`, not `--pull`: podman reads it as `always`, as docker reads both.
            args.push("--pull=true".into());
        }
        for (name, value) in &request.build_args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        for (name, value) in &request.labels {
            args.extend(["--label".into(), format!("{name}={value}")]);
        }
        args.extend(secret_args(&request.secrets));
        if let Some(cache) = &request.cache {
            args.extend(self.layer_cache_args(cache, export_cache));
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

    /// `docker image save --output FILE REFERENCE`: the image as a docker-archive (podman's
    /// default format too), read by [`SavedImage::read`].
    pub fn save(&self, reference: &str, file: &Path) -> Command {
        let file = file.display().to_string();
        self.command(["image", "save", "--output", &file, reference])
    }

    /// Whether this engine runs on this machine, so that saving an image is a local copy.
    pub fn is_local(&self) -> bool {
        let program = self.program.to_string_lossy();
        EngineAddress::from_env(&program, &self.leading_args).is_local()
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

    /// The local images among `references`, in as few `image inspect`s as the system's limit on
    /// a command line allows; a reference that names no image here is left out, any other
    /// failure is an error.
    pub fn local_images(&self, references: &[String]) -> Result<LocalImages, Error> {
        let mut found = LocalImages::default();
        for batch in batches(references, MAX_QUERY_BYTES) {
            found.extend(self.local_images_in_one_query(batch)?);
        }
        Ok(found)
    }

    /// The local images among `references`, in one `image inspect`.
    fn local_images_in_one_query(&self, references: &[String]) -> Result<LocalImages, Error> {
        let step = "reading the local images";
        let args = ["image".to_owned(), "inspect".to_owned()];
        let command = self.command(args.into_iter().chain(references.iter().cloned()));
        let output = command.output_tolerating(step, says_image_missing)?;
        images::parse_inspect(&output).map_err(|e| Error::Unreadable {
            step: step.to_owned(),
            command: command.to_string(),
            why: e.to_string(),
        })
    }

    /// The platform (`os/arch[/variant]`) of the local image `reference`, None when there is
    /// none.
    pub fn platform_of(
        &self,
        reference: &str,
    ) -> Result<Option<crate::reference::Platform>, Error> {
        let local = self.local_images(&[reference.to_owned()])?;
        Ok(local.get(reference).map(|image| image.platform.clone()))
    }

    /// The tags of the local images of repositories matching `pattern` (e.g. `dagster/*`), as
    /// `repository:tag`, as docker writes them.
    pub fn local_tags(&self, pattern: &str) -> process::Result<Vec<String>> {
        let filter = format!("reference={pattern}");
        let format = "{{.Repository}}:{{.Tag}}";
        let listing = self
            .command(["image", "ls", "--format", format, "--filter", &filter])
            .output("listing local images", None)?;
        Ok(listing
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(images::familiar)
            .collect())
    }

    /// `docker image rm REFERENCE`: removes the tag, and the image when nothing else uses it.
    /// Returns the IDs of the images it deleted.
    pub fn remove_image(&self, reference: &str) -> process::Result<Vec<String>> {
        let output = self
            .command(["image", "rm", reference])
            .output(&format!("removing `{reference}`"), None)?;
        Ok(images::deleted_ids(&output))
    }
}

/// Bytes of arguments one engine query of many references takes: far below the system's limit
/// on a command line with its environment (`ARG_MAX`: 2 MiB on Linux, 1 MiB on macOS), so that
/// a catalog of any size is asked in a few commands, never "Argument list too long".
const MAX_QUERY_BYTES: usize = 256 * 1024;

/// `references` split, in order, into runs of at most `budget` bytes of arguments (each counted
/// with its terminating NUL); a reference longer than the budget is a run of its own.
fn batches(references: &[String], budget: usize) -> Vec<&[String]> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, reference) in references.iter().enumerate() {
        let size = reference.len() + 1;
        if i > start && bytes + size > budget {
            runs.push(&references[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < references.len() {
        runs.push(&references[start..]);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_references_are_asked_in_runs_within_the_budget_in_order() {
        let references: Vec<String> = (0..10).map(|i| format!("dagster/x:py{i}")).collect();
        let each = references[0].len() + 1;
        let runs = batches(&references, each * 4);
        assert_eq!(
            runs.iter().map(|run| run.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        assert_eq!(runs.concat(), references);
        assert!(batches(&[], 10).is_empty());
        let long = vec!["x".repeat(50), "y".into()];
        assert_eq!(batches(&long, 10), [&long[..1], &long[1..]]);
    }

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
        let docker = Docker::from_program("docker");
        let request = BuildSpec {
            tag: "dagster/app:py3.10-T".into(),
            extra_tags: vec!["reg/app:py3.10-T".into()],
            dockerfile: "images/app/Dockerfile".into(),
            context: "images/app".into(),
            build_args: vec![("BASE_IMAGE".into(), "dagster/base:py3.10-S".into())],
            platform: Some(crate::reference::Platform::linux_amd64()),
            default_platform: false,
            labels: vec![("io.dagster-image.input-digest".into(), "blake3:d".into())],
            pull: true,
            secrets: Vec::new(),
            cache: None,
        };
        assert_eq!(
            docker.build(&request).to_string(),
            "docker build --force-rm --tag dagster/app:py3.10-T --tag reg/app:py3.10-T \
             --file images/app/Dockerfile \
             --platform linux/amd64 --pull=true --build-arg BASE_IMAGE=dagster/base:py3.10-S \
             --label io.dagster-image.input-digest=blake3:d images/app"
        );
    }
}
