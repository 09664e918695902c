use std::path::{Path, PathBuf};

use super::*;
use crate::catalog::image_config::Copy;
use crate::catalog::versions;
use crate::dockerignore::DockerIgnore;

const BASE_DOCKERFILE: &str = "FROM scratch\nARG PYTHON_VERSION\n";
const CHILD_DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";

/// An image folder `images/<name>` read from the given file contents.
fn folder(name: &str, versions_yaml: &str, last_updated_yaml: &str, dockerfile: &str) -> Folder {
    let dir = Path::new("images").join(name);
    Folder {
        name: name.to_owned(),
        versions: versions::parse(&dir.join("versions.yaml"), versions_yaml),
        last_updated: LastUpdated::parse(&dir.join("last_updated.yaml"), last_updated_yaml),
        config: Ok(ImageConfig::default()),
        dockerfile: Ok(dockerfile.to_owned()),
        context: Ok(ContextPaths::default()),
        uncopiable: Vec::new(),
        dir,
    }
}

/// `versions.yaml` building each of `versions` on the local `base`.
fn on_base(base: &str, versions: &[&str]) -> String {
    versions
        .iter()
        .map(|v| format!("'{v}':\n  base_image: {{name: {base}, source: local}}\n"))
        .collect()
}

fn base_folder(last_updated: &str) -> Folder {
    let versions = "'3.9': {docker_args: {PYTHON_VERSION: '3.9'}}\n'3.10': {docker_args: {PYTHON_VERSION: '3.10'}}\n";
    folder("base", versions, last_updated, BASE_DOCKERFILE)
}

fn folders(list: Vec<Folder>) -> Folders {
    list.into_iter().map(|f| (f.name.clone(), f)).collect()
}

/// `base`, with `base_last_updated`, and the image `app` read from the given files.
fn base_and_app(
    base_last_updated: &str,
    versions: &str,
    last_updated: &str,
    dockerfile: &str,
) -> Folders {
    folders(vec![
        base_folder(base_last_updated),
        folder("app", versions, last_updated, dockerfile),
    ])
}

/// Each problem as `image kind file:line`.
fn summary(folders: &Folders) -> Vec<String> {
    problems(folders)
        .iter()
        .map(|p| {
            let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
            let file = Path::new(&p.file).file_name().unwrap().to_string_lossy();
            format!("{} {:?} {file}{line}", p.image, p.kind)
        })
        .collect()
}

#[test]
fn a_consistent_catalog_has_no_problems() {
    let catalog = base_and_app(
        "'3.9': T1\n'3.10': T1\n",
        &on_base("base", &["3.9", "3.10"]),
        "'3.9': T1\n",
        CHILD_DOCKERFILE,
    );
    assert_eq!(summary(&catalog), Vec::<String>::new());
}

#[test]
fn every_unreadable_file_is_a_problem_of_its_own_with_its_line() {
    let mut broken = folder("broken", "3.9:\n  docker_arg: {}\n", "3.9: [x\n", "");
    broken.dockerfile = Err(catalog::Error::Io(std::io::ErrorKind::NotFound.into()));
    let catalog = folders(vec![broken]);
    assert_eq!(
        summary(&catalog),
        [
            "broken MissingDockerfile Dockerfile",
            "broken InvalidFile last_updated.yaml:1",
            "broken InvalidFile versions.yaml:2",
        ]
    );
    let problems = problems(&catalog);
    assert!(
        problems[2]
            .problem
            .starts_with("unknown field `docker_arg`")
    );
    assert_eq!(problems[2].file, "images/broken/versions.yaml");
}

#[test]
fn an_unknown_base_is_reported_at_its_line_with_a_suggestion() {
    let catalog = base_and_app("", &on_base("bse", &["3.9"]), "", CHILD_DOCKERFILE);
    let problems = problems(&catalog);
    assert_eq!(summary(&catalog), ["app UnknownBase versions.yaml:2"]);
    assert!(
        problems[0].fix.starts_with("change it to `base`"),
        "{problems:?}"
    );
}

#[test]
fn a_base_lacking_the_python_version_is_reported() {
    let catalog = base_and_app("", &on_base("base", &["3.9", "3.8"]), "", CHILD_DOCKERFILE);
    assert_eq!(summary(&catalog), ["app BaseLacksVersion versions.yaml:4"]);
}

#[test]
fn a_cycle_is_reported_once_at_its_first_image_listing_its_versions() {
    let catalog = folders(vec![
        folder("c", &on_base("a", &["3.9", "3.10"]), "", CHILD_DOCKERFILE),
        folder("b", &on_base("c", &["3.9", "3.10"]), "", CHILD_DOCKERFILE),
        folder("a", &on_base("b", &["3.9", "3.10"]), "", CHILD_DOCKERFILE),
        folder("leaf", &on_base("a", &["3.9"]), "", CHILD_DOCKERFILE),
    ]);
    assert_eq!(summary(&catalog), ["a Cycle versions.yaml:2"]);
    assert_eq!(
        problems(&catalog)[0].problem,
        "base images form a cycle for Python 3.9, 3.10: a -> b -> c -> a"
    );
}

#[test]
fn entries_for_versions_no_longer_built_are_reported_one_each() {
    let catalog = folders(vec![base_folder("'3.7': T0\n'3.9': T1\n'3.8': T0\n")]);
    assert_eq!(
        summary(&catalog),
        [
            "base LeftoverEntry last_updated.yaml",
            "base LeftoverEntry last_updated.yaml"
        ]
    );
    assert!(problems(&catalog)[1].problem.contains("`3.8: T0`"));
}

#[test]
fn an_image_built_before_its_base_was_rebuilt_is_reported() {
    let catalog = base_and_app(
        "'3.9': 2021-01-01T000000\n'3.10': 2021-01-01T000000\n",
        &on_base("base", &["3.9", "3.10"]),
        "'3.9': 2020-06-01T120000\n'3.10': 2022-01-01T000000\n",
        CHILD_DOCKERFILE,
    );
    assert_eq!(summary(&catalog), ["app BuiltBeforeBase last_updated.yaml"]);
    let problem = &problems(&catalog)[0];
    assert!(
        problem
            .problem
            .starts_with("Python 3.9 was built at 2020-06-01T120000, before")
    );
    assert!(
        problem
            .fix
            .contains("build-all --name app --with-dependents")
    );
}

#[test]
fn custom_timestamps_are_up_to_date_only_when_equal() {
    assert_eq!(build_order("x", "x"), None);
    assert_eq!(build_order("rebuilt-x", "x"), Some(Order::Unknown));
    assert_eq!(build_order("x", "2020-01-01T000000"), Some(Order::Unknown));
    assert_eq!(
        build_order("2020-01-01T000000", "2021-01-01T000000"),
        Some(Order::Before)
    );
    assert_eq!(build_order("2021-01-01T000000", "2020-01-01T000000"), None);
}

#[test]
fn a_base_from_the_registry_is_not_compared() {
    let versions = "'3.9':\n  base_image: {name: base, source: aws}\n";
    let catalog = base_and_app("'3.9': T2\n", versions, "'3.9': T1\n", CHILD_DOCKERFILE);
    assert_eq!(summary(&catalog), Vec::<String>::new());
}

#[test]
fn build_args_the_dockerfile_never_declares_are_reported_once_each() {
    let versions = "'3.9':\n  docker_args: {PYTHON_VERSION: '3.9', http_proxy: x}\n  base_image: {name: base, source: local}\n'3.10':\n  docker_args: {PYTHON_VERSION: '3.10'}\n  base_image: {name: base, source: local}\n";
    let catalog = base_and_app("", versions, "", "FROM scratch\n");
    assert_eq!(
        summary(&catalog),
        [
            "app UndeclaredBuildArg Dockerfile",
            "app UndeclaredBuildArg Dockerfile"
        ]
    );
    let problems = problems(&catalog);
    assert!(
        problems[0]
            .problem
            .contains("`PYTHON_VERSION` (from `docker_args` of Python 3.9, 3.10)")
    );
    assert!(
        problems[1]
            .problem
            .contains("`BASE_IMAGE` (from the `base_image` of Python 3.9, 3.10)")
    );
}

#[test]
fn base_image_and_dagster_version_used_without_arg_are_reported_at_their_line() {
    let dockerfile = "FROM ${BASE_IMAGE}\nARG BASE_IMAGE\nRUN echo $DAGSTER_VERSION $HOME\n";
    let catalog = base_and_app("", &on_base("base", &["3.9"]), "", dockerfile);
    assert_eq!(
        summary(&catalog),
        [
            "app VariableWithoutArg Dockerfile:1",
            "app VariableWithoutArg Dockerfile:3"
        ]
    );
    let problems = problems(&catalog);
    assert_eq!(
        problems[0].fix,
        "add `ARG BASE_IMAGE` before the first `FROM`"
    );
    assert_eq!(
        problems[1].fix,
        "add `ARG DAGSTER_VERSION` in this stage, before line 3"
    );
}

#[test]
fn with_bases_is_the_image_and_what_it_builds_on() {
    let catalog = folders(vec![
        base_folder(""),
        folder("mid", &on_base("base", &["3.9"]), "", CHILD_DOCKERFILE),
        folder("top", &on_base("mid", &["3.9"]), "", CHILD_DOCKERFILE),
        folder("other", &on_base("base", &["3.9"]), "", CHILD_DOCKERFILE),
    ]);
    let reached: Vec<String> = with_bases(&catalog, "top").into_iter().collect();
    assert_eq!(reached, ["base", "mid", "top"]);
}

#[test]
fn text_shows_file_line_problem_and_fix() {
    let problem = Problem {
        image: "app".into(),
        kind: Kind::Cycle,
        file: "images/app/versions.yaml".into(),
        line: Some(3),
        problem: "it is wrong".into(),
        fix: "mend it".into(),
    };
    assert_eq!(
        as_text(&[problem]),
        "images/app/versions.yaml:3: it is wrong\n    fix: mend it\n"
    );
}

const TWO_VERSIONS: &str = "'3.9': {docker_args: {PYTHON_VERSION: '3.9'}}\n'3.10': {docker_args: {PYTHON_VERSION: '3.10'}}\n";

/// The image `app` (Python 3.9 and 3.10) whose context holds `paths` after `dockerignore`, with
/// the `image.yaml` `copies` (destination, exclude patterns).
fn app_with_context(
    dockerfile: &str,
    paths: &[&str],
    dockerignore: &str,
    copies: &[(&str, &[&str])],
) -> Folders {
    let mut app = folder("app", TWO_VERSIONS, "", dockerfile);
    app.context = Ok(ContextPaths {
        paths: paths.iter().map(PathBuf::from).collect(),
        ignore: DockerIgnore::parse(dockerignore),
    });
    let copies = copies.iter().map(|(to, exclude)| Copy {
        from: PathBuf::from("/repo/python_modules/dagster"),
        to: PathBuf::from(to),
        exclude: exclude.iter().map(|p| p.to_string()).collect(),
    });
    app.config = Ok(ImageConfig {
        copies: copies.collect(),
        references: Vec::new(),
        platforms: Vec::new(),
        secrets: Vec::new(),
    });
    folders(vec![app])
}

/// A Dockerfile declaring `PYTHON_VERSION` with `copies` as its next lines, from line 3.
fn dockerfile_copying(copies: &[&str]) -> String {
    format!("FROM scratch\nARG PYTHON_VERSION\n{}\n", copies.join("\n"))
}

#[test]
fn copy_sources_missing_from_the_context_are_reported_at_their_line_with_their_versions() {
    let dockerfile = dockerfile_copying(&[
        "COPY build_cache/dagster /dagster",
        "COPY reqs-${PYTHON_VERSION}.txt present.txt /r/",
        "ADD --chown=1:1 [\"present.txt\", \"/p\"]",
    ]);
    let catalog = app_with_context(&dockerfile, &["present.txt", "reqs-3.9.txt"], "", &[]);
    assert_eq!(
        summary(&catalog),
        [
            "app MissingCopySource Dockerfile:3",
            "app MissingCopySource Dockerfile:4"
        ]
    );
    let problems = problems(&catalog);
    assert_eq!(
        problems[0].problem,
        "the `COPY` source `build_cache/dagster` is not in the build context for Python 3.9, 3.10"
    );
    assert_eq!(
        problems[0].fix,
        "add it to the image folder or declare it under `copy:` in image.yaml (e.g. `- {from: <repo path>, to: build_cache/dagster}`)"
    );
    assert_eq!(
        problems[1].problem,
        "the `COPY` source `reqs-${PYTHON_VERSION}.txt` (`reqs-3.10.txt`) is not in the build context for Python 3.10"
    );
}

#[test]
fn a_declared_copy_provides_its_destination_what_it_keeps_inside_and_its_folders() {
    let present = [
        "COPY build_cache/dagster /d",
        "COPY build_cache /b",
        "COPY ./build_cache/dagster/setup.py /s",
        "COPY build_cache/* /all/",
        "COPY build_cache/dagster/*.py /py/",
    ];
    let copies: &[(&str, &[&str])] = &[("build_cache/dagster", &["**/*.class"])];
    let catalog = app_with_context(&dockerfile_copying(&present), &[], "", copies);
    assert_eq!(summary(&catalog), Vec::<String>::new());

    let absent = [
        "COPY build_cache/dagster/sub/Main.class /c",
        "COPY build_cache/other /o",
    ];
    let catalog = app_with_context(&dockerfile_copying(&absent), &[], "", copies);
    assert_eq!(
        summary(&catalog),
        [
            "app MissingCopySource Dockerfile:3",
            "app MissingCopySource Dockerfile:4"
        ]
    );
}

#[test]
fn a_glob_needs_a_match_and_dockerignore_hides_even_a_copy() {
    let dockerfile = dockerfile_copying(&[
        "COPY *.whl . ./app.sh /w/",
        "COPY *.tar /t/",
        "COPY build_cache/dagster /d",
    ]);
    let copies: &[(&str, &[&str])] = &[("build_cache/dagster", &[])];
    let context = ["dist.whl", "app.sh"];
    let catalog = app_with_context(&dockerfile, &context, "build_cache\n", copies);
    assert_eq!(
        summary(&catalog),
        [
            "app MissingCopySource Dockerfile:4",
            "app MissingCopySource Dockerfile:5"
        ]
    );
    let problems = problems(&catalog);
    assert!(
        problems[1]
            .problem
            .ends_with("for Python 3.9, 3.10, which `.dockerignore` leaves out"),
        "{}",
        problems[1].problem
    );
    assert!(
        problems[0].fix.ends_with("to: *.tar}`)"),
        "{}",
        problems[0].fix
    );
}

#[test]
fn other_stages_urls_unknown_variables_and_unreadable_image_yaml_are_not_judged() {
    let dockerfile = dockerfile_copying(&[
        "COPY --from=builder /out /out",
        "ADD https://example.com/a.tgz /a",
        "COPY $FROM_THE_BASE_IMAGE /x",
        "COPY <<EOF /f",
        "COPY inside-the-heredoc /h",
        "EOF",
    ]);
    let catalog = app_with_context(&dockerfile, &[], "", &[]);
    assert_eq!(summary(&catalog), Vec::<String>::new());

    let mut catalog = app_with_context(&dockerfile_copying(&["COPY gone /g"]), &[], "", &[]);
    let app = catalog.get_mut("app").unwrap();
    app.config = Err(catalog::Error::Invalid {
        path: "images/app/image.yaml".into(),
        problem: "bad".into(),
    });
    assert_eq!(summary(&catalog), ["app InvalidFile image.yaml"]);
}

#[test]
fn a_name_too_long_for_a_buildkite_step_key_is_a_problem_once_with_its_longest_version() {
    let versions = "'3.9': {}\n'3.10': {}\n";
    let fits = "a".repeat(93);
    let too_long = "b".repeat(94);
    let catalog = folders(vec![
        folder(&fits, versions, "", BASE_DOCKERFILE),
        folder(&too_long, versions, "", BASE_DOCKERFILE),
    ]);
    let problems = problems(&catalog);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = &problems[0];
    assert_eq!(
        (problem.image.as_str(), problem.kind, problem.line),
        (too_long.as_str(), Kind::NameTooLong, None)
    );
    let key = format!("{too_long}-py3_10");
    let short = crate::export::pipeline::step_key(&key);
    assert_eq!(
        problem.problem,
        format!(
            "the Buildkite step of Python 3.10 would be keyed `{key}`, 101 characters, over \
             Buildkite's 100; `pipeline` shortens it to `{short}`"
        )
    );
    assert_eq!(
        problem.fix,
        "rename the image folder to at most 93 characters, so every key reads as \
         `<image>-py<version>`"
    );
    assert_eq!(problem.file, format!("images/{too_long}/"));
}
