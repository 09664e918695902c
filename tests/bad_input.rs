//! Bad input: every case exits 2 with a one-line message that names the file and line (for
//! YAML) or the value at fault, and changes no file and builds no image.

mod common;

use common::Env;

const BUILD_PYTHON_BASE: [&str; 5] = ["build", "--name", "python-base", "-v", "3.9"];

/// Runs `args` and asserts it was refused as bad input before doing anything: exit code 2, one
/// `error:` line on stderr, nothing on stdout, no file of the catalog changed, no image built.
/// Returns the message without its `error: ` prefix.
#[track_caller]
fn refused(env: &Env, args: &[&str]) -> String {
    let before = env.snapshot_files();
    let run = env.run(args).code(2);
    assert_eq!(env.snapshot_files(), before, "files changed by {args:?}");
    assert_eq!(env.images_built(), Vec::<String>::new(), "{args:?}");
    assert_eq!(run.stdout, "", "{args:?}");
    let message = run
        .stderr
        .strip_prefix("error: ")
        .and_then(|m| m.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not one `error:` line: {:?}", run.stderr));
    assert!(!message.contains('\n'), "more than one line: {message}");
    message.to_owned()
}

/// `build --name python-base -v 3.9 -t <timestamp>`, refused.
#[track_caller]
fn build_refused(env: &Env) -> String {
    refused(
        env,
        &[&BUILD_PYTHON_BASE[..], &["-t", &env.timestamp]].concat(),
    )
}

/// The absolute path of `relative` in the catalog, as messages show it.
fn shown(env: &Env, relative: &str) -> String {
    env.path(relative).display().to_string()
}

#[test]
fn malformed_yaml_is_refused_at_its_line_and_column() {
    let env = Env::new();
    let versions = shown(&env, "python-base/versions.yaml");
    env.write("python-base/versions.yaml", "3.9: [\n");
    assert_eq!(
        build_refused(&env),
        format!("{versions}:1:6: expected a mapping of `key: value` entries here")
    );
    env.write("python-base/versions.yaml", "3.9:\n  docker_args: {A: b\n");
    assert_eq!(
        build_refused(&env),
        format!("{versions}:2:16: unclosed bracket '{{'")
    );
}

#[test]
fn docker_args_that_is_not_a_mapping_of_strings_is_refused_at_its_line() {
    let env = Env::new();
    let versions = shown(&env, "python-base/versions.yaml");
    env.write("python-base/versions.yaml", "3.9:\n  docker_args: [a]\n");
    assert_eq!(
        build_refused(&env),
        format!("{versions}:2:16: expected a mapping of `key: value` entries here")
    );
    env.write(
        "python-base/versions.yaml",
        "3.9:\n  docker_args: {A: [1]}\n",
    );
    assert_eq!(
        build_refused(&env),
        format!("{versions}:2:20: expected a text value here")
    );
}

#[test]
fn an_unknown_field_is_refused_listing_the_known_ones() {
    let env = Env::new();
    let versions = shown(&env, "python-base/versions.yaml");
    env.write(
        "python-base/versions.yaml",
        "3.9:\n  docker_arg:\n    PYTHON_VERSION: 3.9\n",
    );
    assert_eq!(
        build_refused(&env),
        format!(
            "{versions}:2:3: unknown field `docker_arg`, expected one of docker_args, base_image"
        )
    );
}

#[test]
fn a_python_version_declared_twice_is_refused_at_the_second_one() {
    let env = Env::new();
    let versions = shown(&env, "python-base/versions.yaml");
    env.write("python-base/versions.yaml", "3.9: {}\n3.10: {}\n3.9: {}\n");
    let message = build_refused(&env);
    assert!(
        message.starts_with(&format!("{versions}:3:1: duplicate mapping key: 3.9")),
        "{message}"
    );
}

/// The parser's advice to its own caller is no use to the person editing the file.
#[test]
fn a_duplicate_key_message_does_not_point_at_the_parser_api() {
    let env = Env::new();
    env.write("python-base/versions.yaml", "3.9: {}\n3.9: {}\n");
    let message = build_refused(&env);
    assert!(!message.contains("DuplicateKeyPolicy"), "{message}");
}

#[test]
fn an_empty_versions_file_is_refused_with_an_example_entry() {
    let env = Env::new();
    let versions = shown(&env, "python-base/versions.yaml");
    let expected = format!(
        "{versions}: declares no Python versions; add one, e.g. `\"3.10\": {{docker_args: {{}}}}`"
    );
    env.write("python-base/versions.yaml", "");
    assert_eq!(build_refused(&env), expected);
    env.write("python-base/versions.yaml", "# nothing yet\n");
    assert_eq!(build_refused(&env), expected);
}

#[test]
fn a_versions_file_that_is_not_utf8_is_refused_naming_the_byte() {
    let env = Env::new();
    let versions = shown(&env, "python-base/versions.yaml");
    fs_err::write(
        env.path("python-base/versions.yaml"),
        b"3.9:\n  docker_args:\n    A: \xff\xfe\n",
    )
    .unwrap();
    assert_eq!(
        build_refused(&env),
        format!("{versions}: not valid UTF-8 (at byte 27)")
    );
}

#[test]
fn a_malformed_last_updated_is_refused_at_its_line() {
    let env = Env::new();
    let last_updated = shown(&env, "python-base/last_updated.yaml");
    env.write("python-base/last_updated.yaml", "# built\n3.9: [broken\n");
    assert_eq!(
        build_refused(&env),
        format!("{last_updated}:2:6: expected a text value here")
    );
}

#[test]
fn a_malformed_last_updated_of_a_base_is_named_when_building_its_dependent() {
    let env = Env::new();
    let last_updated = shown(&env, "python-base/last_updated.yaml");
    env.write("python-base/last_updated.yaml", "3.9: 2020 01 01\n");
    let message = refused(
        &env,
        &[
            "build",
            "--name",
            "dagster-app",
            "-v",
            "3.9",
            "-t",
            &env.timestamp,
        ],
    );
    assert_eq!(
        message,
        format!(
            "{last_updated}: timestamp `2020 01 01` of Python 3.9 cannot be part of a tag: \
             ` ` cannot be in a Docker tag (letters, digits, `_`, `.` and `-` only)"
        )
    );
}

/// A null timestamp is a mistake in the file; the message should say so in the file's terms.
#[test]
fn a_null_timestamp_message_does_not_point_at_rust_types() {
    let env = Env::new();
    let last_updated = shown(&env, "python-base/last_updated.yaml");
    env.write("python-base/last_updated.yaml", "'3.9': null\n");
    let message = build_refused(&env);
    assert!(
        message.starts_with(&format!("{last_updated}:1:8: ")),
        "{message}"
    );
    assert!(!message.contains("Option<String>"), "{message}");
}

#[test]
fn an_unknown_image_is_refused_suggesting_the_closest_name() {
    let env = Env::new();
    let images = env.images();
    let expected = format!(
        "unknown image `dagster-ap` in `{}`; did you mean `dagster-app`?",
        images.display()
    );
    let ts = &env.timestamp;
    let build = ["build", "--name", "dagster-ap", "-v", "3.9", "-t", ts];
    assert_eq!(refused(&env, &build), expected);
    let build_all = ["build-all", "--name", "dagster-ap", "-t", ts];
    assert_eq!(refused(&env, &build_all), expected);
}

#[test]
fn an_unknown_python_version_is_refused_listing_the_known_ones() {
    let env = Env::new();
    let versions = shown(&env, "python-base/versions.yaml");
    let build = [
        "build",
        "--name",
        "python-base",
        "-v",
        "3.1",
        "-t",
        &env.timestamp,
    ];
    assert_eq!(
        refused(&env, &build),
        format!(
            "image `python-base` has no Python version `3.1` in `{versions}` (it has: 3.9, 3.10)"
        )
    );
}

#[test]
fn a_base_image_that_is_not_in_the_catalog_is_refused_at_its_line() {
    let env = Env::new();
    let versions = shown(&env, "dagster-app/versions.yaml");
    env.write(
        "dagster-app/versions.yaml",
        "# app\n3.9:\n  base_image:\n    name: python-bsae\n    source: local\n",
    );
    let build = [
        "build",
        "--name",
        "dagster-app",
        "-v",
        "3.9",
        "-t",
        &env.timestamp,
    ];
    assert_eq!(
        refused(&env, &build),
        format!(
            "{versions}:4: base image `python-bsae` of Python 3.9 is not an image of the catalog \
             `{}`; did you mean `python-base`?",
            env.images().display()
        )
    );
}

#[test]
fn a_base_without_the_python_version_is_refused_naming_both_images() {
    let env = Env::new();
    env.write(
        "dagster-app/versions.yaml",
        "3.11:\n  base_image:\n    name: python-base\n    source: local\n",
    );
    let build = [
        "build-all",
        "--name",
        "dagster-app",
        "--with-deps",
        "-t",
        &env.timestamp,
    ];
    assert_eq!(
        refused(&env, &build),
        "`dagster-app` builds on `python-base` for Python 3.11, but `python-base` has no \
         Python 3.11 in its versions.yaml"
    );
}

#[test]
fn a_cycle_of_base_images_is_refused_showing_the_cycle() {
    let env = Env::empty();
    for (image, base) in [("a", "b"), ("b", "a")] {
        env.write(
            &format!("{image}/Dockerfile"),
            "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n",
        );
        env.write(
            &format!("{image}/versions.yaml"),
            &format!("3.9:\n  base_image:\n    name: {base}\n    source: local\n"),
        );
    }
    let ts = &env.timestamp;
    let with_deps = ["build-all", "--name", "a", "--with-deps", "-t", ts];
    assert_eq!(
        refused(&env, &with_deps),
        "base images form a cycle: a -> b -> a"
    );
    let one = ["build", "--name", "a", "-v", "3.9", "-t", ts];
    assert_eq!(refused(&env, &one), "base images form a cycle: a -> b -> a");
}

#[test]
fn base_image_in_docker_args_beside_base_image_is_refused_at_its_line() {
    let env = Env::new();
    let versions = shown(&env, "dagster-app/versions.yaml");
    env.write(
        "dagster-app/versions.yaml",
        "3.9:\n  base_image:\n    name: python-base\n    source: local\n  docker_args:\n    BASE_IMAGE: busybox\n",
    );
    let build = [
        "build",
        "--name",
        "dagster-app",
        "-v",
        "3.9",
        "-t",
        &env.timestamp,
    ];
    assert_eq!(
        refused(&env, &build),
        format!(
            "{versions}:6: `docker_args` sets `BASE_IMAGE` and `base_image` is declared too; \
             keep one of them"
        )
    );
}

#[test]
fn a_timestamp_that_cannot_be_in_a_tag_is_refused_naming_it() {
    let env = Env::new();
    for (timestamp, character) in [
        (format!("{}:bad", env.timestamp), ":"),
        (format!("a {}", env.timestamp), " "),
    ] {
        let message = refused(
            &env,
            &[&BUILD_PYTHON_BASE[..], &["-t", &timestamp]].concat(),
        );
        assert_eq!(
            message,
            format!(
                "`{timestamp}` is not a valid timestamp: `{character}` cannot be in a Docker tag \
                 (letters, digits, `_`, `.` and `-` only)"
            )
        );
    }
}

#[test]
fn an_image_name_that_docker_refuses_is_refused_naming_it() {
    let env = Env::new();
    let build = [
        "build",
        "--name",
        "Bad_Name",
        "-v",
        "3.9",
        "-t",
        &env.timestamp,
    ];
    assert_eq!(
        refused(&env, &build),
        "`Bad_Name` is not a valid image name: `B` is not allowed (lowercase letters, digits, \
         `.`, `_` and `-` only)"
    );
}

#[test]
fn a_tag_longer_than_128_characters_is_refused_and_128_is_accepted() {
    let env = Env::new();
    // `py3.9-` + 122 characters is 128, the longest tag; `py3.10-` + 122 is one too many.
    let padding = "x".repeat(122 - env.timestamp.len());
    let timestamp = format!("{padding}{}", env.timestamp);
    let dry_run = [&BUILD_PYTHON_BASE[..], &["-t", &timestamp, "--dry-run"]].concat();
    env.run(&dry_run).success();
    let all = ["build-all", "--name", "python-base", "-t", &timestamp];
    assert_eq!(
        refused(&env, &all),
        format!("`py3.10-{timestamp}` is not a valid tag: a tag is at most 128 characters")
    );
}

#[test]
fn a_custom_push_tag_that_cannot_be_a_tag_is_refused_naming_it() {
    let env = Env::new();
    let registry = env.registry();
    let push = [
        "--registry",
        &registry,
        "push",
        "--name",
        "python-base",
        "-v",
        "3.9",
        "--custom-tag",
        "bad tag",
    ];
    assert_eq!(
        refused(&env, &push),
        "`bad tag` is not a valid tag: ` ` cannot be in a Docker tag (letters, digits, `_`, `.` \
         and `-` only)"
    );
}
