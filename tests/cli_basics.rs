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

/// Every command's path below the program (`["build-all"]`), the program's own first, with its
/// clap definition; hidden commands (the man page's) included.
fn every_command() -> Vec<(Vec<String>, clap::Command)> {
    use clap::CommandFactory as _;
    fn walk(
        path: Vec<String>,
        command: &clap::Command,
        out: &mut Vec<(Vec<String>, clap::Command)>,
    ) {
        out.push((path.clone(), command.clone()));
        // clap's own `help` command, whose `-h` is a command name.
        for sub in command
            .get_subcommands()
            .filter(|sub| sub.get_name() != "help")
        {
            let mut below = path.clone();
            below.push(sub.get_name().to_owned());
            walk(below, sub, out);
        }
    }
    let mut command = dagster_image::cli::Cli::command();
    command.build();
    let mut out = Vec::new();
    walk(Vec::new(), &command, &mut out);
    out
}

#[test]
fn every_flag_of_every_command_has_a_help_line() {
    let mut missing = Vec::new();
    let mut count = 0;
    for (path, command) in every_command() {
        for arg in command.get_arguments() {
            count += 1;
            let helped = arg.get_help().or(arg.get_long_help());
            if helped.is_none_or(|help| help.to_string().trim().is_empty()) {
                missing.push(format!("{} --{}", path.join(" "), arg.get_id()));
            }
        }
    }
    assert!(count > 100, "only {count} arguments walked");
    assert!(missing.is_empty(), "no help text: {missing:#?}");
}

/// `-h` wraps at 100 columns where the terminal's width is unknown (clap's `wrap_help`).
#[test]
fn every_short_help_fits_100_columns() {
    let env = Env::without_engine();
    let mut too_wide = Vec::new();
    for (path, command) in every_command() {
        if command.is_hide_set() {
            continue;
        }
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("-h");
        let mut bare = env.bare(&args);
        bare.env_remove("COLUMNS");
        let run = Run::from(bare.output().unwrap()).success();
        assert!(run.stdout.contains("Usage:"), "{args:?}: {}", run.stdout);
        // The `Usage:` line lists the required flags, which clap does not wrap.
        let help = run
            .stdout
            .lines()
            .filter(|line| !line.starts_with("Usage:"));
        for line in help {
            if line.chars().count() > 100 {
                too_wide.push(format!("{args:?}: {line}"));
            }
        }
    }
    assert!(too_wide.is_empty(), "lines over 100 columns: {too_wide:#?}");
}
