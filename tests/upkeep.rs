//! Catalog upkeep against the real engine: `check` finding what is wrong (a dependent built
//! before its base's current build above all), `build-all --with-dependents` fixing that, and
//! `prune` removing leftover `last_updated.yaml` entries and old local images, and nothing else.

mod common;

use common::{Env, docker_output, image_exists, words};

/// A Dockerfile that builds in a second and declares the build argument versions.yaml passes.
const BASE_DOCKERFILE: &str =
    "FROM dagster-image/rootfs:busybox\nARG PYTHON_VERSION\nRUN echo \"$PYTHON_VERSION\" > /v\n";

/// A Dockerfile built on the local base given as `BASE_IMAGE`.
const CHILD_DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo child > /child\n";

/// Writes an image folder: `versions` built on the local `base` when given.
fn write_image(env: &Env, name: &str, versions: &[&str], base: Option<&str>) {
    let (dockerfile, spec) = match base {
        Some(base) => (
            CHILD_DOCKERFILE,
            format!("  base_image:\n    name: {base}\n    source: local\n"),
        ),
        None => (BASE_DOCKERFILE, String::new()),
    };
    let versions: String = versions
        .iter()
        .map(|v| match base {
            Some(_) => format!("'{v}':\n{spec}"),
            None => format!("'{v}':\n  docker_args:\n    PYTHON_VERSION: '{v}'\n"),
        })
        .collect();
    env.write(&format!("{name}/Dockerfile"), dockerfile);
    env.write(&format!("{name}/versions.yaml"), &versions);
}

/// base (3.9, 3.10) <- mid (3.9, 3.10) <- top (3.9); other (3.9) on its own.
fn family(env: &Env) {
    write_image(env, "base", &["3.9", "3.10"], None);
    write_image(env, "mid", &["3.9", "3.10"], Some("base"));
    write_image(env, "top", &["3.9"], Some("mid"));
    write_image(env, "other", &["3.9"], None);
}

/// `check --json`, its exit code asserted, as `image kind file[:line]` rows, the file relative
/// to the catalog.
fn check_rows(env: &Env, args: &[&str], code: i32) -> Vec<String> {
    let run = env.run(&[&["check", "--json"], args].concat()).code(code);
    let problems: Vec<serde_json::Value> =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", run.stdout));
    let catalog = format!("{}/", env.images().display());
    problems
        .iter()
        .map(|p| {
            let file = p["file"].as_str().unwrap();
            let file = file
                .strip_prefix(&catalog)
                .unwrap_or_else(|| panic!("{file} is not in the catalog"));
            let line = p["line"]
                .as_u64()
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            format!(
                "{} {} {file}{line}",
                p["image"].as_str().unwrap(),
                p["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_example_catalog_passes_check() {
    let env = Env::new();
    let run = env.run(&["check"]).success();
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "no problems in 4 image(s)\n");
    assert_eq!(env.run(&["check", "--json"]).success().stdout, "[]\n");
}

#[test]
fn check_names_the_dependents_of_a_base_rebuilt_alone_and_with_dependents_rebuilds_them() {
    let env = Env::empty();
    family(&env);
    let ts = &env.timestamp;
    env.run(&["build-all", "-t", ts, "-j", "2"]).success();
    env.run(&["check"]).success();

    let rebuilt = env.timestamp_labelled("rebuilt");
    env.run(&["build-all", "--name", "base", "-t", &rebuilt])
        .success();
    let run = env.run(&["check"]).code(1);
    let mid = env.path("mid/last_updated.yaml").display().to_string();
    for version in ["3.9", "3.10"] {
        let line = format!(
            "{mid}: Python {version} (built as `{ts}`) and its base `base` (built as `{rebuilt}`) \
             were built in different runs"
        );
        assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains("fix: rebuild it and what builds on it: `dagster-image build-all --name mid --with-dependents`"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stderr, "error: found 2 problem(s) in the catalog\n");
    let stale = "mid built-before-base mid/last_updated.yaml";
    assert_eq!(check_rows(&env, &[], 1), [stale, stale]);
    assert_eq!(
        check_rows(&env, &["--name", "other"], 0),
        Vec::<String>::new()
    );

    let fixed = env.timestamp_labelled("fixed");
    let fix = words("build-all --name base --with-dependents --keep-going -j 2 -t");
    let dry = env
        .run(&[&fix[..], &[&fixed, "--dry-run"]].concat())
        .success();
    for (image, base) in [("mid", "base"), ("top", "mid")] {
        let arg = format!("--build-arg BASE_IMAGE=dagster/{base}:py3.9-{fixed} ");
        let build = format!("docker build --force-rm --tag dagster/{image}:py3.9-{fixed} ");
        let line = dry.stdout.lines().find(|l| l.starts_with(&build));
        assert!(line.is_some_and(|l| l.contains(&arg)), "{}", dry.stdout);
    }
    env.run(&[&fix[..], &[&fixed]].concat()).success();
    let mut rebuilt_now: Vec<String> = [
        "base:py3.9",
        "base:py3.10",
        "mid:py3.9",
        "mid:py3.10",
        "top:py3.9",
    ]
    .iter()
    .map(|t| format!("dagster/{t}-{fixed}"))
    .collect();
    rebuilt_now.sort();
    let built: Vec<String> = env
        .images_built()
        .into_iter()
        .filter(|tag| tag.ends_with(&fixed))
        .collect();
    assert_eq!(built, rebuilt_now);
    assert_eq!(
        env.read("other/last_updated.yaml"),
        format!("'3.9': {ts}\n")
    );
    assert_eq!(
        env.read("top/last_updated.yaml"),
        format!("'3.9': {fixed}\n")
    );
    let run = env.run(&["check"]).success();
    assert_eq!(run.stderr, "no problems in 4 image(s)\n");
}

#[test]
fn with_dependents_needs_an_image_name() {
    let env = Env::empty();
    family(&env);
    let run = env
        .run(&["build-all", "--with-dependents", "--dry-run"])
        .code(2);
    assert!(run.stderr.contains("--name <NAME>"), "{}", run.stderr);
    env.run(&[
        "build-all",
        "--name",
        "nope",
        "--with-dependents",
        "--dry-run",
    ])
    .code(2)
    .stderr_has("unknown image `nope`");
}

#[test]
fn check_json_lists_every_problem_with_its_file_line_and_fix_and_changes_nothing() {
    let env = Env::empty();
    write_image(&env, "base", &["3.9"], None);
    env.write("broken/Dockerfile", BASE_DOCKERFILE);
    env.write(
        "broken/versions.yaml",
        "'3.9':\n  docker_args: {PYTHON_VERSION: [3]}\n",
    );
    env.write("broken/last_updated.yaml", "'3.9': [\n");
    write_image(&env, "orphan", &["3.9"], Some("bse"));
    write_image(&env, "lacking", &["3.9", "3.8"], Some("base"));
    write_image(&env, "loop-a", &["3.9"], Some("loop-b"));
    write_image(&env, "loop-b", &["3.9"], Some("loop-a"));
    write_image(&env, "leftover", &["3.9"], None);
    env.write(
        "leftover/last_updated.yaml",
        "# kept\n'3.7': 2019-01-01T000000\n",
    );
    env.write(
        "args/versions.yaml",
        "'3.9':\n  docker_args:\n    PYTHON_VERSION: '3.9'\n    EXTRA: x\n",
    );
    env.write(
        "args/Dockerfile",
        "FROM busybox\nARG PYTHON_VERSION\nRUN echo $DAGSTER_VERSION\n",
    );
    env.write("no-dockerfile/versions.yaml", "'3.9': {}\n");
    let before = env.snapshot_files();

    assert_eq!(
        check_rows(&env, &[], 1),
        [
            "args undeclared-build-arg args/Dockerfile",
            "args variable-without-arg args/Dockerfile:3",
            "broken invalid-file broken/last_updated.yaml:1",
            "broken invalid-file broken/versions.yaml:2",
            "lacking base-lacks-version lacking/versions.yaml:7",
            "leftover leftover-entry leftover/last_updated.yaml",
            "loop-a cycle loop-a/versions.yaml:3",
            "no-dockerfile missing-dockerfile no-dockerfile/Dockerfile",
            "orphan unknown-base orphan/versions.yaml:3",
        ]
    );
    let run = env.run(&["check", "--json"]).code(1);
    let problems: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    let orphan = &problems[8];
    assert_eq!(
        orphan["problem"],
        "the base image `bse` of Python 3.9 is not an image of the catalog"
    );
    assert_eq!(
        orphan["fix"],
        "change it to `base`, or add the image folder `bse`"
    );
    let mut keys: Vec<&String> = orphan.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["file", "fix", "image", "kind", "line", "problem"]);

    assert_eq!(
        check_rows(&env, &["--name", "lacking"], 1),
        ["lacking base-lacks-version lacking/versions.yaml:7"]
    );
    env.run(&["check", "--name", "lackin"])
        .code(2)
        .stderr_has("did you mean `lacking`?");
    assert_eq!(env.snapshot_files(), before);
}

#[test]
fn prune_removes_entries_of_versions_no_longer_built_keeping_comments_byte_exactly() {
    let env = Env::empty();
    write_image(&env, "app", &["3.9", "3.10"], None);
    let path = "app/last_updated.yaml";
    env.write(
        path,
        "# Written by dagster-image.\n'3.8': 2019-01-01T000000  # gone\n'3.9': 2020-01-01T000000\n\
         # 3.10 came later\n'3.10': 2021-01-01T000000\n3.7: old\n",
    );
    let before = env.snapshot_files();

    let dry = env.run(&["prune", "--dry-run"]).success();
    let shown = env.path(path).display().to_string();
    assert_eq!(
        dry.stdout,
        format!(
            "would remove '3.8': 2019-01-01T000000 from {shown}\nwould remove '3.7': old from {shown}\n"
        )
    );
    assert_eq!(env.snapshot_files(), before);

    let run = env.run(&["prune", "--name", "app"]).success();
    assert_eq!(run.stdout, dry.stdout.replace("would remove", "removed"));
    assert_eq!(
        env.read(path),
        "# Written by dagster-image.\n'3.9': 2020-01-01T000000\n\
         # 3.10 came later\n'3.10': 2021-01-01T000000\n"
    );
    env.run(&["check"]).success();
    assert_eq!(env.run(&["prune"]).success().stdout, "nothing to prune\n");
}

#[test]
fn prune_images_removes_only_the_old_builds_of_the_image() {
    let env = Env::empty();
    // A name of its own: other tests may build `dagster/<name>` images at the same time.
    let name = format!("pruned-{}", env.timestamp);
    write_image(&env, &name, &["3.9", "3.10"], None);
    let old = env.timestamp_labelled("old");
    let ts = &env.timestamp;
    // Steps of their own, so that the build cache gives no other test's images, and the old
    // images are not the parents of the new ones.
    let dockerfile = |build: &str| BASE_DOCKERFILE.replace("/v\n", &format!("/{build}-{ts}\n"));
    env.write(&format!("{name}/Dockerfile"), &dockerfile("old"));
    env.run(&["build-all", "--name", &name, "-t", &old])
        .success();
    env.write(&format!("{name}/Dockerfile"), &dockerfile("new"));
    env.run(&["build-all", "--name", &name, "-t", ts]).success();
    let tag = |version: &str, timestamp: &str| format!("dagster/{name}:py{version}-{timestamp}");
    let kept = [
        tag("3.9", ts),
        tag("3.10", ts),
        // A tag of the same repository not of the `py<V>-` form, holding an old build.
        format!("dagster/{name}:keepme-{ts}"),
        // A Python version versions.yaml does not have.
        tag("3.7", &old),
        // Other repositories.
        format!("dagster/{name}x:py3.9-{old}"),
        format!("{}/{name}:py3.9-{old}", env.registry()),
    ];
    docker_output(&["tag", &tag("3.9", &old), &kept[2]]);
    for foreign in &kept[3..] {
        docker_output(&["tag", &tag("3.10", ts), foreign]);
    }
    let before = env.snapshot_files();
    let prune = ["prune", "--images", "--name", &name];

    let dry = env.run(&[&prune[..], &["--dry-run"]].concat()).success();
    let untag = format!("would untag {} (the image stays", tag("3.9", &old));
    let remove = format!("would remove {} (", tag("3.10", &old));
    let lines: Vec<&str> = dry.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", dry.stdout);
    assert!(
        lines.iter().any(|l| l.starts_with(&untag)),
        "{}",
        dry.stdout
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&remove)),
        "{}",
        dry.stdout
    );
    assert!(lines[2].starts_with("would free up to "), "{}", dry.stdout);
    assert!(image_exists(&tag("3.9", &old)) && image_exists(&tag("3.10", &old)));
    assert_eq!(env.snapshot_files(), before);

    let run = env.run(&prune).success();
    let done = dry
        .stdout
        .replace("would untag", "untagged")
        .replace("would remove", "removed")
        .replace("would free", "freed");
    assert_eq!(run.stdout, done, "the dry run foretold what happened");
    assert!(!image_exists(&tag("3.9", &old)) && !image_exists(&tag("3.10", &old)));
    for reference in &kept {
        assert!(image_exists(reference), "{reference} was removed");
    }
    assert_eq!(env.snapshot_files(), before);
    assert_eq!(env.run(&prune).success().stdout, "nothing to prune\n");
}

/// The Python original copied `build_cache/` folders in with per-image code; here a `COPY` of
/// one that `image.yaml` does not declare would build without it, so `check` names it.
#[test]
fn check_names_the_dockerfile_line_of_a_copy_source_missing_until_image_yaml_declares_it() {
    let env = Env::empty();
    write_image(&env, "cached", &["3.9", "3.10"], None);
    env.write(
        "cached/Dockerfile",
        &format!("{BASE_DOCKERFILE}COPY build_cache/dagster /opt/dagster\n"),
    );
    let run = env.run(&["check"]).code(1);
    let dockerfile = env.path("cached/Dockerfile").display().to_string();
    assert_eq!(
        run.stdout,
        format!(
            "{dockerfile}:4: the `COPY` source `build_cache/dagster` is not in the build context \
             for Python 3.9, 3.10\n    fix: add it to the image folder or declare it under \
             `copy:` in image.yaml (e.g. `- {{from: <repo path>, to: build_cache/dagster}}`)\n"
        )
    );
    assert_eq!(run.stderr, "error: found 1 problem(s) in the catalog\n");
    assert_eq!(
        check_rows(&env, &[], 1),
        ["cached missing-copy-source cached/Dockerfile:4"]
    );

    fs_err::create_dir_all(env.root().join("python_modules/dagster")).unwrap();
    fs_err::write(env.root().join("python_modules/dagster/setup.py"), "").unwrap();
    env.write(
        "cached/image.yaml",
        "copy:\n  - {from: python_modules/dagster, to: build_cache/dagster}\n",
    );
    let run = env.run(&["check"]).success();
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "no problems in 1 image(s)\n");
}
