//! Writing a file so that readers, and a crash at any moment, see either the old content or the
//! new one, never a mix: a temporary file in the same folder, the original's mode, fsync, rename.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Mode of a file that did not exist before (subject to nothing: the umask is not consulted,
/// catalog files are meant to be world-readable like the rest of a checkout).
const NEW_FILE_MODE: u32 = 0o644;

/// Replaces the content of `path` with `content` atomically, keeping its permissions.
pub fn write(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = folder_of(path);
    let mode = match fs_err::metadata(path) {
        Ok(metadata) => metadata.permissions().mode(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => NEW_FILE_MODE,
        Err(e) => return Err(e),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .tempfile_in(dir)
        .map_err(|e| with_path(e, dir))?;
    temp.write_all(content)
        .map_err(|e| with_path(e, temp.path()))?;
    fs_err::set_permissions(temp.path(), std::fs::Permissions::from_mode(mode))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| with_path(e, temp.path()))?;
    temp.persist(path).map_err(|e| with_path(e.error, path))?;
    // The rename is durable only once the folder's entry is on disk.
    fs_err::File::open(dir)?.sync_all()
}

/// Removes the temporary files that writes of `path` left behind when their process died (a
/// SIGKILL, a power cut) between creating and renaming them. Only for a caller holding what
/// keeps every other writer of `path` out (a lock): a live write would lose its file.
pub fn remove_leftovers(path: &Path) -> std::io::Result<()> {
    let prefix = temp_prefix(path);
    for entry in fs_err::read_dir(folder_of(path))? {
        let entry = entry?;
        let name = entry.file_name();
        let is_leftover = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .is_some_and(|random| {
                !random.is_empty() && random.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if is_leftover {
            match fs_err::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// `.dagster-image-<file name>.`: a write's temporary file names the file it replaces, so that
/// the leftovers of one file can be told from those of another.
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".dagster-image-{name}.")
}

/// The folder holding `path` (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn with_path(error: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        fs_err::write(&path, "old").unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "new");
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers = fs_err::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn leftovers_of_a_killed_write_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last_updated.yaml");
        let keep = [
            "last_updated.yaml",
            ".dagster-image-versions.yaml.a1B2c3",
            ".dagster-image-last_updated.yaml.bak.a1B2c3",
            ".dagster-image-last_updated.yaml.",
        ];
        let leftovers = [
            ".dagster-image-last_updated.yaml.a1B2c3",
            ".dagster-image-last_updated.yaml.Zz9",
        ];
        for name in keep.iter().chain(&leftovers) {
            fs_err::write(dir.path().join(name), "x").unwrap();
        }
        remove_leftovers(&path).unwrap();
        let mut left: Vec<String> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = keep.map(String::from).to_vec();
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn new_files_are_world_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.txt");
        write(&path, b"x").unwrap();
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, NEW_FILE_MODE);
    }
}
