//! One function per command, each a few steps over the catalog, the plan, the engine and the
//! registry, composing the operations several commands share. `dispatch` checks the parsed
//! command line into typed values (`config`) and maps it onto them.

// The commands.
mod build;
mod check;
mod dockerhub;
mod docs;
mod export;
mod prune;
mod publish;
mod push;
mod record;
mod release;
mod snapshot;
mod status;

// The command line, validated.
mod config;

// The operations the commands compose; none calls a command.
mod build_plan;
mod freeze;
mod incremental;
mod login;
mod outcome;
mod platform_push;
mod pushing;
mod up_to_date;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::catalog::{self, Catalog};
use crate::cli::{BuildOptions, Cli, Command, ReleaseArgs};
use crate::engine::{Docker, PushRetries};
use crate::error::{Error, Result};
use crate::registry::{PUBLIC_ECR_HOST, Registry};

use config::{BuildSettings, BuiltElsewhere};

pub use build_plan::BuildRequest;
pub use outcome::Unpublished;

/// What every command works with. The catalog is looked for when a command first needs it, so
/// that the commands that need none (`tags`) work anywhere.
pub struct Context {
    images_dir: Option<PathBuf>,
    catalog: OnceCell<Catalog>,
    pub docker: Docker,
    registry: Option<String>,
    /// How long one registry operation may take, its retries included.
    pub registry_timeout: Duration,
    /// Ask no registry about upstream images, nor whether images are pushed.
    pub offline: bool,
}

impl Context {
    /// The catalog: `--images-dir`, else `./images`, else the seed's layout under the git root.
    pub fn catalog(&self) -> Result<&Catalog> {
        if let Some(catalog) = self.catalog.get() {
            return Ok(catalog);
        }
        let cwd = std::env::current_dir().map_err(catalog::Error::Io)?;
        let found = Catalog::locate(self.images_dir.as_deref(), &cwd)?;
        Ok(self.catalog.get_or_init(|| found))
    }

    /// The registry to push to; an error only for commands that need one.
    pub fn registry(&self) -> std::result::Result<Registry, crate::registry::Error> {
        Registry::resolve(self.registry.as_deref())
    }

    /// The registry as a plan takes it, for its `source: aws` bases: its address, or why there
    /// is none.
    pub fn registry_address(&self) -> crate::plan::RegistryAddress {
        self.registry()
            .map(|registry| registry.to_string())
            .map_err(Into::into)
    }

    /// How often and how long a failing `docker push` is tried: within ten registry timeouts.
    pub fn push_retries(&self) -> PushRetries {
        PushRetries::within(self.registry_timeout.saturating_mul(10))
    }
}

pub fn dispatch(cli: Cli) -> Result<()> {
    if cli.debug {
        crate::debug::enable();
    }
    let context = Context {
        images_dir: cli.images_dir,
        catalog: OnceCell::new(),
        docker: Docker::from_env(),
        registry: cli.registry,
        registry_timeout: Duration::from_secs(cli.registry_timeout),
        offline: cli.offline,
    };
    run(&context, cli.command)
}

fn run(context: &Context, command: Command) -> Result<()> {
    match command {
        Command::List => list(context.catalog()?),
        Command::Build {
            name,
            python_version,
            build,
            dry_run,
        } => {
            let settings = BuildSettings::from_cli(build)?;
            let request = BuildRequest::one(name, python_version, settings);
            build::build(context, &request, dry_run)
        }
        Command::BuildAll {
            name,
            with_deps,
            with_dependents,
            build,
            jobs,
            keep_going,
            skip_unchanged,
            dry_run,
        } => {
            let request = BuildRequest::all(name, BuildSettings::from_cli(build)?)
                .with_bases(with_deps)
                .jobs(jobs)
                .keeping_going(keep_going)
                .skipping_unchanged(skip_unchanged)
                .including_dependents(with_dependents);
            build::build(context, &request, dry_run)
        }
        Command::Check { name, json } => check::check(context, name.as_deref(), json),
        Command::Prune {
            name,
            images,
            dry_run,
        } => prune::prune(context, name.as_deref(), images, dry_run),
        Command::Push {
            name,
            python_version,
            custom_tag,
            platforms,
            dry_run,
        } => {
            let custom_tag = config::custom_tag(custom_tag)?;
            let platforms = config::platforms(platforms)?;
            let push = push::Push {
                python_version: Some(&python_version),
                custom_tag: custom_tag.as_ref(),
                platforms: &platforms,
            };
            push::push(context, &name, &push, dry_run)
        }
        Command::PushAll {
            name,
            platforms,
            dry_run,
        } => {
            let platforms = config::platforms(platforms)?;
            let push = push::Push {
                python_version: None,
                custom_tag: None,
                platforms: &platforms,
            };
            push::push(context, &name, &push, dry_run)
        }
        Command::Release {
            name,
            dagster_version,
            destinations,
            dry_run,
        } => {
            let version = config::version_tag(&dagster_version)?;
            let destinations = config::destinations(destinations)?;
            release::release(context, &name, &version, &destinations, true, dry_run)
        }
        Command::PushDockerhub(args) => release_to(context, args, "dagster"),
        Command::PushEcr(args) => release_to(context, args, &format!("{PUBLIC_ECR_HOST}/dagster")),
        Command::BuildAndPushDockerhub {
            name,
            dagster_version,
            set_latest,
            platforms,
            repository,
            dry_run,
        } => {
            let release = dockerhub::Release {
                name: &name,
                dagster_version: &config::version_tag(&dagster_version)?,
                set_latest,
                platforms: &config::platforms(platforms)?,
                repository: repository.as_deref(),
            };
            dockerhub::build_and_push(context, &release, dry_run)
        }
        Command::Status { name, json } => status::status(context, name.as_deref(), json),
        Command::Tags { name } => push::tags(context, &config::image_name(&name)?),
        Command::Snapshot { snap_type, dry_run } => {
            snapshot::snapshot(context, config::snap_type(snap_type), dry_run)
        }
        Command::Publish(args) => publish::publish(context, &config::Publish::from_cli(args)?),
        Command::Bake {
            name,
            with_deps,
            timestamp,
            dagster_version,
            platforms,
            push,
        } => {
            let options = BuildOptions {
                timestamp,
                dagster_version,
                platforms,
            };
            let request = BuildRequest::all(name, BuildSettings::from_cli(options)?)
                .with_bases(with_deps)
                .platforms_in_one_build();
            export::bake(context, &request, push)
        }
        Command::Pipeline {
            name,
            timestamp,
            platforms,
            agents,
            skip_unchanged,
        } => {
            let options = BuildOptions {
                timestamp,
                dagster_version: None,
                platforms,
            };
            let agents = config::agent_tags(&agents)?;
            // Fresh agents have no bases built earlier, so the pipeline builds them too (or,
            // with `--skip-unchanged`, pulls those that did not change).
            let request = BuildRequest::all(name, BuildSettings::from_cli(options)?)
                .with_bases(true)
                .skipping_unchanged(skip_unchanged);
            export::pipeline(context, &request, &agents)
        }
        Command::Record(built) => record::record(context, &BuiltElsewhere::from_cli(built)?),
        Command::Pull { built, platform } => {
            let built = BuiltElsewhere::from_cli(built)?;
            record::pull(context, &built, config::platform(platform)?.as_deref())
        }
        Command::Index {
            built,
            platforms,
            dry_run,
        } => {
            let built = BuiltElsewhere::from_cli(built)?;
            record::index(context, &built, &config::platforms(platforms)?, dry_run)
        }
        Command::Completions { shell } => {
            docs::completions(shell);
            Ok(())
        }
        Command::ManPage => {
            docs::man_page();
            Ok(())
        }
    }
}

/// `push-dockerhub`, `push-ecr`: a release to `<namespace>/<name>`, or to the hidden
/// `--repository` (a loopback registry in the tests, which reach neither).
fn release_to(context: &Context, args: ReleaseArgs, namespace: &str) -> Result<()> {
    let version = config::version_tag(&args.dagster_version)?;
    // The name is checked as an image name first, which it is before it is a repository's.
    let name = config::image_name(&args.name)?;
    let repository = args
        .repository
        .unwrap_or_else(|| format!("{namespace}/{name}"));
    let destinations = config::destinations(vec![repository])?;
    let set_latest = args.set_latest;
    release::release(
        context,
        &args.name,
        &version,
        &destinations,
        set_latest,
        args.dry_run,
    )
}

/// Every folder of the images folder, as the original lists them (sorted); `check` names those
/// that are no image (without `versions.yaml`).
fn list(catalog: &Catalog) -> Result<()> {
    let mut out = String::new();
    for name in catalog.folders()? {
        out.push_str(&name);
        out.push('\n');
    }
    print_stdout(&out);
    Ok(())
}

/// Writes data to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub(crate) fn print_stdout(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// A value given on the command line that cannot be used, as an error naming it.
fn invalid(what: &'static str, value: &str, why: impl std::fmt::Display) -> Error {
    crate::reference::Invalid::new(what, value, why).into()
}

/// The name of the folder `state_dir` makes beside the catalog.
const STATE_DIR: &str = ".dagster-image";

/// Where this tool keeps its own files (build logs, publish state, copy ledgers and their
/// locks): `.dagster-image/` beside the images folder, never inside it, where the original
/// tool's `list` and `build-all` would take it for an image.
fn state_path(catalog: &Catalog) -> PathBuf {
    let dir = fs_err::canonicalize(catalog.dir()).unwrap_or_else(|_| catalog.dir().to_owned());
    dir.parent().unwrap_or(&dir).join(STATE_DIR)
}

/// The folder for this tool's own files beside the catalog (`state_path`), made when missing,
/// ignored by git.
fn state_dir(catalog: &Catalog) -> std::io::Result<std::path::PathBuf> {
    let dir = state_path(catalog);
    refuse_links(&dir)?;
    fs_err::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        fs_err::write(&ignore, "*\n")?;
    }
    Ok(dir)
}

/// The folders of the tool's own files that a repository might hold as symlinks (committed by
/// force despite the `.gitignore`): following one would write logs, locks and state wherever it
/// points, so a link at any of them is an error.
fn refuse_links(state: &Path) -> std::io::Result<()> {
    let folders = [state.to_owned(), state.join("logs"), state.join("builds")];
    for path in folders {
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_symlink());
        if is_link {
            return Err(std::io::Error::other(format!(
                "{}: is a symlink; the tool's own folder is never followed through a link (remove it)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The lock file of `image`'s builds in the tool's folder `state_dir`: a run that builds the
/// image holds it shared from its first build until its timestamp is recorded, and `prune
/// --images` alone, so that prune never removes an image a running build has made and not yet
/// recorded (the first platform's image, while the next platform builds).
fn builds_lock(state_dir: &Path, image: &str) -> std::io::Result<std::path::PathBuf> {
    let dir = state_dir.join("builds");
    fs_err::create_dir_all(&dir)?;
    Ok(dir.join(format!("{image}.lock")))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
