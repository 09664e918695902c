//! The rule that every `COPY`/`ADD` source is in the build context docker gets: the image folder
//! after `.dockerignore`, with the `image.yaml` copies in place (less what their `exclude` leaves
//! out). Sources are expanded for each Python version with its `docker_args` and the `ARG`
//! defaults; one whose variables have no known value is not judged. A copy whose source holds
//! what is never copied (a FIFO, a link leading out of it) is a problem of `image.yaml`.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use indexmap::IndexMap;

use super::{Folder, Kind, Problem};
use crate::catalog::VersionSpec;
use crate::catalog::image_config::Copy;
use crate::digest::ContextPaths;
use crate::dockerfile::Dockerfile;
use crate::dockerignore::{self, DockerIgnore};
use crate::reference::PythonVersion;
use crate::secrets;

/// Build arguments as (name, value) pairs.
fn args(docker_args: &IndexMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    docker_args
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
}

/// A source, once expanded, that one instruction names and the context lacks.
#[derive(PartialEq, Eq, Hash)]
struct Missing {
    line: u64,
    keyword: String,
    written: String,
    path: String,
    /// `path` as shown: the values of secret-named build arguments in it hidden.
    shown: String,
}

/// `COPY`/`ADD` sources absent from the build context of some Python version, once per line
/// and source, naming those versions. Nothing when `image.yaml` or the folder cannot be read:
/// that is reported, or found by the build, on its own.
pub(super) fn missing_copy_sources(
    folder: &Folder,
    versions: &IndexMap<PythonVersion, VersionSpec>,
    dockerfile: &Dockerfile,
) -> Vec<Problem> {
    let (Ok(config), Ok(context)) = (&folder.config, &folder.context) else {
        return Vec::new();
    };
    let copies: Vec<Placed> = config.copies.iter().map(Placed::new).collect();
    let mut missing: IndexMap<Missing, Vec<&str>> = IndexMap::new();
    for instruction in dockerfile.context_copies() {
        for written in &instruction.sources {
            for (version, spec) in versions {
                let Some(source) = instruction.expand(written, &spec.docker_args) else {
                    continue;
                };
                let path = dockerignore::clean(&source);
                if !is_present(&path, context, &copies) {
                    let key = Missing {
                        line: instruction.line,
                        keyword: instruction.keyword.clone(),
                        written: written.clone(),
                        shown: secrets::hide_in(&path, args(&spec.docker_args)),
                        path,
                    };
                    missing.entry(key).or_default().push(version);
                }
            }
        }
    }
    missing
        .into_iter()
        .map(|(missing, versions)| problem(folder, context, &missing, &versions))
        .collect()
}

fn problem(
    folder: &Folder,
    context: &ContextPaths,
    missing: &Missing,
    versions: &[&str],
) -> Problem {
    let Missing {
        line,
        keyword,
        written,
        path,
        shown,
    } = missing;
    let shown_source = match written.contains('$') {
        true => format!("`{written}` (`{shown}`)"),
        false => format!("`{written}`"),
    };
    let ignored = if context.ignore.excludes(Path::new(path)) {
        ", which `.dockerignore` leaves out"
    } else {
        ""
    };
    let to = literal_prefix(shown);
    let to = if to.as_os_str().is_empty() {
        shown.clone()
    } else {
        to.display().to_string()
    };
    folder
        .problem(Kind::MissingCopySource, "Dockerfile", Some(*line))
        .says(
            format!(
                "the `{keyword}` source {shown_source} is not in the build context for Python {}{ignored}",
                versions.join(", ")
            ),
            format!(
                "add it to the image folder or declare it under `copy:` in image.yaml (e.g. `- {{from: <repo path>, to: {to}}}`)"
            ),
        )
}

/// The `image.yaml` copies that cannot be made (a FIFO, socket or device or a link leading out
/// in a source, a link an earlier copy puts on the way): the build refuses them.
pub(super) fn uncopiable_sources(folder: &Folder) -> Vec<Problem> {
    folder
        .uncopiable
        .iter()
        .map(|(to, why)| {
            folder
                .problem(Kind::UncopiableSource, "image.yaml", None)
                .says(
                    format!("the copy to `{}` cannot be made: {why}", to.display()),
                    "remove it from the source, or leave it out with `exclude:`".to_owned(),
                )
        })
        .collect()
}

/// An `image.yaml` copy with its `exclude` patterns compiled.
struct Placed<'a> {
    to: &'a Path,
    exclude: DockerIgnore,
}

impl<'a> Placed<'a> {
    fn new(copy: &'a Copy) -> Self {
        Self {
            to: &copy.to,
            exclude: DockerIgnore::from_patterns(&copy.exclude),
        }
    }

    /// Whether the copy puts `path` in place: its destination, a folder holding it, or
    /// something inside it that `exclude` keeps.
    fn provides(&self, path: &Path) -> bool {
        self.to.starts_with(path)
            || path
                .strip_prefix(self.to)
                .is_ok_and(|inside| !self.exclude.excludes(inside))
    }

    /// Whether the copy may provide what `glob` matches: its destination or a folder holding it
    /// matches, or the glob looks inside it.
    fn may_provide(&self, glob: &GlobMatcher, prefix: &Path) -> bool {
        self.to.ancestors().any(|p| glob.is_match(p))
            || (!prefix.as_os_str().is_empty() && prefix.starts_with(self.to))
    }
}

/// Whether the cleaned source `path` is in the context: `.` always is; a glob when something
/// matches it; otherwise when it is listed or a copy provides it, unless `.dockerignore`
/// leaves it out.
fn is_present(path: &str, context: &ContextPaths, copies: &[Placed]) -> bool {
    if path.is_empty() {
        return true;
    }
    if path.contains(['*', '?', '[']) {
        let Ok(glob) = GlobBuilder::new(path).literal_separator(true).build() else {
            return true; // not a pattern docker would match either; its build says so
        };
        let glob = glob.compile_matcher();
        let prefix = literal_prefix(path);
        return context.paths.iter().any(|p| glob.is_match(p))
            || copies.iter().any(|c| c.may_provide(&glob, &prefix));
    }
    let path = Path::new(path);
    !context.ignore.excludes(path)
        && (context.paths.contains(path) || copies.iter().any(|c| c.provides(path)))
}

/// The leading components of `path` without a wildcard.
fn literal_prefix(path: &str) -> PathBuf {
    Path::new(path)
        .components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
        .collect()
}
