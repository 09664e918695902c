//! The access logs of the test registries (files of `scripts/setup-*.sh`), to see which requests
//! a run made to a repository: `AccessLog::mark` before the run, `requests` after it.

use super::engine::Engine;
/// The access log of the registry on 127.0.0.1:5000.
pub const REGISTRY_LOG: &str = "/var/log/dagster-image-registry.log";
/// The access log of the TLS registry with the ECR host name.
pub const ECR_REGISTRY_LOG: &str = "/var/log/dagster-image-ecr-registry.log";

/// A place in a registry's access log.
pub struct AccessLog {
    path: &'static str,
    offset: usize,
}

/// One request of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub status: String,
    pub agent: String,
}

impl AccessLog {
    /// The end of the log at `path` now.
    pub fn mark(path: &'static str) -> Self {
        Self {
            path,
            offset: read(path).len(),
        }
    }

    /// The requests under `/v2/<repository>/` logged since the mark.
    pub fn requests(&self, repository: &str) -> Vec<Request> {
        let text = read(self.path);
        let prefix = format!("/v2/{repository}/");
        text.get(self.offset..)
            .unwrap_or_default()
            .lines()
            .filter_map(parse_line)
            .filter(|request| request.path.starts_with(&prefix))
            .collect()
    }
}

impl Request {
    /// `METHOD KIND` with KIND the API area (`manifests`, `blobs`, `uploads`, `tags`), for
    /// counting.
    pub fn kind(&self) -> String {
        let area = if self.path.contains("/blobs/uploads/") {
            "uploads"
        } else if self.path.contains("/manifests/") {
            "manifests"
        } else if self.path.contains("/blobs/") {
            "blobs"
        } else if self.path.contains("/tags/") {
            "tags"
        } else {
            "other"
        };
        format!("{} {area}", self.method)
    }
}

/// Whether every request was the tool's own (docker's user agent is `docker/...`).
pub fn all_by_the_tool(requests: &[Request]) -> bool {
    requests
        .iter()
        .all(|r| r.agent.starts_with("dagster-image/"))
}

/// Asserts that `requests` to a repository copied an image into it without docker: every blob
/// mounted (201), none uploaded, and `manifests` manifests pushed.
#[track_caller]
pub fn assert_copied_by_mounts(requests: &[Request], manifests: usize) {
    assert!(all_by_the_tool(requests), "docker was asked: {requests:#?}");
    let posts: Vec<&Request> = requests.iter().filter(|r| r.method == "POST").collect();
    assert!(!posts.is_empty(), "no blob mounted: {requests:#?}");
    let mounted = |r: &&Request| r.path.contains("mount=") && r.status == "201";
    assert!(posts.iter().all(mounted), "{requests:#?}");
    assert!(
        !requests.iter().any(|r| r.method == "PATCH"),
        "{requests:#?}"
    );
    let pushed = requests.iter().filter(|r| r.kind() == "PUT manifests");
    assert_eq!(pushed.count(), manifests, "{requests:#?}");
}

/// Counts of `Request::kind` in `requests`, sorted, as `KIND xN` lines for readable asserts.
pub fn tally(requests: &[Request]) -> Vec<String> {
    let mut counts = std::collections::BTreeMap::new();
    for request in requests {
        *counts.entry(request.kind()).or_insert(0) += 1;
    }
    counts
        .into_iter()
        .map(|(kind, n)| format!("{kind} x{n}"))
        .collect()
}

/// Asserts that `requests` are the tool's up-to-date checks of `tags` tags and nothing else: a
/// HEAD of each manifest, whose digest docker recorded when it pushed. Podman records one only
/// when the image holds it from a pull (under every name the image has), so there the tool may
/// also GET each manifest to compare its config with the image's ID.
#[track_caller]
pub fn assert_only_up_to_date_checks(requests: &[Request], tags: usize) {
    let head = format!("HEAD manifests x{tags}");
    let with_get = [format!("GET manifests x{tags}"), head.clone()];
    let tallied = tally(requests);
    let expected = tallied == [head.clone()]
        || (!Engine::under_test().records_pushed_digests() && tallied == with_get);
    assert!(expected, "{tallied:?}: {requests:#?}");
}

fn read(path: &str) -> String {
    let bytes = fs_err::read(path).unwrap_or_else(|error| {
        panic!("cannot read the registry log ({error}): run scripts/setup-engine.sh first")
    });
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A combined-format line: `IP - - [DATE] "METHOD PATH PROTO" STATUS SIZE "REFERER" "AGENT"`.
fn parse_line(line: &str) -> Option<Request> {
    let mut quoted = line.split('"');
    let _before = quoted.next()?;
    let mut request = quoted.next()?.split(' ');
    let (method, path) = (request.next()?, request.next()?);
    let status = quoted.next()?.split_whitespace().next()?;
    let _referer = (quoted.next()?, quoted.next()?);
    let agent = quoted.next()?;
    Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        status: status.to_owned(),
        agent: agent.to_owned(),
    })
}
