//! `build-all --skip-unchanged` and `status`: what changed is rebuilt, and only that.

mod common;

use common::{Env, docker_output, image_exists, run_image};

const LABEL: &str = "io.dagster-image.input-digest";

/// python-base and dagster-app, both versions, built at `env.timestamp`.
fn built_env() -> Env {
    let env = Env::new();
    build_app_and_base(&env);
    env
}

fn build_app_and_base(env: &Env) {
    let args = [
        "build-all",
        "--name",
        "dagster-app",
        "--with-deps",
        "-t",
        &env.timestamp,
    ];
    env.run(&args).success();
}

/// `build-all --name dagster-app --with-deps --skip-unchanged` at `timestamp`, and the
/// image-versions it built, as `image:version`.
fn rebuild(env: &Env, timestamp: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "build-all",
        "--name",
        "dagster-app",
        "--with-deps",
        "--skip-unchanged",
        "-t",
        timestamp,
    ];
    args.extend_from_slice(extra);
    env.run(&args).success();
    let mut built = Vec::new();
    for image in ["python-base", "dagster-app"] {
        for version in ["3.9", "3.10"] {
            if image_exists(&format!("dagster/{image}:py{version}-{timestamp}")) {
                built.push(format!("{image}:{version}"));
            }
        }
    }
    built
}

/// Appends `line` to dagster-app's Dockerfile, rebuilds with `--skip-unchanged` at a later
/// timestamp, checks that exactly dagster-app was rebuilt, and returns that timestamp.
#[track_caller]
fn append_to_app_dockerfile_and_rebuild(env: &Env, line: &str) -> String {
    let dockerfile = env.read("dagster-app/Dockerfile");
    env.write("dagster-app/Dockerfile", &format!("{dockerfile}{line}"));
    let later = env.timestamp_labelled("later");
    assert_eq!(
        rebuild(env, &later, &[]),
        ["dagster-app:3.9", "dagster-app:3.10"]
    );
    later
}

#[test]
fn builds_carry_their_input_digest_as_a_label() {
    let env = built_env();
    let format = format!("{{{{index .Config.Labels \"{LABEL}\"}}}}");
    let label = docker_output(&[
        "image",
        "inspect",
        "--format",
        &format,
        &env.tag("dagster-app", "3.9"),
    ]);
    assert!(
        label.starts_with("blake3:") && label.trim().len() == "blake3:".len() + 64,
        "{label}"
    );
}

#[test]
fn nothing_changed_builds_nothing_and_keeps_the_timestamps() {
    let env = built_env();
    let before = env.snapshot_files();
    let again = env.timestamp_labelled("again");
    let run = env
        .run(&[
            "build-all",
            "--skip-unchanged",
            "--name",
            "dagster-app",
            "--with-deps",
            "-t",
            &again,
        ])
        .success();
    assert!(
        run.stderr
            .contains("nothing to build: all 4 image-versions are unchanged"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("building "), "{}", run.stderr);
    assert_eq!(env.snapshot_files(), before, "no file changed");
    assert!(!image_exists(&format!("dagster/dagster-app:py3.9-{again}")));
}

#[test]
fn a_changed_dockerfile_rebuilds_that_image_on_the_current_base() {
    let env = built_env();
    let later = append_to_app_dockerfile_and_rebuild(&env, "RUN echo changed > /changed\n");
    assert_eq!(
        run_image(
            &format!("dagster/dagster-app:py3.10-{later}"),
            &["cat", "/changed", "/python-version"]
        ),
        "changed\n3.10\n"
    );
    let base_entries = env.read("python-base/last_updated.yaml");
    assert!(
        base_entries.contains(&format!("'3.9': {}\n", env.timestamp)),
        "the base keeps its timestamp:\n{base_entries}"
    );
}

#[test]
fn a_changed_context_file_rebuilds_its_image() {
    let env = built_env();
    env.write("dagster-app/app.sh", "#!/bin/sh\necho changed app\n");
    let later = env.timestamp_labelled("later");
    assert_eq!(
        rebuild(&env, &later, &[]),
        ["dagster-app:3.9", "dagster-app:3.10"]
    );
    assert_eq!(
        run_image(&format!("dagster/dagster-app:py3.9-{later}"), &[]),
        "changed app\n"
    );
}

#[test]
fn a_changed_ignored_file_rebuilds_nothing() {
    let env = Env::new();
    env.write("dagster-app/.dockerignore", "*.md\n");
    env.write("dagster-app/NOTES.md", "first\n");
    build_app_and_base(&env);
    env.write("dagster-app/NOTES.md", "second\n");
    assert!(rebuild(&env, &env.timestamp_labelled("later"), &[]).is_empty());
}

/// Docker sends the Dockerfile whatever `.dockerignore` says, and builds what it says.
#[test]
fn a_changed_dockerfile_rebuilds_even_when_dockerignore_lists_it() {
    let env = Env::new();
    env.write("dagster-app/.dockerignore", "Dockerfile\n.dockerignore\n");
    build_app_and_base(&env);
    let later = append_to_app_dockerfile_and_rebuild(&env, "RUN echo edited > /edited\n");
    assert_eq!(
        run_image(
            &format!("dagster/dagster-app:py3.9-{later}"),
            &["cat", "/edited"]
        ),
        "edited\n"
    );
}

#[test]
fn a_changed_base_rebuilds_it_and_its_dependents() {
    let env = built_env();
    let pip = env.read("python-base/pip");
    env.write("python-base/pip", &format!("{pip}# changed\n"));
    let later = env.timestamp_labelled("later");
    assert_eq!(
        rebuild(&env, &later, &[]),
        [
            "python-base:3.9",
            "python-base:3.10",
            "dagster-app:3.9",
            "dagster-app:3.10"
        ]
    );
}

#[test]
fn a_changed_build_arg_rebuilds() {
    let env = built_env();
    let later = env.timestamp_labelled("later");
    assert_eq!(
        rebuild(&env, &later, &["--dagster-version", "9.9.9"]).len(),
        4
    );
    assert_eq!(
        run_image(&format!("dagster/dagster-app:py3.9-{later}"), &[]),
        "dagster 9.9.9 on python 3.9\n"
    );
}

#[test]
fn a_rebuilt_base_makes_its_dependents_stale_in_status() {
    let env = built_env();
    let registry = env.registry();
    env.run(&["--registry", &registry, "push-all", "--name", "dagster-app"])
        .success();
    let base_later = env.timestamp_labelled("base");
    let pip = env.read("python-base/pip");
    env.write("python-base/pip", &format!("{pip}# changed\n"));
    env.run(&["build-all", "--name", "python-base", "-t", &base_later])
        .success();
    let run = env
        .run(&["--registry", &registry, "status", "--json"])
        .success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let row = |image: &str, version: &str| {
        rows.iter()
            .find(|r| r["image"] == image && r["python_version"] == version)
            .unwrap_or_else(|| panic!("no row for {image} {version}:\n{}", run.stdout))
            .clone()
    };
    assert_eq!(
        row("dagster-app", "3.9"),
        serde_json::json!({
            "image": "dagster-app", "python_version": "3.9", "last_updated": env.timestamp,
            "local_image": true, "stale": true, "reasons": ["base"], "pushed": true,
        })
    );
    assert_eq!(
        row("python-base", "3.10"),
        serde_json::json!({
            "image": "python-base", "python_version": "3.10", "last_updated": base_later,
            "local_image": true, "stale": false, "reasons": [], "pushed": false,
        })
    );
    assert_eq!(row("buildkite-unit", "3.9")["local_image"], false);
    assert_eq!(
        row("buildkite-unit", "3.9")["last_updated"],
        serde_json::Value::Null
    );
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(
        row("buildkite-unit", "3.9")["reasons"],
        serde_json::json!(["not built"])
    );
    assert_eq!(keys.len(), 7, "exactly the documented keys: {keys:?}");
}

/// An image named by `last_updated.yaml` but not here (built on another machine) is a fact; an
/// engine that fails without a word (here `false`) is broken, not empty: reading it as "no
/// images" made every image-version look changed.
#[test]
fn a_failing_engine_query_is_an_error_not_an_empty_engine() {
    let env = Env::new();
    env.write("python-base/last_updated.yaml", "'3.9': built-elsewhere\n");
    let dry_run = [
        "build-all",
        "--skip-unchanged",
        "--dry-run",
        "-t",
        &env.timestamp,
    ];
    env.run(&dry_run)
        .success()
        .stderr_has("8 of 8 image-versions changed");
    for args in [&dry_run[..], &["status"]] {
        env.run_with(args, &[("DOCKER", "false")])
            .code(1)
            .stderr_has("reading the local images failed: `false image inspect");
    }
}

/// `images/x/Dockerfile -> ../../shared/Dockerfile.app`, which docker follows: editing the
/// target is a changed input, as editing the Dockerfile itself is.
#[test]
fn editing_the_target_of_a_linked_dockerfile_rebuilds_the_image() {
    let env = built_env();
    let shared = env.root().join("shared");
    fs_err::create_dir_all(&shared).unwrap();
    let target = shared.join("Dockerfile.app");
    fs_err::write(&target, env.read("dagster-app/Dockerfile")).unwrap();
    let dockerfile = env.path("dagster-app/Dockerfile");
    fs_err::remove_file(&dockerfile).unwrap();
    std::os::unix::fs::symlink("../../shared/Dockerfile.app", &dockerfile).unwrap();
    let linked = env.timestamp_labelled("linked");
    assert_eq!(
        rebuild(&env, &linked, &[]),
        Vec::<String>::new(),
        "the same content through a link is the same input"
    );
    let text = fs_err::read_to_string(&target).unwrap();
    fs_err::write(&target, format!("{text}RUN echo edited > /edited\n")).unwrap();
    let status = env.run(&["status", "--name", "dagster-app"]).success();
    assert!(status.stdout.contains("context"), "{}", status.stdout);
    let edited = env.timestamp_labelled("edited");
    assert_eq!(
        rebuild(&env, &edited, &[]),
        ["dagster-app:3.9", "dagster-app:3.10"]
    );
    assert_eq!(
        run_image(
            &format!("dagster/dagster-app:py3.9-{edited}"),
            &["cat", "/edited"]
        ),
        "edited\n"
    );
}

/// 14,000 image-versions of a 120-character image: their tags are over 2 MiB, more than one
/// command line takes ("Argument list too long"); the engine is asked in batches, and an image
/// of the last one is found.
#[test]
fn status_of_more_tags_than_a_command_line_takes_asks_the_engine_in_batches() {
    const VERSIONS: usize = 14_000;
    let env = Env::empty();
    let name = "a".repeat(120);
    let last = format!("v{}", VERSIONS - 1);
    env.write(
        &format!("{name}/Dockerfile"),
        "FROM dagster-image/rootfs:busybox\n",
    );
    let versions: String = (0..VERSIONS).map(|i| format!("v{i}: {{}}\n")).collect();
    env.write(&format!("{name}/versions.yaml"), &versions);
    let recorded: String = (0..VERSIONS - 1)
        .map(|i| format!("'v{i}': 2026-01-01T000000\n"))
        .collect();
    env.write(&format!("{name}/last_updated.yaml"), &recorded);
    env.run(&["build", "--name", &name, "-v", &last, "-t", &env.timestamp])
        .success();
    let run = env.run(&["status", "--offline"]).success();
    assert_eq!(
        run.stdout.lines().count(),
        VERSIONS + 1,
        "a header and every version"
    );
    let last_line = run.stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last_line.split_whitespace().collect();
    assert_eq!(
        words[..4],
        [name.as_str(), last.as_str(), &env.timestamp, "yes"],
        "{last_line}"
    );
}
