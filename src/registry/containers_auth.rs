//! The logins podman, buildah and skopeo store (containers-auth.json(5)): `podman login` writes
//! `${XDG_RUNTIME_DIR}/containers/auth.json` (`/run/containers/<uid>/auth.json` without it),
//! or `$REGISTRY_AUTH_FILE`, in docker's `auths` format. Docker never reads them, so a podman
//! user's logins are only there.

use std::path::PathBuf;

use base64::Engine as _;
use serde::Deserialize;

/// A user and password a containers auth file holds for a registry, and that file.
#[derive(Debug, PartialEq, Eq)]
pub struct StoredLogin {
    pub user: String,
    pub password: String,
    pub file: PathBuf,
}

/// The login the containers auth files hold for `host`, from the first file that has one, in
/// the order podman reads them; None when none does (or a file cannot be read as one).
pub fn login(host: &str) -> Option<StoredLogin> {
    auth_files().into_iter().find_map(|file| {
        let text = fs_err::read_to_string(&file).ok()?;
        let (user, password) = login_in(&text, host)?;
        Some(StoredLogin {
            user,
            password,
            file,
        })
    })
}

/// Where podman looks for logins, in its order: `$REGISTRY_AUTH_FILE` alone when it is set;
/// else the runtime file `podman login` writes, then `$XDG_CONFIG_HOME/containers/auth.json`.
fn auth_files() -> Vec<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        return vec![PathBuf::from(file)];
    }
    let runtime = var("XDG_RUNTIME_DIR").map_or_else(
        || PathBuf::from(format!("/run/containers/{}", nix::unistd::getuid())),
        |dir| PathBuf::from(dir).join("containers"),
    );
    let config = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".config")));
    let mut files = vec![runtime.join("auth.json")];
    files.extend(config.map(|dir| dir.join("containers/auth.json")));
    files
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    auth: Option<String>,
}

/// The user and password an auth file's text holds for `host`: the entry of the host itself
/// (`host`, `https://host`, or `host/` with a path, which podman keeps per namespace and which
/// this tool, asking for any repository, takes only when the host has no entry of its own).
fn login_in(text: &str, host: &str) -> Option<(String, String)> {
    let file: AuthFile = serde_json::from_str(text).ok()?;
    let bare = |key: &str| {
        key.strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key)
            .trim_end_matches('/')
            .to_owned()
    };
    let exact = file.auths.iter().find(|(key, _)| bare(key) == host);
    let under = || {
        file.auths
            .iter()
            .find(|(key, _)| bare(key).split('/').next() == Some(host))
    };
    let (_, entry) = exact.or_else(under)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_deref()?)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `user:password` as an auth file holds it.
    fn auth(login: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(login)
    }

    #[test]
    fn reads_the_host_s_own_entry_before_one_of_a_namespace_on_it() {
        let text = format!(
            r#"{{"auths": {{"reg.example/team": {{"auth": "{}"}},
                "reg.example": {{"auth": "{}"}},
                "https://other.example:5000": {{"auth": "{}"}}}}}}"#,
            auth("team:t"),
            auth("me:p:with:colons"),
            auth("o:q")
        );
        assert_eq!(
            login_in(&text, "reg.example"),
            Some(("me".into(), "p:with:colons".into()))
        );
        assert_eq!(
            login_in(&text, "other.example:5000"),
            Some(("o".into(), "q".into()))
        );
        assert_eq!(login_in(&text, "missing.example"), None);
    }

    #[test]
    fn a_namespace_entry_serves_when_the_host_has_none_of_its_own() {
        let text = format!(
            r#"{{"auths": {{"reg.example/team": {{"auth": "{}"}}}}}}"#,
            auth("team:t")
        );
        assert_eq!(
            login_in(&text, "reg.example"),
            Some(("team".into(), "t".into()))
        );
        assert_eq!(login_in(&text, "reg.example.org"), None);
    }

    #[test]
    fn entries_without_a_readable_login_are_none() {
        for text in [
            r#"{"auths": {"reg.example": {}}}"#,
            r#"{"auths": {"reg.example": {"auth": "not base64!"}}}"#,
            &format!(
                r#"{{"auths": {{"reg.example": {{"auth": "{}"}}}}}}"#,
                auth("no-colon")
            ),
            "{}",
            "not json",
        ] {
            assert_eq!(login_in(text, "reg.example"), None, "{text}");
        }
    }
}
