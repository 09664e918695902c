//! The BuildKit daemon and buildx builder `bk` of `../shared/tools/buildkit/buildkit.sh`, set up
//! by `scripts/setup-buildkit.sh`, for tests that run a bake file with real buildx.
//!
//! Without `buildkit.sh` (a checkout without `../shared`) such a test says so and is skipped;
//! with it, a builder that does not answer fails the test with the command that fixes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Env, REGISTRY, Run};

/// The builder that `buildkit.sh start` creates.
pub const BUILDER: &str = "bk";
/// The example catalog's root image as the loopback registry holds it, where BuildKit pulls it.
pub const REGISTRY_BASE: &str = "127.0.0.1:5000/dagster-image/rootfs:busybox";

/// buildx and the environment it runs in (its private `DOCKER_CONFIG`, its `PATH`).
pub struct BuildKit {
    env: BTreeMap<String, String>,
}

impl BuildKit {
    /// The builder, ready; `None`, after printing why, when this checkout has no `buildkit.sh`.
    pub fn require(test: &str) -> Option<Self> {
        let script = script();
        if !script.exists() {
            eprintln!(
                "skipped: {test}: no {} (BuildKit and buildx are in ../shared/tools/buildkit)",
                script.display()
            );
            return None;
        }
        let buildkit = Self {
            env: exports(&script, None),
        };
        let inspect = buildkit
            .docker(&["buildx", "inspect", BUILDER, "--bootstrap"])
            .output()
            .expect("run docker buildx");
        assert!(
            inspect.status.success(),
            "the BuildKit builder `{BUILDER}` does not answer: run `scripts/setup-buildkit.sh` \
             first\n{}",
            String::from_utf8_lossy(&inspect.stderr)
        );
        let base = Command::new("curl")
            .args(["-fsS", "-o", "/dev/null"])
            .arg(format!(
                "http://{REGISTRY}/v2/dagster-image/rootfs/manifests/busybox"
            ))
            .status();
        assert!(
            base.is_ok_and(|s| s.success()),
            "{REGISTRY_BASE} is not in the registry: run `scripts/setup-buildkit.sh` first"
        );
        Some(buildkit)
    }

    /// buildx's environment, as variables for `Env::run_with`.
    pub fn variables(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `docker ARGS` in buildx's environment.
    pub fn docker(&self, args: &[&str]) -> Command {
        let mut command = Command::new("docker");
        // Bake's check of the folders it reads is what a test of `--allow` looks at.
        command
            .args(args)
            .envs(&self.env)
            .env_remove("BUILDX_BAKE_ENTITLEMENTS_FS");
        command
    }

    /// `docker buildx bake -f FILE --builder bk ARGS` in `dir`.
    pub fn bake(&self, file: &Path, dir: &Path, args: &[&str]) -> Run {
        let mut command = self.docker(&["buildx", "bake", "--builder", BUILDER]);
        command.arg("-f").arg(file).args(["--progress", "plain"]);
        command.args(args).current_dir(dir);
        Run::from(command.output().expect("run docker buildx bake"))
    }
}

/// A buildkitd of the test's own (`buildkit.sh start` with its `BUILDKIT_HOME` in a temporary
/// folder, its own socket, state and builder `bk`), whose cache the test may empty without
/// touching the shared daemon's; stopped when dropped.
pub struct OwnBuildKit {
    home: tempfile::TempDir,
    pub buildkit: BuildKit,
}

impl OwnBuildKit {
    /// Started, pushing to and pulling from the loopback registry, on the shared daemon's
    /// unpacked binaries (linked, not unpacked again).
    pub fn start(shared: &BuildKit) -> Self {
        let home = tempfile::Builder::new()
            .prefix("bk")
            .tempdir_in("/tmp")
            .expect("make a BuildKit home");
        let shared_bin = Path::new(&shared.env["DOCKER_CONFIG"])
            .parent()
            .expect("the shared BuildKit home")
            .join("bin");
        let bin = home.path().join("bin");
        fs_err::create_dir(&bin).unwrap();
        for entry in fs_err::read_dir(&shared_bin).unwrap() {
            let entry = entry.unwrap();
            std::os::unix::fs::symlink(entry.path(), bin.join(entry.file_name())).unwrap();
        }
        let buildkit = BuildKit {
            env: exports(&script(), Some(home.path())),
        };
        let own = Self { home, buildkit };
        own.start_daemon();
        own
    }

    fn script_command(&self, action: &str) -> Command {
        let mut command = Command::new(script());
        command.env("BUILDKIT_HOME", self.home.path()).arg(action);
        command
    }

    fn start_daemon(&self) {
        let output = self
            .script_command("start")
            .args(["--registry", REGISTRY])
            .output()
            .expect("run buildkit.sh start");
        assert!(
            output.status.success(),
            "buildkit.sh start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Stops the daemon and waits until it is gone.
    fn stop_daemon(&self) {
        let pid = fs_err::read_to_string(self.home.path().join("buildkitd.pid")).ok();
        let _ = self.script_command("stop").output();
        let Some(pid) = pid else { return };
        let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
        for _ in 0..300 {
            if !proc.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("buildkitd {} did not stop", pid.trim());
    }

    /// Stops the daemon, deletes its state (every cached layer) and starts it again.
    pub fn empty_its_cache(&self) {
        self.stop_daemon();
        fs_err::remove_dir_all(self.home.path().join("root")).expect("delete the state");
        self.start_daemon();
    }
}

impl Drop for OwnBuildKit {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

/// `../shared/tools/buildkit/buildkit.sh` of this checkout.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/buildkit/buildkit.sh")
}

/// The variables of `buildkit.sh env`'s `export A=x B=y PATH=dir:$PATH` line, for the shared
/// daemon or for the one whose `BUILDKIT_HOME` is `home`.
fn exports(script: &Path, home: Option<&Path>) -> BTreeMap<String, String> {
    let mut command = Command::new(script);
    if let Some(home) = home {
        command.env("BUILDKIT_HOME", home);
    }
    let output = command.arg("env").output().expect("run buildkit.sh env");
    let line = String::from_utf8_lossy(&output.stdout).into_owned();
    let path = std::env::var("PATH").unwrap_or_default();
    line.trim()
        .trim_start_matches("export ")
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.replace("$PATH", &path)))
        .collect()
}

/// A copy of the example catalog whose root image comes from the loopback registry.
pub fn catalog_on_the_registry_base() -> Env {
    let env = Env::new();
    let dockerfile = env.read("python-base/Dockerfile");
    let from = "FROM dagster-image/rootfs:busybox";
    assert!(dockerfile.contains(from), "{dockerfile}");
    env.write(
        "python-base/Dockerfile",
        &dockerfile.replace(from, &format!("FROM {REGISTRY_BASE}")),
    );
    env
}

/// The media type of the manifest `repository:tag` in the test registry (an image manifest or
/// an index), and its digest.
pub fn manifest_type_and_digest(repository: &str, tag: &str) -> (String, String) {
    let accept = [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ];
    let mut command = Command::new("curl");
    command.args(["-fsS", "--head"]);
    for kind in accept {
        command.args(["-H", &format!("Accept: {kind}")]);
    }
    let output = command
        .arg(format!("http://{REGISTRY}/v2/{repository}/manifests/{tag}"))
        .output()
        .expect("run curl");
    assert!(output.status.success(), "no manifest {repository}:{tag}");
    let head = String::from_utf8_lossy(&output.stdout).into_owned();
    let header = |wanted: &str| {
        head.lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case(wanted)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no {wanted} in {head}"))
    };
    (header("content-type"), header("docker-content-digest"))
}
