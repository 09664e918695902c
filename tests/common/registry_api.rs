//! Images put into a registry through its API with curl, without an engine: an image manifest
//! with no layers and a config of its own, so that each label gives a manifest of its own.

use std::io::Write;
use std::process::{Command, Stdio};

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// curl with `args`, asserting it succeeded; its stdout.
pub fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-fsS"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Puts into `repository` of the registry at `base` (`http://HOST:PORT`) an image manifest
/// with no layers whose config says `label`, tagged `tag`; returns the manifest's digest.
pub fn put_image(base: &str, repository: &str, tag: &str, label: &str) -> String {
    put_image_with(&[], base, repository, tag, label).0
}

/// Like `put_image`, curl given `options` (credentials, a CA); the digest and the manifest.
pub fn put_image_with(
    options: &[&str],
    base: &str,
    repository: &str,
    tag: &str,
    label: &str,
) -> (String, String) {
    let curl = |args: &[&str]| curl(&[options, args].concat());
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"Labels":{{"made-by":"{label}"}}}}}}"#
    );
    let config_digest = sha256(config.as_bytes());
    let headers = curl(&[
        "-X",
        "POST",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{base}/v2/{repository}/blobs/uploads/"),
    ]);
    let location = headers
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .expect("an upload location");
    let location = match location.starts_with('/') {
        true => format!("{base}{location}"),
        false => location,
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &config,
        "-H",
        "Content-Type: application/octet-stream",
        &format!("{location}{separator}digest={config_digest}"),
    ]);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    );
    curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &manifest,
        "-H",
        "Content-Type: application/vnd.oci.image.manifest.v1+json",
        &format!("{base}/v2/{repository}/manifests/{tag}"),
    ]);
    (sha256(manifest.as_bytes()), manifest)
}
