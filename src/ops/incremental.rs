//! What the engine and the registries say of a build plan's inputs (the labels of the local
//! images, the upstream images' digests), gathered once, and the freshness assessed from them:
//! which builds changed and why, and which must pull. [`super::labelling`] puts it on the builds.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::catalog::{Error as CatalogError, Image};
use crate::digest::{INPUTS_LABEL, LABEL, Recorded};
use crate::engine::{Docker, LocalImages};
use crate::error::Result;
use crate::freshness::{self, Facts, Freshness, Labels, Reason};
use crate::output::Output;
use crate::plan::Plan;
use crate::reference::ImageName;
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
    images: &BTreeMap<ImageName, Image>,
    plan: &Plan,
) -> Result<Freshness> {
    Ok(assess_with_images(session, images, plan)?.0)
}

/// `assess`, with the tags of the current images of the builds that are here (from the same
/// engine query).
pub fn assess_with_images(
    session: &Session,
    images: &BTreeMap<ImageName, Image>,
    plan: &Plan,
) -> Result<(Freshness, BTreeSet<String>)> {
    let Gathered {
        facts,
        references,
        present,
        ..
    } = gather(
        session,
        images,
        plan,
        true,
        Ask::Every,
        Keep::Manifests,
        Engine::Required,
    )?;
    let freshness = assessed(&session.out, images, plan, &facts, &references)?;
    Ok((freshness, present))
}

/// The freshness of `plan`'s builds, each registry that could not be asked said once.
pub(super) fn assessed(
    out: &Output,
    images: &BTreeMap<ImageName, Image>,
    plan: &Plan,
    facts: &Facts,
    references: &[Vec<String>],
) -> Result<Freshness> {
    let freshness = Freshness::assess(images, plan, facts, references).map_err(CatalogError::Io)?;
    warn_of_unknowns(out, &freshness.reasons);
    Ok(freshness)
}

/// Which upstream references their registries are asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    /// All: whether they moved is the question (`status`, `--skip-unchanged`).
    Every,
    /// All but those with a local-only copy (built, imported or tagged here): a build uses the
    /// copy, so its registry has nothing to say of it (a plain build).
    NotHere,
    /// None: the labels of a dry run name upstream images `unknown`.
    None,
}

/// Whether a run needs the engine to answer, or counts no local images where it is not
/// installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Engine {
    Required,
    IfInstalled,
}

/// What [`gather`] found.
pub(super) struct Gathered {
    pub facts: Facts,
    /// The upstream references of each build of the plan.
    pub references: Vec<Vec<String>>,
    /// The tags asked about that name an image here.
    pub present: BTreeSet<String>,
    /// The engine's images asked about.
    pub local: LocalImages,
}

/// What the engine and the registries know that an assessment of `plan` needs: the labels of
/// the current images (with `current`) and of the bases it does not build, and each upstream
/// reference of each build, for its platform, as `ask` says; which of those tags name an
/// image here; and the engine's images asked about.
pub(super) fn gather(
    session: &Session,
    images: &BTreeMap<ImageName, Image>,
    plan: &Plan,
    current: bool,
    ask: Ask,
    keep: Keep,
    engine: Engine,
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
        Ask::NotHere => local_then_missing(session, &asked, &wanted, keep, engine)?,
        Ask::Every | Ask::None => local_while_looking_up(session, &asked, &wanted, keep, engine)?,
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
    engine: Engine,
) -> Result<(LocalImages, Vec<Lookup>)> {
    let (offline, deadline) = (session.offline, session.registry_timeout);
    let (local, lookups) = std::thread::scope(|scope| {
        let known = known_manifests(session, keep);
        let docker = &session.docker;
        let sign_ins = &session.sign_ins;
        let lookups = scope.spawn(|| look_up(sign_ins, known, offline, deadline, wanted, docker));
        let local = local_images(session, asked, engine);
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
    engine: Engine,
) -> Result<(LocalImages, Vec<Lookup>)> {
    let local = local_images(session, asked, engine)?;
    let (here, missing): (Vec<&Wanted>, Vec<&Wanted>) =
        wanted.iter().partition(|(reference, _)| {
            local_copy(&local, reference).is_some_and(|copy| copy.is_local_only())
        });
    let missing: Vec<Wanted> = missing.into_iter().cloned().collect();
    let (offline, deadline) = (session.offline, session.registry_timeout);
    let known = known_manifests(session, keep);
    let mut found = look_up(
        &session.sign_ins,
        known,
        offline,
        deadline,
        &missing,
        &session.docker,
    )?
    .into_iter();
    let lookups = wanted
        .iter()
        .map(|key| match here.contains(&key) {
            true => Lookup::NotAsked,
            false => found.next().unwrap_or(Lookup::NotAsked),
        })
        .collect();
    Ok((local, lookups))
}

/// The engine's images among `asked`; none when the engine `IfInstalled` is not installed.
fn local_images(session: &Session, asked: &[String], engine: Engine) -> Result<LocalImages> {
    if asked.is_empty() {
        return Ok(LocalImages::default());
    }
    match session.docker.local_images(asked) {
        Err(crate::engine::Error::Process(crate::process::Error::Spawn {
            program,
            source,
            ..
        })) if engine == Engine::IfInstalled && source.kind() == std::io::ErrorKind::NotFound => {
            session.out.debug(format!(
                "`{program}` is not installed: no local image counts, only the registries' ones"
            ));
            Ok(LocalImages::default())
        }
        answer => Ok(answer?),
    }
}

/// The registries' answers about `wanted`, each request within `deadline`, a manifest of
/// `known` only checked, Docker Hub's images asked of the engine's mirrors first; none asked
/// when `offline`.
fn look_up(
    sign_ins: &SignIns,
    mut known: KnownManifests,
    offline: bool,
    deadline: Duration,
    wanted: &[Wanted],
    docker: &Docker,
) -> Result<Vec<Lookup>> {
    if offline || wanted.is_empty() {
        return Ok(vec![Lookup::NotAsked; wanted.len()]);
    }
    let hub_mirrors = match wanted.iter().any(|(r, _)| upstream::is_docker_hub(r)) {
        true => docker.hub_mirrors(),
        false => Vec::new(),
    };
    Ok(upstream::look_up(
        sign_ins,
        wanted,
        deadline,
        lookup_concurrency(),
        &mut known,
        &hub_mirrors,
    )?)
}

/// Whether a run keeps the upstream manifests it read for the next run.
#[derive(Debug, Clone, Copy)]
pub(super) enum Keep {
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
pub(super) fn local_copy(local: &LocalImages, reference: &str) -> Option<LocalCopy> {
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
fn warn_of_unknowns(out: &Output, reasons: &[Vec<Reason>]) {
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
        out.say(format_args!(
            "warning: cannot ask registry `{registry}` whether upstream images moved ({}): {why}; \
             what builds on them counts as unknown, not stale",
            quoted(&references)
        ));
    }
    if !uncompared.is_empty() {
        out.say(format_args!(
            "warning: cannot tell whether {} moved: no local copy to compare with, and the \
             registry was not asked (`--offline`) or has no such image; what builds on them \
             counts as unknown, not stale",
            quoted(&uncompared)
        ));
    }
}

fn quoted(references: &BTreeSet<&str>) -> String {
    let quoted: Vec<String> = references.iter().map(|r| format!("`{r}`")).collect();
    quoted.join(", ")
}
