//! `list`, finding the images folder, and the exit codes of the command line itself.

mod common;

use common::{Env, Run};

#[test]
fn list_prints_image_names_sorted_one_per_line() {
    let env = Env::without_engine();
    let run = env.run(&["list"]).success();
    assert_eq!(
        run.stdout,
        "buildkite-unit\nbuildkite-unit-snapshot-builder\ndagster-app\npython-base\n"
    );
}

#[test]
fn images_folder_defaults_to_images_in_the_working_directory() {
    let env = Env::without_engine();
    let run = Run::from(env.bare(&["list"]).output().unwrap()).success();
    assert_eq!(run.stdout.lines().count(), 4);
}

#[test]
fn images_folder_falls_back_to_the_seed_layout_under_the_git_root() {
    let env = Env::empty_without_engine();
    let seed = env
        .root()
        .join("repo/python_modules/automation/automation/docker/images/only-image");
    fs_err::create_dir_all(&seed).unwrap();
    fs_err::create_dir_all(env.root().join("repo/.git")).unwrap();
    fs_err::write(seed.join("versions.yaml"), "3.10: {}\n").unwrap();
    let mut command = env.bare(&["list"]);
    command.current_dir(env.root().join("repo/python_modules"));
    let run = Run::from(command.output().unwrap()).success();
    assert_eq!(run.stdout, "only-image\n");
}

#[test]
fn images_folder_comes_from_the_environment() {
    let env = Env::without_engine();
    let mut command = env.bare(&["list"]);
    command
        .current_dir("/")
        .env("DAGSTER_IMAGES_DIR", env.images());
    let run = Run::from(command.output().unwrap()).success();
    assert_eq!(run.stdout.lines().count(), 4);
}

#[test]
fn a_missing_images_folder_is_bad_input() {
    let env = Env::empty_without_engine();
    let run = Run::from(
        env.bare(&["--images-dir", "/nonexistent/images", "list"])
            .output()
            .unwrap(),
    );
    run.code(2)
        .stderr_has("`/nonexistent/images` is not a directory");
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::without_engine();
    env.run(&["build", "--name", "dagster-app"])
        .code(2)
        .stderr_has("--python-version");
    env.run(&["snapshot", "-t", "nightly"])
        .code(2)
        .stderr_has("invalid value 'nightly'");
}
