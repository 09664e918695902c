//! Bad input: every case exits 2 with a one-line message that names the file and line (for
//! YAML) or the value at fault, and changes no file and builds no image.

mod common;

use common::{Env, build_args};

const BUILD_PYTHON_BASE: [&str; 5] = ["build", "--name", "python-base", "-v", "3.9"];

/// Runs `args` and asserts it was refused as bad input before doing anything: exit code 2, one
/// `error:` line on stderr and at most one `hint:` line after it, nothing on stdout, no file of
/// the catalog changed, the engine never called. Returns the message without its `error: `
/// prefix.
#[track_caller]
fn refused(env: &Env, args: &[&str]) -> String {
    let before = env.snapshot_files();
    let run = env.run_without_engine(args).code(2);
    assert_eq!(env.snapshot_files(), before, "files changed by {args:?}");
    assert_eq!(run.stdout, "", "{args:?}");
    let message = run
        .stderr
        .strip_prefix("error: ")
        .and_then(|m| m.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not one `error:` line: {:?}", run.stderr));
    let (error, hint) = match message.split_once("\nhint: ") {
        Some((error, hint)) => (error, Some(hint)),
        None => (message, None),
    };
    assert!(!error.contains('\n'), "more than one line: {message}");
    assert!(
        !hint.is_some_and(|h| h.contains('\n')),
        "more than one hint: {message}"
    );
    message.to_owned()
}

/// `build --name python-base -v 3.9 -t <timestamp>`, refused.
#[track_caller]
fn build_refused(env: &Env) -> String {
    refused(env, &build_args("python-base", "3.9", &env.timestamp))
}

/// The absolute path of `relative` in the catalog, as messages show it.
fn shown(env: &Env, relative: &str) -> String {
    env.path(relative).display().to_string()
}

#[test]
fn malformed_yaml_is_refused_at_its_line_and_column() {
    let env = Env::without_engine();
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
    let env = Env::without_engine();
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
fn an_unknown_field_is_refused_listing_the_known_ones_and_suggesting_one() {
    let env = Env::without_engine();
    let versions = shown(&env, "python-base/versions.yaml");
    env.write(
        "python-base/versions.yaml",
        "3.9:\n  docker_arg:\n    PYTHON_VERSION: 3.9\n",
    );
    assert_eq!(
        build_refused(&env),
        format!(
            "{versions}:2:3: unknown field `docker_arg`, expected one of docker_args, base_image; \
             did you mean `docker_args`?"
        )
    );
}

#[test]
fn a_python_version_declared_twice_is_refused_at_the_second_one() {
    let env = Env::without_engine();
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
    let env = Env::without_engine();
    env.write("python-base/versions.yaml", "3.9: {}\n3.9: {}\n");
    let message = build_refused(&env);
    assert!(!message.contains("DuplicateKeyPolicy"), "{message}");
}

#[test]
fn an_empty_versions_file_is_refused_with_an_example_entry() {
    let env = Env::without_engine();
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
    let env = Env::without_engine();
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
    let env = Env::without_engine();
    let last_updated = shown(&env, "python-base/last_updated.yaml");
    env.write("python-base/last_updated.yaml", "# built\n3.9: [broken\n");
    assert_eq!(
        build_refused(&env),
        format!("{last_updated}:2:6: expected a text value here")
    );
}

#[test]
fn a_malformed_last_updated_of_a_base_is_named_when_building_its_dependent() {
    let env = Env::without_engine();
    let last_updated = shown(&env, "python-base/last_updated.yaml");
    env.write("python-base/last_updated.yaml", "3.9: 2020 01 01\n");
    let message = refused(&env, &build_args("dagster-app", "3.9", &env.timestamp));
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
    let env = Env::without_engine();
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
    let env = Env::without_engine();
    let images = env.images();
    let expected = format!(
        "unknown image `dagster-ap` in `{}`\nhint: did you mean `dagster-app`?",
        images.display()
    );
    let ts = &env.timestamp;
    let build = build_args("dagster-ap", "3.9", ts);
    assert_eq!(refused(&env, &build), expected);
    let build_all = ["build-all", "--name", "dagster-ap", "-t", ts];
    assert_eq!(refused(&env, &build_all), expected);
}

#[test]
fn an_unknown_python_version_is_refused_listing_the_known_ones() {
    let env = Env::without_engine();
    let versions = shown(&env, "python-base/versions.yaml");
    let build = build_args("python-base", "3.1", &env.timestamp);
    assert_eq!(
        refused(&env, &build),
        format!(
            "image `python-base` has no Python version `3.1` in `{versions}` (it has: 3.9, 3.10)"
        )
    );
}

#[test]
fn a_base_image_that_is_not_in_the_catalog_is_refused_at_its_line() {
    let env = Env::without_engine();
    let versions = shown(&env, "dagster-app/versions.yaml");
    env.write(
        "dagster-app/versions.yaml",
        "# app\n3.9:\n  base_image:\n    name: python-bsae\n    source: local\n",
    );
    let build = build_args("dagster-app", "3.9", &env.timestamp);
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
    let env = Env::without_engine();
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
    let env = Env::empty_without_engine();
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
    let one = build_args("a", "3.9", ts);
    assert_eq!(refused(&env, &one), "base images form a cycle: a -> b -> a");
}

#[test]
fn base_image_in_docker_args_beside_base_image_is_refused_at_its_line() {
    let env = Env::without_engine();
    let versions = shown(&env, "dagster-app/versions.yaml");
    env.write(
        "dagster-app/versions.yaml",
        "3.9:\n  base_image:\n    name: python-base\n    source: local\n  docker_args:\n    BASE_IMAGE: busybox\n",
    );
    let build = build_args("dagster-app", "3.9", &env.timestamp);
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
    let env = Env::without_engine();
    for (timestamp, character) in [
        (format!("{}:bad", env.timestamp), ":"),
        (format!("a {}", env.timestamp), " "),
    ] {
        let message = refused(&env, &build_args("python-base", "3.9", &timestamp));
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
    let env = Env::without_engine();
    let build = build_args("Bad_Name", "3.9", &env.timestamp);
    assert_eq!(
        refused(&env, &build),
        "`Bad_Name` is not a valid image name: `B` is not allowed (lowercase letters, digits, \
         `.`, `_` and `-` only)"
    );
}

#[test]
fn a_bad_image_name_is_refused_before_the_catalog_is_looked_for() {
    let env = Env::without_engine();
    fs_err::remove_dir_all(env.images()).unwrap();
    let to = "--to=127.0.0.1:5000/x";
    for command in [
        &["build", "--name", "Bad_Name", "-v", "3.9"][..],
        &["build-all", "--name", "Bad_Name"],
        &["bake", "--name", "Bad_Name"],
        &["push", "--name", "Bad_Name", "-v", "3.9"],
        &["push-all", "--name", "Bad_Name"],
        &["record", "--name", "Bad_Name", "-v", "3.9", "-t", "T"],
        &[
            "release",
            "--name",
            "Bad_Name",
            "--dagster-version",
            "1.2.3",
            to,
        ],
    ] {
        let run = env.run_without_engine(command).code(2);
        assert_eq!(
            run.stderr,
            "error: `Bad_Name` is not a valid image name: `B` is not allowed (lowercase letters, \
             digits, `.`, `_` and `-` only)\n",
            "{command:?}"
        );
    }
}

#[test]
fn a_tag_longer_than_128_characters_is_refused_and_128_is_accepted() {
    let env = Env::without_engine();
    // `py3.9-` + 122 characters is 128, the longest tag; `py3.10-` + 122 is one too many.
    let padding = "x".repeat(122 - env.timestamp.len());
    let timestamp = format!("{padding}{}", env.timestamp);
    let dry_run = [
        &build_args("python-base", "3.9", &timestamp)[..],
        &["--dry-run"],
    ]
    .concat();
    env.run_without_engine(&dry_run).success();
    let all = ["build-all", "--name", "python-base", "-t", &timestamp];
    assert_eq!(
        refused(&env, &all),
        format!("`py3.10-{timestamp}` is not a valid tag: a tag is at most 128 characters")
    );
}

#[test]
fn a_custom_push_tag_that_cannot_be_a_tag_is_refused_naming_it() {
    let env = Env::without_engine();
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

/// Writes each of `cases` (content, then the message after the file's path) into `file` of the
/// catalog in turn, asserts that building its image is refused with that message, and puts the
/// file back as it was.
#[track_caller]
fn refused_for_each(env: &Env, file: &str, cases: &[(&[u8], &str)]) {
    let path = env.path(file);
    let original = fs_err::read(&path).ok();
    let image = file.split('/').next().unwrap();
    let build = build_args(image, "3.9", &env.timestamp);
    for (content, message) in cases {
        fs_err::write(&path, content).unwrap();
        assert_eq!(
            refused(env, &build),
            format!("{}{message}", path.display()),
            "{}",
            String::from_utf8_lossy(content)
        );
    }
    match original {
        Some(bytes) => fs_err::write(&path, bytes).unwrap(),
        None => fs_err::remove_file(&path).unwrap(),
    }
}

const MAPPING_EXPECTED: &str = "expected a mapping of `key: value` entries here";

#[test]
fn versions_yaml_of_the_wrong_shape_or_missing_fields_is_refused_at_its_line() {
    let env = Env::without_engine();
    refused_for_each(
        &env,
        "python-base/versions.yaml",
        &[
            (b"hello\n", &format!(":1:1: {MAPPING_EXPECTED}")),
            (b"3.9: [a]\n", &format!(":1:6: {MAPPING_EXPECTED}")),
            (
                b"3.9:\n  docker_args:\n",
                &format!(":2:14: {MAPPING_EXPECTED}"),
            ),
            (
                b"3.9:\n  base_image: python-base\n",
                &format!(":2:15: {MAPPING_EXPECTED}"),
            ),
            (
                b"3.9:\n  docker_args:\n    A: {b: c}\n",
                ":3:8: expected a text value here",
            ),
            (
                b"3.9:\n  base_image: {source: local}\n",
                ":2:16: missing field `name`",
            ),
            (
                b"3.9:\n  base_image: {name: python-base}\n",
                ":2:16: missing field `source`",
            ),
        ],
    );
}

#[test]
fn unknown_keys_and_values_are_refused_suggesting_the_likely_one() {
    let env = Env::without_engine();
    refused_for_each(
        &env,
        "python-base/versions.yaml",
        &[
            (
                b"3.9:\n  base_imgae: {name: python-base, source: local}\n",
                ":2:3: unknown field `base_imgae`, expected one of docker_args, base_image; did \
                 you mean `base_image`?",
            ),
            (
                b"3.9:\n  base_image: {name: python-base, sorce: local}\n",
                ":2:35: unknown field `sorce`, expected one of name, source; did you mean \
                 `source`?",
            ),
            (
                b"3.9:\n  base_image: {name: python-base, source: locl}\n",
                ":2:43: unknown variant `locl`, expected one of local, aws; did you mean `local`?",
            ),
        ],
    );
    refused_for_each(
        &env,
        "python-base/image.yaml",
        &[
            (
                b"cpoy: []\n",
                ":1:1: unknown field `cpoy`, expected one of copy, references, platforms, secrets; did \
                 you mean `copy`?",
            ),
            (
                b"copy:\n  - {form: python_modules, to: x}\n",
                ":2:6: unknown field `form`, expected one of from, to, exclude; did you mean `from`?",
            ),
        ],
    );
}

#[test]
fn duplicate_keys_are_refused_at_the_second_one_in_every_file() {
    let env = Env::without_engine();
    refused_for_each(
        &env,
        "python-base/versions.yaml",
        &[(
            b"3.9:\n  docker_args:\n    A: x\n    A: y\n",
            ":4:5: duplicate mapping key: A",
        )],
    );
    refused_for_each(
        &env,
        "python-base/last_updated.yaml",
        &[(b"3.9: a\n3.9: b\n", ":2:1: duplicate mapping key: 3.9")],
    );
    refused_for_each(
        &env,
        "python-base/image.yaml",
        &[(b"copy: []\ncopy: []\n", ":2:1: duplicate mapping key: copy")],
    );
}

#[test]
fn last_updated_and_image_yaml_that_are_not_utf8_are_refused_naming_the_byte() {
    let env = Env::without_engine();
    refused_for_each(
        &env,
        "python-base/last_updated.yaml",
        &[(b"3.9: \xff\n", ": not valid UTF-8 (at byte 5)")],
    );
    refused_for_each(
        &env,
        "python-base/image.yaml",
        &[(b"copy: \xfe\n", ": not valid UTF-8 (at byte 6)")],
    );
}

#[test]
fn last_updated_of_the_wrong_shape_is_refused_at_its_line() {
    let env = Env::without_engine();
    refused_for_each(
        &env,
        "python-base/last_updated.yaml",
        &[
            (b"- 3.9\n", &format!(":1:1: {MAPPING_EXPECTED}")),
            (b"3.9: {a: b}\n", ":1:6: expected a text value here"),
        ],
    );
}

#[test]
fn a_missing_dockerfile_is_refused_before_docker_runs() {
    let env = Env::without_engine();
    let dockerfile = env.path("python-base/Dockerfile");
    fs_err::remove_file(&dockerfile).unwrap();
    assert_eq!(
        build_refused(&env),
        format!(
            "{}: there is no Dockerfile: add the one the image is built from",
            dockerfile.display()
        )
    );
    let message = refused(&env, &["build-all", "-t", &env.timestamp]);
    assert!(message.ends_with("there is no Dockerfile: add the one the image is built from"));
}

/// Docker would read a Dockerfile linked to `/dev/zero` until it runs out of memory, and
/// `check` would never end; both refuse it at once.
#[test]
fn a_dockerfile_that_is_a_device_is_refused_without_reading_it() {
    let env = Env::without_engine();
    let dockerfile = env.path("python-base/Dockerfile");
    fs_err::remove_file(&dockerfile).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &dockerfile).unwrap();
    let build = build_args("python-base", "3.9", &env.timestamp);
    env.run(&build).code(2).stderr_has(&format!(
        "{}: expected a regular file, found a special file",
        dockerfile.display()
    ));
    let check = env.run(&["check", "--name", "python-base"]).code(1);
    assert!(
        check
            .stdout
            .contains("expected a regular file, found a special file"),
        "{check:#?}"
    );
}

#[test]
fn a_platform_docker_would_refuse_is_refused_naming_it() {
    let env = Env::without_engine();
    for (platform, why) in [
        (
            "linux/amd64,linux/arm64",
            "one platform per build (`docker build` builds one at a time)",
        ),
        (
            "linux/arm/v7/x",
            "expected OS/ARCH or OS/ARCH/VARIANT, like linux/amd64 or linux/arm/v7",
        ),
        (
            "linux/-x",
            "`-x` is not a platform part (a letter or digit, then letters, digits, `_` and `-`)",
        ),
    ] {
        let expected = format!("`{platform}` is not a valid platform: {why}");
        let build = [&BUILD_PYTHON_BASE[..], &["--platform", platform]].concat();
        assert_eq!(refused(&env, &build), expected);
        let bake = ["bake", "--platform", platform];
        assert_eq!(refused(&env, &bake), expected);
    }
}

#[test]
fn files_over_the_size_limit_are_refused_before_parsing() {
    let env = Env::without_engine();
    let huge = vec![b'#'; 1024 * 1024 + 1];
    let message = ": the file is 1048577 bytes; catalog files are limited to 1048576";
    for file in ["versions.yaml", "last_updated.yaml", "image.yaml"] {
        refused_for_each(&env, &format!("python-base/{file}"), &[(&huge, message)]);
    }
}

#[test]
fn catalog_files_that_are_folders_or_devices_are_refused_without_reading_them() {
    let env = Env::without_engine();
    let last_updated = env.path("python-base/last_updated.yaml");
    fs_err::remove_file(&last_updated).unwrap();
    fs_err::create_dir(&last_updated).unwrap();
    assert_eq!(
        build_refused(&env),
        format!(
            "{}: expected a regular file, found a folder",
            last_updated.display()
        )
    );
    fs_err::remove_dir(&last_updated).unwrap();
    // Reading it would never end; not `refused`, whose snapshot of the files would read it too.
    let image_yaml = env.path("python-base/image.yaml");
    std::os::unix::fs::symlink("/dev/zero", &image_yaml).unwrap();
    let build = build_args("python-base", "3.9", &env.timestamp);
    env.run(&build).code(2).stderr_has(&format!(
        "{}: expected a regular file, found a special file",
        image_yaml.display()
    ));
}

#[test]
fn image_yaml_of_the_wrong_shape_is_refused_saying_what_is_expected() {
    let env = Env::without_engine();
    fs_err::create_dir_all(env.root().join("python_modules/dagster")).unwrap();
    refused_for_each(
        &env,
        "python-base/image.yaml",
        &[
            (b"- python_modules\n", &format!(":1:1: {MAPPING_EXPECTED}")),
            (
                b"copy: python_modules\n",
                ":1:7: expected a list (`- item` lines, or `[a, b]`) here",
            ),
            (
                b"copy:\n  - 12\n",
                ":2:5: invalid type: integer `12`, expected a path of the repository, or \
                 `{from: PATH, to: PATH}`",
            ),
            (
                b"copy:\n  - {from: python_modules}\n",
                ":2:6: missing field `to`",
            ),
        ],
    );
}

#[test]
fn copies_that_leave_the_repository_or_the_image_folder_are_refused_at_their_line() {
    let env = Env::without_engine();
    fs_err::create_dir_all(env.root().join("python_modules/dagster")).unwrap();
    std::os::unix::fs::symlink("/etc", env.root().join("escape")).unwrap();
    // Not to /tmp: the check that no file changed reads what the catalog's symlinks lead to.
    let elsewhere = env.root().join("elsewhere");
    fs_err::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.path("python-base/out")).unwrap();
    let outside_image_folder = format!(
        ":2: `out/x` leads outside the image folder (to `{}`)",
        fs_err::canonicalize(&elsewhere).unwrap().display()
    );
    let outside_repository = "must be a path inside the repository, relative and without `..`";
    refused_for_each(
        &env,
        "python-base/image.yaml",
        &[
            (
                b"copy:\n  - ../etc\n",
                &format!(":2: `../etc` {outside_repository}"),
            ),
            (
                b"copy:\n  - /etc\n",
                &format!(":2: `/etc` {outside_repository}"),
            ),
            (
                b"copy:\n  - escape\n",
                ":2: `escape` leads outside the repository (to `/etc`)",
            ),
            (
                b"copy:\n  - {from: python_modules, to: ../x}\n",
                ":2: `../x` must be a path inside the image folder, relative and without `..`",
            ),
            (
                b"copy:\n  - {from: python_modules, to: out/x}\n",
                &outside_image_folder,
            ),
            (
                b"copy:\n  - {from: python_modules, to: .}\n",
                ":2: `.` must be written plainly, as `a/b`: no empty or `.` part and no trailing `/`",
            ),
            (
                b"copy:\n  - {from: python_modules, to: a/.}\n",
                ":2: `a/.` must be written plainly, as `a/b`: no empty or `.` part and no trailing `/`",
            ),
            (
                b"copy:\n  - {from: python_modules, to: a/b}\n  - {from: python_modules/dagster, to: a//b}\n",
                ":3: `a//b` must be written plainly, as `a/b`: no empty or `.` part and no trailing `/`",
            ),
            (
                b"copy:\n  - {from: python_modules, to: a/b}\n  - {from: python_modules/dagster, to: a/b}\n",
                ":3: `a/b` is the destination of an earlier copy too",
            ),
            (
                b"copy:\n  - {from: python_modules, to: \"x\\n/tmp\"}\n",
                ":2: \"x\\n/tmp\" holds a control character (a newline?): write the path on one line",
            ),
            (
                b"copy:\n  - {from: python_modules, to: last_updated.yaml}\n",
                ":2: `last_updated.yaml` would land on the image's `last_updated.yaml`, which a copy may not replace; copy to another name",
            ),
            (
                b"copy:\n  - {from: ., to: vendor}\n",
                ":2: `.` holds the image folder, so it would be copied into itself",
            ),
        ],
    );
}

#[test]
fn a_malformed_exclude_pattern_is_refused_at_its_line() {
    let env = Env::without_engine();
    fs_err::create_dir_all(env.root().join("scala_modules")).unwrap();
    fs_err::write(env.root().join("scala_modules/build.sbt"), "").unwrap();
    let copy = "copy:\n  - from: scala_modules\n    to: scala_modules\n    exclude:";
    refused_for_each(
        &env,
        "python-base/image.yaml",
        &[
            (
                format!("{copy}\n      - .idea\n      - '[abc'\n").as_bytes(),
                ":6: `[abc` is not a pattern: unclosed character class; missing ']'",
            ),
            (
                format!("{copy} ['']\n").as_bytes(),
                ":4: `` is not a pattern: it is empty",
            ),
            (
                format!("{copy} '*.class'\n").as_bytes(),
                ":4:14: expected a list (`- item` lines, or `[a, b]`) here",
            ),
            (
                b"copy:\n  - {from: scala_modules/build.sbt, to: b, exclude: ['*.class']}\n",
                ":2: `exclude` leaves files out of a folder's copy, but `scala_modules/build.sbt` is a file",
            ),
        ],
    );
}

#[test]
fn a_base_image_named_by_a_path_is_refused_at_its_line() {
    let env = Env::without_engine();
    refused_for_each(
        &env,
        "dagster-app/versions.yaml",
        &[(
            b"3.9:\n  base_image:\n    name: ../images/python-base\n    source: local\n",
            ":3: base image `../images/python-base` is not an image name: `/` is not allowed \
             (lowercase letters, digits, `.`, `_` and `-` only)",
        )],
    );
}

#[test]
fn an_image_that_builds_on_itself_is_refused_as_a_cycle() {
    let env = Env::without_engine();
    env.write(
        "python-base/versions.yaml",
        "3.9:\n  base_image: {name: python-base, source: local}\n",
    );
    assert_eq!(
        build_refused(&env),
        "base images form a cycle: python-base -> python-base"
    );
}

#[test]
fn an_image_folder_whose_name_docker_refuses_stops_a_build_of_everything() {
    let env = Env::without_engine();
    env.write("Bad_Name/versions.yaml", "3.9: {}\n");
    env.write("Bad_Name/Dockerfile", "FROM dagster-image/rootfs:busybox\n");
    assert_eq!(
        refused(&env, &["build-all", "-t", &env.timestamp]),
        "`Bad_Name` is not a valid image name: `B` is not allowed (lowercase letters, digits, \
         `.`, `_` and `-` only)"
    );
}

#[test]
fn flag_values_that_cannot_be_used_are_refused_naming_them() {
    let env = Env::without_engine();
    let not_in_a_tag = "cannot be in a Docker tag (letters, digits, `_`, `.` and `-` only)";
    let cases: [(&[&str], String); 6] = [
        (
            &build_args("python-base", "3.9", ""),
            "`` is not a valid timestamp: it is empty".into(),
        ),
        (
            &["record", "--name", "python-base", "-v", "3.9", "-t", "a:b"],
            format!("`a:b` is not a valid timestamp: `:` {not_in_a_tag}"),
        ),
        (
            &["build", "--name", "../python-base", "-v", "3.9"],
            "`../python-base` is not a valid image name: `/` is not allowed (lowercase letters, \
             digits, `.`, `_` and `-` only)"
                .into(),
        ),
        (
            &[
                "--registry",
                "ho st",
                "push",
                "--name",
                "python-base",
                "-v",
                "3.9",
            ],
            "`ho st` is not a registry (`HOST[:PORT][/PATH]`): the host must be a DNS name or an \
             IP address"
                .into(),
        ),
        (
            &["check", "--name", "nope"],
            format!("unknown image `nope` in `{}`", env.images().display()),
        ),
        (
            &["status", "--name", "python-bse"],
            format!(
                "unknown image `python-bse` in `{}`\nhint: did you mean `python-base`?",
                env.images().display()
            ),
        ),
    ];
    for (args, message) in cases {
        assert_eq!(refused(&env, args), message, "{args:?}");
    }
}

/// A NUL cannot reach docker in an argument vector: found when the catalog is read, not when
/// the version holding it comes to be built, after the others were built and recorded.
#[test]
fn a_nul_in_a_build_argument_value_is_refused_before_any_version_builds() {
    let env = Env::without_engine();
    let versions = shown(&env, "python-base/versions.yaml");
    env.write(
        "python-base/versions.yaml",
        "3.9:\n  docker_args:\n    PYTHON_VERSION: 3.9\n3.10:\n  docker_args:\n    PYTHON_VERSION: \"a\\0b\"\n",
    );
    let message = refused(
        &env,
        &["build-all", "--name", "python-base", "-t", &env.timestamp],
    );
    assert_eq!(
        message,
        format!(
            "{versions}:6: the value of `PYTHON_VERSION` holds a NUL character, which no program \
             argument can carry"
        )
    );
}

/// `dagster/<name>` over Docker's 255 characters, and a log file name over 255 bytes: refused
/// as a name, before a build starts and fails on either.
#[test]
fn an_image_name_too_long_for_docker_and_its_log_file_is_refused_naming_it() {
    let env = Env::without_engine();
    let name = "a".repeat(250);
    env.write(&format!("{name}/versions.yaml"), "3.9: {}\n");
    env.write(
        &format!("{name}/Dockerfile"),
        "FROM dagster-image/rootfs:busybox\n",
    );
    let expected = format!(
        "`{name}` is not a valid image name: it is 250 characters long; an image name is at most 128"
    );
    assert_eq!(
        refused(&env, &build_args(&name, "3.9", &env.timestamp)),
        expected
    );
    assert_eq!(
        refused(&env, &["build-all", "-t", &env.timestamp]),
        expected
    );
}

#[test]
fn a_dockerfile_that_is_a_link_loop_is_refused_as_bad_input() {
    let env = Env::without_engine();
    let dockerfile = env.path("python-base/Dockerfile");
    fs_err::remove_file(&dockerfile).unwrap();
    std::os::unix::fs::symlink(&dockerfile, &dockerfile).unwrap();
    let expected = format!(
        "{}: a symbolic link that leads back to itself (a link loop)",
        dockerfile.display()
    );
    assert_eq!(build_refused(&env), expected);
    assert_eq!(
        refused(&env, &["build-all", "-t", &env.timestamp]),
        expected
    );
    assert_eq!(refused(&env, &["status"]), expected);
}

/// Reading a FIFO waits for a writer for ever; docker would hang on it, `check` passed it.
#[test]
fn a_dockerignore_that_is_a_fifo_is_refused_and_check_reports_it() {
    let env = Env::without_engine();
    let ignore = env.path("python-base/.dockerignore");
    let made = std::process::Command::new("mkfifo").arg(&ignore).status();
    assert!(made.unwrap().success());
    let expected = format!(
        "{}: expected a regular file, found a special file",
        ignore.display()
    );
    assert_eq!(build_refused(&env), expected);
    assert_eq!(refused(&env, &["status"]), expected);
    let check = env
        .run_without_engine(&["check", "--name", "python-base"])
        .code(1);
    assert!(
        check.stdout.contains(&format!(
            "the build context cannot be read: {}: expected a regular file, found a special file",
            ignore.display()
        )),
        "{check:#?}"
    );
}

/// `-t=--push` is a flag given as a value: recorded, it would name `py3.9---push`.
#[test]
fn a_timestamp_starting_with_a_dash_is_refused_as_a_flag_given_as_a_value() {
    let env = Env::without_engine();
    let expected = "`--push` is not a valid timestamp: a timestamp cannot start with `-` (it looks like a flag)";
    assert_eq!(
        refused(&env, &[&BUILD_PYTHON_BASE[..], &["-t=--push"]].concat()),
        expected
    );
    let record = ["record", "--name", "python-base", "-v", "3.9", "-t=--push"];
    assert_eq!(refused(&env, &record), expected);
}

/// The parser's message named its own functions (`use from_str_multiple`).
#[test]
fn a_last_updated_with_two_documents_is_refused_in_the_files_terms() {
    let env = Env::without_engine();
    let last_updated = shown(&env, "python-base/last_updated.yaml");
    env.write(
        "python-base/last_updated.yaml",
        "'3.9': a\n---\n'3.10': b\n",
    );
    assert_eq!(
        build_refused(&env),
        format!(
            "{last_updated}:3:1: a second YAML document starts here (after `---`); the file holds one"
        )
    );
}
