//! buildx, when the user's docker has it: whether its current builder can build several
//! platforms and push them as one index (a builder of the `docker-container`, `kubernetes` or
//! `remote` driver that lists the platforms; the `docker` driver stores one platform per tag),
//! and the one `docker buildx build --push` that does it.

use std::cell::Cell;

use super::{Docker, Error};
use crate::plan::{BuildSpec, REGISTRY_CACHE_EXPORT};
use crate::process::Command;
use crate::reference::Platform;

/// The current buildx builder, as `docker buildx inspect` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub driver: String,
    /// The platforms of its first node.
    pub platforms: Vec<Platform>,
}

impl Builder {
    /// Whether it builds every one of `platforms` and pushes them as one index.
    pub fn pushes_all(&self, platforms: &[Platform]) -> bool {
        self.driver != "docker" && platforms.iter().all(|p| self.platforms.contains(p))
    }
}

/// Reads `docker buildx inspect`: its `Driver:` line and its first `Platforms:` line.
pub fn parse_inspect(output: &str) -> Option<Builder> {
    let value = |name: &str| {
        output
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
    };
    let driver = value("Driver:")?.to_owned();
    let platforms = value("Platforms:")
        .unwrap_or_default()
        .split(',')
        .map(|p| p.trim().trim_end_matches('*'))
        .filter(|p| !p.is_empty())
        .map(Platform::of)
        .collect();
    Some(Builder { driver, platforms })
}

/// A test of the lines of `docker buildx inspect`'s stderr, in order, that passes them when they
/// say that there is no buildx or no such builder (`says_no_buildx`), each perhaps followed by
/// where the help is, and nothing else.
fn no_buildx_lines() -> impl Fn(&str) -> bool {
    let said = Cell::new(false);
    move |line| {
        if says_no_buildx(line) {
            said.set(true);
            true
        } else {
            said.get() && points_to_help(line)
        }
    }
}

/// Whether a line says that there is no buildx or no such builder: docker 28's `docker:
/// unknown command: docker buildx`, docker 20.10 to 27's `docker: 'buildx' is not a docker
/// command.`, podman 4's ``Error: unrecognized command `podman buildx inspect` ``, buildx's
/// `ERROR: no builder "NAME" found`.
fn says_no_buildx(line: &str) -> bool {
    let line = line.trim();
    let no_command = [
        "unknown command: ",
        "unrecognized command `",
        "is not a docker command",
    ]
    .iter()
    .any(|words| line.contains(words));
    let no_builder = line.starts_with("ERROR: no builder \"") && line.ends_with("\" found");
    (no_command && line.contains("buildx")) || no_builder
}

/// Whether a line only points to the help, as follows a refused command: `See 'docker
/// --help'.`, `Run 'docker --help' for more information`, `Try 'podman buildx --help' ...`.
fn points_to_help(line: &str) -> bool {
    let line = line.trim();
    ["See '", "Run '", "Try '"]
        .iter()
        .any(|start| line.starts_with(start))
        && line.contains(" --help'")
}

/// The error a builder reports in an answer that is otherwise a success (`Error:` under its
/// name: the docker daemon of its `docker` driver does not answer, for one).
fn builder_error(answer: &str) -> Option<&str> {
    answer
        .lines()
        .find_map(|line| line.strip_prefix("Error:"))
        .map(str::trim)
}

impl Docker {
    /// The current buildx builder; None when there is no buildx (podman, a docker without the
    /// plugin) or no such builder, as its answer says, or its answer describes none. A query
    /// that fails otherwise, or a builder that reports an error, is an error naming the command.
    pub fn buildx_builder(&self) -> Result<Option<Builder>, Error> {
        let step = "asking buildx for its builder";
        let command = self.command(["buildx", "inspect"]);
        let answer = command.output_tolerating(step, no_buildx_lines())?;
        if let Some(error) = builder_error(&answer) {
            return Err(Error::Answered {
                step: step.to_owned(),
                command: command.to_string(),
                answer: error.to_owned(),
            });
        }
        Ok(parse_inspect(&answer))
    }

    /// `docker buildx build --push --provenance=false` of `request` for every one of `platforms`
    /// at once.
    pub fn buildx_build_push(&self, request: &BuildSpec, platforms: &[Platform]) -> Command {
        // No provenance attestation: the index lists the platforms' images only, as one pushed
        // platform by platform does.
        let mut args = vec!["buildx".to_owned(), "build".into(), "--push".into()];
        args.push("--provenance=false".into());
        let platforms: Vec<String> = platforms.iter().map(Platform::to_string).collect();
        args.extend(["--platform".into(), platforms.join(",")]);
        for tag in std::iter::once(&request.tag).chain(&request.extra_tags) {
            args.extend(["--tag".into(), tag.clone()]);
        }
        args.extend(["--file".into(), request.dockerfile.display().to_string()]);
        for (name, value) in &request.build_args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        args.extend(super::secret_args(&request.secrets));
        if let Some(cache) = &request.cache {
            args.extend(["--cache-from".into(), format!("type=registry,ref={cache}")]);
            let export = format!("type=registry,ref={cache},{REGISTRY_CACHE_EXPORT}");
            args.extend(["--cache-to".into(), export]);
        }
        for (name, value) in &request.labels {
            args.extend(["--label".into(), format!("{name}={value}")]);
        }
        args.push(request.context.display().to_string());
        self.command(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOTE: &str = "Name:          bk\nDriver:        remote\n\nNodes:\nName: bk0\n\
        Platforms:        linux/amd64, linux/amd64/v2, linux/arm64*\nLabels:\n";

    #[test]
    fn a_remote_builder_listing_the_platforms_pushes_them_all_and_the_docker_driver_never() {
        let builder = parse_inspect(REMOTE).unwrap();
        assert_eq!(builder.driver, "remote");
        let both = [
            Platform::linux_amd64(),
            Platform::parse("linux/arm64").unwrap(),
        ];
        assert!(builder.pushes_all(&both));
        assert!(!builder.pushes_all(&[Platform::parse("linux/riscv64").unwrap()]));
        let default =
            parse_inspect("Name: default\nDriver: docker\n\nPlatforms: linux/amd64, linux/arm64\n");
        assert!(!default.unwrap().pushes_all(&both));
        assert_eq!(
            parse_inspect("docker: unknown command: docker buildx"),
            None
        );
    }

    /// Whether `stderr` is passed as saying there is no buildx, as `output_tolerating` tests it.
    fn no_buildx(stderr: &str) -> bool {
        let mut lines = stderr.lines().filter(|l| !l.trim().is_empty()).peekable();
        let tolerated = no_buildx_lines();
        lines.peek().is_some() && lines.all(tolerated)
    }

    /// The words of docker 28.2 and 20.10 without the plugin, podman 4.3, and buildx 0.36 asked
    /// for a builder it does not have, as they answered here.
    #[test]
    fn no_buildx_and_no_such_builder_are_recognised_in_each_engines_words() {
        assert!(no_buildx(
            "docker: unknown command: docker buildx\n\nRun 'docker --help' for more information\n"
        ));
        assert!(no_buildx(
            "docker: 'buildx' is not a docker command.\nSee 'docker --help'\n"
        ));
        assert!(no_buildx(
            "Error: unrecognized command `podman buildx inspect`\n\
             Try 'podman buildx --help' for more information\n"
        ));
        assert!(no_buildx("ERROR: no builder \"nosuch\" found\n"));
    }

    #[test]
    fn any_other_failure_of_buildx_is_not_taken_for_no_buildx() {
        assert!(!no_buildx(""), "a failure that says nothing");
        assert!(
            !no_buildx("See 'docker --help'\n"),
            "help without a refusal"
        );
        assert!(!no_buildx(
            "ERROR: invalid character 'g' looking for beginning of value\n"
        ));
        assert!(!no_buildx(
            "docker: unknown command: docker buildx\nERROR: permission denied\n"
        ));
        assert!(!no_buildx("docker: unknown command: docker image2\n"));
        assert!(!no_buildx(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n"
        ));
    }

    #[test]
    fn a_buildx_build_with_a_layer_cache_reads_and_writes_it_in_the_registry() {
        let request = BuildSpec {
            tag: "reg/app:1.2.3".into(),
            extra_tags: Vec::new(),
            dockerfile: "images/app/Dockerfile".into(),
            context: "images/app".into(),
            build_args: Vec::new(),
            platform: None,
            default_platform: false,
            labels: Vec::new(),
            pull: false,
            secrets: Vec::new(),
            cache: Some("reg/app:buildcache-py3.10".into()),
        };
        let platforms = [
            Platform::linux_amd64(),
            Platform::parse("linux/arm64").unwrap(),
        ];
        let command = Docker::from_program("docker").buildx_build_push(&request, &platforms);
        assert!(
            command.to_string().ends_with(
                "--cache-from type=registry,ref=reg/app:buildcache-py3.10 --cache-to \
                 type=registry,ref=reg/app:buildcache-py3.10,mode=max,image-manifest=true,\
                 oci-mediatypes=true,ignore-error=true images/app"
            ),
            "{command}"
        );
    }

    #[test]
    fn a_builder_reporting_an_error_is_read_as_that_error() {
        let down = "Name:   default\nDriver: \nError:  failed to connect to the docker API at \
                    unix:///nonexistent.sock\n";
        assert_eq!(
            builder_error(down),
            Some("failed to connect to the docker API at unix:///nonexistent.sock")
        );
        assert_eq!(builder_error(REMOTE), None);
    }
}
