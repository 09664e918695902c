//! A plan handed to engines that run it beyond this machine: a `docker buildx bake` file
//! ([`bake`]) and a Buildkite pipeline ([`pipeline`]). Pure: no I/O.

pub mod bake;
pub mod pipeline;

use std::collections::HashMap;

use crate::plan::{Build, Plan};
use crate::reference::Target;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "`{first}` and `{second}` would both be named `{name}` in the export (names keep letters, digits, `_` and `-` only); rename one of the images"
    )]
    NameClash {
        first: String,
        second: String,
        name: String,
    },
}

/// The name of an image-version as a bake target and a Buildkite step key, `<image>-py<V>`,
/// with every character that bake does not allow in a name (anything but ASCII letters, digits,
/// `_` and `-`) as `_`: `python-base-py3_10`.
pub fn export_name(target: &Target) -> String {
    bake_name(&format!("{}-py{}", target.image, target.python_version))
}

/// The export name of a build: its image-version's, `-<os>-<arch>` added for one platform of
/// several (`python-base-py3_10-linux-arm64`).
fn build_export_name(build: &Build) -> String {
    let name = export_name(&build.target);
    match &build.platform {
        Some(platform) => format!("{name}-{}", bake_name(&platform.tag_suffix())),
        None => name,
    }
}

/// `text` with every character but ASCII letters, digits, `_` and `-` as `_`.
fn bake_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An image-version as people read it: `python-base py3.10`.
pub fn label(target: &Target) -> String {
    format!("{} py{}", target.image, target.python_version)
}

/// The export name of every build of the plan, by index; an error when two builds would share
/// one (`a.b` and `a_b`), which would merge them in the export.
fn export_names(plan: &Plan) -> Result<Vec<String>, Error> {
    let mut owners: HashMap<String, &Target> = HashMap::new();
    let mut names = Vec::with_capacity(plan.builds.len());
    for build in &plan.builds {
        let name = build_export_name(build);
        if let Some(first) = owners.insert(name.clone(), &build.target) {
            return Err(Error::NameClash {
                first: label(first),
                second: label(&build.target),
                name,
            });
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::catalog::BASE_IMAGE_ARG;
    use crate::plan::BuildSpec;
    use crate::reference::{Timestamp, local_tag};

    pub fn target(image: &str, version: &str) -> Target {
        Target::new(image, version)
    }

    /// A build of `image` for Python `version` at timestamp `T`, on the build `base` of the
    /// plan (an index) when given.
    pub fn build(image: &str, version: &str, base: Option<(usize, &str)>) -> Build {
        let dir = PathBuf::from("/repo/images").join(image);
        let mut build_args = vec![("PYTHON_VERSION".to_owned(), version.to_owned())];
        if let Some((_, reference)) = base {
            build_args.push((BASE_IMAGE_ARG.to_owned(), reference.to_owned()));
        }
        let target = target(image, version);
        let tag = local_tag(
            &target.image,
            &target.python_version,
            &Timestamp::recorded("T"),
        );
        Build {
            target,
            platform: None,
            request: BuildSpec {
                tag,
                extra_tags: Vec::new(),
                dockerfile: dir.join("Dockerfile"),
                context: dir,
                build_args,
                platform: None,
                default_platform: false,
                labels: Vec::new(),
                pull: false,
                secrets: Vec::new(),
                cache: None,
            },
            base: None,
            after: base.map(|(index, _)| index).into_iter().collect(),
        }
    }

    /// `plan_with_a_base` whose `app` reads secret `pip` from `$PIP_TOKEN` and `npm` from a file.
    pub fn plan_with_secrets() -> Plan {
        use crate::catalog::{BuildSecret, SecretSource};
        let mut plan = plan_with_a_base();
        plan.builds[1].request.secrets = vec![
            BuildSecret {
                id: "pip".into(),
                source: SecretSource::Env("PIP_TOKEN".into()),
            },
            BuildSecret {
                id: "npm".into(),
                source: SecretSource::File {
                    written: ".secrets/npmrc".into(),
                    path: "/repo/.secrets/npmrc".into(),
                },
            },
        ];
        plan
    }

    /// `base` for 3.9, and `app` on it.
    pub fn plan_with_a_base() -> Plan {
        Plan {
            timestamp: crate::reference::Timestamp::recorded("T"),
            builds: vec![
                build("base", "3.9", None),
                build("app", "3.9", Some((0, "dagster/base:py3.9-T"))),
            ],
            unknown_registry_bases: Vec::new(),
        }
    }

    #[test]
    fn export_names_keep_only_the_characters_bake_allows() {
        assert_eq!(
            export_name(&target("python-base", "3.10")),
            "python-base-py3_10"
        );
        assert_eq!(
            export_name(&target("a.b__c", "3.9-rc1")),
            "a_b__c-py3_9-rc1"
        );
    }

    #[test]
    fn two_builds_that_would_share_an_export_name_are_refused() {
        let plan = Plan {
            timestamp: crate::reference::Timestamp::recorded("T"),
            builds: vec![build("a.b", "3.9", None), build("a_b", "3.9", None)],
            unknown_registry_bases: Vec::new(),
        };
        let error = export_names(&plan).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`a.b py3.9` and `a_b py3.9` would both be named `a_b-py3_9` in the export (names \
             keep letters, digits, `_` and `-` only); rename one of the images"
        );
    }
}
