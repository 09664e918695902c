//! `image.yaml`: any text gives copy declarations or an error, never a panic, and every accepted
//! copy stays inside the repository and the image folder.
#![no_main]

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use dagster_image::catalog::ImageConfig;
use libfuzzer_sys::fuzz_target;

/// A repository with an image folder, a folder to copy, and symlinks leading out of both.
fn repository() -> &'static (tempfile::TempDir, PathBuf) {
    static REPOSITORY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    REPOSITORY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().canonicalize().expect("canonical root");
        std::fs::create_dir_all(root.join("images/app")).expect("image folder");
        std::fs::create_dir_all(root.join("python_modules/dagster")).expect("module folder");
        std::fs::write(root.join("python_modules/dagster/setup.py"), "").expect("file");
        std::os::unix::fs::symlink("/etc", root.join("escape")).expect("symlink");
        std::os::unix::fs::symlink("/tmp", root.join("images/app/out")).expect("symlink");
        (dir, root)
    })
}

fuzz_target!(|text: &str| {
    let (_, root) = repository();
    let image = root.join("images/app");
    let Ok(config) = ImageConfig::parse(&image.join("image.yaml"), text, &image, root) else {
        return;
    };
    for copy in &config.copies {
        assert!(
            copy.from.starts_with(root),
            "{copy:?} leaves the repository"
        );
        let climbs = copy
            .to
            .components()
            .any(|c| !matches!(c, Component::Normal(_)));
        assert!(
            !climbs && copy.to != Path::new(""),
            "{copy:?} leaves the image folder"
        );
    }
});
