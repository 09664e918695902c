//! Input digests of a build plan, from the catalog, the labels of the local images and what the
//! registries say of upstream images: put on every build as labels, and used to skip the builds
//! whose inputs did not change (and to pull for those whose upstream image moved).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::catalog::{Error as CatalogError, Image};
use crate::digest::{INPUTS_LABEL, LABEL, Recorded};
use crate::engine::LocalImages;
use crate::error::{Error, Result};
use crate::freshness::{self, Facts, Freshness, Labels, Pins, Reason};
use crate::plan::{self, Plan};
use crate::reference::Platform;
use crate::registry::upstream::{self, Wanted};
use crate::registry::{KnownManifests, SignIns};
use crate::upstream::{LocalCopy, Lookup, Observed};

use super::Session;

/// How many registry lookups of upstream images run at once, unless
/// `DAGSTER_IMAGE_LOOKUP_CONCURRENCY` says otherwise (1 for the benchmark's one-at-a-time).
const LOOKUP_CONCURRENCY: usize = 8;
/// The file of the tool's folder keeping the upstream manifests read ([`KnownManifests`]).
const KNOWN_MANIFESTS_FILE: &str = "upstream-manifests.json";

/// The freshness of every build of `plan`, asking the engine once for its images' labels and
/// its copies of upstream images, and their registries (concurrently) for their digests. Each
/// registry that could not be asked, and made an upstream image unknown, is said once.
pub fn assess(
    session: &Session,
    images: &BTreeMap<String, Image>,
    plan: &Plan,
) -> Result<Freshness> {
    Ok(assess_with_images(session, images, plan)?.0)
}

/// `assess`, with the tags of the current images of the builds that are here (from the same
/// engine query).
pub fn assess_with_images(
    session: &Session,
    images: &BTreeMap<String, Image>,
    plan: &Plan,
) -> Result<(Freshness, BTreeSet<String>)> {
    let Gathered {
        facts,
        references,
        present,
        ..
    } = gather(session, images, plan, true, Ask::Every, Keep::Manifests)?;
    let freshness =
        Freshness::assess(images, plan, &facts, &references).map_err(CatalogError::Io)?;
    warn_of_unknowns(&freshness.reasons);
    Ok((freshness, present))
}

/// Labels every build with its input digest and its parts. With `skip_unchanged`, only the
/// builds whose inputs changed (and their dependents) are kept, building on the current images
/// of the unchanged bases, and those whose upstream image moved in its registry pull it. The
/// engine is asked once; without `skip_unchanged`, only about the bases the plan does not build
/// and the upstream images; and for a `dry_run`, not about upstream images (nor their
/// registries): its labels name them `unknown`.
pub fn label_builds(
    session: &Session,
    images: &BTreeMap<String, Image>,
    plan: Plan,
    skip_unchanged: bool,
    dry_run: bool,
) -> Result<Plan> {
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
    let Gathered {
        facts,
        references,
        local,
        ..
    } = gather(session, images, &plan, skip_unchanged, ask, keep)?;
    let (mut pins, mut pulls, keep) = if skip_unchanged {
        let freshness =
            Freshness::assess(images, &plan, &facts, &references).map_err(CatalogError::Io)?;
        warn_of_unknowns(&freshness.reasons);
        let pins = freshness
            .changed
            .iter()
            .zip(&freshness.pulls)
            .map(|(&changed, &pull)| match changed {
                true => Pins::Building { pull },
                false => Pins::Settled,
            })
            .collect();
        (pins, freshness.pulls, Some(freshness.changed))
    } else {
        let building = vec![Pins::Building { pull: false }; plan.builds.len()];
        (building, vec![false; plan.builds.len()], None)
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
    let by_target: HashMap<_, _> = plan
        .builds
        .iter()
        .map(|b| (b.target.clone(), b.platform.clone()))
        .zip(parts.into_iter().zip(pulls))
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
    Ok(plan)
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
            if Platform::of(expected).matches(&Platform::of(&image.platform)) {
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
                expected: expected.clone(),
                actual: image.platform.clone(),
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

/// Which upstream references their registries are asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    /// All: whether they moved is the question (`status`, `--skip-unchanged`).
    Every,
    /// All but those with a local-only copy (built, imported or tagged here): a build uses the
    /// copy, so its registry has nothing to say of it (a plain build).
    NotHere,
    /// None: the labels of a dry run name upstream images `unknown`.
    None,
}

/// What [`gather`] found.
struct Gathered {
    facts: Facts,
    /// The upstream references of each build of the plan.
    references: Vec<Vec<String>>,
    /// The tags asked about that name an image here.
    present: BTreeSet<String>,
    /// The engine's images asked about.
    local: LocalImages,
}

/// What the engine and the registries know that an assessment of `plan` needs: the labels of
/// the current images (with `current`) and of the bases it does not build, and each upstream
/// reference of each build, for its platform, as `ask` says; which of those tags name an
/// image here; and the engine's images asked about.
fn gather(
    session: &Session,
    images: &BTreeMap<String, Image>,
    plan: &Plan,
    current: bool,
    ask: Ask,
    keep: Keep,
) -> Result<Gathered> {
    let references = freshness::upstream_references(plan)?;
    let mut tags = freshness::base_tags(images, plan);
    if current {
        tags.extend(freshness::current_tags(images, plan));
    }
    let wanted = match ask {
        Ask::None => Vec::new(),
        Ask::Every | Ask::NotHere => wanted(plan, &references),
    };
    let upstream_references: BTreeSet<&String> = wanted.iter().map(|(r, _)| r).collect();
    let mut asked: Vec<String> = tags.iter().cloned().collect();
    asked.extend(upstream_references.iter().map(|r| r.to_string()));
    let (local, lookups) = match ask {
        Ask::NotHere => local_then_missing(session, &asked, &wanted, keep)?,
        Ask::Every | Ask::None => local_while_looking_up(session, &asked, &wanted, keep)?,
    };
    let upstream = wanted
        .into_iter()
        .zip(lookups)
        .map(|(key, lookup)| {
            let copy = local_copy(&local, &key.0);
            (
                key,
                Observed {
                    lookup,
                    local: copy,
                },
            )
        })
        .collect();
    let labels = tags
        .iter()
        .filter_map(|tag| Some((tag.clone(), labels_of(&local, tag)?)))
        .collect();
    let present = tags
        .into_iter()
        .filter(|tag| local.get(tag).is_some())
        .collect();
    Ok(Gathered {
        facts: Facts { labels, upstream },
        references,
        present,
        local,
    })
}

/// The engine's images `asked`, and the registries' answers about every one of `wanted`, asked
/// while the engine is: neither waits for the other.
fn local_while_looking_up(
    session: &Session,
    asked: &[String],
    wanted: &[Wanted],
    keep: Keep,
) -> Result<(LocalImages, Vec<Lookup>)> {
    let (offline, deadline) = (session.offline, session.registry_timeout);
    let sign_ins = &session.sign_ins;
    let (local, lookups) = std::thread::scope(|scope| {
        let known = known_manifests(session, keep);
        let lookups = scope.spawn(|| look_up(sign_ins, known, offline, deadline, wanted));
        let local = local_images(session, asked);
        let lookups = lookups
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (local, lookups)
    });
    Ok((local?, lookups?))
}

/// The engine's images `asked`, then the registries' answers about those of `wanted` that the
/// engine has no copy of, or one that came from or went to that registry; a local-only copy's
/// registry is not asked.
fn local_then_missing(
    session: &Session,
    asked: &[String],
    wanted: &[Wanted],
    keep: Keep,
) -> Result<(LocalImages, Vec<Lookup>)> {
    let local = local_images(session, asked)?;
    let (here, missing): (Vec<&Wanted>, Vec<&Wanted>) =
        wanted.iter().partition(|(reference, _)| {
            local_copy(&local, reference).is_some_and(|copy| copy.is_local_only())
        });
    let missing: Vec<Wanted> = missing.into_iter().cloned().collect();
    let (offline, deadline) = (session.offline, session.registry_timeout);
    let known = known_manifests(session, keep);
    let mut found = look_up(&session.sign_ins, known, offline, deadline, &missing)?.into_iter();
    let lookups = wanted
        .iter()
        .map(|key| match here.contains(&key) {
            true => Lookup::NotAsked,
            false => found.next().unwrap_or(Lookup::NotAsked),
        })
        .collect();
    Ok((local, lookups))
}

fn local_images(session: &Session, asked: &[String]) -> Result<LocalImages> {
    Ok(match asked.is_empty() {
        true => LocalImages::default(),
        false => session.docker.local_images(asked)?,
    })
}

/// The registries' answers about `wanted`, each request within `deadline`, a manifest of
/// `known` only checked; none asked when `offline`.
fn look_up(
    sign_ins: &SignIns,
    mut known: KnownManifests,
    offline: bool,
    deadline: Duration,
    wanted: &[Wanted],
) -> Result<Vec<Lookup>> {
    if offline || wanted.is_empty() {
        return Ok(vec![Lookup::NotAsked; wanted.len()]);
    }
    Ok(upstream::look_up(
        sign_ins,
        wanted,
        deadline,
        lookup_concurrency(),
        &mut known,
    )?)
}

/// Whether a run keeps the upstream manifests it read for the next run.
#[derive(Debug, Clone, Copy)]
enum Keep {
    Manifests,
    Nothing,
}

/// The upstream manifests earlier runs read, kept in the tool's folder beside the catalog (made
/// when missing, unless the run keeps nothing).
fn known_manifests(session: &Session, keep: Keep) -> KnownManifests {
    let Ok(catalog) = session.catalog() else {
        return KnownManifests::default();
    };
    match keep {
        Keep::Manifests => super::state_dir(catalog).map_or_else(
            |_| KnownManifests::default(),
            |dir| KnownManifests::load(&dir.join(KNOWN_MANIFESTS_FILE)),
        ),
        Keep::Nothing => {
            KnownManifests::read_only(&super::state_path(catalog).join(KNOWN_MANIFESTS_FILE))
        }
    }
}

/// Each distinct upstream reference of the builds with the platform the build is for.
fn wanted(plan: &Plan, references: &[Vec<String>]) -> Vec<Wanted> {
    let all: BTreeSet<Wanted> = plan
        .builds
        .iter()
        .zip(references)
        .flat_map(|(build, references)| {
            let platform = build.request.platform.clone();
            references
                .iter()
                .map(move |r| (r.clone(), platform.clone()))
        })
        .collect();
    all.into_iter().collect()
}

fn lookup_concurrency() -> usize {
    std::env::var("DAGSTER_IMAGE_LOOKUP_CONCURRENCY")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(LOOKUP_CONCURRENCY)
}

/// The engine's copy of `reference`, with the registry digests it is known by: under any name
/// (digests are of content), and under the reference's own repository.
fn local_copy(local: &LocalImages, reference: &str) -> Option<LocalCopy> {
    let image = local.get(reference)?;
    let familiar = crate::engine::images::familiar(reference);
    let (repository, _) = crate::registry::split_tag(&familiar);
    let named: Vec<(&str, &str)> = image
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@'))
        .collect();
    let digests = |mine: bool| {
        named
            .iter()
            .filter(|(name, _)| !mine || *name == repository)
            .map(|(_, digest)| digest.to_string())
            .collect()
    };
    Some(LocalCopy {
        id: image.id.clone(),
        repo_digests: digests(false),
        pulled_as: digests(true),
    })
}

/// The digest label of the local image `tag`, with its parts when it records them.
fn labels_of(local: &LocalImages, tag: &str) -> Option<Labels> {
    let image = local.get(tag)?;
    let labels = &image.labels;
    let digest = labels.get(LABEL).filter(|l| l.starts_with("blake3:"))?;
    Some(Labels {
        digest: digest.clone(),
        platform: image.platform.clone(),
        inputs: labels
            .get(INPUTS_LABEL)
            .and_then(|l| Recorded::from_label(l)),
    })
}

/// Says once per registry that could not be asked (and once per reference there was nothing to
/// compare with) that what builds on them is unknown, not stale.
fn warn_of_unknowns(reasons: &[Vec<Reason>]) {
    let mut failed: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    let mut uncompared: BTreeSet<&str> = BTreeSet::new();
    for reason in reasons.iter().flatten() {
        match reason {
            Reason::Unknown {
                reference,
                failed: Some((registry, why)),
            } => {
                let key = (registry.as_str(), why.as_str());
                failed.entry(key).or_default().insert(reference);
            }
            Reason::Unknown { reference, .. } => {
                uncompared.insert(reference);
            }
            _ => {}
        }
    }
    for ((registry, why), references) in failed {
        say!(
            "warning: cannot ask registry `{registry}` whether upstream images moved ({}): {why}; \
             what builds on them counts as unknown, not stale",
            quoted(&references)
        );
    }
    if !uncompared.is_empty() {
        say!(
            "warning: cannot tell whether {} moved: no local copy to compare with, and the \
             registry was not asked (`--offline`) or has no such image; what builds on them \
             counts as unknown, not stale",
            quoted(&uncompared)
        );
    }
}

fn quoted(references: &BTreeSet<&str>) -> String {
    let quoted: Vec<String> = references.iter().map(|r| format!("`{r}`")).collect();
    quoted.join(", ")
}
