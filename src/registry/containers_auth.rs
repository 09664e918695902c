//! The logins podman, buildah and skopeo store (containers-auth.json(5)): `podman login` writes
//! `${XDG_RUNTIME_DIR}/containers/auth.json` (`/run/containers/<uid>/auth.json` without it),
//! or `$REGISTRY_AUTH_FILE`, in docker's `auths` format. Docker never reads them, so a podman
//! user's logins are only there.

use std::ffi::OsString;
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
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    login_in_files(auth_files(var, nix::unistd::getuid().as_raw()), host)
}

fn login_in_files(files: Vec<PathBuf>, host: &str) -> Option<StoredLogin> {
    files.into_iter().find_map(|file| {
        let text = fs_err::read_to_string(&file).ok()?;
        let (user, password) = login_in(&text, host)?;
        Some(StoredLogin {
            user,
            password,
            file,
        })
    })
}

/// Where podman looks for logins, in its order, given the environment `var` and the user's id:
/// `$REGISTRY_AUTH_FILE` alone when it is set; else the runtime file `podman login` writes,
/// then `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/...` without it).
fn auth_files(var: impl Fn(&str) -> Option<OsString>, uid: u32) -> Vec<PathBuf> {
    if let Some(file) = var("REGISTRY_AUTH_FILE") {
        return vec![PathBuf::from(file)];
    }
    let runtime = var("XDG_RUNTIME_DIR").map_or_else(
        || PathBuf::from(format!("/run/containers/{uid}")),
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

    fn environment(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = (pairs.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            (pairs.iter())
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into())
        }
    }

    #[test]
    fn looks_where_podman_does_registry_auth_file_alone_when_set() {
        let paths = |pairs: &[(&str, &str)]| auth_files(environment(pairs), 1000);
        assert_eq!(
            paths(&[("REGISTRY_AUTH_FILE", "/a/auth.json"), ("HOME", "/h")]),
            [PathBuf::from("/a/auth.json")]
        );
        assert_eq!(
            paths(&[("XDG_RUNTIME_DIR", "/run/user/1000"), ("HOME", "/h")]),
            [
                PathBuf::from("/run/user/1000/containers/auth.json"),
                PathBuf::from("/h/.config/containers/auth.json")
            ]
        );
        assert_eq!(
            paths(&[("XDG_CONFIG_HOME", "/c"), ("HOME", "/h")]),
            [
                PathBuf::from("/run/containers/1000/auth.json"),
                PathBuf::from("/c/containers/auth.json")
            ]
        );
        assert_eq!(
            paths(&[]),
            [PathBuf::from("/run/containers/1000/auth.json")]
        );
    }

    #[test]
    fn the_first_file_holding_the_host_gives_the_login() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            fs_err::write(&path, text).unwrap();
            path
        };
        let other = write(
            "other.json",
            &format!(
                r#"{{"auths": {{"b.example": {{"auth": "{}"}}}}}}"#,
                auth("b:1")
            ),
        );
        let first = write(
            "first.json",
            &format!(
                r#"{{"auths": {{"a.example": {{"auth": "{}"}}}}}}"#,
                auth("a:2")
            ),
        );
        let second = write(
            "second.json",
            &format!(
                r#"{{"auths": {{"a.example": {{"auth": "{}"}}}}}}"#,
                auth("a:3")
            ),
        );
        let missing = dir.path().join("missing.json");
        let files = vec![missing, other, first.clone(), second];
        assert_eq!(
            login_in_files(files.clone(), "a.example"),
            Some(StoredLogin {
                user: "a".into(),
                password: "2".into(),
                file: first
            })
        );
        assert_eq!(login_in_files(files, "c.example"), None);
    }
}
