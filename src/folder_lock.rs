//! Advisory locks on folders, held between processes. A build holds a shared lock on its context
//! folder while docker may read it; whoever replaces a file in a folder holds the exclusive
//! lock. So no two writers interleave their read-modify-write, and no build sends docker a file
//! that is being replaced (docker's tar fails on a file whose size changes while it is read).

use std::fs::TryLockError;
use std::io;
use std::path::Path;
use std::time::Duration;

use crate::{process, report};

/// How often a lock held by another run is tried again.
const POLL: Duration = Duration::from_millis(50);

/// A lock on a folder, released when dropped. The folder, not a file in it, because files are
/// replaced by rename and a lock on the old file would not exclude anybody.
#[derive(Debug)]
pub struct FolderLock(fs_err::File);

#[derive(Clone, Copy)]
enum Mode {
    Shared,
    Exclusive,
}

impl FolderLock {
    /// Waits for the only lock on `folder`, for replacing a file in it.
    pub fn exclusive(folder: &Path) -> io::Result<Self> {
        Self::acquire(folder, Mode::Exclusive)
    }

    /// Waits for a lock on `folder` that others may share but no writer holds, for reading it.
    pub fn shared(folder: &Path) -> io::Result<Self> {
        Self::acquire(folder, Mode::Shared)
    }

    /// Takes the lock at once if free; else says who is being waited for, and polls until it is
    /// free or the run is interrupted (a blocking wait could not be interrupted).
    fn acquire(folder: &Path, mode: Mode) -> io::Result<Self> {
        let handle = fs_err::File::open(folder)?;
        let failed =
            |e: io::Error| io::Error::new(e.kind(), format!("locking {}: {e}", folder.display()));
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
                    return Err(failed(io::ErrorKind::Interrupted.into()));
                }
                Err(TryLockError::WouldBlock) => {
                    if !said_so {
                        report::line(&format!(
                            "waiting for another run {} {}",
                            mode.holder(),
                            folder.display()
                        ));
                        said_so = true;
                    }
                    std::thread::sleep(POLL);
                }
            }
        }
    }
}

impl Mode {
    /// What a run holding the lock that `self` waits for is doing.
    fn holder(self) -> &'static str {
        match self {
            Mode::Shared => "writing a file in",
            Mode::Exclusive => "building from or writing a file in",
        }
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = self.0.file().unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_free_for(folder: &Path, mode: Mode) -> bool {
        let other = std::fs::File::open(folder).unwrap();
        let attempt = match mode {
            Mode::Shared => other.try_lock_shared(),
            Mode::Exclusive => other.try_lock(),
        };
        attempt.is_ok()
    }

    #[test]
    fn shared_locks_coexist_and_keep_writers_out() {
        let dir = tempfile::tempdir().unwrap();
        let reading = FolderLock::shared(dir.path()).unwrap();
        assert!(is_free_for(dir.path(), Mode::Shared));
        assert!(!is_free_for(dir.path(), Mode::Exclusive));
        drop(reading);
        assert!(is_free_for(dir.path(), Mode::Exclusive));
    }

    #[test]
    fn an_exclusive_lock_keeps_readers_out_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let writing = FolderLock::exclusive(dir.path()).unwrap();
        assert!(!is_free_for(dir.path(), Mode::Shared));
        drop(writing);
        assert!(is_free_for(dir.path(), Mode::Shared));
    }
}
