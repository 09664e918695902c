//! Building, the operation `build`, `build-all`, `publish`, `bake` and `pipeline` compose: a
//! request resolved into a plan whose tags and Dockerfiles are checked; the plan labelled with
//! input digests, then printed (`--dry-run`) or run, each successful build's timestamp recorded
//! in its image's `last_updated.yaml`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::build_context::{Additions, Prepared};
use crate::catalog::{self, Error as CatalogError, Image, lookup};
use crate::error::{Error, Result};
use crate::oci_labels;
use crate::plan::{self, Build, Plan};
use crate::reference::{ImageName, Platform, PythonVersion, Target, Timestamp};
use crate::report;
use crate::run::{self, Outcome};

use super::{
    Session, build_secrets, builds_lock, invalid, labelling, layer_cache, state_dir, state_path,
};
use crate::lock::Lock;

/// What a build run makes: at which timestamp, with which `DAGSTER_VERSION`, for which
/// platforms (none: each image's `image.yaml` ones).
#[derive(Debug, Clone)]
pub struct BuildSettings {
    pub timestamp: Timestamp,
    pub dagster_version: Option<String>,
    pub platforms: Vec<Platform>,
}

/// A build request as given on the command line, its values checked.
pub struct BuildRequest {
    name: Option<ImageName>,
    python_version: Option<PythonVersion>,
    with_deps: bool,
    settings: BuildSettings,
    jobs: Option<u16>,
    keep_going: bool,
    skip_unchanged: bool,
    pull: bool,
    with_dependents: bool,
    platforms_in_one_build: bool,
}

impl BuildRequest {
    /// `build --name N -v V`.
    pub fn one(name: ImageName, python_version: PythonVersion, settings: BuildSettings) -> Self {
        Self {
            name: Some(name),
            python_version: Some(python_version),
            with_deps: false,
            settings,
            jobs: Some(1),
            keep_going: false,
            skip_unchanged: false,
            pull: false,
            with_dependents: false,
            platforms_in_one_build: false,
        }
    }

    /// `build-all [--name N]`: every version of N, or of every image, with no other option.
    pub fn all(name: Option<ImageName>, settings: BuildSettings) -> Self {
        Self {
            name,
            python_version: None,
            with_deps: false,
            settings,
            jobs: None,
            keep_going: false,
            skip_unchanged: false,
            pull: false,
            with_dependents: false,
            platforms_in_one_build: false,
        }
    }

    /// `--with-deps`: also build the local bases first.
    pub fn with_bases(mut self, with_deps: bool) -> Self {
        self.with_deps = with_deps;
        self
    }

    /// `-j N`: how many builds at once, else the number of CPUs.
    pub fn jobs(mut self, jobs: Option<u16>) -> Self {
        self.jobs = jobs;
        self
    }

    /// `--keep-going`: after a failure, still build what does not depend on it.
    pub fn keeping_going(mut self, keep_going: bool) -> Self {
        self.keep_going = keep_going;
        self
    }

    /// `--skip-unchanged`: build only what changed since it was last built.
    pub fn skipping_unchanged(mut self, skip_unchanged: bool) -> Self {
        self.skip_unchanged = skip_unchanged;
        self
    }

    /// `--pull`: every build pulls its upstream images.
    pub fn pulling(mut self, pull: bool) -> Self {
        self.pull = pull;
        self
    }

    /// Whether only what changed is built (`--skip-unchanged`).
    pub fn skips_unchanged(&self) -> bool {
        self.skip_unchanged
    }

    /// One build per image-version for all its platforms, as bake builds them.
    pub fn platforms_in_one_build(mut self) -> Self {
        self.platforms_in_one_build = true;
        self
    }

    /// `--with-dependents`: also build what builds on the image through a local base.
    pub fn including_dependents(mut self, with_dependents: bool) -> Self {
        self.with_dependents = with_dependents;
        self
    }

    /// The platforms given for every image (none: each image's `image.yaml` ones).
    pub fn platforms(&self) -> &[Platform] {
        &self.settings.platforms
    }
}

/// Labels the builds of `plan`, resolved from `request` over `images`, with their input digests,
/// then prints it (`dry_run`) or runs it.
pub fn run_plan(
    session: &Session,
    request: &BuildRequest,
    images: &BTreeMap<ImageName, Image>,
    plan: Plan,
    dry_run: bool,
) -> Result<()> {
    let total = plan.builds.len();
    let built = built_images(images, &plan)?;
    build_secrets::check_sources(built.iter().copied())?;
    if !dry_run {
        build_secrets::check_engine(&session.docker, built.iter().copied())?;
    }
    // Before any digest reads a copy's source (a FIFO there would never end) or a file is written.
    let copies = Additions::prepare(built, &state_path(session.catalog()?))?;
    let labelling = labelling::Labelling {
        skip_unchanged: request.skip_unchanged,
        dry_run,
        pull: request.pull,
    };
    let mut plan = labelling::label_builds(session, images, plan, labelling)?;
    add_oci_labels(session, &mut plan)?;
    if plan.builds.is_empty() {
        report::line(&format!(
            "nothing to build: all {total} image-versions are unchanged"
        ));
        return Ok(());
    }
    if request.skip_unchanged {
        report::line(&format!(
            "{} of {total} image-versions changed",
            plan.builds.len()
        ));
    }
    if dry_run {
        warn_of_unknown_registry(session, &plan);
        session.out.data(&describe(session, images, &plan)?);
        return Ok(());
    }
    let copies = copies.only(|name| plan.builds.iter().any(|b| b.target.image.as_str() == name));
    execute(session, images, copies, &plan, request)
}

/// Adds the OCI labels to every build of `plan`, its version `py<V>-<T>`.
pub fn add_oci_labels(session: &Session, plan: &mut Plan) -> Result<()> {
    let provenance = session.provenance()?;
    for build in &mut plan.builds {
        let version = crate::reference::version_tag(&build.target.python_version, &plan.timestamp);
        let labels = oci_labels::labels(provenance, &plan.timestamp, &version);
        build.request.labels.extend(labels);
    }
    Ok(())
}

/// The plan of `request` over the images it reaches, every tag checked; what `build` runs and
/// what `bake` and `pipeline` export.
pub fn resolve(
    session: &Session,
    request: &BuildRequest,
) -> Result<(BTreeMap<ImageName, Image>, Plan)> {
    resolve_for(session, request, false)
}

/// The plan of `request` as `resolve` makes it, for a dry run: when no registry is configured, a
/// `source: aws` base it does not build is named `<registry>/<base>` (and said once on stderr)
/// rather than refused, as a real run refuses it.
pub fn resolve_to_show(
    session: &Session,
    request: &BuildRequest,
) -> Result<(BTreeMap<ImageName, Image>, Plan)> {
    resolve_for(session, request, true)
}

fn resolve_for(
    session: &Session,
    request: &BuildRequest,
    only_shown: bool,
) -> Result<(BTreeMap<ImageName, Image>, Plan)> {
    let images = match &request.name {
        Some(name) if request.with_dependents => images_with_dependents(session, name)?,
        Some(name) => session.catalog()?.images_with_bases(&[name.to_string()])?,
        None => session.catalog()?.all_images()?,
    };
    let mut wanted = targets(&images, request)?;
    if request.with_dependents {
        wanted = plan::with_dependents(&images, &wanted);
    }
    let plan_request = plan::Request {
        targets: wanted,
        with_deps: request.with_deps || request.name.is_none(),
        timestamp: request.settings.timestamp.clone(),
        dagster_version: request.settings.dagster_version.clone(),
        platforms: request.settings.platforms.clone(),
        platforms_in_one_build: request.platforms_in_one_build,
        without_registry: only_shown,
    };
    let mut plan = plan::resolve(&images, &plan_request, &session.registry_address())?;
    for build in &mut plan.builds {
        let tag = crate::reference::version_tag(&build.target.python_version, &plan.timestamp);
        crate::names::check_tag(&tag).map_err(|why| invalid("tag", &tag, why))?;
        check_context_files(build)?;
        build.request.dockerfile = followed(&build.request.dockerfile)?;
    }
    layer_cache::set_cache_tags(session, &mut plan)?;
    Ok((images, plan))
}

/// The file a Dockerfile given as a link (`Dockerfile -> ../../shared/Dockerfile.base`) leads
/// to, for `--file`: the classic builder follows the link, BuildKit reads it inside the context
/// and finds nothing there; every engine reads the target.
fn followed(dockerfile: &Path) -> Result<PathBuf> {
    match fs_err::symlink_metadata(dockerfile) {
        Ok(metadata) if metadata.is_symlink() => {
            Ok(fs_err::canonicalize(dockerfile).map_err(CatalogError::Io)?)
        }
        _ => Ok(dockerfile.to_owned()),
    }
}

/// Says once what a plan shown without a registry could not know: the registry that each
/// `source: aws` base it does not build would be pulled from.
fn warn_of_unknown_registry(session: &Session, plan: &Plan) {
    let Some((first, rest)) = plan.unknown_registry_bases.split_first() else {
        return;
    };
    let mut bases = format!("`{first}`");
    for base in rest {
        bases += &format!(", `{base}`");
    }
    let how = session
        .registry_address()
        .err()
        .and_then(|why| why.hint)
        .unwrap_or_default();
    session.out.say(format_args!(
        "warning: no registry is configured: the `source: aws` bases this run does not build \
         ({bases}) are shown as `{}/<base>`; a build needs one: {how}",
        plan::UNKNOWN_REGISTRY
    ));
}

/// The files docker reads of a build's context before anything else must be readable: its
/// Dockerfile, and its `.dockerignore` when there is one (a FIFO or a link loop is bad input).
fn check_context_files(build: &Build) -> Result<()> {
    check_dockerfile(&build.request.dockerfile)?;
    check_dockerignore(&build.request.context)
}

/// The `.dockerignore` of the context `dir`, when there is one, must be a readable regular file.
pub fn check_dockerignore(dir: &Path) -> Result<()> {
    catalog::file::read_text_if_exists(&dir.join(".dockerignore"))?;
    Ok(())
}

/// A build's Dockerfile must be a readable regular file (a link to one, as docker follows it):
/// docker's own error for a missing one comes only once the run has started, a FIFO or a link to
/// a device would stall it, and a link loop is no Dockerfile.
fn check_dockerfile(path: &Path) -> Result<()> {
    match catalog::file::read_text(path) {
        Ok(_) => Ok(()),
        Err(CatalogError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(CatalogError::Invalid {
                path: path.to_owned(),
                problem: "there is no Dockerfile: add the one the image is built from".to_owned(),
            }
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Every image: finding what builds on `name` needs them all. `name` is read first, so that an
/// unknown one is refused as it is without `--with-dependents`.
fn images_with_dependents(
    session: &Session,
    name: &ImageName,
) -> Result<BTreeMap<ImageName, Image>> {
    session.catalog()?.image(name)?;
    Ok(session.catalog()?.all_images()?)
}

/// The image-versions asked for: one, every version of one image, or everything.
fn targets(images: &BTreeMap<ImageName, Image>, request: &BuildRequest) -> Result<Vec<Target>> {
    let Some(name) = &request.name else {
        return Ok(images.values().flat_map(Image::targets).collect());
    };
    let image = lookup(images, name)?;
    match &request.python_version {
        Some(version) => {
            image.version(version)?;
            Ok(vec![Target {
                image: name.clone(),
                python_version: version.clone(),
            }])
        }
        None => Ok(image.targets()),
    }
}

fn execute(
    session: &Session,
    images: &BTreeMap<ImageName, Image>,
    copies: Prepared,
    plan: &Plan,
    request: &BuildRequest,
) -> Result<()> {
    let state_dir = state_dir(session.catalog()?).map_err(CatalogError::Io)?;
    let _building = hold_builds_locks(&state_dir, &built_images(images, plan)?)?;
    let _copies = copies.copy_in()?;
    let log_dir = state_dir.join("logs").join(plan.timestamp.as_str());
    let options = run::Options {
        jobs: request.jobs.map_or_else(default_jobs, usize::from),
        keep_going: request.keep_going,
        log_dir,
    };
    let left = PlatformsLeft::new(plan);
    let docker = layer_cache::engine_for(session, plan)?;
    layer_cache::log_in(session)?;
    let report = run::execute(plan, &docker, &options, |build| {
        if !left.built(build) {
            return Ok(());
        }
        lookup(images, &build.target.image)?
            .record_build(&build.target.python_version, &plan.timestamp)
    });
    if plan.builds.len() > 1 {
        session.out.text(format_args!("\n{}", report.summary(plan)));
    }
    if report.interrupted {
        return Err(Error::Interrupted);
    }
    let total = plan.builds.len();
    let skipped = report
        .outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Skipped(_)))
        .count();
    let mut failures: Vec<run::Failure> = report
        .outcomes
        .into_iter()
        .filter_map(|outcome| match outcome {
            Outcome::Failed(_, failure) => Some(failure),
            _ => None,
        })
        .collect();
    match failures.len() {
        0 => Ok(()),
        1 if total == 1 => Err(failures.remove(0).into()),
        failed => {
            for failure in &failures {
                session.out.say(format_args!("\nerror: {failure}"));
                if let Some(hint) = failure.hint() {
                    session.out.say(format_args!("hint: {hint}"));
                }
            }
            Err(Error::BuildsFailed {
                failed,
                skipped,
                total,
            })
        }
    }
}

/// The shared lock of the builds of each of `images`, held while the run builds and records
/// them (`prune --images` skips them meanwhile).
fn hold_builds_locks(state_dir: &Path, images: &[&Image]) -> Result<Vec<Lock>> {
    images
        .iter()
        .map(|image| {
            let path = builds_lock(state_dir, &image.name)?;
            let holder = format!("pruning the images of `{}`", image.name);
            Lock::file_shared(&path, &holder)
        })
        .collect::<std::io::Result<_>>()
        .map_err(|e| CatalogError::Io(e).into())
}

/// The builds of each image-version still to finish: its timestamp is recorded only once every
/// platform of it is built, so a failed platform records nothing.
struct PlatformsLeft(std::sync::Mutex<HashMap<Target, usize>>);

impl PlatformsLeft {
    fn new(plan: &Plan) -> Self {
        let mut left: HashMap<Target, usize> = HashMap::new();
        for build in &plan.builds {
            *left.entry(build.target.clone()).or_default() += 1;
        }
        Self(std::sync::Mutex::new(left))
    }

    /// Counts `build` as built; whether it was the last of its image-version.
    fn built(&self, build: &Build) -> bool {
        let mut left = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = left.entry(build.target.clone()).or_default();
        *count = count.saturating_sub(1);
        *count == 0
    }
}

/// Whether build `i` of `plan` is the last of its image-version, after which it is recorded.
fn last_of_its_version(plan: &Plan, i: usize) -> bool {
    let target = &plan.builds[i].target;
    !plan.builds[i + 1..].iter().any(|b| &b.target == target)
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The images the plan builds, each once, in plan order.
fn built_images<'a>(
    images: &'a BTreeMap<ImageName, Image>,
    plan: &Plan,
) -> std::result::Result<Vec<&'a Image>, CatalogError> {
    let mut seen = std::collections::BTreeSet::new();
    plan.builds
        .iter()
        .filter(|build| seen.insert(&build.target.image))
        .map(|build| lookup(images, &build.target.image))
        .collect()
}

/// What `--dry-run` says of the `image.yaml` copies of `images`.
pub fn copy_notes<'a>(images: impl IntoIterator<Item = &'a Image>) -> String {
    let mut out = String::new();
    for image in images {
        for copy in &image.config.copies {
            let to = image.dir.join(&copy.to);
            out += &format!(
                "# copy {} to {} for the builds, removed afterwards\n",
                copy.from.display(),
                to.display()
            );
        }
    }
    out
}

/// The plan as the commands it would run, in order, and the files it would write.
fn describe(session: &Session, images: &BTreeMap<ImageName, Image>, plan: &Plan) -> Result<String> {
    let mut out = copy_notes(built_images(images, plan)?);
    let docker = layer_cache::engine_for(session, plan)?;
    for (i, build) in plan.builds.iter().enumerate() {
        let waits: Vec<String> = build
            .after
            .iter()
            .map(|&d| {
                format!(
                    "{} py{}",
                    plan.builds[d].target.image, plan.builds[d].target.python_version
                )
            })
            .collect();
        let after = if waits.is_empty() {
            String::new()
        } else {
            format!(" (after {})", waits.join(", "))
        };
        let platform = build.platform.as_ref().map(|p| format!(" {p}"));
        out += &format!(
            "# {}/{} {} py{}{}{after}\n",
            i + 1,
            plan.builds.len(),
            build.target.image,
            build.target.python_version,
            platform.unwrap_or_default()
        );
        out += &layer_cache::describe_build(&docker, &build.request);
        if !last_of_its_version(plan, i) {
            continue;
        }
        let path = lookup(images, &build.target.image)?.last_updated_path();
        out += &format!(
            "# then record '{}': {} in {}\n",
            build.target.python_version,
            plan.timestamp,
            path.display()
        );
    }
    Ok(out)
}
