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
/// then `extra`.
fn release_args<'a>(version: &'a str, repository: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let args = [
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        version,
        "--repository",
        repository,
    ];
    [&args[..], extra].concat()
}

#[test]
fn build_and_push_dockerhub_passes_the_first_versions_docker_args_to_each_platforms_build() {
    let env = release_catalog();
    let repository = format!("{}/python-base", env.registry());
    let version = "1.4.2";
    let dry = env
        .run(&release_args(version, &repository, &["--dry-run"]))
        .success();
    for arch in ["amd64", "arm64"] {
        let args = format!(
            "--platform linux/{arch} --build-arg BASE_IMAGE=dagster-image/rootfs --build-arg \
             PYTHON_VERSION=3.9 --build-arg DAGSTER_VERSION={version} --build-arg \
             TARGETPLATFORM=linux/{arch}"
        );
        assert!(dry.stdout.contains(&args), "{}", dry.stdout);
    }
    env.run(&release_args(version, &repository, &[])).success();
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
