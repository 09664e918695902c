//! `check` on catalogs as read from disk: the example catalog passes, and every problem is
//! listed with its file, line and fix, changing nothing. None of it touches the engine (what
//! `check` says about builds on a rebuilt base is in `upkeep.rs`).

mod common;

use common::Env;
use common::family::{BASE_DOCKERFILE, check_rows, write_image};

#[test]
fn the_example_catalog_passes_check() {
    let env = Env::without_engine();
    let run = env.run(&["check"]).success();
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "no problems in 4 image(s)\n");
    assert_eq!(env.run(&["check", "--json"]).success().stdout, "[]\n");
}

#[test]
fn check_json_lists_every_problem_with_its_file_line_and_fix_and_changes_nothing() {
    let env = Env::empty_without_engine();
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

/// The Python original copied `build_cache/` folders in with per-image code; here a `COPY` of
/// one that `image.yaml` does not declare would build without it, so `check` names it.
#[test]
fn check_names_the_dockerfile_line_of_a_copy_source_missing_until_image_yaml_declares_it() {
    let env = Env::empty_without_engine();
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

/// The `image.yaml` files the README's "Moving a Dagster catalog over" gives, as
/// `(image name, text)`, read from the README itself so that the test follows its text.
fn readme_dagster_image_yamls() -> Vec<(String, String)> {
    let readme = fs_err::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Moving a Dagster catalog over")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has the section");
    section
        .split("```yaml\n")
        .skip(1)
        .map(|block| {
            let text = block.split("```").next().unwrap();
            let name = text
                .strip_prefix("# images/")
                .and_then(|rest| rest.split_once("/image.yaml\n"))
                .unwrap_or_else(|| panic!("a block naming its image.yaml:\n{text}"))
                .0;
            (name.to_owned(), text.to_owned())
        })
        .collect()
}

/// Dagster's Dockerfiles `COPY build_cache/ /` (and `example_project/`) and `ADD scala_modules`,
/// which its original tool copied in with per-image Python code: `check` names each one
/// missing, and the README's `image.yaml` for that image makes it whole.
#[test]
fn the_readmes_image_yaml_for_each_dagster_image_with_copies_satisfies_check() {
    let env = Env::empty_without_engine();
    let dockerfiles = [
        ("k8s-example", "COPY build_cache/ /\n"),
        (
            "k8s-example-editable",
            "COPY build_cache/ /\nCOPY example_project/ /\n",
        ),
        (
            "buildkite-integration-base",
            "ADD scala_modules /scala_modules\n",
        ),
    ];
    for (name, copies) in dockerfiles {
        write_image(&env, name, &["3.9"], None);
        env.write(
            &format!("{name}/Dockerfile"),
            &format!("{BASE_DOCKERFILE}{copies}"),
        );
    }
    let mut missing = check_rows(&env, &[], 1);
    missing.sort();
    assert_eq!(
        missing,
        [
            "buildkite-integration-base missing-copy-source buildkite-integration-base/Dockerfile:4",
            "k8s-example missing-copy-source k8s-example/Dockerfile:4",
            "k8s-example-editable missing-copy-source k8s-example-editable/Dockerfile:4",
            "k8s-example-editable missing-copy-source k8s-example-editable/Dockerfile:5",
        ]
    );

    let yamls = readme_dagster_image_yamls();
    let names: Vec<&str> = yamls.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "k8s-example",
            "k8s-example-editable",
            "buildkite-integration-base"
        ]
    );
    for (name, text) in &yamls {
        env.write(&format!("{name}/image.yaml"), text);
        for source in text.lines().filter_map(|line| {
            let line = line.trim_start().trim_start_matches("- ");
            let source = line.strip_prefix("from: ").unwrap_or(line);
            let source = source.split_whitespace().next()?;
            (source.contains("_modules") || source.starts_with("examples/")).then_some(source)
        }) {
            let folder = env.root().join(source);
            fs_err::create_dir_all(&folder).unwrap();
            fs_err::write(folder.join("setup.py"), "").unwrap();
        }
    }
    let run = env.run(&["check"]).success();
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "no problems in 3 image(s)\n");
}
