//! A Buildkite pipeline printed by `pipeline`, read back for the tests of its steps.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Env;

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
