//! `publish -t unit`: the whole release on the example catalog against the real engine and
//! registry (the commit pin, the builds, the snapshot, the push, `defines.py` and the files
//! naming the published tags, byte for byte), a run whose push fails and is resumed without
//! rebuilding, starting over, `--dry-run`, and bad input refused before anything changes.

mod common;

use std::path::PathBuf;

use common::{Env, Run, image_exists, image_id, registry_tags, run_image};

const BUILDER: &str = "buildkite-unit-snapshot-builder";
const TARGET: &str = "buildkite-unit";
const OLD_PIN: &str = "5c2b1e9d3f8a7b6c4d2e1f0a9b8c7d6e5f4a3b2c";
const NEW_PIN: &str = "0123456789abcdef0123456789abcdef01234567";
/// The timestamp of the unit images published before the test's.
const PREVIOUS: &str = "2020-12-11T192450";
/// A port nothing listens on: pushing there fails at once.
const DEAD_REGISTRY: &str = "127.0.0.1:1";

/// `.buildkite/defines.py` of the repository, with T = `unit`.
fn defines(unit: &str) -> String {
    format!(
        "# Image versions of the CI.\nINTEGRATION_IMAGE_VERSION = \"2020-12-27T184610\"\n\
         UNIT_IMAGE_VERSION = \"{unit}\"  # buildkite-unit\nCOVERAGE_IMAGE_VERSION = '{PREVIOUS}'\n"
    )
}

/// A Dockerfile of the repository built on the unit image published at `unit`; the other
/// mentions of the previous timestamp are not tags of the unit image.
fn referencing_dockerfile(env: &Env, unit: &str) -> String {
    let registry = env.registry();
    format!(
        "ARG PYTHON_VERSION=3.10\nFROM {registry}/{TARGET}:py${{PYTHON_VERSION}}-{unit}\n\
         # frozen from {registry}/{BUILDER}:py3.10-{PREVIOUS} at {PREVIOUS}\nRUN pip freeze\n"
    )
}

/// The example catalog in a repository whose `defines.py` and `dagster-test/Dockerfile` name
/// the previous unit images, the Dockerfile declared in buildkite-unit/image.yaml.
fn repository() -> Env {
    let env = Env::new();
    write_root(&env, ".buildkite/defines.py", &defines(PREVIOUS));
    write_root(
        &env,
        "dagster-test/Dockerfile",
        &referencing_dockerfile(&env, PREVIOUS),
    );
    env.write(
        &format!("{TARGET}/image.yaml"),
        "references:\n  - dagster-test/Dockerfile\n",
    );
    env
}

fn write_root(env: &Env, relative: &str, content: &str) {
    let path = env.root().join(relative);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, content).unwrap();
}

fn read_root(env: &Env, relative: &str) -> String {
    fs_err::read_to_string(env.root().join(relative)).unwrap()
}

/// `dagster-image --registry REGISTRY publish -t unit --timestamp <the test's> ARGS...`.
fn publish(env: &Env, registry: &str, args: &[&str]) -> Run {
    let mut all = vec!["--registry", registry, "publish", "-t", "unit"];
    all.extend(["--timestamp", &env.timestamp]);
    all.extend_from_slice(args);
    env.run(&all)
}

/// `dagster-image --registry <the test's> publish -t unit --resume`, without `--timestamp`.
fn resume(env: &Env) -> Run {
    env.run(&[
        "--registry",
        &env.registry(),
        "publish",
        "-t",
        "unit",
        "--resume",
    ])
}

fn state_file(env: &Env) -> PathBuf {
    env.state_path("publish-unit.json")
}

/// The repository files publish may edit, and the catalog's, to show that a run left them.
fn repository_files(env: &Env) -> (Vec<(PathBuf, Vec<u8>)>, String, String) {
    (
        env.snapshot_files(),
        read_root(env, ".buildkite/defines.py"),
        read_root(env, "dagster-test/Dockerfile"),
    )
}

/// Every build log of the test's timestamp and its content: a build adds to them.
fn build_logs(env: &Env) -> Vec<(PathBuf, String)> {
    let dir = env.state_path(&format!("logs/{}", env.timestamp));
    let mut logs: Vec<(PathBuf, String)> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = fs_err::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    logs.sort();
    logs
}

/// The ids of every image the run builds at the test's timestamp.
fn built_ids(env: &Env) -> Vec<String> {
    let images = ["python-base", BUILDER, TARGET];
    let tags = images
        .iter()
        .flat_map(|i| ["3.9", "3.10"].map(|v| env.tag(i, v)));
    tags.map(|tag| image_id(&tag)).collect()
}

#[test]
fn publish_pins_builds_snapshots_pushes_and_records_one_timestamp() {
    let env = repository();
    let ts = &env.timestamp;
    let dockerfile = env.read(&format!("{BUILDER}/Dockerfile"));
    let run = publish(&env, &env.registry(), &["--git-hash", NEW_PIN]).success();

    assert_eq!(
        env.read(&format!("{BUILDER}/Dockerfile")),
        dockerfile.replace(OLD_PIN, NEW_PIN)
    );
    for version in ["3.9", "3.10"] {
        let builder = env.tag(BUILDER, version);
        let commit = run_image(&builder, &["cat", "/opt/dagster-commit"]);
        assert_eq!(commit, format!("git checkout {NEW_PIN}\n"), "{builder}");
        let frozen = run_image(&builder, &["pip", "freeze", "--exclude-editable"]);
        assert!(frozen.contains("croniter==0.3.36\n"), "{frozen}");
        let snapshot = env.read(&format!("{TARGET}/snapshot-reqs-{version}.txt"));
        assert_eq!(snapshot, frozen, "snapshot-reqs-{version}.txt");
        let unit = env.tag(TARGET, version);
        assert_eq!(run_image(&unit, &["pip", "freeze"]), snapshot, "{unit}");
        assert_eq!(
            run_image(&unit, &["cat", "/python-version"]),
            format!("{version}\n")
        );
    }
    for image in ["python-base", BUILDER, TARGET] {
        let recorded = env.read(&format!("{image}/last_updated.yaml"));
        assert!(
            recorded.ends_with(&format!("'3.9': {ts}\n'3.10': {ts}\n")),
            "{image}: {recorded}"
        );
    }
    let repository = format!("{}/{TARGET}", env.registry_path());
    assert_eq!(
        registry_tags(&repository),
        [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
    );
    assert_eq!(
        common::registry_image_id(&repository, &format!("py3.9-{ts}")),
        Some(image_id(&env.tag(TARGET, "3.9")))
    );
    assert_eq!(read_root(&env, ".buildkite/defines.py"), defines(ts));
    assert_eq!(
        read_root(&env, "dagster-test/Dockerfile"),
        referencing_dockerfile(&env, ts)
    );
    assert!(!state_file(&env).exists(), "a finished run leaves no state");

    let snapshot_changes = "  ~ alembic 1.4.2 -> 1.4.3\n  + croniter==0.3.36\n  \
                            + grpcio==1.33.2\n  + protobuf==3.13.0\n  + SQLAlchemy==1.3.20\n";
    let target = env.path(TARGET);
    let target = target.display();
    assert_eq!(
        run.stdout,
        format!(
            "changes in the snapshot of Python 3.9 ({target}/snapshot-reqs-3.9.txt):\n\
             {snapshot_changes}\
             changes in the snapshot of Python 3.10 ({target}/snapshot-reqs-3.10.txt):\n\
             {snapshot_changes}\
             published `{TARGET}` at `{ts}`:\n  {registry}/{TARGET}:py3.9-{ts}\n  \
             {registry}/{TARGET}:py3.10-{ts}\n",
            registry = env.registry()
        )
    );
}

#[test]
fn a_failed_push_resumes_with_the_same_timestamp_without_rebuilding() {
    let env = repository();
    let ts = &env.timestamp;
    let before = repository_files(&env);
    publish(&env, DEAD_REGISTRY, &[])
        .code(1)
        .stderr_has(&format!("step 4/5: push `{TARGET}` to `{DEAD_REGISTRY}`"))
        .stderr_has(&format!("{DEAD_REGISTRY}/{TARGET}:py3.9-{ts}`"))
        .stderr_has("continue with `publish -t unit --resume`");
    assert!(state_file(&env).exists());
    assert_eq!(read_root(&env, ".buildkite/defines.py"), before.1);
    assert_eq!(read_root(&env, "dagster-test/Dockerfile"), before.2);
    let ids = built_ids(&env);
    let logs = build_logs(&env);

    let fresh = env.run(&["--registry", &env.registry(), "publish", "-t", "unit"]);
    fresh
        .code(2)
        .stderr_has(&format!(
            "an unfinished publish of `unit` images at `{ts}` stopped before the step `push`"
        ))
        .stderr_has("continue it with `--resume`, or start over with `--restart`");

    let resumed = resume(&env).success();
    assert!(!resumed.stderr.contains("step 1/5"), "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("step 4/5: push"),
        "{}",
        resumed.stderr
    );
    assert_eq!(built_ids(&env), ids, "nothing was built again");
    assert_eq!(build_logs(&env), logs, "no build ran");
    assert_eq!(
        registry_tags(&format!("{}/{TARGET}", env.registry_path())),
        [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
    );
    assert_eq!(read_root(&env, ".buildkite/defines.py"), defines(ts));
    assert_eq!(
        read_root(&env, "dagster-test/Dockerfile"),
        referencing_dockerfile(&env, ts)
    );
    assert!(!state_file(&env).exists());
}

#[test]
fn restart_discards_the_unfinished_run_and_starts_over_with_a_new_timestamp() {
    let env = repository();
    publish(&env, DEAD_REGISTRY, &[]).code(1);
    let second = env.timestamp_labelled("restart");
    let restart = [
        "--registry",
        DEAD_REGISTRY,
        "publish",
        "-t",
        "unit",
        "--restart",
        "--timestamp",
        &second,
    ];
    let run = env.run(&restart).code(1);
    assert!(
        run.stderr.contains("step 1/5: build every version"),
        "{}",
        run.stderr
    );
    for image in [BUILDER, TARGET] {
        let tag = format!("dagster/{image}:py3.9-{second}");
        assert!(image_exists(&tag), "{tag} was not built");
    }
    let state = fs_err::read_to_string(state_file(&env)).unwrap();
    assert!(
        state.contains(&format!("\"timestamp\": \"{second}\"")),
        "{state}"
    );

    resume(&env).success();
    assert_eq!(read_root(&env, ".buildkite/defines.py"), defines(&second));
    assert_eq!(
        read_root(&env, "dagster-test/Dockerfile"),
        referencing_dockerfile(&env, &second)
    );
}

#[test]
fn dry_run_prints_every_step_with_its_commands_and_diffs_and_changes_nothing() {
    let env = repository();
    let ts = &env.timestamp;
    let registry = env.registry();
    let before = repository_files(&env);
    let run = publish(&env, &registry, &["--git-hash", NEW_PIN, "--dry-run"]).success();
    let root = env.root().display().to_string();
    let docker = common::docker();
    let expected_in_order = [
        format!("# step 1/6: pin `{BUILDER}` to commit `{NEW_PIN}`\n"),
        format!("-RUN echo \"git checkout {OLD_PIN}\" > /opt/dagster-commit\n"),
        format!("+RUN echo \"git checkout {NEW_PIN}\" > /opt/dagster-commit\n"),
        "# step 2/6: build every version".to_owned(),
        format!("{docker} build --force-rm --tag dagster/python-base:py3.9-{ts} "),
        format!("{docker} build --force-rm --tag dagster/{BUILDER}:py3.9-{ts} "),
        "# step 3/6: freeze".to_owned(),
        format!("{docker} run --rm dagster/{BUILDER}:py3.9-{ts} pip freeze --exclude-editable > "),
        "# step 4/6: build every version".to_owned(),
        format!("--build-arg BASE_IMAGE=dagster/python-base:py3.10-{ts} "),
        format!("# step 5/6: push `{TARGET}` to `{registry}`\n"),
        format!("{docker} push {registry}/{TARGET}:py3.10-{ts}\n"),
        "# step 6/6: record".to_owned(),
        format!("--- {root}/.buildkite/defines.py\n"),
        format!("-UNIT_IMAGE_VERSION = \"{PREVIOUS}\"  # buildkite-unit\n"),
        format!("+UNIT_IMAGE_VERSION = \"{ts}\"  # buildkite-unit\n"),
        format!("-FROM {registry}/{TARGET}:py${{PYTHON_VERSION}}-{PREVIOUS}\n"),
        format!("+FROM {registry}/{TARGET}:py${{PYTHON_VERSION}}-{ts}\n"),
    ];
    let mut rest = run.stdout.as_str();
    for expected in &expected_in_order {
        let at = rest.find(expected.as_str());
        assert!(
            at.is_some(),
            "{expected:?} missing, or out of order, in:\n{}",
            run.stdout
        );
        rest = &rest[at.unwrap_or_default() + expected.len()..];
    }
    let target_builds = run.stdout.split("# step 4/6").nth(1).unwrap_or_default();
    let target_builds = target_builds.split("# step 5/6").next().unwrap_or_default();
    assert!(
        !target_builds.contains("--tag dagster/python-base"),
        "the bases are built once, by step 2:\n{target_builds}"
    );
    assert_eq!(repository_files(&env), before);
    assert!(!env.root().join(".dagster-image").exists());
    assert_eq!(env.images_built(), Vec::<String>::new());
}

#[test]
fn without_defines_the_references_move_from_the_last_built_timestamp() {
    let env = repository();
    fs_err::remove_file(env.root().join(".buildkite/defines.py")).unwrap();
    env.write(
        &format!("{TARGET}/last_updated.yaml"),
        &format!("'3.9': {PREVIOUS}\n'3.10': {PREVIOUS}\n"),
    );
    let run = publish(&env, &env.registry(), &["--dry-run"]).success();
    let ts = &env.timestamp;
    assert!(!run.stdout.contains("defines.py"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "+FROM {}/{TARGET}:py${{PYTHON_VERSION}}-{ts}\n",
            env.registry()
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn without_a_git_hash_the_builder_needs_no_pin_and_keeps_its_dockerfile() {
    let env = repository();
    let dockerfile = format!("{BUILDER}/Dockerfile");
    env.write(&dockerfile, "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n");
    let run = publish(&env, &env.registry(), &["--dry-run"]).success();
    assert!(
        run.stdout.starts_with("# step 1/5: build every version"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout
            .contains(&format!("+++ {}", env.path(&dockerfile).display()))
    );
}

#[test]
fn a_second_publish_on_the_catalog_is_refused_while_one_runs() {
    let env = repository();
    let running = fs_err::File::open(env.images()).unwrap();
    running.file().lock().unwrap();
    publish(&env, &env.registry(), &[])
        .code(1)
        .stderr_has("another publish is running on the catalog");
    assert!(!state_file(&env).exists());
    assert_eq!(env.images_built(), Vec::<String>::new());
}

/// Runs `publish ARGS` and checks that it is refused as bad input with `message`, and that
/// nothing was built or written.
fn assert_refused(env: &Env, args: &[&str], message: &str) {
    let before = repository_files(env);
    publish(env, &env.registry(), args)
        .code(2)
        .stderr_has(message);
    assert_eq!(repository_files(env), before, "{args:?}");
    assert!(!env.root().join(".dagster-image").exists(), "{args:?}");
    assert_eq!(env.images_built(), Vec::<String>::new());
}

#[test]
fn a_commit_that_is_not_a_full_hash_is_refused() {
    let env = repository();
    assert_refused(
        &env,
        &["--git-hash", "5c2b1e9"],
        "`5c2b1e9` is not a commit hash",
    );
}

#[test]
fn a_builder_dockerfile_pinning_two_commits_is_refused_naming_it() {
    let env = repository();
    let dockerfile = format!("{BUILDER}/Dockerfile");
    let two_pins = format!("{}RUN git checkout {NEW_PIN}\n", env.read(&dockerfile));
    env.write(&dockerfile, &two_pins);
    let message = format!(
        "error: `{}` pins more than one commit (`git checkout <hash>` on lines 5, 8); keep one\n",
        env.path(&dockerfile).display()
    );
    assert_refused(&env, &["--git-hash", NEW_PIN], &message);
}

#[test]
fn a_defines_file_without_the_variable_is_refused_before_building() {
    let env = repository();
    write_root(&env, ".buildkite/defines.py", "UNIT_VERSION = \"x\"\n");
    let message = "/.buildkite/defines.py` does not assign `UNIT_IMAGE_VERSION`; add a line \
                   `UNIT_IMAGE_VERSION = \"...\"`";
    assert_refused(&env, &[], message);
}

#[test]
fn a_reference_outside_the_repository_is_refused_at_its_line() {
    let env = repository();
    env.write(
        &format!("{TARGET}/image.yaml"),
        "references:\n  - dagster-test/Dockerfile\n  - ../outside\n",
    );
    let message = "image.yaml:3: `../outside` must be a path inside the repository";
    assert_refused(&env, &[], message);
}

#[test]
fn resuming_without_an_unfinished_run_is_refused() {
    let env = repository();
    let message = "error: there is no unfinished publish of `unit` images to resume\n";
    assert_refused(&env, &["--resume"], message);
}

/// `--platform` builds every image of the run for each platform given (the builder, its bases,
/// the target), then pushes each platform of the target and puts their index.
#[test]
fn platforms_given_on_the_command_line_are_built_and_pushed_with_their_index() {
    let env = repository();
    let ts = &env.timestamp;
    let registry = env.registry();
    let platforms = ["--platform", "linux/amd64", "--platform", "linux/arm64"];
    let run = publish(&env, &registry, &[&platforms[..], &["--dry-run"]].concat()).success();
    let docker = common::docker();
    for image in ["python-base", BUILDER, TARGET] {
        for arch in ["amd64", "arm64"] {
            let platform_tag = format!("dagster/{image}:py3.10-{ts}-linux-{arch}");
            let built = run.stdout.lines().any(|line| {
                line.starts_with(&format!("{docker} build "))
                    && line.contains(&platform_tag)
                    && line.contains(&format!("--platform linux/{arch}"))
            });
            assert!(built, "no {arch} build of {image}:\n{}", run.stdout);
        }
    }
    let pushed = format!("{docker} push {registry}/{TARGET}:py3.10-{ts}-linux-arm64\n");
    assert!(run.stdout.contains(&pushed), "{}", run.stdout);
    let index = format!("under {registry}/{TARGET}:py3.10-{ts}");
    assert!(run.stdout.contains(&index), "{}", run.stdout);
}

/// `.buildkite/defines.py -> ../ci/defines.py`: the link stays, its target gets T.
#[test]
fn a_linked_defines_file_keeps_its_link_and_its_target_is_edited() {
    let env = repository();
    let ts = &env.timestamp;
    write_root(&env, "ci/defines.py", &defines(PREVIOUS));
    let link = env.root().join(".buildkite/defines.py");
    fs_err::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("../ci/defines.py", &link).unwrap();
    publish(&env, &env.registry(), &[]).success();
    assert!(fs_err::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(read_root(&env, "ci/defines.py"), defines(ts));
}
