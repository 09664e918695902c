//! The plan as a Buildkite pipeline (YAML): one step per build, which pulls the base that an
//! earlier step pushed, builds with the plan's timestamp and pushes; and a last step that
//! records every timestamp once all builds passed. Steps run on different agents, so nothing is
//! handed from one to another but images in the registry and the timestamp in the commands.

use indexmap::IndexMap;
use serde::Serialize;

use crate::catalog::{BaseSource, SecretSource};
use crate::plan::{Build, Plan};
use crate::reference::{Platform, Target, Timestamp, platform_version_tag};

use super::{Error, export_names, label};

/// Key of the last step; every build key has `-py` in it or is [`MAX_STEP_KEY_LEN`] long, so
/// none can clash with it.
pub const RECORD_STEP_KEY: &str = "record-timestamps";
/// Key of the step that puts the multi-platform indexes, before the last one.
pub const INDEX_STEP_KEY: &str = "assemble-indexes";
/// The longest step key Buildkite's pipeline schema accepts.
pub const MAX_STEP_KEY_LEN: usize = 100;
/// What every step needs to find the catalog and the registry.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    /// The catalog folder, relative to the repository root where Buildkite runs steps.
    pub images_dir: &'a str,
    /// Where the steps push and pull, as `HOST[:PORT][/PATH]`.
    pub registry: &'a str,
    /// The `agents` of one platform's step, as `(KEY, VALUE)` whose value may name `{os}`,
    /// `{arch}` and `{variant}` of the platform; [`DEFAULT_AGENTS`] when empty.
    pub agents: &'a [(String, String)],
    /// The current timestamp of each base of the catalog the plan builds on without building it
    /// (`--skip-unchanged` left it out): a step pulls it as pushed when it was last built.
    pub current_bases: &'a [(Target, Timestamp)],
    /// Each build reads and writes its layer cache in the registry (`--registry-cache`).
    pub registry_cache: bool,
}

/// A platform's step runs on agents whose `arch` tag is the platform's architecture.
pub const DEFAULT_AGENTS: [(&str, &str); 1] = [("arch", "{arch}")];

/// A Buildkite pipeline file, as far as this export writes one.
#[derive(Debug, Serialize)]
struct Pipeline {
    env: Env,
    steps: Vec<Step>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Env {
    dagster_images_dir: Literal,
    dagster_image_registry: Literal,
}

#[derive(Debug, Serialize)]
struct Step {
    label: Literal,
    key: Literal,
    /// Where one platform's build runs: `{arch: arm64}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    agents: Option<IndexMap<String, Literal>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<Literal>,
    commands: Vec<Literal>,
}

/// Text as Buildkite leaves it: it interpolates `$` on upload, and reads `$$` as one `$`.
#[derive(Debug)]
struct Literal(String);

impl Literal {
    fn new(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl Serialize for Literal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.replace('$', "$$"))
    }
}

/// The pipeline of `plan`, steps in plan order.
pub fn pipeline(plan: &Plan, settings: &Settings) -> Result<String, Error> {
    let keys: Vec<String> = export_names(plan)?
        .iter()
        .map(|name| step_key(name))
        .collect();
    let mut steps: Vec<Step> = plan
        .builds
        .iter()
        .zip(&keys)
        .map(|(build, key)| build_step(plan, build, key, &keys, settings))
        .collect();
    let mut waited_for = keys.clone();
    if let Some(index) = index_step(plan, &keys) {
        steps.push(index);
        waited_for.push(INDEX_STEP_KEY.to_owned());
    }
    if !plan.builds.is_empty() {
        steps.push(record_step(plan, &waited_for, settings));
    }
    let env = Env {
        dagster_images_dir: Literal::new(settings.images_dir),
        dagster_image_registry: Literal::new(settings.registry),
    };
    Ok(to_yaml(&Pipeline { env, steps }))
}

/// `pipeline` as YAML with every value quoted, so that every reader takes it for the same text
/// (a `3.10` stays a string, a `null` is not null).
fn to_yaml(pipeline: &Pipeline) -> String {
    let options = serde_saphyr::ser_options! { quote_all: true };
    serde_saphyr::to_string_with_options(pipeline, options)
        .expect("a pipeline of strings, lists and string-keyed maps always serialises")
}

/// The step key of the export name `name`: the name itself, or, when longer than Buildkite
/// allows, its start and a hash of all of it, `<start>-<12 hex digits>`, the same on every run.
/// Two names differ in their hashes, so their keys differ too.
pub fn step_key(name: &str) -> String {
    crate::reference::shortened(name, MAX_STEP_KEY_LEN)
}

fn build_step(plan: &Plan, build: &Build, key: &str, keys: &[String], settings: &Settings) -> Step {
    let target = &build.target;
    let (image, version, timestamp) = (&target.image, &target.python_version, &plan.timestamp);
    // One platform of several: built alone on its agent, pushed under its own tag.
    let platform = build.platform.as_ref();
    let with_platform = platform
        .map(|p| format!(" --platform {p}"))
        .unwrap_or_default();
    let mut commands = secret_guards(build);
    commands.extend(build.after.iter().map(|&base| {
        let base = &plan.builds[base].target.image;
        format!("dagster-image pull --name {base} -v {version} -t {timestamp}{with_platform}")
    }));
    if let Some(current) = current_base(build, settings) {
        let base = &build.base.as_ref().map_or("", |b| b.target.image.as_str());
        commands.push(format!(
            "dagster-image pull --name {base} -v {version} -t {current}{with_platform}"
        ));
    }
    let with_cache = if settings.registry_cache {
        " --registry-cache"
    } else {
        ""
    };
    // Where an upstream image moved in its registry, the agent's copy of it is stale.
    let pull = if build.request.pull { " --pull" } else { "" };
    commands.push(format!(
        "dagster-image build --name {image} -v {version} -t {timestamp}{with_platform}{pull}{with_cache}"
    ));
    let custom_tag = platform
        .map(|p| {
            format!(
                " --custom-tag {}",
                platform_version_tag(version, timestamp, Some(p))
            )
        })
        .unwrap_or_default();
    commands.push(format!(
        "dagster-image push --name {image} -v {version}{with_platform}{custom_tag}"
    ));
    let depends_on = build.after.iter().map(|&base| keys[base].as_str());
    let label = match platform {
        Some(platform) => format!("{} {platform}", label(target)),
        None => label(target),
    };
    let mut step = step(&label, key, depends_on, commands);
    step.agents = platform.map(|platform| agents_of(platform, settings.agents));
    step
}

/// A command per build secret of `build` read from an environment variable, which stops the
/// step at once, naming the variable, when the agent lacks it (the shell's `${NAME?message}`;
/// the value is never written here, and never printed). A secret file comes with the checkout,
/// or must be at its absolute path on the agent; the build checks both.
fn secret_guards(build: &Build) -> Vec<String> {
    let image = &build.target.image;
    build
        .request
        .secrets
        .iter()
        .filter_map(|secret| match &secret.source {
            SecretSource::Env(name) => Some(format!(
                ": \"${{{name}?is needed on the agent by the build secret {} of {image}}}\"",
                secret.id
            )),
            SecretSource::File { .. } => None,
        })
        .collect()
}

/// The current timestamp of the local base of `build` that the plan does not build.
fn current_base<'a>(build: &Build, settings: &Settings<'a>) -> Option<&'a str> {
    let base = build
        .base
        .as_ref()
        .filter(|b| b.source == BaseSource::Local)?;
    if !build.after.is_empty() {
        return None;
    }
    let (_, timestamp) = settings
        .current_bases
        .iter()
        .find(|(target, _)| *target == base.target)?;
    Some(timestamp)
}

/// The `agents` of a step building `platform` (`os/arch[/variant]`), from the templates given,
/// else [`DEFAULT_AGENTS`].
fn agents_of(platform: &Platform, templates: &[(String, String)]) -> IndexMap<String, Literal> {
    let (os, arch) = (platform.os(), platform.arch());
    let variant = platform.variant().unwrap_or_default();
    let fill = |value: &str| {
        let value = value.replace("{os}", os).replace("{arch}", arch);
        Literal::new(&value.replace("{variant}", variant))
    };
    if templates.is_empty() {
        return DEFAULT_AGENTS
            .iter()
            .map(|(key, value)| (key.to_string(), fill(value)))
            .collect();
    }
    templates
        .iter()
        .map(|(key, value)| (key.clone(), fill(value)))
        .collect()
}

/// Puts each multi-platform image-version's index under its common tag, once every platform's
/// image is pushed; None when the plan has no platform builds.
fn index_step(plan: &Plan, keys: &[String]) -> Option<Step> {
    let mut commands: Vec<String> = Vec::new();
    for build in &plan.builds {
        if build.platform.is_none() || !is_first_platform(plan, build) {
            continue;
        }
        let platforms: String = plan
            .builds
            .iter()
            .filter(|b| b.target == build.target)
            .filter_map(|b| b.platform.as_ref())
            .map(|p| format!(" --platform {p}"))
            .collect();
        let target = &build.target;
        commands.push(format!(
            "dagster-image index --name {} -v {} -t {}{platforms}",
            target.image, target.python_version, plan.timestamp
        ));
    }
    if commands.is_empty() {
        return None;
    }
    let depends_on = keys.iter().map(String::as_str);
    Some(step(
        "assemble indexes",
        INDEX_STEP_KEY,
        depends_on,
        commands,
    ))
}

/// Writes every timestamp into `last_updated.yaml` on one agent, from the plan's timestamp
/// rather than from what each build agent wrote, and keeps the files as build artifacts.
fn record_step(plan: &Plan, keys: &[String], settings: &Settings) -> Step {
    let mut commands: Vec<String> = plan
        .builds
        .iter()
        .filter(|build| build.platform.is_none() || is_first_platform(plan, build))
        .map(|build| {
            let target = &build.target;
            format!(
                "dagster-image record --name {} -v {} -t {}",
                target.image, target.python_version, plan.timestamp
            )
        })
        .collect();
    let files = format!("{}/*/last_updated.yaml", settings.images_dir);
    commands.push(format!(
        "buildkite-agent artifact upload {}",
        shell_quoted(&files)
    ));
    let depends_on = keys.iter().map(String::as_str);
    step("record timestamps", RECORD_STEP_KEY, depends_on, commands)
}

/// Whether `build` is the first build of its image-version in `plan`.
fn is_first_platform(plan: &Plan, build: &Build) -> bool {
    plan.builds.iter().find(|b| b.target == build.target) == Some(build)
}

fn step<'a>(
    label: &str,
    key: &str,
    depends_on: impl Iterator<Item = &'a str>,
    commands: Vec<String>,
) -> Step {
    Step {
        label: Literal::new(label),
        key: Literal::new(key),
        agents: None,
        depends_on: depends_on.map(Literal::new).collect(),
        commands: commands
            .iter()
            .map(|command| Literal::new(command))
            .collect(),
    }
}

/// One shell word, taken literally (image names, versions and timestamps need no quoting: they
/// are checked to be letters, digits, `.`, `_` and `-`; a folder may hold anything).
fn shell_quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;
    use crate::export::tests::plan_with_a_base;

    const SETTINGS: Settings = Settings {
        images_dir: "images",
        registry: "127.0.0.1:5000/ci",
        agents: &[],
        current_bases: &[],
        registry_cache: false,
    };

    #[test]
    fn with_the_registry_cache_every_build_command_takes_it() {
        let settings = Settings {
            registry_cache: true,
            ..SETTINGS
        };
        let text = pipeline(&plan_with_a_base(), &settings).unwrap();
        let builds: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("dagster-image build "))
            .collect();
        assert_eq!(builds.len(), 2, "{text}");
        assert!(
            builds
                .iter()
                .all(|line| line.ends_with(" --registry-cache'")),
            "{text}"
        );
    }

    #[test]
    fn each_build_pulls_its_base_builds_and_pushes_after_the_base_step() {
        let text = pipeline(&plan_with_a_base(), &SETTINGS).unwrap();
        let expected = r#"env:
  DAGSTER_IMAGES_DIR: 'images'
  DAGSTER_IMAGE_REGISTRY: '127.0.0.1:5000/ci'
steps:
- label: 'base py3.9'
  key: 'base-py3_9'
  commands:
  - 'dagster-image build --name base -v 3.9 -t T'
  - 'dagster-image push --name base -v 3.9'
- label: 'app py3.9'
  key: 'app-py3_9'
  depends_on:
  - 'base-py3_9'
  commands:
  - 'dagster-image pull --name base -v 3.9 -t T'
  - 'dagster-image build --name app -v 3.9 -t T'
  - 'dagster-image push --name app -v 3.9'
- label: 'record timestamps'
  key: 'record-timestamps'
  depends_on:
  - 'base-py3_9'
  - 'app-py3_9'
  commands:
  - 'dagster-image record --name base -v 3.9 -t T'
  - 'dagster-image record --name app -v 3.9 -t T'
  - "buildkite-agent artifact upload 'images/*/last_updated.yaml'"
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn a_key_over_buildkites_limit_is_shortened_the_same_way_every_time_and_stays_unique() {
        let fits = format!("{}-py3_10", "a".repeat(MAX_STEP_KEY_LEN - 7));
        assert_eq!(step_key(&fits), fits);
        let long = format!("{}-py3_10", "a".repeat(MAX_STEP_KEY_LEN));
        let key = step_key(&long);
        assert_eq!(key.len(), MAX_STEP_KEY_LEN);
        assert!(key.starts_with(&"a".repeat(87)), "{key}");
        assert_eq!(key, step_key(&long));
        let key_of_3_9 = step_key(&long.replace("3_10", "3_9"));
        assert_ne!(key, key_of_3_9);
        assert_eq!(key[..87], key_of_3_9[..87]);
    }

    #[test]
    fn the_steps_of_a_long_image_name_depend_on_each_other_by_their_short_keys() {
        let image = "b".repeat(95);
        let mut plan = plan_with_a_base();
        plan.builds[0].target.image = crate::reference::ImageName::of_catalog(image.clone());
        let text = pipeline(&plan, &SETTINGS).unwrap();
        let key = step_key(&format!("{image}-py3_9"));
        assert_eq!(key.len(), MAX_STEP_KEY_LEN);
        assert_eq!(text.matches(&format!("'{key}'")).count(), 3, "{text}");
        assert!(!text.contains(&format!("{image}-py3_9")), "{text}");
    }

    #[test]
    fn an_empty_plan_has_no_steps() {
        let plan = Plan {
            timestamp: crate::reference::Timestamp::recorded("T"),
            builds: vec![],
            unknown_registry_bases: Vec::new(),
        };
        assert!(pipeline(&plan, &SETTINGS).unwrap().ends_with("steps: []\n"));
    }

    /// Every value is quoted: a reader takes each for the text it was, whatever YAML would make
    /// of it unquoted.
    #[test]
    fn every_value_reads_back_as_the_same_text() {
        let awkward = [
            "3.10",
            "null",
            "~",
            "true",
            "no",
            "1e3",
            "0x1F",
            "-",
            "- a",
            ": b",
            "#c",
            "'q'",
            "\"dq\"",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "é ü",
            "emoji 🐳",
            "\u{2028}",
            "",
            " lead",
            "trail ",
            "{a: b}",
            "[x]",
            "&anchor",
            "*alias",
            "!tag",
            "%dir",
            "@at",
            "`tick`",
        ];
        for text in awkward {
            let settings = Settings {
                images_dir: text,
                ..SETTINGS
            };
            let document = pipeline(&plan_with_a_base(), &settings).unwrap();
            let read: ReadBack = serde_saphyr::from_str(&document).unwrap();
            assert_eq!(read.env["DAGSTER_IMAGES_DIR"], text, "{document}");
            assert_eq!(read.steps.len(), 3);
        }
    }

    /// What a reader of the pipeline gets.
    #[derive(serde::Deserialize)]
    struct ReadBack {
        env: IndexMap<String, String>,
        steps: Vec<IndexMap<String, serde::de::IgnoredAny>>,
    }

    #[test]
    fn a_folder_with_quotes_and_dollars_reaches_the_shell_unchanged() {
        #[derive(serde::Deserialize)]
        struct Document {
            env: IndexMap<String, String>,
            steps: Vec<Step>,
        }
        #[derive(serde::Deserialize)]
        struct Step {
            commands: Vec<String>,
        }
        let settings = Settings {
            images_dir: "it's $HOME",
            ..SETTINGS
        };
        let text = pipeline(&plan_with_a_base(), &settings).unwrap();
        let document: Document = serde_saphyr::from_str(&text).unwrap();
        // Buildkite turns `$$` into `$`, the shell then reads the quoted word.
        assert_eq!(document.env["DAGSTER_IMAGES_DIR"], "it's $$HOME");
        let upload = document.steps[2].commands.last().unwrap();
        assert_eq!(
            upload,
            r"buildkite-agent artifact upload 'it'\''s $$HOME/*/last_updated.yaml'"
        );
    }

    #[test]
    fn a_step_with_an_env_secret_first_checks_the_agent_has_the_variable() {
        let text = pipeline(&crate::export::tests::plan_with_secrets(), &SETTINGS).unwrap();
        let guard =
            r#"  - ': "$${PIP_TOKEN?is needed on the agent by the build secret pip of app}"'"#;
        let pull = "  - 'dagster-image pull --name base -v 3.9 -t T'";
        let at = text.find(guard).expect(&text);
        assert!(
            text[at..].starts_with(&format!("{guard}\n{pull}\n")),
            "{text}"
        );
        assert_eq!(text.matches("PIP_TOKEN").count(), 1, "{text}");
        assert!(
            !text.contains("npmrc"),
            "a file comes with the checkout: {text}"
        );
    }
}
