//! Resolves a build request into a plan: the image-versions to build, each with its tag, build
//! arguments and the builds it must wait for, in an order where bases come first. Pure: no I/O.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{BASE_IMAGE_ARG, BaseImage, BaseSource, Image, graph};
use crate::engine::BuildRequest;
pub use crate::reference::{LOCAL_NAMESPACE, TIMESTAMP_FORMAT, Target, local_tag, version_tag};
use crate::registry::Registry;

/// Build argument carrying `--dagster-version`.
pub const DAGSTER_VERSION_ARG: &str = "DAGSTER_VERSION";
/// What to build.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Image-versions asked for, in order.
    pub targets: Vec<Target>,
    /// Also build the local bases of the targets (transitively).
    pub with_deps: bool,
    pub timestamp: String,
    pub dagster_version: Option<String>,
    pub platform: Option<String>,
}

/// One build of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub target: Target,
    pub request: BuildRequest,
    /// The image of the catalog it builds on, when it has one.
    pub base: Option<Base>,
    /// Indexes in the plan of the builds this one uses as base image.
    pub after: Vec<usize>,
}

/// A base image that is an image of the catalog, and where the build gets it from: the local
/// repository `dagster/<name>`, or `<registry>/<name>` for a `source: aws` base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub target: Target,
    pub source: BaseSource,
    /// The repository of the `BASE_IMAGE` reference, without the tag.
    pub repository: String,
}

impl Base {
    /// The reference of this base built at `timestamp`.
    pub fn reference(&self, timestamp: &str) -> String {
        format!(
            "{}:{}",
            self.repository,
            version_tag(&self.target.python_version, timestamp)
        )
    }
}

/// Builds in dependency order: every build comes after those it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub timestamp: String,
    pub builds: Vec<Build>,
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
    },
    #[error("`{image}` builds on `{base}` from the registry, so it needs one")]
    NoRegistry {
        image: String,
        base: String,
        source: crate::registry::Error,
    },
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::BaseNotBuilt { base, .. } => Some(format!(
                "build `{base}` first, or add `--with-deps` to build it in the same run"
            )),
            Error::NoRegistry { source, .. } => source.hint(),
            Error::Cycle(_) | Error::BaseLacksVersion { .. } => None,
        }
    }
}

/// `targets` followed by every image-version that builds on one of them through a local
/// `base_image`, transitively and for the same Python version, each once. `images` must hold
/// every image of the catalog: a dependent is found only among them.
pub fn with_dependents(images: &BTreeMap<String, Image>, targets: &[Target]) -> Vec<Target> {
    let nodes: Vec<Target> = images.values().flat_map(Image::targets).collect();
    let local = |base: &BaseImage| base.source == BaseSource::Local;
    graph::with_dependents(targets, &nodes, |t| base_image_of(images, t), local)
}

/// The `base_image` of `target`, when it has one.
fn base_image_of<'a>(
    images: &'a BTreeMap<String, Image>,
    target: &Target,
) -> Option<&'a BaseImage> {
    images
        .get(&target.image)?
        .versions
        .get(&target.python_version)?
        .base_image
        .as_ref()
}

/// Orders `request` into a plan over `images` (which hold every image the request reaches).
///
/// A base the plan builds too is waited for and used at the plan's timestamp, whatever its
/// `source`: a `source: aws` base built in the same run is also tagged with its registry
/// reference, so the dependent builds on the fresh image under the name a later push gives it,
/// without a push in between. A base the plan does not build is used as last built.
pub fn resolve(
    images: &BTreeMap<String, Image>,
    request: &Request,
    registry: impl Fn() -> Result<Registry, crate::registry::Error>,
) -> Result<Plan, Error> {
    let order = order_targets(images, request)?;
    let index: HashMap<&Target, usize> = order.iter().enumerate().map(|(i, t)| (t, i)).collect();
    let mut builds: Vec<Build> = Vec::with_capacity(order.len());
    for target in &order {
        let image = catalog_image(images, &target.image);
        let spec = version_spec(image, &target.python_version);
        let mut build_args: Vec<(String, String)> = spec
            .docker_args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut after = Vec::new();
        let mut planned_base = None;
        if let Some(base_image) = &spec.base_image {
            let base = base_of(target, base_image, &registry)?;
            let reference = match index.get(&base.target) {
                Some(&i) => {
                    after.push(i);
                    if base.source == BaseSource::Aws {
                        tag_also(&mut builds[i], base.reference(&request.timestamp));
                    }
                    base.reference(&request.timestamp)
                }
                None => base.reference(built_timestamp(images, target, &base.target.image)?),
            };
            build_args.push((BASE_IMAGE_ARG.into(), reference));
            planned_base = Some(base);
        }
        if let Some(version) = &request.dagster_version {
            build_args.push((DAGSTER_VERSION_ARG.into(), version.clone()));
        }
        builds.push(Build {
            target: target.clone(),
            request: BuildRequest {
                tag: local_tag(&target.image, &target.python_version, &request.timestamp),
                extra_tags: Vec::new(),
                dockerfile: image.dir.join("Dockerfile"),
                context: image.dir.clone(),
                build_args,
                platform: request.platform.clone(),
                labels: Vec::new(),
            },
            base: planned_base,
            after,
        });
    }
    Ok(Plan {
        timestamp: request.timestamp.clone(),
        builds,
    })
}

/// The base `base_image` of `target`, with the repository its reference names.
fn base_of(
    target: &Target,
    base_image: &crate::catalog::BaseImage,
    registry: &impl Fn() -> Result<Registry, crate::registry::Error>,
) -> Result<Base, Error> {
    let repository = match base_image.source {
        BaseSource::Local => format!("{LOCAL_NAMESPACE}/{}", base_image.name),
        BaseSource::Aws => registry()
            .map_err(|source| Error::NoRegistry {
                image: target.image.clone(),
                base: base_image.name.clone(),
                source,
            })?
            .repository(&base_image.name),
    };
    Ok(Base {
        target: Target {
            image: base_image.name.clone(),
            python_version: target.python_version.clone(),
        },
        source: base_image.source,
        repository,
    })
}

/// Adds `tag` to the tags `build` gives its image, once.
fn tag_also(build: &mut Build, tag: String) {
    if !build.request.extra_tags.contains(&tag) {
        build.request.extra_tags.push(tag);
    }
}

/// The image `name` of the catalog read for a plan; every image a request reaches is read
/// before planning (`Catalog::images_with_bases`), so a missing one is a bug.
fn catalog_image<'a>(images: &'a BTreeMap<String, Image>, name: &str) -> &'a Image {
    images
        .get(name)
        .unwrap_or_else(|| panic!("image `{name}` was not read before planning"))
}

/// The spec of `version` of `image`; targets are made from the versions an image has.
fn version_spec<'a>(image: &'a Image, version: &str) -> &'a crate::catalog::VersionSpec {
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
    }
}

/// The builds of `plan` that `keep` marks, in order. A kept build whose planned base is dropped
/// builds on that base's current image (the one its `last_updated.yaml` names) instead.
pub fn narrow(plan: &Plan, keep: &[bool], images: &BTreeMap<String, Image>) -> Plan {
    let mut narrowed = retain(plan, keep);
    let originals = plan.builds.iter().enumerate().filter(|(i, _)| keep[*i]);
    for (kept, (_, build)) in narrowed.builds.iter_mut().zip(originals) {
        let base_dropped = build.after.iter().any(|&d| !keep[d]);
        let Some(base) = build.base.as_ref().filter(|_| base_dropped) else {
            continue;
        };
        let current = images
            .get(&base.target.image)
            .and_then(|image| image.last_updated.get(&base.target.python_version));
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

fn built_timestamp<'a>(
    images: &'a BTreeMap<String, Image>,
    target: &Target,
    base: &str,
) -> Result<&'a str, Error> {
    catalog_image(images, base)
        .last_updated
        .get(&target.python_version)
        .ok_or_else(|| Error::BaseNotBuilt {
            image: target.image.clone(),
            base: base.to_owned(),
            version: target.python_version.clone(),
        })
}

/// The targets of the request, plus their local bases when asked, ordered bases first (also a
/// `source: aws` base that is itself a target) and otherwise in request order; every base has
/// the Python version that builds on it.
fn order_targets(
    images: &BTreeMap<String, Image>,
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

fn check_base_has_version(images: &BTreeMap<String, Image>, target: &Target) -> Result<(), Error> {
    let Some(base) = base_image_of(images, target) else {
        return Ok(());
    };
    if catalog_image(images, &base.name)
        .versions
        .contains_key(&target.python_version)
    {
        return Ok(());
    }
    Err(Error::BaseLacksVersion {
        image: target.image.clone(),
        base: base.name.clone(),
        version: target.python_version.clone(),
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
