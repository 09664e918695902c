//! Advisory locks held between processes (runs of the tool). A build holds a shared lock on its
//! context folder while docker may read it; whoever replaces a file in a folder holds the
//! exclusive lock. So no two writers interleave their read-modify-write, and no build sends
//! docker a file that is being replaced (docker's tar fails on a file whose size changes while
//! it is read). Lock files guard what has no folder of its own (an image's build-context copies).

use std::fs::TryLockError;
use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use crate::process;

/// How often a lock held by another run is tried again.
const POLL: Duration = Duration::from_millis(50);

/// Where "waiting for another run ..." goes; set once by the user interface, stderr until then.
static WAIT_NOTICE: OnceLock<fn(&str)> = OnceLock::new();

/// Makes `notice` say that a lock is being waited for (the user interface's own way of printing
/// a line), so that this layer knows nothing of how the run is shown.
pub fn on_wait(notice: fn(&str)) {
    let _first_wins = WAIT_NOTICE.set(notice);
}

fn say_waiting(message: &str) {
    match WAIT_NOTICE.get() {
        Some(notice) => notice(message),
        None => say!("{message}"),
    }
}

/// A lock on a folder or a lock file, released when dropped. On a folder, not a file in it,
/// because files are replaced by rename and a lock on the old file would not exclude anybody.
#[derive(Debug)]
pub struct Lock(fs_err::File);

#[derive(Clone, Copy)]
enum Mode {
    Shared,
    Exclusive,
}

impl Lock {
    /// Waits for a lock on `folder` that other readers share but no writer holds, for reading
    /// it.
    pub fn folder_shared(folder: &Path) -> io::Result<Self> {
        let holder = format!("writing a file in {}", folder.display());
        Self::acquire(fs_err::File::open(folder)?, Mode::Shared, &holder)
    }

    /// Waits for the only lock on `folder`, for replacing a file in it.
    pub fn folder_exclusive(folder: &Path) -> io::Result<Self> {
        let holder = format!("building from or writing a file in {}", folder.display());
        Self::acquire(fs_err::File::open(folder)?, Mode::Exclusive, &holder)
    }

    /// Waits for the only lock on the lock file `path`, made if missing; `holder` says what a
    /// run holding it is doing. A symlink at `path` is an error, never followed (it would make
    /// the file it names, wherever that is).
    pub fn file_exclusive(path: &Path, holder: &str) -> io::Result<Self> {
        use fs_err::os::unix::fs::OpenOptionsExt;
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)?;
        Self::acquire(file, Mode::Exclusive, holder)
    }

    /// Takes the lock at once if free; else says what it waits for, and polls until the lock is
    /// free or the run is interrupted (a blocking wait could not be interrupted).
    fn acquire(handle: fs_err::File, mode: Mode, holder: &str) -> io::Result<Self> {
        let failed = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("locking {}: {e}", handle.path().display()),
            )
        };
        let mut said_so = false;
        loop {
            let attempt = match mode {
                Mode::Shared => handle.file().try_lock_shared(),
                Mode::Exclusive => handle.file().try_lock(),
            };
            match attempt {
                Ok(()) => return Ok(Self(handle)),
                Err(TryLockError::Error(e)) => return Err(failed(e)),
                Err(TryLockError::WouldBlock) if process::is_interrupted() => {
                    return Err(io::Error::new(
                        io::ErrorKind::Interrupted,
                        format!("interrupted while waiting for another run {holder}"),
                    ));
                }
                Err(TryLockError::WouldBlock) => {
                    if !said_so {
                        say_waiting(&format!("waiting for another run {holder}"));
                        said_so = true;
                    }
                    std::thread::sleep(POLL);
                }
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.0.file().unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_free_for(path: &Path, mode: Mode) -> bool {
        let other = std::fs::File::open(path).unwrap();
        let attempt = match mode {
            Mode::Shared => other.try_lock_shared(),
            Mode::Exclusive => other.try_lock(),
        };
        attempt.is_ok()
    }

    #[test]
    fn shared_locks_coexist_and_keep_writers_out() {
        let dir = tempfile::tempdir().unwrap();
        let reading = Lock::folder_shared(dir.path()).unwrap();
        assert!(is_free_for(dir.path(), Mode::Shared));
        assert!(!is_free_for(dir.path(), Mode::Exclusive));
        drop(reading);
        assert!(is_free_for(dir.path(), Mode::Exclusive));
    }

    #[test]
    fn an_exclusive_lock_keeps_readers_out_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let writing = Lock::folder_exclusive(dir.path()).unwrap();
        assert!(!is_free_for(dir.path(), Mode::Shared));
        drop(writing);
        assert!(is_free_for(dir.path(), Mode::Shared));
    }

    #[test]
    fn a_lock_file_is_made_and_held_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.lock");
        let held = Lock::file_exclusive(&path, "testing").unwrap();
        assert!(path.is_file());
        assert!(!is_free_for(&path, Mode::Exclusive));
        drop(held);
        assert!(is_free_for(&path, Mode::Exclusive));
    }
}
