//! `prune --remote` against real registries: the loopback registry (deletes enabled), one of the
//! test's own with deletes off, and the ECR stand-in (moto's `BatchDeleteImage`, asked by the real
//! `aws` CLI). The images are small manifests put into the registry through its API, each with a
//! config of its own (so a manifest of its own) unless a test makes two tags share one; what is
//! left is read back from the registry's tag list.

mod common;

use std::process::{Command, Stdio};

use common::access_log::{AccessLog, REGISTRY_LOG};
use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use common::access_log::ECR_REGISTRY_LOG;
use common::proxy::{Faults, Proxy, RetryAfter, TooMany};
use common::registry_api::{curl, put_image, put_image_with};
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

/// A registry of the test's own, its deletes off, on a free loopback port; stopped when dropped.
struct RegistryWithoutDeletes {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl RegistryWithoutDeletes {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    \
                 enabled: false\nhttp:\n  addr: {host}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (scripts/setup-engine.sh installs it)");
        let registry = Self {
            child,
            host,
            _dir: dir,
        };
        registry.wait_until_up();
        registry
    }

    fn wait_until_up(&self) {
        for _ in 0..100 {
            let up = Command::new("curl")
                .args(["-fsS", &format!("http://{}/v2/", self.host)])
                .output()
                .is_ok_and(|output| output.status.success());
            if up {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the test's registry at {} did not come up", self.host);
    }

    fn tags(&self, repository: &str) -> Vec<String> {
        common::tags_in(&curl(&[&format!(
            "http://{}/v2/{repository}/tags/list",
            self.host
        )]))
    }
}

impl Drop for RegistryWithoutDeletes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_registry_that_does_not_delete_fails_in_one_line_naming_every_tag_not_deleted() {
    let env = catalog(T5);
    let registry = RegistryWithoutDeletes::start();
    let builds: Vec<String> = [T1, T2, T3].iter().map(|t| tag("3.9", t)).collect();
    for build in &builds {
        put_image(&format!("http://{}", registry.host), "ci/app", build, build);
    }
    let run = prune(&env, &format!("{}/ci", registry.host), "--keep 1").code(1);
    let repository = format!("{}/ci/app", registry.host);
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "registry `{}` does not delete manifests (HTTP 405",
            registry.host
        )) && run.stderr.contains(&format!(
            "not deleted: `{repository}:py3.9-{T1}`, `{repository}:py3.9-{T2}`"
        )),
        "{run:?}"
    );
    assert_eq!(registry.tags("ci/app"), builds);
}

#[test]
fn a_failure_midway_names_the_tags_deleted_and_those_not_deleted() {
    let env = catalog(T5);
    let path = format!("{}/app", env.registry_path());
    let builds: Vec<String> = [T1, T2, T3].iter().map(|t| tag("3.9", t)).collect();
    put_tags(&path, &builds);
    let second = common::registry_digest(&path, &builds[1]).unwrap();
    // Every DELETE of T2's manifest is refused for a spent rate limit, for an hour.
    let faults = Faults {
        too_many: Some(TooMany {
            method: Some("DELETE"),
            path_part: Box::leak(second.into_boxed_str()),
            lasting: Duration::from_secs(3600),
            retry_after: RetryAfter::Seconds(3600),
        }),
        ..Faults::default()
    };
    let proxy = Proxy::start(REGISTRY, faults);
    let registry = format!("{}/{}", proxy.host, env.registry_path());
    let run = prune(&env, &registry, "--keep 1").code(1);
    let repository = format!("{registry}/app");
    assert_eq!(
        run.stdout,
        format!("deleted {repository}:py3.9-{T1}\n"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("429 Too Many Requests")
            && run.stderr.contains(&format!(
                "deleted 1 tags before (printed above), not deleted: `{repository}:py3.9-{T2}`"
            )),
        "{run:?}"
    );
    assert_eq!(registry_tags(&path), builds[1..]);
}

#[test]
fn keep_and_older_than_need_remote() {
    let env = catalog(T5);
    for args in ["prune --keep 2", "prune --older-than 3"] {
        let run = env.run_without_engine(&words(args)).code(2);
        assert!(run.stderr.contains("--remote"), "{run:?}");
    }
}

#[test]
fn older_than_spares_the_builds_younger_than_that_many_days() {
    let env = catalog(T5);
    let path = format!("{}/app", env.registry_path());
    let young = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H%M%S")
        .to_string();
    let builds: Vec<String> = [T1, T2, &young].iter().map(|t| tag("3.10", t)).collect();
    put_tags(&path, &builds);
    let run = prune(&env, &env.registry(), "--keep 0 --older-than 30").success();
    let repository = format!("{}/app", env.registry());
    assert_eq!(
        run.stdout,
        format!("deleted {repository}:py3.10-{T1}\ndeleted {repository}:py3.10-{T2}\n")
    );
    assert_eq!(registry_tags(&path), builds[2..]);
}

const ECR_HOST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com:5443";
const MOTO: &str = "http://127.0.0.1:5555";
const AWS_BIN: &str = "/opt/dagster-image-ecr-venv/bin";
const ECR_CA: &str = "/etc/docker/certs.d/123456789012.dkr.ecr.us-west-2.amazonaws.com:5443/ca.crt";
/// Environment for the `aws` CLI to ask moto (`scripts/setup-ecr.sh`), with credentials it
/// accepts.
const AWS_ENV: [(&str, &str); 4] = [
    ("AWS_ENDPOINT_URL", MOTO),
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_DEFAULT_REGION", "us-west-2"),
];

/// `aws ARGS` asking moto; its stdout.
fn aws(args: &[&str]) -> String {
    let output = Command::new(Path::new(AWS_BIN).join("aws"))
        .args(args)
        .envs(AWS_ENV)
        .output()
        .expect("run aws (scripts/setup-ecr.sh installs it)");
    assert!(
        output.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The tags moto's ECR has in `repository`, sorted.
fn moto_tags(repository: &str) -> Vec<String> {
    let listing = aws(&["ecr", "list-images", "--repository-name", repository]);
    let listing: serde_json::Value = serde_json::from_str(&listing).unwrap();
    let mut tags: Vec<String> = listing["imageIds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|id| id["imageTag"].as_str().map(str::to_owned))
        .collect();
    tags.sort();
    tags
}

#[test]
fn on_ecr_prune_remote_deletes_by_tag_with_batch_delete_image() {
    let env = catalog(T5);
    let path = format!("{}/app", env.registry_path());
    let password = aws(&["ecr", "get-login-password"]).trim().to_owned();
    let credentials = format!("AWS:{password}");
    let options = ["--cacert", ECR_CA, "-u", credentials.as_str()];
    aws(&["ecr", "create-repository", "--repository-name", &path]);
    let builds: Vec<String> = [T1, T2, T3].iter().map(|t| tag("3.9", t)).collect();
    for build in &builds {
        let base = format!("https://{ECR_HOST}");
        let (_, manifest) = put_image_with(&options, &base, &path, build, build);
        let put = [
            "ecr",
            "put-image",
            "--repository-name",
            &path,
            "--image-tag",
            build,
        ];
        aws(&[&put[..], &["--image-manifest", &manifest]].concat());
    }
    assert_eq!(moto_tags(&path), builds);
    let log = AccessLog::mark(ECR_REGISTRY_LOG);
    let registry = format!("{ECR_HOST}/{}", env.registry_path());
    let mut command = env.command(&words(&format!(
        "--registry {registry} prune --remote --keep 1"
    )));
    let system_path = std::env::var("PATH").unwrap_or_default();
    command
        .envs(AWS_ENV)
        .env("PATH", format!("{AWS_BIN}:{system_path}"))
        .env("DOCKER_CONFIG", env.root().join("docker-config"))
        .env_remove("AWS_CLI")
        .env_remove("AWS_PROFILE");
    let run = Run::from(command.output().unwrap()).success();
    let repository = format!("{registry}/app");
    assert_eq!(
        run.stdout,
        format!("deleted {repository}:py3.9-{T1}\ndeleted {repository}:py3.9-{T2}\n"),
        "{run:?}"
    );
    assert_eq!(moto_tags(&path), builds[2..], "ECR's API deleted the tags");
    let deletes = log
        .requests(&path)
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(
        deletes, 0,
        "ECR deletes through its API, not the registry's"
    );
}
