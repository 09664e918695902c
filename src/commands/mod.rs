//! One function per command, each a thin composition of the operations in [`crate::ops`] over
//! one run [`Session`]. `dispatch` checks the parsed command line into typed values (`config`)
//! and maps it onto them.

// The commands.
mod build;
mod check;
mod dockerhub;
mod docs;
mod export;
mod prune;
mod prune_remote;
mod publish;
mod push;
mod record;
mod release;
mod snapshot;
mod status;

// The command line, validated.
mod config;

use std::time::Duration;

use crate::catalog::Catalog;
use crate::cli::{BuildOptions, Cli, Command, ReleaseArgs};
use crate::engine::Docker;
use crate::error::Result;
use crate::ops::{BuildRequest, Session};
use crate::output::Output;
use crate::reference::PythonVersion;
use crate::registry::PUBLIC_ECR_HOST;

use config::BuiltElsewhere;

pub fn dispatch(cli: Cli) -> Result<()> {
    // The layers below the session (the engine's mirrors, the registry's logins) say their
    // `debug:` lines through `debug::line`.
    if cli.debug {
        crate::debug::enable();
    }
    let mut session = Session::new(
        Output::new(cli.debug),
        cli.images_dir,
        Docker::from_env(),
        cli.registry,
        Duration::from_secs(cli.registry_timeout),
        cli.offline,
        cli.registry_cache,
    );
    session.push_with = cli.push_with;
    run(&session, cli.command)
}

fn run(session: &Session, command: Command) -> Result<()> {
    match command {
        Command::List => list(&session.out, session.catalog()?),
        Command::Build {
            name,
            python_version,
            build,
            pull,
            dry_run,
        } => {
            let settings = config::build_settings(build)?;
            let name = config::image_name(&name)?;
            let python_version = PythonVersion::new(python_version);
            let request = BuildRequest::one(name, python_version, settings).pulling(pull);
            build::build(session, &request, dry_run)
        }
        Command::BuildAll {
            name,
            with_deps,
            with_dependents,
            build,
            jobs,
            keep_going,
            skip_unchanged,
            pull,
            dry_run,
        } => {
            let settings = config::build_settings(build)?;
            let request = BuildRequest::all(config::image_name_if_given(name)?, settings)
                .with_bases(with_deps)
                .pulling(pull)
                .jobs(jobs)
                .keeping_going(keep_going)
                .skipping_unchanged(skip_unchanged)
                .including_dependents(with_dependents);
            build::build(session, &request, dry_run)
        }
        Command::Check { name, json } => check::check(session, name.as_deref(), json),
        Command::Prune {
            name,
            images,
            remote,
            keep,
            older_than,
            dry_run,
        } => {
            let remote = remote.then_some(prune_remote::Remote { keep, older_than });
            prune::prune(session, name.as_deref(), images, remote, dry_run)
        }
        Command::Push {
            name,
            python_version,
            custom_tag,
            platforms,
            dry_run,
        } => {
            let custom_tag = config::custom_tag(custom_tag)?;
            let name = config::image_name(&name)?;
            let python_version = PythonVersion::new(python_version);
            let push = push::Push {
                python_version: Some(&python_version),
                custom_tag: custom_tag.as_ref(),
                platforms: &platforms,
            };
            push::push(session, &name, &push, dry_run)
        }
        Command::PushAll {
            name,
            platforms,
            dry_run,
        } => {
            let name = config::image_name(&name)?;
            let push = push::Push {
                python_version: None,
                custom_tag: None,
                platforms: &platforms,
            };
            push::push(session, &name, &push, dry_run)
        }
        Command::Release {
            name,
            dagster_version,
            destinations,
            dry_run,
        } => {
            let version = config::version_tag(&dagster_version)?;
            let destinations = config::destinations(destinations)?;
            let name = config::image_name(&name)?;
            release::release(session, &name, &version, &destinations, true, dry_run)
        }
        Command::PushDockerhub(args) => release_to(session, args, "dagster"),
        Command::PushEcr(args) => release_to(session, args, &format!("{PUBLIC_ECR_HOST}/dagster")),
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
                platforms: &platforms,
                repository: repository.as_deref(),
            };
            dockerhub::build_and_push(session, &release, dry_run)
        }
        Command::Status { name, json } => status::status(session, name.as_deref(), json),
        Command::Tags { name } => push::tags(session, &config::image_name(&name)?),
        Command::Snapshot { snap_type, dry_run } => {
            snapshot::snapshot(session, config::snap_type(snap_type), dry_run)
        }
        Command::Publish(args) => publish::publish(session, &config::Publish::from_cli(args)?),
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
            let settings = config::build_settings(options)?;
            let request = BuildRequest::all(config::image_name_if_given(name)?, settings)
                .with_bases(with_deps)
                .platforms_in_one_build();
            export::bake(session, &request, push)
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
            let settings = config::build_settings(options)?;
            let request = BuildRequest::all(config::image_name_if_given(name)?, settings)
                .with_bases(true)
                .skipping_unchanged(skip_unchanged);
            export::pipeline(session, &request, &agents)
        }
        Command::Record(built) => record::record(session, &BuiltElsewhere::from_cli(built)?),
        Command::Pull { built, platform } => {
            let built = BuiltElsewhere::from_cli(built)?;
            record::pull(session, &built, platform.as_ref())
        }
        Command::Index {
            built,
            platforms,
            dry_run,
        } => {
            let built = BuiltElsewhere::from_cli(built)?;
            record::index(session, &built, &platforms, dry_run)
        }
        Command::Completions { shell } => {
            docs::completions(&session.out, shell);
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
fn release_to(session: &Session, args: ReleaseArgs, namespace: &str) -> Result<()> {
    let version = config::version_tag(&args.dagster_version)?;
    // The name is checked as an image name first, which it is before it is a repository's.
    let name = config::image_name(&args.name)?;
    let repository = args
        .repository
        .unwrap_or_else(|| format!("{namespace}/{name}"));
    let destinations = config::destinations(vec![repository])?;
    let set_latest = args.set_latest;
    release::release(
        session,
        &name,
        &version,
        &destinations,
        set_latest,
        args.dry_run,
    )
}

/// Every folder of the images folder, as the original lists them (sorted); `check` names those
/// that are no image (without `versions.yaml`).
fn list(out: &Output, catalog: &Catalog) -> Result<()> {
    let mut text = String::new();
    for name in catalog.folders()? {
        text.push_str(&name);
        text.push('\n');
    }
    out.data(&text);
    Ok(())
}
