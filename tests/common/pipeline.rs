//! A Buildkite pipeline printed by `pipeline`, read back for the tests of its steps.

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::{Engine, Env};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub env: BTreeMap<String, String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub label: String,
    pub key: String,
    #[serde(default)]
    pub agents: BTreeMap<String, String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub commands: Vec<String>,
}

/// `--registry <this test's registry> pipeline ARGS`, parsed.
pub fn pipeline(env: &Env, args: &[&str]) -> Pipeline {
    let registry = env.registry();
    let run = env
        .run(&[&["--registry", &registry, "pipeline"], args].concat())
        .success();
    serde_saphyr::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", run.stdout))
}

/// A folder for PATH with `dagster-image` and a stand-in `buildkite-agent` that appends its
/// arguments, one line per call, to `<root>/buildkite-agent-calls`.
pub fn agent_tools(env: &Env) -> PathBuf {
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
pub fn run_step(step: &Step, agent: &Env, pipeline_env: &BTreeMap<String, String>, bin: &Path) {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    for command in &step.commands {
        let mut sh = Command::new("sh");
        sh.args(["-c", command])
            .current_dir(agent.root())
            .envs(pipeline_env)
            .env("PATH", &path);
        Engine::under_test().configure(&mut sh);
        let output = sh.output().unwrap();
        let run = super::Run::from(output);
        assert_eq!(
            run.code,
            Some(0),
            "{} failed: `{command}`\n{run:#?}",
            step.key
        );
    }
}
