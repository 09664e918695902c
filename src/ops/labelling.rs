//! A plan's builds labelled with their input digests and parts, and marked to pull where an
//! upstream image moved: for a run here ([`label_builds`]: `build`, `build-all`, `publish`), or for
//! builders elsewhere ([`label_export`]: `bake`, `pipeline`), from what [`super::incremental`]
//! gathers.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{Error as CatalogError, Image};
use crate::digest::{INPUTS_LABEL, LABEL, Recorded};
use crate::engine::LocalImages;
use crate::error::{Error, Result};
use crate::freshness::{self, Freshness, Pins};
use crate::plan::{self, Plan};
use crate::reference::ImageName;

use super::Session;
use super::incremental::{Ask, Engine, Gathered, Keep, assessed, gather, local_copy};

/// Labels every build with its input digest and its parts. With `skip_unchanged`, only the
/// builds whose inputs changed (and their dependents) are kept, building on the current images
/// of the unchanged bases, and those whose upstream image moved in its registry pull it; with
/// `pull`, every build pulls. The engine is asked once; without `skip_unchanged`, only about the
/// bases the plan does not build and the upstream images; and for a `dry_run`, not about
/// upstream images (nor their registries): its labels name them `unknown`.
pub fn label_builds(
    session: &Session,
    images: &BTreeMap<ImageName, Image>,
    plan: Plan,
    how: Labelling,
) -> Result<Plan> {
    let Labelling {
        skip_unchanged,
        dry_run,
        pull,
    } = how;
    // A dry run writes nothing, not even the manifests it read.
    let keep = match dry_run {
        true => Keep::Nothing,
        false => Keep::Manifests,
    };
    let ask = match (skip_unchanged, dry_run) {
        (true, _) => Ask::Every,
        (false, false) => Ask::NotHere,
        (false, true) => Ask::None,
    };
    let engine = Engine::Required;
    let Gathered {
        facts,
        references,
        local,
        ..
    } = gather(session, images, &plan, skip_unchanged, ask, keep, engine)?;
    let (mut pins, mut pulls, keep) = if skip_unchanged {
        let freshness = assessed(&session.out, images, &plan, &facts, &references)?;
        let pins = pins_of(&freshness, pull, true);
        let pulls = freshness.pulls.iter().map(|&moved| moved || pull).collect();
        (pins, pulls, Some(freshness.changed))
    } else {
        let building = vec![Pins::Building { pull }; plan.builds.len()];
        (building, vec![pull; plan.builds.len()], None)
    };
    if !dry_run {
        let building = |i: usize| keep.as_ref().is_none_or(|changed| changed[i]) && !pulls[i];
        let repull = check_start_platforms(&plan, &references, &local, building, session.offline)?;
        for i in repull {
            pulls[i] = true;
            pins[i] = Pins::Building { pull: true };
        }
    }
    let parts =
        freshness::parts(images, &plan, &facts, &references, &pins).map_err(CatalogError::Io)?;
    Ok(labelled(images, plan, parts, &pulls, keep))
}

/// How [`label_builds`] labels a plan about to be built.
#[derive(Debug, Clone, Copy, Default)]
pub struct Labelling {
    /// Keep only what changed (`--skip-unchanged`).
    pub skip_unchanged: bool,
    /// Only print the plan: ask no registry, write nothing.
    pub dry_run: bool,
    /// Every build pulls its upstream images (`--pull`).
    pub pull: bool,
}

/// Labels every build of a plan that runs elsewhere (`bake`, `pipeline`) as [`label_builds`]
/// labels a build here, and marks for pulling exactly the builds whose upstream image moved in
/// its registry, as `status` says; with `skip_unchanged`, only what is stale is kept. The engine
/// is asked for the labels of the current images and for its copies of upstream images; where
/// it is not installed at all (a machine that only exports), it has none.
pub fn label_export(
    session: &Session,
    images: &BTreeMap<ImageName, Image>,
    plan: Plan,
    skip_unchanged: bool,
) -> Result<Plan> {
    let (ask, keep, engine) = (Ask::Every, Keep::Manifests, Engine::IfInstalled);
    let Gathered {
        facts, references, ..
    } = gather(session, images, &plan, true, ask, keep, engine)?;
    let freshness = assessed(&session.out, images, &plan, &facts, &references)?;
    let pins = pins_of(&freshness, false, skip_unchanged);
    let parts =
        freshness::parts(images, &plan, &facts, &references, &pins).map_err(CatalogError::Io)?;
    let keep = skip_unchanged.then_some(freshness.changed);
    Ok(labelled(images, plan, parts, &freshness.pulls, keep))
}

/// How each build's upstream images stand in its digest: as its build will use them (pulling
/// where one moved, or with `pull`); with `only_changed`, the unchanged ones as they were
/// recorded, since they are not built.
fn pins_of(freshness: &Freshness, pull: bool, only_changed: bool) -> Vec<Pins> {
    freshness
        .changed
        .iter()
        .zip(&freshness.pulls)
        .map(|(&changed, &moved)| match changed || !only_changed {
            true => Pins::Building {
                pull: moved || pull,
            },
            false => Pins::Settled,
        })
        .collect()
}

/// `plan` with each build's digest and parts (`parts`, by build) as labels and its `pulls`;
/// narrowed to the builds `keep` marks, and what builds on them, when given.
fn labelled(
    images: &BTreeMap<ImageName, Image>,
    plan: Plan,
    parts: Vec<(String, Recorded)>,
    pulls: &[bool],
    keep: Option<Vec<bool>>,
) -> Plan {
    let by_target: HashMap<_, _> = plan
        .builds
        .iter()
        .map(|b| (b.target.clone(), b.platform.clone()))
        .zip(parts.into_iter().zip(pulls.iter().copied()))
        .collect();
    let mut plan = match keep {
        Some(changed) => plan::narrow(&plan, &changed, images),
        None => plan,
    };
    for build in &mut plan.builds {
        let key = (build.target.clone(), build.platform.clone());
        if let Some(((digest, recorded), pull)) = by_target.get(&key) {
            let labels = &mut build.request.labels;
            labels.push((LABEL.to_owned(), digest.clone()));
            labels.push((INPUTS_LABEL.to_owned(), recorded.to_label()));
            build.request.pull = *pull;
        }
    }
    plan
}

/// The builds (of those `building` marks, so neither skipped nor pulling already) that must pull
/// what they start from for their platform: an upstream image or unbuilt base here as another
/// platform's image, which docker's classic builder would start from, silently making an image
/// of the wrong platform. Such a copy pulled from a registry is pulled again for the build's
/// platform, unless `offline`; one not pulled under its name (built, imported or tagged here)
/// refuses the run.
fn check_start_platforms(
    plan: &Plan,
    references: &[Vec<String>],
    local: &LocalImages,
    building: impl Fn(usize) -> bool,
    offline: bool,
) -> Result<Vec<usize>> {
    let mut repull = Vec::new();
    for (i, build) in plan.builds.iter().enumerate().filter(|(i, _)| building(*i)) {
        let Some(expected) = &build.request.platform else {
            continue;
        };
        let base =
            build_arg(build, crate::catalog::BASE_IMAGE_ARG).filter(|_| build.after.is_empty());
        for reference in references[i].iter().chain(base) {
            let Some(image) = local.get(reference) else {
                continue;
            };
            if expected.matches(&image.platform) {
                continue;
            }
            let pulled = local_copy(local, reference).is_some_and(|c| !c.pulled_as.is_empty());
            let why = match (pulled, offline) {
                (false, _) => "pulled from no registry under that name",
                (true, true) => "and `--offline` keeps it from being pulled for the build",
                (true, false) => {
                    repull.push(i);
                    continue;
                }
            };
            return Err(Error::StartsFromOtherPlatform {
                tag: build.request.tag.clone(),
                reference: reference.clone(),
                expected: expected.to_string(),
                actual: image.platform.to_string(),
                why,
            });
        }
    }
    repull.dedup();
    Ok(repull)
}

/// The value of the build argument `name` of `build`, when it has one.
fn build_arg<'a>(build: &'a plan::Build, name: &str) -> Option<&'a String> {
    let mut args = build.request.build_args.iter();
    args.find(|(arg, _)| arg == name).map(|(_, value)| value)
}
