//! The standard OCI labels (`org.opencontainers.image.*`) on the images every build path makes,
//! read back from the engine under test: the git remote without credentials, the commit, the
//! build's time and version; none whose value is unknown; and no input of the digest, so that
//! a new commit alone leaves the images current.

mod common;

use std::collections::BTreeMap;

use common::git::{REMOTE_SHOWN, commit_catalog, git};
use common::{Env, ROOTFS_IMAGE, docker_output, image_exists};

/// A catalog of one image, `app` for Python 3.10 on the busybox root, committed in a git
/// repository whose `origin` has credentials in its URL.
fn committed_catalog() -> Env {
    let env = Env::empty();
    env.write("app/Dockerfile", &format!("FROM {ROOTFS_IMAGE}\n"));
    env.write("app/versions.yaml", "'3.10': {}\n");
    commit_catalog(&env);
    env
}

/// A timestamp in the tool's own format (`%Y-%m-%dT%H%M%S`), unlikely to be another test's.
fn clock_timestamp() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let pid = std::process::id() as u128;
    let seconds = (nanos / 1000 + pid) % 86_400;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    format!(
        "19{:02}-0{}-1{}T{h:02}{m:02}{s:02}",
        pid % 100,
        1 + nanos % 9,
        nanos / 7 % 10
    )
}

/// The labels of the local image `reference`.
fn labels_of(reference: &str) -> BTreeMap<String, String> {
    let format = "{{json .Config.Labels}}";
    let json = docker_output(&["image", "inspect", "--format", format, reference]);
    serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// The OCI labels among `labels`.
fn oci(labels: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    labels
        .iter()
        .filter(|(name, _)| name.starts_with("org.opencontainers.image."))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Removes the images this test tagged (their timestamps are not the harness's).
fn remove(references: &[&str]) {
    for reference in references.iter().filter(|r| image_exists(r)) {
        docker_output(&["image", "rm", reference]);
    }
}

#[test]
fn a_build_carries_the_oci_labels_and_a_new_commit_alone_leaves_it_current() {
    let env = committed_catalog();
    let (ts, later) = (clock_timestamp(), env.timestamp.clone());
    let tag = format!("dagster/app:py3.10-{ts}");
    env.run(&["build-all", "-t", &ts]).success();
    let labels = labels_of(&tag);
    remove(&[&tag]);
    let (y, mo, d, h, mi, s) = (
        &ts[..4],
        &ts[5..7],
        &ts[8..10],
        &ts[11..13],
        &ts[13..15],
        &ts[15..],
    );
    assert_eq!(
        oci(&labels),
        BTreeMap::from([
            ("org.opencontainers.image.source", REMOTE_SHOWN),
            (
                "org.opencontainers.image.revision",
                git(&env, &["rev-parse", "HEAD"]).as_str()
            ),
            (
                "org.opencontainers.image.created",
                format!("{y}-{mo}-{d}T{h}:{mi}:{s}Z").as_str()
            ),
            (
                "org.opencontainers.image.version",
                format!("py3.10-{ts}").as_str()
            ),
        ])
    );
    assert!(!format!("{labels:?}").contains("s3cret"), "{labels:?}");

    // Built again at a harness timestamp, then a commit that changes no input.
    env.run(&["build-all", "-t", &later]).success();
    git(&env, &["commit", "-q", "--allow-empty", "-m", "unrelated"]);
    let status = env.run(&["status", "--json"]).success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(rows[0]["stale"], false, "{}", status.stdout);
    assert_eq!(
        rows[0]["reasons"],
        serde_json::json!([]),
        "{}",
        status.stdout
    );
    let again = env.timestamp_labelled("again");
    env.run(&["build-all", "--skip-unchanged", "-t", &again])
        .success()
        .stderr_has("nothing to build: all 1 image-versions are unchanged");
    assert!(!image_exists(&format!("dagster/app:py3.10-{again}")));
}

#[test]
fn outside_a_git_repository_and_at_a_free_form_timestamp_only_the_version_label_is_put() {
    let env = Env::empty();
    env.write("app/Dockerfile", &format!("FROM {ROOTFS_IMAGE}\n"));
    env.write("app/versions.yaml", "'3.10': {}\n");
    env.run(&["build-all", "-t", &env.timestamp]).success();
    let labels = labels_of(&env.tag("app", "3.10"));
    let version = format!("py3.10-{}", env.timestamp);
    assert_eq!(
        oci(&labels),
        BTreeMap::from([("org.opencontainers.image.version", version.as_str())])
    );
}

#[test]
fn a_release_build_has_the_dagster_version_as_its_version_label() {
    let env = committed_catalog();
    let repository = format!("{}/app", env.registry());
    let release = [
        "--registry",
        &repository,
        "build-and-push-dockerhub",
        "--name",
        "app",
        "--dagster-version",
        "9.8.7",
        "--platform",
        "linux/amd64",
        "--repository",
        &repository,
    ];
    env.run(&release).success();
    let released = format!("{repository}:9.8.7");
    let labels = labels_of(&released);
    remove(&[&released]);
    let labels = oci(&labels);
    assert_eq!(labels["org.opencontainers.image.version"], "9.8.7");
    assert_eq!(labels["org.opencontainers.image.source"], REMOTE_SHOWN);
    let head = git(&env, &["rev-parse", "HEAD"]);
    assert_eq!(labels["org.opencontainers.image.revision"], head);
    assert!(
        labels.contains_key("org.opencontainers.image.created"),
        "{labels:?}"
    );
}
