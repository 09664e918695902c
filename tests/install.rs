//! What an install ships besides the binary: shell completions, the man page, and a `--version`
//! that names the commit it was built from.

mod common;

use std::process::Command;

use common::{Env, Run};

/// The commands a user completes most, which every shell's script must offer.
const COMMANDS: [&str; 4] = [
    "build-all",
    "build-and-push-dockerhub",
    "push-ecr",
    "publish",
];

fn completions(env: &Env, shell: &str) -> String {
    env.run(&["completions", shell]).success().stdout
}

#[test]
fn bash_completion_parses_and_completes_command_names() {
    let env = Env::without_engine();
    let script = env.path("dagster-image.bash");
    fs_err::write(&script, completions(&env, "bash")).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    Run::from(syntax).success();
    // What bash does on `dagster-image build-a<TAB>`: the completion function fills COMPREPLY.
    let complete = r#"source "$1"; COMP_WORDS=(dagster-image build-a); COMP_CWORD=1
        _dagster__image dagster-image build-a dagster-image; printf '%s\n' "${COMPREPLY[@]}""#;
    let offered = Command::new("bash")
        .args(["-c", complete, "bash"])
        .arg(&script)
        .output()
        .unwrap();
    let offered = Run::from(offered).success();
    assert_eq!(offered.stdout, "build-all\nbuild-and-push-dockerhub\n");
}

#[test]
fn every_shell_gets_a_completion_script_offering_the_commands() {
    let env = Env::without_engine();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = completions(&env, shell);
        for command in COMMANDS {
            assert!(
                script.contains(command),
                "{shell} lacks {command}:\n{script}"
            );
        }
    }
}

#[test]
fn an_unknown_shell_is_bad_input() {
    let env = Env::without_engine();
    env.run(&["completions", "tcsh"])
        .code(2)
        .stderr_has("invalid value 'tcsh'");
}

#[test]
fn man_page_renders_with_the_commands_and_the_version() {
    let env = Env::without_engine();
    let page = env.path("dagster-image.1");
    fs_err::write(&page, env.run(&["man-page"]).success().stdout).unwrap();
    let rendered = Command::new("man")
        .arg("--local-file")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .output()
        .unwrap();
    let rendered = Run::from(rendered).success();
    let version = env.run(&["--version"]).success().stdout;
    for text in [
        "NAME",
        "dagster-image - Build, snapshot and push",
        "--images-dir",
    ]
    .into_iter()
    .chain(COMMANDS)
    .chain([version.trim().trim_start_matches("dagster-image ")])
    {
        assert!(
            rendered.stdout.contains(text),
            "no {text:?} in:\n{}",
            rendered.stdout
        );
    }
}

#[test]
fn version_names_the_commit_and_date_it_was_built_from() {
    let env = Env::without_engine();
    let manifest_dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(manifest_dir)
            .output()
            .unwrap();
        Run::from(output).success().stdout.trim().to_owned()
    };
    let commit = git(&["log", "-1", "--date=short", "--format=%h %cd"]);
    assert_eq!(
        env.run(&["--version"]).success().stdout,
        format!("dagster-image {} ({commit})\n", env!("CARGO_PKG_VERSION"))
    );
}
