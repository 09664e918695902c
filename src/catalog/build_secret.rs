//! `image.yaml` `secrets:`: build secrets, each an id a Dockerfile mounts
//! (`RUN --mount=type=secret,id=pip ...`) and where its value comes from when the image is
//! built: an environment variable (`{id: pip, env: PIP_TOKEN}`) or a file (`{id: pip, src:
//! .secrets/pip-token}`, relative to the repository root, or absolute). Only the id and the
//! source are read here: the value is read by the engine, never by the catalog.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

/// The longest secret id taken: a file name under `/run/secrets/`, where BuildKit and podman
/// mount a secret by default.
pub const MAX_ID_LEN: usize = 255;

/// One build secret of an image.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BuildSecret {
    pub id: String,
    pub source: SecretSource,
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// An environment variable of the run, by name.
    Env(String),
    /// A file: `written` as `image.yaml` says it (what the input digest records, the same on
    /// every checkout), `path` where it is on this machine.
    File { written: String, path: PathBuf },
}

impl BuildSecret {
    /// The id and the source, never the value, as the input digest and its label record them:
    /// `pip=env:PIP_TOKEN`, `pip=file:.secrets/pip-token`.
    pub fn digest_text(&self) -> String {
        match &self.source {
            SecretSource::Env(name) => format!("{}=env:{name}", self.id),
            SecretSource::File { written, .. } => format!("{}=file:{written}", self.id),
        }
    }
    /// `id=pip,env=PIP_TOKEN` or `id=pip,src=/path/to/file`: how BuildKit's `--secret`, podman's
    /// and bake's `secret` entries name it (its source, never its value).
    pub fn spec(&self) -> String {
        match &self.source {
            SecretSource::Env(name) => format!("id={},env={name}", self.id),
            SecretSource::File { path, .. } => format!("id={},src={}", self.id, path.display()),
        }
    }
}

/// A `secrets:` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    id: String,
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    src: Option<String>,
}

/// The secret `raw` declares, checked: its id as BuildKit and podman take it, exactly one source,
/// and that source well formed (a file relative to `repository` stays inside it).
pub fn resolve(raw: RawSecret, repository: &Path) -> Result<BuildSecret, String> {
    check_id(&raw.id)?;
    let source = match (raw.env, raw.src) {
        (Some(name), None) => {
            check_variable(&name)?;
            SecretSource::Env(name)
        }
        (None, Some(written)) => {
            let path = file_path(&written, repository)?;
            SecretSource::File { written, path }
        }
        _ => {
            return Err(format!(
                "secret `{}` needs one source: `env: VARIABLE` or `src: FILE`",
                raw.id
            ));
        }
    };
    Ok(BuildSecret { id: raw.id, source })
}

/// No two secrets of an image share an id: the second would hide the first.
pub fn check_unique(earlier: &[BuildSecret], id: &str) -> Result<(), String> {
    match earlier.iter().any(|secret| secret.id == id) {
        true => Err(format!("secret `{id}` is declared twice")),
        false => Ok(()),
    }
}

/// An id is a file name under `/run/secrets/` and a value of `--secret id=...,src=...`: 1 to
/// [`MAX_ID_LEN`] letters, digits, `.`, `_` and `-`, starting with a letter or a digit.
fn check_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let starts_well = id.starts_with(|c: char| c.is_ascii_alphanumeric());
    if id.len() > MAX_ID_LEN || !starts_well || !id.chars().all(allowed) {
        return Err(format!(
            "{id:?} is not a secret id: use 1 to {MAX_ID_LEN} letters, digits, `.`, `_` and `-`, \
             starting with a letter or a digit"
        ));
    }
    Ok(())
}

/// An environment variable's name as a shell writes it: letters, digits and `_`, not starting
/// with a digit.
fn check_variable(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || !name.chars().all(allowed) {
        return Err(format!(
            "{name:?} is not an environment variable's name: use letters, digits and `_`, not \
             starting with a digit"
        ));
    }
    Ok(())
}

/// Where the file `written` is: an absolute path as it is, a relative one inside `repository`
/// (without `..`). A `,` or `"` would break the engine's `--secret id=...,src=...` syntax.
fn file_path(written: &str, repository: &Path) -> Result<PathBuf, String> {
    if written.is_empty() || written.contains(char::is_control) || written.contains([',', '"']) {
        return Err(format!(
            "{written:?} is not a secret file: give a path without `,`, `\"` or control characters"
        ));
    }
    let path = Path::new(written);
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "`{written}` must be a path inside the repository, relative to its root and without \
             `..`, or an absolute path"
        ));
    }
    Ok(repository.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(id: &str, env: Option<&str>, src: Option<&str>) -> RawSecret {
        RawSecret {
            id: id.to_owned(),
            env: env.map(str::to_owned),
            src: src.map(str::to_owned),
        }
    }

    #[test]
    fn an_env_or_a_file_source_is_kept_as_written_and_where_it_is() {
        let repo = Path::new("/repo");
        let env = resolve(raw("pip", Some("PIP_TOKEN"), None), repo).unwrap();
        assert_eq!(env.source, SecretSource::Env("PIP_TOKEN".into()));
        assert_eq!(env.digest_text(), "pip=env:PIP_TOKEN");
        let file = resolve(raw("npm.rc", None, Some(".secrets/npmrc")), repo).unwrap();
        assert_eq!(
            file.source,
            SecretSource::File {
                written: ".secrets/npmrc".into(),
                path: "/repo/.secrets/npmrc".into()
            }
        );
        assert_eq!(file.digest_text(), "npm.rc=file:.secrets/npmrc");
        let absolute = resolve(raw("k", None, Some("/run/keys/k")), repo).unwrap();
        assert_eq!(absolute.digest_text(), "k=file:/run/keys/k");
    }

    #[test]
    fn ids_follow_the_engines_rules() {
        let repo = Path::new("/repo");
        for good in [
            "pip",
            "PIP_TOKEN",
            "a.b-c_d",
            "0day",
            &"x".repeat(MAX_ID_LEN),
        ] {
            assert!(resolve(raw(good, Some("T"), None), repo).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-pip",
            ".pip",
            "a/b",
            "a,b",
            "a=b",
            "a b",
            &"x".repeat(MAX_ID_LEN + 1),
        ] {
            let error = resolve(raw(bad, Some("T"), None), repo).unwrap_err();
            assert!(error.contains("is not a secret id"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_secret_has_exactly_one_well_formed_source() {
        let repo = Path::new("/repo");
        for (env, src) in [(None, None), (Some("T"), Some("f"))] {
            let error = resolve(raw("pip", env, src), repo).unwrap_err();
            assert_eq!(
                error,
                "secret `pip` needs one source: `env: VARIABLE` or `src: FILE`"
            );
        }
        for bad in ["1TOKEN", "PIP-TOKEN", "", "A B"] {
            let error = resolve(raw("pip", Some(bad), None), repo).unwrap_err();
            assert!(error.contains("environment variable's name"), "{error}");
        }
        for bad in ["../up", "a/../../up"] {
            let error = resolve(raw("pip", None, Some(bad)), repo).unwrap_err();
            assert!(error.contains("inside the repository"), "{error}");
        }
        for bad in ["", "a,b", "a\"b", "a\nb"] {
            let error = resolve(raw("pip", None, Some(bad)), repo).unwrap_err();
            assert!(error.contains("is not a secret file"), "{error}");
        }
    }
}
