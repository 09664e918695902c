//! The catalog's text files on disk (YAML files, Dockerfiles, files whose references `publish`
//! updates): read with guards, replaced whole under the lock of their folder.

use std::io::Read;
use std::path::Path;

use super::error::{Error, Result};
use crate::lock::Lock;

/// Larger files are refused unread: the files the tool reads are a few lines long.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads `path` as UTF-8 text, refusing what is not a regular file (a folder, a FIFO, a link to
/// `/dev/zero`: reading those fails, blocks or never ends) and huge files.
pub fn read_text(path: &Path) -> Result<String> {
    let invalid = |problem: String| Error::Invalid {
        path: path.to_owned(),
        problem,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) => {
            return Err(invalid(
                "a symbolic link that leads back to itself (a link loop)".into(),
            ));
        }
        // Again through fs_err, whose error names the path.
        Err(_) => fs_err::metadata(path)?,
    };
    if !metadata.is_file() {
        let found = if metadata.is_dir() {
            "a folder"
        } else {
            "a special file"
        };
        return Err(invalid(format!("expected a regular file, found {found}")));
    }
    let too_large = |size: &str| {
        invalid(format!(
            "the file is {size} bytes; catalog files are limited to {MAX_FILE_BYTES}"
        ))
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(&metadata.len().to_string()));
    }
    let mut bytes = Vec::new();
    // Bounded, in case the file grew since its size was read.
    fs_err::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(&format!("more than {MAX_FILE_BYTES}")));
    }
    String::from_utf8(bytes).map_err(|e| {
        invalid(format!(
            "not valid UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// `read_text`, or `None` when there is no file at `path`.
pub fn read_text_if_exists(path: &Path) -> Result<Option<String>> {
    match read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the file at `path` by what `change` makes of its current text (`None`: no file),
/// re-read under the exclusive lock of its folder, so that concurrent writers both land and no
/// build of the folder reads a file being replaced. The write is atomic.
/// A link (`.buildkite/defines.py -> ../shared/defines.py`) is kept: its target is replaced.
pub fn replace(path: &Path, change: impl FnOnce(Option<&str>) -> Result<String>) -> Result<()> {
    let target = link_target(path)?;
    let path = target.as_deref().unwrap_or(path);
    let _lock = Lock::folder_exclusive(crate::atomic::folder_of(path))?;
    // Under the lock, a temporary file of ours beside the file is from a killed writer.
    // Harmless if it stays, so a failure to remove it does not fail the write.
    let _ = crate::atomic::remove_leftovers(path);
    let old = read_text_if_exists(path)?;
    let new = change(old.as_deref())?;
    crate::atomic::write(path, new.as_bytes())?;
    Ok(())
}

/// The file a link at `path` leads to (through every link of a chain); `None` when `path` is no
/// link. A link loop is bad input.
fn link_target(path: &Path) -> Result<Option<std::path::PathBuf>> {
    match fs_err::symlink_metadata(path) {
        Ok(metadata) if metadata.is_symlink() => {}
        _ => return Ok(None),
    }
    match std::fs::canonicalize(path) {
        Ok(target) => Ok(Some(target)),
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) => {
            Err(Error::Invalid {
                path: path.to_owned(),
                problem: "a symbolic link that leads back to itself (a link loop)".into(),
            })
        }
        // A dangling link: the file it names is created.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let named = fs_err::read_link(path)?;
            Ok(Some(crate::atomic::folder_of(path).join(named)))
        }
        Err(_) => Ok(Some(fs_err::canonicalize(path)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_regular_file_or_is_huge_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_text(dir.path()).unwrap_err().to_string();
        assert!(
            error.ends_with("expected a regular file, found a folder"),
            "{error}"
        );
        let error = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(
            error.ends_with("expected a regular file, found a special file"),
            "{error}"
        );
        let looped = dir.path().join("Dockerfile");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let error = read_text(&looped).unwrap_err();
        assert!(matches!(error, Error::Invalid { .. }), "{error}");
        assert!(error.to_string().ends_with("(a link loop)"), "{error}");
        let huge = dir.path().join("huge.yaml");
        fs_err::write(&huge, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let error = read_text(&huge).unwrap_err().to_string();
        assert!(
            error.ends_with("catalog files are limited to 1048576"),
            "{error}"
        );
    }

    #[test]
    fn replace_creates_rewrites_and_clears_what_a_killed_writer_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        replace(&path, |old| {
            assert_eq!(old, None);
            Ok("one\n".into())
        })
        .unwrap();
        let leftover = dir.path().join(".dagster-image-notes.txt.AbC123");
        fs_err::write(&leftover, "partial").unwrap();
        replace(&path, |old| Ok(format!("{}two\n", old.unwrap()))).unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "one\ntwo\n");
        assert!(!leftover.exists());
    }

    #[test]
    fn replacing_a_link_replaces_its_target_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir(dir.path().join("shared")).unwrap();
        let target = dir.path().join("shared/defines.py");
        fs_err::write(&target, "A = 1\n").unwrap();
        let link = dir.path().join("defines.py");
        std::os::unix::fs::symlink("shared/defines.py", &link).unwrap();
        replace(&link, |old| Ok(old.unwrap().replace('1', "2"))).unwrap();
        assert!(fs_err::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(fs_err::read_to_string(&target).unwrap(), "A = 2\n");
    }

    #[test]
    fn a_refused_change_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        fs_err::write(&path, "kept\n").unwrap();
        let refused = replace(&path, |_| {
            Err(Error::Invalid {
                path: path.clone(),
                problem: "no".into(),
            })
        });
        assert!(refused.is_err());
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "kept\n");
    }
}
