//! `snapshot -t integration|unit`: the `pip freeze` of every Python version of the snapshot
//! builder image, written to the target image's `snapshot-reqs-<version>.txt`. All versions are
//! frozen before any file is written, so a failure leaves every old snapshot in place.

use std::path::PathBuf;

use crate::catalog::{Image, file};
use crate::error::Result;
use crate::plan::local_tag;
use crate::publish::SnapType;

use super::{Context, display, print_stdout};

const FREEZE: [&str; 3] = ["pip", "freeze", "--exclude-editable"];

pub fn snapshot(context: &Context, snap_type: SnapType, dry_run: bool) -> Result<()> {
    snapshot_built_at(context, snap_type, None, dry_run)
}

/// The image whose `pip freeze` is the snapshot: `buildkite-<type>-snapshot-builder`.
pub(super) fn builder_name(snap_type: SnapType) -> String {
    format!("buildkite-{}-snapshot-builder", snap_type.as_str())
}

/// The image the snapshot is for: `buildkite-<type>`.
pub(super) fn target_name(snap_type: SnapType) -> String {
    format!("buildkite-{}", snap_type.as_str())
}

/// The snapshot file of Python `version` in the folder of the `target` image.
pub(super) fn snapshot_path(target: &Image, version: &str) -> PathBuf {
    target.dir.join(format!("snapshot-reqs-{version}.txt"))
}

/// Freezes every version of the builder as built at `timestamp` (`publish`, which builds it
/// in the same run), else at the timestamp its `last_updated.yaml` records.
pub(super) fn snapshot_built_at(
    context: &Context,
    snap_type: SnapType,
    timestamp: Option<&str>,
    dry_run: bool,
) -> Result<()> {
    let builder = context.catalog()?.image(&builder_name(snap_type))?;
    let target = context.catalog()?.image(&target_name(snap_type))?;
    let mut freezes = Vec::new();
    for version in builder.versions.keys() {
        let built = match timestamp {
            Some(timestamp) => timestamp,
            None => builder.last_built(version)?,
        };
        let command = context
            .docker
            .run(&local_tag(&builder.name, version, built), &FREEZE);
        let output = snapshot_path(&target, version);
        freezes.push((version, command, output));
    }
    if dry_run {
        let lines: Vec<String> = freezes
            .iter()
            .map(|(_, command, output)| format!("{command} > {}\n", display(output)))
            .collect();
        print_stdout(&lines.concat());
        return Ok(());
    }
    let mut frozen = Vec::new();
    for (version, command, output) in freezes {
        let requirements = command.output(
            &format!("freezing Python {version} of `{}`", builder.name),
            None,
        )?;
        frozen.push((output, requirements));
    }
    for (output, requirements) in frozen {
        file::replace(&output, |_| Ok(requirements))?;
        crate::report::line(&format!("wrote {}", display(&output)));
    }
    Ok(())
}
