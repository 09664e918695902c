//! `image.yaml` copies written by a hostile contributor, or a used machine: nothing is read or
//! written outside the repository or through a link, nothing but what a run created is removed,
//! nothing of the catalog is replaced, and nothing hangs. Each refusal is bad input (exit 2)
//! found before any image is built or any file of the tool is written.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Run, build_args, image_exists, run_image};

const COMMENT: &str =
    "# Written by dagster-image after each successful build: Python version -> timestamp.\n";

/// An image `app` copying what `image_yaml` declares, whose Dockerfile ends with `tail`;
/// `shared/data/file.txt` and `src/evil.txt` in the repository.
fn env_copying(image_yaml: &str, tail: &str) -> Env {
    let env = Env::new();
    write_repo_file(&env, "shared/data/file.txt", "from the repository\n");
    write_repo_file(&env, "src/evil.txt", "written by a pull request\n");
    fs_err::create_dir_all(env.root().join("src/pkg")).unwrap();
    env.write("app/versions.yaml", "3.10: {}\n");
    env.write("app/last_updated.yaml", COMMENT);
    env.write("app/image.yaml", image_yaml);
    env.write(
        "app/Dockerfile",
        &format!("FROM dagster-image/rootfs:busybox\nCOPY . /ctx\n{tail}"),
    );
    env
}

fn write_repo_file(env: &Env, relative: &str, text: &str) {
    let path = env.root().join(relative);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

/// A folder outside the repository holding `file.txt`, which no run may touch.
fn outside(env: &Env) -> PathBuf {
    let dir = env.root().parent().unwrap().join(format!(
        "{}-outside",
        env.root().file_name().unwrap().to_string_lossy()
    ));
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("file.txt"), "precious\n").unwrap();
    dir
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
}

/// Runs `command`, failing the test (never hanging it) when it takes longer than `limit`.
#[track_caller]
fn run_within(mut command: Command, limit: Duration) -> Run {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dagster-image");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let run = Run::from(child.wait_with_output().unwrap());
            panic!("still running after {limit:?}, killed:\n{run:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Run::from(child.wait_with_output().unwrap())
}

/// Asserts that a refused run built nothing and wrote nothing: no image, no copy left, no file
/// of the tool.
#[track_caller]
fn assert_nothing_done(env: &Env) {
    assert!(!image_exists(&env.tag("app", "3.10")), "an image was built");
    assert!(
        !env.root().join(".dagster-image").exists(),
        "a file of the tool was written"
    );
    assert_eq!(env.read("app/last_updated.yaml"), COMMENT);
}

/// Asserts that `check` reports a problem of `app/image.yaml` saying `text`, and exits 1.
#[track_caller]
fn assert_check_reports(env: &Env, text: &str) {
    let run = run_within(env.command(&["check"]), Duration::from_secs(60));
    let run = run.code(1);
    let output = format!("{}{}", run.stdout, run.stderr);
    assert!(output.contains("image.yaml"), "{output}");
    assert!(output.contains(text), "check lacks {text:?}:\n{output}");
}

/// `build-all --name app --dry-run`, which must refuse as the build does.
#[track_caller]
fn assert_dry_run_refuses(env: &Env, text: &str) {
    let args = [
        "build-all",
        "--name",
        "app",
        "-t",
        &env.timestamp,
        "--dry-run",
    ];
    run_within(env.command(&args), Duration::from_secs(60))
        .code(2)
        .stderr_has(text);
}

/// Builds `app` and asserts it is refused as bad input saying `text`, nothing done.
#[track_caller]
fn assert_build_refused(env: &Env, text: &str) -> Run {
    let run = run_within(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        Duration::from_secs(120),
    )
    .code(2)
    .stderr_has(text);
    assert_nothing_done(env);
    run
}

// Point 1: a newline in a path.

#[test]
fn a_newline_in_a_copy_destination_is_bad_input_for_check_dry_run_and_build() {
    let env = env_copying("", "");
    let victim = outside(&env);
    fs_err::create_dir_all(env.root().join("src/emptydir")).unwrap();
    let image_yaml = format!(
        "copy:\n  - {{from: src/emptydir, to: \"x\\n{0}\"}}\n  - {{from: src/pkg, to: \"x\\n{0}/victim\"}}\n",
        victim.display()
    );
    env.write("app/image.yaml", &image_yaml);
    assert_check_reports(&env, "holds a control character");
    assert_dry_run_refuses(&env, "holds a control character");
    assert_build_refused(&env, "holds a control character");
    assert_eq!(
        fs_err::read_to_string(victim.join("file.txt")).unwrap(),
        "precious\n"
    );
}

/// Starts a build of `app` at `timestamp` in the catalog `images`, waits until its step
/// `sleep 60` runs, and SIGKILLs the tool alone (its docker command finishes by itself): a run
/// killed mid-build, its copies and ledger left behind.
fn kill_during_build(mut command: Command, log: &Path) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !fs_err::read_to_string(log).is_ok_and(|text| text.contains("sleep 60")) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its sleep step"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the build never reached its sleep step"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_killed_run_in_a_repository_whose_path_holds_a_newline_removes_nothing_outside_it() {
    let env = Env::empty();
    // A repository at `<root>/r\n<root>/victim`: a ledger of bare lines would list
    // `<root>/victim/images/app/build_cache` as a copy of the killed run.
    let repository = PathBuf::from(format!(
        "{}/r\n{}/victim",
        env.root().display(),
        env.root().display()
    ));
    let victim = env.root().join("victim/images/app/build_cache");
    fs_err::create_dir_all(&victim).unwrap();
    fs_err::write(victim.join("mine.txt"), "precious\n").unwrap();
    let images = repository.join("images");
    let data = repository.join("shared/data");
    fs_err::create_dir_all(&data).unwrap();
    fs_err::write(data.join("file.txt"), "from the repository\n").unwrap();
    let write = |relative: &str, text: &str| {
        let path = images.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    };
    write("app/versions.yaml", "3.10: {}\n");
    write("app/last_updated.yaml", COMMENT);
    write("app/image.yaml", "copy:\n  - shared/data\n");
    write(
        "app/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nCOPY build_cache/data /data\n",
    );
    let command = |args: &[&str]| {
        let mut command = env.bare(&["--images-dir"]);
        command.arg(&images).args(args);
        command
    };
    let build = build_args("app", "3.10", &env.timestamp);
    kill_while_the_folder_is_locked(command(&build), &images.join("app"));
    assert!(
        images.join("app/build_cache/data").exists(),
        "the killed run left its copy"
    );

    let run = run_within(command(&build), Duration::from_secs(120));
    assert!(
        victim.join("mine.txt").exists(),
        "a folder outside the repository was removed"
    );
    assert!(
        !images.join("app/build_cache").exists(),
        "the leftover copy is removed"
    );
    // Podman cannot build from a context whose path holds a newline ("stat ...: no such file
    // or directory"); docker can, and the image has the copy.
    if common::Engine::under_test() != common::Engine::Podman {
        run.success();
        assert_eq!(
            run_image(&env.tag("app", "3.10"), &["cat", "/data/file.txt"]),
            "from the repository\n"
        );
    }
}

/// Starts `command`, a build of the image in `folder`, while the test holds the folder's lock:
/// the run makes its copies, then waits for the lock to build, and is SIGKILLed there, leaving
/// its copies and ledger behind, whatever the engine.
fn kill_while_the_folder_is_locked(mut command: Command, folder: &Path) {
    let held = fs_err::File::open(folder).unwrap();
    held.file().lock().unwrap();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for another run") {
        let mut line = String::new();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "no wait: {said}");
        said.push_str(&line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    held.file().unlock().unwrap();
}

// Point 2: links an earlier copy put in place.

#[test]
fn a_copy_through_a_link_that_an_earlier_copy_put_in_place_is_refused() {
    let env = env_copying(
        "copy:\n  - {from: src/pkg, to: d}\n  - {from: src/evil.txt, to: d/out/file.txt}\n",
        "",
    );
    // Inside the copied folder, so the link itself is copied; the second copy would go through.
    fs_err::create_dir_all(env.root().join("src/pkg/sub")).unwrap();
    symlink("sub", env.root().join("src/pkg/out")).unwrap();
    assert_check_reports(&env, "`d/out` is a symlink (an earlier copy puts it there)");
    assert_dry_run_refuses(&env, "`d/out` is a symlink (an earlier copy puts it there)");
    assert_build_refused(&env, "and a copy is never written through one");
    assert!(!env.path("app/d").exists(), "the first copy is removed");
}

#[test]
fn a_link_leading_out_of_a_copied_folder_is_refused_and_nothing_outside_is_written() {
    let env = env_copying(
        "copy:\n  - {from: src/pkg, to: d}\n  - {from: src/evil.txt, to: d/out/file.txt}\n",
        "",
    );
    let outside = outside(&env);
    symlink(&outside, env.root().join("src/pkg/out")).unwrap();
    assert_check_reports(&env, "an absolute path; only links staying inside");
    assert_dry_run_refuses(&env, "an absolute path");
    assert_build_refused(
        &env,
        "only links staying inside the copied folder are copied",
    );
    assert_eq!(
        fs_err::read_to_string(outside.join("file.txt")).unwrap(),
        "precious\n"
    );
}

#[test]
fn a_link_to_the_images_own_versions_yaml_is_refused_and_the_catalog_kept() {
    let env = env_copying(
        "copy:\n  - {from: src/pkg, to: d}\n  - {from: src/evil.txt, to: d/vy}\n",
        "",
    );
    symlink("../versions.yaml", env.root().join("src/pkg/vy")).unwrap();
    let before = env.snapshot_files();
    assert_build_refused(&env, "is a symlink to `../versions.yaml`, which leads out");
    assert_eq!(env.snapshot_files(), before, "the catalog changed");
}

#[test]
fn a_destination_through_a_link_of_the_image_folder_is_refused_even_when_it_stays_inside() {
    let env = env_copying("copy:\n  - {from: src/evil.txt, to: link/x.txt}\n", "");
    fs_err::create_dir_all(env.path("app/sub")).unwrap();
    symlink("sub", env.path("app/link")).unwrap();
    assert_build_refused(
        &env,
        "`link` is a symlink, and a copy is never written through one",
    );
    assert!(!env.path("app/sub/x.txt").exists());
}

// Point 3: a link swapped in while a run waits for the lock.

/// Starts a build of `app` at `timestamp`, its stderr piped.
fn start_build(env: &Env, timestamp: &str) -> Child {
    env.command(&build_args("app", "3.10", timestamp))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_source_swapped_for_a_link_while_a_run_waits_for_the_copy_lock_is_refused() {
    let env = env_copying("copy:\n  - shared/data\n", "");
    env.write(
        "app/Dockerfile",
        &format!(
            "FROM dagster-image/rootfs:busybox\nCOPY build_cache/data /data\nRUN echo {} && sleep 4\n",
            env.timestamp
        ),
    );
    let secrets = outside(&env);
    fs_err::create_dir_all(secrets.join("data")).unwrap();
    fs_err::write(
        secrets.join("data/id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    let first = start_build(&env, &env.timestamp);
    let copied = env.path("app/build_cache/data/file.txt");
    let started = Instant::now();
    while !copied.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no copies made"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second_timestamp = env.timestamp_labelled("second");
    let mut second = start_build(&env, &second_timestamp);
    let mut stderr = BufReader::new(second.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for another run") {
        let mut line = String::new();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "no wait: {said}");
        said.push_str(&line);
    }
    // The second run read the catalog and waits: the folder holding its source becomes a link
    // to a folder with a secret.
    let shared = env.root().join("shared");
    fs_err::rename(&shared, env.root().join("shared.old")).unwrap();
    symlink(&secrets, &shared).unwrap();

    assert!(first.wait_with_output().unwrap().status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = second.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{said}{rest}");
    assert!(rest.contains("is a symlink"), "{said}{rest}");
    let second_tag = format!("dagster/app:py3.10-{second_timestamp}");
    assert!(
        !image_exists(&second_tag),
        "an image was built from the swapped source"
    );
    assert!(!env.path("app/build_cache").exists());
}

// Point 4: copies onto the files of the image.

#[test]
fn a_copy_onto_a_file_the_tool_or_docker_reads_is_bad_input() {
    let env = env_copying("", "");
    for name in [
        "Dockerfile",
        ".dockerignore",
        "versions.yaml",
        "last_updated.yaml",
        "image.yaml",
    ] {
        env.write(
            "app/image.yaml",
            &format!("copy:\n  - {{from: src/evil.txt, to: {name}}}\n"),
        );
        assert_check_reports(&env, &format!("would land on the image's `{name}`"));
    }
}

#[test]
fn a_copy_to_last_updated_yaml_is_refused_before_building_so_no_timestamp_is_lost() {
    let env = env_copying(
        "copy:\n  - {from: src/evil.txt, to: last_updated.yaml}\n",
        "",
    );
    fs_err::remove_file(env.path("app/last_updated.yaml")).unwrap();
    run_within(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        Duration::from_secs(120),
    )
    .code(2)
    .stderr_has("would land on the image's `last_updated.yaml`");
    assert!(!image_exists(&env.tag("app", "3.10")));
    assert!(!env.path("app/last_updated.yaml").exists());
    assert!(!env.root().join(".dagster-image").exists());
}

// Point 5: FIFOs, and a folder copied into itself.

#[test]
fn a_fifo_in_a_copy_source_is_reported_by_check_dry_run_and_build_without_hanging() {
    let env = env_copying("copy:\n  - shared/data\n", "");
    mkfifo(&env.root().join("shared/data/pipe"));
    assert_check_reports(&env, "is a FIFO, socket or device");
    assert_dry_run_refuses(&env, "is a FIFO, socket or device");
    assert_build_refused(&env, "is a FIFO, socket or device");
    assert!(!env.path("app/build_cache").exists());
}

#[test]
fn a_fifo_left_out_by_exclude_is_no_problem() {
    let env = env_copying(
        "copy:\n  - {from: shared/data, to: data, exclude: [pipe]}\n",
        "",
    );
    mkfifo(&env.root().join("shared/data/pipe"));
    run_within(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        Duration::from_secs(120),
    )
    .success();
    assert_eq!(
        run_image(&env.tag("app", "3.10"), &["ls", "/ctx/data"]),
        "file.txt\n"
    );
}

#[test]
fn a_folder_copied_into_its_own_subfolder_is_bad_input_in_one_short_line() {
    let env = env_copying("copy:\n  - {from: images/app/sub, to: sub/inner}\n", "");
    env.write("app/sub/file.txt", "in the image folder\n");
    assert_check_reports(&env, "so it would be copied into itself");
    let run = assert_build_refused(
        &env,
        "`images/app/sub` holds `sub/inner`, so it would be copied into itself",
    );
    assert!(run.stderr.len() < 400, "{}", run.stderr);
    assert!(!env.path("app/sub/inner").exists());
}

// Point 10: destinations written two ways; a copy in the way.

#[test]
fn destinations_ending_in_dot_or_written_two_ways_are_bad_input_and_nothing_is_written() {
    let env = env_copying("", "");
    for (copies, says) in [
        (
            "  - {from: src/evil.txt, to: a/.}\n",
            "must be written plainly",
        ),
        (
            "  - {from: src/evil.txt, to: a/b}\n  - {from: shared/data, to: a//b}\n",
            "must be written plainly",
        ),
        (
            "  - {from: src/evil.txt, to: ./a/b}\n  - {from: shared/data, to: a/b}\n",
            "must be written plainly",
        ),
        (
            "  - {from: src/evil.txt, to: a/b}\n  - {from: shared/data, to: a/b}\n",
            "is the destination of an earlier copy too",
        ),
    ] {
        env.write("app/image.yaml", &format!("copy:\n{copies}"));
        assert_build_refused(&env, says);
        assert!(!env.path("app/a").exists(), "{copies}");
    }
}

// Beyond the issue: what a hostile catalog or a used machine may hold.

#[test]
fn a_forged_ledger_removes_nothing_outside_the_image_folder() {
    let env = env_copying("copy:\n  - shared/data\n", "");
    let victim = outside(&env);
    let meta = fs_err::metadata(&victim).unwrap();
    fs_err::create_dir_all(env.state_path("copies")).unwrap();
    // The ledger of this version, whatever path and identity it names...
    let forged = format!(
        "{{\"to\":\"{0}\",\"identity\":{{\"dev\":{1},\"ino\":{2}}}}}\n{{\"to\":\"../../../{3}\",\"identity\":{{\"dev\":{1},\"ino\":{2}}}}}\n",
        victim.display(),
        meta.dev(),
        meta.ino(),
        victim.file_name().unwrap().to_string_lossy(),
    );
    fs_err::write(env.state_path("copies/app.jsonl"), &forged).unwrap();
    // ...and one of bare lines, as earlier versions wrote.
    fs_err::write(
        env.state_path("copies/app.txt"),
        format!("{}\n", victim.display()),
    )
    .unwrap();
    run_within(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        Duration::from_secs(120),
    )
    .success();
    assert_eq!(
        fs_err::read_to_string(victim.join("file.txt")).unwrap(),
        "precious\n",
        "a forged ledger removed a folder outside the repository"
    );
}

#[test]
fn a_leftover_copy_the_user_replaced_with_their_own_folder_is_kept_and_in_the_way() {
    let env = env_copying("copy:\n  - shared/data\n", "");
    env.write(
        "app/Dockerfile",
        &format!(
            "FROM dagster-image/rootfs:busybox\nCOPY . /ctx\nRUN echo {} && sleep 60\n",
            env.timestamp
        ),
    );
    let log = env.state_path(&format!("logs/{}/app-py3.10.log", env.timestamp));
    kill_during_build(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        &log,
    );
    let leftover = env.path("app/build_cache");
    assert!(
        leftover.join("data/file.txt").exists(),
        "the killed run left its copy"
    );
    // The user moves it away and puts their own work in its place.
    fs_err::rename(&leftover, env.root().join("moved")).unwrap();
    env.write("app/build_cache/data", "mine\n");
    env.write(
        "app/Dockerfile",
        "FROM dagster-image/rootfs:busybox\nCOPY . /ctx\n",
    );
    run_within(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        Duration::from_secs(120),
    )
    .code(2)
    .stderr_has("is in the way of the copy");
    assert_eq!(env.read("app/build_cache/data"), "mine\n");
}

#[test]
fn a_ledger_folder_or_lock_file_committed_as_a_link_is_never_followed() {
    let env = env_copying("copy:\n  - shared/data\n", "");
    let elsewhere = outside(&env);
    fs_err::create_dir_all(env.root().join(".dagster-image")).unwrap();
    symlink(&elsewhere, env.state_path("copies")).unwrap();
    run_within(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        Duration::from_secs(120),
    )
    .code(2)
    .stderr_has("is a symlink; the tool keeps its copies ledgers there");
    assert!(!image_exists(&env.tag("app", "3.10")));

    fs_err::remove_file(env.state_path("copies")).unwrap();
    fs_err::create_dir_all(env.state_path("copies")).unwrap();
    let target = elsewhere.join("made-by-the-lock");
    symlink(&target, env.state_path("copies/app.lock")).unwrap();
    let run = run_within(
        env.command(&build_args("app", "3.10", &env.timestamp)),
        Duration::from_secs(120),
    );
    assert!(!target.exists(), "a file was made through a link");
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert!(!image_exists(&env.tag("app", "3.10")));
    let mut names: Vec<_> = fs_err::read_dir(&elsewhere)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["file.txt"], "files were written outside");
}
