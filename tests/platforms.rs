//! Multi-platform builds: each platform of an image-version is its own build, on the engine
//! under test with arm64 emulated (`scripts/setup-arm64.sh`), and a dependent's build for a
//! platform uses its base's image for that platform; `check` and `bake` of platforms.

mod common;

use common::platforms::{BOTH, ROOT_DOCKERFILE, two_platform_catalog};
use common::{Env, run_image};

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

/// `os/architecture` of the local image `tag`, as the engine says.
fn image_platform(tag: &str) -> String {
    let format = "{{.Os}}/{{.Architecture}}";
    let answer = common::docker_output(&["image", "inspect", "--format", format, tag]);
    answer.trim().to_owned()
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
    assert_eq!(image_platform(&arm), "linux/arm64");
    assert_eq!(image_platform(&seed), "linux/amd64");
    for image in ["python-base", "dagster-app"] {
        let recorded = env.read(&format!("{image}/last_updated.yaml"));
        assert!(recorded.contains(&format!("'3.10': {t}")), "{recorded}");
    }
}

#[test]
fn build_all_with_platforms_given_builds_both_of_every_version_and_records_each_version_once() {
    let env = Env::new();
    env.write("python-base/Dockerfile", ROOT_DOCKERFILE);
    let t = &env.timestamp;
    let platforms = ["--platform", "linux/amd64", "--platform", "linux/arm64"];
    let args = ["build-all", "--name", "python-base", "-t", t];
    env.run(&[&args[..], &platforms[..]].concat()).success();
    for version in ["3.9", "3.10"] {
        let seed = env.tag("python-base", version);
        let arm = format!("{seed}-linux-arm64");
        assert_eq!(image_platform(&seed), "linux/amd64", "{version}");
        assert_eq!(
            image_platform(&format!("{seed}-linux-amd64")),
            "linux/amd64"
        );
        assert_eq!(image_platform(&arm), "linux/arm64", "{version}");
        assert_eq!(run_image(&arm, &["uname", "-m"]).trim(), "aarch64");
    }
    let recorded = env.read("python-base/last_updated.yaml");
    let entries: Vec<&str> = recorded.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(entries, [format!("'3.9': {t}"), format!("'3.10': {t}")]);
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
