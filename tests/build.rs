//! `build` and `build-all` against the real engine: the images they make, the order they make
//! them in, what they record in `last_updated.yaml`, and what a failure leaves behind.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Env, ROOTFS_IMAGE, build_args, image_exists, run_image};

/// The first line of every example `last_updated.yaml`.
const LAST_UPDATED_COMMENT: &str =
    "# Written by dagster-image after each successful build: Python version -> timestamp.\n";

/// A Dockerfile whose build fails at its second step, after printing a recognisable line.
const BROKEN_DOCKERFILE: &str =
    "FROM dagster-image/rootfs:busybox\nRUN echo broken-step-output && exit 3\n";

/// A Dockerfile that builds in a second from the engine's local root file system.
const GOOD_DOCKERFILE: &str = "FROM dagster-image/rootfs:busybox\nRUN echo good > /good\n";

/// Writes an image folder `name` with one Python version, 3.9, built on `base` when given.
fn write_image(env: &Env, name: &str, dockerfile: &str, base: Option<&str>) {
    env.write(&format!("{name}/Dockerfile"), dockerfile);
    let versions = match base {
        Some(base) => format!("3.9:\n  base_image:\n    name: {base}\n    source: local\n"),
        None => "3.9: {}\n".to_owned(),
    };
    env.write(&format!("{name}/versions.yaml"), &versions);
    env.write(&format!("{name}/last_updated.yaml"), LAST_UPDATED_COMMENT);
}

/// `args` with `--dry-run`.
fn dry_run<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [args, &["--dry-run"]].concat()
}

/// The row of `image` in the summary table printed on stderr.
fn summary_row<'a>(stderr: &'a str, image: &str) -> &'a str {
    let table = stderr
        .split_once("\nIMAGE ")
        .map(|(_, table)| table)
        .unwrap_or_else(|| panic!("no summary table on stderr:\n{stderr}"));
    table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(image))
        .unwrap_or_else(|| panic!("no row for {image} in the summary:\n{stderr}"))
}

/// A stand-in for docker that appends its arguments, one per line, to `<root>/docker-calls`.
fn recording_docker(env: &Env) -> (String, std::path::PathBuf) {
    let script = env.root().join("docker");
    let calls = env.root().join("docker-calls");
    // It answers `image inspect` of a built image (what the tool checks the platform of).
    let text = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n\
         case \"$1 $3\" in 'image dagster/'*) printf '[{{\"Id\":\"sha256:1\",\"RepoTags\":\
         [\"%s\"],\"Os\":\"linux\",\"Architecture\":\"amd64\"}}]' \"$3\";; esac\n",
        calls.display()
    );
    fs_err::write(&script, text).unwrap();
    fs_err::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script.display().to_string(), calls)
}

#[test]
fn build_keeps_an_unquoted_3_10_as_version_3_10() {
    let env = Env::new();
    env.run(&build_args("python-base", "3.10", &env.timestamp))
        .success();
    let tag = env.tag("python-base", "3.10");
    assert!(image_exists(&tag), "{tag} was not built");
    assert_eq!(run_image(&tag, &["cat", "/python-version"]), "3.10\n");
    assert!(!image_exists(&env.tag("python-base", "3.1")));
    assert_eq!(env.images_built(), [tag]);
}

#[test]
fn build_records_the_timestamp_keeping_comments_and_file_mode() {
    let env = Env::new();
    let path = env.path("python-base/last_updated.yaml");
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    env.run(&build_args("python-base", "3.10", &env.timestamp))
        .success();
    assert_eq!(
        env.read("python-base/last_updated.yaml"),
        format!("{LAST_UPDATED_COMMENT}'3.10': {}\n", env.timestamp)
    );
    let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "mode {mode:o}");
}

#[test]
/// Entries follow versions.yaml order (3.9 before 3.10) whichever was built first.
fn building_another_version_keeps_the_first_and_a_rebuild_replaces_its_entry_in_place() {
    let env = Env::new();
    let later = env.timestamp_labelled("later");
    env.run(&build_args("python-base", "3.10", &env.timestamp))
        .success();
    env.run(&build_args("python-base", "3.9", &env.timestamp))
        .success();
    assert_eq!(
        env.read("python-base/last_updated.yaml"),
        format!(
            "{LAST_UPDATED_COMMENT}'3.9': {0}\n'3.10': {0}\n",
            env.timestamp
        )
    );
    env.run(&build_args("python-base", "3.10", &later))
        .success();
    assert_eq!(
        env.read("python-base/last_updated.yaml"),
        format!(
            "{LAST_UPDATED_COMMENT}'3.9': {}\n'3.10': {later}\n",
            env.timestamp
        )
    );
    assert!(image_exists(&format!("dagster/python-base:py3.10-{later}")));
}

#[test]
fn build_all_with_deps_builds_the_local_base_and_passes_the_dagster_version() {
    let env = Env::new();
    let ts = &env.timestamp;
    env.run(&[
        "build-all",
        "--name",
        "dagster-app",
        "--with-deps",
        "-t",
        ts,
        "--dagster-version",
        "1.2.3",
        "-j",
        "2",
    ])
    .success();
    assert_eq!(
        env.images_built(),
        [
            env.tag("dagster-app", "3.10"),
            env.tag("dagster-app", "3.9"),
            env.tag("python-base", "3.10"),
            env.tag("python-base", "3.9"),
        ]
    );
    assert_eq!(
        run_image(&env.tag("dagster-app", "3.9"), &[]),
        "dagster 1.2.3 on python 3.9\n"
    );
    assert_eq!(
        run_image(&env.tag("dagster-app", "3.10"), &[]),
        "dagster 1.2.3 on python 3.10\n"
    );
    for image in ["python-base", "dagster-app"] {
        let recorded = env.read(&format!("{image}/last_updated.yaml"));
        for version in ["3.9", "3.10"] {
            let entry = format!("\n'{version}': {ts}\n");
            assert!(recorded.contains(&entry), "{image}: {recorded}");
        }
    }
}

#[test]
fn a_dependent_whose_base_was_never_built_is_refused_with_a_hint_to_add_with_deps() {
    let env = Env::new();
    let before = env.snapshot_files();
    let run = env
        .run(&["build-all", "--name", "dagster-app", "-t", &env.timestamp])
        .code(2);
    assert_eq!(
        run.stderr,
        "error: `dagster-app` builds on `python-base` for Python 3.9, which has not been built yet \
         (no `3.9` in `python-base/last_updated.yaml`)\n\
         hint: build `python-base` first, or add `--with-deps` to build it in the same run\n"
    );
    assert_eq!(env.snapshot_files(), before);
    assert_eq!(env.images_built(), Vec::<String>::new());
}

#[test]
fn a_dependent_builds_on_the_base_timestamp_recorded_in_last_updated() {
    let env = Env::new();
    let base_ts = &env.timestamp;
    let app_ts = env.timestamp_labelled("app");
    // Mark the base so the dependent's image shows which build of it it started from.
    let dockerfile = env.read("python-base/Dockerfile");
    env.write(
        "python-base/Dockerfile",
        &format!("{dockerfile}RUN echo base-{base_ts} > /base-build\n"),
    );
    env.run(&build_args("python-base", "3.9", base_ts))
        .success();
    let app = build_args("dagster-app", "3.9", &app_ts);

    let dry = env.run(&dry_run(&app)).success();
    let base_arg = format!("--build-arg BASE_IMAGE=dagster/python-base:py3.9-{base_ts} ");
    assert!(dry.stdout.contains(&base_arg), "{}", dry.stdout);

    env.run(&app).success();
    let app_tag = format!("dagster/dagster-app:py3.9-{app_ts}");
    assert_eq!(
        run_image(&app_tag, &["cat", "/base-build"]),
        format!("base-{base_ts}\n")
    );
}

#[test]
fn build_all_plans_every_image_version_with_one_timestamp_bases_first() {
    let env = Env::new();
    let ts = &env.timestamp;
    let docker = common::docker();
    let run = env.run(&["build-all", "-t", ts, "--dry-run"]).success();
    let planned: Vec<(String, String)> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("# ") && !line.starts_with("# then"))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (
                words[2].to_owned(),
                words[3].trim_start_matches("py").to_owned(),
            )
        })
        .collect();
    assert_eq!(planned.len(), 8, "{}", run.stdout);
    let position = |image: &str, version: &str| {
        planned
            .iter()
            .position(|(i, v)| i == image && v == version)
            .unwrap_or_else(|| panic!("{image} {version} not planned:\n{}", run.stdout))
    };
    for image in [
        "buildkite-unit",
        "buildkite-unit-snapshot-builder",
        "dagster-app",
    ] {
        for version in ["3.9", "3.10"] {
            assert!(
                position("python-base", version) < position(image, version),
                "{image} py{version} planned before its base:\n{}",
                run.stdout
            );
        }
    }
    let builds: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with(&format!("{docker} build ")))
        .collect();
    assert_eq!(builds.len(), 8);
    for ((image, version), build) in planned.iter().zip(&builds) {
        let tag = format!("{docker} build --force-rm --tag dagster/{image}:py{version}-{ts} ");
        assert!(build.starts_with(&tag), "{build}");
    }
}

#[test]
fn build_all_builds_every_image_version_and_records_each_one() {
    let env = Env::new();
    let ts = &env.timestamp;
    let before = env.read("buildkite-unit/snapshot-reqs-3.9.txt");
    env.run(&["build-all", "-t", ts, "-j", "2"]).success();
    let images = [
        "buildkite-unit",
        "buildkite-unit-snapshot-builder",
        "dagster-app",
        "python-base",
    ];
    let mut expected: Vec<String> = images
        .iter()
        .flat_map(|image| [env.tag(image, "3.9"), env.tag(image, "3.10")])
        .collect();
    expected.sort();
    assert_eq!(env.images_built(), expected);
    for image in images {
        let recorded = env.read(&format!("{image}/last_updated.yaml"));
        assert!(recorded.starts_with(LAST_UPDATED_COMMENT), "{recorded}");
        let mut entries: Vec<&str> = recorded.lines().skip(1).collect();
        entries.sort();
        assert_eq!(
            entries,
            [format!("'3.10': {ts}"), format!("'3.9': {ts}")],
            "{image}"
        );
    }
    let unit = env.tag("buildkite-unit", "3.9");
    assert_eq!(run_image(&unit, &["pip", "freeze"]), before);
}

/// `text` with every input-digest label value (checked to be `blake3:` and 64 hex digits)
/// replaced by `<digest>`, so that exact expectations do not depend on file contents.
fn digests_masked(text: &str) -> String {
    let key = "io.dagster-image.input-digest=";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let (before, after) = rest.split_at(at + key.len());
        let value = after.strip_prefix("blake3:").expect("a blake3 digest");
        let hex = &value[..64];
        assert!(
            hex.chars().all(|c| c.is_ascii_hexdigit()),
            "not a digest: {value}"
        );
        out.push_str(before);
        out.push_str("<digest>");
        rest = &value[64..];
    }
    inputs_masked(&(out + rest))
}

/// `text` with every value of the label of the input digest's parts (JSON, quoted for a shell
/// or not) replaced by `<parts>`.
fn inputs_masked(text: &str) -> String {
    let key = "io.dagster-image.inputs=";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let quoted = at > 0 && rest.as_bytes()[at - 1] == b'\'';
        let start = if quoted { at - 1 } else { at };
        let end = at + rest[at..].find("}}").expect("a JSON object") + 2;
        out.push_str(&rest[..start]);
        out.push_str(key);
        out.push_str("<parts>");
        rest = &rest[end + usize::from(quoted)..];
    }
    out + rest
}

#[test]
fn dry_run_prints_the_docker_build_command_and_changes_nothing() {
    let env = Env::new();
    let (ts, docker) = (&env.timestamp, common::docker());
    let before = env.snapshot_files();
    let run = env
        .run(&dry_run(&build_args("python-base", "3.10", ts)))
        .success();
    let dir = env.path("python-base");
    let dir = dir.display();
    assert_eq!(
        digests_masked(&run.stdout),
        format!(
            "# 1/1 python-base py3.10\n\
             {docker} build --force-rm --tag dagster/python-base:py3.10-{ts} --file {dir}/Dockerfile \
             --platform linux/amd64 --build-arg PYTHON_VERSION=3.10 --label io.dagster-image.input-digest=<digest> \
             --label io.dagster-image.inputs=<parts> \
             --label org.opencontainers.image.version=py3.10-{ts} {dir}\n\
             # then record '3.10': {ts} in {dir}/last_updated.yaml\n"
        )
    );
    assert_eq!(env.snapshot_files(), before);
    assert_eq!(env.images_built(), Vec::<String>::new());
}

#[test]
fn failed_build_leaves_last_updated_untouched_and_shows_the_docker_output() {
    let env = Env::new();
    let (ts, docker) = (&env.timestamp, common::docker());
    env.write("python-base/Dockerfile", BROKEN_DOCKERFILE);
    let last_updated = fs_err::read(env.path("python-base/last_updated.yaml")).unwrap();
    let run = env.run(&build_args("python-base", "3.9", ts)).code(1);
    let dir = env.path("python-base");
    let dir = dir.display();
    let error = format!(
        "error: building `dagster/python-base:py3.9-{ts}` failed: `{docker} build --force-rm --tag \
         dagster/python-base:py3.9-{ts} --file {dir}/Dockerfile --platform linux/amd64 \
         --build-arg PYTHON_VERSION=3.9 --label io.dagster-image.input-digest=<digest> \
         --label io.dagster-image.inputs=<parts> \
         --label org.opencontainers.image.version=py3.9-{ts} {dir}` \
         exit status: "
    );
    assert!(
        digests_masked(&run.stderr)
            .lines()
            .any(|line| line.starts_with(&error)),
        "no line starts with {error:?}:\n{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("broken-step-output") || run.stderr.contains("broken-step-output"),
        "the docker output is not shown:\n{run:#?}"
    );
    assert_eq!(
        fs_err::read(env.path("python-base/last_updated.yaml")).unwrap(),
        last_updated
    );
    assert_eq!(env.images_built(), Vec::<String>::new());
}

#[test]
fn with_parallel_jobs_a_failure_still_reports_the_independent_build_that_succeeded() {
    let env = Env::empty();
    let ts = &env.timestamp;
    write_image(&env, "broken", BROKEN_DOCKERFILE, None);
    write_image(&env, "good", GOOD_DOCKERFILE, None);
    let run = env.run(&["build-all", "-j", "2", "-t", ts]).code(1);
    let good = summary_row(&run.stderr, "good");
    assert!(
        good.contains(&format!(" dagster/good:py3.9-{ts} ")) && good.contains("  built  "),
        "{}",
        run.stderr
    );
    assert!(
        summary_row(&run.stderr, "broken").contains("  FAILED  "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("broken-step-output"), "{}", run.stderr);
    assert!(
        run.stderr.ends_with("error: 1 of 2 builds failed\n"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run_image(&env.tag("good", "3.9"), &["cat", "/good"]),
        "good\n"
    );
    assert_eq!(
        env.read("good/last_updated.yaml"),
        format!("{LAST_UPDATED_COMMENT}'3.9': {ts}\n")
    );
    assert_eq!(env.read("broken/last_updated.yaml"), LAST_UPDATED_COMMENT);
    assert_eq!(env.images_built(), [env.tag("good", "3.9")]);
}

#[test]
fn keep_going_skips_the_dependents_of_a_failure_and_builds_the_rest() {
    let env = Env::empty();
    let ts = &env.timestamp;
    write_image(&env, "base", BROKEN_DOCKERFILE, None);
    write_image(&env, "app", GOOD_DOCKERFILE, Some("base"));
    write_image(&env, "other", GOOD_DOCKERFILE, None);
    let run = env
        .run(&["build-all", "--keep-going", "-j", "1", "-t", ts])
        .code(1);
    assert!(
        summary_row(&run.stderr, "base").contains("  FAILED  "),
        "{}",
        run.stderr
    );
    assert!(
        summary_row(&run.stderr, "app").contains("  skipped: a build it depends on failed"),
        "{}",
        run.stderr
    );
    assert!(
        summary_row(&run.stderr, "other").contains("  built  "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("error: 1 of 3 builds failed, 1 not built\n"),
        "{}",
        run.stderr
    );
    assert_eq!(env.read("app/last_updated.yaml"), LAST_UPDATED_COMMENT);
    assert_eq!(env.read("base/last_updated.yaml"), LAST_UPDATED_COMMENT);
    assert_eq!(
        env.read("other/last_updated.yaml"),
        format!("{LAST_UPDATED_COMMENT}'3.9': {ts}\n")
    );
    assert_eq!(env.images_built(), [env.tag("other", "3.9")]);
}

#[test]
fn without_keep_going_nothing_new_starts_after_a_failure() {
    let env = Env::empty();
    let ts = &env.timestamp;
    write_image(&env, "base", BROKEN_DOCKERFILE, None);
    write_image(&env, "other", GOOD_DOCKERFILE, None);
    let run = env.run(&["build-all", "-j", "1", "-t", ts]).code(1);
    assert!(
        summary_row(&run.stderr, "other").contains("  skipped: stopped after a failure"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("error: 1 of 2 builds failed, 1 not built\n"),
        "{}",
        run.stderr
    );
    assert_eq!(env.read("other/last_updated.yaml"), LAST_UPDATED_COMMENT);
    assert_eq!(env.images_built(), Vec::<String>::new());
}

/// The stand-in only shows how the command is put together; the tests above show behaviour.
#[test]
fn the_docker_program_comes_from_the_docker_environment_variable() {
    let env = Env::new();
    let ts = &env.timestamp;
    let (docker, calls) = recording_docker(&env);
    // No mirrors: the engine is not asked for them (`info`), in a thread of its own, whose call
    // would land among these in any order.
    env.run_with(
        &build_args("python-base", "3.9", ts),
        &[("DOCKER", &docker), ("DAGSTER_IMAGE_REGISTRY_MIRRORS", "")],
    )
    .success();
    let dir = env.path("python-base");
    let dir = dir.display();
    // Nothing was built before: the images looked up are the one it starts from, and the one
    // it built (for its platform).
    assert_eq!(
        digests_masked(&fs_err::read_to_string(&calls).unwrap()),
        format!(
            "image\ninspect\n{ROOTFS_IMAGE}\n\
             build\n--force-rm\n--tag\ndagster/python-base:py3.9-{ts}\n--file\n{dir}/Dockerfile\n\
             --platform\nlinux/amd64\n--build-arg\nPYTHON_VERSION=3.9\n--label\nio.dagster-image.input-digest=<digest>\n\
             --label\nio.dagster-image.inputs=<parts>\n\
             --label\norg.opencontainers.image.version=py3.9-{ts}\n{dir}\n\
             image\ninspect\ndagster/python-base:py3.9-{ts}\n"
        )
    );
    assert_eq!(
        env.read("python-base/last_updated.yaml"),
        format!("{LAST_UPDATED_COMMENT}'3.9': {ts}\n")
    );
    assert_eq!(env.images_built(), Vec::<String>::new());
}

/// `null` is a valid tag, so it is a valid timestamp; written unquoted it would read back as
/// YAML's null. The stand-in docker keeps the engine free of a tag no cleanup could find.
#[test]
fn a_timestamp_spelled_like_yaml_null_is_recorded_so_that_it_reads_back() {
    let env = Env::new();
    let (docker, _) = recording_docker(&env);
    env.run_with(
        &build_args("python-base", "3.9", "null"),
        &[("DOCKER", &docker)],
    )
    .success();
    let run = env
        .run(&dry_run(&build_args("dagster-app", "3.9", &env.timestamp)))
        .success();
    assert!(
        run.stdout
            .contains("--build-arg BASE_IMAGE=dagster/python-base:py3.9-null "),
        "{}",
        run.stdout
    );
}

/// `integration` on `integration-base` with `source: aws`, as Dagster's `buildkite-integration`
/// on `buildkite-integration-base`; the base writes the test's timestamp into `/base-file`, and
/// the dependent copies it to `/from-base`.
fn integration_catalog() -> Env {
    let env = Env::empty();
    write_image(
        &env,
        "integration-base",
        "FROM dagster-image/rootfs:busybox\nARG STAMP\nRUN echo \"base $STAMP\" > /base-file\n",
        None,
    );
    env.write(
        "integration-base/versions.yaml",
        &format!("3.9:\n  docker_args:\n    STAMP: {}\n", env.timestamp),
    );
    write_image(
        &env,
        "integration",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN cp /base-file /from-base\n",
        None,
    );
    env.write(
        "integration/versions.yaml",
        "3.9:\n  base_image:\n    name: integration-base\n    source: aws\n",
    );
    env
}

/// Dagster's `buildkite-integration` builds on `buildkite-integration-base` with `source: aws`.
/// A run that builds both builds the base first and the dependent on that fresh image, under
/// the registry name a push of the base gives it, without pushing anything.
#[test]
fn an_aws_base_built_in_the_same_run_is_built_first_and_used_fresh_without_a_push() {
    let env = integration_catalog();
    let registry = env.registry();
    let run = |args: &[&str]| env.run(&[&["--registry", registry.as_str()], args].concat());

    let planned = run(&["build-all", "--dry-run", "-t", &env.timestamp]).success();
    let remote_base = format!("{registry}/integration-base:py3.9-{}", env.timestamp);
    let base_step = planned.stdout.find("# 1/2 integration-base py3.9").unwrap();
    let app_step = planned
        .stdout
        .find("# 2/2 integration py3.9 (after integration-base py3.9)")
        .unwrap_or_else(|| panic!("the dependent waits for its base:\n{}", planned.stdout));
    assert!(base_step < app_step);
    assert!(
        planned.stdout.contains(&format!("--tag {remote_base}")),
        "{}",
        planned.stdout
    );

    run(&["build-all", "-t", &env.timestamp]).success();
    assert_eq!(
        run_image(&env.tag("integration", "3.9"), &["cat", "/from-base"]),
        format!("base {}\n", env.timestamp)
    );
    assert!(image_exists(&remote_base), "the base has its registry name");
    assert!(
        common::registry_tags(&format!("{}/integration-base", env.registry_path())).is_empty(),
        "nothing was pushed"
    );
    let status = run(&["status", "--json"]).success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        rows.iter()
            .all(|row| row["stale"] == false && row["local_image"] == true),
        "{}",
        status.stdout
    );
}

/// With no registry configured (no `--registry`, `DAGSTER_IMAGE_REGISTRY` nor `AWS_ACCOUNT_ID`),
/// a run that builds both needs none: the dependent builds on the base's fresh local image.
#[test]
fn without_a_registry_an_aws_base_built_in_the_same_run_is_used_as_its_local_image() {
    let env = integration_catalog();
    let mut command = env.command(&["build-all", "-t", &env.timestamp]);
    command.env_remove("AWS_ACCOUNT_ID");
    let run = common::Run::from(command.output().unwrap()).success();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert_eq!(
        run_image(&env.tag("integration", "3.9"), &["cat", "/from-base"]),
        format!("base {}\n", env.timestamp)
    );
    let mut status = env.command(&["status", "--json"]);
    status.env_remove("AWS_ACCOUNT_ID");
    let status = common::Run::from(status.output().unwrap()).success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        rows.iter().all(|row| row["stale"] == false
            && row["local_image"] == true
            && row["pushed"].is_null()),
        "{}",
        status.stdout
    );
}

/// `$DOCKER` is a command line, as users expect of such variables (`podman --remote`): split
/// into words, without a shell. Here `env` runs the engine under test.
#[test]
fn a_docker_variable_with_arguments_is_split_into_words() {
    let env = Env::new();
    let engine = common::engine::Engine::under_test();
    let docker = format!("env {}", engine.program());
    env.run_with(
        &build_args("python-base", "3.9", &env.timestamp),
        &[("DOCKER", &docker)],
    )
    .success();
    assert_eq!(
        run_image(&env.tag("python-base", "3.9"), &["cat", "/python-version"]),
        "3.9\n"
    );
}
