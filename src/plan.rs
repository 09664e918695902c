//! Resolves a build request into a plan: the image-versions to build, each with its tag, build
//! arguments and the builds it must wait for, in an order where bases come first. Pure: no I/O,
//! and plain data: the engine makes its command from a [`BuildSpec`], and the registry of
//! `source: aws` bases is given as its address.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use crate::catalog::{BASE_IMAGE_ARG, BaseImage, BaseSource, BuildSecret, Image, graph};
use crate::reference::{
    ImageName, LOCAL_NAMESPACE, Platform, PythonVersion, Target, Timestamp, local_platform_tag,
    local_tag, platform_version_tag, repository,
};

/// The platform of a build for which neither `image.yaml` `platforms` nor `--platform` names one,
/// `linux/amd64`, as the newest original's `build` defaults to (its users build on
/// Apple-silicon Macs for amd64 machines).
pub fn default_platform() -> Platform {
    Platform::linux_amd64()
}
/// Build argument carrying `--dagster-version`.
pub const DAGSTER_VERSION_ARG: &str = "DAGSTER_VERSION";
/// What stands for the registry in the name of a `source: aws` base of a plan that is only shown
/// when no registry is configured (`Request::without_registry`).
pub const UNKNOWN_REGISTRY: &str = "<registry>";
/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    /// Image-versions asked for, in order.
    pub targets: Vec<Target>,
    /// Also build the local bases of the targets (transitively).
    pub with_deps: bool,
    pub timestamp: Timestamp,
    pub dagster_version: Option<String>,
    /// Platforms every image is built for in this run, instead of its `image.yaml` ones.
    pub platforms: Vec<Platform>,
    /// One build per image-version whatever its platforms, for a builder that builds them all
    /// at once (bake's multi-platform targets).
    pub platforms_in_one_build: bool,
    /// Plan also when no registry is configured, for a plan that is shown and not run (a dry
    /// run, `status`): a `source: aws` base the run does not build is then named under
    /// `UNKNOWN_REGISTRY` and listed in `Plan::unknown_registry_bases`; otherwise that is an
    /// error.
    pub without_registry: bool,
}

impl Request {
    /// `targets` at `timestamp`, with no other option.
    pub fn new(targets: Vec<Target>, timestamp: Timestamp) -> Self {
        Self {
            targets,
            with_deps: false,
            timestamp,
            dagster_version: None,
            platforms: Vec::new(),
            platforms_in_one_build: false,
            without_registry: false,
        }
    }
}

/// One build of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub target: Target,
    /// The platform, when this is one of several builds of its image-version (one per
    /// platform, each with its own tag); None for the one build of an image-version.
    pub platform: Option<Platform>,
    pub request: BuildSpec,
    /// The image of the catalog it builds on, when it has one.
    pub base: Option<Base>,
    /// Indexes in the plan of the builds this one uses as base image.
    pub after: Vec<usize>,
}

/// What one build makes and from what: everything `docker build` needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSpec {
    pub tag: String,
    /// More names for the same image (`--tag` each).
    pub extra_tags: Vec<String>,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub build_args: Vec<(String, String)>,
    pub platform: Option<Platform>,
    /// `platform` is [`default_platform`], given because nothing named one: such a build gets no
    /// `TARGET*` build arguments and its input digest counts no platform, as before the default,
    /// so that an image built then is not stale for it.
    pub default_platform: bool,
    /// Labels put on the image (`--label NAME=VALUE`).
    pub labels: Vec<(String, String)>,
    /// Pull the images it starts from even when they are here, for one that moved upstream.
    pub pull: bool,
    /// Build secrets (`--secret`): their ids and sources, never their values.
    pub secrets: Vec<BuildSecret>,
    /// The registry tag its layer cache is imported from and exported to (`--registry-cache`):
    /// `<registry>/<image>:buildcache-py<V>[-<os>-<arch>]`.
    pub cache: Option<String>,
}

impl BuildSpec {
    /// The platform its input digest counts: none for the default one, which an image built
    /// before the default has as its engine's own.
    pub fn digest_platform(&self) -> Option<&Platform> {
        self.platform.as_ref().filter(|_| !self.default_platform)
    }
}

/// How BuildKit exports a registry layer cache, after `type=registry,ref=<tag>,`: every
/// stage's layers (`mode=max`), in an image manifest with OCI media types (what AWS ECR
/// accepts), and a registry that refuses it fails no build (`ignore-error`).
pub const REGISTRY_CACHE_EXPORT: &str =
    "mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true";

/// The registry `source: aws` bases come from, as its address `HOST[:PORT][/PATH]`, or why
/// none is known (an error only for a plan that has such a base).
pub type RegistryAddress = Result<String, NoRegistry>;

/// Why no registry is known, as the layer that looked for one says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NoRegistry {
    pub message: String,
    pub hint: Option<String>,
    /// None is configured (rather than a malformed one).
    pub missing: bool,
}

/// A base image that is an image of the catalog, and where the build gets it from: the local
/// repository `dagster/<name>`, or `<registry>/<name>` for a `source: aws` base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub target: Target,
    pub source: BaseSource,
    /// The repository of the `BASE_IMAGE` reference, without the tag.
    pub repository: String,
    /// The platform whose image of a multi-platform base is used (its own tag).
    pub platform: Option<Platform>,
}

impl Base {
    /// The reference of this base built at `timestamp`.
    pub fn reference(&self, timestamp: &Timestamp) -> String {
        let tag = platform_version_tag(
            &self.target.python_version,
            timestamp,
            self.platform.as_ref(),
        );
        format!("{}:{tag}", self.repository)
    }
}

/// The platforms `image` is built for by `request`: the request's, else its `image.yaml` ones;
/// none means the engine's own platform.
pub fn platforms_of<'a>(image: &'a Image, request: &'a Request) -> &'a [Platform] {
    if request.platforms.is_empty() {
        &image.config.platforms
    } else {
        &request.platforms
    }
}

/// The builds an image-version with `platforms` gets: one per platform when there are several,
/// else one (for the only platform given, or the engine's).
fn platform_builds(platforms: &[Platform]) -> Vec<Option<&Platform>> {
    match platforms {
        [_, _, ..] => platforms.iter().map(Some).collect(),
        _ => vec![None],
    }
}

/// The build arguments BuildKit sets by itself for a platform (`TARGETPLATFORM`, `TARGETOS`,
/// `TARGETARCH`, `TARGETVARIANT`), given on every engine so that a Dockerfile can pick its
/// `FROM` by platform on the classic builder and podman too.
pub fn platform_args(platform: &Platform) -> Vec<(String, String)> {
    let mut args = vec![("TARGETPLATFORM".to_owned(), platform.to_string())];
    let names = ["TARGETOS", "TARGETARCH", "TARGETVARIANT"];
    for (name, part) in names.into_iter().zip(platform.parts()) {
        args.push((name.to_owned(), part.to_owned()));
    }
    args
}

/// Builds in dependency order: every build comes after those it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub timestamp: Timestamp,
    pub builds: Vec<Build>,
    /// The `source: aws` bases named under `UNKNOWN_REGISTRY` (no registry was configured),
    /// each once, sorted.
    pub unknown_registry_bases: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("base images form a cycle: {}", .0.shown())]
    Cycle(graph::Cycle),
    #[error(
        "`{image}` builds on `{base}` for Python {version}, but `{base}` has no Python {version} in its versions.yaml"
    )]
    BaseLacksVersion {
        image: String,
        base: String,
        version: String,
    },
    #[error(
        "`{image}` builds on `{base}` for Python {version}, which has not been built yet (no `{version}` in `{base}/last_updated.yaml`)"
    )]
    BaseNotBuilt {
        image: String,
        base: String,
        version: String,
        /// The base's `source`: `--with-deps` adds local bases only.
        origin: BaseSource,
    },
    #[error(
        "`{image}` builds on `{base}` for {platform}, but `{base}` is not built for {platform}"
    )]
    BaseLacksPlatform {
        image: String,
        base: String,
        platform: String,
    },
    #[error("`{image}` builds on `{base}` from the registry, so it needs one")]
    NoRegistry {
        image: String,
        base: String,
        source: NoRegistry,
    },
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::BaseNotBuilt {
                base,
                origin: BaseSource::Local,
                ..
            } => Some(format!(
                "build `{base}` first, or add `--with-deps` to build it in the same run"
            )),
            Error::BaseNotBuilt {
                base,
                origin: BaseSource::Aws,
                ..
            } => Some(format!(
                "build and push `{base}` first, or build both in one run (`build-all` of the \
                 whole catalog)"
            )),
            Error::NoRegistry { source, .. } => source.hint.clone(),
            Error::BaseLacksPlatform { base, platform, .. } => Some(format!(
                "add `{platform}` to the `platforms` of `{base}/image.yaml`"
            )),
            Error::Cycle(_) | Error::BaseLacksVersion { .. } => None,
        }
    }
}

/// `targets` followed by every image-version that builds on one of them through a local
/// `base_image`, transitively and for the same Python version, each once. `images` must hold
/// every image of the catalog: a dependent is found only among them.
pub fn with_dependents(images: &BTreeMap<ImageName, Image>, targets: &[Target]) -> Vec<Target> {
    let nodes: Vec<Target> = images.values().flat_map(Image::targets).collect();
    let local = |base: &BaseImage| base.source == BaseSource::Local;
    graph::with_dependents(targets, &nodes, |t| base_image_of(images, t), local)
}

/// The `base_image` of `target`, when it has one.
fn base_image_of<'a>(
    images: &'a BTreeMap<ImageName, Image>,
    target: &Target,
) -> Option<&'a BaseImage> {
    images
        .get(target.image.as_str())?
        .versions
        .get(target.python_version.as_str())?
        .base_image
        .as_ref()
}

/// Orders `request` into a plan over `images` (which hold every image the request reaches).
///
/// A base the plan builds too is waited for and used at the plan's timestamp, whatever its
/// `source`: a `source: aws` base built in the same run is also tagged with its registry
/// reference, so the dependent builds on the fresh image under the name a later push gives it,
/// without a push in between; with no registry configured, under its local name. A base the plan
/// does not build is used as last built.
pub fn resolve(
    images: &BTreeMap<ImageName, Image>,
    request: &Request,
    registry: &RegistryAddress,
) -> Result<Plan, Error> {
    let order = order_targets(images, request)?;
    let mut planner = Planner {
        images,
        request,
        registry,
        builds: Vec::with_capacity(order.len()),
        index: HashMap::new(),
        unknown_registry_bases: BTreeSet::new(),
    };
    for target in &order {
        planner.add(target)?;
    }
    Ok(Plan {
        timestamp: request.timestamp.clone(),
        builds: planner.builds,
        unknown_registry_bases: planner.unknown_registry_bases.into_iter().collect(),
    })
}

/// The plan being made: builds in order, and where each (image-version, platform) is.
struct Planner<'a> {
    images: &'a BTreeMap<ImageName, Image>,
    request: &'a Request,
    registry: &'a RegistryAddress,
    builds: Vec<Build>,
    index: HashMap<(Target, Option<Platform>), usize>,
    /// The aws bases named under `UNKNOWN_REGISTRY`.
    unknown_registry_bases: BTreeSet<String>,
}

impl Planner<'_> {
    /// Adds the builds of `target`: one per platform when it has several.
    fn add(&mut self, target: &Target) -> Result<(), Error> {
        let platforms = match self.request.platforms_in_one_build {
            true => &[],
            false => platforms_of(catalog_image(self.images, &target.image), self.request),
        };
        for (i, platform) in platform_builds(platforms).into_iter().enumerate() {
            let build = self.build(target, platforms, platform, i == 0)?;
            let key = (target.clone(), platform.cloned());
            self.index.insert(key, self.builds.len());
            self.builds.push(build);
        }
        Ok(())
    }

    /// The build of `target` for `platform` (one of `platforms`; None when it is its only
    /// build); the `first` platform's image also gets the tag without a platform.
    fn build(
        &mut self,
        target: &Target,
        platforms: &[Platform],
        platform: Option<&Platform>,
        first: bool,
    ) -> Result<Build, Error> {
        let image = catalog_image(self.images, &target.image);
        let spec = version_spec(image, &target.python_version);
        let timestamp = &self.request.timestamp;
        let mut build_args: Vec<(String, String)> = spec
            .docker_args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let engine_platform = platform.or(platforms.first());
        let platform_defaulted = engine_platform.is_none();
        let mut after = Vec::new();
        let mut planned_base = None;
        if let Some(base_image) = &spec.base_image {
            let base = self.base(target, base_image, platform, engine_platform)?;
            let reference = match self
                .index
                .get(&(base.target.clone(), base.platform.clone()))
            {
                Some(&i) => {
                    after.push(i);
                    if base.source == BaseSource::Aws && self.registry.is_ok() {
                        tag_also(&mut self.builds[i], base.reference(timestamp));
                    }
                    base.reference(timestamp)
                }
                None => base.reference(&built_timestamp(self.images, target, &base)?),
            };
            build_args.push((BASE_IMAGE_ARG.into(), reference));
            planned_base = Some(base);
        }
        if let Some(version) = &self.request.dagster_version {
            build_args.push((DAGSTER_VERSION_ARG.into(), version.clone()));
        }
        build_args.extend(engine_platform.map(platform_args).unwrap_or_default());
        let (name, version) = (&target.image, &target.python_version);
        let seed_tag = local_tag(name, version, timestamp);
        let (tag, extra_tags) = match platform {
            None => (seed_tag, Vec::new()),
            Some(_) if first => (
                seed_tag,
                vec![local_platform_tag(name, version, timestamp, platform)],
            ),
            Some(_) => (
                local_platform_tag(name, version, timestamp, platform),
                Vec::new(),
            ),
        };
        Ok(Build {
            target: target.clone(),
            platform: platform.cloned(),
            request: BuildSpec {
                tag,
                extra_tags,
                dockerfile: image.dir.join("Dockerfile"),
                context: image.dir.clone(),
                build_args,
                platform: engine_platform
                    .cloned()
                    .or(platform_defaulted.then(default_platform)),
                default_platform: platform_defaulted,
                labels: Vec::new(),
                pull: false,
                secrets: image.config.secrets.clone(),
                cache: None,
            },
            base: planned_base,
            after,
        })
    }

    /// The base `base_image` of `target`'s build for `platform` (of several; `engine_platform`
    /// is the one the engine builds for): a multi-platform base is used through its image for
    /// that platform, which it must have.
    fn base(
        &mut self,
        target: &Target,
        base_image: &BaseImage,
        platform: Option<&Platform>,
        engine_platform: Option<&Platform>,
    ) -> Result<Base, Error> {
        let mut base = Base {
            target: Target {
                image: base_image.name.clone(),
                python_version: target.python_version.clone(),
            },
            source: base_image.source,
            repository: String::new(),
            platform: None,
        };
        let base_platforms =
            platforms_of(catalog_image(self.images, &base_image.name), self.request);
        let covered = |wanted: &Platform| {
            base_platforms.contains(wanted) || (base_platforms.is_empty() && platform.is_none())
        };
        if let Some(wanted) = engine_platform.filter(|wanted| !covered(wanted)) {
            return Err(Error::BaseLacksPlatform {
                image: target.image.to_string(),
                base: base_image.name.to_string(),
                platform: wanted.to_string(),
            });
        }
        if base_platforms.len() > 1 {
            base.platform = engine_platform.cloned();
        }
        let in_run = self
            .index
            .contains_key(&(base.target.clone(), base.platform.clone()));
        base.repository = self.base_repository(target, base_image, in_run)?;
        Ok(base)
    }

    /// The repository the reference of `target`'s base `base_image` names: the local one, or
    /// the registry's for a `source: aws` base. With no registry configured, an aws base built
    /// in the run (`in_run`) is the fresh local image, and one it does not build is an error, or
    /// under `UNKNOWN_REGISTRY` in a plan that is only shown.
    fn base_repository(
        &mut self,
        target: &Target,
        base_image: &BaseImage,
        in_run: bool,
    ) -> Result<String, Error> {
        let image = &base_image.name;
        match (base_image.source, self.registry) {
            (BaseSource::Local, _) => Ok(repository(LOCAL_NAMESPACE, image)),
            (BaseSource::Aws, Ok(registry)) => Ok(repository(registry, image)),
            (BaseSource::Aws, Err(why)) if why.missing && in_run => {
                Ok(repository(LOCAL_NAMESPACE, image))
            }
            (BaseSource::Aws, Err(why)) if why.missing && self.request.without_registry => {
                self.unknown_registry_bases.insert(image.to_string());
                Ok(repository(UNKNOWN_REGISTRY, image))
            }
            (BaseSource::Aws, Err(why)) => Err(Error::NoRegistry {
                image: target.image.to_string(),
                base: image.to_string(),
                source: why.clone(),
            }),
        }
    }
}

/// Adds `tag` to the tags `build` gives its image, once.
fn tag_also(build: &mut Build, tag: String) {
    if !build.request.extra_tags.contains(&tag) {
        build.request.extra_tags.push(tag);
    }
}

/// The image `name` of the catalog read for a plan; every image a request reaches is read
/// before planning (`Catalog::images_with_bases`), so a missing one is a bug.
fn catalog_image<'a>(images: &'a BTreeMap<ImageName, Image>, name: &ImageName) -> &'a Image {
    images
        .get(name)
        .unwrap_or_else(|| panic!("image `{name}` was not read before planning"))
}

/// The spec of `version` of `image`; targets are made from the versions an image has.
fn version_spec<'a>(image: &'a Image, version: &PythonVersion) -> &'a crate::catalog::VersionSpec {
    image.versions.get(version).unwrap_or_else(|| {
        panic!(
            "Python {version} of `{}` was planned without being declared",
            image.name
        )
    })
}

/// The builds of `plan` that `keep` marks, in order, each waiting only for kept builds. The
/// build arguments stay: a kept build names a dropped base at the plan's timestamp, for bases
/// built at that timestamp already (by an earlier step of `publish`).
pub fn retain(plan: &Plan, keep: &[bool]) -> Plan {
    let mut new_index: Vec<Option<usize>> = vec![None; plan.builds.len()];
    let mut builds = Vec::new();
    for (i, build) in plan.builds.iter().enumerate().filter(|(i, _)| keep[*i]) {
        let mut kept = build.clone();
        kept.after = build.after.iter().filter_map(|&d| new_index[d]).collect();
        new_index[i] = Some(builds.len());
        builds.push(kept);
    }
    Plan {
        timestamp: plan.timestamp.clone(),
        builds,
        unknown_registry_bases: plan.unknown_registry_bases.clone(),
    }
}

/// The builds of `plan` that `keep` marks, in order. A kept build whose planned base is dropped
/// builds on that base's current image (the one its `last_updated.yaml` names) instead.
pub fn narrow(plan: &Plan, keep: &[bool], images: &BTreeMap<ImageName, Image>) -> Plan {
    let mut narrowed = retain(plan, keep);
    let originals = plan.builds.iter().enumerate().filter(|(i, _)| keep[*i]);
    for (kept, (_, build)) in narrowed.builds.iter_mut().zip(originals) {
        let base_dropped = build.after.iter().any(|&d| !keep[d]);
        let Some(base) = build.base.as_ref().filter(|_| base_dropped) else {
            continue;
        };
        let current = images
            .get(base.target.image.as_str())
            .and_then(|image| image.last_updated.get(base.target.python_version.as_str()));
        let arg = kept
            .request
            .build_args
            .iter_mut()
            .find(|(name, _)| name == BASE_IMAGE_ARG);
        if let (Some(timestamp), Some(arg)) = (current, arg) {
            arg.1 = base.reference(timestamp);
        }
    }
    narrowed
}

fn built_timestamp(
    images: &BTreeMap<ImageName, Image>,
    target: &Target,
    base: &Base,
) -> Result<Timestamp, Error> {
    let name = &base.target.image;
    catalog_image(images, name)
        .last_updated
        .get(target.python_version.as_str())
        .cloned()
        .ok_or_else(|| Error::BaseNotBuilt {
            image: target.image.to_string(),
            base: name.to_string(),
            version: target.python_version.to_string(),
            origin: base.source,
        })
}

/// The targets of the request, plus their local bases when asked, ordered bases first (also a
/// `source: aws` base that is itself a target) and otherwise in request order; every base has
/// the Python version that builds on it.
fn order_targets(
    images: &BTreeMap<ImageName, Image>,
    request: &Request,
) -> Result<Vec<Target>, Error> {
    let follow = |target: &Target, base: &BaseImage| {
        let wanted = request.targets.contains(&graph::base_target(target, base));
        wanted || (base.source == BaseSource::Local && request.with_deps)
    };
    let order = graph::order(&request.targets, |t| base_image_of(images, t), follow)
        .map_err(Error::Cycle)?;
    for target in &order {
        check_base_has_version(images, target)?;
    }
    Ok(order)
}

fn check_base_has_version(
    images: &BTreeMap<ImageName, Image>,
    target: &Target,
) -> Result<(), Error> {
    let Some(base) = base_image_of(images, target) else {
        return Ok(());
    };
    if catalog_image(images, &base.name)
        .versions
        .contains_key(target.python_version.as_str())
    {
        return Ok(());
    }
    Err(Error::BaseLacksVersion {
        image: target.image.to_string(),
        base: base.name.to_string(),
        version: target.python_version.to_string(),
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
