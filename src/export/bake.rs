//! The plan as a `docker buildx bake` file (JSON): one target per build, all of them in the
//! `default` group, and each base that the plan builds as a named context pointing at its
//! target, so that BuildKit orders and parallelises the graph itself, on any builder.
//!
//! Bake reads its JSON as HCL, so every string is a template: `${` and `%{` in a value are
//! doubled to stay text. Each target has an output (the registry, or docker's image store) since
//! a builder other than docker's own keeps an image without one in its cache only. Provenance
//! attestations, which buildx adds by default, are turned off: they record the build's time,
//! so every push of an unchanged image would make a new index digest.

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::catalog::BASE_IMAGE_ARG;
use crate::plan::{Build, Plan, REGISTRY_CACHE_EXPORT, default_platform};
use crate::reference::version_tag;
use crate::reference::{ImageName, Platform};

use super::{Error, export_names};

/// The group bake builds when no target is named.
pub const DEFAULT_GROUP: &str = "default";
/// The output that pushes every tag of a target to its registry.
pub const REGISTRY_OUTPUT: &str = "type=registry";
/// The output that loads the image into the docker engine that buildx talks to.
pub const DOCKER_OUTPUT: &str = "type=docker";
/// The attestation setting of every target: no provenance (see the module's comment).
pub const NO_PROVENANCE: &str = "type=provenance,disabled=true";

/// A bake file: its groups and targets, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BakeFile {
    pub group: IndexMap<String, Group>,
    pub target: IndexMap<String, BakeTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub targets: Vec<String>,
}

/// One build, as bake's target attributes, every string escaped as bake reads it
/// ([`hcl_text`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BakeTarget {
    pub context: String,
    /// Relative to `context` when inside it, as bake reads it.
    pub dockerfile: String,
    pub args: IndexMap<String, String>,
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// Written as their `--platform` spellings (letters, digits, `_`, `-` and `/`: nothing
    /// HCL reads as an interpolation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<Platform>,
    /// Image reference in `FROM` -> `target:<name>` of the target that builds it.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub contexts: IndexMap<String, String>,
    pub output: Vec<String>,
    pub attest: Vec<String>,
    /// Build secrets, `id=pip,env=PIP_TOKEN` or `id=pip,src=FILE`: bake reads each value where
    /// it runs, so none is in the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret: Vec<String>,
    /// The registry layer cache it imports (`--registry-cache`).
    #[serde(rename = "cache-from", default, skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    /// The registry layer cache it exports: every stage's layers, as ECR stores them, a
    /// refusal only a warning.
    #[serde(rename = "cache-to", default, skip_serializing_if = "Vec::is_empty")]
    pub cache_to: Vec<String>,
    /// Pull the upstream images rather than use the builder's copies: where one moved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pull: bool,
}

/// What the bake file adds to the plan.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// Platforms of every target; none leaves it to the builder, or to `declared`.
    pub platforms: &'a [Platform],
    /// The `image.yaml` platforms of each image, for targets when `platforms` is empty.
    pub declared: BTreeMap<ImageName, Vec<Platform>>,
    /// Tag for this registry (its address, `HOST[:PORT][/PATH]`), and push there, instead of
    /// the local tag.
    pub push_to: Option<&'a str>,
}

/// The bake file of `plan`, targets in plan order.
pub fn bake_file(plan: &Plan, options: &Options) -> Result<BakeFile, Error> {
    let names = export_names(plan)?;
    let target = plan
        .builds
        .iter()
        .zip(&names)
        .map(|(build, name)| (name.clone(), bake_target(plan, build, &names, options)))
        .collect();
    let group = IndexMap::from([(DEFAULT_GROUP.to_owned(), Group { targets: names })]);
    Ok(BakeFile { group, target })
}

/// The file as bake reads it: pretty JSON, ending with a newline.
pub fn to_json(file: &BakeFile) -> String {
    let json = serde_json::to_string_pretty(file)
        .expect("a bake file has string keys only, so it always serialises");
    json + "\n"
}

fn bake_target(plan: &Plan, build: &Build, names: &[String], options: &Options) -> BakeTarget {
    let request = &build.request;
    let dockerfile = request
        .dockerfile
        .strip_prefix(&request.context)
        .unwrap_or(&request.dockerfile);
    let (tags, output) = match options.push_to {
        Some(registry) => {
            // Only the registry's tags: `type=registry` pushes every tag, and the local
            // `dagster/<name>` tag would go to Docker Hub.
            let tag = version_tag(&build.target.python_version, &plan.timestamp);
            let repository = crate::reference::repository(registry, &build.target.image);
            let remote = format!("{repository}:{tag}");
            (vec![remote], REGISTRY_OUTPUT)
        }
        None => {
            let tags = std::iter::once(&request.tag).chain(&request.extra_tags);
            (tags.cloned().collect(), DOCKER_OUTPUT)
        }
    };
    BakeTarget {
        context: hcl_text(&path_text(&request.context)),
        dockerfile: hcl_text(&path_text(dockerfile)),
        args: hcl_map(&request.build_args),
        tags: tags.iter().map(|tag| hcl_text(tag)).collect(),
        labels: hcl_map(&request.labels),
        platforms: target_platforms(build, options),
        contexts: base_contexts(build, names),
        output: vec![output.to_owned()],
        attest: vec![NO_PROVENANCE.to_owned()],
        secret: request
            .secrets
            .iter()
            .map(|secret| hcl_text(&secret.spec()))
            .collect(),
        cache_from: request.cache.iter().map(|c| cache_from(c)).collect(),
        cache_to: request.cache.iter().map(|c| cache_to(c)).collect(),
        pull: request.pull,
    }
}

/// The `cache-from` of a target whose layer cache is the registry tag `reference`.
fn cache_from(reference: &str) -> String {
    hcl_text(&format!("type=registry,ref={reference}"))
}

/// The `cache-to` of a target whose layer cache is the registry tag `reference`.
fn cache_to(reference: &str) -> String {
    hcl_text(&format!(
        "type=registry,ref={reference},{REGISTRY_CACHE_EXPORT}"
    ))
}

/// The platforms of `build`'s target: the run's, else its image's declared ones, else the
/// default one, as `build` gives it.
fn target_platforms(build: &Build, options: &Options) -> Vec<Platform> {
    let declared = options.declared.get(build.target.image.as_str());
    match declared.filter(|_| options.platforms.is_empty()) {
        Some(declared) if !declared.is_empty() => declared.clone(),
        None if !options.platforms.is_empty() => options.platforms.to_vec(),
        _ => vec![default_platform()],
    }
}

/// `text` as bake's HCL reader leaves it: `${` and `%{` would start an interpolation or a
/// directive, `$${` and `%%{` are the text `${` and `%{`.
pub fn hcl_text(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// Names and values as bake reads them: both are templates.
fn hcl_map(pairs: &[(String, String)]) -> IndexMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (hcl_text(name), hcl_text(value)))
        .collect()
}

/// The base image reference of `build` -> the target building it, when the plan builds it.
/// A build has one base at most, named by its `BASE_IMAGE` argument.
fn base_contexts(build: &Build, names: &[String]) -> IndexMap<String, String> {
    let base_reference = build
        .request
        .build_args
        .iter()
        .rev()
        .find(|(name, _)| name == BASE_IMAGE_ARG)
        .map(|(_, reference)| familiar_reference(reference).to_owned());
    build
        .after
        .iter()
        .zip(base_reference)
        .map(|(&base, reference)| (hcl_text(&reference), format!("target:{}", names[base])))
        .collect()
}

/// The short form BuildKit looks a named context up by: without `docker.io/`, and without
/// `library/` for an official image.
fn familiar_reference(reference: &str) -> &str {
    let Some(rest) = ["docker.io/", "index.docker.io/"]
        .iter()
        .find_map(|prefix| reference.strip_prefix(prefix))
    else {
        return reference;
    };
    match rest.strip_prefix("library/") {
        Some(official) if !official.contains('/') => official,
        _ => rest,
    }
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::export::tests::{build, plan_with_a_base};

    fn platform(value: &str) -> Platform {
        Platform::parse(value).unwrap()
    }

    #[test]
    fn one_target_per_build_in_the_default_group_with_its_files_args_and_tag() {
        let file = bake_file(&plan_with_a_base(), &Options::default()).unwrap();
        assert_eq!(
            file.group[DEFAULT_GROUP].targets,
            ["base-py3_9", "app-py3_9"]
        );
        assert_eq!(
            file.target["base-py3_9"],
            BakeTarget {
                context: "/repo/images/base".into(),
                dockerfile: "Dockerfile".into(),
                args: IndexMap::from([("PYTHON_VERSION".into(), "3.9".into())]),
                tags: vec!["dagster/base:py3.9-T".into()],
                labels: IndexMap::new(),
                platforms: vec![default_platform()],
                contexts: IndexMap::new(),
                output: vec![DOCKER_OUTPUT.into()],
                attest: vec![NO_PROVENANCE.into()],
                secret: Vec::new(),
                cache_from: Vec::new(),
                cache_to: Vec::new(),
                pull: false,
            }
        );
    }

    #[test]
    fn a_build_with_a_layer_cache_imports_and_exports_it_as_ecr_stores_it() {
        let mut plan = plan_with_a_base();
        plan.builds[0].request.cache = Some("reg/base:buildcache-py3.9".into());
        let file = bake_file(&plan, &Options::default()).unwrap();
        let base = &file.target["base-py3_9"];
        assert_eq!(
            base.cache_from,
            ["type=registry,ref=reg/base:buildcache-py3.9"]
        );
        assert_eq!(
            base.cache_to,
            [
                "type=registry,ref=reg/base:buildcache-py3.9,mode=max,image-manifest=true,\
              oci-mediatypes=true,ignore-error=true"
            ]
        );
        let json = to_json(&file);
        assert!(json.contains("\"cache-from\": ["), "{json}");
        assert!(file.target["app-py3_9"].cache_to.is_empty());
    }

    #[test]
    fn a_base_built_by_the_plan_is_a_named_context_on_its_target() {
        let file = bake_file(&plan_with_a_base(), &Options::default()).unwrap();
        let app = &file.target["app-py3_9"];
        assert_eq!(app.args[BASE_IMAGE_ARG], "dagster/base:py3.9-T");
        assert_eq!(
            app.contexts,
            IndexMap::from([(
                "dagster/base:py3.9-T".to_owned(),
                "target:base-py3_9".to_owned()
            )])
        );
    }

    #[test]
    fn a_base_not_built_by_the_plan_stays_an_image_reference() {
        let mut app = build("app", "3.9", Some((0, "dagster/base:py3.9-OLD")));
        app.after.clear();
        let plan = Plan {
            timestamp: crate::reference::Timestamp::recorded("T"),
            builds: vec![app],
            unknown_registry_bases: Vec::new(),
        };
        let file = bake_file(&plan, &Options::default()).unwrap();
        assert!(file.target["app-py3_9"].contexts.is_empty());
    }

    #[test]
    fn pushing_tags_for_the_registry_only_and_outputs_to_it_on_every_platform() {
        let registry = "127.0.0.1:5000/team";
        let platforms = [Platform::linux_amd64(), platform("linux/arm64")];
        let options = Options {
            platforms: &platforms,
            push_to: Some(registry),
            ..Options::default()
        };
        let file = bake_file(&plan_with_a_base(), &options).unwrap();
        let app = &file.target["app-py3_9"];
        assert_eq!(app.tags, ["127.0.0.1:5000/team/app:py3.9-T"]);
        assert_eq!(app.output, [REGISTRY_OUTPUT]);
        assert_eq!(app.platforms, platforms);
        assert_eq!(app.contexts["dagster/base:py3.9-T"], "target:base-py3_9");
    }

    #[test]
    fn a_target_carries_its_images_declared_platforms_unless_the_run_gives_some() {
        let arm = [platform("linux/arm64")];
        let declared = BTreeMap::from([("app".into(), vec![Platform::linux_amd64()])]);
        let options = Options {
            declared,
            ..Options::default()
        };
        let file = bake_file(&plan_with_a_base(), &options).unwrap();
        assert_eq!(
            file.target["app-py3_9"].platforms,
            [Platform::linux_amd64()]
        );
        assert_eq!(file.target["base-py3_9"].platforms, [default_platform()]);
        let run = Options {
            platforms: &arm,
            ..options
        };
        let file = bake_file(&plan_with_a_base(), &run).unwrap();
        assert_eq!(file.target["app-py3_9"].platforms, arm);
    }

    #[test]
    fn a_build_that_pulls_is_a_target_that_pulls() {
        let mut plan = plan_with_a_base();
        plan.builds[1].request.pull = true;
        let file = bake_file(&plan, &Options::default()).unwrap();
        assert!(!file.target["base-py3_9"].pull);
        assert!(file.target["app-py3_9"].pull);
        assert!(to_json(&file).contains("\"pull\": true"));
    }

    #[test]
    fn json_omits_empty_attributes_and_reads_back() {
        let file = bake_file(&plan_with_a_base(), &Options::default()).unwrap();
        let json = to_json(&file);
        assert!(!json.contains("\"labels\""));
        assert!(!json.contains("\"pull\""));
        assert!(json.ends_with("}\n"));
        assert_eq!(serde_json::from_str::<BakeFile>(&json).unwrap(), file);
    }

    #[test]
    fn interpolations_and_directives_are_escaped_in_every_string_bake_reads() {
        assert_eq!(hcl_text("x${HOME}"), "x$${HOME}");
        assert_eq!(
            hcl_text("%{ if true }x%{ endif }"),
            "%%{ if true }x%%{ endif }"
        );
        assert_eq!(hcl_text("$${a} %%{b}"), "$$${a} %%%{b}");
        assert_eq!(hcl_text("$HOME 100% {x} $ %"), "$HOME 100% {x} $ %");
        let mut plan = plan_with_a_base();
        let request = &mut plan.builds[1].request;
        request.context = PathBuf::from("/repo/${x}/app");
        request.dockerfile = PathBuf::from("/repo/${x}/app/Dockerfile");
        request.build_args.push(("A%{".into(), "v${a}".into()));
        request.labels.push(("l${".into(), "%{ if }".into()));
        let file = bake_file(&plan, &Options::default()).unwrap();
        let app = &file.target["app-py3_9"];
        assert_eq!(app.context, "/repo/$${x}/app");
        assert_eq!(app.dockerfile, "Dockerfile");
        assert_eq!(app.args["A%%{"], "v$${a}");
        assert_eq!(app.labels["l$${"], "%%{ if }");
    }

    #[test]
    fn every_target_has_an_output_and_no_provenance_attestation() {
        let registry = "127.0.0.1:5000";
        let push = Options {
            push_to: Some(registry),
            ..Options::default()
        };
        for (options, output) in [(Options::default(), DOCKER_OUTPUT), (push, REGISTRY_OUTPUT)] {
            let file = bake_file(&plan_with_a_base(), &options).unwrap();
            for target in file.target.values() {
                assert_eq!(target.output, [output]);
                assert_eq!(target.attest, [NO_PROVENANCE]);
            }
        }
    }

    #[test]
    fn named_contexts_use_the_short_form_of_docker_hub_references() {
        assert_eq!(familiar_reference("dagster/base:t"), "dagster/base:t");
        assert_eq!(familiar_reference("docker.io/team/base:t"), "team/base:t");
        assert_eq!(familiar_reference("docker.io/library/base:t"), "base:t");
        assert_eq!(
            familiar_reference("index.docker.io/library/a/b:t"),
            "library/a/b:t"
        );
        assert_eq!(
            familiar_reference("127.0.0.1:5000/docker.io/x:t"),
            "127.0.0.1:5000/docker.io/x:t"
        );
    }

    #[test]
    fn a_target_lists_its_secrets_by_source_only() {
        let plan = crate::export::tests::plan_with_secrets();
        let file = bake_file(&plan, &Options::default()).unwrap();
        assert_eq!(
            file.target["app-py3_9"].secret,
            ["id=pip,env=PIP_TOKEN", "id=npm,src=/repo/.secrets/npmrc"]
        );
        assert!(file.target["base-py3_9"].secret.is_empty());
        assert!(
            !to_json(
                &bake_file(
                    &crate::export::tests::plan_with_a_base(),
                    &Options::default()
                )
                .unwrap()
            )
            .contains("secret")
        );
    }
}
