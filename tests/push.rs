//! `push`, `push-all`, `release`, `push-dockerhub` and `push-ecr`: what lands in the real test
//! registry (also of `push-dockerhub` and `push-ecr`, pointed at it by their hidden
//! `--repository`), and, through stand-in `docker` and `aws` programs that only record their
//! calls, the exact commands of the releases to Docker Hub and public ECR, which cannot be
//! reached here.

mod common;

use std::path::{Path, PathBuf};

use common::{Env, Run, words, write_executable};

/// What the stand-in `aws` prints as the password; it must never reach the tool's output.
const AWS_PASSWORD: &str = "s3cr3t-from-aws";

/// Runs the build command `args` at the test's timestamp.
fn build(env: &Env, args: &str) {
    env.run(&words(&format!("{args} -t {}", env.timestamp)))
        .success();
}

/// `dagster-image --registry <the test's registry> ARGS`.
fn run_with_registry(env: &Env, args: &str) -> Run {
    env.run(&words(&format!("--registry {} {args}", env.registry())))
}

/// The digest docker recorded for the local image `reference` when it was pushed to
/// `repository` (its RepoDigests entry for that repository).
fn pushed_digest(reference: &str, repository: &str) -> Option<String> {
    let digests = common::docker_output(&[
        "image",
        "inspect",
        "--format",
        "{{range .RepoDigests}}{{println .}}{{end}}",
        reference,
    ]);
    digests.lines().find_map(|line| {
        line.strip_prefix(&format!("{repository}@"))
            .map(str::to_owned)
    })
}

/// `push-all`, through the tool's own registry client and through `docker push`, each into a
/// repository of its own: every Python version lands as its timestamp tag, holding the local
/// image (and, pushed by docker, the digest docker recorded).
#[test]
fn push_all_publishes_every_python_version_as_its_timestamp_tag() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    let ts = &env.timestamp;
    for way in ["client", "engine"] {
        let registry = format!("{}/{way}", env.registry());
        let push = format!("--registry {registry} --push-with {way} push-all --name python-base");
        env.run(&words(&push)).success();
        let repository = format!("{}/{way}/python-base", env.registry_path());
        assert_eq!(
            common::registry_tags(&repository),
            [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
        );
        for version in ["3.9", "3.10"] {
            let tag = format!("py{version}-{ts}");
            let remote = format!("{registry}/python-base:{tag}");
            let in_registry = common::registry_digest(&repository, &tag);
            assert!(in_registry.is_some(), "no manifest for {remote}");
            // podman records no digest of what it pushed, nor does the engine of what the
            // tool's client pushed; the config digest below is the check.
            if way == "engine" && common::Engine::under_test().records_pushed_digests() {
                assert_eq!(
                    pushed_digest(&remote, &format!("{registry}/python-base")),
                    in_registry,
                    "docker and the registry disagree on the digest of {remote}"
                );
            }
            assert_eq!(
                common::registry_image_id(&repository, &tag),
                Some(common::image_id(&env.tag("python-base", version))),
                "{remote} is not the image built for Python {version}"
            );
        }
    }
}

#[test]
fn a_pushed_image_pulls_back_and_runs() {
    let env = Env::new();
    // A layer of this test's own, so that removing the local tags really removes the image and
    // the pull has to fetch it from the registry.
    let dockerfile = env.read("python-base/Dockerfile");
    env.write(
        "python-base/Dockerfile",
        &format!("{dockerfile}RUN echo {} > /built-by\n", env.timestamp),
    );
    build(&env, "build-all --name python-base");
    let registry = env.registry();
    run_with_registry(&env, "push-all --name python-base").success();
    let local = env.tag("python-base", "3.10");
    let remote = format!("{registry}/python-base:py3.10-{}", env.timestamp);
    common::docker_output(&["image", "rm", &local, &remote]);
    assert!(!common::image_exists(&remote), "{remote} is still local");
    common::docker_output(&["pull", &remote]);
    assert_eq!(
        common::run_image(&remote, &["cat", "/python-version", "/built-by"]),
        format!("3.10\n{}\n", env.timestamp)
    );
}

#[test]
fn push_with_a_custom_tag_publishes_that_tag_only() {
    let env = Env::new();
    build(&env, "build --name python-base -v 3.10");
    run_with_registry(&env, "push --name python-base -v 3.10 --custom-tag edge").success();
    let repository = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&repository), ["edge"]);
    assert_eq!(
        common::registry_image_id(&repository, "edge"),
        Some(common::image_id(&env.tag("python-base", "3.10")))
    );
}

#[test]
fn pushing_a_version_never_built_is_bad_input_and_pushes_nothing() {
    let env = Env::new();
    run_with_registry(&env, "push --name python-base -v 3.9")
        .code(2)
        .stderr_has("`python-base` has not been built for Python 3.9")
        .stderr_has("\nhint: build `python-base` first\n");
    let repository = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&repository), Vec::<String>::new());
}

#[test]
fn push_all_with_one_version_unbuilt_pushes_none() {
    let env = Env::new();
    build(&env, "build --name python-base -v 3.9");
    let registry = env.registry();
    run_with_registry(&env, "push-all --name python-base")
        .code(2)
        .stderr_has("has not been built for Python 3.10");
    let repository = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&repository), Vec::<String>::new());
    let remote = format!("{registry}/python-base:py3.9-{}", env.timestamp);
    assert!(!common::image_exists(&remote), "{remote} was tagged");
}

#[test]
fn dry_run_prints_the_tag_and_push_commands_and_pushes_nothing() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    let registry = env.registry();
    let run = run_with_registry(&env, "push-all --name python-base --dry-run").success();
    let ts = &env.timestamp;
    let remote = |v: &str| format!("{registry}/python-base:py{v}-{ts}");
    assert_eq!(
        run.stdout,
        format!(
            "{d} tag dagster/python-base:py3.9-{ts} {r39}\n\
             {d} push {r39}\n\
             {d} tag dagster/python-base:py3.10-{ts} {r310}\n\
             {d} push {r310}\n",
            d = common::docker(),
            r39 = remote("3.9"),
            r310 = remote("3.10"),
        )
    );
    let repository = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&repository), Vec::<String>::new());
    assert!(!common::image_exists(&remote("3.9")), "dry run tagged");
}

#[test]
fn release_publishes_the_first_python_version_as_version_and_latest_to_every_repository() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    let to_a = format!("{}/a", env.registry());
    let to_b = format!("{}/b", env.registry());
    let release =
        format!("release --name python-base --dagster-version 1.2.3 --to {to_a} --to {to_b}");
    env.run(&words(&release)).success();
    let first_version = common::image_id(&env.tag("python-base", "3.9"));
    assert_ne!(
        first_version,
        common::image_id(&env.tag("python-base", "3.10"))
    );
    let path = env.registry_path();
    let digest = common::registry_digest(&format!("{path}/a"), "1.2.3");
    assert!(digest.is_some(), "{to_a}:1.2.3 was not pushed");
    for repository in [format!("{path}/a"), format!("{path}/b")] {
        assert_eq!(common::registry_tags(&repository), ["1.2.3", "latest"]);
        for tag in ["1.2.3", "latest"] {
            assert_eq!(
                common::registry_digest(&repository, tag),
                digest,
                "{repository}:{tag}"
            );
            assert_eq!(
                common::registry_image_id(&repository, tag).as_ref(),
                Some(&first_version),
                "{repository}:{tag} is not the Python 3.9 image"
            );
        }
    }
}

/// A patch release of an older line must not move `latest` backwards: `push-dockerhub` and
/// `push-ecr` push `latest` only with `--set-latest`, as the newest original does, and leave it
/// where it was without.
#[test]
fn push_dockerhub_and_push_ecr_move_latest_only_with_set_latest() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    run_with_registry(&env, "push-all --name python-base").success();
    let newest = common::image_id(&env.tag("python-base", "3.9"));
    let older = env.timestamp_labelled("older-line");
    env.write(
        "python-base/Dockerfile",
        &format!(
            "{}RUN echo older-line > /line\n",
            env.read("python-base/Dockerfile")
        ),
    );
    let release = |command: &str, version: &str, set_latest: &str| {
        let to = format!("{}/{command}", env.registry());
        let args = format!(
            "{command} --name python-base --dagster-version {version}{set_latest} \
             --repository {to}"
        );
        run_with_registry(&env, &args).success();
    };
    for command in ["push-dockerhub", "push-ecr"] {
        release(command, "1.2.0", " --set-latest");
    }
    env.run(&words(&format!("build-all --name python-base -t {older}")))
        .success();
    run_with_registry(&env, "push-all --name python-base").success();
    let older_image = common::image_id(&format!("dagster/python-base:py3.9-{older}"));
    assert_ne!(older_image, newest);
    for command in ["push-dockerhub", "push-ecr"] {
        release(command, "1.1.9", "");
        let repository = format!("{}/{command}", env.registry_path());
        assert_eq!(
            common::registry_tags(&repository),
            ["1.1.9", "1.2.0", "latest"],
            "{command}"
        );
        let image_of = |tag| common::registry_image_id(&repository, tag);
        assert_eq!(image_of("latest").as_ref(), Some(&newest), "{command}");
        assert_eq!(image_of("1.1.9").as_ref(), Some(&older_image), "{command}");
    }
}

/// The ECR registry that `AWS_ACCOUNT_ID=123456789012` makes the default one.
const ACCOUNT_ECR_HOST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

/// `dagster-image ARGS` on a machine with `AWS_ACCOUNT_ID` set (so the image a release
/// publishes was pushed to ECR) but without AWS credentials, and a docker without any either.
fn run_with_aws_account_without_credentials(env: &Env, aws: &Path, args: &str) -> Run {
    let docker_config = common::empty_docker_config(env);
    let vars = [
        ("AWS_ACCOUNT_ID", "123456789012"),
        ("AWS_REGION", "us-west-2"),
        ("AWS_CLI", aws.to_str().unwrap()),
        ("DOCKER_CONFIG", docker_config.to_str().unwrap()),
    ];
    env.run_with(&words(args), &vars)
}

#[test]
fn a_release_whose_source_needs_aws_credentials_it_lacks_pushes_the_local_image_saying_why() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    let to = format!("{}/app", env.registry());
    let release = format!("release --name python-base --dagster-version 1.2.3 --to {to}");
    let aws = common::aws_without_credentials(&env);
    let run = run_with_aws_account_without_credentials(&env, &aws, &release).success();
    assert_pushed_the_local_image_saying_why(&env, &aws, &run, "app");
}

/// The `warning:` lines of `run` are the one saying why the release of `python-base` could not
/// be copied from the ECR registry of the account without AWS credentials (`aws`), and the
/// local Python 3.9 image is in `<env.registry()>/<repository>` as `1.2.3` and `latest`.
#[track_caller]
fn assert_pushed_the_local_image_saying_why(env: &Env, aws: &Path, run: &Run, repository: &str) {
    let source = format!("{ACCOUNT_ECR_HOST}/python-base:py3.9-{}", env.timestamp);
    let warnings: Vec<&str> = (run.stderr.lines())
        .filter(|line| line.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "warning: cannot copy `{source}` inside the registry (getting an ECR password for \
             `{ACCOUNT_ECR_HOST}` failed: `{} ecr get-login-password --region us-west-2` exit \
             status: 255: {}): pushing the local image instead",
            aws.display(),
            common::NO_AWS_CREDENTIALS
        )],
        "{run:#?}"
    );
    let repository = format!("{}/{repository}", env.registry_path());
    assert_eq!(common::registry_tags(&repository), ["1.2.3", "latest"]);
    assert_eq!(
        common::registry_image_id(&repository, "1.2.3"),
        Some(common::image_id(&env.tag("python-base", "3.9")))
    );
}

/// `push-dockerhub` and `push-ecr` are releases too: pointed (by their hidden `--repository`)
/// at the loopback registry instead of Docker Hub and public ECR, which cannot be reached here.
#[test]
fn push_dockerhub_and_push_ecr_whose_source_needs_aws_credentials_they_lack_push_the_local_image() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    let aws = common::aws_without_credentials(&env);
    for command in ["push-dockerhub", "push-ecr"] {
        let to = format!("{}/{command}", env.registry());
        let release = format!(
            "{command} --name python-base --dagster-version 1.2.3 --set-latest --repository {to}"
        );
        let run = run_with_aws_account_without_credentials(&env, &aws, &release).success();
        assert_pushed_the_local_image_saying_why(&env, &aws, &run, command);
    }
}

#[test]
fn release_dry_run_names_the_aws_password_the_copy_needs_and_prints_the_push_it_falls_back_to() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    let to = format!("{}/app", env.registry());
    let release = format!("release --name python-base --dagster-version 1.2.3 --to {to} --dry-run");
    let aws = common::aws_without_credentials(&env);
    let run = run_with_aws_account_without_credentials(&env, &aws, &release).success();
    let local = env.tag("python-base", "3.9");
    assert_eq!(
        run.stdout,
        format!(
            "{d} tag {local} {to}:1.2.3\n\
             {d} tag {local} {to}:latest\n\
             {d} push {to}:1.2.3\n\
             {d} push {to}:latest\n",
            d = common::docker(),
        )
    );
    run.stderr_has(&format!(
        "note: without --dry-run, `{ACCOUNT_ECR_HOST}/python-base:py3.9-{}` is copied inside the \
         registries when its registry has it (reading it needs the password of `{} ecr \
         get-login-password --region us-west-2`)",
        env.timestamp,
        aws.display()
    ));
    assert_eq!(common::aws_calls(&env), "", "a dry run asked aws");
    let repository = format!("{}/app", env.registry_path());
    assert_eq!(common::registry_tags(&repository), Vec::<String>::new());
}

/// The dry runs of `push-dockerhub` and `push-ecr` show the same as `release`'s: the push they
/// fall back to on stdout, the AWS password the copy needs on stderr; `push-ecr` to public ECR
/// also shows the login its destination needs. Nothing is asked of aws.
#[test]
fn push_dockerhub_and_push_ecr_dry_runs_name_the_aws_password_the_copy_needs_and_the_push() {
    let env = Env::new();
    build(&env, "build-all --name python-base");
    let aws = common::aws_without_credentials(&env);
    let local = env.tag("python-base", "3.9");
    let d = common::docker();
    let note = format!(
        "note: without --dry-run, `{ACCOUNT_ECR_HOST}/python-base:py3.9-{}` is copied inside the \
         registries when its registry has it (reading it needs the password of `{} ecr \
         get-login-password --region us-west-2`)",
        env.timestamp,
        aws.display()
    );
    let pushes = |to: &str| {
        format!(
            "{d} tag {local} {to}:1.2.3\n{d} tag {local} {to}:latest\n\
             {d} push {to}:1.2.3\n{d} push {to}:latest\n"
        )
    };
    let dry_run = |command: &str, repository: Option<&str>| {
        let to = repository.map(|r| format!(" --repository {r}"));
        let release = format!(
            "{command} --name python-base --dagster-version 1.2.3 --set-latest --dry-run{}",
            to.unwrap_or_default()
        );
        run_with_aws_account_without_credentials(&env, &aws, &release).success()
    };
    for command in ["push-dockerhub", "push-ecr"] {
        let to = format!("{}/{command}", env.registry());
        let run = dry_run(command, Some(&to));
        assert_eq!(run.stdout, pushes(&to));
        run.stderr_has(&note);
    }
    let to = "public.ecr.aws/dagster/python-base";
    let run = dry_run("push-ecr", None);
    assert_eq!(
        run.stdout,
        format!(
            "{aws} ecr-public get-login-password --region us-east-1 | {d} login --username AWS \
             --password-stdin public.ecr.aws\n{}",
            pushes(to),
            aws = aws.display()
        )
    );
    run.stderr_has(&note);
    let run = dry_run("push-dockerhub", None);
    assert_eq!(run.stdout, pushes("dagster/python-base"));
    run.stderr_has(&note);
    assert_eq!(common::aws_calls(&env), "", "a dry run asked aws");
    for command in ["push-dockerhub", "push-ecr"] {
        let repository = format!("{}/{command}", env.registry_path());
        assert_eq!(common::registry_tags(&repository), Vec::<String>::new());
    }
}

#[test]
fn pushing_a_recorded_image_that_is_gone_locally_fails_at_tagging() {
    let env = Env::new();
    let ts = &env.timestamp;
    env.write("python-base/last_updated.yaml", &format!("'3.9': {ts}\n"));
    let local = env.tag("python-base", "3.9");
    let remote = format!("{}/python-base:py3.9-{ts}", env.registry());
    run_with_registry(&env, "push --name python-base -v 3.9")
        .code(1)
        .stderr_has(&format!("error: tagging `{local}` as `{remote}` failed"))
        .stderr_has(&common::Engine::under_test().no_such_image(&local));
    let repository = format!("{}/python-base", env.registry_path());
    assert_eq!(common::registry_tags(&repository), Vec::<String>::new());
}

/// Shell that appends the call (program name and arguments) to `$LOG`.
const RECORD_CALL: &str =
    r#"{ printf '%s' "$(basename "$0")"; printf ' %s' "$@"; echo; } >> "$LOG""#;
/// `docker login` that records the password it reads, as the line `stdin: <password>`.
const ACCEPT_LOGIN: &str = r#"printf 'stdin: %s\n' "$(cat)" >> "$LOG""#;
/// `docker login` that reads the password and fails as the daemon does.
const REFUSE_LOGIN: &str =
    "cat >/dev/null; echo 'Error response from daemon: login attempt denied' >&2; exit 1";

/// A `docker` and an `aws` that append each call (and the stdin of `docker login`) to one log,
/// in the order they were made; `aws` prints `AWS_PASSWORD`.
struct StandIns {
    docker: PathBuf,
    aws: PathBuf,
    log: PathBuf,
}

impl StandIns {
    /// `login` is the shell run for `docker login`.
    fn new(env: &Env, login: &str) -> Self {
        let dir = env.root().join("stand-ins");
        fs_err::create_dir_all(&dir).unwrap();
        let log = dir.join("calls.log");
        let docker = dir.join("docker");
        let aws = dir.join("aws");
        let script = |body: &str| format!("#!/bin/sh\nLOG='{}'\n{body}\n", log.display());
        write_executable(
            &docker,
            &script(&format!(
                "{RECORD_CALL}\nif [ \"$1\" = login ]; then {login}; fi"
            )),
        );
        write_executable(
            &aws,
            &script(&format!("{RECORD_CALL}\necho {AWS_PASSWORD}")),
        );
        Self { docker, aws, log }
    }

    /// `DOCKER` and `AWS_CLI` naming the stand-ins.
    /// The stand-ins as `$DOCKER` and `$AWS_CLI`, pushing with `docker push` (`--push-with
    /// engine`), whose commands are the ones recorded.
    fn env(&self) -> [(&str, &str); 3] {
        [
            ("DOCKER", self.docker.to_str().unwrap()),
            ("AWS_CLI", self.aws.to_str().unwrap()),
            ("DAGSTER_IMAGE_PUSH_WITH", "engine"),
        ]
    }

    fn calls(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The timestamp that `last_updated.yaml` gives `dagster-app` in the stand-in tests.
const BUILT_AT: &str = "2024-01-02T030405";
const APP_SOURCE: &str = "dagster/dagster-app:py3.9-2024-01-02T030405";

/// A catalog whose `dagster-app` is recorded as built at `BUILT_AT` (the stand-ins build
/// nothing).
fn catalog_built_at() -> Env {
    let env = Env::new();
    env.write(
        "dagster-app/last_updated.yaml",
        &format!("'3.9': {BUILT_AT}\n'3.10': {BUILT_AT}\n"),
    );
    env
}

#[track_caller]
fn assert_password_hidden(run: &Run) {
    assert!(
        !run.stdout.contains(AWS_PASSWORD),
        "password on stdout: {run:#?}"
    );
    assert!(
        !run.stderr.contains(AWS_PASSWORD),
        "password on stderr: {run:#?}"
    );
}

#[test]
fn push_dockerhub_tags_and_pushes_version_and_latest_without_logging_in() {
    let env = catalog_built_at();
    let stand_ins = StandIns::new(&env, ACCEPT_LOGIN);
    let release = words("push-dockerhub --name dagster-app --dagster-version 1.2.3 --set-latest");
    let run = env.run_with(&release, &stand_ins.env()).success();
    assert_eq!(
        stand_ins.calls(),
        format!(
            "docker tag {APP_SOURCE} dagster/dagster-app:1.2.3\n\
             docker tag {APP_SOURCE} dagster/dagster-app:latest\n\
             docker push dagster/dagster-app:1.2.3\n\
             docker push dagster/dagster-app:latest\n"
        ),
        "{run:#?}"
    );
}

#[test]
fn push_ecr_logs_in_with_the_aws_password_on_stdin_then_tags_and_pushes() {
    let env = catalog_built_at();
    let stand_ins = StandIns::new(&env, ACCEPT_LOGIN);
    let release = words("push-ecr --name dagster-app --dagster-version 1.2.3 --set-latest");
    let run = env.run_with(&release, &stand_ins.env()).success();
    let target = "public.ecr.aws/dagster/dagster-app";
    assert_eq!(
        stand_ins.calls(),
        format!(
            "aws ecr-public get-login-password --region us-east-1\n\
             docker login --username AWS --password-stdin public.ecr.aws\n\
             stdin: {AWS_PASSWORD}\n\
             docker tag {APP_SOURCE} {target}:1.2.3\n\
             docker tag {APP_SOURCE} {target}:latest\n\
             docker push {target}:1.2.3\n\
             docker push {target}:latest\n"
        ),
        "{run:#?}"
    );
    assert_password_hidden(&run);
}

#[test]
fn push_ecr_dry_run_prints_the_login_pipeline_and_runs_nothing() {
    let env = catalog_built_at();
    let stand_ins = StandIns::new(&env, ACCEPT_LOGIN);
    let release =
        words("push-ecr --name dagster-app --dagster-version 1.2.3 --set-latest --dry-run");
    let run = env.run_with(&release, &stand_ins.env()).success();
    let (aws, docker) = (stand_ins.aws.display(), stand_ins.docker.display());
    let target = "public.ecr.aws/dagster/dagster-app";
    assert_eq!(
        run.stdout,
        format!(
            "{aws} ecr-public get-login-password --region us-east-1 | \
             {docker} login --username AWS --password-stdin public.ecr.aws\n\
             {docker} tag {APP_SOURCE} {target}:1.2.3\n\
             {docker} tag {APP_SOURCE} {target}:latest\n\
             {docker} push {target}:1.2.3\n\
             {docker} push {target}:latest\n"
        )
    );
    assert_eq!(stand_ins.calls(), "", "a dry run ran commands");
    assert_password_hidden(&run);
}

/// `docker login` closing its stdin before reading the password, then exiting with `status`
/// after saying `words`; the password `aws` gives is longer than a pipe holds, so the tool's
/// write of it always meets the closed pipe.
fn login_closing_its_stdin(env: &Env, status: i32, words: &str) -> StandIns {
    let login = format!("exec 0<&-; echo '{words}' >&2; exit {status}");
    let stand_ins = StandIns::new(env, &login);
    let long_password = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\nhead -c 200000 /dev/zero | tr '\\0' x\n",
        stand_ins.log.display()
    );
    write_executable(&stand_ins.aws, &long_password);
    stand_ins
}

/// A login is judged by docker's exit status, not by the pipe of its password: a login that
/// closed its stdin and exited 0 lets the push go on; one that failed says docker's own words.
#[test]
fn a_login_whose_stdin_pipe_breaks_is_judged_by_its_exit_status() {
    let env = catalog_built_at();
    let release = words("push-ecr --name dagster-app --dagster-version 1.2.3");
    let stand_ins = login_closing_its_stdin(&env, 0, "Login Succeeded");
    env.run_with(&release, &stand_ins.env()).success();
    assert!(
        (stand_ins.calls()).ends_with("docker push public.ecr.aws/dagster/dagster-app:1.2.3\n"),
        "{}",
        stand_ins.calls()
    );
    let refused = "Error response from daemon: Get \"https://public.ecr.aws/v2/\": denied";
    let stand_ins = login_closing_its_stdin(&env, 1, refused);
    let run = env
        .run_with(&release, &stand_ins.env())
        .code(1)
        .stderr_has("error: logging docker in to `public.ecr.aws` failed")
        .stderr_has(refused);
    assert!(!run.stderr.contains("Broken pipe"), "{}", run.stderr);
}

#[test]
fn a_failed_ecr_login_stops_before_tagging_and_hides_the_password() {
    let env = catalog_built_at();
    let stand_ins = StandIns::new(&env, REFUSE_LOGIN);
    let release = words("push-ecr --name dagster-app --dagster-version 1.2.3");
    let run = env
        .run_with(&release, &stand_ins.env())
        .code(1)
        .stderr_has(&format!(
            "error: logging docker in to `public.ecr.aws` failed: `{} login --username AWS \
             --password-stdin public.ecr.aws` exit status: 1",
            stand_ins.docker.display()
        ))
        .stderr_has("login attempt denied");
    assert_eq!(
        stand_ins.calls(),
        "aws ecr-public get-login-password --region us-east-1\n\
         docker login --username AWS --password-stdin public.ecr.aws\n"
    );
    assert_password_hidden(&run);
}

/// The blob `digest` of `repository` in the test registry, its bytes.
fn registry_blob(repository: &str, digest: &str) -> Vec<u8> {
    let output = std::process::Command::new("curl")
        .args(["-fsSL"])
        .arg(format!(
            "http://{}/v2/{repository}/blobs/{digest}",
            common::REGISTRY
        ))
        .output()
        .expect("run curl");
    assert!(output.status.success(), "no blob {digest} in {repository}");
    output.stdout
}

/// A push through the tool's client sends each layer gzipped as `docker push` does: the
/// registry's manifest says so, each layer blob unzips to the tar of the config's diff ID, the
/// image pulls back and runs, and a second push to another tag finds every blob in place.
#[test]
fn a_client_push_sends_gzipped_layers_that_unzip_to_the_diff_ids_and_are_not_sent_twice() {
    use std::io::Read;
    let env = Env::new();
    let dockerfile = env.read("python-base/Dockerfile");
    env.write(
        "python-base/Dockerfile",
        &format!("{dockerfile}RUN echo {} > /built-by\n", env.timestamp),
    );
    build(&env, "build --name python-base -v 3.10");
    let push = "--push-with client push --name python-base -v 3.10 --custom-tag";
    run_with_registry(&env, &format!("{push} first")).success();
    let repository = format!("{}/python-base", env.registry_path());
    let manifest = common::platforms::registry_manifest(&repository, "first");
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&registry_blob(&repository, config_digest)).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), diff_ids.len());
    for (layer, diff_id) in layers.iter().zip(diff_ids) {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        let blob = registry_blob(&repository, layer["digest"].as_str().unwrap());
        assert_eq!(layer["size"], blob.len(), "size of {}", layer["digest"]);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut tar)
            .expect("a gzipped layer");
        assert_eq!(
            common::registry_api::sha256(&tar),
            diff_id.as_str().unwrap()
        );
    }
    let log = common::access_log::AccessLog::mark(common::access_log::REGISTRY_LOG);
    run_with_registry(&env, &format!("{push} second")).success();
    let requests = log.requests(&repository);
    let uploads: Vec<_> = requests
        .iter()
        .filter(|r| r.path.contains("/blobs/") && ["POST", "PATCH", "PUT"].contains(&&*r.method))
        .collect();
    assert!(uploads.is_empty(), "blobs sent again: {uploads:?}");
    let pushed = requests.iter().filter(|r| r.kind() == "PUT manifests");
    assert_eq!(pushed.count(), 1, "{requests:#?}");
    let remote = format!("{}/python-base:first", env.registry());
    let second = format!("{}/python-base:second", env.registry());
    for local in [env.tag("python-base", "3.10"), remote.clone(), second] {
        if common::image_exists(&local) {
            common::docker_output(&["image", "rm", &local]);
        }
    }
    assert!(!common::image_exists(&remote), "{remote} is still local");
    common::docker_output(&["pull", &remote]);
    assert_eq!(
        common::run_image(&remote, &["cat", "/python-version", "/built-by"]),
        format!("3.10\n{}\n", env.timestamp)
    );
}
