//! `build-and-push-dockerhub` as the newest original's `test_cli.py` pins it, on the real engine
//! and registry (pointed at the loopback registry by the hidden `--repository`), arm64 emulated
//! by qemu: the build arguments of a Dagster release Dockerfile, and the tags it leaves.

mod common;

use common::platforms::index_entries;
use common::{Env, run_image};

/// Dagster's `versions.yaml` of a release image: the base comes from `docker_args`.
const RELEASE_VERSIONS: &str = "3.9:\n  docker_args:\n    BASE_IMAGE: dagster-image/rootfs\n    \
    PYTHON_VERSION: '3.9'\n3.10:\n  docker_args:\n    BASE_IMAGE: no-such/base\n    \
    PYTHON_VERSION: '3.10'\n";

/// A Dagster release Dockerfile: `ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}` without a default
/// (here with the platform's busybox), noting the arguments it got and where it ran.
const RELEASE_DOCKERFILE: &str = "ARG BASE_IMAGE\nARG TARGETARCH\n\
    FROM ${BASE_IMAGE}:busybox-${TARGETARCH}\nARG PYTHON_VERSION\nARG DAGSTER_VERSION\n\
    RUN echo \"$PYTHON_VERSION $DAGSTER_VERSION\" > /release && uname -m >> /release\n";

/// The example catalog with `python-base` written as a Dagster release image.
fn release_catalog() -> Env {
    let env = Env::new();
    env.write("python-base/versions.yaml", RELEASE_VERSIONS);
    env.write("python-base/Dockerfile", RELEASE_DOCKERFILE);
    env
}

/// `build-and-push-dockerhub --name python-base --dagster-version VERSION` to `repository`,
/// staging each platform's image in `<repository>-staging`, then `extra`.
fn release_args<'a>(version: &'a str, repository: &'a str, extra: &[&'a str]) -> Vec<String> {
    let staging = format!("{repository}-staging");
    let args = [
        "--registry",
        &staging,
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        version,
        "--repository",
        repository,
    ];
    [&args[..], extra]
        .concat()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// `env.run` of owned arguments.
fn run(env: &Env, args: &[String]) -> common::Run {
    env.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn build_and_push_dockerhub_passes_the_first_versions_docker_args_to_each_platforms_build() {
    let env = release_catalog();
    let repository = format!("{}/python-base", env.registry());
    let version = "1.4.2";
    let dry = run(&env, &release_args(version, &repository, &["--dry-run"])).success();
    for arch in ["amd64", "arm64"] {
        let args = format!(
            "--platform linux/{arch} --build-arg BASE_IMAGE=dagster-image/rootfs --build-arg \
             PYTHON_VERSION=3.9 --build-arg DAGSTER_VERSION={version} --build-arg \
             TARGETPLATFORM=linux/{arch}"
        );
        assert!(dry.stdout.contains(&args), "{}", dry.stdout);
    }
    run(&env, &release_args(version, &repository, &[])).success();
    let path = format!("{}/python-base", env.registry_path());
    let entries = index_entries(&path, version);
    let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    for ((_, digest), arch) in entries.iter().zip(["x86_64", "aarch64"]) {
        let image = format!("{repository}@{digest}");
        assert_eq!(
            run_image(&image, &["cat", "/release"]),
            format!("3.9 {version}\n{arch}\n")
        );
    }
}

/// The platform images of the index `repository:tag` in the test registry (any engine's
/// media types).
fn digest(repository: &str, tag: &str) -> Vec<(String, String)> {
    index_entries(repository, tag)
}

/// What upstream's `test_cli.py` pins for `build-and-push-dockerhub`: linux/amd64 and
/// linux/arm64 by default, `DAGSTER_VERSION` and the first version's build arguments, the
/// copies in place during the build and gone after it, `X` alone without `--set-latest` and
/// `X` and `latest` with it (no other tag), the engine's status of a failed build, and every
/// file of the catalog, `last_updated.yaml` among them, byte-identical.
#[test]
fn build_and_push_dockerhub_does_what_upstreams_test_cli_pins() {
    let env = release_catalog();
    fs_err::write(env.root().join("shared.txt"), "shared\n").unwrap();
    env.write(
        "python-base/image.yaml",
        "copy:\n  - {from: shared.txt, to: extra/shared.txt}\n",
    );
    env.write(
        "python-base/Dockerfile",
        &format!("{RELEASE_DOCKERFILE}COPY extra/shared.txt /shared.txt\n"),
    );
    let before = env.snapshot_files();
    let repository = format!("{}/python-base", env.registry());
    let path = format!("{}/python-base", env.registry_path());

    run(&env, &release_args("1.4.2", &repository, &[])).success();
    assert_eq!(common::registry_tags(&path), ["1.4.2"]);
    run(&env, &release_args("1.5.0", &repository, &["--set-latest"])).success();
    assert_eq!(common::registry_tags(&path), ["1.4.2", "1.5.0", "latest"]);
    assert_eq!(digest(&path, "latest"), digest(&path, "1.5.0"));
    assert_ne!(digest(&path, "1.4.2"), digest(&path, "1.5.0"));
    for version in ["1.4.2", "1.5.0"] {
        let entries = index_entries(&path, version);
        let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{version}");
        for ((_, digest), arch) in entries.iter().zip(["x86_64", "aarch64"]) {
            let image = format!("{repository}@{digest}");
            assert_eq!(
                run_image(&image, &["cat", "/release", "/shared.txt"]),
                format!("3.9 {version}\n{arch}\nshared\n")
            );
        }
    }
    assert!(
        env.snapshot_files() == before,
        "copies left behind or a file changed"
    );

    env.write(
        "python-base/Dockerfile",
        &format!("{RELEASE_DOCKERFILE}RUN test \"$(uname -m)\" != aarch64 || exit 3\n"),
    );
    let failed = run(&env, &release_args("1.6.0", &repository, &["--set-latest"]));
    let status = failed.code.expect("an exit status");
    if common::engine::Engine::under_test() != common::engine::Engine::BuildKit {
        assert_eq!(status, 3, "{failed:#?}");
    } else {
        assert_eq!(status, 1, "{failed:#?}");
    }
    assert_eq!(common::registry_tags(&path), ["1.4.2", "1.5.0", "latest"]);
    assert_eq!(digest(&path, "latest"), digest(&path, "1.5.0"));
    let last_updated = |files: &[(std::path::PathBuf, Vec<u8>)]| {
        let file = files
            .iter()
            .find(|(p, _)| p.ends_with("python-base/last_updated.yaml"));
        file.map(|(_, bytes)| bytes.clone())
    };
    assert_eq!(last_updated(&env.snapshot_files()), last_updated(&before));
}
