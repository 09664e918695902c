//! `versions.yaml`: the Python versions an image is built for, in build order, each with its
//! build arguments and optional base image.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{Error, Result};
use super::{file, yaml};
use crate::names;
use crate::reference::{ImageName, PythonVersion};

/// The build argument that names the image to build `FROM`.
pub const BASE_IMAGE_ARG: &str = "BASE_IMAGE";

/// How one Python version of an image is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSpec {
    /// Build arguments, in file order.
    pub docker_args: IndexMap<String, String>,
    pub base_image: Option<BaseImage>,
}

/// Another image of the catalog that this one builds on, for the same Python version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    pub name: ImageName,
    pub source: BaseSource,
    /// Line of `name` in `versions.yaml`, for error messages.
    pub line: u64,
}

/// Where the base image is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseSource {
    /// The local image `dagster/<base>:py<V>-<timestamp>`.
    Local,
    /// The same tag in the remote registry.
    Aws,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default)]
    docker_args: IndexMap<Spanned<String>, String>,
    #[serde(default)]
    base_image: Option<RawBase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBase {
    name: Spanned<String>,
    source: BaseSource,
}

/// Reads and parses the `versions.yaml` at `path`.
pub fn read(path: &Path) -> Result<IndexMap<PythonVersion, VersionSpec>> {
    parse(path, &file::read_text(path)?)
}

/// Parses `versions.yaml` of an image. An empty file is an error: an image needs a version.
/// Its keys are read as text (`3.10` stays `3.10`), then typed once.
pub fn parse(path: &Path, text: &str) -> Result<IndexMap<PythonVersion, VersionSpec>> {
    let raw: IndexMap<Spanned<String>, Option<RawSpec>> = yaml::parse(path, text)?;
    if raw.is_empty() {
        return Err(Error::Invalid {
            path: path.to_owned(),
            problem: "declares no Python versions; add one, e.g. `\"3.10\": {docker_args: {}}`"
                .into(),
        });
    }
    raw.into_iter()
        .map(|(version, spec)| {
            let spec = spec.map_or_else(VersionSpec::empty, |spec| spec.validate(path))?;
            check_version(path, &version)?;
            Ok((PythonVersion::new(version.value), spec))
        })
        .collect()
}

fn check_version(path: &Path, version: &Spanned<String>) -> Result<()> {
    names::check_tag_chars(&version.value).map_err(|why| Error::InvalidAt {
        path: path.to_owned(),
        line: version.referenced.line(),
        problem: format!(
            "Python version `{}` cannot be part of a tag: {why}",
            version.value
        ),
    })
}

impl VersionSpec {
    fn empty() -> Result<Self> {
        Ok(Self {
            docker_args: IndexMap::new(),
            base_image: None,
        })
    }
}

impl RawSpec {
    fn validate(self, path: &Path) -> Result<VersionSpec> {
        let mut docker_args = IndexMap::new();
        for (name, value) in self.docker_args {
            check_arg_name(path, &name)?;
            check_arg_value(path, &name, &value)?;
            if name.value == BASE_IMAGE_ARG && self.base_image.is_some() {
                return Err(Error::InvalidAt {
                    path: path.to_owned(),
                    line: name.referenced.line(),
                    problem: format!(
                        "`docker_args` sets `{BASE_IMAGE_ARG}` and `base_image` is declared too; keep one of them"
                    ),
                });
            }
            docker_args.insert(name.value, value);
        }
        let base_image = self
            .base_image
            .map(|base| base.validate(path))
            .transpose()?;
        Ok(VersionSpec {
            docker_args,
            base_image,
        })
    }
}

impl RawBase {
    /// A base image name is an image folder's name, never a path (`../other/x`).
    fn validate(self, path: &Path) -> Result<BaseImage> {
        let line = self.name.referenced.line();
        names::check_image_name(&self.name.value).map_err(|why| Error::InvalidAt {
            path: path.to_owned(),
            line,
            problem: format!(
                "base image `{}` is not an image name: {why}",
                self.name.value
            ),
        })?;
        Ok(BaseImage {
            line,
            name: ImageName::of_catalog(self.name.value),
            source: self.source,
        })
    }
}

fn check_arg_name(path: &Path, name: &Spanned<String>) -> Result<()> {
    let value = &name.value;
    if value.is_empty() || value.contains(|c: char| c == '=' || c == '\0' || c.is_whitespace()) {
        return Err(Error::InvalidAt {
            path: path.to_owned(),
            line: name.referenced.line(),
            problem: format!("`{value}` is not a build argument name (no `=`, no spaces)"),
        });
    }
    Ok(())
}

/// A NUL cannot be passed in an argument vector: the engine would never see the value.
fn check_arg_value(path: &Path, name: &Spanned<String>, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::InvalidAt {
            path: path.to_owned(),
            line: name.referenced.line(),
            problem: format!(
                "the value of `{}` holds a NUL character, which no program argument can carry",
                name.value
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<IndexMap<PythonVersion, VersionSpec>> {
        parse(Path::new("images/x/versions.yaml"), text)
    }

    fn error_text(text: &str) -> String {
        parse_text(text).unwrap_err().to_string()
    }

    #[test]
    fn unquoted_versions_keep_their_literal_text_and_order() {
        let versions = parse_text("3.9:\n  docker_args: {}\n3.10:\n3.8: ~\n").unwrap();
        let keys: Vec<&str> = versions.keys().map(PythonVersion::as_str).collect();
        assert_eq!(keys, ["3.9", "3.10", "3.8"]);
    }

    #[test]
    fn build_arg_values_keep_their_literal_text() {
        let versions =
            parse_text("3.10:\n  docker_args:\n    PYTHON_VERSION: 3.10\n    N: 010\n").unwrap();
        let args = &versions["3.10"].docker_args;
        assert_eq!(args["PYTHON_VERSION"], "3.10");
        assert_eq!(args["N"], "010");
    }

    #[test]
    fn base_image_is_read_with_its_line() {
        let versions =
            parse_text("3.9:\n  base_image:\n    name: python-base\n    source: local\n").unwrap();
        let base = versions["3.9"].base_image.clone().unwrap();
        assert_eq!(base.name, "python-base");
        assert_eq!(base.source, BaseSource::Local);
        assert_eq!(base.line, 3);
    }

    #[test]
    fn malformed_files_are_reported_with_path_and_line() {
        assert_eq!(
            error_text("3.9:\n  docker_arg: {}\n"),
            "images/x/versions.yaml:2:3: unknown field `docker_arg`, expected one of docker_args, base_image; did you mean `docker_args`?"
        );
        assert!(
            error_text("3.9:\n  docker_args:\n    A: [1]\n")
                .starts_with("images/x/versions.yaml:3:8: ")
        );
        assert_eq!(
            error_text("3.9: {}\n3.9: {}\n"),
            "images/x/versions.yaml:2:1: duplicate mapping key: 3.9"
        );
        assert_eq!(
            error_text("3.9:\n  docker_args: [a]\n"),
            "images/x/versions.yaml:2:16: expected a mapping of `key: value` entries here"
        );
        assert!(
            error_text("3.9:\n  docker_args: {A: ~}\n")
                .ends_with("a value is missing here (empty or null); write it as text")
        );
        assert!(
            error_text("3.9:\n  base_image: {name: x, source: gcp}\n")
                .contains("unknown variant `gcp`")
        );
        assert!(error_text("3.9:\n  base_image: {name: x}\n").contains("missing field `source`"));
        assert!(error_text("- 3.9\n").starts_with("images/x/versions.yaml:1:1"));
    }

    #[test]
    fn empty_file_declares_no_versions() {
        assert!(error_text("").contains("declares no Python versions"));
        assert!(error_text("# nothing\n").contains("declares no Python versions"));
    }

    #[test]
    fn base_image_arg_conflicts_with_base_image() {
        let text =
            "3.9:\n  docker_args:\n    BASE_IMAGE: x\n  base_image: {name: b, source: local}\n";
        assert!(
            error_text(text)
                .starts_with("images/x/versions.yaml:3: `docker_args` sets `BASE_IMAGE`")
        );
    }

    #[test]
    fn a_base_image_name_that_is_a_path_is_refused_at_its_line() {
        assert_eq!(
            error_text("3.9:\n  base_image:\n    name: ../other/base\n    source: local\n"),
            "images/x/versions.yaml:3: base image `../other/base` is not an image name: `/` is not \
             allowed (lowercase letters, digits, `.`, `_` and `-` only)"
        );
    }

    #[test]
    fn versions_and_arg_names_must_fit_docker() {
        assert!(error_text("\"3 9\": {}\n").contains("cannot be part of a tag"));
        assert!(
            error_text("3.9:\n  docker_args:\n    \"A=B\": x\n")
                .contains("not a build argument name")
        );
    }
}
