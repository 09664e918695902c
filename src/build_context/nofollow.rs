//! Folders opened one name at a time relative to an open parent, never following a symlink:
//! what a path names cannot change between a check and its use, and no link (put in place by an
//! earlier copy, or swapped in by somebody else) leads a read or a write elsewhere. Built on
//! `openat`, `mkdirat`, `fstatat` and `unlinkat` with `O_NOFOLLOW`, which Linux and macOS both
//! have.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, symlinkat, unlinkat};

/// What a name in a folder is, never following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    File,
    Link,
    /// A FIFO, socket or device: reading one may never end.
    Special,
}

/// What a name is, with the identity (device, inode) and permission bits it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub identity: Identity,
    pub mode: u32,
}

/// A file or folder as the system knows it, whatever its name: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

impl Identity {
    /// The identity of the open `file`.
    pub fn of(file: &std::fs::File) -> io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata()?;
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// An open folder; every name is looked up relative to it.
pub struct Folder {
    fd: OwnedFd,
    /// For messages only.
    path: PathBuf,
}

impl Folder {
    /// Opens `path`, an anchor the catalog already resolved (an image folder), following links
    /// in it as any path is.
    pub fn open(path: &Path) -> io::Result<Self> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd =
            openat(nix::fcntl::AT_FDCWD, path, flags, Mode::empty()).map_err(|e| error(path, e))?;
        Ok(Self {
            fd,
            path: path.to_owned(),
        })
    }

    /// Opens the absolute `path` one component at a time from `/`: a link anywhere in it
    /// (`path` was resolved, so none is meant to be there) is an error, never followed.
    pub fn open_resolved(path: &Path) -> io::Result<Self> {
        let mut folder = Self::open(Path::new("/"))?;
        for part in path.components() {
            if let Component::Normal(name) = part {
                folder = folder.child(name)?;
            }
        }
        Ok(folder)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this folder, for messages.
    pub fn path_of(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// What `name` is, or `None` when there is no such name.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        match fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(stat_of(&stat))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(error(&self.path_of(name), e)),
        }
    }

    /// What this folder itself is.
    pub fn identity(&self) -> io::Result<Identity> {
        let stat = fstat(self.fd.as_fd()).map_err(|e| error(&self.path, e))?;
        Ok(stat_of(&stat).identity)
    }

    /// The folder `name` inside this one; a link there is an [`IsLink`] error, not followed.
    pub fn child(&self, name: &OsStr) -> io::Result<Self> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let path = self.path_of(name);
        match openat(self.fd.as_fd(), name, flags, Mode::empty()) {
            Ok(fd) => Ok(Self { fd, path }),
            // Linux says `ENOTDIR` for a link with `O_DIRECTORY`, macOS `ELOOP`.
            Err(Errno::ENOTDIR) if self.stat(name)?.is_some_and(|s| s.kind == Kind::Link) => {
                Err(error(&path, Errno::ELOOP))
            }
            Err(e) => Err(error(&path, e)),
        }
    }

    /// Makes the folder `name` (readable only by its owner until [`Folder::set_mode`]) and
    /// opens it; an existing name of any kind is an error (`EEXIST`).
    pub fn make_folder(&self, name: &OsStr) -> io::Result<Self> {
        mkdirat(self.fd.as_fd(), name, Mode::S_IRWXU).map_err(|e| error(&self.path_of(name), e))?;
        self.child(name)
    }

    /// Sets this folder's permission bits.
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        fchmod(self.fd.as_fd(), permissions(mode)).map_err(|e| error(&self.path, e))
    }

    /// Opens the regular file `name` for reading: a link or anything but a regular file (a
    /// FIFO, whose open alone could wait for ever, is opened without waiting) is refused.
    pub fn open_file(&self, name: &OsStr) -> io::Result<std::fs::File> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let path = self.path_of(name);
        let fd =
            openat(self.fd.as_fd(), name, flags, Mode::empty()).map_err(|e| error(&path, e))?;
        let stat = fstat(fd.as_fd()).map_err(|e| error(&path, e))?;
        if stat_of(&stat).kind != Kind::File {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", path.display()),
            ));
        }
        Ok(std::fs::File::from(fd))
    }

    /// Makes the file `name` with `mode`, for writing; an existing name is an error.
    pub fn make_file(&self, name: &OsStr, mode: u32) -> io::Result<std::fs::File> {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let path = self.path_of(name);
        let fd = openat(self.fd.as_fd(), name, flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| error(&path, e))?;
        fchmod(fd.as_fd(), permissions(mode)).map_err(|e| error(&path, e))?;
        Ok(std::fs::File::from(fd))
    }

    /// Where the link `name` points, as written.
    pub fn read_link(&self, name: &OsStr) -> io::Result<PathBuf> {
        nix::fcntl::readlinkat(self.fd.as_fd(), name)
            .map(PathBuf::from)
            .map_err(|e| error(&self.path_of(name), e))
    }

    /// Makes the link `name` pointing to `target`.
    pub fn make_link(&self, name: &OsStr, target: &Path) -> io::Result<()> {
        symlinkat(target, self.fd.as_fd(), name).map_err(|e| error(&self.path_of(name), e))
    }

    /// The names in this folder, sorted, without `.` and `..`.
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let fd = self.fd.try_clone()?;
        let mut dir = Dir::from_fd(fd).map_err(|e| error(&self.path, e))?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| error(&self.path, e))?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name != "." && name != ".." {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Removes `name` and, when it is a folder, everything in it, following no link; a folder
    /// copied read-only is made writable first.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        let Some(stat) = self.stat(name)? else {
            return Ok(());
        };
        if stat.kind == Kind::Folder {
            let inside = self.child(name)?;
            inside.set_mode(0o700)?;
            for entry in inside.names()? {
                inside.remove(&entry)?;
            }
            return unlinkat(self.fd.as_fd(), name, UnlinkatFlags::RemoveDir)
                .map_err(|e| error(&self.path_of(name), e));
        }
        unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| error(&self.path_of(name), e))
    }
}

/// Whether `error` says a name was a link where a folder or file was opened without following.
pub fn is_link_error(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<IsLink>())
}

/// A link found where a folder or file was opened without following links.
#[derive(Debug, thiserror::Error)]
#[error("{}: is a symlink, which is never followed here", .0.display())]
pub struct IsLink(pub PathBuf);

fn error(path: &Path, errno: Errno) -> io::Error {
    if errno == Errno::ELOOP {
        return io::Error::other(IsLink(path.to_owned()));
    }
    let inner = io::Error::from(errno);
    io::Error::new(inner.kind(), format!("{}: {inner}", path.display()))
}

/// `dev_t` is `i32` and `mode_t` `u16` on macOS, both wider on Linux: one cast serves both.
#[allow(clippy::unnecessary_cast)]
fn stat_of(stat: &FileStat) -> Stat {
    let kind = match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => Kind::Folder,
        SFlag::S_IFREG => Kind::File,
        SFlag::S_IFLNK => Kind::Link,
        _ => Kind::Special,
    };
    Stat {
        kind,
        identity: Identity {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
        },
        mode: stat.st_mode as u32 & 0o7777,
    }
}

fn permissions(mode: u32) -> Mode {
    Mode::from_bits_truncate((mode & 0o777) as nix::libc::mode_t)
}
