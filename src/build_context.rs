//! Build-context additions: the `image.yaml` copies of the images being built, put in place
//! before the builds and removed afterwards, on success, failure or interrupt alike, leaving out
//! what a copy's `exclude` patterns match. What was
//! created for an image is listed in its ledger beside the catalog first, so that copies left by
//! a killed run are removed by the next one instead of blocking it. Each image's copies are
//! under a lock file for the run: another run building the same image waits for them to go,
//! while runs building other images go on.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::catalog::Image;
use crate::catalog::image_config::Copy;
use crate::dockerignore::DockerIgnore;
use crate::lock::Lock;

/// The folder of the ledgers and lock files, in the tool's state folder.
const COPIES_DIR: &str = "copies";

/// Copies in place for the duration of a run; removed when dropped.
pub struct Additions {
    images: Vec<ImageCopies>,
}

/// The copies of one image, as its ledger lists them.
struct ImageCopies {
    ledger: PathBuf,
    created: Vec<PathBuf>,
    /// Held while the copies exist: another run must neither use nor remove them.
    _lock: Lock,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "`{}` is in the way of the copy declared in `{}`; move it away (it is not one of our copies)",
        .target.display(), .config.display()
    )]
    InTheWay { target: PathBuf, config: PathBuf },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            Error::InTheWay { .. } => crate::exit::Kind::BadInput,
            Error::Io(e) => crate::exit::Kind::of_io(e),
        }
    }
}

impl Additions {
    /// Copies every declared file and folder of `images` into their build contexts.
    pub fn copy_in<'a>(
        images: impl IntoIterator<Item = &'a Image>,
        state_dir: &Path,
    ) -> Result<Self, Error> {
        let dir = state_dir.join(COPIES_DIR);
        let mut with_copies: Vec<&Image> = images
            .into_iter()
            .filter(|image| !image.config.copies.is_empty())
            .collect();
        // Locks taken in one order by every run: two runs never wait for each other.
        with_copies.sort_by(|a, b| a.name.cmp(&b.name));
        with_copies.dedup_by(|a, b| a.name == b.name);
        let mut additions = Self { images: Vec::new() };
        let mut planned = Vec::new();
        for image in with_copies {
            additions
                .images
                .push(ImageCopies::claim(&dir, &image.name)?);
            let owner = additions.images.len() - 1;
            for copy in &image.config.copies {
                let target = image.dir.join(&copy.to);
                if target.symlink_metadata().is_ok() {
                    return Err(Error::InTheWay {
                        target,
                        config: image.dir.join("image.yaml"),
                    });
                }
                planned.push((owner, copy, target));
            }
        }
        for (owner, copy, target) in planned {
            additions.images[owner].copy(copy, &target)?;
        }
        Ok(additions)
    }
}

impl ImageCopies {
    /// Takes the lock of `image`'s copies, waiting for another run using them, and removes what
    /// a killed run left.
    fn claim(dir: &Path, image: &str) -> std::io::Result<Self> {
        fs_err::create_dir_all(dir)?;
        let holder = format!("using the image.yaml copies of `{image}`");
        let lock = Lock::file_exclusive(&dir.join(format!("{image}.lock")), &holder)?;
        let mut copies = Self {
            ledger: dir.join(format!("{image}.txt")),
            created: Vec::new(),
            _lock: lock,
        };
        copies.remove_leftovers()?;
        Ok(copies)
    }

    /// Copies `copy` to `target`, listed in the ledger before anything is created.
    fn copy(&mut self, copy: &Copy, target: &Path) -> std::io::Result<()> {
        self.created.push(first_missing_ancestor(target));
        crate::atomic::write(&self.ledger, ledger_text(&self.created).as_bytes())?;
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let exclude = DockerIgnore::from_patterns(&copy.exclude);
        copy_tree(&copy.from, target, &Tree::new(&exclude))
    }

    /// Removes what a run that did not finish left, as the ledger lists it.
    fn remove_leftovers(&mut self) -> std::io::Result<()> {
        // Under the lock: a temporary file of the ledger is a killed run's, and harmless.
        let _ = crate::atomic::remove_leftovers(&self.ledger);
        let Ok(text) = fs_err::read_to_string(&self.ledger) else {
            return Ok(());
        };
        self.created = text.lines().map(PathBuf::from).collect();
        self.remove_all()
    }

    fn remove_all(&mut self) -> std::io::Result<()> {
        for path in self.created.drain(..) {
            match path.symlink_metadata() {
                Ok(meta) if meta.is_dir() => fs_err::remove_dir_all(&path)?,
                Ok(_) => fs_err::remove_file(&path)?,
                Err(_) => {}
            }
        }
        match fs_err::remove_file(&self.ledger) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for ImageCopies {
    fn drop(&mut self) {
        if let Err(error) = self.remove_all() {
            say!("warning: could not remove a build-context copy: {error}");
        }
    }
}

/// The outermost folder (or the file itself) that copying to `target` creates.
fn first_missing_ancestor(target: &Path) -> PathBuf {
    let mut created = target.to_owned();
    while let Some(parent) = created.parent() {
        if parent.exists() {
            break;
        }
        created = parent.to_owned();
    }
    created
}

fn ledger_text(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| format!("{}\n", p.display())).collect()
}

/// Where a copy is within the copied folder, and what it leaves out.
struct Tree<'a> {
    exclude: &'a DockerIgnore,
    /// Relative to the copied folder; empty at its top.
    at: PathBuf,
}

impl<'a> Tree<'a> {
    fn new(exclude: &'a DockerIgnore) -> Self {
        Self {
            exclude,
            at: PathBuf::new(),
        }
    }

    fn child(&self, name: &std::ffi::OsStr) -> Self {
        Self {
            exclude: self.exclude,
            at: self.at.join(name),
        }
    }
}

/// Copies a file, a symlink (as a link) or a folder recursively, keeping modes, without what
/// `tree.exclude` matches inside it.
fn copy_tree(from: &Path, to: &Path, tree: &Tree) -> std::io::Result<()> {
    let meta = fs_err::symlink_metadata(from)?;
    if meta.is_symlink() {
        symlink(fs_err::read_link(from)?, to)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", to.display())))
    } else if meta.is_dir() {
        fs_err::create_dir(to)?;
        fs_err::set_permissions(to, meta.permissions())?;
        for entry in fs_err::read_dir(from)? {
            let entry = entry?;
            let inside = tree.child(&entry.file_name());
            let kept = match entry.file_type()?.is_dir() {
                true => tree.exclude.enters(&inside.at),
                false => !tree.exclude.excludes(&inside.at),
            };
            if kept {
                copy_tree(&entry.path(), &to.join(entry.file_name()), &inside)?;
            }
        }
        Ok(())
    } else {
        fs_err::copy(from, to).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outermost_created_folder_is_what_gets_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/c");
        assert_eq!(first_missing_ancestor(&target), dir.path().join("a"));
        fs_err::create_dir(dir.path().join("a")).unwrap();
        assert_eq!(first_missing_ancestor(&target), dir.path().join("a/b"));
    }

    #[test]
    fn copies_trees_with_links_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        fs_err::create_dir_all(source.join("pkg")).unwrap();
        fs_err::write(source.join("pkg/run.sh"), "#!/bin/sh\n").unwrap();
        fs_err::set_permissions(
            source.join("pkg/run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        symlink("pkg/run.sh", source.join("link")).unwrap();
        copy_tree(
            &source,
            &dir.path().join("copy"),
            &Tree::new(&DockerIgnore::default()),
        )
        .unwrap();
        let copied = dir.path().join("copy");
        assert_eq!(
            fs_err::read_to_string(copied.join("pkg/run.sh")).unwrap(),
            "#!/bin/sh\n"
        );
        assert_eq!(
            fs_err::metadata(copied.join("pkg/run.sh"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o755
        );
        assert_eq!(
            fs_err::read_link(copied.join("link")).unwrap(),
            Path::new("pkg/run.sh")
        );
    }

    #[test]
    fn excluded_files_and_folders_are_left_out_of_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("scala_modules");
        for file in [
            "target/out.jar",
            ".idea/ws.xml",
            "Top.class",
            "sub/Deep.class",
            "sub/keep.txt",
            "src/Main.scala",
        ] {
            let path = source.join(file);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, file).unwrap();
        }
        let exclude = DockerIgnore::from_patterns(&["*target*", ".idea", "*.class", "**/*.class"]);
        let copied = dir.path().join("copy");
        copy_tree(&source, &copied, &Tree::new(&exclude)).unwrap();
        let mut kept: Vec<String> = walk_files(&copied);
        kept.sort();
        assert_eq!(kept, ["src/Main.scala", "sub/keep.txt"]);
    }

    fn walk_files(dir: &Path) -> Vec<String> {
        let mut files = Vec::new();
        let mut pending = vec![dir.to_owned()];
        while let Some(folder) = pending.pop() {
            for entry in fs_err::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(dir).unwrap();
                    files.push(relative.display().to_string());
                }
            }
        }
        files
    }
}
