//! The rules of `check`: every problem of a catalog that can be found without building, each
//! with the file (and line, when known) it is in and what to do about it. Pure: the command
//! reads the image folders, these functions only look at what it read.
//!
//! Whether an image was built before the current build of its local base is told from the
//! `last_updated.yaml` timestamps alone: equal timestamps are one run, so up to date; two
//! timestamps of the default `%Y-%m-%dT%H%M%S` form are times, compared as text; any other
//! difference (a custom `--timestamp`) carries no order, so it is reported as possibly stale.
//!
//! `COPY`/`ADD` sources missing from the build context, and copies that cannot be made, are found
//! by [`copies`], names too long for a Buildkite step key by [`names`], local bases lacking a
//! platform by [`platforms`].

mod copies;
mod names;
mod platforms;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;

use crate::catalog::{
    self, BASE_IMAGE_ARG, BaseSource, ImageConfig, LastUpdated, VersionSpec, graph,
};
use crate::digest::ContextPaths;
use crate::dockerfile::{self, Dockerfile};
use crate::plan::DAGSTER_VERSION_ARG;
use crate::reference::{ImageName, PythonVersion, Target};

/// One image folder as read: each file's content, or why it could not be read.
#[derive(Debug)]
pub struct Folder {
    pub name: String,
    pub dir: PathBuf,
    pub versions: catalog::Result<IndexMap<PythonVersion, VersionSpec>>,
    pub last_updated: catalog::Result<LastUpdated>,
    pub config: catalog::Result<ImageConfig>,
    pub dockerfile: catalog::Result<String>,
    /// What docker receives as the build context, `image.yaml` copies aside.
    pub context: std::io::Result<ContextPaths>,
    /// The `image.yaml` copies that cannot be made: destination, and why.
    pub uncopiable: Vec<(PathBuf, String)>,
}

/// Every image folder of the catalog, by name.
pub type Folders = BTreeMap<String, Folder>;

/// What kind of problem a [`Problem`] is, for scripts reading `check --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    InvalidFile,
    MissingDockerfile,
    UnknownBase,
    BaseLacksVersion,
    Cycle,
    LeftoverEntry,
    BuiltBeforeBase,
    UndeclaredBuildArg,
    VariableWithoutArg,
    MissingCopySource,
    UncopiableSource,
    NameTooLong,
    BaseLacksPlatform,
    NoVersions,
}

/// One problem: where it is, what it is, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub image: String,
    pub kind: Kind,
    pub file: String,
    /// From 1; `None` when the problem is not at one line.
    pub line: Option<u64>,
    pub problem: String,
    pub fix: String,
}

/// The variables a Dockerfile must declare with `ARG` to receive what the tool passes.
const PASSED_VARIABLES: [&str; 2] = [BASE_IMAGE_ARG, DAGSTER_VERSION_ARG];

/// Every problem of `folders`, sorted by image, file and line.
pub fn problems(folders: &Folders) -> Vec<Problem> {
    let mut found = Vec::new();
    for folder in folders.values() {
        found.extend(unreadable_files(folder));
        found.extend(copies::uncopiable_sources(folder));
        let dockerfile = folder.dockerfile.as_deref().ok().map(Dockerfile::parse);
        if let Some(dockerfile) = &dockerfile {
            found.extend(variables_without_arg(folder, dockerfile));
        }
        let Ok(versions) = &folder.versions else {
            continue;
        };
        found.extend(base_problems(folders, folder, versions));
        found.extend(platforms::bases_lacking_platforms(
            folders, folder, versions,
        ));
        found.extend(names::names_too_long_for_a_step_key(folder, versions));
        if let Some(dockerfile) = &dockerfile {
            found.extend(undeclared_build_args(folder, versions, dockerfile));
            found.extend(copies::missing_copy_sources(folder, versions, dockerfile));
        }
        if let Ok(last_updated) = &folder.last_updated {
            found.extend(leftover_entries(folder, versions, last_updated));
            found.extend(built_before_base(folders, folder, versions, last_updated));
        }
    }
    found.extend(cycles(folders));
    found.sort_by(|a, b| (&a.image, &a.file, a.line).cmp(&(&b.image, &b.file, b.line)));
    found
}

/// The folders of the images folder `images_dir` (`all`) that hold no `versions.yaml` (not in
/// `images`): the original tool lists them and its `build-all` tries to build them.
pub fn folders_without_versions(
    images_dir: &Path,
    all: &[String],
    images: &[String],
) -> Vec<Problem> {
    all.iter()
        .filter(|name| !images.contains(name))
        .map(|name| {
            let fix = if name == ".dagster-image" {
                "delete it: it is where dagster-image kept its own files before, and it now keeps \
                 them in `.dagster-image` beside the images folder"
            } else {
                "add a `versions.yaml` (each Python version with its `docker_args`), or move the \
                 folder out of the images folder"
            };
            Problem {
                image: name.clone(),
                kind: Kind::NoVersions,
                file: images_dir
                    .join(name)
                    .join("versions.yaml")
                    .display()
                    .to_string(),
                line: None,
                problem: "the folder has no versions.yaml, so it is no image; the original \
                          tool's `list` shows it and its `build-all` tries to build it"
                    .to_owned(),
                fix: fix.to_owned(),
            }
        })
        .collect()
}

/// `name` and, transitively, the images it builds on: what `check --name` looks at.
pub fn with_bases(folders: &Folders, name: &str) -> BTreeSet<String> {
    let bases_of = |name: &str| -> Result<Vec<String>, std::convert::Infallible> {
        let versions = folders.get(name).and_then(|f| f.versions.as_ref().ok());
        Ok(versions
            .into_iter()
            .flat_map(|versions| versions.values())
            .filter_map(|spec| spec.base_image.as_ref())
            .map(|base| base.name.to_string())
            .collect())
    };
    match graph::reachable(&[name.to_owned()], bases_of) {
        Ok(reached) => reached,
        Err(never) => match never {},
    }
}

impl Folder {
    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn problem(&self, kind: Kind, file: &'static str, line: Option<u64>) -> ProblemAt<'_> {
        ProblemAt {
            folder: self,
            kind,
            file,
            line,
        }
    }
}

/// A problem whose place is known, waiting for what it is and what to do.
struct ProblemAt<'a> {
    folder: &'a Folder,
    kind: Kind,
    file: &'static str,
    line: Option<u64>,
}

impl ProblemAt<'_> {
    fn says(self, problem: String, fix: String) -> Problem {
        Problem {
            image: self.folder.name.clone(),
            kind: self.kind,
            file: self.folder.path(self.file),
            line: self.line,
            problem,
            fix,
        }
    }
}

fn unreadable_files(folder: &Folder) -> Vec<Problem> {
    let yaml_files = [
        (
            "versions.yaml",
            folder.versions.as_ref().err(),
            "correct the file: it maps each Python version to its `docker_args` and optional `base_image` (`name`, `source: local` or `aws`)",
        ),
        (
            "last_updated.yaml",
            folder.last_updated.as_ref().err(),
            "correct the file: it maps each Python version to the timestamp of its last build",
        ),
        (
            "image.yaml",
            folder.config.as_ref().err(),
            "correct the file: `copy:` lists paths of the repository, or `{from: path, to: path}` pairs with an optional `exclude: [patterns]`",
        ),
    ];
    let mut found: Vec<Problem> = yaml_files
        .into_iter()
        .filter_map(|(file, error, fix)| {
            let (line, problem) = located(error?);
            Some(
                folder
                    .problem(Kind::InvalidFile, file, line)
                    .says(problem, fix.to_owned()),
            )
        })
        .collect();
    if let Err(error) = &folder.dockerfile {
        let missing =
            matches!(error, catalog::Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound);
        let (kind, problem, fix) = if missing {
            (
                Kind::MissingDockerfile,
                "there is no Dockerfile".to_owned(),
                "add the Dockerfile the image is built from",
            )
        } else {
            (
                Kind::InvalidFile,
                located(error).1,
                "make it a readable regular file of at most 1 MiB of UTF-8",
            )
        };
        found.push(
            folder
                .problem(kind, "Dockerfile", None)
                .says(problem, fix.to_owned()),
        );
    }
    if let Err(error) = &folder.context {
        found.push(folder.problem(Kind::InvalidFile, "", None).says(
            format!("the build context cannot be read: {error}"),
            "make `.dockerignore` a readable regular file of at most 1 MiB of UTF-8, and every file of the folder readable".to_owned(),
        ));
    }
    found
}

/// The line of a catalog error, when it has one, and its message without the path.
fn located(error: &catalog::Error) -> (Option<u64>, String) {
    match error {
        catalog::Error::Yaml {
            line,
            column,
            message,
            ..
        } => (
            Some(*line).filter(|l| *l > 0),
            format!("{message} (column {column})"),
        ),
        catalog::Error::InvalidAt { line, problem, .. } => (Some(*line), problem.clone()),
        catalog::Error::Invalid { problem, .. } => (None, problem.clone()),
        other => (None, other.to_string()),
    }
}

/// Bases that are not images of the catalog, or lack the Python version built on them.
fn base_problems(
    folders: &Folders,
    folder: &Folder,
    versions: &IndexMap<PythonVersion, VersionSpec>,
) -> Vec<Problem> {
    let mut found = Vec::new();
    for (version, spec) in versions {
        let Some(base) = &spec.base_image else {
            continue;
        };
        let at = |kind| folder.problem(kind, "versions.yaml", Some(base.line));
        match folders.get(base.name.as_str()).map(|f| &f.versions) {
            None => {
                let hint = crate::names::suggest(&base.name, folders.keys().map(String::as_str))
                    .map(|name| format!("change it to `{name}`, or "))
                    .unwrap_or_default();
                found.push(at(Kind::UnknownBase).says(
                    format!(
                        "the base image `{}` of Python {version} is not an image of the catalog",
                        base.name
                    ),
                    format!("{hint}add the image folder `{}`", base.name),
                ));
            }
            Some(Ok(base_versions)) if !base_versions.contains_key(version) => {
                found.push(at(Kind::BaseLacksVersion).says(
                    format!(
                        "Python {version} builds on `{}`, which has no Python {version}",
                        base.name
                    ),
                    format!(
                        "add Python {version} to `{}/versions.yaml`, or remove it here",
                        base.name
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    found
}

fn leftover_entries(
    folder: &Folder,
    versions: &IndexMap<PythonVersion, VersionSpec>,
    last_updated: &LastUpdated,
) -> Vec<Problem> {
    last_updated
        .entries_not_in(versions)
        .into_iter()
        .map(|(version, timestamp)| {
            folder.problem(Kind::LeftoverEntry, "last_updated.yaml", None).says(
                format!(
                    "the entry `{version}: {timestamp}` is for a Python version that versions.yaml no longer has"
                ),
                format!("run `dagster-image prune --name {}`", folder.name),
            )
        })
        .collect()
}

/// Image-versions built before the current build of their local base.
fn built_before_base(
    folders: &Folders,
    folder: &Folder,
    versions: &IndexMap<PythonVersion, VersionSpec>,
    last_updated: &LastUpdated,
) -> Vec<Problem> {
    let mut found = Vec::new();
    for (version, spec) in versions {
        let Some(base) = spec
            .base_image
            .as_ref()
            .filter(|b| b.source == BaseSource::Local)
        else {
            continue;
        };
        let base_built = folders
            .get(base.name.as_str())
            .and_then(|f| f.last_updated.as_ref().ok())
            .and_then(|l| l.get(version));
        let (Some(built), Some(base_built)) = (last_updated.get(version), base_built) else {
            continue;
        };
        let Some(order) = build_order(built, base_built) else {
            continue;
        };
        let problem = match order {
            Order::Before => format!(
                "Python {version} was built at {built}, before the current build of its base `{}` ({base_built})",
                base.name
            ),
            Order::Unknown => format!(
                "Python {version} (built as `{built}`) and its base `{}` (built as `{base_built}`) were built in different runs with custom timestamps, which carry no order: it may predate the base's current build",
                base.name
            ),
        };
        found.push(
            folder
                .problem(Kind::BuiltBeforeBase, "last_updated.yaml", None)
                .says(
                    problem,
                    format!(
                        "rebuild it and what builds on it: `dagster-image build-all --name {} --with-dependents`",
                        folder.name
                    ),
                ),
        );
    }
    found
}

/// How an image's build relates to its base's current build, when it may be older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Before,
    Unknown,
}

/// `None` when the build at `built` is known to use the base's build at `base_built`: the same
/// run, or a later time.
fn build_order(built: &str, base_built: &str) -> Option<Order> {
    let is_time =
        |t: &str| jiff::civil::DateTime::strptime(crate::reference::TIMESTAMP_FORMAT, t).is_ok();
    if built == base_built {
        None
    } else if is_time(built) && is_time(base_built) {
        (built < base_built).then_some(Order::Before)
    } else {
        Some(Order::Unknown)
    }
}

/// Build arguments the tool passes (from `docker_args`, and `BASE_IMAGE` for a `base_image`)
/// that the Dockerfile never declares, so docker drops them.
fn undeclared_build_args(
    folder: &Folder,
    versions: &IndexMap<PythonVersion, VersionSpec>,
    dockerfile: &Dockerfile,
) -> Vec<Problem> {
    let declared = dockerfile.declared_args();
    let mut passed: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for (version, spec) in versions {
        let base_arg = spec.base_image.as_ref().map(|_| BASE_IMAGE_ARG);
        for arg in spec.docker_args.keys().map(String::as_str).chain(base_arg) {
            passed.entry(arg).or_default().push(version);
        }
    }
    passed
        .into_iter()
        .filter(|(arg, _)| !declared.contains(*arg) && !dockerfile::is_predefined_arg(arg))
        .map(|(arg, versions)| {
            let source = match arg {
                BASE_IMAGE_ARG => "the `base_image`",
                _ => "`docker_args`",
            };
            folder.problem(Kind::UndeclaredBuildArg, "Dockerfile", None).says(
                format!(
                    "versions.yaml passes `{arg}` (from {source} of Python {}), but the Dockerfile never declares it with `ARG`, so the build ignores it",
                    versions.join(", ")
                ),
                format!("declare `ARG {arg}` where the Dockerfile uses it, or remove it from versions.yaml"),
            )
        })
        .collect()
}

/// Uses of `BASE_IMAGE` or `DAGSTER_VERSION` where no `ARG` declares them, so they are empty.
fn variables_without_arg(folder: &Folder, dockerfile: &Dockerfile) -> Vec<Problem> {
    dockerfile
        .undeclared_uses()
        .into_iter()
        .filter(|using| PASSED_VARIABLES.contains(&using.name.as_str()))
        .map(|using| {
            let name = &using.name;
            let fix = if using.in_from {
                format!("add `ARG {name}` before the first `FROM`")
            } else {
                format!("add `ARG {name}` in this stage, before line {}", using.line)
            };
            folder
                .problem(Kind::VariableWithoutArg, "Dockerfile", Some(using.line))
                .says(
                    format!("`{name}` is used without an `ARG` declaring it here, so it is empty"),
                    fix,
                )
        })
        .collect()
}

/// Every cycle of bases, once, at the first image of the cycle by name. Each image-version has
/// at most one base, so a walk along the bases either ends or comes back to where it was.
fn cycles(folders: &Folders) -> Vec<Problem> {
    let mut found: BTreeMap<Vec<String>, Vec<&str>> = BTreeMap::new();
    for folder in folders.values() {
        let Ok(versions) = &folder.versions else {
            continue;
        };
        for version in versions.keys() {
            let node = Target {
                image: ImageName::of_catalog(folder.name.clone()),
                python_version: version.clone(),
            };
            if let Err(cycle) = graph::walk(&node, |t| base_of(folders, t)) {
                let versions = found.entry(cycle.canonical().0).or_default();
                if !versions.contains(&version.as_str()) {
                    versions.push(version);
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(cycle, versions)| cycle_problem(folders, graph::Cycle(cycle), &versions))
        .collect()
}

/// The `base_image` of an image-version whose folder was read.
fn base_of<'a>(folders: &'a Folders, target: &Target) -> Option<&'a catalog::BaseImage> {
    let versions = folders.get(target.image.as_str())?.versions.as_ref().ok()?;
    versions
        .get(target.python_version.as_str())?
        .base_image
        .as_ref()
}

fn cycle_problem(folders: &Folders, cycle: graph::Cycle, versions: &[&str]) -> Problem {
    let first = Target {
        image: ImageName::of_catalog(cycle.0[0].clone()),
        python_version: PythonVersion::new(versions[0]),
    };
    let folder = &folders[first.image.as_str()];
    let line = base_of(folders, &first).map(|b| b.line);
    folder.problem(Kind::Cycle, "versions.yaml", line).says(
        format!(
            "base images form a cycle for Python {}: {}",
            versions.join(", "),
            cycle.shown()
        ),
        "remove one of the `base_image` entries of the cycle".to_owned(),
    )
}

/// Shown as `file:line: problem` with the fix on the next line.
pub fn as_text(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
            format!("{}{line}: {}\n    fix: {}\n", p.file, p.problem, p.fix)
        })
        .collect()
}

#[cfg(test)]
mod tests;
