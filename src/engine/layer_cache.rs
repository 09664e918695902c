//! The registry layer cache of a build (`--registry-cache`) in each builder's dialect. Docker
//! with BuildKit writes its cache into the image (`BUILDKIT_INLINE_CACHE=1`), which is pushed to
//! the cache tag and read back with `--cache-from`; the classic builder reuses the layers of the
//! cache tag's image, pulled first; podman pushes each layer to a cache repository of its own
//! (`--cache-to`, tags named by its cache keys) and looks there (`--cache-from`). A cache that
//! is missing or refused only costs time: the callers warn and go on.

use super::{Docker, Error};
use crate::process::{self, Command};

/// Which builder runs `docker build`, as far as its layer cache flags differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDialect {
    /// Docker's classic builder: `--cache-from` a local image.
    Classic,
    /// Docker with BuildKit: inline cache and `--cache-from` a registry image.
    BuildKit,
    /// podman (buildah): `--cache-from` and `--cache-to` a repository.
    Podman,
}

/// What podman prints when the push of its cache failed, which fails its build.
const PODMAN_CACHE_PUSH_FAILED: &str = "failed pushing cache to";

/// The first docker release whose `docker build` is BuildKit by default on Linux.
const FIRST_BUILDKIT_BY_DEFAULT: u32 = 23;

impl CacheDialect {
    /// Whether the image is pushed to the cache tag after the build (podman pushes its own).
    pub fn pushes_image(self) -> bool {
        self != CacheDialect::Podman
    }
}

/// Whether a line of a build's output says that podman could not push its cache.
pub fn says_cache_push_failed(line: &str) -> bool {
    line.contains(PODMAN_CACHE_PUSH_FAILED)
}

/// `DOCKER_BUILDKIT`'s word on the builder, when it gives one.
fn buildkit_variable(value: Option<&str>) -> Option<CacheDialect> {
    match value?.trim().to_ascii_lowercase().as_str() {
        "1" | "true" => Some(CacheDialect::BuildKit),
        "0" | "false" => Some(CacheDialect::Classic),
        _ => None,
    }
}

/// The builder docker `server_version` (`20.10.24+dfsg1`) runs by default.
fn default_docker_builder(server_version: &str) -> CacheDialect {
    let major = server_version.trim().split('.').next().unwrap_or_default();
    match major.parse::<u32>() {
        Ok(major) if major >= FIRST_BUILDKIT_BY_DEFAULT => CacheDialect::BuildKit,
        _ => CacheDialect::Classic,
    }
}

/// The repository podman keeps the cache of the tag `reference` in: beside the image's own,
/// `<registry>/<image>-buildcache` (podman names the tags itself, one per cache key).
pub fn podman_cache_repository(reference: &str) -> String {
    let name_start = reference.rfind('/').map_or(0, |i| i + 1);
    let repository = match reference[name_start..].rfind(':') {
        Some(colon) => &reference[..name_start + colon],
        None => reference,
    };
    format!("{repository}-buildcache")
}

impl Docker {
    /// This engine, its builds taking their layer cache in `dialect`'s way.
    pub fn with_cache_dialect(mut self, dialect: CacheDialect) -> Self {
        self.cache_dialect = Some(dialect);
        self
    }

    /// The builder `docker build` runs: podman when the program says so, else what
    /// `DOCKER_BUILDKIT` says, else the docker server's default.
    pub fn cache_dialect(&self) -> Result<CacheDialect, Error> {
        let step = "asking the engine which builder it runs";
        let version = self.command(["--version"]).output(step, None)?;
        if version.to_ascii_lowercase().starts_with("podman") {
            return Ok(CacheDialect::Podman);
        }
        let variable = std::env::var("DOCKER_BUILDKIT").ok();
        if let Some(dialect) = buildkit_variable(variable.as_deref()) {
            return Ok(dialect);
        }
        let server = self
            .command(["version", "--format", "{{.Server.Version}}"])
            .output(step, None)?;
        Ok(default_docker_builder(&server))
    }

    /// The arguments of a build whose cache is the tag `reference`; `export` false: only read
    /// it (podman's rebuild after its cache push failed).
    pub(super) fn layer_cache_args(&self, reference: &str, export: bool) -> Vec<String> {
        let from = |value: String| ["--cache-from".to_owned(), value];
        match self.cache_dialect {
            None => Vec::new(),
            Some(CacheDialect::Classic) => from(reference.to_owned()).to_vec(),
            Some(CacheDialect::BuildKit) => {
                let mut args = vec!["--build-arg".to_owned(), "BUILDKIT_INLINE_CACHE=1".into()];
                args.extend(from(reference.to_owned()));
                args
            }
            Some(CacheDialect::Podman) => {
                let repository = podman_cache_repository(reference);
                let mut args = from(repository.clone()).to_vec();
                if export {
                    args.extend(["--cache-to".to_owned(), repository]);
                }
                args
            }
        }
    }

    /// Before a classic build: the cache tag's image pulled, whose layers `--cache-from` reuses.
    pub fn pull_layer_cache(&self, reference: &str) -> Option<Command> {
        (self.cache_dialect == Some(CacheDialect::Classic)).then(|| self.pull(reference))
    }

    /// After a build on docker, the commands that put `tag`'s image at the cache tag
    /// `reference`: tag, push, and untag here (the image keeps its own tags).
    pub fn export_layer_cache(&self, tag: &str, reference: &str) -> Vec<Command> {
        if !self.cache_dialect.is_some_and(CacheDialect::pushes_image) {
            return Vec::new();
        }
        vec![
            self.tag(tag, reference),
            self.push(reference),
            self.command(["image", "rm", reference]),
        ]
    }

    /// Runs the commands of [`export_layer_cache`](Self::export_layer_cache) in order, each
    /// logged to `log`, stopping at the first failure.
    pub fn run_layer_cache_export(
        &self,
        tag: &str,
        reference: &str,
        log: &std::path::Path,
    ) -> process::Result<()> {
        let step = format!("exporting the layer cache to `{reference}`");
        for command in self.export_layer_cache(tag, reference) {
            command.run_logged(&step, log, &mut |_| {})?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_is_what_docker_buildkit_says_else_the_servers_default() {
        assert_eq!(buildkit_variable(Some("1")), Some(CacheDialect::BuildKit));
        assert_eq!(
            buildkit_variable(Some("false")),
            Some(CacheDialect::Classic)
        );
        assert_eq!(buildkit_variable(Some("")), None);
        assert_eq!(buildkit_variable(None), None);
        assert_eq!(
            default_docker_builder("20.10.24+dfsg1"),
            CacheDialect::Classic
        );
        assert_eq!(default_docker_builder("28.2.2\n"), CacheDialect::BuildKit);
    }

    #[test]
    fn podman_keeps_the_cache_in_a_repository_beside_the_images() {
        assert_eq!(
            podman_cache_repository("127.0.0.1:5000/ci/app:buildcache-py3.10"),
            "127.0.0.1:5000/ci/app-buildcache"
        );
        assert_eq!(
            podman_cache_repository("127.0.0.1:5000/app"),
            "127.0.0.1:5000/app-buildcache"
        );
    }

    fn engine(dialect: CacheDialect) -> Docker {
        Docker::from_program("docker").with_cache_dialect(dialect)
    }

    #[test]
    fn each_builder_reads_and_writes_the_cache_in_its_own_flags() {
        let cache = "reg/app:buildcache-py3.10";
        assert_eq!(
            engine(CacheDialect::BuildKit).layer_cache_args(cache, true),
            [
                "--build-arg",
                "BUILDKIT_INLINE_CACHE=1",
                "--cache-from",
                cache
            ]
        );
        assert_eq!(
            engine(CacheDialect::Classic).layer_cache_args(cache, true),
            ["--cache-from", cache]
        );
        assert_eq!(
            engine(CacheDialect::Podman).layer_cache_args(cache, true),
            [
                "--cache-from",
                "reg/app-buildcache",
                "--cache-to",
                "reg/app-buildcache"
            ]
        );
        assert_eq!(
            engine(CacheDialect::Podman).layer_cache_args(cache, false),
            ["--cache-from", "reg/app-buildcache"]
        );
        assert!(
            engine(CacheDialect::Podman)
                .export_layer_cache("t", cache)
                .is_empty()
        );
        assert!(
            engine(CacheDialect::Podman)
                .pull_layer_cache(cache)
                .is_none()
        );
        assert!(
            engine(CacheDialect::Classic)
                .pull_layer_cache(cache)
                .is_some()
        );
    }
}
