//! A test's root folder as a git repository, for the OCI labels that name its remote and commit.

use std::process::Command;

use super::Env;

/// An `origin` whose URL holds credentials, which no label may show.
pub const REMOTE: &str = "https://deploy:s3cret@git.example.com/team/images.git";
/// [`REMOTE`] as the labels show it.
pub const REMOTE_SHOWN: &str = "https://git.example.com/team/images.git";

/// `git ARGS` in the test's root folder, as a user who may commit there; its output, trimmed.
pub fn git(env: &Env, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(env.root())
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Makes the test's root a repository with [`REMOTE`] as `origin` and the catalog committed;
/// the commit.
pub fn commit_catalog(env: &Env) -> String {
    git(env, &["init", "-q"]);
    git(env, &["remote", "add", "origin", REMOTE]);
    git(env, &["add", "images"]);
    git(env, &["commit", "-q", "-m", "catalog"]);
    git(env, &["rev-parse", "HEAD"])
}
