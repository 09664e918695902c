//! Multi-platform images: each platform of an image-version is its own build, on the engine
//! under test with arm64 emulated (`scripts/setup-arm64.sh`), and a dependent's build for a
//! platform uses its base's image for that platform.

mod common;

use common::pipeline::{agent_tools, pipeline, run_step};
use common::{Env, run_image};

const BOTH: &str = "platforms: [linux/amd64, linux/arm64]\n";

/// The example catalog's root, on the busybox of each platform, noting where it was built.
const ROOT_DOCKERFILE: &str = "ARG TARGETARCH=amd64\n\
    FROM dagster-image/rootfs:busybox-${TARGETARCH}\n\
    ARG PYTHON_VERSION\n\
    RUN mkdir -p /opt/site-packages && echo \"$PYTHON_VERSION\" > /python-version \
    && uname -m > /base-arch\n\
    COPY pip /usr/local/bin/pip\n";

/// The example catalog with python-base and dagster-app built for amd64 and arm64.
fn two_platform_catalog() -> Env {
    let env = Env::new();
    env.write("python-base/Dockerfile", ROOT_DOCKERFILE);
    env.write("python-base/image.yaml", BOTH);
    env.write("dagster-app/image.yaml", BOTH);
    env
}

fn build_app_with_deps(env: &Env) -> common::Run {
    env.run(&[
        "build-all",
        "--name",
        "dagster-app",
        "--with-deps",
        "-t",
        &env.timestamp,
        "-j",
        "2",
    ])
}

#[test]
fn each_platform_is_built_and_a_dependent_uses_its_bases_image_for_that_platform() {
    let env = two_platform_catalog();
    build_app_with_deps(&env).success();
    let t = &env.timestamp;
    let seed = format!("dagster/dagster-app:py3.9-{t}");
    let arm = format!("dagster/dagster-app:py3.9-{t}-linux-arm64");
    let amd = format!("dagster/dagster-app:py3.9-{t}-linux-amd64");
    assert_eq!(run_image(&arm, &["uname", "-m"]).trim(), "aarch64");
    assert_eq!(run_image(&arm, &["cat", "/base-arch"]).trim(), "aarch64");
    assert_eq!(run_image(&amd, &["cat", "/base-arch"]).trim(), "x86_64");
    assert_eq!(run_image(&seed, &["uname", "-m"]).trim(), "x86_64");
    let platform = |tag: &str| {
        common::docker_output(&[
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}",
            tag,
        ])
    };
    assert_eq!(platform(&arm).trim(), "linux/arm64");
    assert_eq!(platform(&seed).trim(), "linux/amd64");
    for image in ["python-base", "dagster-app"] {
        let recorded = env.read(&format!("{image}/last_updated.yaml"));
        assert!(recorded.contains(&format!("'3.10': {t}")), "{recorded}");
    }
}

#[test]
fn a_failed_arm64_build_records_nothing() {
    let env = two_platform_catalog();
    env.write(
        "dagster-app/Dockerfile",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN test \"$(uname -m)\" != aarch64\n",
    );
    let before = env.read("dagster-app/last_updated.yaml");
    build_app_with_deps(&env).code(1).stderr_has("-linux-arm64");
    assert_eq!(env.read("dagster-app/last_updated.yaml"), before);
    let base = env.read("python-base/last_updated.yaml");
    assert!(base.contains(&env.timestamp), "{base}");
}

#[test]
fn without_platforms_the_plan_is_unchanged_and_each_platform_shows_in_a_dry_run() {
    let env = Env::without_engine();
    let plain = env.run_without_engine(&[
        "build",
        "--name",
        "python-base",
        "-v",
        "3.9",
        "-t",
        "T",
        "--dry-run",
    ]);
    assert!(!plain.success().stdout.contains("--platform"));
    let args = [
        "build",
        "--name",
        "python-base",
        "-v",
        "3.9",
        "-t",
        "T",
        "--dry-run",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
    ];
    let out = env.run_without_engine(&args).success().stdout;
    assert!(
        out.contains("# 1/2 python-base py3.9 linux/amd64\n"),
        "{out}"
    );
    assert!(out.contains(
        "--tag dagster/python-base:py3.9-T --tag dagster/python-base:py3.9-T-linux-amd64"
    ));
    assert!(out.contains("--tag dagster/python-base:py3.9-T-linux-arm64 --file"));
    assert!(out.contains("--platform linux/arm64"));
    assert!(out.contains("--build-arg TARGETARCH=arm64"));
    assert_eq!(out.matches("# then record").count(), 1, "{out}");
}

#[test]
fn check_reports_a_local_base_lacking_a_platform_of_its_dependent() {
    let env = Env::without_engine();
    env.write("dagster-app/image.yaml", BOTH);
    let run = env
        .run_without_engine(&["check", "--name", "dagster-app"])
        .code(1);
    let report = format!("{}{}", run.stdout, run.stderr);
    assert!(
        report.contains(
            "builds for `linux/amd64`, `linux/arm64` on the local base `python-base`, which is \
             not built for it"
        ),
        "{report}"
    );
    env.write(
        "dagster-app/image.yaml",
        "platforms: ['linux/arm64,linux/amd64']\n",
    );
    let run = env.run_without_engine(&["check"]).code(1);
    let report = format!("{}{}", run.stdout, run.stderr);
    assert!(
        report.contains("`linux/arm64,linux/amd64` is not a valid platform"),
        "{report}"
    );
}

/// The manifest or index `repository:reference` in the test registry, as JSON.
fn registry_manifest(repository: &str, reference: &str) -> serde_json::Value {
    let accept = [
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ];
    let output = std::process::Command::new("curl")
        .args(["-fsS", "-H", &format!("Accept: {}", accept.join(", "))])
        .arg(format!(
            "http://{}/v2/{repository}/manifests/{reference}",
            common::REGISTRY
        ))
        .output()
        .expect("run curl");
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

/// The architecture the config of the image manifest `digest` of `repository` says.
fn config_architecture(repository: &str, digest: &str) -> String {
    let manifest = registry_manifest(repository, digest);
    let config = manifest["config"]["digest"].as_str().unwrap().to_owned();
    let blob = common::registry_get(&format!("{repository}/blobs/{config}"));
    let config: serde_json::Value = serde_json::from_str(&blob).unwrap();
    config["architecture"].as_str().unwrap().to_owned()
}

/// Each entry of the index `repository:tag` as (os/architecture, digest).
fn index_entries(repository: &str, tag: &str) -> Vec<(String, String)> {
    let index = registry_manifest(repository, tag);
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .map(|entry| {
            let platform = &entry["platform"];
            let name = format!(
                "{}/{}",
                platform["os"].as_str().unwrap(),
                platform["architecture"].as_str().unwrap()
            );
            (name, entry["digest"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn push_puts_each_platform_then_an_index_and_an_unchanged_index_is_not_pushed_again() {
    let env = two_platform_catalog();
    let t = &env.timestamp;
    env.run(&["build", "--name", "python-base", "-v", "3.9", "-t", t])
        .success();
    let registry = env.registry();
    let with_registry =
        |args: &[&str]| env.run(&[&["--registry", registry.as_str()][..], args].concat());
    with_registry(&["push", "--name", "python-base", "-v", "3.9"])
        .success()
        .stderr_has("linux/amd64, linux/arm64 (sha256:")
        .stderr_has("): put");
    let repository = format!("{}/python-base", env.registry_path());
    let tag = format!("py3.9-{t}");
    let entries = index_entries(&repository, &tag);
    let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(config_architecture(&repository, &entries[0].1), "amd64");
    assert_eq!(config_architecture(&repository, &entries[1].1), "arm64");
    let arm = format!("{registry}/python-base@{}", entries[1].1);
    assert_eq!(run_image(&arm, &["uname", "-m"]).trim(), "aarch64");
    let index_digest = common::registry_digest(&repository, &tag);

    let again = with_registry(&["push", "--name", "python-base", "-v", "3.9"]).success();
    assert!(
        again.stderr.contains("up to date, not pushed"),
        "{}",
        again.stderr
    );
    assert_eq!(
        again.stderr.matches("is up to date").count(),
        2,
        "{}",
        again.stderr
    );
    assert_eq!(common::registry_digest(&repository, &tag), index_digest);

    let status = with_registry(&["status", "--name", "python-base", "--json"]).success();
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let row = |platform: &str| {
        let rows = rows.as_array().unwrap().iter();
        rows.filter(|r| r["python_version"] == "3.9" && r["platform"] == platform)
            .map(|r| (r["local_image"].clone(), r["pushed"].clone()))
            .collect::<Vec<_>>()
    };
    for platform in ["linux/amd64", "linux/arm64"] {
        assert_eq!(
            row(platform),
            [(true.into(), true.into())],
            "{platform}: {rows:#}"
        );
    }

    let release = format!("{registry}/released");
    with_registry(&[
        "release",
        "--name",
        "python-base",
        "--dagster-version",
        "1.2.3",
        "--to",
        &release,
    ])
    .success();
    let released = index_entries(&format!("{}/released", env.registry_path()), "1.2.3");
    assert_eq!(released, entries);
}

#[test]
fn build_and_push_dockerhub_builds_each_platform_with_the_copies_and_puts_the_index() {
    let env = two_platform_catalog();
    fs_err::write(env.root().join("shared.txt"), "shared\n").unwrap();
    env.write(
        "python-base/image.yaml",
        "copy:\n  - {from: shared.txt, to: extra/shared.txt}\n",
    );
    env.write(
        "python-base/Dockerfile",
        &format!("{ROOT_DOCKERFILE}COPY extra/shared.txt /shared.txt\nARG DAGSTER_VERSION\nRUN echo $DAGSTER_VERSION > /dagster-version\n"),
    );
    let catalog_files = || -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let files = env.snapshot_files().into_iter();
        files
            .filter(|(path, _)| !path.to_string_lossy().contains(".dagster-image"))
            .collect()
    };
    let before = catalog_files();
    let repository = format!("{}/python-base", env.registry());
    let version = format!("1.0.{}", env.timestamp.replace('-', ""));
    let args = [
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        &version,
        "--set-latest",
        "--repository",
        &repository,
    ];
    // Without buildx (classic docker here, podman) every platform is built and pushed apart.
    let dry = env.run(&[&args[..], &["--dry-run"]].concat()).success();
    assert!(
        dry.stdout
            .contains("--platform linux/arm64 --build-arg DAGSTER_VERSION="),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains(&format!("push {repository}:{version}-linux-arm64\n"))
    );
    assert!(dry.stdout.contains(&format!("under {repository}:latest")));
    env.run(&args).success();
    assert!(
        catalog_files() == before,
        "copies left behind or last_updated.yaml changed"
    );
    let path = format!("{}/python-base", env.registry_path());
    for tag in [version.as_str(), "latest"] {
        let platforms: Vec<String> = index_entries(&path, tag)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{tag}");
    }
    let arm = &index_entries(&path, &version)[1].1;
    let arm = format!("{repository}@{arm}");
    assert_eq!(
        run_image(&arm, &["cat", "/shared.txt", "/dagster-version"]),
        format!("shared\n{version}\n")
    );
    assert_eq!(run_image(&arm, &["uname", "-m"]).trim(), "aarch64");
}

#[test]
fn the_pipeline_builds_each_platform_on_its_own_step_then_assembles_the_indexes() {
    let env = two_platform_catalog();
    let ts = &env.timestamp;
    let bin = agent_tools(&env);
    let pipeline = pipeline(&env, &["--name", "dagster-app", "-t", ts]);
    let keys: Vec<&str> = pipeline.steps.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert_eq!(keys[1], "python-base-py3_9-linux-arm64");
    assert_eq!(pipeline.steps[1].agents["arch"], "arm64");
    assert_eq!(&keys[8..], ["assemble-indexes", "record-timestamps"]);
    let mut last = None;
    for step in &pipeline.steps {
        let agent = two_platform_catalog();
        env.remove_images();
        run_step(step, &agent, &pipeline.env, &bin);
        last = Some(agent);
    }
    let path = format!("{}/dagster-app", env.registry_path());
    let entries = index_entries(&path, &format!("py3.10-{ts}"));
    let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let arm = format!("{}/dagster-app@{}", env.registry(), entries[1].1);
    assert_eq!(run_image(&arm, &["cat", "/base-arch"]).trim(), "aarch64");
    let recorded = last.unwrap().read("dagster-app/last_updated.yaml");
    assert!(recorded.contains(&format!("'3.10': {ts}")), "{recorded}");
}

#[test]
fn skip_unchanged_compares_each_platform_with_its_own_image() {
    let env = two_platform_catalog();
    let build = |timestamp: &str| {
        env.run(&[
            "build-all",
            "--name",
            "python-base",
            "--skip-unchanged",
            "-t",
            timestamp,
        ])
    };
    build(&env.timestamp).success();
    build(&env.timestamp_labelled("again"))
        .success()
        .stderr_has("nothing to build: all 4 image-versions are unchanged");
    env.write(
        "python-base/image.yaml",
        "platforms: [linux/amd64, linux/arm64, linux/arm/v7]\n",
    );
    // A new platform rebuilds every platform of the version: one timestamp names them all.
    build(&env.timestamp_labelled("third"))
        .code(1)
        .stderr_has("6 of 6 image-versions changed")
        .stderr_has("-linux-arm-v7");
    let recorded = env.read("python-base/last_updated.yaml");
    assert!(
        recorded.contains(&format!("'3.9': {}\n", env.timestamp)),
        "{recorded}"
    );
}

#[test]
fn a_registry_base_is_pulled_for_each_platform_by_its_own_tag() {
    let env = two_platform_catalog();
    let t = &env.timestamp;
    env.write(
        "dagster-app/versions.yaml",
        "3.9:\n  base_image:\n    name: python-base\n    source: aws\n",
    );
    let registry = env.registry();
    let with_registry =
        |args: &[&str]| env.run(&[&["--registry", registry.as_str()][..], args].concat());
    with_registry(&["build", "--name", "python-base", "-v", "3.9", "-t", t]).success();
    with_registry(&["push", "--name", "python-base", "-v", "3.9"]).success();
    // Only the registry has the base now: each platform's build pulls its own image.
    env.remove_images();
    with_registry(&["build", "--name", "dagster-app", "-v", "3.9", "-t", t]).success();
    let arm = format!("dagster/dagster-app:py3.9-{t}-linux-arm64");
    let amd = format!("dagster/dagster-app:py3.9-{t}-linux-amd64");
    assert_eq!(run_image(&arm, &["cat", "/base-arch"]).trim(), "aarch64");
    assert_eq!(run_image(&amd, &["cat", "/base-arch"]).trim(), "x86_64");
}

#[test]
fn a_release_of_several_platforms_not_in_the_registry_fails_without_pushing_one_platform() {
    let env = Env::without_engine();
    env.write("python-base/image.yaml", BOTH);
    env.write("python-base/last_updated.yaml", "'3.9': never-pushed\n");
    let registry = env.registry();
    let to = format!("{registry}/released");
    let args = ["--registry", &registry, "release", "--name", "python-base"];
    let run = env
        .run_without_engine(&[&args[..], &["--dagster-version", "1.0", "--to", &to]].concat())
        .code(1);
    assert!(
        run.stderr.contains(&format!(
            "`{registry}/python-base:py3.9-never-pushed` (the image of every platform of \
             `python-base`) is not in the registry"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: push every platform and the index first")
    );
    assert!(common::registry_tags(&format!("{}/released", env.registry_path())).is_empty());
}

#[test]
fn bake_gives_each_target_its_images_platforms_in_one_target() {
    let env = Env::without_engine();
    env.write("python-base/image.yaml", BOTH);
    env.write("dagster-app/image.yaml", BOTH);
    let run = env
        .run_without_engine(&["bake", "--name", "dagster-app", "--with-deps", "-t", "T"])
        .success();
    let file: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let targets = file["target"].as_object().unwrap();
    assert_eq!(
        targets.len(),
        4,
        "one target per image-version: {targets:?}"
    );
    let app = &targets["dagster-app-py3_9"];
    assert_eq!(
        app["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    assert_eq!(
        app["contexts"]["dagster/python-base:py3.9-T"],
        "target:python-base-py3_9"
    );
    assert!(
        run.stderr.contains("pass `--push`, or one `--platform`"),
        "{}",
        run.stderr
    );
}

#[test]
fn build_and_push_dockerhub_uses_one_buildx_build_when_the_builder_pushes_every_platform() {
    let Some(buildkit) = common::buildkit::BuildKit::require("buildx release") else {
        return;
    };
    let env = Env::new();
    env.write(
        "python-base/Dockerfile",
        "ARG TARGETARCH\nFROM 127.0.0.1:5000/dagster-image/rootfs:busybox-${TARGETARCH}\n\
         ARG DAGSTER_VERSION\nRUN uname -m > /arch && echo $DAGSTER_VERSION > /dagster-version\n",
    );
    let repository = format!("{}/python-base", env.registry());
    let version = format!("2.0.{}", env.timestamp.replace('-', ""));
    let mut variables = buildkit.variables();
    variables.push(("BUILDX_BUILDER", common::buildkit::BUILDER));
    let args = [
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        &version,
        "--repository",
        &repository,
    ];
    let dry = env
        .run_with(&[&args[..], &["--dry-run"]].concat(), &variables)
        .success();
    assert!(
        dry.stdout
            .contains("buildx build --push --provenance=false --platform linux/amd64,linux/arm64"),
        "{}",
        dry.stdout
    );
    env.run_with(&args, &variables).success();
    let path = format!("{}/python-base", env.registry_path());
    let entries = index_entries(&path, &version);
    let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let arm = format!("{repository}@{}", entries[1].1);
    assert_eq!(run_image(&arm, &["cat", "/arch"]).trim(), "aarch64");
}
