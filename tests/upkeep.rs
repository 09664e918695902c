//! Catalog upkeep against the real engine: `check` finding what is wrong (a dependent built
//! before its base's current build above all), `build-all --with-dependents` fixing that, and
//! `prune` removing leftover `last_updated.yaml` entries and old local images, and nothing else.

mod common;

use common::family::{BASE_DOCKERFILE, check_rows, family, write_image};
use common::{Env, docker_output, image_exists, words};

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
        let build = format!(
            "{} build --force-rm --tag dagster/{image}:py3.9-{fixed} ",
            common::docker()
        );
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
