//! `image.yaml` copies put into the build context and always removed, and Ctrl-C / SIGTERM
//! stopping a build without recording it.

mod common;

use std::time::{Duration, Instant};

use common::{Env, Run, build_args, image_exists, run_image};

const COMMENT: &str =
    "# Written by dagster-image after each successful build: Python version -> timestamp.\n";

/// An image `copier` whose build copies `shared/data` of the repository (the temp root).
fn env_with_copy(dockerfile_tail: &str) -> Env {
    let env = Env::new();
    fs_err::create_dir_all(env.root().join("shared/data")).unwrap();
    fs_err::write(
        env.root().join("shared/data/file.txt"),
        "from the repository\n",
    )
    .unwrap();
    env.write("copier/versions.yaml", "3.10: {}\n");
    env.write("copier/last_updated.yaml", COMMENT);
    env.write("copier/image.yaml", "copy:\n  - shared/data\n");
    env.write(
        "copier/Dockerfile",
        &format!(
            "FROM dagster-image/rootfs:busybox\nCOPY build_cache/data /data\n{dockerfile_tail}"
        ),
    );
    env
}

#[test]
fn declared_copies_are_in_the_build_context_and_removed_afterwards() {
    let env = env_with_copy("");
    env.run(&build_args("copier", "3.10", &env.timestamp))
        .success();
    assert_eq!(
        run_image(&env.tag("copier", "3.10"), &["cat", "/data/file.txt"]),
        "from the repository\n"
    );
    assert!(
        !env.path("copier/build_cache").exists(),
        "the copy is removed after the build"
    );
    assert!(
        !env.state_path("copies/copier.jsonl").exists(),
        "the ledger is removed too"
    );
}

/// The original rsynced `scala_modules` into `buildkite-integration-base` without `*target*`,
/// `.idea` and `*.class`; the `image.yaml` of README's "Moving a Dagster catalog over" does the
/// same with `exclude:`, at any depth.
#[test]
fn a_copy_with_exclude_puts_the_folder_in_the_context_without_the_excluded_files() {
    let env = Env::new();
    let scala = env.root().join("scala_modules");
    let excluded = [
        "target/out.jar",
        ".idea/workspace.xml",
        "Main.class",
        "events/target/events.jar",
        "events/Event.class",
    ];
    let kept = ["build.sbt", "src/Main.scala", "events/Event.scala"];
    for file in excluded.iter().chain(&kept) {
        fs_err::create_dir_all(scala.join(file).parent().unwrap()).unwrap();
        fs_err::write(scala.join(file), file).unwrap();
    }
    env.write("scala/versions.yaml", "3.10: {}\n");
    env.write(
        "scala/image.yaml",
        "copy:\n  - from: scala_modules\n    to: scala_modules\n    exclude: [\"**/*target*\", \"**/.idea\", \"**/*.class\"]\n",
    );
    env.write(
        "scala/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nADD scala_modules /scala_modules\n",
    );
    env.run(&["check", "--name", "scala"]).success();
    env.run(&build_args("scala", "3.10", &env.timestamp))
        .success();

    let listing = run_image(
        &env.tag("scala", "3.10"),
        &["find", "/scala_modules", "-type", "f"],
    );
    let mut copied: Vec<&str> = listing
        .lines()
        .map(|l| l.trim_start_matches("/scala_modules/"))
        .collect();
    copied.sort();
    let mut expected = kept.to_vec();
    expected.sort();
    assert_eq!(copied, expected, "no excluded file: {excluded:?}");
    let folders = run_image(
        &env.tag("scala", "3.10"),
        &["find", "/scala_modules", "-type", "d"],
    );
    assert!(
        !folders.contains("target") && !folders.contains(".idea"),
        "{folders}"
    );
    assert!(
        !env.path("scala/scala_modules").exists(),
        "the copy is removed after the build"
    );
    assert!(
        scala.join("target/out.jar").exists(),
        "the source is untouched"
    );
}

#[test]
fn declared_copies_are_removed_after_a_failed_build() {
    let env = env_with_copy("RUN ls /data/file.txt && exit 7\n");
    env.run(&build_args("copier", "3.10", &env.timestamp))
        .code(1)
        .stderr_has("/data/file.txt");
    assert!(!env.path("copier/build_cache").exists());
    assert_eq!(env.read("copier/last_updated.yaml"), COMMENT);
}

#[test]
fn copies_left_by_a_killed_run_are_cleaned_up_by_the_next_one() {
    let env = env_with_copy("");
    let (run, _) = interrupt_a_sleeping_build(&env, libc::SIGKILL);
    assert_eq!(run.code, None, "killed");
    let leftover = env.path("copier/build_cache");
    assert!(
        leftover.join("data/file.txt").exists(),
        "the killed run left its copy"
    );
    env.write(
        "copier/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nCOPY build_cache/data /data\n",
    );
    env.run(&build_args("copier", "3.10", &env.timestamp))
        .success();
    assert_eq!(
        run_image(&env.tag("copier", "3.10"), &["cat", "/data/file.txt"]),
        "from the repository\n"
    );
    assert!(!leftover.exists());
}

#[test]
fn a_file_of_the_user_in_the_way_of_a_copy_is_bad_input_and_kept() {
    let env = env_with_copy("");
    env.write("copier/build_cache/data", "mine\n");
    env.run(&build_args("copier", "3.10", &env.timestamp))
        .code(2)
        .stderr_has("is in the way of the copy declared in");
    assert_eq!(env.read("copier/build_cache/data"), "mine\n");
    assert!(!image_exists(&env.tag("copier", "3.10")));
    assert!(
        !env.root().join(".dagster-image").exists(),
        "bad input writes no file of the tool either"
    );
}

/// `build --name <image> -v 3.10 -t <timestamp>` started, its stderr kept.
fn start_build(env: &Env, image: &str, timestamp: &str) -> std::process::Child {
    env.command(&build_args(image, "3.10", timestamp))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start dagster-image")
}

/// Several runs on one catalog go on side by side; only a run building an image whose copies
/// another run has in place waits for them to go (they are that run's context), then builds
/// with its own.
#[test]
fn a_run_waits_only_for_the_copies_of_an_image_it_builds() {
    let env = env_with_copy("");
    // A step that takes a while; the timestamp keeps docker's build cache from skipping it.
    env.write(
        "copier/Dockerfile",
        &format!(
            "{}RUN echo {} && sleep 3\n",
            env.read("copier/Dockerfile"),
            env.timestamp
        ),
    );
    env.write("other/versions.yaml", "3.10: {}\n");
    env.write(
        "other/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nRUN echo other > /o\n",
    );
    let first = start_build(&env, "copier", &env.timestamp);
    let ledger = env.state_path("copies/copier.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ledger.exists() {
        assert!(
            Instant::now() < deadline,
            "the first run never put its copies in place"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second_timestamp = env.timestamp_labelled("second");
    let second = start_build(&env, "copier", &second_timestamp);
    let other = env
        .run(&build_args("other", "3.10", &env.timestamp))
        .success();
    assert!(!other.stderr.contains("waiting"), "{}", other.stderr);
    let [first, second] = [first, second].map(|run| {
        let output = run.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    });
    assert!(!first.contains("waiting"), "{first}");
    assert!(
        second.contains("waiting for another run using the image.yaml copies of `copier`"),
        "{second}"
    );
    for timestamp in [&env.timestamp, &second_timestamp] {
        let tag = format!("dagster/copier:py3.10-{timestamp}");
        assert_eq!(
            run_image(&tag, &["cat", "/data/file.txt"]),
            "from the repository\n"
        );
    }
    assert!(!env.path("copier/build_cache").exists());
    assert!(!ledger.exists());
}

#[test]
fn dry_run_lists_the_copies_and_copies_nothing() {
    let env = env_with_copy("");
    let run = env
        .run(&[
            "build-all",
            "--name",
            "copier",
            "-t",
            &env.timestamp,
            "--dry-run",
        ])
        .success();
    let first = run.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("# copy ")
            && first.ends_with("/copier/build_cache/data for the builds, removed afterwards"),
        "{first}"
    );
    assert!(!env.path("copier/build_cache").exists());
}

/// Starts a build whose step sleeps, sends `signal` once the step runs, and returns the run and
/// how long it took to end after the signal. The step echoes the test's timestamp, so that no
/// earlier run's build cache skips it.
fn interrupt_a_sleeping_build(env: &Env, signal: libc::c_int) -> (Run, Duration) {
    env.write(
        "copier/Dockerfile",
        &format!(
            "FROM dagster-image/rootfs:busybox\nCOPY build_cache/data /data\nRUN echo {} && sleep 60\n",
            env.timestamp
        ),
    );
    let child = env
        .command(&[
            "build-all",
            "--name",
            "copier",
            "-t",
            &env.timestamp,
            "-j",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = env.state_path(&format!("logs/{}/copier-py3.10.log", env.timestamp));
    let started = Instant::now();
    while !fs_err::read_to_string(&log).is_ok_and(|text| text.contains("sleep 60")) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the build never reached its sleep step"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        env.path("copier/build_cache/data").exists(),
        "the copy is in place while building"
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let signalled = Instant::now();
    let output = child.wait_with_output().unwrap();
    (Run::from(output), signalled.elapsed())
}

fn assert_interrupted_cleanly(env: &Env, run: Run, took: Duration) {
    let run = run.code(130);
    assert!(took < Duration::from_secs(10), "took {took:?} to stop");
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
    assert_eq!(
        env.read("copier/last_updated.yaml"),
        COMMENT,
        "nothing recorded for the unfinished build"
    );
    assert!(
        !env.path("copier/build_cache").exists(),
        "the copy is removed"
    );
    assert!(!image_exists(&env.tag("copier", "3.10")));
}

#[test]
fn sigint_stops_the_build_records_nothing_and_removes_the_copies() {
    let env = env_with_copy("");
    let (run, took) = interrupt_a_sleeping_build(&env, libc::SIGINT);
    assert_interrupted_cleanly(&env, run, took);
}

#[test]
fn sigterm_stops_the_build_records_nothing_and_removes_the_copies() {
    let env = env_with_copy("");
    let (run, took) = interrupt_a_sleeping_build(&env, libc::SIGTERM);
    assert_interrupted_cleanly(&env, run, took);
}
