//! How the client reaches registries, as docker does: plain HTTP for loopback ones (docker treats
//! 127.0.0.0/8 as insecure registries by default), HTTPS for the others, trusting the system's
//! CAs plus those docker trusts for that registry (`/etc/docker/certs.d/<host:port>/*.crt`).
//! oci-client's client and the plain HTTP one of the requests it does not make (tag pages, whose
//! `Link` header it hides) are configured alike.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};

use super::failure::RemoteError;

/// Where docker looks for the CA certificates of a registry, `<dir>/<host:port>/*.crt`.
pub(super) const DOCKER_CERTS_DIR: &str = "/etc/docker/certs.d";

const USER_AGENT: &str = concat!("dagster-image/", env!("CARGO_PKG_VERSION"));
/// A registry that takes longer than this (or the operation's deadline, when shorter) to accept
/// a connection counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client configuration for talking to `hosts` (`HOST[:PORT]` each), where a transfer that
/// stalls for `deadline` counts as broken.
pub(super) fn client_config(
    hosts: &[String],
    deadline: Duration,
) -> Result<ClientConfig, RemoteError> {
    let mut plain_http = Vec::new();
    let mut certificates = Vec::new();
    for host in hosts {
        if is_loopback(host) {
            plain_http.push(host.clone());
        } else {
            certificates.extend(docker_certificates(Path::new(DOCKER_CERTS_DIR), host)?);
        }
    }
    Ok(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(plain_http),
        extra_root_certificates: certificates,
        connect_timeout: Some(CONNECT_TIMEOUT.min(deadline)),
        read_timeout: Some(deadline),
        user_agent: USER_AGENT,
        ..ClientConfig::default()
    })
}

/// A plain HTTP client configured as oci-client's of `config`: the same CAs, timeouts and
/// user agent.
pub(super) fn http_client(config: &ClientConfig) -> Result<reqwest::Client, RemoteError> {
    let setup = |why: String| RemoteError::Setup { why };
    let certificates = config
        .extra_root_certificates
        .iter()
        .map(reqwest::Certificate::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup(e.to_string()))?;
    let mut builder = reqwest::Client::builder()
        .tls_certs_merge(certificates)
        .user_agent(config.user_agent);
    if let Some(timeout) = config.read_timeout {
        builder = builder.read_timeout(timeout);
    }
    if let Some(timeout) = config.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    builder.build().map_err(|e| setup(e.to_string()))
}

/// `http` for a loopback `host`, `https` for the others, as `client_config` has them.
pub(super) fn scheme(host: &str) -> &'static str {
    if is_loopback(host) { "http" } else { "https" }
}

/// Whether `host` (`NAME[:PORT]`, `[V6]:PORT`) names this machine.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The CA certificates (`*.crt`) in `<certs_dir>/<host>/`, as docker reads them; none when
/// the folder does not exist.
fn docker_certificates(certs_dir: &Path, host: &str) -> Result<Vec<Certificate>, RemoteError> {
    let dir = certs_dir.join(host);
    let failed = |source| RemoteError::Certificates {
        registry: host.to_owned(),
        path: dir.display().to_string(),
        source,
    };
    let entries = match fs_err::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(failed(error)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(failed)?.path();
        if path.extension().is_some_and(|e| e == "crt") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| {
            Ok(Certificate {
                encoding: CertificateEncoding::Pem,
                data: fs_err::read(path).map_err(failed)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_spoken_to_in_plain_http() {
        for host in [
            "127.0.0.1:5000",
            "127.3.2.1",
            "localhost:5000",
            "[::1]:5000",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "ghcr.io",
            "10.0.0.1:5000",
            "example.com:443",
            "localhost.example",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        let hosts = ["127.0.0.1:5000".into(), "ghcr.io".into()];
        let config = client_config(&hosts, Duration::from_secs(30)).unwrap();
        assert_eq!(
            config.protocol,
            ClientProtocol::HttpsExcept(vec!["127.0.0.1:5000".into()])
        );
    }

    #[test]
    fn trusts_every_crt_of_the_registrys_certs_folder_only() {
        let certs = tempfile::tempdir().unwrap();
        let dir = certs.path().join("registry.example:5443");
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("ca.crt"), "CA").unwrap();
        fs_err::write(dir.join("extra.crt"), "EXTRA").unwrap();
        fs_err::write(dir.join("client.key"), "KEY").unwrap();
        let found = docker_certificates(certs.path(), "registry.example:5443").unwrap();
        let data: Vec<&[u8]> = found.iter().map(|c| c.data.as_slice()).collect();
        assert_eq!(data, [b"CA".as_slice(), b"EXTRA".as_slice()]);
        assert!(
            docker_certificates(certs.path(), "other:5443")
                .unwrap()
                .is_empty()
        );
    }
}
