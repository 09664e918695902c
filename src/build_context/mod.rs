//! Build-context additions: the `image.yaml` copies of the images being built, put in place
//! before the builds and removed afterwards, on success, failure or interrupt alike, leaving out
//! what a copy's `exclude` patterns match.
//!
//! Nothing here follows a symlink: every path is opened one name at a time relative to its open
//! parent ([`nofollow`]), under the image's copies lock, so what was checked is what is used.
//! A copied tree may hold files, folders and links that stay inside it; a link leading out of
//! it, a FIFO, socket or device, a destination reached through a link, or a folder copied into
//! itself is refused as bad input. [`Additions::prepare`] makes the same checks before any file
//! of the tool is written (and for `--dry-run`); the copy makes them again under the lock.
//!
//! What a run created is listed in the image's [`ledger`] with its identity before and after
//! it is made, so that copies left by a killed run are removed by the next one instead of
//! blocking it, and nothing else ever is. Each image's copies are under a lock file for the run:
//! another run building the same image waits for them to go, while runs building other images
//! go on.

mod ledger;
pub mod nofollow;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::catalog::Image;
use crate::catalog::image_config::Copy;
use crate::dockerignore::DockerIgnore;
use crate::lock::Lock;
use ledger::Ledger;
use nofollow::{Folder, Identity, Kind, Stat};

/// The folder of the ledgers and lock files, in the tool's state folder.
const COPIES_DIR: &str = "copies";

/// Copies in place for the duration of a run; removed when dropped.
pub struct Additions {
    images: Vec<ImageCopies>,
}

/// The images whose copies were checked by [`Additions::prepare`], to copy.
pub struct Prepared<'a> {
    images: Vec<&'a Image>,
    dir: PathBuf,
}

/// The copies of one image, as its ledger lists them.
struct ImageCopies {
    folder: Folder,
    ledger: Ledger,
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
    #[error(
        "`{}` is a symlink; the tool keeps its copies ledgers there and follows no link: remove it",
        .0.display()
    )]
    LinkedState(PathBuf),
    #[error("the copy to `{}` declared in `{}` is refused: {problem}", .to.display(), .config.display())]
    Refused {
        to: PathBuf,
        config: PathBuf,
        problem: String,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            Error::InTheWay { .. } | Error::Refused { .. } | Error::LinkedState(_) => {
                crate::exit::Kind::BadInput
            }
            Error::Io(e) => crate::exit::Kind::of_io(e),
        }
    }
}

/// Why a copy cannot be made, before the image and copy it belongs to are named.
enum Problem {
    InTheWay(PathBuf),
    Refused(String),
    Io(io::Error),
}

impl From<io::Error> for Problem {
    /// A link met where none may be is a refusal; anything else failed work.
    fn from(error: io::Error) -> Self {
        match nofollow::is_link_error(&error) {
            true => Problem::Refused(error.to_string()),
            false => Problem::Io(error),
        }
    }
}

impl Problem {
    fn of(self, image: &Image, copy: &Copy) -> Error {
        let config = image.dir.join("image.yaml");
        match self {
            Problem::InTheWay(target) => Error::InTheWay { target, config },
            Problem::Refused(problem) => Error::Refused {
                to: copy.to.clone(),
                config,
                problem,
            },
            Problem::Io(e) => Error::Io(e),
        }
    }
}

impl Additions {
    /// Checks the copies of `images` without writing anything: every source holds only files,
    /// folders and links staying inside it, and every destination is free (or a copy that the
    /// ledger in `state_dir` lists). The copies are checked again when made.
    pub fn prepare<'a>(
        images: impl IntoIterator<Item = &'a Image>,
        state_dir: &Path,
    ) -> Result<Prepared<'a>, Error> {
        let dir = state_dir.join(COPIES_DIR);
        refuse_link(&dir)?;
        let mut with_copies: Vec<&Image> = images
            .into_iter()
            .filter(|image| !image.config.copies.is_empty())
            .collect();
        // Locks taken in one order by every run: two runs never wait for each other.
        with_copies.sort_by(|a, b| a.name.cmp(&b.name));
        with_copies.dedup_by(|a, b| a.name == b.name);
        for image in &with_copies {
            let ledger = Ledger::read(&ledger_path(&dir, &image.name))?;
            let folder = Folder::open(&image.dir)?;
            let copies = &image.config.copies;
            for (n, copy) in copies.iter().enumerate() {
                check_through_earlier(&copies[..n], copy)
                    .and_then(|()| check_copy(&folder, &ledger, copy))
                    .map_err(|p| p.of(image, copy))?;
            }
        }
        Ok(Prepared {
            images: with_copies,
            dir,
        })
    }
}

impl Prepared<'_> {
    /// Only the images whose name `keep` accepts (those still built once unchanged ones are
    /// left out).
    pub fn only(mut self, keep: impl Fn(&str) -> bool) -> Self {
        self.images.retain(|image| keep(&image.name));
        self
    }

    /// Copies every declared file and folder into the build contexts, under each image's lock.
    pub fn copy_in(self) -> Result<Additions, Error> {
        let mut additions = Additions { images: Vec::new() };
        if self.images.is_empty() {
            return Ok(additions);
        }
        fs_err::create_dir_all(&self.dir)?;
        refuse_link(&self.dir)?;
        for image in &self.images {
            additions.images.push(ImageCopies::claim(&self.dir, image)?);
        }
        let mut ours = HashSet::new();
        for (copies, image) in additions.images.iter_mut().zip(&self.images) {
            for copy in &image.config.copies {
                copies
                    .place(copy, &mut ours)
                    .map_err(|p| p.of(image, copy))?;
            }
        }
        Ok(additions)
    }
}

/// A symlink at `dir` (committed to the repository, say) would lead the ledgers and lock files
/// anywhere: refused.
fn refuse_link(dir: &Path) -> Result<(), Error> {
    match fs_err::symlink_metadata(dir) {
        Ok(meta) if meta.is_symlink() => Err(Error::LinkedState(dir.to_owned())),
        _ => Ok(()),
    }
}

fn ledger_path(dir: &Path, image: &str) -> PathBuf {
    dir.join(format!("{image}.jsonl"))
}

/// The names of `to`, a plain relative path (`image.yaml` checked it).
fn names(to: &Path) -> Vec<&OsStr> {
    to.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect()
}

/// Checks `copy` into the image folder `folder` without writing: its destination and source.
/// What the ledger names may be another run's copies (or a killed run's, to be removed): the
/// copy judges them under the lock, by identity.
fn check_copy(folder: &Folder, ledger: &Ledger, copy: &Copy) -> Result<(), Problem> {
    let names = names(&copy.to);
    let Some((last, parents)) = names.split_last() else {
        return Err(Problem::Refused("it names no file or folder".into()));
    };
    let mut at = PathBuf::new();
    let mut parent = None;
    for name in parents {
        let current = parent.as_ref().unwrap_or(folder);
        at.push(name);
        match existing(current, name, &at)? {
            Some(_) if ledger.names(&at) => return check_source(copy),
            Some(inside) => parent = Some(inside),
            None => return check_source(copy),
        }
    }
    let current = parent.as_ref().unwrap_or(folder);
    at.push(last);
    if current.stat(last)?.is_some() && !ledger.names(&at) {
        return Err(Problem::InTheWay(current.path_of(last)));
    }
    check_source(copy)
}

/// Whether an earlier copy would put a link, or a file, where `copy` goes on through or lands:
/// the earlier copy's source, read without following, at the part of `copy.to` inside it.
fn check_through_earlier(earlier: &[Copy], copy: &Copy) -> Result<(), Problem> {
    for before in earlier {
        let Ok(inside) = copy.to.strip_prefix(&before.to) else {
            continue;
        };
        let exclude = DockerIgnore::from_patterns(&before.exclude);
        let (mut at, mut path, mut rel) = (before.to.clone(), before.from.clone(), PathBuf::new());
        let names = names(inside);
        for (n, name) in names.iter().enumerate() {
            at.push(name);
            path.push(name);
            rel.push(name);
            let Ok(meta) = fs_err::symlink_metadata(&path) else {
                break;
            };
            let copied = match meta.is_dir() {
                true => exclude.enters(&rel),
                false => !exclude.excludes(&rel),
            };
            if !copied {
                break;
            }
            if meta.is_symlink() {
                return Err(Problem::Refused(format!(
                    "`{}` is a symlink (an earlier copy puts it there), and a copy is never \
                     written through one",
                    at.display()
                )));
            }
            if n + 1 == names.len() || !meta.is_dir() {
                return Err(Problem::Refused(format!(
                    "`{}` is a file an earlier copy puts there",
                    at.display()
                )));
            }
        }
    }
    Ok(())
}

/// The folder `name` of `parent` on the way to a destination, or `None` when there is none
/// yet: a link there is refused, a file in the way.
fn existing(parent: &Folder, name: &OsStr, at: &Path) -> Result<Option<Folder>, Problem> {
    match parent.stat(name)?.map(|s| s.kind) {
        None => Ok(None),
        Some(Kind::Folder) => Ok(Some(parent.child(name)?)),
        Some(Kind::Link) => Err(Problem::Refused(format!(
            "`{}` is a symlink, and a copy is never written through one",
            at.display()
        ))),
        Some(_) => Err(Problem::InTheWay(parent.path_of(name))),
    }
}

/// The `copies` of an image that cannot be made, by destination, and why: a source holding a
/// FIFO, socket or device or a link leading out of it, or a destination an earlier copy puts a
/// link or a file on the way to. For `check`; where a copy lands is judged by the build.
pub fn problems(copies: &[Copy]) -> Vec<(PathBuf, String)> {
    let problem = |(n, copy): (usize, &Copy)| match check_through_earlier(&copies[..n], copy)
        .and_then(|()| check_source(copy))
    {
        Err(Problem::Refused(why)) => Some((copy.to.clone(), why)),
        _ => None,
    };
    copies.iter().enumerate().filter_map(problem).collect()
}

/// Walks the source of `copy` as copying it would, copying nothing.
fn check_source(copy: &Copy) -> Result<(), Problem> {
    let (parent, name, stat) = open_source(copy)?;
    if stat.kind == Kind::Folder {
        let exclude = DockerIgnore::from_patterns(&copy.exclude);
        let mut walk = Walk::new(&exclude, None);
        walk.folder(&parent.child(name)?, None, Path::new(""))?;
    }
    Ok(())
}

/// The folder holding the source of `copy`, opened without following any link (`from` was
/// resolved: a link in it now was swapped in since), the source's name and what it is.
fn open_source(copy: &Copy) -> Result<(Folder, &OsStr, Stat), Problem> {
    let (Some(parent), Some(name)) = (copy.from.parent(), copy.from.file_name()) else {
        return Err(Problem::Refused("its source is the root folder".into()));
    };
    let parent = Folder::open_resolved(parent)?;
    let Some(stat) = parent.stat(name)? else {
        return Err(Problem::Io(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no such file or folder", copy.from.display()),
        )));
    };
    match stat.kind {
        Kind::Folder | Kind::File => Ok((parent, name, stat)),
        Kind::Link => Err(Problem::Refused(format!(
            "`{}` is a symlink now; it was not when the catalog was read",
            copy.from.display()
        ))),
        Kind::Special => Err(special(&copy.from)),
    }
}

fn special(path: &Path) -> Problem {
    Problem::Refused(format!(
        "`{}` is a FIFO, socket or device, which is never copied (reading it may never end); \
         leave it out with `exclude:`",
        path.display()
    ))
}

impl ImageCopies {
    /// Takes the lock of `image`'s copies, waiting for another run using them, and removes what
    /// a killed run left.
    fn claim(dir: &Path, image: &Image) -> io::Result<Self> {
        let holder = format!("using the image.yaml copies of `{}`", image.name);
        let lock = Lock::file_exclusive(&dir.join(format!("{}.lock", image.name)), &holder)?;
        let ledger = ledger_path(dir, &image.name);
        // Under the lock: a temporary file of the ledger is a killed run's, and harmless.
        let _ = crate::atomic::remove_leftovers(&ledger);
        let mut copies = Self {
            folder: Folder::open(&image.dir)?,
            ledger: Ledger::read(&ledger)?,
            _lock: lock,
        };
        copies.remove_all()?;
        Ok(copies)
    }

    /// Copies `copy` to its destination, each thing it creates listed in the ledger first.
    /// `ours` gathers the folders this run made, which no copy may read from.
    fn place(&mut self, copy: &Copy, ours: &mut HashSet<Identity>) -> Result<(), Problem> {
        let (source_parent, source_name, stat) = open_source(copy)?;
        let names = names(&copy.to);
        let Some((last, parents)) = names.split_last() else {
            return Err(Problem::Refused("it names no file or folder".into()));
        };
        let mut at = PathBuf::new();
        let mut parent: Option<Folder> = None;
        let mut listed = false;
        for name in parents {
            at.push(name);
            let current = parent.as_ref().unwrap_or(&self.folder);
            let next = match existing(current, name, &at)? {
                Some(folder) => folder,
                None => {
                    let made = make_folder(&mut self.ledger, current, name, &at, !listed)?;
                    listed = true;
                    ours.insert(made.identity()?);
                    made
                }
            };
            parent = Some(next);
        }
        let current = parent.as_ref().unwrap_or(&self.folder);
        at.push(last);
        if current.stat(last)?.is_some() {
            return Err(Problem::InTheWay(current.path_of(last)));
        }
        if !listed {
            self.ledger.add(&at)?;
        }
        match stat.kind {
            Kind::Folder => {
                let source = source_parent.child(source_name)?;
                if ours.contains(&source.identity()?) {
                    return Err(into_itself(&copy.from));
                }
                let made = current.make_folder(last)?;
                let identity = made.identity()?;
                if !listed {
                    self.ledger.created(identity)?;
                }
                ours.insert(identity);
                let exclude = DockerIgnore::from_patterns(&copy.exclude);
                let mut walk = Walk::new(&exclude, Some(ours));
                walk.folder(&source, Some(&made), Path::new(""))?;
                made.set_mode(stat.mode)?;
            }
            _ => {
                let mut to = current.make_file(last, stat.mode)?;
                if !listed {
                    self.ledger.created(Identity::of(&to)?)?;
                }
                let mut from = source_parent.open_file(source_name)?;
                io::copy(&mut from, &mut to)?;
            }
        }
        Ok(())
    }

    /// Removes what the ledger lists, latest first, where it is still what was created, then
    /// the ledger.
    fn remove_all(&mut self) -> io::Result<()> {
        for entry in self.ledger.entries.iter().rev() {
            if let Some(identity) = entry.identity {
                remove_if_same(&self.folder, &entry.to, identity)?;
            }
        }
        self.ledger.delete()
    }
}

/// Makes the folder `name` of `parent` (at `at` in the image folder), listed in `ledger` first
/// when `list` (the outermost folder a copy makes).
fn make_folder(
    ledger: &mut Ledger,
    parent: &Folder,
    name: &OsStr,
    at: &Path,
    list: bool,
) -> io::Result<Folder> {
    if list {
        ledger.add(at)?;
    }
    let made = parent.make_folder(name)?;
    made.set_mode(0o755)?;
    if list {
        ledger.created(made.identity()?)?;
    }
    Ok(made)
}

/// Removes `to` in `folder` if it is still `identity`, reached without following a link.
fn remove_if_same(folder: &Folder, to: &Path, identity: Identity) -> io::Result<()> {
    let names = names(to);
    let Some((last, parents)) = names.split_last() else {
        return Ok(());
    };
    let mut parent: Option<Folder> = None;
    for name in parents {
        let current = parent.as_ref().unwrap_or(folder);
        match current.stat(name)? {
            Some(Stat {
                kind: Kind::Folder, ..
            }) => parent = Some(current.child(name)?),
            _ => return Ok(()),
        }
    }
    let current = parent.as_ref().unwrap_or(folder);
    match current.stat(last)? {
        Some(stat) if stat.identity == identity => current.remove(last),
        _ => Ok(()),
    }
}

fn into_itself(from: &Path) -> Problem {
    Problem::Refused(format!(
        "`{}` is a copy this run made, so it would be copied into itself",
        from.display()
    ))
}

impl Drop for ImageCopies {
    fn drop(&mut self) {
        if let Err(error) = self.remove_all() {
            say!("warning: could not remove a build-context copy: {error}");
        }
    }
}

/// A walk of a copied folder: what its `exclude` leaves out, and the folders this run made
/// (none when only checking), which it must not enter.
struct Walk<'a> {
    exclude: &'a DockerIgnore,
    ours: Option<&'a mut HashSet<Identity>>,
}

impl<'a> Walk<'a> {
    fn new(exclude: &'a DockerIgnore, ours: Option<&'a mut HashSet<Identity>>) -> Self {
        Self { exclude, ours }
    }

    /// Copies the folder `from` into `to` (checks it only, without `to`); `at` is where it is
    /// in the copied tree, empty at its top.
    fn folder(&mut self, from: &Folder, to: Option<&Folder>, at: &Path) -> Result<(), Problem> {
        for name in from.names()? {
            if crate::process::is_interrupted() {
                return Err(Problem::Io(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "interrupted while copying into the build context",
                )));
            }
            let inside = at.join(&name);
            let Some(stat) = from.stat(&name)? else {
                continue;
            };
            let kept = match stat.kind {
                Kind::Folder => self.exclude.enters(&inside),
                _ => !self.exclude.excludes(&inside),
            };
            if kept {
                self.entry(from, &name, stat, to, &inside)?;
            }
        }
        Ok(())
    }

    fn entry(
        &mut self,
        from: &Folder,
        name: &OsStr,
        stat: Stat,
        to: Option<&Folder>,
        inside: &Path,
    ) -> Result<(), Problem> {
        match stat.kind {
            Kind::Folder => {
                if self.is_ours(stat.identity) {
                    return Err(into_itself(&from.path_of(name)));
                }
                let source = from.child(name)?;
                let made = to.map(|to| to.make_folder(name)).transpose()?;
                if let Some(made) = &made {
                    self.mark_ours(made.identity()?);
                }
                self.folder(&source, made.as_ref(), inside)?;
                if let Some(made) = made {
                    made.set_mode(stat.mode)?;
                }
            }
            Kind::File => {
                if let Some(to) = to {
                    let mut source = from.open_file(name)?;
                    io::copy(&mut source, &mut to.make_file(name, stat.mode)?)?;
                }
            }
            Kind::Link => {
                let target = from.read_link(name)?;
                check_link(inside, &target).map_err(|why| {
                    Problem::Refused(format!(
                        "`{}` is a symlink to `{}`, {why}; only links staying inside the copied \
                         folder are copied",
                        from.path_of(name).display(),
                        target.display()
                    ))
                })?;
                if let Some(to) = to {
                    to.make_link(name, &target)?;
                }
            }
            Kind::Special => return Err(special(&from.path_of(name))),
        }
        Ok(())
    }

    fn is_ours(&self, identity: Identity) -> bool {
        self.ours
            .as_ref()
            .is_some_and(|ours| ours.contains(&identity))
    }

    fn mark_ours(&mut self, identity: Identity) {
        if let Some(ours) = self.ours.as_mut() {
            ours.insert(identity);
        }
    }
}

/// Whether the link at `at` in a copied tree, pointing to `target`, stays inside the tree,
/// whatever the other links of the tree are: `target` must be relative, climb (`..`) only at
/// its start and no higher than the tree's top, then only descend. Else why not.
fn check_link(at: &Path, target: &Path) -> Result<(), &'static str> {
    if target.as_os_str().is_empty() {
        return Err("which names nothing");
    }
    let mut up = 0;
    let mut descended = false;
    for part in target.components() {
        match part {
            Component::ParentDir if descended => {
                return Err("which climbs (`..`) after descending");
            }
            Component::ParentDir => up += 1,
            Component::Normal(_) => descended = true,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path"),
        }
    }
    let depth = at.components().count().saturating_sub(1);
    match up <= depth {
        true => Ok(()),
        false => Err("which leads out of the copied folder"),
    }
}

#[cfg(test)]
mod tests;
