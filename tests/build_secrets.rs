//! Build secrets of `image.yaml` (`secrets: [{id, env}]`, `{id, src}`): on BuildKit and podman
//! each reaches its `RUN --mount=type=secret` and its value shows nowhere (output, logs, dry run,
//! labels, image history); the classic builder, a variable that is not set and a file that is
//! not there are refused before anything runs; the input digest follows the secret's id and
//! source, never its value.

mod common;

use std::path::Path;

use common::{Engine, Env, Run, docker_output, run_image, sha256};

/// The variable the `pip` secret is read from, and its value.
const VARIABLE: &str = "DAGSTER_IMAGE_TEST_PIP_TOKEN";
const TOKEN: &str = "pip-token-7f3a9c51";
/// The content of the file the `netrc` secret is read from, relative to the repository root.
const NETRC_FILE: &str = "secrets/netrc";
const NETRC: &str = "machine pypi login ci password netrc-9b2e41d0";
const IMAGE_YAML: &str = "secrets:\n  - {id: pip, env: DAGSTER_IMAGE_TEST_PIP_TOKEN}\n  \
                          - {id: netrc, src: secrets/netrc}\n";

/// `app`, whose build succeeds only when secret `pip` holds [`TOKEN`] and `netrc` holds
/// [`NETRC`] (compared by hash: neither value is in the Dockerfile), then prints both, as a
/// careless build would (a `nonce` makes that step run, not come from the cache).
fn catalog_with_secrets(env: &Env, nonce: &str) {
    let check = |id: &str, value: &str| {
        format!(
            "test \"$(sha256sum < /run/secrets/{id} | cut -d' ' -f1)\" = {}",
            sha256(value)
        )
    };
    let mount = "--mount=type=secret,id=pip --mount=type=secret,id=netrc";
    env.write("app/versions.yaml", "3.9: {}\n");
    env.write("app/image.yaml", IMAGE_YAML);
    env.write(
        "app/Dockerfile",
        &format!(
            "FROM dagster-image/rootfs:busybox\n\
             RUN {mount} {} && {} && touch /ok\n\
             RUN {mount} echo {nonce}; cat /run/secrets/pip; echo; cat /run/secrets/netrc; echo\n",
            check("pip", TOKEN),
            check("netrc", NETRC),
        ),
    );
    let file = env.root().join(NETRC_FILE);
    fs_err::create_dir_all(file.parent().unwrap()).unwrap();
    fs_err::write(file, NETRC).unwrap();
}

/// Asserts that `text` holds neither secret value.
#[track_caller]
fn assert_no_secret(text: &str, what: &str) {
    assert!(!text.contains(TOKEN), "{what} shows the token:\n{text}");
    assert!(
        !text.contains("netrc-9b2e41d0"),
        "{what} shows the file:\n{text}"
    );
}

/// Every file under `dir`, read as text, one after another.
fn all_text_under(dir: &Path) -> String {
    let mut text = String::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text += &all_text_under(&path);
        } else {
            text += &String::from_utf8_lossy(&fs_err::read(&path).unwrap());
        }
    }
    text
}

fn build_app(env: &Env, timestamp: &str, token: &str) -> Run {
    env.run_with(
        &["build", "--name", "app", "-v", "3.9", "-t", timestamp],
        &[(VARIABLE, token)],
    )
}

#[test]
fn secrets_from_a_variable_and_a_file_reach_the_build_and_their_values_show_nowhere() {
    // The classic builder refuses them (the next test).
    if Engine::under_test() == Engine::Classic {
        return;
    }
    let env = Env::empty();
    catalog_with_secrets(&env, &env.timestamp);
    let built = build_app(&env, &env.timestamp, TOKEN).success();
    let tag = env.tag("app", "3.9");
    assert_eq!(run_image(&tag, &["ls", "/ok"]), "/ok\n");
    assert_no_secret(&built.stdout, "stdout");
    assert_no_secret(&built.stderr, "stderr");
    let logs = all_text_under(&env.state_path("logs"));
    assert!(
        logs.contains(&env.timestamp) && logs.contains("***"),
        "the build printed the secrets, masked:\n{logs}"
    );
    assert_no_secret(&logs, "the build log");
    let history = docker_output(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", &tag]);
    assert!(history.contains("cat /run/secrets/pip"), "{history}");
    assert_no_secret(&history, "the image history");
    let labels = docker_output(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &tag,
    ]);
    assert!(labels.contains(&format!("pip=env:{VARIABLE}")), "{labels}");
    assert!(labels.contains("netrc=file:secrets/netrc"), "{labels}");
    assert_no_secret(&labels, "the labels");
    let dry_run = env
        .run_with(
            &["build", "--name", "app", "-v", "3.9", "--dry-run"],
            &[(VARIABLE, TOKEN)],
        )
        .success();
    let shown = format!("--secret id=pip,env={VARIABLE} --secret id=netrc,src=");
    assert!(dry_run.stdout.contains(&shown), "{}", dry_run.stdout);
    assert_no_secret(&dry_run.stdout, "the dry run");
}

#[test]
fn the_classic_builder_is_refused_before_anything_runs_naming_buildkit() {
    if Engine::under_test() != Engine::Classic {
        return;
    }
    let env = Env::empty();
    catalog_with_secrets(&env, &env.timestamp);
    let before = env.snapshot_files();
    let refused = build_app(&env, &env.timestamp, TOKEN).code(2);
    assert!(
        refused
            .stderr
            .contains("error: `app` has build secrets, which Docker's classic builder cannot pass"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("hint: build with BuildKit: set `DOCKER_BUILDKIT=1`"),
        "{}",
        refused.stderr
    );
    assert_no_secret(&refused.stderr, "the refusal");
    assert_eq!(env.images_built(), Vec::<String>::new());
    assert!(
        !env.state_path("logs").exists(),
        "nothing ran, nothing logged"
    );
    assert_eq!(env.snapshot_files(), before);
}

#[test]
fn a_missing_variable_or_file_is_refused_naming_it_before_the_engine_is_asked() {
    let env = Env::empty_without_engine();
    catalog_with_secrets(&env, "n");
    let args = ["build", "--name", "app", "-v", "3.9", "-t", "T"];
    let unset = env.run_without_engine(&args).code(2);
    assert!(
        unset.stderr.contains(&format!(
            "error: build secret `pip` of `app` reads the environment variable `{VARIABLE}`, \
             which is not set"
        )),
        "{}",
        unset.stderr
    );
    assert!(unset.stderr.contains(&format!("hint: set `{VARIABLE}`")));
    let dry_run = [&args[..], &["--dry-run"]].concat();
    env.run_without_engine(&dry_run).code(2);

    let file = env.root().join(NETRC_FILE);
    fs_err::remove_file(&file).unwrap();
    let stand_in = env.root().join("no-engine");
    let missing = env
        .run_with(
            &args,
            &[
                (VARIABLE, TOKEN),
                ("DOCKER", &stand_in.display().to_string()),
            ],
        )
        .code(2);
    assert!(
        missing.stderr.contains(&format!(
            "error: build secret `netrc` of `app` reads `{}`, which does not exist",
            file.display()
        )),
        "{}",
        missing.stderr
    );
    assert!(
        !env.root().join("engine-calls").exists(),
        "the engine was asked"
    );

    env.write(
        "app/image.yaml",
        "secrets:\n  - {id: pip, src: images/app/token}\n",
    );
    env.write("app/token", TOKEN);
    let in_context = env.run_without_engine(&args).code(2);
    assert!(
        in_context
            .stderr
            .contains("which is in the build context (the image folder)"),
        "{}",
        in_context.stderr
    );
}

#[test]
fn a_new_secret_value_leaves_the_image_current_and_a_new_source_makes_it_stale() {
    if Engine::under_test() == Engine::Classic {
        return;
    }
    let env = Env::empty();
    catalog_with_secrets(&env, &env.timestamp);
    build_app(&env, &env.timestamp, TOKEN).success();
    let status = |token: &str| {
        let run = env
            .run_with(&["status", "--name", "app", "--json"], &[(VARIABLE, token)])
            .success();
        assert_no_secret(&run.stdout, "status");
        let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
        (rows[0]["stale"].clone(), rows[0]["reasons"].clone())
    };
    let unchanged = (serde_json::json!(false), serde_json::json!([]));
    assert_eq!(status("another-token-value"), unchanged);
    fs_err::write(env.root().join(NETRC_FILE), "another file").unwrap();
    assert_eq!(status(TOKEN), unchanged);

    env.write(
        "app/image.yaml",
        &IMAGE_YAML.replace("src: secrets/netrc", "src: secrets/other"),
    );
    assert_eq!(
        status(TOKEN),
        (serde_json::json!(true), serde_json::json!(["secrets"]))
    );
    env.write("app/image.yaml", &IMAGE_YAML.replace("id: pip", "id: pip2"));
    assert_eq!(
        status(TOKEN),
        (serde_json::json!(true), serde_json::json!(["secrets"]))
    );
}

#[test]
fn build_and_push_dockerhub_passes_the_secrets_on_buildkit_and_podman_and_refuses_classic() {
    let env = Env::empty();
    catalog_with_secrets(&env, &env.timestamp);
    let repository = format!("{}/app", env.registry());
    let args = [
        "build-and-push-dockerhub",
        "--name",
        "app",
        "--dagster-version",
        "1.0.0",
        "--repository",
        &repository,
        "--platform",
        "linux/amd64",
    ];
    let run = env.run_with(&args, &[(VARIABLE, TOKEN)]);
    assert_no_secret(&run.stdout, "stdout");
    assert_no_secret(&run.stderr, "stderr");
    if Engine::under_test() == Engine::Classic {
        run.code(2)
            .stderr_has("Docker's classic builder cannot pass")
            .stderr_has("`DOCKER_BUILDKIT=1`");
        assert_eq!(
            common::registry_tags(&format!("{}/app", env.registry_path())),
            Vec::<String>::new()
        );
        return;
    }
    run.success();
    assert_eq!(
        common::registry_tags(&format!("{}/app", env.registry_path())),
        ["1.0.0"]
    );
    assert_eq!(
        run_image(&format!("{repository}:1.0.0"), &["ls", "/ok"]),
        "/ok\n"
    );
}
