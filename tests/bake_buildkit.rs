//! `bake` files run by real buildx on a real BuildKit daemon (`scripts/setup-buildkit.sh`):
//! pushed to the registry, loaded into docker, arguments passed literally, digests kept, and
//! the `--allow` that bake needs away from the catalog. Skipped, saying so, only on a checkout
//! without `../shared/tools/buildkit`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::buildkit::{
    BUILDER, BuildKit, REGISTRY_BASE, catalog_on_the_registry_base, manifest_type_and_digest,
};
use common::{Env, Run, docker_output, image_exists, image_id, registry_tags, run_image, sha256};

/// The example catalog's images, each built for Python 3.9 and 3.10.
const IMAGES: [&str; 4] = [
    "python-base",
    "buildkite-unit",
    "buildkite-unit-snapshot-builder",
    "dagster-app",
];

/// `dagster-image bake ARGS` written to `<root>/plan.json`; the file and the run.
fn write_bake_file(env: &Env, args: &[&str]) -> (PathBuf, Run) {
    let run = env.run(&[&["bake"], args].concat()).success();
    let file = env.root().join("plan.json");
    fs_err::write(&file, &run.stdout).unwrap();
    (file, run)
}

/// `bake --push` of the catalog at `timestamp` to the test's registry, run by buildx from above
/// the catalog.
fn bake_and_push(buildkit: &BuildKit, env: &Env, timestamp: &str) {
    let registry = env.registry();
    let (file, _) = write_bake_file(env, &["--registry", &registry, "--push", "-t", timestamp]);
    buildkit.bake(&file, env.root(), &[]).success();
}

#[test]
fn bake_push_run_by_buildx_puts_every_tag_in_the_registry_and_the_dependent_holds_its_bases_file() {
    let Some(buildkit) = BuildKit::require("bake_push_run_by_buildx") else {
        return;
    };
    let env = catalog_on_the_registry_base();
    let ts = &env.timestamp;
    bake_and_push(&buildkit, &env, ts);
    for image in IMAGES {
        assert_eq!(
            registry_tags(&format!("{}/{image}", env.registry_path())),
            [format!("py3.10-{ts}"), format!("py3.9-{ts}")],
            "{image}"
        );
    }
    let app = format!("{}/dagster-app:py3.10-{ts}", env.registry());
    docker_output(&["pull", &app]);
    assert_eq!(run_image(&app, &[]), "dagster dev on python 3.10\n");
    assert_eq!(run_image(&app, &["cat", "/python-version"]), "3.10\n");
}

#[test]
fn bake_without_push_loads_every_image_into_docker_under_its_local_tag() {
    let Some(buildkit) = BuildKit::require("bake_without_push_loads") else {
        return;
    };
    let env = catalog_on_the_registry_base();
    let (file, _) = write_bake_file(&env, &["-t", &env.timestamp]);
    buildkit.bake(&file, env.root(), &[]).success();
    let mut expected: Vec<String> = IMAGES
        .iter()
        .flat_map(|image| [env.tag(image, "3.10"), env.tag(image, "3.9")])
        .collect();
    expected.sort();
    assert_eq!(env.images_built(), expected);
    assert_eq!(
        run_image(&env.tag("dagster-app", "3.9"), &[]),
        "dagster dev on python 3.9\n"
    );
}

#[test]
fn dollar_and_percent_braces_in_arguments_reach_the_build_literally_as_with_build_all() {
    let Some(buildkit) = BuildKit::require("dollar_and_percent_braces") else {
        return;
    };
    let env = Env::empty();
    let value = "x${HOME} %{ if true }y%{ endif } $${z} %%{w} $PATH 100%";
    env.write(
        "literal/Dockerfile",
        &format!("FROM {REGISTRY_BASE}\nARG VALUE\nRUN printf '%s\\n' \"$VALUE\" > /value\n"),
    );
    env.write(
        "literal/versions.yaml",
        &format!("'3.10':\n  docker_args:\n    VALUE: '{value}'\n"),
    );
    let (file, _) = write_bake_file(&env, &["-t", &env.timestamp]);
    buildkit.bake(&file, env.root(), &[]).success();
    let baked = run_image(&env.tag("literal", "3.10"), &["cat", "/value"]);
    assert_eq!(baked, format!("{value}\n"));

    let classic = env.timestamp_labelled("classic");
    env.run(&["build-all", "-t", &classic]).success();
    let built = run_image(
        &format!("dagster/literal:py3.10-{classic}"),
        &["cat", "/value"],
    );
    assert_eq!(built, baked);
}

#[test]
fn a_second_bake_of_an_unchanged_catalog_pushes_the_same_image_manifests() {
    let Some(buildkit) = BuildKit::require("a_second_bake_of_an_unchanged_catalog") else {
        return;
    };
    let env = catalog_on_the_registry_base();
    let ts = &env.timestamp;
    let pushed = || {
        bake_and_push(&buildkit, &env, ts);
        let manifests = image_versions().map(|(image, version)| {
            let repository = format!("{}/{image}", env.registry_path());
            manifest_type_and_digest(&repository, &format!("py{version}-{ts}"))
        });
        manifests.collect::<Vec<_>>()
    };
    // The same timestamp: the images' OCI labels name it, so another one makes other images.
    let (first, second) = (pushed(), pushed());
    for (media_type, _) in &first {
        // An image manifest, not an index holding a provenance attestation of this run.
        assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");
    }
    assert_eq!(first, second);
}

#[test]
fn bake_run_away_from_the_catalog_needs_the_allow_flag_its_note_gives() {
    let Some(buildkit) = BuildKit::require("bake_run_away_from_the_catalog") else {
        return;
    };
    let env = catalog_on_the_registry_base();
    let (file, run) = write_bake_file(&env, &["--name", "python-base", "-t", &env.timestamp]);
    let allow = run
        .stderr
        .split('`')
        .find(|word| word.starts_with("--allow=fs.read="))
        .unwrap_or_else(|| panic!("no --allow in the note: {}", run.stderr))
        .to_owned();
    assert_eq!(allow, format!("--allow=fs.read={}", env.images().display()));
    let elsewhere = env.root().join("elsewhere");
    fs_err::create_dir(&elsewhere).unwrap();
    buildkit
        .bake(&file, &elsewhere, &[])
        .code(1)
        .stderr_has("additional privileges requested");
    buildkit.bake(&file, &elsewhere, &[&allow]).success();
    assert_eq!(
        run_image(&env.tag("python-base", "3.9"), &["cat", "/python-version"]),
        "3.9\n"
    );
}

#[test]
fn bake_targets_pass_their_secrets_to_buildkit_from_a_variable_and_a_file_never_holding_them() {
    let Some(buildkit) = BuildKit::require("bake_targets_pass_their_secrets") else {
        return;
    };
    let (variable, token, netrc) = (
        "DAGSTER_IMAGE_TEST_PIP_TOKEN",
        "bake-token-4c1e8a",
        "netrc-d27f90",
    );
    let env = Env::empty();
    env.write(
        "app/Dockerfile",
        &format!(
            "FROM {REGISTRY_BASE}\nRUN --mount=type=secret,id=pip --mount=type=secret,id=netrc \
             cat /run/secrets/pip /run/secrets/netrc | sha256sum > /sum\n"
        ),
    );
    env.write("app/versions.yaml", "3.9: {}\n");
    env.write(
        "app/image.yaml",
        &format!(
            "secrets:\n  - {{id: pip, env: {variable}}}\n  - {{id: netrc, src: secrets/netrc}}\n"
        ),
    );
    fs_err::create_dir(env.root().join("secrets")).unwrap();
    fs_err::write(env.root().join("secrets/netrc"), netrc).unwrap();
    let run = env
        .run_with(&["bake", "-t", &env.timestamp], &[(variable, token)])
        .success();
    let file = env.root().join("plan.json");
    fs_err::write(&file, &run.stdout).unwrap();
    assert!(
        !run.stdout.contains(token) && !run.stdout.contains(netrc),
        "{}",
        run.stdout
    );
    let secret_file = env.root().join("secrets/netrc");
    assert!(
        run.stdout.contains(&format!(
            "\"secret\": [\n        \"id=pip,env={variable}\",\n        \"id=netrc,src={}\"",
            secret_file.display()
        )),
        "{}",
        run.stdout
    );
    let mut bake = buildkit.docker(&["buildx", "bake", "--builder", common::buildkit::BUILDER]);
    bake.arg("-f").arg(&file).args(["--progress", "plain"]);
    bake.env(variable, token).current_dir(env.root());
    Run::from(bake.output().expect("run docker buildx bake")).success();
    let sum = run_image(&env.tag("app", "3.9"), &["cat", "/sum"]);
    assert_eq!(
        sum.split_whitespace().next(),
        Some(sha256(&format!("{token}{netrc}")).as_str())
    );
}

/// Every image-version of the example catalog, as `(image, python version)`.
fn image_versions() -> impl Iterator<Item = (&'static str, &'static str)> {
    IMAGES
        .iter()
        .flat_map(|&image| [(image, "3.9"), (image, "3.10")])
}

/// `status --json` says every image-version is here and current, and `build-all
/// --skip-unchanged` builds none of them.
#[track_caller]
fn assert_every_image_current(env: &Env, registry_args: &[&str]) {
    let run = env
        .run(&[registry_args, &["status", "--json"]].concat())
        .success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows.len(), 8, "{}", run.stdout);
    for row in &rows {
        assert_eq!(row["last_updated"], env.timestamp.as_str(), "{row}");
        assert_eq!(row["local_image"], true, "{row}");
        assert_eq!(row["stale"], false, "{row}");
        assert_eq!(row["reasons"], serde_json::json!([]), "{row}");
    }
    let later = env.timestamp_labelled("later");
    env.run(
        &[
            registry_args,
            &["build-all", "--skip-unchanged", "-t", &later],
        ]
        .concat(),
    )
    .success()
    .stderr_has("nothing to build: all 8 image-versions are unchanged");
    for (image, version) in image_versions() {
        let tag = format!("dagster/{image}:py{version}-{later}");
        assert!(!image_exists(&tag), "--skip-unchanged built {tag}");
    }
}

#[test]
fn images_loaded_by_bake_and_recorded_are_current_for_status_and_skip_unchanged() {
    let Some(buildkit) = BuildKit::require("images_loaded_by_bake_and_recorded") else {
        return;
    };
    let env = catalog_on_the_registry_base();
    let ts = &env.timestamp;
    let (file, _) = write_bake_file(&env, &["-t", ts]);
    buildkit.bake(&file, env.root(), &[]).success();
    for (image, version) in image_versions() {
        env.run(&["record", "--name", image, "-v", version, "-t", ts])
            .success();
    }
    assert_every_image_current(&env, &[]);
}

#[test]
fn images_pushed_by_bake_and_pulled_are_current_for_status_and_skip_unchanged() {
    let Some(buildkit) = BuildKit::require("images_pushed_by_bake_and_pulled") else {
        return;
    };
    let env = catalog_on_the_registry_base();
    let ts = &env.timestamp;
    bake_and_push(&buildkit, &env, ts);
    let registry = env.registry();
    let on_the_registry = ["--registry", registry.as_str()];
    for (image, version) in image_versions() {
        let pull = ["pull", "--name", image, "-v", version, "-t", ts];
        env.run(&[&on_the_registry[..], &pull].concat()).success();
    }
    assert_every_image_current(&env, &on_the_registry);
}

/// Pushes, as `reference` in the test registry, the image of `dockerfile` (built in `dir`).
fn push_image(dir: &Path, reference: &str, dockerfile: &str) {
    fs_err::create_dir_all(dir).unwrap();
    fs_err::write(dir.join("Dockerfile"), dockerfile).unwrap();
    docker_output(&["build", "-q", "-t", reference, &dir.display().to_string()]);
    docker_output(&["push", reference]);
}

#[test]
fn bake_and_pipeline_pull_exactly_where_status_says_the_upstream_image_moved() {
    let Some(buildkit) = BuildKit::require("bake_and_pipeline_pull_exactly_where") else {
        return;
    };
    let env = Env::empty();
    let registry = env.registry();
    let (moving, steady) = (
        format!("{registry}/up:moving"),
        format!("{registry}/up:steady"),
    );
    let first = format!("FROM {REGISTRY_BASE}\nRUN echo first > /up\n");
    push_image(&env.root().join("first"), &moving, &first);
    push_image(&env.root().join("first"), &steady, &first);
    for (image, upstream) in [("moves", &moving), ("stays", &steady)] {
        env.write(
            &format!("{image}/Dockerfile"),
            &format!("FROM {upstream}\n"),
        );
        env.write(&format!("{image}/versions.yaml"), "'3.10': {}\n");
    }
    let on_the_registry = ["--registry", registry.as_str()];
    env.run(&["build-all", "-t", &env.timestamp]).success();
    // The registry's image moves on; this engine keeps the old one under the tag.
    let old = image_id(&moving);
    let moved = format!("FROM {REGISTRY_BASE}\nRUN echo moved > /up\n");
    push_image(&env.root().join("moved"), &moving, &moved);
    docker_output(&["tag", &old, &moving]);

    let status = env
        .run(&[&on_the_registry[..], &["status", "--json"]].concat())
        .success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    let stale: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| (r["image"].as_str().unwrap(), r["stale"] == true))
        .collect();
    assert_eq!(
        stale,
        [("moves", true), ("stays", false)],
        "{}",
        status.stdout
    );

    let later = env.timestamp_labelled("later");
    let (file, _) = write_bake_file(&env, &["-t", &later]);
    let printed = buildkit
        .docker(&["buildx", "bake", "--builder", BUILDER, "--print", "-f"])
        .arg(&file)
        .current_dir(env.root())
        .output()
        .unwrap();
    assert!(printed.status.success(), "{printed:?}");
    let read: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(read["target"]["moves-py3_10"]["pull"], true, "{read}");
    assert_eq!(
        read["target"]["stays-py3_10"]["pull"],
        serde_json::Value::Null,
        "{read}"
    );

    let pipeline = common::pipeline::pipeline(&env, &["-t", &later]);
    let build_command = |key: &str| {
        let step = pipeline.steps.iter().find(|s| s.key == key).unwrap();
        let build = step.commands.iter().find(|c| c.contains(" build "));
        build.unwrap().clone()
    };
    assert_eq!(
        build_command("moves-py3_10"),
        format!("dagster-image build --name moves -v 3.10 -t {later} --pull")
    );
    assert_eq!(
        build_command("stays-py3_10"),
        format!("dagster-image build --name stays -v 3.10 -t {later}")
    );
    // The step's build pulls the moved image although the engine has the old one.
    env.run(&[
        "build", "--name", "moves", "-v", "3.10", "-t", &later, "--pull",
    ])
    .success();
    let built = format!("dagster/moves:py3.10-{later}");
    assert_eq!(run_image(&built, &["cat", "/up"]), "moved\n");
}

#[test]
fn bake_targets_carry_the_oci_labels_of_a_build() {
    let Some(buildkit) = BuildKit::require("bake_targets_carry_the_oci_labels") else {
        return;
    };
    let env = catalog_on_the_registry_base();
    let head = common::git::commit_catalog(&env);
    // In the tool's format, so that `created` has a value; the registry path is the test's own.
    let ts = "2026-12-06T225728";
    bake_and_push(&buildkit, &env, ts);
    let app = format!("{}/dagster-app:py3.10-{ts}", env.registry());
    docker_output(&["pull", &app]);
    let format = "{{json .Config.Labels}}";
    let labels = docker_output(&["image", "inspect", "--format", format, &app]);
    let labels: BTreeMap<String, String> = serde_json::from_str(labels.trim()).unwrap();
    let oci: BTreeMap<&str, &str> = labels
        .iter()
        .filter(|(name, _)| name.starts_with("org.opencontainers.image."))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let version = format!("py3.10-{ts}");
    assert_eq!(
        oci,
        BTreeMap::from([
            ("org.opencontainers.image.source", common::git::REMOTE_SHOWN),
            ("org.opencontainers.image.revision", head.as_str()),
            ("org.opencontainers.image.created", "2026-12-06T22:57:28Z"),
            ("org.opencontainers.image.version", version.as_str()),
        ])
    );
}
