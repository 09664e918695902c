//! Input digests of a build plan, from the catalog and the labels of the local images: put on
//! every build as a label, and used to skip the builds whose inputs did not change.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{Error as CatalogError, Image};
use crate::digest::LABEL;
use crate::engine::Docker;
use crate::error::Result;
use crate::freshness::{self, Freshness};
use crate::plan::{self, Plan};

/// The freshness of every build of `plan`, asking the engine once for its images' digest labels.
pub(super) fn assess(
    docker: &Docker,
    images: &BTreeMap<String, Image>,
    plan: &Plan,
) -> Result<Freshness> {
    let mut tags = freshness::base_tags(images, plan);
    tags.extend(freshness::current_tags(images, plan));
    let labels = digest_labels(docker, tags)?;
    Ok(Freshness::assess(images, plan, &labels).map_err(CatalogError::Io)?)
}

/// Labels every build with its input digest. With `skip_unchanged`, only the builds whose
/// inputs changed (and their dependents) are kept, building on the current images of the
/// unchanged bases. The engine is asked at most once; without `skip_unchanged`, only about the
/// bases the plan does not build.
pub(super) fn label_builds(
    docker: &Docker,
    images: &BTreeMap<String, Image>,
    plan: Plan,
    skip_unchanged: bool,
) -> Result<Plan> {
    let (digests, plan) = if skip_unchanged {
        let freshness = assess(docker, images, &plan)?;
        let narrowed = plan::narrow(&plan, &freshness.changed, images);
        (digests_by_target(&plan, freshness.digests), narrowed)
    } else {
        let labels = digest_labels(docker, freshness::base_tags(images, &plan))?;
        let digests = freshness::digests(images, &plan, &labels).map_err(CatalogError::Io)?;
        (digests_by_target(&plan, digests), plan)
    };
    let mut plan = plan;
    for build in &mut plan.builds {
        if let Some(digest) = digests.get(&(build.target.clone(), build.platform.clone())) {
            build
                .request
                .labels
                .push((LABEL.to_owned(), digest.clone()));
        }
    }
    Ok(plan)
}

/// Each build's digest by its image-version and platform (of several).
type Digests = HashMap<(plan::Target, Option<String>), String>;

fn digests_by_target(plan: &Plan, digests: Vec<String>) -> Digests {
    plan.builds
        .iter()
        .map(|b| (b.target.clone(), b.platform.clone()))
        .zip(digests)
        .collect()
}

/// Tag -> digest label of the local images among `tags` that exist and have one, in one engine
/// call.
fn digest_labels(
    docker: &Docker,
    tags: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, String>> {
    let wanted: Vec<String> = tags.into_iter().collect();
    let local = docker.local_images(&wanted)?;
    Ok(wanted
        .into_iter()
        .filter_map(|tag| {
            let label = local.get(&tag)?.labels.get(LABEL)?;
            label.starts_with("blake3:").then(|| (tag, label.clone()))
        })
        .collect())
}
