//! `bake` and `pipeline` on the example catalog: the same builds, order, tags, arguments and
//! base edges as `build-all --dry-run`, the same bytes on every run; and `record`. None of them
//! touches the engine (the pipeline run on agents is in `pipeline_run.rs`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::Env;
use common::pipeline::pipeline;
use serde::Deserialize;

/// The first line of every example `last_updated.yaml`.
const LAST_UPDATED_COMMENT: &str =
    "# Written by dagster-image after each successful build: Python version -> timestamp.\n";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BakeFile {
    group: BTreeMap<String, BakeGroup>,
    target: BTreeMap<String, BakeTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BakeGroup {
    targets: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BakeTarget {
    context: String,
    dockerfile: String,
    args: BTreeMap<String, String>,
    tags: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    contexts: BTreeMap<String, String>,
    output: Vec<String>,
    attest: Vec<String>,
    #[serde(default)]
    pull: bool,
}

/// One build of `build-all --dry-run`: its header and its `docker build` command, read back.
#[derive(Debug, Default)]
struct DryRunBuild {
    image: String,
    version: String,
    /// `image pyV` of the build it waits for.
    after: Option<String>,
    tag: String,
    file: String,
    args: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    context: String,
}

/// The builds `build-all ARGS --dry-run` prints, in order.
fn dry_run_builds(env: &Env, args: &[&str]) -> Vec<DryRunBuild> {
    let run = env
        .run(&[&["build-all"], args, &["--dry-run"]].concat())
        .success();
    let mut builds = Vec::new();
    for line in run.stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 4 && words[0] == "#" && words[1].contains('/') {
            let after = line
                .split_once(" (after ")
                .map(|(_, b)| b.trim_end_matches(')'));
            builds.push(DryRunBuild {
                image: words[2].to_owned(),
                version: words[3].trim_start_matches("py").to_owned(),
                after: after.map(str::to_owned),
                ..DryRunBuild::default()
            });
        } else if let Some(command) = line
            .strip_prefix(common::docker())
            .and_then(|rest| rest.strip_prefix(" build "))
        {
            let build = builds.last_mut().expect("a header before each command");
            read_docker_build(command, build);
        }
    }
    builds
}

fn read_docker_build(command: &str, build: &mut DryRunBuild) {
    let words: Vec<&str> = command.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            "--force-rm" => i += 1,
            "--tag" => (build.tag, i) = (words[i + 1].to_owned(), i + 2),
            "--file" => (build.file, i) = (words[i + 1].to_owned(), i + 2),
            "--build-arg" => {
                let (name, value) = words[i + 1].split_once('=').unwrap();
                build.args.insert(name.to_owned(), value.to_owned());
                i += 2;
            }
            "--label" => {
                // A value with quotes is single-quoted as a shell reads it.
                let label = words[i + 1].trim_matches('\'');
                let (name, value) = label.split_once('=').unwrap();
                build.labels.insert(name.to_owned(), value.to_owned());
                i += 2;
            }
            "--platform" => i += 2,
            context => (build.context, i) = (context.to_owned(), i + 1),
        }
    }
}

/// `bake ARGS`, parsed.
/// The bake file of `args`, exported on a machine without an engine (`$DOCKER` not installed):
/// like a dry run, it counts no local copy of an upstream image, whichever engine runs the tests.
fn bake(env: &Env, args: &[&str]) -> BakeFile {
    let no_engine = env.root().join("no-engine-installed");
    let no_engine = no_engine.display().to_string();
    let run = env
        .run_with(&[&["bake"], args].concat(), &[("DOCKER", &no_engine)])
        .success();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", run.stdout))
}

/// The export name of a dry-run build, `image pyV`: `image-pyV` with `.` as `_`.
fn export_name(image_and_version: &str) -> String {
    image_and_version.replace(" py", "-py").replace('.', "_")
}

fn name_of(build: &DryRunBuild) -> String {
    export_name(&format!("{} py{}", build.image, build.version))
}

#[test]
fn bake_has_the_targets_tags_args_labels_and_files_of_build_all_in_its_order() {
    let env = Env::without_engine();
    let ts = &env.timestamp;
    let args = ["-t", ts, "--dagster-version", "1.2.3"];
    let planned = dry_run_builds(&env, &args);
    assert_eq!(planned.len(), 8);
    let file = bake(&env, &args);
    let names: Vec<String> = planned.iter().map(name_of).collect();
    assert_eq!(file.group.keys().collect::<Vec<_>>(), ["default"]);
    assert_eq!(file.group["default"].targets, names);
    assert_eq!(file.target.len(), planned.len());
    for (build, name) in planned.iter().zip(&names) {
        let target = &file.target[name];
        assert_eq!(target.tags, std::slice::from_ref(&build.tag), "{name}");
        assert_eq!(target.args, build.args, "{name}");
        assert_eq!(target.args["DAGSTER_VERSION"], "1.2.3");
        // The input digest and its parts, as build-all labels the image.
        assert_eq!(target.labels, build.labels, "{name}");
        assert!(
            target.labels.contains_key("io.dagster-image.input-digest"),
            "{name}"
        );
        assert!(!target.pull, "{name}");
        assert_eq!(target.context, build.context, "{name}");
        assert_eq!(
            Path::new(&target.context).join(&target.dockerfile),
            Path::new(&build.file),
            "{name}"
        );
        // The platform build-all gives it by default.
        assert_eq!(target.platforms, ["linux/amd64"], "{name}");
        assert_eq!(target.output, ["type=docker"], "{name}");
        assert_eq!(target.attest, ["type=provenance,disabled=true"], "{name}");
    }
}

#[test]
fn bake_points_each_planned_base_at_its_target_as_build_all_orders_them() {
    let env = Env::without_engine();
    let planned = dry_run_builds(&env, &["-t", &env.timestamp]);
    let file = bake(&env, &["-t", &env.timestamp]);
    let mut edges = 0;
    for build in &planned {
        let target = &file.target[&name_of(build)];
        let expected: BTreeMap<String, String> = match &build.after {
            Some(base) => {
                edges += 1;
                let reference = build.args["BASE_IMAGE"].clone();
                BTreeMap::from([(reference, format!("target:{}", export_name(base)))])
            }
            None => BTreeMap::new(),
        };
        assert_eq!(target.contexts, expected, "{}", name_of(build));
    }
    assert_eq!(edges, 6, "every image but python-base builds on it");
}

#[test]
fn bake_with_push_tags_for_the_registry_only_and_outputs_there_on_every_platform() {
    let env = Env::without_engine();
    let ts = &env.timestamp;
    let registry = env.registry();
    let file = bake(
        &env,
        &[
            "--registry",
            &registry,
            "-t",
            ts,
            "--push",
            "--platform",
            "linux/amd64",
            "--platform",
            "linux/arm64",
        ],
    );
    for (name, target) in &file.target {
        let (image, version) = name.rsplit_once("-py").unwrap();
        let version = version.replace('_', ".");
        assert_eq!(
            target.tags,
            [format!("{registry}/{image}:py{version}-{ts}")]
        );
        assert_eq!(target.output, ["type=registry"]);
        assert_eq!(target.platforms, ["linux/amd64", "linux/arm64"]);
    }
    let app = &file.target["dagster-app-py3_9"];
    let base = format!("dagster/python-base:py3.9-{ts}");
    assert_eq!(app.contexts[&base], "target:python-base-py3_9");
}

#[test]
fn bake_of_one_image_builds_on_the_recorded_base_unless_asked_to_build_it_too() {
    let env = Env::without_engine();
    let ts = &env.timestamp;
    let old = env.timestamp_labelled("old");
    for version in ["3.9", "3.10"] {
        env.run(&["record", "--name", "python-base", "-v", version, "-t", &old])
            .success();
    }
    let alone = bake(&env, &["--name", "dagster-app", "-t", ts]);
    assert_eq!(
        alone.group["default"].targets,
        ["dagster-app-py3_9", "dagster-app-py3_10"]
    );
    let app = &alone.target["dagster-app-py3_9"];
    assert_eq!(
        app.args["BASE_IMAGE"],
        format!("dagster/python-base:py3.9-{old}")
    );
    assert!(app.contexts.is_empty());

    let with_deps = bake(&env, &["--name", "dagster-app", "--with-deps", "-t", ts]);
    assert_eq!(with_deps.target.len(), 4);
    let app = &with_deps.target["dagster-app-py3_9"];
    assert_eq!(
        app.contexts[&format!("dagster/python-base:py3.9-{ts}")],
        "target:python-base-py3_9"
    );
}

#[test]
fn bake_and_pipeline_print_the_same_bytes_for_the_same_catalog_and_timestamp() {
    let env = Env::without_engine();
    let registry = env.registry();
    for args in [
        vec![
            "bake",
            "-t",
            "2024-01-01T000000",
            "--platform",
            "linux/amd64",
        ],
        vec![
            "--registry",
            &registry,
            "pipeline",
            "-t",
            "2024-01-01T000000",
        ],
    ] {
        let first = env.run(&args).success().stdout;
        let second = env.run(&args).success().stdout;
        assert!(!first.is_empty());
        assert_eq!(first, second, "{args:?}");
    }
}

#[test]
fn bake_without_a_timestamp_tags_every_target_with_one_new_timestamp() {
    let env = Env::without_engine();
    let file = bake(&env, &[]);
    let timestamps: BTreeSet<&str> = file
        .target
        .values()
        .map(|target| {
            let (_, version_tag) = target.tags[0].split_once(":py").unwrap();
            version_tag.split_once('-').unwrap().1
        })
        .collect();
    assert_eq!(timestamps.len(), 1, "{timestamps:?}");
    let timestamp = timestamps.first().unwrap();
    assert!(
        jiff::civil::DateTime::strptime("%Y-%m-%dT%H%M%S", timestamp).is_ok(),
        "{timestamp}"
    );
}

#[test]
fn bake_with_push_and_pipeline_need_a_registry() {
    let env = Env::without_engine();
    for args in [&["bake", "--push"][..], &["pipeline"]] {
        let mut command = env.command(args);
        command.env_remove("AWS_ACCOUNT_ID");
        let run = common::Run::from(command.output().unwrap()).code(2);
        assert_eq!(
            run.stderr,
            "error: no registry to push to or pull `source: aws` bases from\n\
             hint: pass `--registry HOST[:PORT][/PATH]`, set `DAGSTER_IMAGE_REGISTRY`, or set \
             `AWS_ACCOUNT_ID` to use AWS ECR\n",
            "{args:?}"
        );
    }
}

/// The note of `bake` on where `docker buildx bake` may read the contexts from.
fn where_to_run_bake(env: &Env) -> String {
    let dir = env.images();
    let dir = dir.display();
    format!(
        "note: bake reads no build context outside the folder it runs in: run `docker buildx \
         bake` in `{dir}` or a folder above it, or pass `--allow=fs.read={dir}`\n"
    )
}

#[test]
fn bake_tells_where_to_run_it_and_that_several_platforms_to_load_need_one_or_push() {
    let env = Env::without_engine();
    let one = env.run(&["bake", "--platform", "linux/amd64"]).success();
    assert_eq!(one.stderr, where_to_run_bake(&env));
    let registry = env.registry();
    let two = ["--platform", "linux/amd64", "--platform", "linux/arm64"];
    let pushed = env
        .run(&[&["--registry", &registry, "bake", "--push"][..], &two].concat())
        .success();
    assert_eq!(pushed.stderr, where_to_run_bake(&env));
    let loaded = env.run(&[&["bake"][..], &two].concat()).success();
    assert_eq!(
        loaded.stderr,
        format!(
            "{}note: without `--push` the images are loaded into docker (output `type=docker`), \
             whose classic image store holds one platform per image (the containerd image store \
             holds several): pass `--push`, or one `--platform`\n",
            where_to_run_bake(&env)
        )
    );
}

#[test]
fn bake_warns_that_image_yaml_copies_must_be_in_place_before_it_runs() {
    let env = Env::without_engine();
    fs_err::create_dir_all(env.root().join("shared")).unwrap();
    fs_err::write(env.root().join("shared/notes.txt"), "notes\n").unwrap();
    env.write("python-base/image.yaml", "copy:\n  - shared/notes.txt\n");
    let run = env.run(&["bake", "-t", &env.timestamp]).success();
    let from = fs_err::canonicalize(env.root().join("shared/notes.txt")).unwrap();
    let to = env.path("python-base/build_cache/notes.txt");
    assert_eq!(
        run.stderr,
        format!(
            "warning: `python-base` builds with `{}` copied to `{}` (its image.yaml); bake does \
             not copy it, so put it there before running `docker buildx bake`\n{}",
            from.display(),
            to.display(),
            where_to_run_bake(&env)
        )
    );
    assert!(!to.exists(), "bake copies nothing");
}

#[test]
fn the_pipeline_has_a_step_per_build_after_its_base_step_and_a_last_step_after_all() {
    let env = Env::without_engine();
    let ts = &env.timestamp;
    let planned = dry_run_builds(&env, &["-t", ts]);
    let pipeline = pipeline(&env, &["-t", ts]);
    assert_eq!(
        pipeline.env,
        BTreeMap::from([
            ("DAGSTER_IMAGES_DIR".to_owned(), "images".to_owned()),
            ("DAGSTER_IMAGE_REGISTRY".to_owned(), env.registry()),
        ])
    );
    let (record, steps) = pipeline.steps.split_last().unwrap();
    assert_eq!(steps.len(), planned.len());
    for (step, build) in steps.iter().zip(&planned) {
        let (image, version) = (&build.image, &build.version);
        assert_eq!(step.key, name_of(build));
        assert_eq!(step.label, format!("{image} py{version}"));
        let mut commands = Vec::new();
        let depends_on: Vec<String> = build.after.iter().map(|b| export_name(b)).collect();
        assert_eq!(step.depends_on, depends_on, "{}", step.key);
        if build.after.is_some() {
            commands.push(format!(
                "dagster-image pull --name python-base -v {version} -t {ts}"
            ));
        }
        commands.push(format!(
            "dagster-image build --name {image} -v {version} -t {ts}"
        ));
        commands.push(format!("dagster-image push --name {image} -v {version}"));
        assert_eq!(step.commands, commands, "{}", step.key);
    }
    assert_eq!(record.key, "record-timestamps");
    let keys: Vec<&String> = steps.iter().map(|step| &step.key).collect();
    assert_eq!(record.depends_on.iter().collect::<Vec<_>>(), keys);
    let mut commands: Vec<String> = planned
        .iter()
        .map(|b| {
            format!(
                "dagster-image record --name {} -v {} -t {ts}",
                b.image, b.version
            )
        })
        .collect();
    commands.push("buildkite-agent artifact upload 'images/*/last_updated.yaml'".to_owned());
    assert_eq!(record.commands, commands);
}

#[test]
fn record_writes_the_timestamp_in_last_updated_without_building() {
    let env = Env::without_engine();
    let ts = &env.timestamp;
    env.run_without_engine(&["record", "--name", "python-base", "-v", "3.10", "-t", ts])
        .success();
    env.run_without_engine(&["record", "--name", "python-base", "-v", "3.9", "-t", ts])
        .success();
    assert_eq!(
        env.read("python-base/last_updated.yaml"),
        format!("{LAST_UPDATED_COMMENT}'3.9': {ts}\n'3.10': {ts}\n")
    );
}

#[test]
fn record_refuses_an_unknown_version_or_a_timestamp_that_cannot_be_in_a_tag() {
    let env = Env::without_engine();
    let before = env.snapshot_files();
    env.run(&["record", "--name", "python-base", "-v", "2.7", "-t", "x"])
        .code(2)
        .stderr_has("2.7");
    env.run(&["record", "--name", "python-base", "-v", "3.9", "-t", "a:b"])
        .code(2)
        .stderr_has("error: `a:b` is not a valid timestamp: `:` cannot be in a Docker tag");
    assert_eq!(env.snapshot_files(), before);
}

/// `pipeline --platform` builds each platform on its own step, on the agents `--agent` names
/// (`arch={arch}` unless given); a tag that is not KEY=VALUE is refused before anything.
#[test]
fn pipeline_platforms_get_a_step_each_on_the_agents_given() {
    let env = Env::without_engine();
    let ts = &env.timestamp;
    let platforms = ["--platform", "linux/amd64", "--platform", "linux/arm64"];
    let by_key = |pipeline: &common::pipeline::Pipeline, key: &str| {
        let step = pipeline.steps.iter().find(|step| step.key == key);
        step.unwrap_or_else(|| panic!("no step {key}"))
            .agents
            .clone()
    };
    let default = pipeline(&env, &[&["-t", ts][..], &platforms].concat());
    assert_eq!(
        by_key(&default, "python-base-py3_9-linux-arm64"),
        BTreeMap::from([("arch".to_owned(), "arm64".to_owned())])
    );
    let agents = ["--agent", "queue=builders-{arch}", "--agent", "os={os}"];
    let given = pipeline(&env, &[&["-t", ts][..], &platforms, &agents].concat());
    assert_eq!(
        by_key(&given, "dagster-app-py3_10-linux-amd64"),
        BTreeMap::from([
            ("os".to_owned(), "linux".to_owned()),
            ("queue".to_owned(), "builders-amd64".to_owned()),
        ])
    );
    let run =
        env.run_without_engine(&["--registry", &env.registry(), "pipeline", "--agent", "arch"]);
    run.code(2).stderr_has("`arch` is not a valid agent tag");
}

#[test]
fn pipeline_steps_stop_when_the_agent_lacks_a_secret_variable_and_never_hold_its_value() {
    let (variable, token) = ("DAGSTER_IMAGE_TEST_PIP_TOKEN", "pipeline-token-93be0f");
    let env = Env::without_engine();
    env.write(
        "dagster-app/image.yaml",
        &format!("secrets:\n  - {{id: pip, env: {variable}}}\n  - {{id: netrc, src: .netrc}}\n"),
    );
    let registry = env.registry();
    let args = ["--registry", &registry, "pipeline", "-t", "T"];
    let run = env.run_with(&args, &[(variable, token)]).success();
    assert!(!run.stdout.contains(token), "{}", run.stdout);
    let parsed: common::pipeline::Pipeline = serde_saphyr::from_str(&run.stdout).unwrap();
    let guards: Vec<&str> = parsed
        .steps
        .iter()
        .flat_map(|step| &step.commands)
        .filter(|command| command.contains(variable))
        .map(String::as_str)
        .collect();
    let app_steps = parsed
        .steps
        .iter()
        .filter(|s| s.key.starts_with("dagster-app-"));
    assert_eq!(guards.len(), app_steps.count(), "{}", run.stdout);
    for step in parsed
        .steps
        .iter()
        .filter(|s| s.key.starts_with("dagster-app-"))
    {
        assert!(step.commands[0].contains(variable), "first: {step:?}");
    }
    // As the agent's shell runs it, once Buildkite has read `$$` as `$`.
    let guard = guards[0].replace("$$", "$");
    let shell = |value: Option<&str>| {
        let mut command = std::process::Command::new("sh");
        command.args(["-c", &guard]).env_remove(variable);
        if let Some(value) = value {
            command.env(variable, value);
        }
        common::Run::from(command.output().unwrap())
    };
    let lacking = shell(None);
    assert_ne!(lacking.code, Some(0));
    assert!(
        lacking.stderr.contains(&format!(
            "{variable}: is needed on the agent by the build secret pip of dagster-app"
        )),
        "{}",
        lacking.stderr
    );
    let having = shell(Some(token)).success();
    assert_eq!(
        (having.stdout, having.stderr),
        (String::new(), String::new())
    );
}

#[test]
fn bake_targets_name_their_secrets_by_source_never_by_value() {
    let (variable, token) = ("DAGSTER_IMAGE_TEST_PIP_TOKEN", "bake-file-token-5a0c7e");
    let env = Env::without_engine();
    env.write(
        "dagster-app/image.yaml",
        &format!("secrets:\n  - {{id: pip, env: {variable}}}\n  - {{id: key, src: /run/key}}\n"),
    );
    let run = env
        .run_with(&["bake", "-t", "T"], &[(variable, token)])
        .success();
    assert!(!run.stdout.contains(token), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "note: bake reads the secret file `/run/key`: run `docker buildx bake` in a folder \
             above it, or pass `--allow=fs.read=/run/key`"
        ),
        "{}",
        run.stderr
    );
    let file: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for (name, target) in file["target"].as_object().unwrap() {
        let expected = match name.starts_with("dagster-app-") {
            true => serde_json::json!([format!("id=pip,env={variable}"), "id=key,src=/run/key"]),
            false => serde_json::Value::Null,
        };
        assert_eq!(target["secret"], expected, "{name}");
    }
}
