//! Small catalogs written by the upkeep and check tests: images that build in a second, some on
//! a local base, and `check --json` read back as rows.

use super::Env;

/// A Dockerfile that builds in a second and declares the build argument versions.yaml passes.
pub const BASE_DOCKERFILE: &str =
    "FROM dagster-image/rootfs:busybox\nARG PYTHON_VERSION\nRUN echo \"$PYTHON_VERSION\" > /v\n";

/// A Dockerfile built on the local base given as `BASE_IMAGE`.
pub const CHILD_DOCKERFILE: &str = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo child > /child\n";

/// Writes an image folder: `versions` built on the local `base` when given.
pub fn write_image(env: &Env, name: &str, versions: &[&str], base: Option<&str>) {
    let (dockerfile, spec) = match base {
        Some(base) => (
            CHILD_DOCKERFILE,
            format!("  base_image:\n    name: {base}\n    source: local\n"),
        ),
        None => (BASE_DOCKERFILE, String::new()),
    };
    let versions: String = versions
        .iter()
        .map(|v| match base {
            Some(_) => format!("'{v}':\n{spec}"),
            None => format!("'{v}':\n  docker_args:\n    PYTHON_VERSION: '{v}'\n"),
        })
        .collect();
    env.write(&format!("{name}/Dockerfile"), dockerfile);
    env.write(&format!("{name}/versions.yaml"), &versions);
}

/// base (3.9, 3.10) <- mid (3.9, 3.10) <- top (3.9); other (3.9) on its own.
pub fn family(env: &Env) {
    write_image(env, "base", &["3.9", "3.10"], None);
    write_image(env, "mid", &["3.9", "3.10"], Some("base"));
    write_image(env, "top", &["3.9"], Some("mid"));
    write_image(env, "other", &["3.9"], None);
}

/// `check --json`, its exit code asserted, as `image kind file[:line]` rows, the file relative
/// to the catalog.
pub fn check_rows(env: &Env, args: &[&str], code: i32) -> Vec<String> {
    let run = env.run(&[&["check", "--json"], args].concat()).code(code);
    let problems: Vec<serde_json::Value> =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", run.stdout));
    let catalog = format!("{}/", env.images().display());
    problems
        .iter()
        .map(|p| {
            let file = p["file"].as_str().unwrap();
            let file = file
                .strip_prefix(&catalog)
                .unwrap_or_else(|| panic!("{file} is not in the catalog"));
            let line = p["line"]
                .as_u64()
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            format!(
                "{} {} {file}{line}",
                p["image"].as_str().unwrap(),
                p["kind"].as_str().unwrap()
            )
        })
        .collect()
}
