//! The example catalog built for linux/amd64 and linux/arm64 (arm64 emulated by qemu,
//! `scripts/setup-arm64.sh`), and its indexes as the test registry holds them.

use super::{Env, REGISTRY};

pub const BOTH: &str = "platforms: [linux/amd64, linux/arm64]\n";

/// The example catalog's root, on the busybox of each platform, noting where it was built.
pub const ROOT_DOCKERFILE: &str = "ARG TARGETARCH=amd64\n\
    FROM dagster-image/rootfs:busybox-${TARGETARCH}\n\
    ARG PYTHON_VERSION\n\
    RUN mkdir -p /opt/site-packages && echo \"$PYTHON_VERSION\" > /python-version \
    && uname -m > /base-arch\n\
    COPY pip /usr/local/bin/pip\n";

/// The example catalog with python-base and dagster-app built for amd64 and arm64.
pub fn two_platform_catalog() -> Env {
    let env = Env::new();
    env.write("python-base/Dockerfile", ROOT_DOCKERFILE);
    env.write("python-base/image.yaml", BOTH);
    env.write("dagster-app/image.yaml", BOTH);
    env
}

/// The manifest or index `repository:reference` in the test registry, as JSON.
pub fn registry_manifest(repository: &str, reference: &str) -> serde_json::Value {
    let accept = [
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ];
    let output = std::process::Command::new("curl")
        .args(["-fsS", "-H", &format!("Accept: {}", accept.join(", "))])
        .arg(format!(
            "http://{}/v2/{repository}/manifests/{reference}",
            REGISTRY
        ))
        .output()
        .expect("run curl");
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

/// The architecture the config of the image manifest `digest` of `repository` says.
pub fn config_architecture(repository: &str, digest: &str) -> String {
    let manifest = registry_manifest(repository, digest);
    let config = manifest["config"]["digest"].as_str().unwrap().to_owned();
    let blob = super::registry_get(&format!("{repository}/blobs/{config}"));
    let config: serde_json::Value = serde_json::from_str(&blob).unwrap();
    config["architecture"].as_str().unwrap().to_owned()
}

/// Each entry of the index `repository:tag` as (os/architecture, digest).
pub fn index_entries(repository: &str, tag: &str) -> Vec<(String, String)> {
    let index = registry_manifest(repository, tag);
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .map(|entry| {
            let platform = &entry["platform"];
            let name = format!(
                "{}/{}",
                platform["os"].as_str().unwrap(),
                platform["architecture"].as_str().unwrap()
            );
            (name, entry["digest"].as_str().unwrap().to_owned())
        })
        .collect()
}
