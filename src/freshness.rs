//! Which image-versions of a plan changed since their current local image (the one
//! `last_updated.yaml` names) was built: its input digest differs from the digest label of that
//! image, there is no such image, or a base it builds on changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::catalog::{BASE_IMAGE_ARG, BaseSource, Image};
use crate::digest::{self, Inputs};
use crate::plan::{Plan, local_tag};

/// The input digest of every build of a plan, and whether it changed.
#[derive(Debug)]
pub struct Freshness {
    pub digests: Vec<String>,
    pub changed: Vec<bool>,
}

/// The tag of the current local image of `image` for `version`, if it was ever built.
pub fn current_tag(image: &Image, version: &str) -> Option<String> {
    image
        .last_updated
        .get(version)
        .map(|ts| local_tag(&image.name, version, ts))
}

/// Every local image whose digest label `assess` needs: the current image of each build and of
/// each local base outside the plan.
pub fn needed_tags(images: &BTreeMap<String, Image>, plan: &Plan) -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    for build in &plan.builds {
        let (image, version) = (&images[&build.target.image], &build.target.python_version);
        tags.extend(current_tag(image, version));
        if let Some(base) = local_base(image, version) {
            tags.extend(current_tag(&images[base], version));
        }
    }
    tags
}

/// Digests and changes of `plan`'s builds, given the digest labels of the local images
/// (`labels`: tag -> digest; a missing tag is a missing image or label).
pub fn assess(
    images: &BTreeMap<String, Image>,
    plan: &Plan,
    labels: &HashMap<String, String>,
) -> std::io::Result<Freshness> {
    let mut contexts: HashMap<&str, String> = HashMap::new();
    let mut digests: Vec<String> = Vec::with_capacity(plan.builds.len());
    let mut changed = Vec::with_capacity(plan.builds.len());
    for build in &plan.builds {
        let (image, version) = (&images[&build.target.image], &build.target.python_version);
        let context = match contexts.get(image.name.as_str()) {
            Some(context) => context.clone(),
            None => {
                let context = digest::context_digest(&image.dir, &image.config.copies)?;
                contexts.insert(&image.name, context.clone());
                context
            }
        };
        let base = local_base(image, version).map(|base| match build.after.first() {
            Some(&planned) => digests[planned].clone(),
            None => current_tag(&images[base], version)
                .and_then(|tag| labels.get(&tag).cloned())
                .unwrap_or_else(|| format!("unknown base {base}")),
        });
        let build_args: Vec<(String, String)> = build
            .request
            .build_args
            .iter()
            .filter(|(name, _)| base.is_none() || name != BASE_IMAGE_ARG)
            .cloned()
            .collect();
        let digest = digest::input_digest(&Inputs {
            context: &context,
            build_args: &build_args,
            platform: build.request.platform.as_deref(),
            base: base.as_deref(),
        });
        let recorded = current_tag(image, version).and_then(|tag| labels.get(&tag));
        let base_changed = build.after.iter().any(|&d| changed[d]);
        changed.push(base_changed || recorded != Some(&digest));
        digests.push(digest);
    }
    Ok(Freshness { digests, changed })
}

/// The local base image of `version` of `image`, if any: its digest stands in for its tag.
fn local_base<'a>(image: &'a Image, version: &str) -> Option<&'a str> {
    let base = image.versions.get(version)?.base_image.as_ref()?;
    (base.source == BaseSource::Local).then_some(base.name.as_str())
}
