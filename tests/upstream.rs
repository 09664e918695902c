//! Upstream images: a `FROM` the catalog does not build, here played by the loopback registry.
//! When it moves, `status` says so and `build-all --skip-unchanged` rebuilds exactly what is
//! built on it, pulling the new image; a registry that cannot be asked makes them unknown.

mod common;

use common::access_log::{AccessLog, REGISTRY_LOG};
use common::proxy::{Faults, Proxy};
use common::{
    Env, REGISTRY, ROOTFS_IMAGE, docker_output, image_exists, registry_digest, run_image,
};

/// An image with `/upstream` holding `content`, pushed as `reference`, then pulled back, as an
/// upstream image is on a machine that uses it (so the engine knows its registry digest). Its
/// digest in the registry.
fn publish_upstream(env: &Env, reference: &str, content: &str) -> String {
    let dir = env.root().join(format!("upstream-{content}"));
    fs_err::create_dir_all(&dir).unwrap();
    let dockerfile = format!("FROM {ROOTFS_IMAGE}\nRUN echo {content} > /upstream\n");
    fs_err::write(dir.join("Dockerfile"), dockerfile).unwrap();
    docker_output(&["build", "-t", reference, &dir.display().to_string()]);
    docker_output(&["push", reference]);
    docker_output(&["image", "rm", reference]);
    docker_output(&["pull", reference]);
    let (repository, tag) = reference.rsplit_once(':').unwrap();
    let path = repository.split_once('/').unwrap().1;
    registry_digest(path, tag).expect("the upstream image is in the registry")
}

/// Makes the engine's copy of `reference` the image `digest` of its repository again (after
/// another image was published under it): what a machine has until it pulls.
fn keep_old_copy(reference: &str, digest: &str) {
    let (repository, _) = reference.rsplit_once(':').unwrap();
    let pinned = format!("{repository}@{digest}");
    docker_output(&["image", "rm", reference]);
    docker_output(&["pull", &pinned]);
    docker_output(&["tag", &pinned, reference]);
}

/// `up-base` (Python 3.10 and 3.11, from `<upstream>:<version>-slim`) and `up-app` on it.
fn write_catalog(env: &Env, upstream: &str) {
    env.write(
        "up-base/Dockerfile",
        &format!(
            "ARG PYTHON_VERSION\nFROM {upstream}:${{PYTHON_VERSION}}-slim\n\
             RUN cp /upstream /seen\n"
        ),
    );
    env.write(
        "up-base/versions.yaml",
        "'3.10':\n  docker_args:\n    PYTHON_VERSION: '3.10'\n\
         '3.11':\n  docker_args:\n    PYTHON_VERSION: '3.11'\n",
    );
    env.write(
        "up-app/Dockerfile",
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN cat /seen > /app\n",
    );
    let version =
        |v: &str| format!("'{v}':\n  base_image:\n    name: up-base\n    source: local\n");
    env.write(
        "up-app/versions.yaml",
        &format!("{}{}", version("3.10"), version("3.11")),
    );
}

/// `status --json` as `(image, version) -> (stale, reasons)`, sorted.
fn status(env: &Env, extra: &[&str]) -> Vec<(String, bool, Vec<String>)> {
    let mut args = extra.to_vec();
    args.extend(["status", "--json"]);
    let run = env.run(&args).success();
    rows(&run.stdout)
}

fn rows(json: &str) -> Vec<(String, bool, Vec<String>)> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
    let mut rows: Vec<(String, bool, Vec<String>)> = rows
        .iter()
        .map(|r| {
            let name = format!(
                "{}:{}",
                r["image"].as_str().unwrap(),
                r["python_version"].as_str().unwrap()
            );
            let reasons = r["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect();
            (name, r["stale"].as_bool().unwrap(), reasons)
        })
        .collect();
    rows.sort();
    rows
}

fn fresh(names: &[&str]) -> Vec<(String, bool, Vec<String>)> {
    names
        .iter()
        .map(|n| (n.to_string(), false, Vec::new()))
        .collect()
}

const ALL: [&str; 4] = ["up-app:3.10", "up-app:3.11", "up-base:3.10", "up-base:3.11"];

/// `sha256:` and the first 12 hex digits.
fn short(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}

/// The image-versions of the catalog that have an image at `timestamp`.
fn built_at(timestamp: &str) -> Vec<String> {
    ALL.iter()
        .filter(|name| {
            let (image, version) = name.split_once(':').unwrap();
            image_exists(&format!("dagster/{image}:py{version}-{timestamp}"))
        })
        .map(|name| name.to_string())
        .collect()
}

#[test]
fn a_moved_upstream_image_is_stale_with_its_digests_and_skip_unchanged_rebuilds_on_it() {
    let env = Env::empty();
    let upstream = format!("{}/python", env.registry());
    let old_310 = publish_upstream(&env, &format!("{upstream}:3.10-slim"), "old");
    publish_upstream(&env, &format!("{upstream}:3.11-slim"), "old");
    write_catalog(&env, &upstream);
    env.run(&["build-all", "-t", &env.timestamp]).success();
    assert_eq!(status(&env, &[]), fresh(&ALL));

    let new_310 = publish_upstream(&env, &format!("{upstream}:3.10-slim"), "new");
    keep_old_copy(&format!("{upstream}:3.10-slim"), &old_310);
    let reason = format!(
        "upstream {upstream}:3.10-slim {} -> {}",
        short(&old_310),
        short(&new_310)
    );
    assert_eq!(
        status(&env, &[]),
        [
            ("up-app:3.10".to_owned(), true, vec!["base".to_owned()]),
            ("up-app:3.11".to_owned(), false, vec![]),
            ("up-base:3.10".to_owned(), true, vec![reason]),
            ("up-base:3.11".to_owned(), false, vec![]),
        ]
    );

    assert_eq!(
        pipeline_steps(&env),
        ["up-base-py3_10", "up-app-py3_10", "record-timestamps"]
    );

    let later = env.timestamp_labelled("later");
    let dry_run = env
        .run(&["build-all", "--skip-unchanged", "--dry-run", "-t", &later])
        .success();
    let pulling: Vec<&str> = dry_run
        .stdout
        .lines()
        .filter(|line| line.contains("--pull=true"))
        .collect();
    assert_eq!(pulling.len(), 1, "{}", dry_run.stdout);
    assert!(
        pulling[0].contains("dagster/up-base:py3.10-"),
        "{}",
        pulling[0]
    );
    let run = env
        .run(&["build-all", "--skip-unchanged", "-t", &later])
        .success();
    assert!(
        run.stderr.contains("2 of 4 image-versions changed"),
        "{}",
        run.stderr
    );
    assert_eq!(built_at(&later), ["up-app:3.10", "up-base:3.10"]);
    let app = format!("dagster/up-app:py3.10-{later}");
    assert_eq!(
        run_image(&app, &["cat", "/app"]),
        "new\n",
        "built on the pulled image"
    );
    assert_eq!(status(&env, &[]), fresh(&ALL));
    assert!(
        pipeline_steps(&env).is_empty(),
        "nothing moved, nothing to do"
    );
}

/// The step keys of `pipeline --skip-unchanged`.
fn pipeline_steps(env: &Env) -> Vec<String> {
    let registry = env.registry();
    let args = ["--registry", &registry, "pipeline", "--skip-unchanged"];
    let run = env.run(&args).success();
    run.stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("key: '"))
        .map(|key| key.trim_end_matches('\'').to_owned())
        .collect()
}

#[test]
fn an_unreachable_upstream_registry_makes_status_unknown_not_stale_with_one_warning() {
    let env = Env::empty();
    let proxy = Proxy::start(REGISTRY, Faults::default());
    let path = format!("{}/python", env.registry_path());
    for version in ["3.10", "3.11"] {
        let direct = format!("{REGISTRY}/{path}:{version}-slim");
        publish_upstream(&env, &direct, "old");
        docker_output(&[
            "tag",
            &direct,
            &format!("{}/{path}:{version}-slim", proxy.host),
        ]);
    }
    let upstream = format!("{}/{path}", proxy.host);
    write_catalog(&env, &upstream);
    // The copies were tagged, not pulled, under the proxy's name: only a run that asks the
    // registry (as `--skip-unchanged` does) pins them by its digest, which it cannot check later.
    env.run(&["build-all", "--skip-unchanged", "-t", &env.timestamp])
        .success();
    assert_eq!(status(&env, &[]), fresh(&ALL));

    let host = proxy.host.clone();
    drop(proxy);
    let run = env.run(&["status", "--json"]).success();
    let unknown = |v: &str| vec![format!("unknown {upstream}:{v}-slim")];
    assert_eq!(
        rows(&run.stdout),
        [
            ("up-app:3.10".to_owned(), false, vec![]),
            ("up-app:3.11".to_owned(), false, vec![]),
            ("up-base:3.10".to_owned(), false, unknown("3.10")),
            ("up-base:3.11".to_owned(), false, unknown("3.11")),
        ]
    );
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].contains(&format!("registry `{host}`")),
        "{}",
        run.stderr
    );
    let table = env.run(&["status"]).success();
    assert!(table.stdout.contains("WHY"), "{}", table.stdout);
    assert!(
        table
            .stdout
            .contains(&format!("unknown {upstream}:3.10-slim")),
        "{}",
        table.stdout
    );
    let skip = env.run(&[
        "build-all",
        "--skip-unchanged",
        "-t",
        &env.timestamp_labelled("later"),
    ]);
    skip.success()
        .stderr_has("nothing to build: all 4 image-versions are unchanged");
}

#[test]
fn offline_asks_no_registry_and_compares_the_local_copies() {
    let env = Env::empty();
    let proxy = Proxy::start(REGISTRY, Faults::default());
    let path = format!("{}/python", env.registry_path());
    for version in ["3.10", "3.11"] {
        let direct = format!("{REGISTRY}/{path}:{version}-slim");
        publish_upstream(&env, &direct, "old");
        docker_output(&[
            "tag",
            &direct,
            &format!("{}/{path}:{version}-slim", proxy.host),
        ]);
    }
    let upstream = format!("{}/{path}", proxy.host);
    write_catalog(&env, &upstream);
    env.run(&["--offline", "build-all", "-t", &env.timestamp])
        .success();
    assert_eq!(status(&env, &["--offline"]), fresh(&ALL));

    let copy = format!("{upstream}:3.11-slim");
    docker_output(&["tag", ROOTFS_IMAGE, &copy]);
    let now = common::image_id(&copy);
    let table = status(&env, &["--offline"]);
    assert_eq!(table[3].0, "up-base:3.11");
    assert!(table[3].1, "{table:?}");
    let reason = &table[3].2[0];
    assert!(
        reason.starts_with(&format!("upstream {copy} local sha256:"))
            && reason.ends_with(&format!("-> local {}", short(&now))),
        "{reason}"
    );
    assert!(proxy.seen().is_empty(), "asked: {:?}", proxy.seen());
}

/// The manifest requests (`METHOD PATH`) of `repository` logged since the mark of `log`.
fn manifest_requests(log: &AccessLog, repository: &str) -> Vec<String> {
    log.requests(repository)
        .into_iter()
        .filter(|r| r.path.contains("/manifests/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Docker Hub counts every manifest GET as a pull. `status` reads an upstream manifest once;
/// after that an unchanged one is only checked with a HEAD, and a moved one read again.
#[test]
fn a_second_status_of_an_unchanged_catalog_makes_no_manifest_get() {
    let env = Env::empty();
    // Counted in the registry's own access log: every engine reaches it (podman reaches a
    // proxy's changing port only where registries.conf lists it).
    let repository = format!("{}/python", env.registry_path());
    let upstream = format!("{REGISTRY}/{repository}");
    let old_310 = publish_upstream(&env, &format!("{upstream}:3.10-slim"), "old");
    publish_upstream(&env, &format!("{upstream}:3.11-slim"), "old");
    write_catalog(&env, &upstream);
    env.run(&["build-all", "-t", &env.timestamp]).success();
    assert_eq!(status(&env, &[]), fresh(&ALL));

    let log = AccessLog::mark(REGISTRY_LOG);
    assert_eq!(status(&env, &[]), fresh(&ALL));
    let second = manifest_requests(&log, &repository);
    assert!(second.iter().all(|r| r.starts_with("HEAD ")), "{second:#?}");
    assert_eq!(
        second.len(),
        2,
        "one HEAD per upstream reference: {second:#?}"
    );

    let new_310 = publish_upstream(&env, &format!("{upstream}:3.10-slim"), "new");
    keep_old_copy(&format!("{upstream}:3.10-slim"), &old_310);
    let log = AccessLog::mark(REGISTRY_LOG);
    let reason = format!(
        "upstream {upstream}:3.10-slim {} -> {}",
        short(&old_310),
        short(&new_310)
    );
    assert_eq!(
        status(&env, &[])[2],
        ("up-base:3.10".to_owned(), true, vec![reason])
    );
    let gets: Vec<String> = manifest_requests(&log, &repository)
        .into_iter()
        .filter(|r| r.starts_with("GET "))
        .collect();
    assert_eq!(
        gets,
        [format!(
            "GET /v2/{}/python/manifests/3.10-slim",
            env.registry_path()
        )],
        "only the moved manifest is read"
    );
}

/// How the engine under test is given the loopback registry as its Docker Hub mirror without
/// touching the shared daemons: podman reads a registries.conf of the test's own
/// (`CONTAINERS_REGISTRIES_CONF`, which `podman info` reports); the shared dockerd cannot take a
/// new `registry-mirrors` without a restart, so docker's runs name it in
/// `DAGSTER_IMAGE_REGISTRY_MIRRORS` (the parsing of `docker info`'s mirrors is unit-tested).
fn mirrored_to_the_registry(env: &Env) -> Vec<(String, String)> {
    match common::Engine::under_test() {
        common::Engine::Podman => {
            let conf = env.root().join("registries.conf");
            let text = format!(
                "[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n\n\
                 [[registry.mirror]]\nlocation = \"{REGISTRY}\"\ninsecure = true\n\n\
                 [[registry]]\nlocation = \"{REGISTRY}\"\ninsecure = true\n"
            );
            fs_err::write(&conf, text).unwrap();
            let conf = conf.display().to_string();
            vec![("CONTAINERS_REGISTRIES_CONF".to_owned(), conf)]
        }
        _ => vec![(
            "DAGSTER_IMAGE_REGISTRY_MIRRORS".to_owned(),
            format!("http://{REGISTRY}/"),
        )],
    }
}

#[test]
fn docker_hub_images_are_looked_up_at_the_engines_mirror_first_then_at_docker_hub() {
    let env = Env::empty();
    // A Docker Hub namespace of this test's own (no dot: a dot would make it a host).
    let namespace = format!("mirrored-{}", env.timestamp).replace('.', "-");
    let mirrored = format!("{namespace}/python");
    let digest = common::registry_api::put_image(
        &format!("http://{REGISTRY}"),
        &mirrored,
        "3.10",
        &namespace,
    );
    env.write(
        "hub-app/Dockerfile",
        &format!("ARG PYTHON_VERSION\nFROM {mirrored}:${{PYTHON_VERSION}}\nRUN true\n"),
    );
    env.write(
        "hub-app/versions.yaml",
        "'3.10':\n  docker_args:\n    PYTHON_VERSION: '3.10'\n\
         '3.11':\n  docker_args:\n    PYTHON_VERSION: '3.11'\n",
    );
    let variables = mirrored_to_the_registry(&env);
    let variables: Vec<(&str, &str)> = variables
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let log = AccessLog::mark(REGISTRY_LOG);
    let run = env.run_with(&["--debug", "status"], &variables).success();
    let asked = |registry: &str, reference: &str| {
        format!("debug: asked registry `{registry}` for `{reference}`: ")
    };
    let at_mirror = asked(REGISTRY, &format!("{REGISTRY}/{mirrored}:3.10"));
    assert!(
        run.stderr.contains(&format!("{at_mirror}`{digest}`")),
        "3.10 is read from the mirror: {}",
        run.stderr
    );
    assert!(
        !run.stderr
            .contains(&asked("docker.io", &format!("{mirrored}:3.10"))),
        "the mirror had 3.10: Docker Hub is not asked for it: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "{}none",
            asked(REGISTRY, &format!("{REGISTRY}/{mirrored}:3.11"))
        )) && run
            .stderr
            .contains(&asked("docker.io", &format!("{mirrored}:3.11"))),
        "3.11, missing at the mirror, is asked of Docker Hub: {}",
        run.stderr
    );
    let manifests: Vec<String> = log
        .requests(&mirrored)
        .iter()
        .filter(|request| request.path.contains("/manifests/3.10"))
        .map(|request| request.status.clone())
        .collect();
    assert!(
        manifests.iter().any(|status| status == "200"),
        "the mirror's access log has the lookup: {manifests:?}"
    );
}
