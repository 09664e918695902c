//! Freezing a snapshot builder, the operation `snapshot` and `publish` compose: the `pip
//! freeze` of every Python version of `buildkite-<type>-snapshot-builder`, as the new text of
//! the target image's `snapshot-reqs-<version>.txt`. Every version is frozen before any file is
//! written, so a failure leaves every old snapshot in place.

use std::path::PathBuf;

use crate::catalog::{Image, file};
use crate::error::Result;
use crate::process::Command;
use crate::reference::{PythonVersion, Timestamp, local_tag};

use super::{Session, display};

const FREEZE: [&str; 3] = ["pip", "freeze", "--exclude-editable"];

/// One freeze to run: the builder's image of a Python version, and the file it is for.
pub struct Freeze {
    version: String,
    command: Command,
    output: PathBuf,
}

/// A frozen Python version: the snapshot file and its new text.
pub struct Frozen {
    pub version: String,
    pub path: PathBuf,
    pub text: String,
}

/// The snapshot file of Python `version` in the folder of the `target` image.
fn snapshot_path(target: &Image, version: &PythonVersion) -> PathBuf {
    target.dir.join(format!("snapshot-reqs-{version}.txt"))
}

/// The freezes of every version of `builder` into the files of `target`, of its images built at
/// `timestamp` (`publish`, which builds them in the same run), else at the timestamp its
/// `last_updated.yaml` records.
pub fn freezes(
    session: &Session,
    builder: &Image,
    target: &Image,
    timestamp: Option<&Timestamp>,
) -> Result<Vec<Freeze>> {
    let mut freezes = Vec::new();
    for version in builder.versions.keys() {
        let built = match timestamp {
            Some(timestamp) => timestamp.clone(),
            None => builder.last_built(version)?,
        };
        let image = local_tag(&builder.name, version, &built);
        freezes.push(Freeze {
            version: version.to_string(),
            command: session.docker.run(&image, &FREEZE),
            output: snapshot_path(target, version),
        });
    }
    Ok(freezes)
}

/// What `--dry-run` shows of `freezes`: each command and the file its output goes to.
pub fn describe(freezes: &[Freeze]) -> String {
    freezes
        .iter()
        .map(|freeze| format!("{} > {}\n", freeze.command, display(&freeze.output)))
        .collect()
}

/// Runs every freeze of `builder`; writes nothing.
pub fn run(builder: &Image, freezes: Vec<Freeze>) -> Result<Vec<Frozen>> {
    let mut frozen = Vec::new();
    for freeze in freezes {
        let step = format!("freezing Python {} of `{}`", freeze.version, builder.name);
        let text = freeze.command.output(&step, None)?;
        frozen.push(Frozen {
            version: freeze.version,
            path: freeze.output,
            text,
        });
    }
    Ok(frozen)
}

/// Writes each frozen text into its snapshot file.
pub fn write(frozen: &[Frozen]) -> Result<()> {
    for file in frozen {
        file::replace(&file.path, |_| Ok(file.text.clone()))?;
        crate::report::line(&format!("wrote {}", display(&file.path)));
    }
    Ok(())
}
