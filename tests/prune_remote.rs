//! `prune --remote` against real registries: the loopback registry (deletes enabled), one of the
//! test's own with deletes off, and the ECR stand-in (moto's `BatchDeleteImage`, asked by the real
//! `aws` CLI). The images are small manifests put into the registry through its API, each with a
//! config of its own (so a manifest of its own) unless a test makes two tags share one; what is
//! left is read back from the registry's tag list.

mod common;

use std::process::{Command, Stdio};

use common::access_log::{AccessLog, REGISTRY_LOG};
use common::{Env, REGISTRY, Run, registry_tags, words};

const T1: &str = "2026-01-01T000000";
const T2: &str = "2026-02-01T000000";
const T3: &str = "2026-03-01T000000";
const T4: &str = "2026-04-01T000000";
const T5: &str = "2026-05-01T000000";
const T6: &str = "2026-06-01T000000";

/// A catalog with the image `app` (Python 3.9 and 3.10) and `last_updated.yaml` recording 3.9
/// at `recorded`.
fn catalog(recorded: &str) -> Env {
    let env = Env::empty_without_engine();
    common::family::write_image(&env, "app", &["3.9", "3.10"], None);
    env.write("app/last_updated.yaml", &format!("'3.9': '{recorded}'\n"));
    env
}

/// `sha256:<hex>` of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// curl with `args`, asserting it succeeded; its stdout.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-fsS"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Puts into `repository` of the registry at `base` (`http://HOST:PORT`) an image manifest
/// with no layers whose config says `label`, tagged `tag`; returns the manifest's digest.
fn put_image(base: &str, repository: &str, tag: &str, label: &str) -> String {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"Labels":{{"made-by":"{label}"}}}}}}"#
    );
    let config_digest = sha256(config.as_bytes());
    let headers = curl(&[
        "-X",
        "POST",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{base}/v2/{repository}/blobs/uploads/"),
    ]);
    let location = headers
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .expect("an upload location");
    let location = match location.starts_with('/') {
        true => format!("{base}{location}"),
        false => location,
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &config,
        "-H",
        "Content-Type: application/octet-stream",
        &format!("{location}{separator}digest={config_digest}"),
    ]);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    );
    curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &manifest,
        "-H",
        "Content-Type: application/vnd.oci.image.manifest.v1+json",
        &format!("{base}/v2/{repository}/manifests/{tag}"),
    ]);
    sha256(manifest.as_bytes())
}

/// Puts each of `tags` into `repository` of the loopback registry, each its own manifest.
fn put_tags(repository: &str, tags: &[String]) {
    for tag in tags {
        put_image(&format!("http://{REGISTRY}"), repository, tag, tag);
    }
}

fn tag(version: &str, timestamp: &str) -> String {
    format!("py{version}-{timestamp}")
}

/// `dagster-image --registry <registry> ARGS`.
fn prune(env: &Env, registry: &str, args: &str) -> Run {
    env.run_without_engine(&words(&format!(
        "--registry {registry} prune --remote {args}"
    )))
}

/// The sorted `list`.
fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

/// Stdout lines `<verb> <repository>:<tag>` for each of `tags`, sorted.
fn said(verb: &str, repository: &str, run: &Run) -> Vec<String> {
    let prefix = format!("{verb} {repository}:");
    let mut tags: Vec<String> = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    tags.sort();
    tags
}

#[test]
fn prune_remote_deletes_old_builds_by_digest_keeping_recorded_named_and_shared_tags() {
    let env = catalog(T1);
    let path = format!("{}/app", env.registry_path());
    let repository = format!("{REGISTRY}/{path}");
    let builds: Vec<String> = [T1, T2, T3, T4, T5]
        .iter()
        .map(|t| tag("3.9", t))
        .chain([tag("3.10", T1), tag("3.10", T2), tag("3.10", T6)])
        .chain([
            format!("py3.9-{T2}-linux-arm64"),
            format!("py3.9-{T4}-linux-arm64"),
        ])
        .chain(["latest".to_owned(), "py3.9-custom".to_owned()])
        .collect();
    put_tags(&path, &builds);
    // `latest` is T4's manifest: T4 shares it with a tag that stays.
    let t4 = put_image(
        &format!("http://{REGISTRY}"),
        &path,
        "latest",
        &tag("3.9", T4),
    );
    assert_eq!(common::registry_digest(&path, &tag("3.9", T4)), Some(t4));
    // A file naming published tags names 3.10 at T6, and defines.py the timestamp T3.
    env.write("app/image.yaml", "references:\n  - images/ci/Dockerfile\n");
    env.write("ci/Dockerfile", &format!("FROM {repository}:py3.10-{T6}\n"));
    std::fs::create_dir_all(env.root().join(".buildkite")).unwrap();
    std::fs::write(
        env.root().join(".buildkite/defines.py"),
        format!("UNIT_IMAGE_VERSION = \"{T3}\"\n"),
    )
    .unwrap();
    // Kept: 3.9 at T1 (recorded), T3 (defines.py), T5 (newest), T4 (`latest`'s manifest);
    // 3.10 at T6 (named), T2 (newest of the rest); arm64 at T4 (newest); the other tags.
    let doomed = sorted(&[
        tag("3.9", T2),
        tag("3.10", T1),
        format!("py3.9-{T2}-linux-arm64"),
    ]);

    let dry = prune(&env, &env.registry(), "--keep 1 --dry-run").success();
    assert_eq!(said("would delete", &repository, &dry), doomed, "{dry:?}");
    assert_eq!(
        registry_tags(&path),
        sorted(&builds),
        "a dry run deletes nothing"
    );

    let log = AccessLog::mark(REGISTRY_LOG);
    let run = prune(&env, &env.registry(), "--keep 1").success();
    assert_eq!(said("deleted", &repository, &run), doomed, "{run:?}");
    let deletes: Vec<String> = log
        .requests(&path)
        .into_iter()
        .filter(|request| request.method == "DELETE")
        .map(|request| request.path)
        .collect();
    assert_eq!(deletes.len(), 3, "one DELETE per manifest: {deletes:?}");
    assert!(
        deletes.iter().all(|p| p.contains("/manifests/sha256:")),
        "{deletes:?}"
    );
    let left: Vec<String> = builds
        .iter()
        .filter(|t| !doomed.contains(t))
        .cloned()
        .collect();
    assert_eq!(registry_tags(&path), sorted(&left));
    let again = prune(&env, &env.registry(), "--keep 1").success();
    assert_eq!(again.stdout, "nothing to prune\n");
}
