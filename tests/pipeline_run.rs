//! The pipeline of `pipeline` run step by step as fresh Buildkite agents would, each with its
//! own checkout and an engine without the images of earlier steps: `pull` and `record` carry
//! the builds over, and every build ends up pushed and recorded.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::pipeline::{Step, pipeline};
use common::{Engine, Env, docker_output, registry_tags, run_image};

/// The first line of every example `last_updated.yaml`.
const LAST_UPDATED_COMMENT: &str =
    "# Written by dagster-image after each successful build: Python version -> timestamp.\n";

/// A folder for PATH with `dagster-image` and a stand-in `buildkite-agent` that appends its
/// arguments, one line per call, to `<root>/buildkite-agent-calls`.
fn agent_tools(env: &Env) -> PathBuf {
    let bin = env.root().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    symlink(
        env!("CARGO_BIN_EXE_dagster-image"),
        bin.join("dagster-image"),
    )
    .unwrap();
    let calls = env.root().join("buildkite-agent-calls");
    let script = bin.join("buildkite-agent");
    fs_err::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display()),
    )
    .unwrap();
    fs_err::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// Runs the commands of `step` with `sh`, as a Buildkite agent would, in `agent`'s checkout.
fn run_step(step: &Step, agent: &Env, pipeline_env: &BTreeMap<String, String>, bin: &Path) {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    for command in &step.commands {
        let mut sh = Command::new("sh");
        sh.args(["-c", command])
            .current_dir(agent.root())
            .envs(pipeline_env)
            .env("PATH", &path);
        Engine::under_test().configure(&mut sh);
        let output = sh.output().unwrap();
        let run = common::Run::from(output);
        assert_eq!(
            run.code,
            Some(0),
            "{} failed: `{command}`\n{run:#?}",
            step.key
        );
    }
}

#[test]
fn the_pipeline_run_step_by_step_on_fresh_agents_pushes_every_build_and_records_it() {
    let env = Env::new();
    let ts = &env.timestamp;
    let bin = agent_tools(&env);
    let pipeline = pipeline(&env, &["--name", "dagster-app", "-t", ts]);
    assert_eq!(pipeline.steps.len(), 5);
    let mut agents = Vec::new();
    for step in &pipeline.steps {
        // Each step gets its own checkout and an engine without the images of earlier steps.
        let agent = Env::new();
        env.remove_images();
        run_step(step, &agent, &pipeline.env, &bin);
        agents.push(agent);
    }
    for image in ["python-base", "dagster-app"] {
        assert_eq!(
            registry_tags(&format!("{}/{image}", env.registry_path())),
            [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
        );
    }
    let app = format!("{}/dagster-app:py3.10-{ts}", env.registry());
    docker_output(&["pull", &app]);
    assert_eq!(run_image(&app, &[]), "dagster dev on python 3.10\n");
    let last = agents.last().unwrap();
    for image in ["python-base", "dagster-app"] {
        assert_eq!(
            last.read(&format!("{image}/last_updated.yaml")),
            format!("{LAST_UPDATED_COMMENT}'3.9': {ts}\n'3.10': {ts}\n"),
            "{image}"
        );
    }
    assert_eq!(
        fs_err::read_to_string(env.root().join("buildkite-agent-calls")).unwrap(),
        "artifact upload images/*/last_updated.yaml\n"
    );
}
