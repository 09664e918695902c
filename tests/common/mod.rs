//! Test harness: a copy of the example catalog in a temporary folder, the built binary run
//! against it, and helpers that ask the real engine ([`engine`]: docker or podman) and registry
//! what happened.
//!
//! Tests that touch the engine need it running and the registry of `scripts/setup-engine.sh`;
//! without them they fail at once with a message saying so, never skip. Tests of what needs no
//! engine (`Env::without_engine`) run without a daemon.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod access_log;
pub mod buildkit;
pub mod engine;
pub mod family;
pub mod git;
pub mod pipeline;
pub mod platforms;
pub mod proxy;
pub mod registry_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use engine::Engine;

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
    /// A copy of `examples/images`, for a test that uses the engine.
    pub fn new() -> Self {
        require_engine();
        Self::without_engine()
    }

    /// A copy of `examples/images`, for a test that never touches the engine: it runs without
    /// a daemon.
    pub fn without_engine() -> Self {
        let env = Self::empty_without_engine();
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/images"),
            &env.images(),
        );
        env
    }

    /// An empty `images/` folder, for a test that uses the engine.
    pub fn empty() -> Self {
        require_engine();
        Self::empty_without_engine()
    }

    /// An empty `images/` folder, for a test that never touches the engine.
    pub fn empty_without_engine() -> Self {
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

    /// A path inside the tool's own folder, `.dagster-image/` beside the images folder.
    pub fn state_path(&self, relative: &str) -> PathBuf {
        self.root().join(".dagster-image").join(relative)
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

    /// Like `run_with`, stopped (SIGTERM, as Ctrl-C would) when it has not finished within
    /// `deadline`: the test then fails saying so, with what the run said until then.
    #[track_caller]
    pub fn run_within(&self, args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Run {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("run dagster-image");
        let read = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = read(Box::new(child.stdout.take().expect("stdout")));
        let stderr = read(Box::new(child.stderr.take().expect("stderr")));
        let started = Instant::now();
        let mut stopped = false;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for dagster-image") {
                break status;
            }
            if !stopped && started.elapsed() > deadline {
                let pid = libc::pid_t::try_from(child.id()).expect("a pid");
                // SAFETY: signals our own child, which has not been reaped yet.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                stopped = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let run = Run {
            code: status.code(),
            stdout: stdout.join().expect("stdout read"),
            stderr: stderr.join().expect("stderr read"),
        };
        assert!(
            !stopped,
            "{args:?} did not finish within {deadline:?}:\n{run:#?}"
        );
        run
    }

    /// Runs `args` with a stand-in `$DOCKER` that notes its calls and fails, and asserts that
    /// the engine was never called: for what must be done without one (refusals, plans, files).
    #[track_caller]
    pub fn run_without_engine(&self, args: &[&str]) -> Run {
        let calls = self.root().join("engine-calls");
        let stand_in = self.root().join("no-engine");
        write_executable(
            &stand_in,
            &format!("#!/bin/sh\necho \"$*\" >> '{}'\nexit 1\n", calls.display()),
        );
        let run = self.run_with(args, &[("DOCKER", &stand_in.display().to_string())]);
        let called = fs_err::read_to_string(&calls).unwrap_or_default();
        assert_eq!(called, "", "{args:?} ran the engine");
        run
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
        if engine::none() {
            command.env("DOCKER", engine::NO_ENGINE);
        } else {
            Engine::under_test().configure(&mut command);
        }
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

    /// Every local image whose tag ends with this test's timestamp, as `REPOSITORY:TAG` (as
    /// docker writes it), sorted.
    pub fn images_built(&self) -> Vec<String> {
        let mut ours: Vec<String> = local_tags()
            .into_iter()
            .filter(|r| r.ends_with(&self.timestamp))
            .map(|r| engine::familiar(&r))
            .collect();
        ours.sort();
        ours
    }
}

impl Env {
    /// Removes every local image tagged with this test's timestamp (and its platform tags,
    /// `<timestamp>-<os>-<arch>`), local and for the registry; the engine keeps what is not this
    /// test's, such as the root file system. For tests that need an engine without them; the others leave their images to `scripts/test.sh`, which
    /// removes them once every test has run: removing them as each test ends raced with
    /// another test reusing the same image from the build cache (docker 20.10 deletes an
    /// image whose last tag goes while a concurrent build tags it, leaving a tag of nothing).
    pub fn remove_images(&self) {
        let ours: Vec<String> = local_tags()
            .into_iter()
            .filter(|r| {
                let platform_tag = r.contains(&format!("{}-", self.timestamp));
                r.ends_with(&self.timestamp) || platform_tag || r.contains(&self.registry_path())
            })
            .collect();
        if !ours.is_empty() {
            let _ = engine_command()
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

/// Panics, with how to fix it, when the engine under test, its base image or the test
/// registry is not there.
pub fn require_engine() {
    assert!(
        !engine::none(),
        "this test uses the engine, but runs in the engine-free suite (${}=none): give it \
         `Env::without_engine()` or move it out of `ENGINE_FREE` in scripts/test.sh",
        engine::VARIABLE
    );
    ENGINE_CHECK.call_once(|| {
        let engine = Engine::under_test();
        let setup = engine.setup_script();
        let info = engine_command().arg("info").output();
        assert!(
            info.is_ok_and(|o| o.status.success()),
            "the engine `{}` ({engine:?}, from ${}) is not running: run `{setup}` first",
            engine.program(),
            engine::VARIABLE,
        );
        assert!(
            image_exists(ROOTFS_IMAGE),
            "`{}` has no image `{ROOTFS_IMAGE}`: run `{setup}` first",
            engine.program()
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

/// The base image every test Dockerfile starts from, made by the engine's set-up script.
pub const ROOTFS_IMAGE: &str = "dagster-image/rootfs:busybox";

/// A command of the engine under test, e.g. `engine_command().args(["image", "ls"])`.
pub fn engine_command() -> Command {
    Engine::under_test().command()
}

/// Runs the engine under test (`docker ARGS...` or `podman ARGS...`) and returns its stdout;
/// panics when it fails.
pub fn docker_output(args: &[&str]) -> String {
    let program = Engine::under_test().program();
    let output = engine_command()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}`: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every local image's `REPOSITORY:TAG`, as the engine writes them.
fn local_tags() -> Vec<String> {
    let listing = docker_output(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    listing.lines().map(str::to_owned).collect()
}

/// Whether the engine has an image `reference`.
pub fn image_exists(reference: &str) -> bool {
    engine_command()
        .args(["image", "inspect", reference])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `docker run --rm IMAGE ARGS...` on the engine under test, stdout.
pub fn run_image(image: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm", image];
    all.extend_from_slice(args);
    docker_output(&all)
}

/// A GET to the test registry's API, the body; manifests in docker's format or the OCI one
/// (podman pushes its images as OCI manifests).
pub fn registry_get(path: &str) -> String {
    let output = Command::new("curl")
        .args(["-fsS", "-H", DOCKER_MANIFEST, "-H", OCI_MANIFEST])
        .arg(format!("http://{REGISTRY}/v2/{path}"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const DOCKER_MANIFEST: &str = "Accept: application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "Accept: application/vnd.oci.image.manifest.v1+json";

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
    let output = Command::new("curl")
        .args(["-fsS", "--head", "-H", DOCKER_MANIFEST, "-H", OCI_MANIFEST])
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

/// The id of the local image `reference`, as docker writes it (`sha256:...`).
pub fn image_id(reference: &str) -> String {
    engine::familiar_id(&docker_output(&[
        "image", "inspect", "--format", "{{.Id}}", reference,
    ]))
}

/// `build --name IMAGE -v VERSION -t TIMESTAMP`.
pub fn build_args<'a>(image: &'a str, version: &'a str, timestamp: &'a str) -> [&'a str; 7] {
    ["build", "--name", image, "-v", version, "-t", timestamp]
}

/// The engine's program as the tool prints it in `--dry-run` commands (`docker`, `podman`, or
/// the engine-free suite's missing program).
pub fn docker() -> &'static str {
    if engine::none() {
        engine::NO_ENGINE
    } else {
        Engine::under_test().program()
    }
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
        } else if path.is_file() {
            files.push((path.clone(), fs_err::read(&path).unwrap()));
        } else {
            // A FIFO, a device or a link loop: never read (it would block or fail), its link
            // text stands for it.
            let link = fs_err::read_link(&path).unwrap_or_default();
            files.push((path.clone(), link.into_os_string().into_encoded_bytes()));
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
/// tool nor the engine sees the user's logins. Its `config.json` is there, empty: podman, unlike
/// docker, fails to push when `$DOCKER_CONFIG` has none.
pub fn empty_docker_config(env: &Env) -> PathBuf {
    let dir = env.root().join("empty-docker-config");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("config.json"), "{}\n").unwrap();
    dir
}

/// The SHA-256 of `text` in hex, as busybox's `sha256sum` prints it.
pub fn sha256(text: &str) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, text.as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace().next().unwrap().to_owned()
}
