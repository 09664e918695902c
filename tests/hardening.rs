//! What must hold however the tool is run: concurrent runs recording into one
//! `last_updated.yaml` all land, a run killed at any moment leaves every file old or new, and
//! secret build arguments never show in what it prints or logs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Run, build_args};
use dagster_image::catalog::LastUpdated;

const COMMENT: &str = "# Written by dagster-image: Python version -> timestamp.\n";
const MODE: u32 = 0o640;

/// Starts `args` with its output discarded, in a process group of its own (so that a SIGKILL
/// can take its docker commands down with it, as a CI timeout would).
fn spawn(env: &Env, args: &[&str]) -> Child {
    env.command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start dagster-image")
}

/// `last_updated.yaml` of `image`, with the comment and mode the tool must keep.
fn write_last_updated(env: &Env, image: &str) {
    let file = format!("{image}/last_updated.yaml");
    env.write(&file, COMMENT);
    fs_err::set_permissions(env.path(&file), std::fs::Permissions::from_mode(MODE)).unwrap();
}

#[test]
fn concurrent_records_of_different_versions_of_one_image_all_land() {
    const ROUNDS: usize = 60;
    let env = Env::empty();
    env.write("app/versions.yaml", "3.9: {}\n3.10: {}\n");
    env.write("app/Dockerfile", "FROM dagster-image/rootfs:busybox\n");
    write_last_updated(&env, "app");
    for round in 0..ROUNDS {
        let (first, second) = (format!("a{round}"), format!("b{round}"));
        let runs = [("3.9", &first), ("3.10", &second)].map(|(version, timestamp)| {
            spawn(
                &env,
                &["record", "--name", "app", "-v", version, "-t", timestamp],
            )
        });
        for mut run in runs {
            assert!(run.wait().unwrap().success(), "round {round}");
        }
        assert_eq!(
            env.read("app/last_updated.yaml"),
            format!("{COMMENT}'3.9': {first}\n'3.10': {second}\n"),
            "round {round}"
        );
    }
    let mode = fs_err::metadata(env.path("app/last_updated.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, MODE);
    eprintln!("{ROUNDS} rounds of two concurrent records: every entry landed");
}

/// Docker reads the build context during the whole build, and a file of it replaced meanwhile
/// breaks its tar (the size changed) or goes in half-written; so a run writing into an image
/// folder waits for another run's build from it, whose image then exists. Ctrl-C ends the wait.
#[test]
fn a_record_waits_until_another_run_has_built_from_the_same_folder() {
    let env = Env::empty();
    env.write("slow/versions.yaml", "3.9: {}\n3.10: {}\n");
    let timestamp = env.timestamp.clone();
    // The timestamp keeps docker's build cache from making the build instant.
    env.write(
        "slow/Dockerfile",
        &format!("FROM dagster-image/rootfs:busybox\nRUN echo {timestamp} && sleep 3\n"),
    );
    write_last_updated(&env, "slow");
    let mut build = spawn(&env, &build_args("slow", "3.9", &timestamp));
    // The build's log is opened once it holds its lock on the folder.
    let log = env.state_path(&format!("logs/{timestamp}/slow-py3.9.log"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log.exists() {
        assert!(Instant::now() < deadline, "the build never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Ctrl-C ends a wait, with nothing written.
    let waiting = env
        .command(&[
            "record",
            "--name",
            "slow",
            "-v",
            "3.10",
            "-t",
            "interrupted",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dagster-image");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(waiting.id() as libc::pid_t, libc::SIGINT) };
    let interrupted = Run::from(waiting.wait_with_output().unwrap());
    interrupted.code(130).stderr_has(&format!(
        "error: interrupted while waiting for another run building from or writing a file in {}",
        env.path("slow").display()
    ));
    assert_eq!(env.read("slow/last_updated.yaml"), COMMENT);

    let record = env.run(&["record", "--name", "slow", "-v", "3.10", "-t", "elsewhere"]);
    assert!(
        common::image_exists(&env.tag("slow", "3.9")),
        "the record finished before the build it had to wait for"
    );
    record.success().stderr_has(&format!(
        "waiting for another run building from or writing a file in {}",
        env.path("slow").display()
    ));
    assert!(build.wait().unwrap().success());
    assert_eq!(
        env.read("slow/last_updated.yaml"),
        format!("{COMMENT}'3.9': {timestamp}\n'3.10': elsewhere\n")
    );
}

/// A small catalog: a base, an image on it with an `image.yaml` copy, and an independent one,
/// two Python versions each: six quick builds.
fn small_catalog() -> Env {
    let env = Env::empty();
    let root = "FROM dagster-image/rootfs:busybox\nARG PYTHON_VERSION\n";
    env.write(
        "base/versions.yaml",
        "3.9: {docker_args: {PYTHON_VERSION: 3.9}}\n3.10: {docker_args: {PYTHON_VERSION: 3.10}}\n",
    );
    env.write(
        "base/Dockerfile",
        &format!("{root}RUN echo $PYTHON_VERSION > /v\n"),
    );
    let on_base = "{base_image: {name: base, source: local}}";
    env.write(
        "app/versions.yaml",
        &format!("3.9: {on_base}\n3.10: {on_base}\n"),
    );
    env.write(
        "app/Dockerfile",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY build_cache/data /data\n",
    );
    env.write("app/image.yaml", "copy:\n  - shared/data\n");
    fs_err::create_dir_all(env.root().join("shared/data")).unwrap();
    fs_err::write(env.root().join("shared/data/file.txt"), "data\n").unwrap();
    env.write("tool/versions.yaml", "3.9: {}\n3.10: {}\n");
    env.write("tool/Dockerfile", &format!("{root}RUN echo tool > /t\n"));
    for image in IMAGES {
        write_last_updated(&env, image);
    }
    env
}

const IMAGES: [&str; 3] = ["base", "app", "tool"];

/// Every `last_updated.yaml` of `IMAGES` as the tool reads it; panics when one does not parse
/// or lost its comment or its mode.
fn read_all(env: &Env, context: &str) -> Vec<LastUpdated> {
    IMAGES
        .iter()
        .map(|image| {
            let path = env.path(&format!("{image}/last_updated.yaml"));
            let text = fs_err::read_to_string(&path).unwrap();
            assert!(
                text.starts_with(COMMENT),
                "{context}: comment lost:\n{text}"
            );
            let mode = fs_err::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, MODE, "{context}: mode changed");
            LastUpdated::parse(&path, &text).unwrap_or_else(|e| panic!("{context}: {e}\n{text}"))
        })
        .collect()
}

/// Temporary files of atomic writes left in the image folders.
fn temp_files(env: &Env) -> Vec<String> {
    IMAGES
        .iter()
        .flat_map(|image| fs_err::read_dir(env.path(image)).unwrap())
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".dagster-image-"))
        .collect()
}

/// Pseudo-random numbers (xorshift); the seed is in every failure message.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Sends `run` a SIGKILL (with its docker commands) or a SIGTERM (which it must handle) after
/// `delay`; true when it was still running then. Podman's commands are the engine itself, not
/// clients of a daemon: a SIGKILL in the middle of a commit corrupts its image store (as killing
/// dockerd would), so with podman the SIGKILL goes to the tool alone and podman finishes.
fn kill_after(run: &Child, delay: Duration, sigkill: bool) -> bool {
    std::thread::sleep(delay);
    let pid = run.id() as libc::pid_t;
    let killed = if common::engine::Engine::under_test() == common::engine::Engine::Podman {
        pid
    } else {
        -pid
    };
    // SAFETY: kill(2) and waitid(2) on our own child (left unreaped: WNOWAIT), or on the process
    // group it leads.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        let running = libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) == 0
            && info.si_pid() == 0;
        if sigkill {
            libc::kill(killed, libc::SIGKILL);
        } else {
            libc::kill(pid, libc::SIGTERM);
        }
        running
    }
}

/// `build-all -t timestamp` run to its end. On podman, a kill that cut off a commit can leave
/// podman's store with an image without its manifest (podman 4.3's, see
/// src/engine/broken_store.rs), on which every later podman command fails: the run must then
/// fail naming that image and the command that removes it, and, that command run as a user
/// would, succeed.
fn build_all_repairing_podmans_store(env: &Env, timestamp: &str) {
    const REMOVE: &str = "`podman rmi --force ";
    for _ in 0..5 {
        let run = env.run(&["build-all", "-t", timestamp, "-j", "2"]);
        let Some((_, hinted)) = run.stderr.split_once(REMOVE) else {
            run.success();
            return;
        };
        assert_eq!(
            common::engine::Engine::under_test(),
            common::engine::Engine::Podman
        );
        let id = &hinted[..hinted.find('`').expect("the hint's command ends")];
        eprintln!("podman's store broken by a kill; removing image {id} as the hint says");
        let removed = std::process::Command::new("podman")
            .args(["rmi", "--force", id])
            .status()
            .expect("run podman");
        assert!(removed.success(), "podman rmi --force {id}: {removed}");
    }
    panic!("podman's store still broken after five repairs");
}

#[test]
fn a_podman_store_broken_by_a_cut_off_commit_is_named_with_the_command_that_repairs_it() {
    if common::engine::Engine::under_test() != common::engine::Engine::Podman {
        eprintln!("podman's store only: docker's daemon commits whole images");
        return;
    }
    let env = small_catalog();
    env.run(&build_args("tool", "3.10", &env.timestamp))
        .success();
    // What a commit cut off between the image's record and its manifest leaves.
    let id = common::image_id(&env.tag("tool", "3.10"));
    let id = id.trim_start_matches("sha256:");
    let store = common::docker_output(&["info", "--format", "{{.Store.GraphRoot}}"]);
    fs_err::remove_file(Path::new(store.trim()).join(format!("overlay-images/{id}/manifest")))
        .unwrap();
    let broken = env.run(&["prune", "--images", "--dry-run"]);
    // Repaired before anything is asserted, so that no later test finds the store broken.
    common::docker_output(&["rmi", "--force", id]);
    assert_eq!(broken.code, Some(1), "{broken:?}");
    let hint = format!(
        "hint: podman's store holds image `{id}` without its manifest, as podman leaves it when \
         a commit is cut off"
    );
    assert!(broken.stderr.contains(&hint), "{broken:?}");
    let remove = format!("`podman rmi --force {id}`, then run again\n");
    assert!(broken.stderr.ends_with(&remove), "{broken:?}");
    env.run(&["prune", "--images", "--dry-run"]).success();
}

/// Every entry of `after` is the one of `before` or `timestamp`, and none is lost.
#[track_caller]
fn assert_old_or_new(
    before: &[LastUpdated],
    after: &[LastUpdated],
    timestamp: &str,
    context: &str,
) {
    for (old, new) in before.iter().zip(after) {
        for (version, recorded) in &new.timestamps {
            let is_old = old.get(version).map(|t| t.as_str()) == Some(recorded.as_str());
            assert!(
                is_old || recorded == timestamp,
                "{context}: {version}: {recorded}"
            );
        }
        assert_eq!(new.timestamps.len(), old.timestamps.len(), "{context}");
    }
}

/// `build-all` once to build the layers, then once from the cache, which is what the kills
/// interrupt: how long that takes, so that random delays below it land while it runs.
fn warm_up(env: &Env) -> Duration {
    let mut took = Duration::ZERO;
    for label in ["first", "warm"] {
        let started = Instant::now();
        let timestamp = env.timestamp_labelled(label);
        env.run(&["build-all", "-t", &timestamp, "-j", "2"])
            .success();
        took = started.elapsed();
    }
    took
}

#[test]
fn killing_build_all_at_random_moments_leaves_every_file_old_or_new() {
    const KILLS: usize = 30;
    let env = small_catalog();
    let span_ms = warm_up(&env).as_millis() as u64 * 6 / 5 + 1;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 | 1);
    let mut random = Random(seed);
    let (mut killed_while_running, mut killed_while_writing) = (0, 0);
    for round in 0..KILLS {
        let timestamp = env.timestamp_labelled(&format!("k{round}"));
        let before = read_all(&env, &format!("seed {seed}, before round {round}"));
        let temp_before = temp_files(&env);
        let copy_before = env.path("app/build_cache").exists();
        let mut run = spawn(&env, &["build-all", "-t", &timestamp, "-j", "2"]);
        let delay = Duration::from_millis(random.below(span_ms));
        let sigkill = random.below(2) == 0;
        killed_while_running += usize::from(kill_after(&run, delay, sigkill));
        let started = Instant::now();
        let status = run.wait().unwrap();
        let context = format!("seed {seed}, round {round}, sigkill {sigkill}, {status}");
        assert_old_or_new(&before, &read_all(&env, &context), &timestamp, &context);
        // Only a SIGKILL between a write's temporary file and its rename leaves one, until the
        // next write of that file removes it.
        let new_temp_files = temp_files(&env)
            .into_iter()
            .any(|t| !temp_before.contains(&t));
        killed_while_writing += usize::from(new_temp_files);
        if !sigkill {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{context}: slow to stop"
            );
            assert!(!new_temp_files, "{context}");
            // A copy a SIGKILLed run left stays until a run gets as far as making its copies.
            let copy_left = env.path("app/build_cache").exists();
            assert!(!copy_left || copy_before, "{context}: copy left");
        }
    }
    // The delays are drawn below 1.2 times a whole run, so about five kills in six land while
    // it runs; a kill after the run ended proves nothing.
    assert!(
        killed_while_running >= KILLS / 2,
        "only {killed_while_running} of {KILLS} kills landed while build-all was running \
         (seed {seed}, span {span_ms} ms)"
    );
    // What a SIGKILL in the middle of a write leaves, for the next run to clean.
    env.write(
        "base/.dagster-image-last_updated.yaml.a1B2c3",
        "'3.9': half",
    );
    let last = env.timestamp_labelled("last");
    build_all_repairing_podmans_store(&env, &last);
    for recorded in read_all(&env, "after the last run") {
        assert_eq!(recorded.get("3.9").map(|t| t.as_str()), Some(last.as_str()));
        assert_eq!(
            recorded.get("3.10").map(|t| t.as_str()),
            Some(last.as_str())
        );
    }
    assert_eq!(temp_files(&env), Vec::<String>::new());
    assert!(!env.path("app/build_cache").exists(), "the copy is removed");
    assert!(!env.state_path("copies/app.jsonl").exists());
    eprintln!(
        "{KILLS} kills ({killed_while_running} while running, {killed_while_writing} between a \
         temporary file and its rename; seed {seed}): nothing lost"
    );
}

const SECRET: &str = "s3cr3t-value";

/// An image whose build is given `GITHUB_TOKEN` and, failing, prints it as a clone URL would.
fn leaky_catalog() -> Env {
    let env = Env::empty();
    env.write(
        "leaky/versions.yaml",
        &format!("3.9:\n  docker_args:\n    GITHUB_TOKEN: {SECRET}\n"),
    );
    env.write(
        "leaky/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nARG GITHUB_TOKEN\n\
         RUN echo \"cloning https://$GITHUB_TOKEN@example.com/repo\" && exit 3\n",
    );
    env
}

/// Every file under `dir`, read.
fn texts_under(dir: &Path) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            texts.extend(texts_under(&path));
        } else {
            let text = String::from_utf8_lossy(&fs_err::read(&path).unwrap()).into_owned();
            texts.push((path.display().to_string(), text));
        }
    }
    texts
}

fn build_leaky(timestamp: &str) -> [&str; 7] {
    build_args("leaky", "3.9", timestamp)
}

#[track_caller]
fn assert_secret_hidden(run: &Run) {
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "{run:#?}"
    );
}

#[test]
fn a_secret_build_arg_shows_nowhere_in_a_dry_run() {
    let env = leaky_catalog();
    let dry_run = [&build_leaky(&env.timestamp)[..], &["--dry-run"]].concat();
    let run = env.run(&dry_run).success();
    assert!(
        run.stdout.contains("--build-arg 'GITHUB_TOKEN=***'"),
        "{}",
        run.stdout
    );
    assert_secret_hidden(&run);
}

#[test]
fn a_secret_build_arg_printed_by_a_failing_build_shows_nowhere_in_output_or_logs() {
    let env = leaky_catalog();
    let build_all = ["build-all", "-t", &env.timestamp, "-j", "2"];
    for args in [&build_leaky(&env.timestamp)[..], &build_all] {
        let run = env.run(args).code(1);
        assert!(
            run.stderr.contains("cloning https://***@example.com/repo"),
            "the build's output is shown, the secret replaced: {}",
            run.stderr
        );
        assert_secret_hidden(&run);
    }
    let logs = texts_under(&env.state_path("logs"));
    assert!(!logs.is_empty());
    for (path, text) in logs {
        assert!(!text.contains(SECRET), "{path}:\n{text}");
    }
}

/// `build-all 2>&1 | head -1`: once the reader is gone, every line the tool writes fails. The
/// run must still build, record and exit with its outcome: before, a build's thread panicked
/// on its next line and the run waited for it forever.
#[test]
fn a_run_whose_output_pipe_closes_still_builds_records_and_exits() {
    let env = small_catalog();
    let (reader, writer) = std::io::pipe().expect("a pipe");
    let mut run = env
        .command(&["build-all", "-t", &env.timestamp, "--jobs", "2"])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .expect("start dagster-image");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(reader), &mut first).unwrap();
    assert!(
        !first.is_empty(),
        "the run wrote a line before the pipe closed"
    );
    // The reader dropped: the pipe is closed for the run's next writes.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("the run did not end within 120 s of its output pipe closing");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    for image in IMAGES {
        for version in ["3.9", "3.10"] {
            assert!(
                common::image_exists(&env.tag(image, version)),
                "{image} {version}"
            );
        }
        let recorded = read_all(&env, "after the run")
            .iter()
            .all(|file| file.get("3.9").is_some() && file.get("3.10").is_some());
        assert!(recorded, "every version recorded");
    }
}

/// Lines of an SSH key given as a build argument: long enough to be told apart from build noise.
const KEY_LINES: [&str; 3] = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "-----END OPENSSH PRIVATE KEY-----",
];

/// A multi-line secret printed with `cat` comes out one line at a time: each line is hidden.
#[test]
fn a_multi_line_secret_printed_by_a_build_shows_nowhere_in_output_or_logs() {
    let env = Env::empty();
    let key: String = KEY_LINES
        .iter()
        .map(|line| format!("      {line}\n"))
        .collect();
    env.write(
        "keyed/versions.yaml",
        &format!("3.9:\n  docker_args:\n    SSH_KEY: |\n{key}"),
    );
    env.write(
        "keyed/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nARG SSH_KEY\n\
         RUN echo \"$SSH_KEY\" > /tmp/id && cat /tmp/id && exit 3\n",
    );
    let run = env.run(&build_args("keyed", "3.9", &env.timestamp)).code(1);
    let logs = texts_under(&env.state_path("logs"));
    assert!(!logs.is_empty());
    for line in KEY_LINES {
        assert!(
            !run.stderr.contains(line) && !run.stdout.contains(line),
            "{run:#?}"
        );
        for (path, text) in &logs {
            assert!(!text.contains(line), "{path}:\n{text}");
        }
    }
    assert!(run.stderr.contains("***"), "{}", run.stderr);
}

/// `check` expands `COPY` sources with the build arguments to say which is missing; a secret's
/// value in one is hidden.
#[test]
fn check_hides_a_secret_expanded_into_a_copy_source() {
    let env = Env::empty_without_engine();
    env.write(
        "leaky/versions.yaml",
        &format!("3.9:\n  docker_args:\n    GITHUB_TOKEN: {SECRET}\n"),
    );
    env.write(
        "leaky/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nARG GITHUB_TOKEN\nCOPY cfg-${GITHUB_TOKEN}.txt /cfg\n",
    );
    let run = env.run_without_engine(&["check"]).code(1);
    assert!(run.stdout.contains("(`cfg-***.txt`)"), "{run:#?}");
    assert_secret_hidden(&run);
}

/// The label of upstream images names each `FROM` as expanded: a secret in one
/// (`FROM registry/${BASE_TOKEN}:1`) is hidden in `--dry-run` and on the built image, and the
/// image is still recognised as unchanged.
#[test]
fn a_secret_in_a_from_line_shows_neither_in_a_dry_run_nor_on_the_image() {
    let env = Env::empty();
    // The secret is the base's tag, so that the image builds here.
    env.write(
        "based/versions.yaml",
        "3.9:\n  docker_args:\n    BASE_TOKEN: busybox\n",
    );
    env.write(
        "based/Dockerfile",
        "ARG BASE_TOKEN\nFROM dagster-image/rootfs:${BASE_TOKEN}\nRUN true\n",
    );
    let secret_reference = "rootfs:busybox";
    let build = build_args("based", "3.9", &env.timestamp);
    let dry_run = env.run(&[&build[..], &["--dry-run"]].concat()).success();
    assert!(dry_run.stdout.contains("rootfs:***"), "{dry_run:#?}");
    assert!(
        !dry_run.stdout.contains(secret_reference) && !dry_run.stderr.contains(secret_reference),
        "{dry_run:#?}"
    );
    env.run(&build).success();
    let labels = common::docker_output(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &env.tag("based", "3.9"),
    ]);
    assert!(labels.contains("rootfs:***"), "{labels}");
    assert!(!labels.contains(secret_reference), "{labels}");
    let skip = env
        .run(&[
            "build-all",
            "--skip-unchanged",
            "-t",
            &env.timestamp_labelled("again"),
        ])
        .success();
    assert!(
        !common::image_exists(&format!(
            "dagster/based:py3.9-{}",
            env.timestamp_labelled("again")
        )),
        "{skip:#?}"
    );
}

/// Names users give secrets beyond the four words, and passwords inside URLs, are masked in
/// every command line the tool prints.
#[test]
fn secrets_named_otherwise_and_url_passwords_show_nowhere_in_a_dry_run() {
    let env = Env::empty();
    let values = ["pw-0123456", "auth-0123456", "pat-0123456", "url-0123456"];
    env.write(
        "named/versions.yaml",
        &format!(
            "3.9:\n  docker_args:\n    DB_PASSWD: {}\n    NPM_AUTH: {}\n    GITHUB_PAT: {}\n    \
             PIP_INDEX_URL: https://me:{}@pypi.example/simple\n",
            values[0], values[1], values[2], values[3]
        ),
    );
    env.write("named/Dockerfile", "FROM dagster-image/rootfs:busybox\n");
    let dry_run = [
        &build_args("named", "3.9", &env.timestamp)[..],
        &["--dry-run"],
    ]
    .concat();
    let run = env.run(&dry_run).success();
    for value in values {
        assert!(
            !run.stdout.contains(value) && !run.stderr.contains(value),
            "{run:#?}"
        );
    }
    assert!(
        run.stdout
            .contains("PIP_INDEX_URL=https://me:***@pypi.example/simple"),
        "{}",
        run.stdout
    );
}
