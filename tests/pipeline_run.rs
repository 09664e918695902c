//! The pipeline of `pipeline` run step by step as fresh Buildkite agents would, each with its
//! own checkout and an engine without the images of earlier steps: `pull` and `record` carry
//! the builds over, and every build ends up pushed and recorded.

mod common;

use common::pipeline::{agent_tools, pipeline, run_step};
use common::{Env, docker_output, registry_tags, run_image};

/// The first line of every example `last_updated.yaml`.
const LAST_UPDATED_COMMENT: &str =
    "# Written by dagster-image after each successful build: Python version -> timestamp.\n";

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
