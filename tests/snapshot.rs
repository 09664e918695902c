//! `snapshot -t unit`: the snapshot builder's `pip freeze` written into buildkite-unit, and the
//! images built from it; a failure writes nothing.

mod common;

use common::{Env, build_args, run_image};

const BUILDER: &str = "buildkite-unit-snapshot-builder";

/// Builds the snapshot builder and its base at the test's timestamp.
fn build_builder(env: &Env) {
    env.run(&[
        "build-all",
        "--name",
        BUILDER,
        "--with-deps",
        "-j",
        "2",
        "-t",
        &env.timestamp,
    ])
    .success();
}

/// What `pip freeze` prints after installing the builder's requirements.txt: its `name==version`
/// lines, sorted case-insensitively as pip sorts them.
fn frozen_requirements(env: &Env) -> String {
    let requirements = env.read(&format!("{BUILDER}/requirements.txt"));
    let mut lines: Vec<&str> = requirements
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    lines.sort_by_key(|line| line.to_lowercase());
    lines.iter().map(|line| format!("{line}\n")).collect()
}

fn snapshot_files(env: &Env) -> [Vec<u8>; 2] {
    ["3.9", "3.10"].map(|version| {
        fs_err::read(env.path(&format!("buildkite-unit/snapshot-reqs-{version}.txt"))).unwrap()
    })
}

#[test]
fn snapshot_writes_the_builders_freeze_and_buildkite_unit_installs_exactly_it() {
    let env = Env::new();
    let expected = frozen_requirements(&env);
    assert_ne!(
        env.read("buildkite-unit/snapshot-reqs-3.9.txt"),
        expected,
        "the example snapshot must differ from the new one for this test to show anything"
    );
    build_builder(&env);
    // What a snapshot killed between writing and renaming leaves: the next one removes it.
    let leftover = env.path("buildkite-unit/.dagster-image-snapshot-reqs-3.9.txt.Kil1ed");
    fs_err::write(&leftover, "half a freeze").unwrap();
    env.run(&["snapshot", "-t", "unit"]).success();
    for version in ["3.9", "3.10"] {
        let written = env.read(&format!("buildkite-unit/snapshot-reqs-{version}.txt"));
        assert_eq!(written, expected, "snapshot-reqs-{version}.txt");
    }
    assert!(!leftover.exists(), "{} left", leftover.display());

    let unit_ts = env.timestamp_labelled("unit");
    env.run(&["build-all", "--name", "buildkite-unit", "-t", &unit_ts])
        .success();
    for version in ["3.9", "3.10"] {
        let image = format!("dagster/buildkite-unit:py{version}-{unit_ts}");
        assert_eq!(run_image(&image, &["pip", "freeze"]), expected, "{image}");
    }
}

#[test]
fn snapshot_dry_run_prints_the_freeze_commands_and_writes_nothing() {
    let env = Env::new();
    let ts = &env.timestamp;
    env.write(
        &format!("{BUILDER}/last_updated.yaml"),
        &format!("'3.9': {ts}\n'3.10': {ts}\n"),
    );
    let before = env.snapshot_files();
    let run = env.run(&["snapshot", "-t", "unit", "--dry-run"]).success();
    let target = env.path("buildkite-unit");
    let target = target.display();
    assert_eq!(
        run.stdout,
        format!(
            "{d} run --rm dagster/{BUILDER}:py3.9-{ts} pip freeze --exclude-editable \
             > {target}/snapshot-reqs-3.9.txt\n\
             {d} run --rm dagster/{BUILDER}:py3.10-{ts} pip freeze --exclude-editable \
             > {target}/snapshot-reqs-3.10.txt\n",
            d = common::docker(),
        )
    );
    assert_eq!(env.snapshot_files(), before);
}

#[test]
fn a_failing_freeze_leaves_every_old_snapshot_untouched() {
    let env = Env::new();
    build_builder(&env);
    // Rebuild only Python 3.10 of the builder with a pip that prints a line, then fails.
    let dockerfile = env.read(&format!("{BUILDER}/Dockerfile"));
    env.write(
        &format!("{BUILDER}/Dockerfile"),
        &format!(
            "{dockerfile}RUN printf '#!/bin/sh\\necho half-frozen==1.0\\nexit 1\\n' \
             > /usr/local/bin/pip\n"
        ),
    );
    let broken_ts = env.timestamp_labelled("broken");
    env.run(&build_args(BUILDER, "3.10", &broken_ts)).success();
    let old = snapshot_files(&env);
    let builder_39 = env.tag(BUILDER, "3.9");
    let fresh_39 = run_image(&builder_39, &["pip", "freeze", "--exclude-editable"]);
    assert_ne!(
        fresh_39.as_bytes(),
        old[0],
        "freezing 3.9 alone must change its file for this test to show anything"
    );

    let run = env.run(&["snapshot", "-t", "unit"]).code(1);
    assert!(
        run.stderr.contains(&format!(
            "error: freezing Python 3.10 of `{BUILDER}` failed: `{d} run --rm \
             dagster/{BUILDER}:py3.10-{broken_ts} pip freeze --exclude-editable` exit status: 1",
            d = common::docker(),
        )),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot_files(&env), old);
}

#[test]
fn snapshot_before_the_builder_was_built_asks_to_build_it_first() {
    let env = Env::new();
    let before = env.snapshot_files();
    let run = env.run(&["snapshot", "-t", "unit"]).code(2);
    assert_eq!(
        run.stderr,
        format!(
            "error: `{BUILDER}` has not been built for Python 3.9: there is no `3.9` in `{}`\n\
             hint: build `{BUILDER}` first\n",
            env.path(&format!("{BUILDER}/last_updated.yaml")).display()
        )
    );
    assert_eq!(env.snapshot_files(), before);
}
