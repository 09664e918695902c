//! `--registry-cache` on a real BuildKit daemon of the test's own, whose cache is emptied
//! (stopped, its state deleted, started again) between two builds, as a fresh CI agent starts:
//! the bake file's registry cache brings the early step back without running it. Skipped,
//! saying so, only on a checkout without `../shared/tools/buildkit`.

mod common;

use std::path::PathBuf;

use common::buildkit::{
    BuildKit, OwnBuildKit, REGISTRY_BASE, catalog_on_the_registry_base, manifest_type_and_digest,
};
use common::{Env, Run, docker_output, run_image};

/// What the early step prints when it runs: its command says `$((40+2))`, so only a run of it
/// prints this.
const EARLY_STEP_RAN: &str = "early step ran: 42";

/// python-base with an early step that writes a value of its own run (`/early`) and a late step
/// saying `late`.
fn python_base_dockerfile(late: &str) -> String {
    format!(
        "FROM {REGISTRY_BASE}\nARG PYTHON_VERSION\n\
         RUN echo \"early step ran: $((40+2))\" && cat /proc/sys/kernel/random/uuid > /early\n\
         RUN echo {late} > /late\n"
    )
}

/// `bake --push` of python-base py3.10 at `timestamp` with the registry cache, run by `buildkit`.
fn bake_with_the_cache(buildkit: &BuildKit, env: &Env, timestamp: &str) -> Run {
    let registry = env.registry();
    let args = [
        "--registry",
        &registry,
        "--registry-cache",
        "bake",
        "--push",
        "--name",
        "python-base",
        "-t",
        timestamp,
    ];
    let run = env.run(&args).success();
    let file: PathBuf = env.root().join(format!("{timestamp}.json"));
    fs_err::write(&file, &run.stdout).unwrap();
    buildkit
        .bake(&file, env.root(), &["python-base-py3_10"])
        .success()
}

/// `/early` of python-base py3.10 at `timestamp`, pulled from the registry.
fn early_value(env: &Env, timestamp: &str) -> String {
    let image = format!("{}/python-base:py3.10-{timestamp}", env.registry());
    docker_output(&["pull", &image]);
    run_image(&image, &["cat", "/early"])
}

#[test]
fn bake_on_a_builder_whose_cache_was_emptied_takes_the_early_step_from_the_registry_cache() {
    let test = "bake_on_a_builder_whose_cache_was_emptied";
    let Some(shared) = BuildKit::require(test) else {
        return;
    };
    let env = catalog_on_the_registry_base();
    env.write("python-base/Dockerfile", &python_base_dockerfile("first"));
    let own = OwnBuildKit::start(&shared);
    let first = bake_with_the_cache(&own.buildkit, &env, &env.timestamp);
    assert!(first.stderr.contains(EARLY_STEP_RAN), "{first:#?}");
    let repository = format!("{}/python-base", env.registry_path());
    let (media_type, _) = manifest_type_and_digest(&repository, "buildcache-py3.10");
    assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");

    own.empty_its_cache();
    env.write("python-base/Dockerfile", &python_base_dockerfile("second"));
    let second_timestamp = env.timestamp_labelled("second");
    let second = bake_with_the_cache(&own.buildkit, &env, &second_timestamp);
    assert!(!second.stderr.contains(EARLY_STEP_RAN), "{second:#?}");
    assert_eq!(
        early_value(&env, &second_timestamp),
        early_value(&env, &env.timestamp),
        "the early step's layer is the first build's"
    );
    let late = format!("{}/python-base:py3.10-{second_timestamp}", env.registry());
    assert_eq!(run_image(&late, &["cat", "/late"]), "second\n");
}
