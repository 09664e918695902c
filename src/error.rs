//! The error of a whole command: what went wrong, what caused it, what to do about it, and
//! its kind, which decides the exit code ([`crate::exit`]).

use crate::exit::Kind;
use crate::run::Failure;
use crate::{build_context, catalog, engine, export, plan, process, publish, reference, registry};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Catalog(#[from] catalog::Error),
    #[error(transparent)]
    Plan(#[from] plan::Error),
    #[error(transparent)]
    Registry(#[from] registry::Error),
    /// A registry spoken to directly failed (one line naming it).
    #[error(transparent)]
    Remote(#[from] registry::RemoteError),
    #[error(transparent)]
    Process(#[from] process::Error),
    /// A build of `build-and-push-dockerhub` failed: the run exits with the engine's status.
    #[error(transparent)]
    ReleaseBuild(process::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    BuildContext(#[from] build_context::Error),
    #[error(transparent)]
    Export(#[from] export::Error),
    #[error(transparent)]
    Publish(#[from] publish::Error),
    /// A build secret whose source is missing, or an engine that cannot pass it.
    #[error(transparent)]
    Secrets(#[from] SecretError),
    /// A value given on the command line that cannot be used.
    #[error(transparent)]
    Invalid(#[from] reference::Invalid),
    /// `prune --remote` failed after deleting some tags: what it deleted went to stdout.
    #[error("{source}; deleted {deleted} tags before (printed above), not deleted: {}", backticked(.not_deleted))]
    PruneIncomplete {
        source: Box<registry::RemoteError>,
        deleted: usize,
        not_deleted: Vec<String>,
    },
    /// A local image that went away while the command was working with it.
    #[error("`{reference}` went away while the command ran")]
    WentAway { reference: String },
    /// A build for a platform would start from a local image of another platform.
    #[error(
        "`{tag}` is to be built for {expected}, but `{reference}`, which it starts from, is here \
         as an image for {actual}, {why}; nothing was built"
    )]
    StartsFromOtherPlatform {
        tag: String,
        reference: String,
        expected: String,
        actual: String,
        /// Why it is not pulled again for `expected`.
        why: &'static str,
    },
    #[error("{failed} of {total} builds failed{}", skipped_note(*.skipped))]
    BuildsFailed {
        failed: usize,
        skipped: usize,
        total: usize,
    },
    /// One build of a run failed, or built but could not be recorded.
    #[error(transparent)]
    Build(#[from] Failure),
    #[error("interrupted")]
    Interrupted,
    /// `--registry-cache` with no registry to keep the cache in.
    #[error(
        "`--registry-cache` keeps the layer cache in the registry, and no registry is configured"
    )]
    CacheWithoutRegistry,
    /// A push the registry refused, its rate limit spent (docker's `toomanyrequests`).
    #[error("{step} failed: registry `{registry}` says its rate limit is spent ({reason})")]
    RateLimited {
        step: String,
        registry: String,
        reason: String,
    },
    /// Pushes or a release that left some tags unpublished.
    #[error(transparent)]
    Unpublished(#[from] Unpublished),
    /// `check` found problems in the catalog (listed on stdout).
    #[error("found {count} problem(s) in the catalog")]
    ProblemsFound { count: usize },
    #[error(
        "`{reference}` (the image of every platform of `{name}`) is not in the registry: a release of several platforms copies it whole"
    )]
    IndexNotPushed { name: String, reference: String },
}

fn skipped_note(skipped: usize) -> String {
    match skipped {
        0 => String::new(),
        n => format!(", {n} not built"),
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// What kind of failure this is, which decides the exit code.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Catalog(e) => e.kind(),
            Error::Remote(e) => e.kind(),
            Error::Process(e) | Error::ReleaseBuild(e) => e.kind(),
            Error::Engine(e) => e.kind(),
            Error::BuildContext(e) => e.kind(),
            Error::Publish(e) => e.kind(),
            Error::Secrets(e) => e.kind(),
            Error::Build(e) => e.kind(),
            Error::PruneIncomplete { source, .. } => source.kind(),
            Error::Plan(_)
            | Error::Registry(_)
            | Error::Export(_)
            | Error::Invalid(_)
            | Error::CacheWithoutRegistry => Kind::BadInput,
            Error::BuildsFailed { .. }
            | Error::StartsFromOtherPlatform { .. }
            | Error::ProblemsFound { .. }
            | Error::WentAway { .. }
            | Error::IndexNotPushed { .. }
            | Error::RateLimited { .. }
            | Error::Unpublished(_) => Kind::Failed,
            Error::Interrupted => Kind::Interrupted,
        }
    }

    /// The exit code: its kind's, but a failed release build's is the engine's own status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::ReleaseBuild(process::Error::Failed { status, .. }) => {
                crate::exit::of_failed_program(*status)
            }
            _ => self.kind().exit_code(),
        }
    }

    /// What to do about it, when the message alone does not say; shown as `hint:`.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Catalog(e) => e.hint(),
            Error::Plan(e) => e.hint(),
            Error::Registry(e) => e.hint(),
            Error::Build(e) => e.hint(),
            Error::Secrets(e) => e.hint(),
            Error::StartsFromOtherPlatform {
                reference,
                expected,
                ..
            } => Some(format!(
                "pull it for that platform (`docker pull --platform {expected} {reference}`), or \
                 tag the image for {expected} as `{reference}`, and build again"
            )),
            Error::Remote(e) => e.hint(),
            Error::PruneIncomplete { source, .. } => source.hint(),
            Error::RateLimited { registry, .. } => Some(registry::rate_limit_hint(registry)),
            Error::WentAway { .. } => Some("run the command again".to_owned()),
            Error::CacheWithoutRegistry => Some(
                "pass `--registry HOST[:PORT][/PATH]` (or set `DAGSTER_IMAGE_REGISTRY`), or \
                 build without `--registry-cache`"
                    .to_owned(),
            ),
            Error::Process(e) | Error::ReleaseBuild(e) => engine::broken_store_hint(e),
            Error::Engine(e) => e.hint(),
            Error::IndexNotPushed { name, .. } => Some(format!(
                "push every platform and the index first: `dagster-image push-all --name {name}`"
            )),
            _ => None,
        }
    }
}

/// `values` as a list of literals: `` `a`, `b` ``.
fn backticked(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| format!("`{value}`")).collect();
    quoted.join(", ")
}

/// A run that left tags unpublished: exit 1, one line saying which tags are in the registry and
/// which are not.
#[derive(Debug)]
pub struct Unpublished {
    published: Vec<String>,
    /// Each unpublished tag and why, or None when it was not tried.
    missing: Vec<(String, Option<String>)>,
}

impl Unpublished {
    /// `published`, and each tag `missing` with why (None: not tried).
    pub fn new(published: Vec<String>, missing: Vec<(String, Option<String>)>) -> Self {
        Self { published, missing }
    }
}

impl std::error::Error for Unpublished {}

impl std::fmt::Display for Unpublished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.published.len() + self.missing.len();
        write!(
            f,
            "{} of {total} tag(s) not published: ",
            self.missing.len()
        )?;
        let missing: Vec<String> = self
            .missing
            .iter()
            .map(|(target, why)| match why {
                Some(why) => format!("`{target}` ({why})"),
                None => format!("`{target}` (not tried after that)"),
            })
            .collect();
        f.write_str(&missing.join("; "))?;
        match self.published.as_slice() {
            [] => f.write_str("; none published")?,
            published => write!(f, "; published: `{}`", published.join("`, `"))?,
        }
        f.write_str("; running the same command again publishes the missing ones")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn failed_with_code(code: i32) -> process::Error {
        process::Error::Failed {
            step: "building `dagster/app:1.0`".into(),
            command: "docker build .".into(),
            status: ExitStatusExt::from_raw(code << 8),
            detail: String::new(),
        }
    }

    #[test]
    fn only_a_failed_release_build_exits_with_the_engines_status() {
        assert_eq!(Error::ReleaseBuild(failed_with_code(3)).exit_code(), 3);
        assert_eq!(Error::Process(failed_with_code(3)).exit_code(), 1);
        let interrupted = Error::ReleaseBuild(process::Error::Interrupted);
        assert_eq!(interrupted.exit_code(), 130);
        let unspawned = Error::ReleaseBuild(process::Error::Spawn {
            step: "building `dagster/app:1.0`".into(),
            program: "docker".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
        assert_eq!(unspawned.exit_code(), 1);
    }
}

/// A build secret that cannot be passed: bad input (exit 2) naming the secret and its source,
/// checked before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "build secret `{id}` of `{image}` reads the environment variable `{variable}`, which is not set"
    )]
    VariableMissing {
        image: String,
        id: String,
        variable: String,
    },
    #[error("build secret `{id}` of `{image}` reads `{}`, which {why}", .path.display())]
    FileUnusable {
        image: String,
        id: String,
        path: std::path::PathBuf,
        why: String,
    },
    #[error(
        "`{image}` has build secrets, which Docker's classic builder cannot pass: this engine's \
         `build --help` lists no `--secret`"
    )]
    ClassicBuilder { image: String },
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
}

impl SecretError {
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            SecretError::Engine(e) => e.kind(),
            _ => crate::exit::Kind::BadInput,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            SecretError::VariableMissing { variable, .. } => Some(format!(
                "set `{variable}` in the environment of the run (its value is never shown)"
            )),
            SecretError::FileUnusable { image, .. } => Some(format!(
                "put the file in place, or change `src:` in `{image}/image.yaml`; keep it out of \
                 the image folder and of its copies"
            )),
            SecretError::ClassicBuilder { .. } => Some(
                "build with BuildKit: set `DOCKER_BUILDKIT=1` (docker 23 and later: install the \
                 buildx plugin), or with podman (`DOCKER=podman`)"
                    .to_owned(),
            ),
            SecretError::Engine(_) => None,
        }
    }
}
