//! Pushing to a private AWS ECR registry for real: the tool gets a password from the real `aws`
//! CLI, answered by moto (an AWS-protocol server on loopback), and logs docker in with it, to a
//! registry that answers to an ECR host name over TLS and accepts only that password.
//!
//! `scripts/setup-ecr.sh` starts both; without them these tests fail at once saying so.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::access_log::{
    AccessLog, ECR_REGISTRY_LOG, assert_copied_by_mounts, assert_only_up_to_date_checks,
};
use common::{Env, Run, words};

const ECR_HOST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com:5443";
const MOTO: &str = "http://127.0.0.1:5555";
const AWS_BIN: &str = "/opt/dagster-image-ecr-venv/bin";
/// The certificate of the ECR registry, which docker trusts for that host.
const ECR_CA: &str = "/etc/docker/certs.d/123456789012.dkr.ecr.us-west-2.amazonaws.com:5443/ca.crt";

/// Environment for the `aws` CLI to ask moto, with credentials moto accepts.
const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ENDPOINT_URL", MOTO),
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
];

/// The password moto hands out, which the ECR registry accepts for user `AWS`; panics, saying
/// how to fix it, when moto or the registry is not set up.
fn ecr_password() -> &'static str {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    PASSWORD.get_or_init(|| {
        let fix = "run scripts/setup-ecr.sh first";
        let moto = Command::new("curl")
            .args(["-fsS", &format!("{MOTO}/moto-api/")])
            .output();
        assert!(
            moto.is_ok_and(|o| o.status.success()),
            "moto is not answering at {MOTO}: {fix}"
        );
        let output = Command::new(format!("{AWS_BIN}/aws"))
            .args(["ecr", "get-login-password", "--region", "us-west-2"])
            .envs(AWS_ENV)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {AWS_BIN}/aws ({error}): {fix}"));
        assert!(
            output.status.success(),
            "no ECR password from moto: {}{fix}",
            String::from_utf8_lossy(&output.stderr)
        );
        let password = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let status = |password| {
            let options = ["-o", "/dev/null", "-w", "%{http_code}"];
            curl_ecr(&options, "/v2/", password)
        };
        let anonymous = status(None);
        assert_eq!(
            anonymous, "401",
            "the ECR registry at {ECR_HOST} must refuse anonymous requests: {fix}"
        );
        let with_password = status(Some(&password));
        assert_eq!(
            with_password, "200",
            "the ECR registry at {ECR_HOST} must accept moto's password: {fix}"
        );
        password
    })
}

/// curl's stdout for `https://<ECR_HOST><path>`, as user `AWS` when a password is given.
fn curl_ecr(options: &[&str], path: &str, password: Option<&str>) -> String {
    let mut command = Command::new("curl");
    command.args(["-sS", "--cacert", ECR_CA]).args(options);
    if let Some(password) = password {
        command.args(["-u", &format!("AWS:{password}")]);
    }
    let output = command
        .arg(format!("https://{ECR_HOST}{path}"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The tags of `repository` in the ECR registry, sorted.
fn ecr_tags(repository: &str) -> Vec<String> {
    let body = curl_ecr(
        &[],
        &format!("/v2/{repository}/tags/list"),
        Some(ecr_password()),
    );
    common::tags_in(&body)
}

/// `dagster-image --registry <ECR_HOST>/<unique> ARGS`, with `aws` on PATH asking
/// `aws_endpoint`, and a docker configuration of the test's own, so that docker starts logged
/// out of every registry (as after `docker logout`) without touching the user's logins.
fn run_ecr(env: &Env, args: &str, aws_endpoint: &str) -> Run {
    let registry = format!("{ECR_HOST}/{}", env.registry_path());
    Run::from(
        ecr_command(env, &registry, args, aws_endpoint)
            .output()
            .expect("run dagster-image"),
    )
}

/// `dagster-image --registry <registry> ARGS` as `run_ecr` runs it, to run or adjust.
fn ecr_command(env: &Env, registry: &str, args: &str, aws_endpoint: &str) -> Command {
    ecr_password();
    let line = format!("--registry {registry} {args}");
    let mut command = env.command(&words(&line));
    let path = std::env::var("PATH").unwrap_or_default();
    command
        .envs(AWS_ENV)
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .env("PATH", format!("{AWS_BIN}:{path}"))
        .env("AWS_CONFIG_FILE", env.root().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            env.root().join("aws-credentials"),
        )
        .env("DOCKER_CONFIG", docker_config(env))
        .env_remove("AWS_CLI")
        .env_remove("AWS_PROFILE");
    command
}

/// The docker configuration folder of the test, empty until the tool logs docker in.
fn docker_config(env: &Env) -> PathBuf {
    env.root().join("docker-config")
}

/// Whether docker, with the test's configuration, has credentials for the ECR registry.
fn docker_logged_in(env: &Env) -> bool {
    let config = docker_config(env).join("config.json");
    let config = fs_err::read_to_string(config).unwrap_or_default();
    config.contains(&format!("\"{ECR_HOST}\""))
}

/// Builds every Python version of `python-base` at the test's timestamp.
fn build_python_base(env: &Env) {
    let ts = &env.timestamp;
    env.run(&words(&format!("build-all --name python-base -t {ts}")))
        .success();
}

#[track_caller]
fn assert_password_hidden(run: &Run) {
    let password = ecr_password();
    assert!(
        !run.stdout.contains(password),
        "password on stdout: {run:#?}"
    );
    assert!(
        !run.stderr.contains(password),
        "password on stderr: {run:#?}"
    );
}

#[test]
fn push_all_logs_docker_in_to_ecr_with_the_aws_password_and_publishes_every_version() {
    let env = Env::new();
    build_python_base(&env);
    assert!(!docker_logged_in(&env));
    let run = run_ecr(&env, "push-all --name python-base", MOTO).success();
    assert!(
        docker_logged_in(&env),
        "docker was not logged in to {ECR_HOST}"
    );
    let ts = &env.timestamp;
    assert_eq!(
        ecr_tags(&format!("{}/python-base", env.registry_path())),
        [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
    );
    assert_password_hidden(&run);
}

/// Tag pages are asked for by a client of their own: it trusts docker's CA of the registry and
/// authenticates with the AWS password as the other requests do.
#[test]
fn tags_lists_a_private_tls_registry_with_the_aws_password() {
    let env = Env::new();
    build_python_base(&env);
    run_ecr(&env, "push-all --name python-base", MOTO).success();
    fs_err::remove_dir_all(docker_config(&env)).unwrap();
    let run = run_ecr(&env, "tags --name python-base", MOTO).success();
    let ts = &env.timestamp;
    assert_eq!(run.stdout, format!("py3.10-{ts}\npy3.9-{ts}\n"));
    assert_password_hidden(&run);
}

#[test]
fn release_to_an_ecr_repository_logs_in_and_publishes_version_and_latest() {
    let env = Env::new();
    build_python_base(&env);
    let app = format!("{ECR_HOST}/{}/app", env.registry_path());
    let release = format!("release --name python-base --dagster-version 1.2.3 --to {app}");
    let run = run_ecr(&env, &release, MOTO).success();
    assert!(
        docker_logged_in(&env),
        "docker was not logged in to {ECR_HOST}"
    );
    assert_eq!(
        ecr_tags(&format!("{}/app", env.registry_path())),
        ["1.2.3", "latest"]
    );
    assert_password_hidden(&run);
}

#[test]
fn ecr_dry_run_prints_the_login_pipeline_and_neither_logs_in_nor_pushes() {
    let env = Env::new();
    build_python_base(&env);
    let run = run_ecr(&env, "push-all --name python-base --dry-run", MOTO).success();
    let ts = &env.timestamp;
    let remote = format!("{ECR_HOST}/{}/python-base", env.registry_path());
    let docker = common::docker();
    assert_eq!(
        run.stdout,
        format!(
            "aws ecr get-login-password --region us-west-2 | \
             {docker} login --username AWS --password-stdin {ECR_HOST}\n\
             {docker} tag dagster/python-base:py3.9-{ts} {remote}:py3.9-{ts}\n\
             {docker} push {remote}:py3.9-{ts}\n\
             {docker} tag dagster/python-base:py3.10-{ts} {remote}:py3.10-{ts}\n\
             {docker} push {remote}:py3.10-{ts}\n"
        )
    );
    assert!(!docker_logged_in(&env), "a dry run logged docker in");
    assert_eq!(
        ecr_tags(&format!("{}/python-base", env.registry_path())),
        Vec::<String>::new()
    );
    assert_password_hidden(&run);
}

#[test]
fn an_unreachable_aws_endpoint_fails_the_push_naming_the_step() {
    let env = Env::new();
    build_python_base(&env);
    run_ecr(&env, "push-all --name python-base", "http://127.0.0.1:1")
        .code(1)
        .stderr_has(&format!(
            "error: getting an ECR password for `{ECR_HOST}` failed: \
             `aws ecr get-login-password --region us-west-2` exit status"
        ))
        .stderr_has("Could not connect to the endpoint URL: \"http://127.0.0.1:1/\"");
    assert!(!docker_logged_in(&env));
    assert_eq!(
        ecr_tags(&format!("{}/python-base", env.registry_path())),
        Vec::<String>::new()
    );
}

/// The digest the ECR registry gives the manifest `repository:tag`, None when there is none.
fn ecr_digest(repository: &str, tag: &str) -> Option<String> {
    // Docker pushes Docker manifests, podman OCI ones.
    let accept = [
        "-H",
        "Accept: application/vnd.docker.distribution.manifest.v2+json",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        "-I",
    ];
    let path = format!("/v2/{repository}/manifests/{tag}");
    let head = curl_ecr(&accept, &path, Some(ecr_password()));
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("docker-content-digest")
            .then(|| value.trim().to_owned())
    })
}

#[test]
fn re_pushing_to_ecr_finds_the_images_up_to_date_and_uploads_no_manifest() {
    let env = Env::new();
    build_python_base(&env);
    run_ecr(&env, "push-all --name python-base", MOTO).success();
    let log = AccessLog::mark(ECR_REGISTRY_LOG);
    let run = run_ecr(&env, "push-all --name python-base", MOTO).success();
    let repository = format!("{}/python-base", env.registry_path());
    let requests = log.requests(&repository);
    assert_only_up_to_date_checks(&requests, 2);
    for version in ["3.9", "3.10"] {
        let target = format!("{ECR_HOST}/{repository}:py{version}-{}", env.timestamp);
        assert!(
            run.stderr.contains(&format!("`{target}` is up to date")),
            "{run:#?}"
        );
    }
    assert_password_hidden(&run);
}

#[test]
fn release_inside_ecr_mounts_the_blobs_and_keeps_the_digest() {
    let env = Env::new();
    build_python_base(&env);
    run_ecr(&env, "push-all --name python-base", MOTO).success();
    let path = env.registry_path();
    let source = ecr_digest(
        &format!("{path}/python-base"),
        &format!("py3.9-{}", env.timestamp),
    );
    assert!(source.is_some());
    let log = AccessLog::mark(ECR_REGISTRY_LOG);
    let release =
        format!("release --name python-base --dagster-version 1.2.3 --to {ECR_HOST}/{path}/app");
    let run = run_ecr(&env, &release, MOTO).success();
    assert_copied_by_mounts(&log.requests(&format!("{path}/app")), 2);
    assert_eq!(ecr_tags(&format!("{path}/app")), ["1.2.3", "latest"]);
    for tag in ["1.2.3", "latest"] {
        assert_eq!(ecr_digest(&format!("{path}/app"), tag), source);
    }
    assert_password_hidden(&run);
}

#[test]
fn release_copies_from_the_loopback_registry_to_ecr_keeping_the_digest() {
    let env = Env::new();
    build_python_base(&env);
    let loopback = env.registry();
    env.run(&words(&format!(
        "--registry {loopback} push-all --name python-base"
    )))
    .success();
    env.remove_images();
    let path = env.registry_path();
    let source_digest = common::registry_digest(
        &format!("{path}/python-base"),
        &format!("py3.9-{}", env.timestamp),
    );
    assert!(source_digest.is_some());
    let release =
        format!("release --name python-base --dagster-version 1.2.3 --to {ECR_HOST}/{path}/app");
    let mut command = ecr_command(&env, &loopback, &release, MOTO);
    let run = Run::from(command.output().expect("run dagster-image")).success();
    assert!(run.stderr.contains("0 blob(s) mounted"), "{run:#?}");
    assert!(!docker_logged_in(&env), "docker was used");
    for tag in ["1.2.3", "latest"] {
        assert_eq!(ecr_digest(&format!("{path}/app"), tag), source_digest);
    }
    assert_password_hidden(&run);
}

#[test]
fn a_wrong_ecr_password_is_one_line_naming_the_registry_and_never_shown() {
    let env = Env::new();
    build_python_base(&env);
    let wrong_aws = env.root().join("wrong-aws");
    common::write_executable(&wrong_aws, "#!/bin/sh\necho not-the-password-4711\n");
    let registry = format!("{ECR_HOST}/{}", env.registry_path());
    let mut command = ecr_command(&env, &registry, "push --name python-base -v 3.9", MOTO);
    command.env("AWS_CLI", &wrong_aws);
    let run = Run::from(command.output().expect("run dagster-image"));
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "error: checking `{registry}/python-base:py3.9-{}` failed: registry `{ECR_HOST}` \
             refused the credentials of user `AWS` (wrong password?)\n",
            env.timestamp
        )
    );
    assert!(!run.stdout.contains("4711") && !run.stderr.contains("4711"));
    assert!(!docker_logged_in(&env));
}

/// A multi-platform push-all signs in to ECR once: the real `aws`, behind a wrapper that counts
/// its calls, is asked for one password, which serves the platform images' up-to-date checks and
/// the indexes. (Pushed again with docker logged out, nothing goes through docker, whose login
/// would otherwise be found by the indexes' sign-in.)
#[test]
fn a_two_platform_push_all_to_ecr_asks_aws_for_one_password() {
    let env = Env::new();
    env.write("python-base/Dockerfile", common::platforms::ROOT_DOCKERFILE);
    let t = &env.timestamp;
    let platforms = "--platform linux/amd64 --platform linux/arm64";
    env.run(&words(&format!(
        "build-all --name python-base -t {t} {platforms}"
    )))
    .success();
    let calls = env.root().join("aws-calls.log");
    let counting_aws = env.root().join("counting-aws");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nexec {AWS_BIN}/aws \"$@\"\n",
        calls.display()
    );
    common::write_executable(&counting_aws, &script);
    let registry = format!("{ECR_HOST}/{}", env.registry_path());
    let push = format!("push-all --name python-base {platforms}");
    let push_all = || {
        let mut command = ecr_command(&env, &registry, &push, MOTO);
        command.env("AWS_CLI", &counting_aws);
        Run::from(command.output().expect("run dagster-image")).success()
    };
    let one_call = "ecr get-login-password --region us-west-2\n";
    let first = push_all();
    assert_eq!(common::aws_calls(&env), one_call, "{first:#?}");
    let tags = ecr_tags(&format!("{}/python-base", env.registry_path()));
    for tag in [format!("py3.10-{t}"), format!("py3.9-{t}")] {
        assert!(tags.contains(&tag), "{tag} not pushed: {tags:?}");
    }

    fs_err::remove_dir_all(docker_config(&env)).unwrap();
    fs_err::remove_file(&calls).unwrap();
    let again = push_all().stderr_has("up to date, not pushed");
    assert_eq!(common::aws_calls(&env), one_call, "{again:#?}");
    assert_password_hidden(&again);
}

/// `user:password` as docker's `config.json` keeps it in `auths` (base64).
fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut encoded = String::new();
    for chunk in bytes.chunks(3) {
        let padded = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let bits = u32::from_be_bytes([0, padded[0], padded[1], padded[2]]);
        for index in 0..4 {
            if index <= chunk.len() {
                let sextet = (bits >> (18 - 6 * index)) & 0x3f;
                encoded.push(char::from(ALPHABET[sextet as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

/// Writes the test's docker `config.json`, as `docker login` or the user left it.
fn write_docker_config(env: &Env, json: &str) -> PathBuf {
    let dir = docker_config(env);
    fs_err::create_dir_all(&dir).unwrap();
    let config = dir.join("config.json");
    fs_err::write(&config, json).unwrap();
    config
}

/// `dagster-image --registry <ECR_HOST>/<unique> ARGS` with an `aws` that has no credentials.
fn run_ecr_without_aws_credentials(env: &Env, args: &str, extra: &[(&str, &str)]) -> Run {
    let registry = format!("{ECR_HOST}/{}", env.registry_path());
    let mut command = ecr_command(env, &registry, args, MOTO);
    command
        .env("AWS_CLI", common::aws_without_credentials(env))
        .envs(extra.iter().copied());
    Run::from(command.output().expect("run dagster-image"))
}

#[test]
fn ecr_credentials_in_docker_s_config_auths_are_used_and_aws_is_never_asked() {
    let env = Env::new();
    build_python_base(&env);
    let auths = format!(
        r#"{{"auths": {{"{ECR_HOST}": {{"auth": "{}"}}}}}}"#,
        basic_auth("AWS", ecr_password())
    );
    let config = write_docker_config(&env, &auths);
    let debug = [("DAGSTER_IMAGE_DEBUG", "1")];
    let run = run_ecr_without_aws_credentials(&env, "push-all --name python-base", &debug)
        .success()
        .stderr_has(&format!(
            "debug: credentials for `{ECR_HOST}`: docker's config.json auths\n"
        ));
    let ts = &env.timestamp;
    assert_eq!(
        ecr_tags(&format!("{}/python-base", env.registry_path())),
        [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
    );
    assert_eq!(common::aws_calls(&env), "", "aws was asked");
    assert_eq!(
        fs_err::read_to_string(config).unwrap(),
        auths,
        "docker was logged in again"
    );
    assert_password_hidden(&run);
}

#[test]
fn an_ecr_credential_helper_of_docker_is_used_and_aws_is_never_asked() {
    let env = Env::new();
    build_python_base(&env);
    let helpers = env.root().join("credential-helpers");
    fs_err::create_dir_all(&helpers).unwrap();
    common::write_executable(
        &helpers.join("docker-credential-dagster-test-ecr"),
        &format!(
            "#!/bin/sh
cat >/dev/null
[ \"$1\" = get ] || exit 1
\
             printf '{{\"Username\":\"AWS\",\"Secret\":\"%s\"}}' '{}'\n",
            ecr_password()
        ),
    );
    write_docker_config(
        &env,
        &format!(r#"{{"credHelpers": {{"{ECR_HOST}": "dagster-test-ecr"}}}}"#),
    );
    let path = format!(
        "{}:{AWS_BIN}:{}",
        helpers.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let vars = [("PATH", path.as_str()), ("DAGSTER_IMAGE_DEBUG", "1")];
    let run = run_ecr_without_aws_credentials(&env, "push --name python-base -v 3.9", &vars)
        .success()
        .stderr_has(&format!(
            "debug: credentials for `{ECR_HOST}`: docker's credHelpers (`dagster-test-ecr`)\n"
        ));
    assert_eq!(
        ecr_tags(&format!("{}/python-base", env.registry_path())),
        [format!("py3.9-{}", env.timestamp)]
    );
    assert_eq!(common::aws_calls(&env), "", "aws was asked");
    assert_password_hidden(&run);
}

#[test]
fn ecr_refusing_docker_s_stored_credentials_gets_the_aws_password_and_logs_docker_in() {
    let env = Env::new();
    build_python_base(&env);
    let expired = basic_auth("AWS", "expired-token-4711");
    write_docker_config(
        &env,
        &format!(r#"{{"auths": {{"{ECR_HOST}": {{"auth": "{expired}"}}}}}}"#),
    );
    let run = run_ecr(&env, "--debug push --name python-base -v 3.9", MOTO)
        .success()
        .stderr_has(&format!(
            "debug: credentials for `{ECR_HOST}`: docker's config.json auths\n\
             debug: registry `{ECR_HOST}` refused the stored credentials for it\n\
             debug: credentials for `{ECR_HOST}`: `aws ecr get-login-password --region us-west-2`\n"
        ));
    assert_eq!(
        ecr_tags(&format!("{}/python-base", env.registry_path())),
        [format!("py3.9-{}", env.timestamp)]
    );
    let config = fs_err::read_to_string(docker_config(&env).join("config.json")).unwrap();
    assert!(
        !config.contains(&expired),
        "docker kept the refused credentials: {config}"
    );
    assert!(!run.stderr.contains("4711"), "{run:#?}");
    assert_password_hidden(&run);
}

/// A podman user's `podman login` stores the password in podman's own auth file, which docker
/// never reads (here `$XDG_RUNTIME_DIR/containers/auth.json`, where podman writes it by
/// default): the tool's registry requests use it, and `aws` is never asked. Runs podman
/// whatever the suite's engine, as its users do.
#[test]
fn a_podman_login_is_used_for_the_registry_and_aws_is_never_asked() {
    let env = Env::new();
    let podman = [("DOCKER", "podman")];
    let ts = &env.timestamp;
    env.run_with(
        &words(&format!("build-all --name python-base -t {ts}")),
        &podman,
    )
    .success();
    let runtime = env.root().join("runtime");
    fs_err::create_dir_all(&runtime).unwrap();
    let mut login = Command::new("podman");
    login
        .args(["login", "--username", "AWS", "--password-stdin", ECR_HOST])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    let mut child = login.spawn().expect("run podman login");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), ecr_password().as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "podman login failed");
    let auth_file = runtime.join("containers/auth.json");
    assert!(auth_file.exists(), "podman wrote its login elsewhere");
    // As for a podman user: no `$DOCKER_CONFIG` (with one, podman reads and writes logins
    // there instead) and a home without docker's config.
    let home = env.root().join("home");
    fs_err::create_dir_all(&home).unwrap();
    let push_all = || {
        let registry = format!("{ECR_HOST}/{}", env.registry_path());
        let mut command = ecr_command(&env, &registry, "push-all --name python-base", MOTO);
        command
            .env("AWS_CLI", common::aws_without_credentials(&env))
            .env("DAGSTER_IMAGE_DEBUG", "1")
            .env("DOCKER", "podman")
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("HOME", &home)
            .env_remove("DOCKER_CONFIG");
        Run::from(command.output().expect("run dagster-image"))
    };
    let pushed = push_all().success().stderr_has(&format!(
        "debug: credentials for `{ECR_HOST}`: podman's auth file `{}`\n",
        auth_file.display()
    ));
    assert_eq!(
        ecr_tags(&format!("{}/python-base", env.registry_path())),
        [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
    );
    let again = push_all().success();
    assert_eq!(
        again.stderr.matches("is up to date").count(),
        2,
        "{again:#?}"
    );
    assert_eq!(common::aws_calls(&env), "", "aws was asked");
    assert_password_hidden(&pushed);
}

/// `docker login` through an OAuth flow keeps an `identitytoken` beside `auth`: the entry's user
/// and password are used (it was read as anonymous), and `aws` is never asked.
#[test]
fn docker_s_auth_beside_an_identity_token_is_used_and_aws_is_never_asked() {
    let env = Env::new();
    build_python_base(&env);
    run_ecr(&env, "push-all --name python-base", MOTO).success();
    fs_err::remove_dir_all(docker_config(&env)).unwrap();
    let auths = format!(
        r#"{{"auths": {{"{ECR_HOST}": {{"auth": "{}", "identitytoken": "a-refresh-token"}}}}}}"#,
        basic_auth("AWS", ecr_password())
    );
    write_docker_config(&env, &auths);
    let debug = [("DAGSTER_IMAGE_DEBUG", "1")];
    let run = run_ecr_without_aws_credentials(&env, "tags --name python-base", &debug)
        .success()
        .stderr_has(&format!(
            "debug: credentials for `{ECR_HOST}`: docker's config.json auths\n"
        ));
    let ts = &env.timestamp;
    assert_eq!(run.stdout, format!("py3.10-{ts}\npy3.9-{ts}\n"));
    assert_eq!(common::aws_calls(&env), "", "aws was asked");
    assert_password_hidden(&run);
}

#[test]
fn a_build_with_the_registry_cache_in_ecr_logs_docker_in_and_puts_the_cache_there() {
    let env = Env::new();
    assert!(!docker_logged_in(&env));
    let args = format!(
        "--registry-cache build --name python-base -v 3.10 -t {}",
        env.timestamp
    );
    let run = run_ecr(&env, &args, MOTO).success();
    assert!(!run.stderr.contains("warning:"), "{run:#?}");
    assert!(
        docker_logged_in(&env),
        "docker was not logged in to {ECR_HOST}"
    );
    let repository = format!("{}/python-base", env.registry_path());
    match common::docker() {
        "podman" => assert!(!ecr_tags(&format!("{repository}-buildcache")).is_empty()),
        _ => assert!(ecr_tags(&repository).contains(&"buildcache-py3.10".to_owned())),
    }
    assert_password_hidden(&run);
}
