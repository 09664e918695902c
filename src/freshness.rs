//! Which image-versions of a plan changed since their current local image (the one
//! `last_updated.yaml` names) was built: its input digest differs from the digest label of that
//! image, there is no such image, or a base it builds on changed. A base of the catalog counts
//! by its input digest, whether it comes from the local store or the registry.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::catalog::{BASE_IMAGE_ARG, Image};
use crate::digest::{self, Inputs};
use crate::plan::{Base, Build, Plan, local_platform_tag};

/// The input digest of every build of a plan, and whether it changed.
#[derive(Debug)]
pub struct Freshness {
    pub digests: Vec<String>,
    pub changed: Vec<bool>,
}

impl Freshness {
    /// Digests and changes of `plan`'s builds, given the labels of `base_tags` and
    /// `current_tags`.
    pub fn assess(
        images: &BTreeMap<String, Image>,
        plan: &Plan,
        labels: &HashMap<String, String>,
    ) -> std::io::Result<Self> {
        let digests = digests(images, plan, labels)?;
        let changed = changes(images, plan, &digests, labels);
        Ok(Self { digests, changed })
    }
}

/// The tag of the current local image of `image` for `version` and `platform` (of several), if
/// it was ever built.
pub fn current_tag(image: &Image, version: &str, platform: Option<&str>) -> Option<String> {
    let timestamp = image.last_updated.get(version)?;
    Some(local_platform_tag(
        &image.name,
        version,
        timestamp,
        platform,
    ))
}

/// The local images whose digest labels `digests` needs: the current image of each base of
/// the catalog that the plan does not build.
pub fn base_tags(images: &BTreeMap<String, Image>, plan: &Plan) -> BTreeSet<String> {
    plan.builds
        .iter()
        .filter(|build| build.after.is_empty())
        .filter_map(|build| build.base.as_ref())
        .filter_map(|base| {
            let (name, version) = (&base.target.image, &base.target.python_version);
            current_tag_of(images, name, version, base.platform.as_deref())
        })
        .collect()
}

/// The local images whose digest labels `changes` needs besides: the current image of each
/// build.
pub fn current_tags(images: &BTreeMap<String, Image>, plan: &Plan) -> BTreeSet<String> {
    plan.builds
        .iter()
        .filter_map(|build| {
            let (name, version) = (&build.target.image, &build.target.python_version);
            current_tag_of(images, name, version, build.platform.as_deref())
        })
        .collect()
}

/// The input digest of every build of `plan`, given the digest labels of the local images
/// (`labels`: tag -> digest; a missing tag is a missing image or label).
pub fn digests(
    images: &BTreeMap<String, Image>,
    plan: &Plan,
    labels: &HashMap<String, String>,
) -> std::io::Result<Vec<String>> {
    let mut contexts: HashMap<&str, String> = HashMap::new();
    let mut digests: Vec<String> = Vec::with_capacity(plan.builds.len());
    for build in &plan.builds {
        let name = &build.target.image;
        let Some(image) = images.get(name.as_str()) else {
            return Err(std::io::Error::other(format!(
                "image `{name}` was not read"
            )));
        };
        let context = match contexts.get(name.as_str()) {
            Some(context) => context.clone(),
            None => {
                let context = digest::context_digest(&image.dir, &image.config.copies)?;
                contexts.insert(name, context.clone());
                context
            }
        };
        let base = build
            .base
            .as_ref()
            .map(|base| base_digest(images, build, base, &digests, labels));
        let build_args: Vec<(String, String)> = build
            .request
            .build_args
            .iter()
            .filter(|(name, _)| base.is_none() || name != BASE_IMAGE_ARG)
            .cloned()
            .collect();
        digests.push(digest::input_digest(&Inputs {
            context: &context,
            build_args: &build_args,
            platform: build.request.platform.as_deref(),
            base: base.as_deref(),
        }));
    }
    Ok(digests)
}

/// Whether each build of `plan` changed since its current image was built: its digest differs
/// from that image's label, there is no such image, or a base it waits for changed.
pub fn changes(
    images: &BTreeMap<String, Image>,
    plan: &Plan,
    digests: &[String],
    labels: &HashMap<String, String>,
) -> Vec<bool> {
    let mut changed = Vec::with_capacity(plan.builds.len());
    for (build, digest) in plan.builds.iter().zip(digests) {
        let (name, version) = (&build.target.image, &build.target.python_version);
        let current = current_tag_of(images, name, version, build.platform.as_deref());
        let recorded = current.and_then(|tag| labels.get(&tag));
        let base_changed = build.after.iter().any(|&d| changed.get(d) == Some(&true));
        changed.push(base_changed || recorded != Some(digest));
    }
    with_every_platform(plan, changed)
}

/// `changed` with every platform of an image-version that has one changed platform, and what
/// builds on them: `last_updated.yaml` gives one timestamp to all the platforms of a version.
fn with_every_platform(plan: &Plan, mut changed: Vec<bool>) -> Vec<bool> {
    let targets: BTreeSet<&crate::plan::Target> = plan
        .builds
        .iter()
        .zip(&changed)
        .filter(|(_, changed)| **changed)
        .map(|(build, _)| &build.target)
        .collect();
    for (i, build) in plan.builds.iter().enumerate() {
        let base_changed = build.after.iter().any(|&d| changed[d]);
        changed[i] = changed[i] || base_changed || targets.contains(&build.target);
    }
    changed
}

/// The digest a base stands in for in its dependent's input digest: the input digest of the
/// build that makes it in this plan, else the label of its current local image, else its name
/// and timestamp (an image built elsewhere).
fn base_digest(
    images: &BTreeMap<String, Image>,
    build: &Build,
    base: &Base,
    digests: &[String],
    labels: &HashMap<String, String>,
) -> String {
    if let Some(planned) = build.after.first().and_then(|&d| digests.get(d)) {
        return planned.clone();
    }
    let (name, version) = (&base.target.image, &base.target.python_version);
    let current = current_tag_of(images, name, version, base.platform.as_deref());
    match current.as_ref().and_then(|tag| labels.get(tag)) {
        Some(label) => label.clone(),
        None => format!("unknown base {}", current.as_deref().unwrap_or(name)),
    }
}

/// `current_tag` of the image `name` of `images`, if it was read and built.
fn current_tag_of(
    images: &BTreeMap<String, Image>,
    name: &str,
    version: &str,
    platform: Option<&str>,
) -> Option<String> {
    current_tag(images.get(name)?, version, platform)
}
