//! Test harness: a copy of the example catalog in a temporary folder, the built binary run
//! against it, and helpers that ask the real Docker engine and registry what happened.
//!
//! Tests need a running engine and the registry of `scripts/setup-engine.sh`; without them they
//! fail at once with a message saying so, never skip.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod access_log;
pub mod buildkit;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The loopback registry started by `scripts/setup-engine.sh`.
pub const REGISTRY: &str = "127.0.0.1:5000";

static ENGINE_CHECK: Once = Once::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A catalog in a temporary folder, and a timestamp unique to this test for the images it builds
/// (removed from the engine by `scripts/test.sh` after the tests).
pub struct Env {
    dir: tempfile::TempDir,
    pub timestamp: String,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Env {
    /// A copy of `examples/images`.
    pub fn new() -> Self {
        let env = Self::empty();
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/images"),
            &env.images(),
        );
        env
    }

    /// An empty `images/` folder.
    pub fn empty() -> Self {
        require_engine();
        let dir = tempfile::tempdir().expect("temporary folder");
        fs_err::create_dir(dir.path().join("images")).unwrap();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Self {
            dir,
            timestamp: format!("test-{}-{n}", run_id()),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn images(&self) -> PathBuf {
        self.dir.path().join("images")
    }

    /// A path inside the images folder.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.images().join(relative)
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, content).unwrap();
    }

    pub fn read(&self, relative: &str) -> String {
        fs_err::read_to_string(self.path(relative)).unwrap()
    }

    /// Every file of the catalog and its bytes, to show that a run changed nothing.
    pub fn snapshot_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        collect_files(&self.images(), &mut files);
        files.sort();
        files
    }

    /// `dagster-image --images-dir <images> ARGS...`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Like `run`, with extra environment variables.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        Run::from(command.output().expect("run dagster-image"))
    }

    /// The command without running it, for tests that need to signal it or set its folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare(&["--images-dir"]);
        command.arg(self.images()).args(args);
        command
    }

    /// `dagster-image ARGS...` in the test's root folder, without `--images-dir`.
    pub fn bare(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dagster-image"));
        command
            .args(args)
            .current_dir(self.root())
            .env_remove("DAGSTER_IMAGE_REGISTRY")
            .env_remove("DAGSTER_IMAGES_DIR")
            .stdin(Stdio::null());
        command
    }

    /// The local tag of `image` at this test's timestamp.
    pub fn tag(&self, image: &str, python_version: &str) -> String {
        format!("dagster/{image}:py{python_version}-{}", self.timestamp)
    }

    /// A registry path unique to this test: `127.0.0.1:5000/<unique>`.
    pub fn registry(&self) -> String {
        format!("{REGISTRY}/{}", self.registry_path())
    }

    /// The unique path of `registry()` without the host, for `registry_tags` and other registries.
    pub fn registry_path(&self) -> String {
        self.timestamp.replace('-', ".")
    }

    /// A second timestamp for this test, `<label>-<timestamp>`; its images are removed too.
    pub fn timestamp_labelled(&self, label: &str) -> String {
        format!("{label}-{}", self.timestamp)
    }

    /// Every local image whose tag ends with this test's timestamp, as `REPOSITORY:TAG`, sorted.
    pub fn images_built(&self) -> Vec<String> {
        let listing = docker_output(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        let mut ours: Vec<String> = listing
            .lines()
            .filter(|r| r.ends_with(&self.timestamp))
            .map(str::to_owned)
            .collect();
        ours.sort();
        ours
    }
}

impl Env {
    /// Removes every local image tagged with this test's timestamp, local and for the registry;
    /// the engine keeps what is not this test's, such as the root file system. For tests that
    /// need an engine without them; the others leave their images to `scripts/test.sh`, which
    /// removes them once every test has run: removing them as each test ends raced with
    /// another test reusing the same image from the build cache (docker 20.10 deletes an
    /// image whose last tag goes while a concurrent build tags it, leaving a tag of nothing).
    pub fn remove_images(&self) {
        let listing = docker_output(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        let ours: Vec<&str> = listing
            .lines()
            .filter(|r| r.ends_with(&self.timestamp) || r.contains(&self.registry_path()))
            .collect();
        if !ours.is_empty() {
            let _ = Command::new("docker")
                .args(["image", "rm", "--force"])
                .args(ours)
                .output();
        }
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts exit code 0 and returns self.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "expected success:\n{self:#?}");
        self
    }

    /// Asserts the exit code and returns self.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}:\n{self:#?}"
        );
        self
    }

    /// Asserts that stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// Unique to this run of this test binary (process id and start time), so names never collide
/// with those of another run, whose images may still be in the registry.
fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{}x{nanos}", std::process::id())
    })
}

/// Panics, with how to fix it, when the Docker engine or the test registry is not running.
pub fn require_engine() {
    ENGINE_CHECK.call_once(|| {
        let engine = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        assert!(
            engine.is_ok_and(|o| o.status.success()),
            "the Docker engine is not running: run `scripts/setup-engine.sh` first"
        );
        let registry = Command::new("curl")
            .args(["-fsS", &format!("http://{REGISTRY}/v2/")])
            .output();
        assert!(
            registry.is_ok_and(|o| o.status.success()),
            "the test registry {REGISTRY} is not answering: run `scripts/setup-engine.sh` first"
        );
    });
}

/// Runs docker and returns its stdout; panics when it fails.
pub fn docker_output(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        output.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether the engine has an image `reference`.
pub fn image_exists(reference: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `docker run --rm IMAGE ARGS...`, stdout.
pub fn run_image(image: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm", image];
    all.extend_from_slice(args);
    docker_output(&all)
}

/// A GET to the test registry's API, the body.
pub fn registry_get(path: &str) -> String {
    let output = Command::new("curl")
        .args([
            "-fsS",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
        ])
        .arg(format!("http://{REGISTRY}/v2/{path}"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The tags of `repository` (a path inside the test registry), sorted.
pub fn registry_tags(repository: &str) -> Vec<String> {
    tags_in(&registry_get(&format!("{repository}/tags/list")))
}

/// The tags of a registry's `tags/list` answer, sorted; none for an error.
pub fn tags_in(body: &str) -> Vec<String> {
    let Some(list) = body
        .split("\"tags\":[")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
    else {
        return Vec::new();
    };
    let mut tags: Vec<String> = list
        .split(',')
        .map(|t| t.trim_matches('"').to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    tags.sort();
    tags
}

/// A command line as its words, for `env.run(&words(&format!("push --name {name}")))`.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The digest the test registry gives the manifest `repository:tag` (its `Docker-Content-Digest`
/// header), or `None` when there is no such manifest.
pub fn registry_digest(repository: &str, tag: &str) -> Option<String> {
    let docker_v2 = "Accept: application/vnd.docker.distribution.manifest.v2+json";
    let oci = "Accept: application/vnd.oci.image.manifest.v1+json";
    let output = Command::new("curl")
        .args(["-fsS", "--head", "-H", docker_v2, "-H", oci])
        .arg(format!("http://{REGISTRY}/v2/{repository}/manifests/{tag}"))
        .output()
        .expect("run curl");
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("docker-content-digest")
                .then(|| value.trim().to_owned())
        })
}

/// The image id (config digest) that the manifest `repository:tag` in the test registry names,
/// to compare with `docker image inspect --format {{.Id}}` of a local image.
pub fn registry_image_id(repository: &str, tag: &str) -> Option<String> {
    let manifest = registry_get(&format!("{repository}/manifests/{tag}"));
    let config = manifest.split("\"config\"").nth(1)?;
    let digest = config.split("\"digest\"").nth(1)?;
    Some(digest.split('"').nth(1)?.to_owned())
}

/// Writes `text` to `path` as an executable file (a stand-in program).
pub fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs_err::write(path, text).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The id of the local image `reference`.
pub fn image_id(reference: &str) -> String {
    docker_output(&["image", "inspect", "--format", "{{.Id}}", reference])
        .trim()
        .to_owned()
}

fn copy_tree(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for entry in fs_err::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs_err::copy(entry.path(), &target).unwrap();
        }
    }
}

fn collect_files(dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push((path.clone(), fs_err::read(&path).unwrap()));
        }
    }
}

/// The message of an `aws` that has no AWS credentials.
pub const NO_AWS_CREDENTIALS: &str =
    "Unable to locate credentials. You can configure credentials by running \"aws configure\".";

/// A stand-in `aws` without AWS credentials: it notes its call in `aws_calls` and fails as the
/// real one does.
pub fn aws_without_credentials(env: &Env) -> PathBuf {
    let aws = env.root().join("aws-without-credentials");
    let log = env.root().join("aws-calls.log");
    write_executable(
        &aws,
        &format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho >&2\necho '{NO_AWS_CREDENTIALS}' >&2\nexit 255\n",
            log.display()
        ),
    );
    aws
}

/// The calls made to `aws_without_credentials`, one per line.
pub fn aws_calls(env: &Env) -> String {
    fs_err::read_to_string(env.root().join("aws-calls.log")).unwrap_or_default()
}

/// A docker configuration folder of the test's own, without credentials, so that neither the
/// tool nor docker sees the user's logins.
pub fn empty_docker_config(env: &Env) -> PathBuf {
    let dir = env.root().join("empty-docker-config");
    fs_err::create_dir_all(&dir).unwrap();
    dir
}
