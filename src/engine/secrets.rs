//! Build secrets on the engine: the `--secret id=...,env=...` (or `src=...`) arguments that
//! BuildKit (`docker build` with BuildKit, `docker buildx build`) and podman take, and whether the
//! engine's `build` takes them at all: Docker's classic builder does not.

use super::{Docker, Error};
use crate::catalog::BuildSecret;

/// The `--secret` arguments of `secrets`, in order: each names its source, never its value.
pub fn secret_args(secrets: &[BuildSecret]) -> Vec<String> {
    secrets
        .iter()
        .flat_map(|secret| ["--secret".to_owned(), secret.spec()])
        .collect()
}

/// Whether a `build --help` text lists the `--secret` flag.
fn lists_secret_flag(help: &str) -> bool {
    help.lines()
        .any(|line| line.split_whitespace().any(|word| word == "--secret"))
}

impl Docker {
    /// Whether this engine's `build` takes `--secret`, as its own help says: BuildKit's and
    /// podman's do; Docker's classic builder (`DOCKER_BUILDKIT=0`, docker 20.10's default, or
    /// docker 23 and later without the buildx plugin) lists no such flag, or refuses to build at
    /// all. A help that cannot be had for another reason (no engine) is an error.
    pub fn passes_build_secrets(&self) -> Result<bool, Error> {
        let command = self.command(["build", "--help"]);
        let help = command.output_tolerating("asking the engine how it builds", |_| true)?;
        Ok(lists_secret_flag(&help))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SecretSource;

    #[test]
    fn each_secret_is_one_argument_naming_its_source() {
        let secrets = [
            BuildSecret {
                id: "pip".into(),
                source: SecretSource::Env("PIP_TOKEN".into()),
            },
            BuildSecret {
                id: "npm".into(),
                source: SecretSource::File {
                    written: ".npmrc".into(),
                    path: "/repo/.npmrc".into(),
                },
            },
        ];
        assert_eq!(
            secret_args(&secrets),
            [
                "--secret",
                "id=pip,env=PIP_TOKEN",
                "--secret",
                "id=npm,src=/repo/.npmrc"
            ]
        );
    }

    /// Lines of the help of docker 20.10 with BuildKit and of podman 4.3, as they print them.
    #[test]
    fn the_secret_flag_is_found_in_the_help_of_buildkit_and_podman_only() {
        assert!(lists_secret_flag(
            "      --secret stringArray      Secret file to expose to the build (only if \
             BuildKit enabled): id=mysecret,src=/local/secret\n"
        ));
        assert!(lists_secret_flag(
            "      --secret stringArray     secret file to expose to the build\n"
        ));
        assert!(!lists_secret_flag(
            "      --security-opt strings    Security options\n  -t, --tag list   Name\n"
        ));
        assert!(!lists_secret_flag(
            "ERROR: BuildKit is enabled but the buildx component is missing or broken.\n"
        ));
    }
}
