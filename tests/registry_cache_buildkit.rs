//! `--registry-cache` on a real BuildKit daemon of the test's own, whose cache is emptied
//! (stopped, its state deleted, started again) between two builds, as a fresh CI agent starts:
//! the bake file's registry cache brings the early step back without running it; and a release
//! built by buildx on the shared builder exports its registry cache. Skipped,
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

#[test]
fn a_buildx_release_exports_its_layer_cache_to_the_registry() {
    let Some(buildkit) = BuildKit::require("a_buildx_release_exports_its_layer_cache") else {
        return;
    };
    let env = Env::new();
    env.write(
        "python-base/Dockerfile",
        "ARG TARGETARCH\nFROM 127.0.0.1:5000/dagster-image/rootfs:busybox-${TARGETARCH}\n\
         ARG DAGSTER_VERSION\nRUN uname -m > /arch && echo $DAGSTER_VERSION > /dagster-version\n",
    );
    let registry = env.registry();
    let repository = format!("{registry}/python-base");
    let version = format!("2.0.{}", env.timestamp.replace('-', ""));
    let mut variables = buildkit.variables();
    // buildx is docker's: also when the suite runs on podman.
    variables.extend([
        ("BUILDX_BUILDER", common::buildkit::BUILDER),
        ("DOCKER", "docker"),
    ]);
    let args = [
        "--registry",
        &registry,
        "--registry-cache",
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        &version,
        "--repository",
        &repository,
    ];
    let dry = env
        .run_with(&[&args[..], &["--dry-run"]].concat(), &variables)
        .success();
    let cache = format!("{repository}:buildcache-py3.9");
    assert!(
        dry.stdout
            .contains(&format!("--cache-from type=registry,ref={cache} ")),
        "{}",
        dry.stdout
    );
    env.run_with(&args, &variables).success();
    let path = format!("{}/python-base", env.registry_path());
    let tags = common::registry_tags(&path);
    assert!(tags.contains(&"buildcache-py3.9".to_owned()), "{tags:?}");
    let (media_type, _) = manifest_type_and_digest(&path, "buildcache-py3.9");
    assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");
}
