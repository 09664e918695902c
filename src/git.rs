//! What git says of the repository the catalog is in, for the OCI labels: its `HEAD` commit and
//! its `origin` remote. Asked with the `git` program; each is unknown (None) where git is not
//! installed, the folder is no repository, it has no commit or no `origin`.

use std::path::Path;

use crate::oci_labels::Provenance;
use crate::process::Command;

/// The provenance of what is built from the repository at `root`.
pub fn provenance(root: &Path) -> Provenance {
    if !root.join(".git").exists() {
        return Provenance::default();
    }
    Provenance {
        remote: ask(root, &["remote", "get-url", "origin"]),
        revision: ask(root, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]),
    }
}

/// `git -C ROOT ARGS`'s one line of output; None when it fails or says nothing.
fn ask(root: &Path, args: &[&str]) -> Option<String> {
    let mut words = vec!["-C".to_owned(), root.display().to_string()];
    words.extend(args.iter().map(|arg| arg.to_string()));
    let output = Command::new("git", words).output("asking git", None).ok()?;
    let line = output.trim();
    (!line.is_empty()).then(|| line.to_owned())
}
