//! `list` as the original tool prints it (every folder of `images/`), and the tool's own files
//! kept out of `images/`, in `.dagster-image/` beside it, so that a team running both tools on
//! one catalog sees no stray image in the original's `list` or `build-all`.

mod common;

use std::path::PathBuf;

use common::Env;

/// The example catalog's images, as `list` printed them before any extra folder.
const EXAMPLE_IMAGES: &str =
    "buildkite-unit\nbuildkite-unit-snapshot-builder\ndagster-app\npython-base\n";

/// The entries of the images folder itself (not of the image folders), sorted.
fn images_folder_entries(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(env.images())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The tool's folder beside the images folder, as the tool names it in its messages.
fn state_dir(env: &Env) -> PathBuf {
    fs_err::canonicalize(env.root())
        .unwrap()
        .join(".dagster-image")
}

/// The original lists every folder of `images/` (`os.scandir` + `is_dir()`): one holding only a
/// Dockerfile, a hidden one and a link to a folder too; files are no image.
#[test]
fn list_prints_every_folder_of_the_images_folder_as_the_original_does() {
    let env = Env::without_engine();
    env.write("only-dockerfile/Dockerfile", "FROM scratch\n");
    env.write(".hidden/notes.txt", "not an image\n");
    env.write("README.md", "# the catalog\n");
    std::os::unix::fs::symlink(env.path("python-base"), env.path("linked")).unwrap();
    let run = env.run_without_engine(&["list"]).success();
    assert_eq!(
        run.stdout,
        ".hidden\nbuildkite-unit\nbuildkite-unit-snapshot-builder\ndagster-app\nlinked\n\
         only-dockerfile\npython-base\n"
    );
    // What is no image is still refused where an image is needed, as bad input.
    env.run_without_engine(&["build", "--name", "only-dockerfile", "-v", "3.9"])
        .code(2)
        .stderr_has("error: unknown image `only-dockerfile`");
}

/// `check` says which folders are no image, and what to do about an `images/.dagster-image` an
/// older version of the tool left.
#[test]
fn check_names_each_folder_without_versions_yaml() {
    let env = Env::without_engine();
    env.write("only-dockerfile/Dockerfile", "FROM scratch\n");
    env.write(".dagster-image/logs/old.log", "an old log\n");
    let run = env.run_without_engine(&["check", "--json"]).code(1);
    let problems: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let not_images: Vec<(&str, &str, &str)> = (problems.as_array().unwrap().iter())
        .filter(|p| p["kind"] == "no-versions")
        .map(|p| {
            let text = |key: &str| p[key].as_str().unwrap();
            (text("image"), text("file"), text("fix"))
        })
        .collect();
    let file = |name: &str| {
        env.path(&format!("{name}/versions.yaml"))
            .display()
            .to_string()
    };
    assert_eq!(not_images.len(), 2, "{not_images:?}");
    assert_eq!(not_images[0].0, ".dagster-image");
    assert_eq!(not_images[0].1, file(".dagster-image"));
    assert!(not_images[0].2.starts_with("delete it"), "{not_images:?}");
    assert_eq!(not_images[1].0, "only-dockerfile");
    assert_eq!(not_images[1].1, file("only-dockerfile"));
    assert!(not_images[1].2.starts_with("add a `versions.yaml`"));
}

/// Builds, their logs, copy ledgers and failures leave nothing of the tool's in `images/`:
/// `list` (the original's too) shows the same images after as before, and the failure's
/// message names the log where it is, beside the images folder.
#[test]
fn builds_keep_their_logs_and_copies_ledger_beside_the_images_folder() {
    let env = Env::new();
    fs_err::write(env.root().join("shared.txt"), "shared\n").unwrap();
    env.write("python-base/image.yaml", "copy:\n  - shared.txt\n");
    let before = images_folder_entries(&env);
    let ts = &env.timestamp;
    env.run(&["build-all", "--name", "python-base", "-t", ts])
        .success();
    env.write(
        "dagster-app/Dockerfile",
        &format!("{}RUN exit 3\n", env.read("dagster-app/Dockerfile")),
    );
    let run = env
        .run(&["build", "--name", "dagster-app", "-v", "3.9", "-t", ts])
        .code(1);
    let log = state_dir(&env).join(format!("logs/{ts}/dagster-app-py3.9.log"));
    run.stderr_has(&format!("(full log: {})", log.display()));
    assert!(log.is_file());
    assert!(
        state_dir(&env)
            .join(format!("logs/{ts}/python-base-py3.9.log"))
            .is_file()
    );
    assert_eq!(
        fs_err::read_to_string(state_dir(&env).join(".gitignore")).unwrap(),
        "*\n"
    );
    assert_eq!(images_folder_entries(&env), before);
    env.run(&["list"]).success();
    assert_eq!(env.run(&["list"]).success().stdout, EXAMPLE_IMAGES);
}
