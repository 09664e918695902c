//! buildx, when the user's docker has it: whether its current builder can build several
//! platforms and push them as one index (a builder of the `docker-container`, `kubernetes` or
//! `remote` driver that lists the platforms; the `docker` driver stores one platform per tag),
//! and the one `docker buildx build --push` that does it.

use super::Docker;
use crate::plan::BuildSpec;
use crate::process::Command;

/// The current buildx builder, as `docker buildx inspect` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub driver: String,
    /// The platforms of its first node.
    pub platforms: Vec<String>,
}

impl Builder {
    /// Whether it builds every one of `platforms` and pushes them as one index.
    pub fn pushes_all(&self, platforms: &[String]) -> bool {
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
        .map(|p| p.trim().trim_end_matches('*').to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    Some(Builder { driver, platforms })
}

impl Docker {
    /// The current buildx builder; None when there is no buildx (podman, a docker without the
    /// plugin) or it does not answer.
    pub fn buildx_builder(&self) -> Option<Builder> {
        let answer = self
            .command(["buildx", "inspect"])
            .output("asking buildx for its builder", None)
            .ok()?;
        parse_inspect(&answer)
    }

    /// `docker buildx build --push --provenance=false` of `request` for every one of `platforms`
    /// at once.
    pub fn buildx_build_push(&self, request: &BuildSpec, platforms: &[String]) -> Command {
        // No provenance attestation: the index lists the platforms' images only, as one pushed
        // platform by platform does.
        let mut args = vec!["buildx".to_owned(), "build".into(), "--push".into()];
        args.push("--provenance=false".into());
        args.extend(["--platform".into(), platforms.join(",")]);
        for tag in std::iter::once(&request.tag).chain(&request.extra_tags) {
            args.extend(["--tag".into(), tag.clone()]);
        }
        args.extend(["--file".into(), request.dockerfile.display().to_string()]);
        for (name, value) in &request.build_args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
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
        let both = ["linux/amd64".to_owned(), "linux/arm64".to_owned()];
        assert!(builder.pushes_all(&both));
        assert!(!builder.pushes_all(&["linux/riscv64".to_owned()]));
        let default =
            parse_inspect("Name: default\nDriver: docker\n\nPlatforms: linux/amd64, linux/arm64\n");
        assert!(!default.unwrap().pushes_all(&both));
        assert_eq!(
            parse_inspect("docker: unknown command: docker buildx"),
            None
        );
    }
}
