//! A catalog shaped like Dagster's own (its image names, Python versions and bases as in 2022:
//! `buildkite-integration` and its snapshot builder on `buildkite-integration-base` with
//! `source: aws`, bases from `python:<V>-slim` through a `BASE_IMAGE` build argument, versions
//! quoted and not), with Dockerfiles of our own. Every read-only command plans it whole and
//! answers with exit 0, with a registry configured and without one; before, `status` and a
//! whole-catalog dry run panicked on it, and without a registry they refused it.

mod common;

use common::{Env, Run};

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

/// `dagster-image ARGS` with `registry` configured (`--registry`), or with none: neither
/// `--registry`, `DAGSTER_IMAGE_REGISTRY` (the harness removes it) nor `AWS_ACCOUNT_ID`.
fn run_on(env: &Env, registry: Option<&str>, args: &[&str]) -> Run {
    let mut command = match registry {
        Some(registry) => env.command(&[&["--registry", registry], args].concat()),
        None => env.command(args),
    };
    command.env_remove("AWS_ACCOUNT_ID");
    Run::from(command.output().expect("run dagster-image"))
}

#[test]
fn a_dagster_shaped_catalog_plans_dry_runs_and_reports_status_with_exit_0() {
    let env = dagster_shaped_catalog();
    let checked = run_on(&env, None, &["check"]).success();
    assert_eq!(checked.stderr, "no problems in 9 image(s)\n");
    let registry = env.registry();
    for configured in [Some(registry.as_str()), None] {
        let run = |args: &[&str]| run_on(&env, configured, args);
        let planned = run(&["build-all", "--dry-run", "-t", &env.timestamp]).success();
        assert_eq!(planned.stderr, "", "nothing unknown: {configured:?}");
        let position = |needle: &str| {
            planned
                .stdout
                .find(needle)
                .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", planned.stdout))
        };
        // Without a registry, the base built in the run is its fresh local image.
        let fresh_base = format!(
            "BASE_IMAGE={}/buildkite-integration-base:py3.10.4-{}",
            configured.unwrap_or("dagster"),
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
        let pushed = match configured {
            Some(_) => serde_json::Value::Bool(false),
            None => serde_json::Value::Null,
        };
        assert!(
            rows.iter().all(|row| row["stale"] == true
                && row["local_image"] == false
                && row["pushed"] == pushed),
            "{}",
            status.stdout
        );

        // One image whose `aws` base was never built: that base is planned too, so the rows
        // say "not built" where the plan could not have been made.
        let one = run(&["status", "--json", "--name", "buildkite-integration"]).success();
        let rows: Vec<serde_json::Value> = serde_json::from_str(&one.stdout).unwrap();
        assert_eq!(rows.len(), INTEGRATION_VERSIONS.len(), "{}", one.stdout);
        assert!(
            rows.iter()
                .all(|row| row["image"] == "buildkite-integration"
                    && row["stale"] == true
                    && row["reasons"] == serde_json::json!(["not built"])),
            "{}",
            one.stdout
        );

        run(&["bake", "-t", &env.timestamp]).success();
        match configured {
            Some(_) => {
                run(&["pipeline", "-t", &env.timestamp]).success();
            }
            // Its steps push to the registry.
            None => {
                run(&["pipeline", "-t", &env.timestamp])
                    .code(2)
                    .stderr_has("`AWS_ACCOUNT_ID`");
            }
        }
    }
}

/// A dry run shows what it cannot know as `<registry>` and says so once; the build it shows
/// refuses to run without a registry, naming how to give one. `status` needs none.
#[test]
fn an_aws_base_the_run_does_not_build_needs_a_registry_to_build_not_to_be_shown() {
    let env = dagster_shaped_catalog();
    let built: String = INTEGRATION_VERSIONS
        .iter()
        .map(|v| format!("{v}: 2022-05-01T000000\n"))
        .collect();
    env.write("buildkite-integration-base/last_updated.yaml", &built);
    let one = ["build", "--name", "buildkite-integration", "-v", "3.10.4"];
    let ts = ["-t", env.timestamp.as_str()];

    let shown = run_on(&env, None, &[&one[..], &["--dry-run"], &ts].concat()).success();
    assert!(
        shown.stdout.contains(
            "'BASE_IMAGE=<registry>/buildkite-integration-base:py3.10.4-2022-05-01T000000'"
        ),
        "{}",
        shown.stdout
    );
    assert_eq!(
        shown.stderr,
        "warning: no registry is configured: the `source: aws` bases this run does not build \
         (`buildkite-integration-base`) are shown as `<registry>/<base>`; a build needs one: \
         pass `--registry HOST[:PORT][/PATH]`, set `DAGSTER_IMAGE_REGISTRY`, or set \
         `AWS_ACCOUNT_ID` to use AWS ECR\n"
    );

    let refused = run_on(&env, None, &[&one[..], &ts].concat()).code(2);
    assert_eq!(
        refused.stderr,
        "error: `buildkite-integration` builds on `buildkite-integration-base` from the \
         registry, so it needs one\n  Caused by: no registry to push to or pull `source: aws` \
         bases from\nhint: pass `--registry HOST[:PORT][/PATH]`, set `DAGSTER_IMAGE_REGISTRY`, \
         or set `AWS_ACCOUNT_ID` to use AWS ECR\n"
    );
    assert_eq!(env.read("buildkite-integration/last_updated.yaml"), "");

    let status = run_on(&env, None, &["status", "--name", "buildkite-integration"]).success();
    assert_eq!(status.stderr, "");
    assert_eq!(
        status.stdout.lines().count(),
        1 + INTEGRATION_VERSIONS.len()
    );
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
