//! Which image-versions of a plan changed since their current local image (the one
//! `last_updated.yaml` names) was built, and why: a part of its input digest differs from what
//! that image's labels record (its context, its arguments, its base, an upstream image that
//! moved), there is no such image, or a base it builds on changed. A base of the catalog counts
//! by its input digest, whether it comes from the local store or the registry; an upstream image
//! by its pin ([`crate::upstream`]). An upstream image whose move cannot be told is `unknown`,
//! never a change. Pure but for reading contexts and Dockerfiles.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use indexmap::IndexMap;

use crate::catalog::{BASE_IMAGE_ARG, Image, file};
use crate::digest::{self, Inputs, Recorded};
use crate::dockerfile::Dockerfile;
use crate::plan::{Base, Build, Plan};
use crate::reference::{ImageName, Platform, PythonVersion, local_platform_tag};
use crate::upstream::{Observed, Outcome, Pin};

/// What the labels of a local image record of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub digest: String,
    /// The image's platform (`os/arch[/variant]`) as the engine says.
    pub platform: Platform,
    /// None for an image labelled before the parts were recorded.
    pub inputs: Option<Recorded>,
}

/// What a run knows besides the files: the labels of local images by tag, and each upstream
/// reference as seen for a platform.
#[derive(Debug, Default)]
pub struct Facts {
    pub labels: HashMap<String, Labels>,
    pub upstream: HashMap<(String, Option<Platform>), Observed>,
}

/// Why an image-version is stale, or cannot be told fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No current image, or one without a digest label.
    NotBuilt,
    /// Its digest differs, and its labels do not say which part (an older version built it).
    Inputs,
    Context,
    Args,
    /// A base of the catalog changed.
    Base,
    /// A build secret's id or source changed (never its value, which no label records).
    Secrets,
    Upstream {
        reference: String,
        old: Pin,
        new: Pin,
    },
    /// Whether `reference` moved cannot be told: the registry failed (which and why), or there
    /// is nothing to compare with.
    Unknown {
        reference: String,
        failed: Option<(String, String)>,
    },
}

impl Reason {
    /// Whether this makes the image stale (all but `Unknown`).
    pub fn is_change(&self) -> bool {
        !matches!(self, Reason::Unknown { .. })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotBuilt => f.write_str("not built"),
            Reason::Inputs => f.write_str("inputs"),
            Reason::Context => f.write_str("context"),
            Reason::Args => f.write_str("args"),
            Reason::Base => f.write_str("base"),
            Reason::Secrets => f.write_str("secrets"),
            Reason::Upstream {
                reference,
                old,
                new,
            } => write!(f, "upstream {reference} {} -> {}", old.short(), new.short()),
            Reason::Unknown { reference, .. } => write!(f, "unknown {reference}"),
        }
    }
}

/// The input digest of every build of a plan, whether it changed, why, and whether its build
/// must pull (an upstream image moved in its registry).
#[derive(Debug)]
pub struct Freshness {
    pub digests: Vec<String>,
    pub changed: Vec<bool>,
    pub reasons: Vec<Vec<Reason>>,
    pub pulls: Vec<bool>,
}

/// The upstream image references of each build of a plan: the `FROM`s of its Dockerfile,
/// expanded with its build arguments, less its base of the catalog.
pub fn upstream_references(plan: &Plan) -> Result<Vec<Vec<String>>, crate::catalog::Error> {
    let mut dockerfiles: HashMap<&str, Dockerfile> = HashMap::new();
    let mut references = Vec::with_capacity(plan.builds.len());
    for build in &plan.builds {
        let name = build.target.image.as_str();
        if !dockerfiles.contains_key(name) {
            let text = file::read_text_if_exists(&build.request.dockerfile)?;
            dockerfiles.insert(name, Dockerfile::parse(&text.unwrap_or_default()));
        }
        let args: IndexMap<String, String> = build.request.build_args.iter().cloned().collect();
        let base = args.get(BASE_IMAGE_ARG).filter(|_| build.base.is_some());
        let mut froms = dockerfiles[name].from_images(&args);
        froms.retain(|image| Some(image) != base);
        froms.sort();
        references.push(froms);
    }
    Ok(references)
}

/// How a build's upstream images stand in its digest: as `Observed::settled` (what is compared
/// with its labels), or as the build about to run will use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pins {
    Settled,
    Building { pull: bool },
}

impl Freshness {
    /// Digests, changes and their reasons of `plan`'s builds, whose upstream references are
    /// `references`.
    pub fn assess(
        images: &BTreeMap<ImageName, Image>,
        plan: &Plan,
        facts: &Facts,
        references: &[Vec<String>],
    ) -> std::io::Result<Self> {
        let settled = vec![Pins::Settled; plan.builds.len()];
        let parts = parts(images, plan, facts, references, &settled)?;
        let reasons = plan
            .builds
            .iter()
            .zip(&parts)
            .map(|(build, (digest, now))| reasons_of(images, build, now, facts, digest))
            .collect();
        let reasons = with_bases_and_platforms(plan, reasons);
        let changed = reasons
            .iter()
            .map(|why| why.iter().any(Reason::is_change))
            .collect();
        let pulls = reasons
            .iter()
            .map(|why| why.iter().any(pulls_from_registry))
            .collect();
        Ok(Self {
            digests: parts.into_iter().map(|(digest, _)| digest).collect(),
            changed,
            reasons,
            pulls,
        })
    }
}

/// Whether a build must pull for `reason`: an upstream image moved to another in its registry.
fn pulls_from_registry(reason: &Reason) -> bool {
    matches!(
        reason,
        Reason::Upstream {
            new: Pin::Registry(_),
            ..
        }
    )
}

/// The input digest and its parts of every build of `plan`, each build's upstream images pinned
/// as `pins` says, given the labels of the local images (a missing tag is a missing image or
/// label).
pub fn parts(
    images: &BTreeMap<ImageName, Image>,
    plan: &Plan,
    facts: &Facts,
    references: &[Vec<String>],
    pins: &[Pins],
) -> std::io::Result<Vec<(String, Recorded)>> {
    let mut contexts: HashMap<&str, String> = HashMap::new();
    let mut parts: Vec<(String, Recorded)> = Vec::with_capacity(plan.builds.len());
    for (i, build) in plan.builds.iter().enumerate() {
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
            .map(|base| base_digest(images, build, base, &parts, &facts.labels));
        let build_args: Vec<(String, String)> = build
            .request
            .build_args
            .iter()
            .filter(|(name, _)| base.is_none() || name != BASE_IMAGE_ARG)
            .cloned()
            .collect();
        let recorded = recorded_of(images, build, &facts.labels);
        let upstream = upstream_pins(build, &references[i], facts, recorded, pins[i]);
        let secrets: Vec<String> = build
            .request
            .secrets
            .iter()
            .map(|s| s.digest_text())
            .collect();
        let inputs = Inputs {
            context: &context,
            build_args: &build_args,
            platform: build.request.digest_platform(),
            base: base.as_deref(),
            upstream: &upstream,
            secrets: &secrets,
        };
        parts.push((digest::input_digest(&inputs), Recorded::of(&inputs)));
    }
    Ok(parts)
}

/// Each upstream reference of `build` with the text of its pin (`unknown` without one).
fn upstream_pins(
    build: &Build,
    references: &[String],
    facts: &Facts,
    recorded: Option<&Recorded>,
    pins: Pins,
) -> Vec<(String, String)> {
    let platform = build.request.platform.clone();
    references
        .iter()
        .map(|reference| {
            let observed = facts.upstream.get(&(reference.clone(), platform.clone()));
            let shown = digest::shown_reference(reference, &build.request.build_args);
            let old = recorded
                .and_then(|r| r.upstream.get(&shown))
                .map(|text| Pin::from_text(text));
            let pin = match (observed, pins) {
                (None, _) => old,
                (Some(observed), Pins::Settled) => observed.settled(old.as_ref()),
                (Some(observed), Pins::Building { pull }) => observed.pin(pull),
            };
            let text = pin.map_or_else(|| "unknown".to_owned(), |pin| pin.to_text());
            (reference.clone(), text)
        })
        .collect()
}

/// The parts the current image of `build` records, when it has them.
fn recorded_of<'a>(
    images: &BTreeMap<ImageName, Image>,
    build: &Build,
    labels: &'a HashMap<String, Labels>,
) -> Option<&'a Recorded> {
    let (name, version) = (&build.target.image, &build.target.python_version);
    let current = current_tag_of(images, name, version, build.platform.as_ref())?;
    labels.get(&current)?.inputs.as_ref()
}

/// Why `build`, whose digest and parts are now `digest` and `now`, differs from its current
/// image.
fn reasons_of(
    images: &BTreeMap<ImageName, Image>,
    build: &Build,
    now: &Recorded,
    facts: &Facts,
    digest: &str,
) -> Vec<Reason> {
    let (name, version) = (&build.target.image, &build.target.python_version);
    let current = current_tag_of(images, name, version, build.platform.as_ref());
    let Some(labels) = current.and_then(|tag| facts.labels.get(&tag)) else {
        return vec![Reason::NotBuilt];
    };
    // An image of another platform than its build's (built for the engine's own platform on an
    // arm64 machine before the default linux/amd64) has the digest the build would have.
    let other_platform = build
        .request
        .platform
        .as_ref()
        .is_some_and(|wanted| !wanted.matches(&labels.platform));
    let Some(old) = &labels.inputs else {
        return match labels.digest == digest && !other_platform {
            true => Vec::new(),
            false => vec![Reason::Inputs],
        };
    };
    let mut reasons = Vec::new();
    if old.context != now.context {
        reasons.push(Reason::Context);
    }
    if old.args != now.args || other_platform {
        reasons.push(Reason::Args);
    }
    if old.base != now.base {
        reasons.push(Reason::Base);
    }
    if old.secrets != now.secrets {
        reasons.push(Reason::Secrets);
    }
    let platform = build.request.platform.clone();
    for reference in now.upstream.keys() {
        let old_pin = old.upstream.get(reference).map(|text| Pin::from_text(text));
        let observed = facts.upstream.get(&(reference.clone(), platform.clone()));
        let (Some(old_pin), Some(observed)) = (old_pin, observed) else {
            continue;
        };
        reasons.extend(upstream_reason(reference, old_pin, observed));
    }
    if reasons.is_empty() && labels.digest != digest {
        reasons.push(Reason::Inputs);
    }
    reasons
}

fn upstream_reason(reference: &str, old: Pin, observed: &Observed) -> Option<Reason> {
    match observed.compare(&old) {
        Outcome::Same => None,
        Outcome::Moved { new } => Some(Reason::Upstream {
            reference: reference.to_owned(),
            old,
            new,
        }),
        Outcome::Unknown { failed } => Some(Reason::Unknown {
            reference: reference.to_owned(),
            failed,
        }),
    }
}

/// The tag of the current local image of `image` for `version` and `platform` (of several), if
/// it was ever built.
pub fn current_tag(
    image: &Image,
    version: &PythonVersion,
    platform: Option<&Platform>,
) -> Option<String> {
    let timestamp = image.last_updated.get(version)?;
    Some(local_platform_tag(
        &image.name,
        version,
        timestamp,
        platform,
    ))
}

/// The local images whose digest labels `parts` needs: the current image of each base of the
/// catalog that the plan does not build.
pub fn base_tags(images: &BTreeMap<ImageName, Image>, plan: &Plan) -> BTreeSet<String> {
    plan.builds
        .iter()
        .filter(|build| build.after.is_empty())
        .filter_map(|build| build.base.as_ref())
        .filter_map(|base| {
            let (name, version) = (&base.target.image, &base.target.python_version);
            current_tag_of(images, name, version, base.platform.as_ref())
        })
        .collect()
}

/// The local images whose labels an assessment needs besides: the current image of each build.
pub fn current_tags(images: &BTreeMap<ImageName, Image>, plan: &Plan) -> BTreeSet<String> {
    plan.builds
        .iter()
        .filter_map(|build| {
            let (name, version) = (&build.target.image, &build.target.python_version);
            current_tag_of(images, name, version, build.platform.as_ref())
        })
        .collect()
}

/// `reasons` with `base` for what builds on a changed build, and the reasons of a changed
/// platform of an image-version given to its other platforms (and so to what builds on them):
/// `last_updated.yaml` gives one timestamp to all the platforms of a version.
fn with_bases_and_platforms(plan: &Plan, mut reasons: Vec<Vec<Reason>>) -> Vec<Vec<Reason>> {
    let mut of_target: HashMap<&crate::reference::Target, Vec<Reason>> = HashMap::new();
    for (build, why) in plan.builds.iter().zip(&reasons) {
        if why.iter().any(Reason::is_change) {
            of_target
                .entry(&build.target)
                .or_default()
                .extend(why.clone());
        }
    }
    for i in 0..plan.builds.len() {
        let build = &plan.builds[i];
        let changed = |why: &Vec<Reason>| why.iter().any(Reason::is_change);
        let base_changed = build.after.iter().any(|&d| changed(&reasons[d]));
        let known = |r: &Reason| matches!(r, Reason::Base | Reason::NotBuilt);
        if base_changed && !reasons[i].iter().any(known) {
            reasons[i].push(Reason::Base);
        }
        if !changed(&reasons[i])
            && let Some(sibling) = of_target.get(&build.target)
        {
            reasons[i].extend(sibling.iter().filter(|r| r.is_change()).cloned());
        }
    }
    reasons
}

/// The digest a base stands in for in its dependent's input digest: the input digest of the
/// build that makes it in this plan, else the label of its current local image, else its name
/// and timestamp (an image built elsewhere).
fn base_digest(
    images: &BTreeMap<ImageName, Image>,
    build: &Build,
    base: &Base,
    parts: &[(String, Recorded)],
    labels: &HashMap<String, Labels>,
) -> String {
    if let Some((planned, _)) = build.after.first().and_then(|&d| parts.get(d)) {
        return planned.clone();
    }
    let (name, version) = (&base.target.image, &base.target.python_version);
    let current = current_tag_of(images, name, version, base.platform.as_ref());
    match current.as_ref().and_then(|tag| labels.get(tag)) {
        Some(label) => label.digest.clone(),
        None => format!("unknown base {}", current.as_deref().unwrap_or(name)),
    }
}

/// `current_tag` of the image `name` of `images`, if it was read and built.
fn current_tag_of(
    images: &BTreeMap<ImageName, Image>,
    name: &ImageName,
    version: &PythonVersion,
    platform: Option<&Platform>,
) -> Option<String> {
    current_tag(images.get(name)?, version, platform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_status_shows_them_and_only_unknown_is_no_change() {
        let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let moved = Reason::Upstream {
            reference: "python:3.10-slim".into(),
            old: Pin::Registry(digest('a')),
            new: Pin::Local(digest('b')),
        };
        assert_eq!(
            moved.to_string(),
            "upstream python:3.10-slim sha256:aaaaaaaaaaaa -> local sha256:bbbbbbbbbbbb"
        );
        let unknown = Reason::Unknown {
            reference: "python:3.10-slim".into(),
            failed: None,
        };
        assert_eq!(unknown.to_string(), "unknown python:3.10-slim");
        assert!(!unknown.is_change());
        for (reason, shown) in [
            (Reason::NotBuilt, "not built"),
            (Reason::Inputs, "inputs"),
            (Reason::Context, "context"),
            (Reason::Args, "args"),
            (Reason::Base, "base"),
            (Reason::Secrets, "secrets"),
        ] {
            assert_eq!(reason.to_string(), shown);
            assert!(reason.is_change());
        }
        assert!(pulls_from_registry(&Reason::Upstream {
            reference: "r".into(),
            old: Pin::Local(digest('a')),
            new: Pin::Registry(digest('b')),
        }));
        assert!(!pulls_from_registry(&moved));
    }
}
