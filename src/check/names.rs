//! Image names too long for a Buildkite step key: `pipeline` names each step `<image>-py<V>`,
//! and Buildkite refuses keys over [`MAX_STEP_KEY_LEN`] characters, so it shortens them to a
//! start and a hash that people no longer recognise in Buildkite's views.

use indexmap::IndexMap;

use crate::catalog::VersionSpec;
use crate::export::export_name;
use crate::export::pipeline::{MAX_STEP_KEY_LEN, step_key};
use crate::reference::{ImageName, PythonVersion, Target};

use super::{Folder, Kind, Problem};

/// One problem for a folder whose name makes a step key too long for some Python version.
pub(super) fn names_too_long_for_a_step_key(
    folder: &Folder,
    versions: &IndexMap<PythonVersion, VersionSpec>,
) -> Option<Problem> {
    let (version, name) = versions
        .keys()
        .map(|version| {
            let target = Target {
                image: ImageName::of_catalog(folder.name.clone()),
                python_version: version.clone(),
            };
            (version, export_name(&target))
        })
        .max_by_key(|(_, name)| name.len())?;
    if name.len() <= MAX_STEP_KEY_LEN {
        return None;
    }
    let longest_name = MAX_STEP_KEY_LEN - (name.len() - folder.name.len());
    Some(folder.problem(Kind::NameTooLong, "", None).says(
        format!(
            "the Buildkite step of Python {version} would be keyed `{name}`, {} characters, over \
             Buildkite's {MAX_STEP_KEY_LEN}; `pipeline` shortens it to `{}`",
            name.len(),
            step_key(&name)
        ),
        format!(
            "rename the image folder to at most {longest_name} characters, so every key reads as \
             `<image>-py<version>`"
        ),
    ))
}
