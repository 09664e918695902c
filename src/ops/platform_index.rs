//! Pushing a multi-platform image-version: each platform's local image
//! (`dagster/N:py<V>-<T>-<os>-<arch>`) goes to the registry under its own tag
//! (`py<V>-<T>-<os>-<arch>`), like any push (skipped when the tag holds it already); then an
//! index of them, each entry with its platform, is put under the common tag `py<V>-<T>` (or the
//! custom tag) through the registry API, unless that tag already holds the same index.

use crate::catalog::Image;
use crate::error::Result;
use crate::reference::{
    ImageName, Platform, PythonVersion, Timestamp, local_platform_tag, platform_version_tag,
};
use crate::registry::{Child, Registry};

use super::Session;

/// The platforms `image` is pushed for: `--platform` when given, else its `image.yaml` ones;
/// one or none is a push as before.
pub fn platforms_to_push<'a>(image: &'a Image, requested: &'a [Platform]) -> &'a [Platform] {
    if requested.is_empty() {
        &image.config.platforms
    } else {
        requested
    }
}

/// An index to put under `target`, of the images of `children`.
pub struct PlannedIndex {
    pub target: String,
    pub children: Vec<Child>,
}

/// Each platform's (local image, registry reference) of `version` of `name` built at
/// `timestamp`, and the index listing them under `tag`.
pub fn per_platform(
    registry: &Registry,
    name: &ImageName,
    version: &PythonVersion,
    timestamp: &Timestamp,
    platforms: &[Platform],
    tag: &str,
) -> (Vec<(String, String)>, PlannedIndex) {
    let repository = registry.repository(name);
    let mut pushes = Vec::new();
    let mut children = Vec::new();
    for platform in platforms {
        let source = local_platform_tag(name, version, timestamp, Some(platform));
        let reference = format!(
            "{repository}:{}",
            platform_version_tag(version, timestamp, Some(platform))
        );
        pushes.push((source, reference.clone()));
        children.push(Child {
            reference,
            platform: platform.clone(),
        });
    }
    let index = PlannedIndex {
        target: format!("{repository}:{tag}"),
        children,
    };
    (pushes, index)
}

/// Copies each platform's image of `staged` (pushed elsewhere) into `repository` under its
/// digest only, without a tag, then puts the index of them under each of `targets`: the
/// repository gains no tag but `targets` (`--dry-run`: says what it would do).
pub fn release_untagged(
    session: &Session,
    hosts: &[String],
    staged: &[Child],
    repository: &str,
    targets: &[String],
    dry_run: bool,
) -> Result<()> {
    if dry_run {
        let mut out = String::new();
        for child in staged {
            out += &format!(
                "# then copy {} ({}) into {repository} by its digest, without a tag (through the \
                 registry API)\n",
                child.reference, child.platform
            );
        }
        for target in targets {
            out +=
                &format!("# then put an index of them under {target} (through the registry API)\n");
        }
        session.out.data(&out);
        return Ok(());
    }
    let mut logins = session.sign_ins.sign_in(hosts)?;
    let deadline = session.registry_timeout;
    let children: Vec<Child> =
        session
            .sign_ins
            .with_client(hosts, &mut logins, deadline, |client| {
                staged
                    .iter()
                    .map(|child| {
                        let digest = client.copy_untagged(&child.reference, repository)?;
                        Ok(Child {
                            reference: format!("{repository}@{digest}"),
                            platform: child.platform.clone(),
                        })
                    })
                    .collect()
            })?;
    let indexes: Vec<PlannedIndex> = targets
        .iter()
        .map(|target| PlannedIndex {
            target: target.clone(),
            children: children.clone(),
        })
        .collect();
    assemble(session, hosts, &indexes, false)
}

/// Puts every index of `indexes` in the registry (`--dry-run`: says what it would put).
pub fn assemble(
    session: &Session,
    hosts: &[String],
    indexes: &[PlannedIndex],
    dry_run: bool,
) -> Result<()> {
    if indexes.is_empty() {
        return Ok(());
    }
    if dry_run {
        let mut out = String::new();
        for index in indexes {
            let children: Vec<String> = index
                .children
                .iter()
                .map(|c| format!("{} ({})", c.reference, c.platform))
                .collect();
            out += &format!(
                "# then put an index of {} under {} (through the registry API)\n",
                children.join(", "),
                index.target
            );
        }
        session.out.data(&out);
        return Ok(());
    }
    let mut logins = session.sign_ins.sign_in(hosts)?;
    let deadline = session.registry_timeout;
    for index in indexes {
        let assembled = session
            .sign_ins
            .with_client(hosts, &mut logins, deadline, |client| {
                client.assemble_index(&index.target, &index.children)
            })?;
        let platforms: Vec<String> = (index.children.iter())
            .map(|c| c.platform.to_string())
            .collect();
        let done = if assembled.pushed {
            "put"
        } else {
            "up to date, not pushed"
        };
        session.out.say(format_args!(
            "`{}` is an index of {} ({}): {done}",
            index.target,
            platforms.join(", "),
            assembled.digest
        ));
    }
    Ok(())
}
