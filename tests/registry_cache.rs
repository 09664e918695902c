//! `--registry-cache` on the engine under test (docker's classic builder, docker with BuildKit,
//! podman): the first build finds no cache and succeeds, puts its cache in the registry, and a
//! build on an engine without its layers takes the early step from there; a cache the registry
//! refuses is a warning; without a registry the flag is bad input.

mod common;

use common::proxy::{Faults, Proxy};
use common::{Env, REGISTRY, Run, registry_get, registry_image_id, registry_tags, run_image};

/// What the early step prints when it runs: its command says `$((40+2))`, so only a run of it
/// prints this.
const EARLY_STEP_RAN: &str = "early step ran: 42";

/// python-base with an early step of this test only (no other build's cache has it) that
/// writes a value of its own run (`/early`), and a late step saying `late`.
fn python_base_dockerfile(env: &Env, late: &str) -> String {
    format!(
        "FROM dagster-image/rootfs:busybox\nARG PYTHON_VERSION\n\
         RUN echo \"early step ran: $((40+2))\" {} && cat /proc/sys/kernel/random/uuid > /early\n\
         RUN echo {late} > /late\n",
        env.timestamp
    )
}

/// `build` of python-base py3.10 at `timestamp` with the registry cache in `registry`.
fn build_with_the_cache(env: &Env, registry: &str, timestamp: &str) -> Run {
    env.run(&[
        "--registry",
        registry,
        "--registry-cache",
        "build",
        "--name",
        "python-base",
        "-v",
        "3.10",
        "-t",
        timestamp,
    ])
}

/// The build log of python-base py3.10 at `timestamp`.
fn build_log(env: &Env, timestamp: &str) -> String {
    let log = env.state_path(&format!("logs/{timestamp}/python-base-py3.10.log"));
    fs_err::read_to_string(log).unwrap()
}

/// The tags of the cache of python-base in the test's registry: the cache tag on docker,
/// podman's cache keys in its cache repository.
fn cache_tags(env: &Env) -> Vec<String> {
    let repository = format!("{}/python-base", env.registry_path());
    match common::docker() {
        "podman" => registry_tags(&format!("{repository}-buildcache")),
        _ => registry_tags(&repository)
            .into_iter()
            .filter(|tag| tag.starts_with("buildcache-"))
            .collect(),
    }
}

/// Whether the image at python-base's cache tag carries BuildKit's inline cache in its
/// configuration, as the registry holds it.
fn inline_cache_pushed(env: &Env) -> bool {
    let repository = format!("{}/python-base", env.registry_path());
    let config = registry_image_id(&repository, "buildcache-py3.10").expect("a cache manifest");
    registry_get(&format!("{repository}/blobs/{config}")).contains("moby.buildkit.cache.v0")
}

#[test]
fn a_first_build_without_a_cache_succeeds_and_a_build_without_its_layers_reuses_its_early_step() {
    let env = Env::new();
    env.write(
        "python-base/Dockerfile",
        &python_base_dockerfile(&env, "first"),
    );
    let registry = env.registry();
    build_with_the_cache(&env, &registry, &env.timestamp).success();
    assert!(build_log(&env, &env.timestamp).contains(EARLY_STEP_RAN));
    let tags = cache_tags(&env);
    match common::docker() {
        "podman" => assert!(!tags.is_empty(), "no cache pushed"),
        _ => assert_eq!(tags, ["buildcache-py3.10"]),
    }
    // BuildKit keeps its own cache when the image goes: what a fresh one reads is the cache
    // tag's image configuration, which must carry the inline cache.
    if common::docker() == "/usr/bin/docker" {
        assert!(
            inline_cache_pushed(&env),
            "no inline cache in the cache tag's image"
        );
    }
    let first = env.tag("python-base", "3.10");
    let early = run_image(&first, &["cat", "/early"]);

    env.remove_images();
    env.write(
        "python-base/Dockerfile",
        &python_base_dockerfile(&env, "second"),
    );
    let second_timestamp = env.timestamp_labelled("second");
    build_with_the_cache(&env, &registry, &second_timestamp).success();
    let log = build_log(&env, &second_timestamp);
    assert!(!log.contains(EARLY_STEP_RAN), "{log}");
    let second = format!("dagster/python-base:py3.10-{second_timestamp}");
    assert_eq!(run_image(&second, &["cat", "/early"]), early);
    assert_eq!(run_image(&second, &["cat", "/late"]), "second\n");
}

#[test]
fn a_cache_the_registry_refuses_is_a_warning_and_the_image_is_built() {
    let env = Env::new();
    let refusing = Faults {
        manifest_puts_failing_first: usize::MAX,
        ..Faults::default()
    };
    let proxy = Proxy::start(REGISTRY, refusing);
    let registry = format!("{}/{}", proxy.host, env.registry_path());
    let run = build_with_the_cache(&env, &registry, &env.timestamp).success();
    let refused = format!("warning: the registry refused the layer cache `{registry}/python-base");
    assert!(run.stderr.contains(&refused), "{run:#?}");
    let image = env.tag("python-base", "3.10");
    assert_eq!(run_image(&image, &["cat", "/python-version"]), "3.10\n");
    assert!(cache_tags(&env).is_empty());
}

#[test]
fn registry_cache_without_a_registry_is_bad_input_naming_the_registry_flag() {
    let env = Env::without_engine();
    let mut command = env.command(&["--registry-cache", "build-all", "--dry-run"]);
    command.env_remove("AWS_ACCOUNT_ID");
    let run = Run::from(command.output().unwrap()).code(2);
    assert!(run.stderr.contains("`--registry-cache`"), "{run:#?}");
    assert!(run.stderr.contains("hint: pass `--registry "), "{run:#?}");
}

#[test]
fn pipeline_build_commands_carry_the_registry_cache_and_bake_targets_import_and_export_it() {
    // Both ask the engine which images are current (for their labels and `--pull`).
    let env = Env::new();
    let registry = env.registry();
    let with_cache = ["--registry", &registry, "--registry-cache"];
    let run = env
        .run(&[&with_cache[..], &["pipeline", "-t", "T"]].concat())
        .success();
    let builds: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.contains("dagster-image build "))
        .collect();
    assert_eq!(builds.len(), 8, "{}", run.stdout);
    assert!(
        builds
            .iter()
            .all(|line| line.ends_with(" --registry-cache'"))
    );

    let bake = &[&with_cache[..], &["bake", "--push", "-t", "T"]].concat();
    let file: serde_json::Value = serde_json::from_str(&env.run(bake).success().stdout).unwrap();
    let target = &file["target"]["python-base-py3_10"];
    let cache = format!("{registry}/python-base:buildcache-py3.10");
    assert_eq!(
        target["cache-from"],
        serde_json::json!([format!("type=registry,ref={cache}")])
    );
    assert_eq!(
        target["cache-to"],
        serde_json::json!([format!(
            "type=registry,ref={cache},mode=max,image-manifest=true,oci-mediatypes=true,\
             ignore-error=true"
        )])
    );
}
