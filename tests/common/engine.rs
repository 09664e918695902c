//! The engine the tests run against, chosen by `DAGSTER_IMAGE_TEST_ENGINE`: `classic` (the
//! default: `docker` on PATH with the classic builder), `buildkit` (Debian's `/usr/bin/docker`
//! with `DOCKER_BUILDKIT=1`) or `podman`. The tool is given it as `$DOCKER`, and the harness asks
//! the same engine, so that tests observe the engine under test (podman's images are not docker's).
//! `none` is the engine-free suite's: no engine may be used, as on a fresh machine before set-up.

use std::process::Command;
use std::sync::OnceLock;

/// The environment variable choosing the engine.
pub const VARIABLE: &str = "DAGSTER_IMAGE_TEST_ENGINE";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Classic,
    BuildKit,
    Podman,
}

/// Whether this run is the engine-free suite (`DAGSTER_IMAGE_TEST_ENGINE=none`), in which no test
/// may use an engine even where one is running.
pub fn none() -> bool {
    std::env::var(VARIABLE).is_ok_and(|chosen| chosen == "none")
}

/// `$DOCKER` for the tool in the engine-free suite: a program that does not exist, so that any
/// engine call fails there as it does on a fresh machine.
pub const NO_ENGINE: &str = "/nonexistent/engine-free-suite-has-no-engine";

impl Engine {
    /// The engine of this test run; panics, naming the choices, on an unknown one.
    pub fn under_test() -> Self {
        static ENGINE: OnceLock<Engine> = OnceLock::new();
        *ENGINE.get_or_init(|| {
            let chosen = std::env::var(VARIABLE).unwrap_or_default();
            match chosen.as_str() {
                "" | "classic" => Self::Classic,
                "buildkit" => Self::BuildKit,
                "podman" => Self::Podman,
                other => panic!("{VARIABLE}={other}: expected classic, buildkit, podman or none"),
            }
        })
    }

    /// The engine's program, as the tool prints it in `--dry-run` commands.
    pub fn program(self) -> &'static str {
        match self {
            Self::Classic => "docker",
            Self::BuildKit => "/usr/bin/docker",
            Self::Podman => "podman",
        }
    }

    /// `$DOCKER` for the tool: unset for the classic engine, so that the default is what runs.
    pub fn docker_variable(self) -> Option<&'static str> {
        match self {
            Self::Classic => None,
            Self::BuildKit | Self::Podman => Some(self.program()),
        }
    }

    /// `$DOCKER_BUILDKIT` for the tool and the harness: docker's builder, said explicitly.
    pub fn buildkit_variable(self) -> Option<&'static str> {
        match self {
            Self::Classic => Some("0"),
            Self::BuildKit => Some("1"),
            Self::Podman => None,
        }
    }

    /// Sets the engine's variables on `command` (a run of the tool or of the engine).
    pub fn configure(self, command: &mut Command) {
        match self.docker_variable() {
            Some(program) => command.env("DOCKER", program),
            None => command.env_remove("DOCKER"),
        };
        match self.buildkit_variable() {
            Some(value) => command.env("DOCKER_BUILDKIT", value),
            None => command.env_remove("DOCKER_BUILDKIT"),
        };
    }

    /// A command of the engine's own CLI.
    pub fn command(self) -> Command {
        let mut command = Command::new(self.program());
        self.configure(&mut command);
        command
    }

    /// The script that sets this engine up.
    pub fn setup_script(self) -> &'static str {
        match self {
            Self::Classic | Self::BuildKit => "scripts/setup-engine.sh",
            Self::Podman => "scripts/setup-podman.sh",
        }
    }

    /// How the engine says that it has no image `reference`.
    pub fn no_such_image(self, reference: &str) -> String {
        match self {
            Self::Classic | Self::BuildKit => format!("No such image: {reference}"),
            Self::Podman => format!("{reference}: image not known"),
        }
    }

    /// Whether the engine records the registry digest of an image it pushed in `RepoDigests`
    /// (podman records only digests of pulls).
    pub fn records_pushed_digests(self) -> bool {
        self != Self::Podman
    }
}

/// An image reference as docker writes it: without podman's `localhost/` before local names.
pub fn familiar(reference: &str) -> String {
    let reference = reference.trim();
    reference
        .strip_prefix("localhost/")
        .unwrap_or(reference)
        .to_owned()
}

/// An image ID as docker writes it, `sha256:<hex>` (podman writes the hex alone).
pub fn familiar_id(id: &str) -> String {
    let id = id.trim();
    if id.contains(':') {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}
