//! Sets `DAGSTER_IMAGE_VERSION` for `--version`: the crate's version, followed by
//! `(<short commit> <date>)` when built from a git checkout of this crate, bare otherwise (a
//! crates.io download, a `cargo package` verification, no git).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let crate_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let long = match commit_of_checkout(&crate_dir) {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=DAGSTER_IMAGE_VERSION={long}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// `<short commit> <commit date>` of HEAD when `crate_dir` is the top of a git work tree (not a
/// folder inside another repository, as `cargo package` verifies in `target/package/`), with
/// cargo told to run this again when HEAD moves.
fn commit_of_checkout(crate_dir: &Path) -> Option<String> {
    let top = git(crate_dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != crate_dir.canonicalize().ok()? {
        return None;
    }
    rerun_when_head_moves(crate_dir);
    git(crate_dir, &["log", "-1", "--date=short", "--format=%h %cd"])
}

/// HEAD, the branch it names and packed-refs, each where git keeps it (a worktree's HEAD is
/// not in `.git/`), those that exist: a path that does not exist would rerun every build.
fn rerun_when_head_moves(crate_dir: &Path) {
    let mut files = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    files.extend(git(crate_dir, &["symbolic-ref", "-q", "HEAD"]));
    for file in files {
        if let Some(path) = git(crate_dir, &["rev-parse", "--git-path", &file]) {
            let path = crate_dir.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

/// The trimmed stdout of a git command that succeeds, run in `dir`.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}
