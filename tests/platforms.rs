//! Multi-platform builds: each platform of an image-version is its own build, on the engine
//! under test with arm64 emulated (`scripts/setup-arm64.sh`), and a dependent's build for a
//! platform uses its base's image for that platform; `check` and `bake` of platforms.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::platforms::{BOTH, ROOT_DOCKERFILE, two_platform_catalog};
use common::{Env, docker_output, image_exists, run_image};

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
fn without_platforms_every_build_is_for_linux_amd64_and_each_platform_shows_in_a_dry_run() {
    let env = Env::without_engine();
    let build = ["build", "--name", "python-base", "-v", "3.9"];
    let build_all = ["build-all", "--name", "dagster-app", "--with-deps"];
    for command in [&build[..], &build_all] {
        let plain = env.run_without_engine(&[command, &["-t", "T", "--dry-run"]].concat());
        let out = plain.success().stdout;
        let builds: Vec<&str> = out.lines().filter(|l| l.contains(" build ")).collect();
        assert!(!builds.is_empty(), "{out}");
        for line in builds {
            assert!(line.contains(" --platform linux/amd64 "), "{line}");
            // As before the default: no `TARGET*` arguments, the same input digest.
            assert!(!line.contains("TARGETARCH"), "{line}");
        }
        // The tags and logs stay those of one build per image-version.
        assert!(!out.contains("-linux-amd64"), "{out}");
    }
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
    // Bake asks the engine what `status` asks, for its targets' labels.
    let run = env
        .run(&["bake", "--name", "dagster-app", "--with-deps", "-t", "T"])
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

/// An image of the catalog named for this test alone (prune removes every unrecorded build of
/// `dagster/<name>`, which other tests may be building), with one Python version.
fn image_of_its_own(env: &Env, prefix: &str, dockerfile: &str) -> String {
    let name = format!("{prefix}-{}", env.timestamp);
    env.write(&format!("{name}/Dockerfile"), dockerfile);
    env.write(
        &format!("{name}/versions.yaml"),
        "3.9:\n  docker_args:\n    PYTHON_VERSION: 3.9\n",
    );
    env.write(&format!("{name}/pip"), "#!/bin/sh\n");
    name
}

#[test]
fn a_build_refuses_an_image_it_starts_from_held_here_for_another_platform() {
    let env = Env::new();
    // As `docker pull --platform linux/arm64` of an upstream image leaves its local tag.
    let upstream = format!("dagster-image/upstream:{}", env.timestamp);
    docker_output(&["tag", "dagster-image/rootfs:busybox-arm64", &upstream]);
    env.write(
        "python-base/Dockerfile",
        &format!("FROM {upstream}\nARG PYTHON_VERSION\nRUN uname -m > /arch\n"),
    );
    let before = env.read("python-base/last_updated.yaml");
    let build = [
        "build",
        "--name",
        "python-base",
        "-v",
        "3.9",
        "-t",
        &env.timestamp,
    ];
    // Asked for amd64, and amd64 by default.
    for platform in [&["--platform", "linux/amd64"][..], &[]] {
        env.run(&[&build[..], platform].concat())
            .code(1)
            .stderr_has(&format!(
                "`{upstream}`, which it starts from, is here as an image for linux/arm64"
            ))
            .stderr_has("to be built for linux/amd64")
            .stderr_has(&format!(
                "hint: pull it for that platform (`docker pull --platform linux/amd64 {upstream}`)"
            ));
    }
    assert_eq!(env.read("python-base/last_updated.yaml"), before);
    assert!(!image_exists(&env.tag("python-base", "3.9")));
}

#[test]
fn an_upstream_image_pulled_here_for_another_platform_is_pulled_again_for_the_builds_platform() {
    let env = two_platform_catalog();
    let (t, registry) = (&env.timestamp, env.registry());
    let with_registry =
        |args: &[&str]| env.run(&[&["--registry", registry.as_str()][..], args].concat());
    with_registry(&["build", "--name", "python-base", "-v", "3.9", "-t", t]).success();
    with_registry(&["push", "--name", "python-base", "-v", "3.9"]).success();
    // The index of both platforms, here as its arm64 image: `docker pull --platform linux/arm64`.
    let upstream = format!("{registry}/python-base:py3.9-{t}");
    docker_output(&["pull", "--platform", "linux/arm64", &upstream]);
    let dockerfile = format!("FROM {upstream}\nRUN cp /base-arch /upstream-arch\n");
    let name = image_of_its_own(&env, "on-upstream", &dockerfile);
    let build = ["build", "--name", &name, "-v", "3.9", "-t", t];
    env.run(&[&["--offline"][..], &build].concat())
        .code(1)
        .stderr_has("is here as an image for linux/arm64, and `--offline` keeps it from");
    env.run(&build).success();
    let tag = format!("dagster/{name}:py3.9-{t}");
    assert_eq!(run_image(&tag, &["cat", "/upstream-arch"]).trim(), "x86_64");
    assert_eq!(image_platform(&tag), "linux/amd64");
    let recorded = env.read(&format!("{name}/last_updated.yaml"));
    assert!(recorded.contains(&format!("'3.9': {t}")), "{recorded}");
}

#[test]
fn an_image_built_for_another_platform_than_asked_is_refused_and_untagged() {
    // Pinned by digest, the arm64 busybox is used as it is by docker's classic builder, which
    // labels the result arm64: the image is checked once built. (BuildKit and podman label
    // such an image with the platform asked for; the check before the build, above, is what
    // holds there.)
    if common::engine::Engine::under_test() != common::engine::Engine::Classic {
        return;
    }
    let env = Env::new();
    let digests = docker_output(&[
        "image",
        "inspect",
        "--format",
        "{{index .RepoDigests 0}}",
        "dagster-image/rootfs:busybox-arm64",
    ]);
    let pinned = digests.trim();
    env.write(
        "python-base/Dockerfile",
        &format!(
            "FROM {pinned}\nARG PYTHON_VERSION\nRUN echo {} > /t\n",
            env.timestamp
        ),
    );
    let before = env.read("python-base/last_updated.yaml");
    let tag = env.tag("python-base", "3.9");
    env.run(&[
        "build",
        "--name",
        "python-base",
        "-v",
        "3.9",
        "-t",
        &env.timestamp,
    ])
    .code(1)
    .stderr_has(&format!(
        "`{tag}` was built for linux/arm64, not linux/amd64"
    ))
    .stderr_has("hint: an image it starts from is here for another platform");
    assert_eq!(env.read("python-base/last_updated.yaml"), before);
    assert!(!image_exists(&tag), "the wrong image keeps no tag");
}

#[test]
fn prune_leaves_alone_the_images_a_running_multi_platform_build_has_not_recorded_yet() {
    let env = Env::new();
    let slow_arm = format!(
        "{ROOT_DOCKERFILE}RUN echo {} > /t && if [ \"$(uname -m)\" = aarch64 ]; then sleep 8; fi\n",
        env.timestamp
    );
    let name = image_of_its_own(&env, "building", &slow_arm);
    env.write(&format!("{name}/image.yaml"), BOTH);
    let t = &env.timestamp;
    let mut build = env
        .command(&["build", "--name", &name, "-v", "3.9", "-t", t])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let amd = format!("dagster/{name}:py3.9-{t}-linux-amd64");
    let started = Instant::now();
    while !image_exists(&amd) {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no amd64 image"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The amd64 image is built, the arm64 one is building: nothing is recorded yet.
    env.run(&["prune", "--images", "--name", &name])
        .success()
        .stderr_has(&format!(
            "skipping the images of `{name}`: a run is building it"
        ));
    assert!(build.wait().unwrap().success());
    for tag in [amd, format!("dagster/{name}:py3.9-{t}")] {
        assert_eq!(run_image(&tag, &["uname", "-m"]).trim(), "x86_64", "{tag}");
    }
    let recorded = env.read(&format!("{name}/last_updated.yaml"));
    assert!(recorded.contains(&format!("'3.9': {t}")), "{recorded}");
}

/// The `stale` and `reasons` of `image` Python `version` in `status --json`.
fn status_of(env: &Env, image: &str, version: &str) -> (bool, serde_json::Value) {
    let run = env.run(&["--offline", "status", "--json", "--name", image]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.success().stdout).unwrap();
    let row = rows
        .iter()
        .find(|r| r["image"] == image && r["python_version"] == version)
        .unwrap();
    (row["stale"].as_bool().unwrap(), row["reasons"].clone())
}

#[test]
fn a_current_image_of_another_platform_than_the_default_is_stale_for_it() {
    let env = Env::new();
    let name = image_of_its_own(&env, "moved", ROOT_DOCKERFILE);
    let t = &env.timestamp;
    env.run(&["build", "--name", &name, "-v", "3.9", "-t", t])
        .success();
    assert_eq!(
        status_of(&env, &name, "3.9"),
        (false, serde_json::json!([]))
    );
    // The same inputs built for arm64, as a build without a platform on an arm64 engine made
    // them before the default linux/amd64: same labels, another platform.
    let tag = format!("dagster/{name}:py3.9-{t}");
    let labels = docker_output(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &tag,
    ]);
    let labels: std::collections::BTreeMap<String, String> =
        serde_json::from_str(labels.trim()).unwrap();
    env.write(
        "arm64/Dockerfile",
        "FROM dagster-image/rootfs:busybox-arm64\n",
    );
    let mut build = vec!["build", "--platform", "linux/arm64", "--tag", &tag];
    let label_args: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for label in &label_args {
        build.extend(["--label", label.as_str()]);
    }
    let context = env.path("arm64");
    build.push(context.to_str().unwrap());
    docker_output(&build);
    assert_eq!(image_platform(&tag), "linux/arm64");
    assert_eq!(
        status_of(&env, &name, "3.9"),
        (true, serde_json::json!(["args"]))
    );
}

#[test]
fn build_and_push_dockerhub_pushes_no_image_of_another_platform_than_its_tag_says() {
    let env = Env::new();
    let upstream = format!("dagster-image/upstream:{}", env.timestamp);
    docker_output(&["tag", "dagster-image/rootfs:busybox-arm64", &upstream]);
    env.write(
        "python-base/Dockerfile",
        &format!("FROM {upstream}\nARG DAGSTER_VERSION\nRUN echo $DAGSTER_VERSION > /v\n"),
    );
    let repository = format!("{}/python-base", env.registry());
    let run = env.run(&[
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        "1.0.0",
        "--platform",
        "linux/amd64",
        "--repository",
        &repository,
    ]);
    // The classic builder builds on the arm64 image, which is refused; BuildKit and podman try
    // to pull it for amd64, which no registry has.
    assert_ne!(run.code, Some(0), "{run:#?}");
    if common::engine::Engine::under_test() == common::engine::Engine::Classic {
        run.code(1).stderr_has(&format!(
            "`{repository}:1.0.0` was built for linux/arm64, not linux/amd64"
        ));
    }
    let path = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&path), Vec::<String>::new());
}
