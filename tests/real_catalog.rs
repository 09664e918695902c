//! A catalog shaped like Dagster's own (its image names, Python versions and bases as in 2022:
//! `buildkite-integration` and its snapshot builder on `buildkite-integration-base` with
//! `source: aws`, bases from `python:<V>-slim` through a `BASE_IMAGE` build argument, versions
//! quoted and not), with Dockerfiles of our own. Every read-only command plans it whole and
//! answers with exit 0; before, `status` and a whole-catalog dry run panicked on it.

mod common;

use common::Env;

/// Python versions of the integration images, unquoted, as Dagster writes them.
const INTEGRATION_VERSIONS: [&str; 3] = ["3.8.13", "3.9.12", "3.10.4"];

/// A Dockerfile that starts from its `BASE_IMAGE` build argument, as all of Dagster's do.
const FROM_BASE_IMAGE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo built > /built\n";

fn write_image(env: &Env, name: &str, versions: &str) {
    env.write(&format!("{name}/Dockerfile"), FROM_BASE_IMAGE);
    env.write(&format!("{name}/versions.yaml"), versions);
    env.write(&format!("{name}/last_updated.yaml"), "");
}

/// `versions` each built from `python:<V>-slim`; quoted keys when `quoted`.
fn from_python(versions: &[&str], quoted: bool) -> String {
    versions
        .iter()
        .map(|v| {
            let key = if quoted {
                format!("\"{v}\"")
            } else {
                v.to_string()
            };
            format!("{key}:\n  docker_args:\n    BASE_IMAGE: python:{v}-slim\n")
        })
        .collect()
}

/// `versions` each built on `base` from the registry.
fn on_aws_base(versions: &[&str], base: &str) -> String {
    versions
        .iter()
        .map(|v| format!("{v}:\n  base_image:\n    name: {base}\n    source: aws\n"))
        .collect()
}

fn dagster_shaped_catalog() -> Env {
    let env = Env::empty();
    let base = "buildkite-integration-base";
    write_image(&env, base, &from_python(&INTEGRATION_VERSIONS, false));
    for dependent in [
        "buildkite-integration",
        "buildkite-integration-snapshot-builder",
    ] {
        write_image(&env, dependent, &on_aws_base(&INTEGRATION_VERSIONS, base));
    }
    let unit_versions = ["3.7", "3.8", "3.9", "3.10", "3.11"];
    for name in [
        "buildkite-unit-snapshot-builder",
        "buildkite-unit",
        "test-project-base",
    ] {
        write_image(&env, name, &from_python(&unit_versions, true));
    }
    for name in ["user-code-example", "k8s-example", "dagster-celery-k8s"] {
        write_image(&env, name, &from_python(&["3.7"], true));
    }
    env
}

#[test]
fn a_dagster_shaped_catalog_plans_dry_runs_and_reports_status_with_exit_0() {
    let env = dagster_shaped_catalog();
    let registry = env.registry();
    let run = |args: &[&str]| env.run(&[&["--registry", registry.as_str()], args].concat());

    let planned = run(&["build-all", "--dry-run", "-t", &env.timestamp]).success();
    let position = |needle: &str| {
        planned
            .stdout
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", planned.stdout))
    };
    let fresh_base = format!(
        "BASE_IMAGE={registry}/buildkite-integration-base:py3.10.4-{}",
        env.timestamp
    );
    assert!(
        position("buildkite-integration-base py3.10.4\n") < position(&fresh_base),
        "the aws base is built before what uses it"
    );
    assert_eq!(
        planned.stdout.matches("# then record").count(),
        3 * 3 + 3 * 5 + 3
    );

    let status = run(&["status", "--json"]).success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(rows.len(), 27, "{}", status.stdout);
    assert!(
        rows.iter()
            .all(|row| row["stale"] == true && row["local_image"] == false)
    );

    run(&["bake", "-t", &env.timestamp]).success();
    run(&["pipeline", "-t", &env.timestamp]).success();
}

/// Without `--registry`, the registry of an `aws` base is ECR of `AWS_ACCOUNT_ID`, as in the
/// original; the plan names it without asking AWS for anything.
#[test]
fn aws_bases_name_the_ecr_registry_of_the_account() {
    let env = dagster_shaped_catalog();
    let ecr = [
        ("AWS_ACCOUNT_ID", "968703565975"),
        ("AWS_REGION", "us-west-1"),
    ];
    let args = ["build-all", "--name", "buildkite-integration", "--dry-run"];
    env.run_with(&[&args[..], &["-t", &env.timestamp]].concat(), &ecr)
        .code(2)
        .stderr_has("has not been built yet");
    env.write(
        "buildkite-integration-base/last_updated.yaml",
        "3.10.4: 2022-05-01T000000\n",
    );
    let planned = env
        .run_with(
            &[
                "build",
                "--name",
                "buildkite-integration",
                "-v",
                "3.10.4",
                "--dry-run",
            ],
            &ecr,
        )
        .success();
    assert!(
        planned.stdout.contains(
            "--build-arg BASE_IMAGE=968703565975.dkr.ecr.us-west-1.amazonaws.com/\
             buildkite-integration-base:py3.10.4-2022-05-01T000000"
        ),
        "{}",
        planned.stdout
    );
}
