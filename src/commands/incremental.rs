//! Input digests of a build plan, from the catalog and the labels of the local images: put on
//! every build as a label, and used to skip the builds whose inputs did not change.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{Error as CatalogError, Image};
use crate::digest::LABEL;
use crate::engine::{Docker, says_image_missing};
use crate::error::Result;
use crate::freshness::{self, Freshness};
use crate::plan::{self, Plan};

/// The freshness of every build of `plan`, asking the engine for its images' digest labels.
pub(super) fn assess(
    docker: &Docker,
    images: &BTreeMap<String, Image>,
    plan: &Plan,
) -> Result<Freshness> {
    let labels = digest_labels(docker, freshness::needed_tags(images, plan))?;
    Ok(freshness::assess(images, plan, &labels).map_err(CatalogError::Io)?)
}

/// Labels every build with its input digest. With `skip_unchanged`, only the builds whose
/// inputs changed (and their dependents) are kept, building on the current images of the
/// unchanged bases.
pub(super) fn label_builds(
    docker: &Docker,
    images: &BTreeMap<String, Image>,
    plan: Plan,
    skip_unchanged: bool,
) -> Result<Plan> {
    let freshness = assess(docker, images, &plan)?;
    let digest_of: HashMap<plan::Target, String> = plan
        .builds
        .iter()
        .map(|b| b.target.clone())
        .zip(freshness.digests)
        .collect();
    let mut plan = if skip_unchanged {
        plan::narrow(&plan, &freshness.changed, images)
    } else {
        plan
    };
    for build in &mut plan.builds {
        build
            .request
            .labels
            .push((LABEL.to_owned(), digest_of[&build.target].clone()));
    }
    Ok(plan)
}

/// Tag -> digest label of the local images among `tags` that exist and have one, in one docker
/// command (a missing image is reported as such and tolerated).
fn digest_labels(
    docker: &Docker,
    tags: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, String>> {
    let wanted: Vec<String> = tags.into_iter().collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let listing = docker.tags_and_label(LABEL, &wanted).output_tolerating(
        "reading the input digests of local images",
        says_image_missing,
    )?;
    let mut labels = HashMap::new();
    for line in listing.lines() {
        let Some((tags, value)) = line.split_once(' ') else {
            continue;
        };
        let Ok(tags) = serde_json::from_str::<Vec<String>>(tags) else {
            continue;
        };
        if value.starts_with("blake3:") {
            labels.extend(
                tags.into_iter()
                    .filter(|t| wanted.contains(t))
                    .map(|t| (t, value.to_owned())),
            );
        }
    }
    Ok(labels)
}
