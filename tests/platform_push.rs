//! Multi-platform images in the registry: each platform's image pushed, then an index under the
//! common tag, not again when unchanged; release, push-dockerhub and push-ecr copying the index
//! whole; build-and-push-dockerhub and its exit code; the pipeline's steps per platform and its
//! index step.

mod common;

use common::access_log::{AccessLog, REGISTRY_LOG, Request, all_by_the_tool};
use common::pipeline::{agent_tools, pipeline, run_step};
use common::platforms::{
    BOTH, ROOT_DOCKERFILE, config_architecture, index_entries, two_platform_catalog,
};
use common::{Env, run_image};

/// The two-platform catalog with Python 3.9 of `python-base` built for both platforms at the
/// test's timestamp and pushed to the test registry, and that push.
fn built_and_pushed() -> (Env, common::Run) {
    let env = two_platform_catalog();
    let t = &env.timestamp;
    env.run(&["build", "--name", "python-base", "-v", "3.9", "-t", t])
        .success();
    let push = ["push", "--name", "python-base", "-v", "3.9"];
    let pushed = run_with_registry(&env, &env.registry(), &push).success();
    (env, pushed)
}

/// `dagster-image --registry <registry> ARGS`.
fn run_with_registry(env: &Env, registry: &str, args: &[&str]) -> common::Run {
    env.run(&[&["--registry", registry][..], args].concat())
}

#[test]
fn push_puts_each_platform_then_an_index_and_an_unchanged_index_is_not_pushed_again() {
    let (env, pushed) = built_and_pushed();
    let t = &env.timestamp;
    let registry = env.registry();
    let with_registry = |args: &[&str]| run_with_registry(&env, &registry, args);
    pushed
        .stderr_has("linux/amd64, linux/arm64 (sha256:")
        .stderr_has("): put");
    let repository = format!("{}/python-base", env.registry_path());
    let tag = format!("py3.9-{t}");
    let entries = index_entries(&repository, &tag);
    let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(config_architecture(&repository, &entries[0].1), "amd64");
    assert_eq!(config_architecture(&repository, &entries[1].1), "arm64");
    let arm = format!("{registry}/python-base@{}", entries[1].1);
    assert_eq!(run_image(&arm, &["uname", "-m"]).trim(), "aarch64");
    let index_digest = common::registry_digest(&repository, &tag);

    let again = with_registry(&["push", "--name", "python-base", "-v", "3.9"]).success();
    assert!(
        again.stderr.contains("up to date, not pushed"),
        "{}",
        again.stderr
    );
    assert_eq!(
        again.stderr.matches("is up to date").count(),
        2,
        "{}",
        again.stderr
    );
    assert_eq!(common::registry_digest(&repository, &tag), index_digest);

    let status = with_registry(&["status", "--name", "python-base", "--json"]).success();
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let row = |platform: &str| {
        let rows = rows.as_array().unwrap().iter();
        rows.filter(|r| r["python_version"] == "3.9" && r["platform"] == platform)
            .map(|r| (r["local_image"].clone(), r["pushed"].clone()))
            .collect::<Vec<_>>()
    };
    for platform in ["linux/amd64", "linux/arm64"] {
        assert_eq!(
            row(platform),
            [(true.into(), true.into())],
            "{platform}: {rows:#}"
        );
    }

    let release = format!("{registry}/released");
    with_registry(&[
        "release",
        "--name",
        "python-base",
        "--dagster-version",
        "1.2.3",
        "--to",
        &release,
    ])
    .success();
    let released = index_entries(&format!("{}/released", env.registry_path()), "1.2.3");
    assert_eq!(released, entries);
}

/// The requests since `log`'s mark that write to `repository`: blob uploads and mounts, manifest
/// and index puts.
fn writes(log: &AccessLog, repository: &str) -> Vec<Request> {
    let requests = log.requests(repository).into_iter();
    let write = |r: &Request| matches!(r.method.as_str(), "PUT" | "POST" | "PATCH");
    requests.filter(write).collect()
}

#[test]
fn push_all_of_an_unchanged_two_platform_catalog_sends_no_blob_and_no_manifest() {
    let env = Env::new();
    env.write("python-base/Dockerfile", ROOT_DOCKERFILE);
    let t = &env.timestamp;
    let platforms = ["--platform", "linux/amd64", "--platform", "linux/arm64"];
    let build = ["build-all", "--name", "python-base", "-t", t];
    env.run(&[&build[..], &platforms[..]].concat()).success();
    let registry = env.registry();
    let push = ["--registry", &registry, "push-all", "--name", "python-base"];
    let push = [&push[..], &platforms[..]].concat();
    let repository = format!("{}/python-base", env.registry_path());

    let first = AccessLog::mark(REGISTRY_LOG);
    env.run(&push).success();
    let sent = writes(&first, &repository);
    let manifests = sent.iter().filter(|r| r.kind() == "PUT manifests").count();
    // Four platform images and the two indexes.
    assert_eq!(manifests, 6, "{sent:#?}");
    let blobs = sent.iter().filter(|r| r.kind() == "POST uploads").count();
    assert!(blobs > 0, "no blob uploaded or mounted: {sent:#?}");

    let again = AccessLog::mark(REGISTRY_LOG);
    env.run(&push).success();
    assert_eq!(writes(&again, &repository), [], "the unchanged push wrote");
    assert!(
        !again.requests(&repository).is_empty(),
        "the log was not read"
    );
}

#[test]
fn push_dockerhub_and_push_ecr_copy_a_two_platform_index_whole_inside_the_registry() {
    let (env, _) = built_and_pushed();
    let t = &env.timestamp;
    let registry = env.registry();
    let with_registry = |args: &[&str]| run_with_registry(&env, &registry, args);
    let path = env.registry_path();
    let source = index_entries(&format!("{path}/python-base"), &format!("py3.9-{t}"));
    assert_eq!(source.len(), 2, "{source:?}");
    for (command, destination) in [("push-dockerhub", "hub"), ("push-ecr", "ecr")] {
        let log = AccessLog::mark(REGISTRY_LOG);
        // The hidden `--repository` puts on the loopback registry what goes to
        // dagster/python-base or public.ecr.aws/dagster/python-base.
        let repository = format!("{registry}/{destination}/python-base");
        let release = [
            command,
            "--name",
            "python-base",
            "--dagster-version",
            "1.2.3",
            "--set-latest",
        ];
        with_registry(&[&release[..], &["--repository", &repository]].concat()).success();
        let copied = format!("{path}/{destination}/python-base");
        // Read before the checks below, which ask the registry too.
        let requests = log.requests(&copied);
        assert!(
            all_by_the_tool(&requests),
            "docker was asked: {requests:#?}"
        );
        let sent = |r: &Request| r.method == "PATCH" || r.kind() == "PUT uploads";
        assert!(!requests.iter().any(sent), "a blob was sent: {requests:#?}");
        for tag in ["1.2.3", "latest"] {
            assert_eq!(index_entries(&copied, tag), source, "{command} {tag}");
        }
    }
}

#[test]
fn push_dockerhub_and_push_ecr_dry_runs_of_two_platforms_show_the_aws_sign_in_and_the_index_copies()
{
    let env = Env::without_engine();
    env.write("python-base/image.yaml", BOTH);
    env.write("python-base/last_updated.yaml", "'3.9': pushed-earlier\n");
    let registry = env.registry();
    let source = format!("{registry}/python-base:py3.9-pushed-earlier");
    // Docker here has no credentials for public.ecr.aws: a real run signs in with aws's.
    let sign_in = "# sign in to public.ecr.aws with the password of \
                   `aws ecr-public get-login-password --region us-east-1`\n";
    for (command, target, needs) in [
        ("push-dockerhub", "dagster/python-base", ""),
        ("push-ecr", "public.ecr.aws/dagster/python-base", sign_in),
    ] {
        let release = [
            command,
            "--name",
            "python-base",
            "--dagster-version",
            "1.2.3",
            "--set-latest",
        ];
        let args = [&["--registry", &registry][..], &release[..], &["--dry-run"]].concat();
        let dry = env.run_without_engine(&args).success();
        let copy = |tag: &str| {
            format!(
                "# copy {source} (an index, every platform) to {target}:{tag} inside the \
                 registries\n"
            )
        };
        assert_eq!(
            dry.stdout,
            needs.to_owned() + &copy("1.2.3") + &copy("latest"),
            "{command}"
        );
    }
}

#[test]
fn build_and_push_dockerhub_builds_each_platform_with_the_copies_and_puts_the_index() {
    let env = two_platform_catalog();
    fs_err::write(env.root().join("shared.txt"), "shared\n").unwrap();
    env.write(
        "python-base/image.yaml",
        "copy:\n  - {from: shared.txt, to: extra/shared.txt}\n",
    );
    env.write(
        "python-base/Dockerfile",
        &format!("{ROOT_DOCKERFILE}COPY extra/shared.txt /shared.txt\nARG DAGSTER_VERSION\nRUN echo $DAGSTER_VERSION > /dagster-version\n"),
    );
    let catalog_files = || -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let files = env.snapshot_files().into_iter();
        files
            .filter(|(path, _)| !path.to_string_lossy().contains(".dagster-image"))
            .collect()
    };
    let before = catalog_files();
    let repository = format!("{}/python-base", env.registry());
    let staging = format!("{}/staging", env.registry());
    let version = format!("1.0.{}", env.timestamp.replace('-', ""));
    let args = [
        "--registry",
        &staging,
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        &version,
        "--set-latest",
        "--repository",
        &repository,
    ];
    // Without buildx (classic docker here, podman) every platform is built and pushed apart, to
    // the staging registry.
    let dry = env.run(&[&args[..], &["--dry-run"]].concat()).success();
    assert!(
        dry.stdout.contains(
            "--platform linux/arm64 --build-arg PYTHON_VERSION=3.9 --build-arg DAGSTER_VERSION="
        ),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(&format!(
        "push {staging}/python-base:{version}-linux-arm64\n"
    )));
    assert!(dry.stdout.contains(&format!("under {repository}:latest")));
    env.run(&args).success();
    assert!(
        catalog_files() == before,
        "copies left behind or last_updated.yaml changed"
    );
    let path = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&path), [version.as_str(), "latest"]);
    for tag in [version.as_str(), "latest"] {
        let platforms: Vec<String> = index_entries(&path, tag)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{tag}");
    }
    let arm = &index_entries(&path, &version)[1].1;
    let arm = format!("{repository}@{arm}");
    assert_eq!(
        run_image(&arm, &["cat", "/shared.txt", "/dagster-version"]),
        format!("shared\n{version}\n")
    );
    assert_eq!(run_image(&arm, &["uname", "-m"]).trim(), "aarch64");
}

/// `build-and-push-dockerhub` of `python-base` as version 1.0.0 to `repository` (instead of
/// Docker Hub), on the default platforms, staging each platform's image in `staging`.
fn build_and_push_1_0_0<'a>(staging: &'a str, repository: &'a str) -> [&'a str; 9] {
    [
        "--registry",
        staging,
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        "1.0.0",
        "--repository",
        repository,
    ]
}

#[test]
fn build_and_push_dockerhub_without_set_latest_pushes_no_latest_tag() {
    let env = two_platform_catalog();
    let repository = format!("{}/python-base", env.registry());
    let staging = format!("{}/staging", env.registry());
    env.run(&build_and_push_1_0_0(&staging, &repository))
        .success();
    let path = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&path), ["1.0.0"]);
}

#[test]
fn build_and_push_dockerhub_dry_run_names_dagster_n_with_the_version_and_both_default_platforms() {
    let env = Env::new();
    let staging = format!("{}/staging", env.registry());
    let run = env
        .run(&[
            "--registry",
            &staging,
            "build-and-push-dockerhub",
            "--name",
            "python-base",
            "--dagster-version",
            "1.2.3",
            "--dry-run",
        ])
        .success();
    let (docker, dir) = (common::docker(), env.path("python-base"));
    let dir = dir.display();
    let staged = |arch: &str| format!("{staging}/python-base:1.2.3-linux-{arch}");
    // The release's time, as the run's clock gave it (RFC 3339).
    let created = run
        .stdout
        .split_whitespace()
        .find(|word| word.starts_with("org.opencontainers.image.created="))
        .unwrap_or_else(|| panic!("no created label: {}", run.stdout));
    assert!(created.ends_with('Z') && created.len() == 53, "{created}");
    let build = |arch: &str| {
        format!(
            "{docker} build --force-rm --tag {} \
             --file {dir}/Dockerfile --platform linux/{arch} --build-arg PYTHON_VERSION=3.9 \
             --build-arg DAGSTER_VERSION=1.2.3 \
             --build-arg TARGETPLATFORM=linux/{arch} --build-arg TARGETOS=linux \
             --build-arg TARGETARCH={arch} --label {created} \
             --label org.opencontainers.image.version=1.2.3 {dir}\n",
            staged(arch)
        )
    };
    let push = |arch: &str| format!("{docker} push {}\n", staged(arch));
    let copy = |arch: &str| {
        format!(
            "# then copy {} (linux/{arch}) into dagster/python-base by its digest, without a tag \
             (through the registry API)\n",
            staged(arch)
        )
    };
    let index = "# then put an index of them under dagster/python-base:1.2.3 (through the \
                 registry API)\n";
    assert_eq!(
        run.stdout,
        [build("amd64"), build("arm64"), push("amd64"), push("arm64")].concat()
            + &copy("amd64")
            + &copy("arm64")
            + index
    );
    // Without a registry to stage in, a dry run names it, and a real run stops before building.
    let release = [
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        "1.2.3",
    ];
    let dry = env.run(&[&release[..], &["--dry-run"]].concat()).success();
    assert!(
        dry.stdout
            .contains("--tag '<registry>/python-base:1.2.3-linux-arm64'")
    );
    dry.stderr_has("warning: no registry to push to");
    env.run(&release)
        .code(2)
        .stderr_has("error: no registry to push to")
        .stderr_has("hint: pass `--registry");
    assert_eq!(env.images_built(), Vec::<String>::new());
}

/// What the engine under test exits with for a build whose `RUN` exits 3 (classic docker and
/// podman pass the step's status on; BuildKit's `docker build` and buildx say 1).
fn engine_status_of_a_run_exiting_3(env: &Env) -> i32 {
    let dir = env.root().join("exit-3");
    fs_err::create_dir_all(&dir).unwrap();
    let base = format!("{}-amd64", common::ROOTFS_IMAGE);
    fs_err::write(dir.join("Dockerfile"), format!("FROM {base}\nRUN exit 3\n")).unwrap();
    let status = common::engine_command()
        .args(["build", "--force-rm", "--quiet"])
        .arg(&dir)
        .output()
        .expect("run the engine")
        .status;
    status.code().expect("the engine exited")
}

#[test]
fn build_and_push_dockerhub_exits_with_the_engines_status_of_the_failed_build_and_pushes_nothing() {
    let env = two_platform_catalog();
    env.write(
        "python-base/Dockerfile",
        &format!("{ROOT_DOCKERFILE}RUN test \"$(uname -m)\" != aarch64 || exit 3\n"),
    );
    let engine_status = engine_status_of_a_run_exiting_3(&env);
    if common::engine::Engine::under_test() != common::engine::Engine::BuildKit {
        assert_eq!(engine_status, 3, "the check below could not tell it from 1");
    }
    let repository = format!("{}/python-base", env.registry());
    let staging = format!("{}/staging", env.registry());
    let args = build_and_push_1_0_0(&staging, &repository);
    // The default platforms, amd64 then arm64: the amd64 build succeeds, the arm64 one fails.
    env.run(&args).code(engine_status).stderr_has(&format!(
        "building `{staging}/python-base:1.0.0-linux-arm64` failed"
    ));
    let path = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&path), Vec::<String>::new());
}

#[test]
fn the_pipeline_builds_each_platform_on_its_own_step_then_assembles_the_indexes() {
    let env = two_platform_catalog();
    let ts = &env.timestamp;
    let bin = agent_tools(&env);
    let pipeline = pipeline(&env, &["--name", "dagster-app", "-t", ts]);
    let keys: Vec<&str> = pipeline.steps.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert_eq!(keys[1], "python-base-py3_9-linux-arm64");
    assert_eq!(pipeline.steps[1].agents["arch"], "arm64");
    assert_eq!(&keys[8..], ["assemble-indexes", "record-timestamps"]);
    let mut last = None;
    for step in &pipeline.steps {
        let agent = two_platform_catalog();
        env.remove_images();
        run_step(step, &agent, &pipeline.env, &bin);
        last = Some(agent);
    }
    let path = format!("{}/dagster-app", env.registry_path());
    let entries = index_entries(&path, &format!("py3.10-{ts}"));
    let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let arm = format!("{}/dagster-app@{}", env.registry(), entries[1].1);
    assert_eq!(run_image(&arm, &["cat", "/base-arch"]).trim(), "aarch64");
    let recorded = last.unwrap().read("dagster-app/last_updated.yaml");
    assert!(recorded.contains(&format!("'3.10': {ts}")), "{recorded}");
}

#[test]
fn a_release_of_several_platforms_not_in_the_registry_fails_without_pushing_one_platform() {
    let env = Env::without_engine();
    env.write("python-base/image.yaml", BOTH);
    env.write("python-base/last_updated.yaml", "'3.9': never-pushed\n");
    let registry = env.registry();
    let to = format!("{registry}/released");
    let args = ["--registry", &registry, "release", "--name", "python-base"];
    let run = env
        .run_without_engine(&[&args[..], &["--dagster-version", "1.0", "--to", &to]].concat())
        .code(1);
    assert!(
        run.stderr.contains(&format!(
            "`{registry}/python-base:py3.9-never-pushed` (the image of every platform of \
             `python-base`) is not in the registry"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: push every platform and the index first")
    );
    assert!(common::registry_tags(&format!("{}/released", env.registry_path())).is_empty());
    let dry_run = [
        &args[..],
        &["--dagster-version", "1.0", "--to", &to, "--dry-run"],
    ]
    .concat();
    let dry = env.run_without_engine(&dry_run).success();
    let copy = |tag: &str| {
        format!(
            "# copy {registry}/python-base:py3.9-never-pushed (an index, every platform) to \
             {to}:{tag} inside the registries\n"
        )
    };
    assert_eq!(dry.stdout, copy("1.0") + &copy("latest"));
}

#[test]
fn build_and_push_dockerhub_uses_one_buildx_build_when_the_builder_pushes_every_platform() {
    let Some(buildkit) = common::buildkit::BuildKit::require("buildx release") else {
        return;
    };
    let env = Env::new();
    env.write(
        "python-base/Dockerfile",
        "ARG TARGETARCH\nFROM 127.0.0.1:5000/dagster-image/rootfs:busybox-${TARGETARCH}\n\
         ARG DAGSTER_VERSION\nRUN uname -m > /arch && echo $DAGSTER_VERSION > /dagster-version\n",
    );
    let repository = format!("{}/python-base", env.registry());
    let version = format!("2.0.{}", env.timestamp.replace('-', ""));
    let mut variables = buildkit.variables();
    // buildx is docker's: also when the suite runs on podman.
    variables.extend([
        ("BUILDX_BUILDER", common::buildkit::BUILDER),
        ("DOCKER", "docker"),
    ]);
    let args = [
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
    assert!(
        dry.stdout
            .contains("buildx build --push --provenance=false --platform linux/amd64,linux/arm64"),
        "{}",
        dry.stdout
    );
    env.run_with(&args, &variables).success();
    let path = format!("{}/python-base", env.registry_path());
    let entries = index_entries(&path, &version);
    let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let arm = format!("{repository}@{}", entries[1].1);
    assert_eq!(run_image(&arm, &["cat", "/arch"]).trim(), "aarch64");
}

/// A buildx that cannot say what builder it has stops the push, naming the command, instead of
/// being taken for no buildx: buildx 0.36 reading a broken `buildx/current`, and its `default`
/// builder whose daemon does not answer (an `Error:` in a successful answer). A builder that
/// does not exist (`BUILDX_BUILDER`) is no buildx: every platform is built and pushed apart.
#[test]
fn build_and_push_dockerhub_stops_on_a_buildx_that_fails_naming_the_command() {
    let Some(buildkit) = common::buildkit::BuildKit::require("buildx failing") else {
        return;
    };
    let env = Env::new();
    let mut variables = buildkit.variables();
    variables.push(("DOCKER", "docker"));
    let config = variables
        .iter()
        .find(|(name, _)| *name == "DOCKER_CONFIG")
        .map(|(_, value)| value.to_string())
        .expect("buildx's DOCKER_CONFIG");
    let broken = env.root().join("broken-docker-config");
    let copied = std::process::Command::new("cp")
        .args(["-r", &config])
        .arg(&broken)
        .status()
        .unwrap();
    assert!(copied.success());
    fs_err::write(broken.join("buildx/current"), "garbage{").unwrap();
    let broken = broken.display().to_string();
    let args = [
        "build-and-push-dockerhub",
        "--name",
        "python-base",
        "--dagster-version",
        "1.0.0",
        "--repository",
        "127.0.0.1:5000/unused/python-base",
        "--dry-run",
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut all = variables.clone();
        all.extend_from_slice(extra);
        env.run_with(&args, &all)
    };

    let run = with(&[("DOCKER_CONFIG", &broken)]).code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: asking buildx for its builder failed: `docker buildx inspect` exit status: 1:\n\
         ERROR: invalid character 'g' looking for beginning of value\n"
    );

    let run = with(&[
        ("BUILDX_BUILDER", "default"),
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
    ])
    .code(1);
    assert!(
        run.stderr.starts_with(
            "error: asking buildx for its builder failed: `docker buildx inspect` answered with \
             an error: failed to connect to the docker API at unix:///nonexistent/docker.sock"
        ),
        "{}",
        run.stderr
    );

    let run = with(&[("BUILDX_BUILDER", "nosuch")]).success();
    assert!(
        run.stdout
            .contains("--platform linux/arm64 --build-arg PYTHON_VERSION=3.9 --build-arg DAGSTER_VERSION=1.0.0"),
        "{}",
        run.stdout
    );
}

#[test]
fn publish_builds_and_pushes_every_platform_of_the_unit_images_with_their_indexes() {
    let env = two_platform_catalog();
    for image in ["buildkite-unit-snapshot-builder", "buildkite-unit"] {
        env.write(&format!("{image}/image.yaml"), BOTH);
    }
    let registry = env.registry();
    let args = ["--registry", &registry, "publish", "-t", "unit"];
    env.run(&[&args[..], &["--timestamp", &env.timestamp]].concat())
        .success();
    let path = format!("{}/buildkite-unit", env.registry_path());
    for version in ["3.9", "3.10"] {
        let entries = index_entries(&path, &format!("py{version}-{}", env.timestamp));
        let platforms: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{version}");
        let arm = format!("{registry}/buildkite-unit@{}", entries[1].1);
        assert_eq!(run_image(&arm, &["cat", "/base-arch"]).trim(), "aarch64");
    }
}
