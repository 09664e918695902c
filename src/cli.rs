//! The command line: clap definitions only. Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::reference::Platform;

/// Build, snapshot and push a catalog of Docker images, one per Python version.
#[derive(Debug, Parser)]
#[command(name = "dagster-image", version = crate::VERSION)]
pub struct Cli {
    /// The folder of image folders [default: ./images, else
    /// python_modules/automation/automation/docker/images under the git root]
    #[arg(long, global = true, env = "DAGSTER_IMAGES_DIR", value_name = "DIR")]
    pub images_dir: Option<PathBuf>,

    /// Registry to push to and pull `source: aws` bases from, as HOST[:PORT][/PATH]
    /// [default: AWS ECR of $AWS_ACCOUNT_ID in $AWS_REGION, else us-west-2]
    #[arg(
        long,
        global = true,
        env = "DAGSTER_IMAGE_REGISTRY",
        value_name = "REGISTRY"
    )]
    pub registry: Option<String>,

    /// Seconds a registry operation may take, its retries included, before it fails naming the
    /// registry; a failing `docker push` is tried again within ten times this
    #[arg(
        long,
        global = true,
        env = "DAGSTER_IMAGE_REGISTRY_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub registry_timeout: u64,

    /// Print `debug:` lines on stderr about the choices made, such as where each registry's
    /// credentials came from (never a secret)
    #[arg(
        long,
        global = true,
        env = "DAGSTER_IMAGE_DEBUG",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub debug: bool,

    /// Ask no registry about upstream images (the `FROM`s the catalog does not build): compare
    /// their local copies instead; `status` does not ask whether images are pushed either
    #[arg(
        long,
        global = true,
        env = "DAGSTER_IMAGE_OFFLINE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub offline: bool,

    /// Import and export the layer cache of every build through the registry (`--registry`),
    /// at `<registry>/<image>:buildcache-py<V>[-<os>-<arch>]`, so that a fresh machine reuses
    /// the layers an earlier build made anywhere; a missing or refused cache only slows a build
    #[arg(
        long,
        global = true,
        env = "DAGSTER_IMAGE_REGISTRY_CACHE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub registry_cache: bool,
    /// How local images reach the registry: `client` saves each image from the engine and
    /// uploads it with the tool's own registry client (fast retries, blobs sent concurrently),
    /// `engine` runs `docker push`; `auto` is `client` when the engine runs on this machine
    /// (no `DOCKER_HOST` but a `unix://` socket, docker's `default` context, podman without
    /// `--remote`)
    #[arg(
        long,
        global = true,
        env = "DAGSTER_IMAGE_PUSH_WITH",
        value_enum,
        default_value_t = crate::engine::PushWith::Auto
    )]
    pub push_with: crate::engine::PushWith,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the images of the catalog, one per line
    List,
    /// Build one Python version of an image
    Build {
        /// The image to build: its folder images/<NAME>
        #[arg(long)]
        name: String,
        /// The Python version to build, as versions.yaml names it
        #[arg(short = 'v', long = "python-version", value_name = "VERSION")]
        python_version: String,
        #[command(flatten)]
        build: BuildOptions,
        /// Pull the upstream images (the `FROM`s the catalog does not build) even when here, as
        /// the steps of `pipeline` do where `status` says one moved
        #[arg(long)]
        pull: bool,
        /// Print the docker commands in order; run nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Build every Python version of an image, or of every image
    BuildAll {
        /// The image to build [default: every image of the catalog]
        #[arg(long)]
        name: Option<String>,
        /// Also build, first, the local base images it builds on
        #[arg(long)]
        with_deps: bool,
        /// Also build, after it, every image that builds on it through a local `base_image`
        /// (transitively, for the same Python versions)
        #[arg(long, requires = "name")]
        with_dependents: bool,
        #[command(flatten)]
        build: BuildOptions,
        /// How many builds to run at once [default: the number of CPUs]
        #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// After a failure, still build everything that does not depend on it
        #[arg(long)]
        keep_going: bool,
        /// Build only image-versions whose inputs changed since their current image was built
        /// (and what builds on them); the others keep their timestamps
        #[arg(long)]
        skip_unchanged: bool,
        /// Pull the upstream images (the `FROM`s the catalog does not build) even when here, as
        /// the steps of `pipeline` do where `status` says one moved
        #[arg(long)]
        pull: bool,
        /// Print the docker commands in order; run nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate the catalog without building: list every problem, its file and what to do;
    /// exit 1 when there is one
    Check {
        /// Only this image and the images it builds on [default: every image]
        #[arg(long)]
        name: Option<String>,
        /// Print a JSON array of {image, kind, file, line, problem, fix}
        #[arg(long)]
        json: bool,
    },
    /// Remove last_updated.yaml entries of Python versions that versions.yaml no longer has
    Prune {
        /// Only this image [default: every image]
        #[arg(long)]
        name: Option<String>,
        /// Also remove the local images dagster/<NAME>:py<VERSION>-<TIMESTAMP> of the versions in
        /// versions.yaml that last_updated.yaml does not name
        #[arg(long)]
        images: bool,
        /// Also delete from the registry the tags py<VERSION>-<TIMESTAMP> beyond the newest
        /// (`--keep`) of each version and platform, but never one that last_updated.yaml, a
        /// `references:` file or .buildkite/defines.py names
        #[arg(long)]
        remote: bool,
        /// With --remote: how many of the newest tags of each version and platform stay
        #[arg(long, value_name = "K", default_value_t = 5, requires = "remote")]
        keep: usize,
        /// With --remote: delete only tags whose timestamp is older than DAYS days
        #[arg(long, value_name = "DAYS", requires = "remote")]
        older_than: Option<u32>,
        /// Print what would be removed, and remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Show, per image-version, its last build, whether it is here, stale or pushed
    Status {
        /// Only this image [default: every image]
        #[arg(long)]
        name: Option<String>,
        /// Print a JSON array of {image, python_version, last_updated, local_image, stale,
        /// reasons, pushed}
        #[arg(long)]
        json: bool,
    },
    /// Push one Python version of an image to the registry
    Push {
        /// The image to push
        #[arg(long)]
        name: String,
        /// The Python version to push, as versions.yaml names it
        #[arg(short = 'v', long = "python-version", value_name = "VERSION")]
        python_version: String,
        /// Push as REGISTRY/NAME:TAG instead of REGISTRY/NAME:py<VERSION>-<TIMESTAMP>
        #[arg(long, value_name = "TAG")]
        custom_tag: Option<String>,
        /// A platform built, instead of the image.yaml `platforms`; may be repeated: with
        /// several, each platform's image is pushed, then their index under the tag
        #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
        platforms: Vec<Platform>,
        /// Print the docker commands in order; push nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Push every Python version of an image to the registry
    PushAll {
        /// The image to push
        #[arg(long)]
        name: String,
        /// A platform built, instead of the image.yaml `platforms`; may be repeated: with
        /// several, each platform's image is pushed, then their index under the tag
        #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
        platforms: Vec<Platform>,
        /// Print the docker commands in order; push nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Publish the first Python version of an image as <REPO>:<VERSION> and <REPO>:latest
    Release {
        /// The image to release
        #[arg(long)]
        name: String,
        /// The Dagster version: the release's tag <REPO>:<VERSION>
        #[arg(long, value_name = "VERSION")]
        dagster_version: String,
        /// A repository to publish to, e.g. docker.io/dagster/NAME; may be repeated
        #[arg(long = "to", value_name = "REPO", required = true)]
        destinations: Vec<String>,
        /// Print the commands in order; publish nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List the tags of an image in the registry, one per line
    Tags {
        /// The image whose tags to list
        #[arg(long)]
        name: String,
    },
    /// Release to Docker Hub as dagster/<NAME>
    PushDockerhub(ReleaseArgs),
    /// Release to public ECR as public.ecr.aws/dagster/<NAME>
    PushEcr(ReleaseArgs),
    /// Build the image folder for each platform with DAGSTER_VERSION, and push it to Docker Hub
    /// as dagster/<NAME>:<VERSION>: each platform's image, then their index; last_updated.yaml
    /// is not touched
    BuildAndPushDockerhub {
        /// The image folder to build
        #[arg(long)]
        name: String,
        /// Passed to the builds as the DAGSTER_VERSION build argument; the tag <VERSION>
        #[arg(long, value_name = "VERSION")]
        dagster_version: String,
        /// Also push it as dagster/<NAME>:latest
        #[arg(long)]
        set_latest: bool,
        /// A platform to build; may be repeated [default: linux/amd64 and linux/arm64]
        #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
        platforms: Vec<Platform>,
        /// Push to this repository instead of dagster/<NAME> on Docker Hub
        #[arg(long, value_name = "REPO", hide = true)]
        repository: Option<String>,
        /// Print the commands in order; build and push nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Write each snapshot builder's `pip freeze` into buildkite-<TYPE>/snapshot-reqs-<VERSION>.txt
    Snapshot {
        /// The snapshot builder: buildkite-<TYPE>
        #[arg(short = 't', long = "snap-type", value_name = "TYPE")]
        snap_type: SnapType,
        /// Print the docker commands in order; write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Publish new snapshot images: one resumable run with one timestamp T
    ///
    /// Pins the snapshot builder's commit (--git-hash), builds it, snapshots it, builds and
    /// pushes buildkite-<TYPE>, then records T in .buildkite/defines.py and in the files that
    /// buildkite-<TYPE>/image.yaml lists under `references`.
    Publish(PublishArgs),
    /// Print a `docker buildx bake` file (JSON) of what build-all would build
    Bake {
        /// The image to build [default: every image of the catalog]
        #[arg(long)]
        name: Option<String>,
        /// Also build, first, the local base images it builds on
        #[arg(long)]
        with_deps: bool,
        /// The timestamp in the new tags [default: now in UTC, as %Y-%m-%dT%H%M%S]
        #[arg(short = 't', long, value_name = "TIMESTAMP")]
        timestamp: Option<String>,
        /// Passed to the builds as the DAGSTER_VERSION build argument
        #[arg(long, value_name = "VERSION")]
        dagster_version: Option<String>,
        /// A target platform of every image; may be repeated
        #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
        platforms: Vec<Platform>,
        /// Tag for the registry instead of locally, and push there
        #[arg(long)]
        push: bool,
    },
    /// Print a Buildkite pipeline (YAML) that builds, pushes and records what build-all would
    /// build with its local bases, one step per Python version of an image
    Pipeline {
        /// The image to build, with its local bases [default: every image of the catalog]
        #[arg(long)]
        name: Option<String>,
        /// The timestamp in the new tags [default: now in UTC, as %Y-%m-%dT%H%M%S]
        #[arg(short = 't', long, value_name = "TIMESTAMP")]
        timestamp: Option<String>,
        /// A platform every image is built for on its own step, instead of the image.yaml
        /// `platforms`; may be repeated
        #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
        platforms: Vec<Platform>,
        /// An agent tag of a platform's step, KEY=VALUE, VALUE naming {os}, {arch} or {variant}
        /// of the platform; may be repeated [default: arch={arch}]
        #[arg(long = "agent", value_name = "KEY=VALUE")]
        agents: Vec<String>,
        /// Only the steps of image-versions that are stale (as `status` says) and what builds
        /// on them: none when nothing changed
        #[arg(long)]
        skip_unchanged: bool,
    },
    /// Record TIMESTAMP in last_updated.yaml as the last build of one Python version of an
    /// image, without building (it was built elsewhere)
    Record(BuiltElsewhere),
    /// Pull one Python version of an image built and pushed elsewhere, tag it as if built here
    /// and record its timestamp
    Pull {
        #[command(flatten)]
        built: BuiltElsewhere,
        /// Pull the image of this platform, pushed as py<VERSION>-<TIMESTAMP>-<OS>-<ARCH>
        #[arg(long, value_name = "PLATFORM", value_parser = Platform::parse)]
        platform: Option<Platform>,
    },
    /// Put in the registry, under py<VERSION>-<TIMESTAMP>, the index of the images of each
    /// platform pushed as py<VERSION>-<TIMESTAMP>-<OS>-<ARCH> (by the steps of `pipeline`)
    Index {
        #[command(flatten)]
        built: BuiltElsewhere,
        /// A platform of the index; may be repeated [default: the image.yaml `platforms`]
        #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
        platforms: Vec<Platform>,
        /// Say which index would be put under which tag; put nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the completion script of SHELL, e.g. `dagster-image completions bash >
    /// /etc/bash_completion.d/dagster-image`
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, dagster-image.1 (roff), as the release tarballs ship it
    #[command(hide = true)]
    ManPage,
}

/// One Python version of an image, built at TIMESTAMP on another machine.
#[derive(Debug, Args)]
pub struct BuiltElsewhere {
    /// The image
    #[arg(long)]
    pub name: String,
    /// The Python version it was built for, as versions.yaml names it
    #[arg(short = 'v', long = "python-version", value_name = "VERSION")]
    pub python_version: String,
    /// The timestamp it was built with, as in its tag py<VERSION>-<TIMESTAMP>
    #[arg(short = 't', long, value_name = "TIMESTAMP")]
    pub timestamp: String,
}

#[derive(Debug, Args)]
pub struct BuildOptions {
    /// The timestamp in the new tag [default: now in UTC, as %Y-%m-%dT%H%M%S]
    #[arg(short = 't', long, value_name = "TIMESTAMP")]
    pub timestamp: Option<String>,
    /// Passed to the build as the DAGSTER_VERSION build argument
    #[arg(long, value_name = "VERSION")]
    pub dagster_version: Option<String>,
    /// A platform to build for, instead of the image.yaml `platforms`; may be repeated: each
    /// platform is its own build, the first keeps the tag py<VERSION>-<TIMESTAMP>
    #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
    pub platforms: Vec<Platform>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The image to release
    #[arg(long)]
    pub name: String,
    /// The Dagster version: the release's tag <REPO>:<VERSION>
    #[arg(long, value_name = "VERSION")]
    pub dagster_version: String,
    /// Also push it as <REPO>:latest (without it, `latest` is left where it is)
    #[arg(long)]
    pub set_latest: bool,
    /// Release to this repository instead of dagster/<NAME> or public.ecr.aws/dagster/<NAME>
    #[arg(long, value_name = "REPO", hide = true)]
    pub repository: Option<String>,
    /// Print the commands in order; publish nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The snapshot builder: buildkite-<TYPE>
    #[arg(short = 't', long = "snap-type", value_name = "TYPE")]
    pub snap_type: SnapType,
    /// A platform every image of the run is built and pushed for, instead of the image.yaml
    /// `platforms`; may be repeated
    #[arg(long = "platform", value_name = "PLATFORM", value_parser = Platform::parse)]
    pub platforms: Vec<Platform>,
    /// The commit the snapshot builder installs from: written over the 40-hex hash of the
    /// `git checkout <hash>` in its Dockerfile
    #[arg(long, value_name = "HASH")]
    pub git_hash: Option<String>,
    /// Passed to the builds as the DAGSTER_VERSION build argument
    #[arg(long, value_name = "VERSION")]
    pub dagster_version: Option<String>,
    /// The timestamp T of every image built [default: now in UTC, as %Y-%m-%dT%H%M%S]
    #[arg(long, value_name = "TIMESTAMP")]
    pub timestamp: Option<String>,
    /// Continue the unfinished publish of this type from the step that failed, with its T
    #[arg(long, conflicts_with = "restart")]
    pub resume: bool,
    /// Discard the unfinished publish of this type and start over
    #[arg(long)]
    pub restart: bool,
    /// Print the steps with their commands and the file edits as diffs; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapType {
    Integration,
    Unit,
}
