//! The tool's own folder beside the catalog (`.dagster-image/`): build logs, publish state,
//! copy ledgers, upstream manifests and the builds' locks.

use std::path::{Path, PathBuf};

use crate::catalog::Catalog;

/// The name of the folder `state_dir` makes beside the catalog.
const STATE_DIR: &str = ".dagster-image";

/// Where this tool keeps its own files (build logs, publish state, copy ledgers and their
/// locks): `.dagster-image/` beside the images folder, never inside it, where the original
/// tool's `list` and `build-all` would take it for an image.
pub fn state_path(catalog: &Catalog) -> PathBuf {
    let dir = fs_err::canonicalize(catalog.dir()).unwrap_or_else(|_| catalog.dir().to_owned());
    dir.parent().unwrap_or(&dir).join(STATE_DIR)
}

/// The folder for this tool's own files beside the catalog (`state_path`), made when missing,
/// ignored by git.
pub fn state_dir(catalog: &Catalog) -> std::io::Result<std::path::PathBuf> {
    let dir = state_path(catalog);
    refuse_links(&dir)?;
    fs_err::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        fs_err::write(&ignore, "*\n")?;
    }
    Ok(dir)
}

/// The folders of the tool's own files that a repository might hold as symlinks (committed by
/// force despite the `.gitignore`): following one would write logs, locks and state wherever it
/// points, so a link at any of them is an error.
fn refuse_links(state: &Path) -> std::io::Result<()> {
    let folders = [state.to_owned(), state.join("logs"), state.join("builds")];
    for path in folders {
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_symlink());
        if is_link {
            return Err(std::io::Error::other(format!(
                "{}: is a symlink; the tool's own folder is never followed through a link (remove it)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The lock file of `image`'s builds in the tool's folder `state_dir`: a run that builds the
/// image holds it shared from its first build until its timestamp is recorded, and `prune
/// --images` alone, so that prune never removes an image a running build has made and not yet
/// recorded (the first platform's image, while the next platform builds).
pub fn builds_lock(state_dir: &Path, image: &str) -> std::io::Result<std::path::PathBuf> {
    let dir = state_dir.join("builds");
    fs_err::create_dir_all(&dir)?;
    Ok(dir.join(format!("{image}.lock")))
}

pub fn display(path: &Path) -> String {
    path.display().to_string()
}
