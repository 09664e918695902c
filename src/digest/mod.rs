//! Input digests: a hash of everything an image-version is built from (its build context as
//! docker sees it, with the `image.yaml` copies, the resolved build arguments, the platform and
//! the digest of its local base, the digests of its upstream images), stored on the image as a
//! label, so that an unchanged image can be recognised without building it; and its parts as a
//! second label ([`Recorded`]), so that a changed one can say what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::catalog::image_config::Copy;
use crate::catalog::{self, file};
use crate::dockerignore::DockerIgnore;
use crate::reference::Platform;

/// The image label holding the input digest.
pub const LABEL: &str = "io.dagster-image.input-digest";
/// The image label holding the parts of the input digest, as JSON ([`Recorded`]).
pub const INPUTS_LABEL: &str = "io.dagster-image.inputs";

/// Files of an image folder that are the tool's own metadata, not build input: their effect
/// on a build is already in its build arguments and copies.
const METADATA: [&str; 3] = ["versions.yaml", "last_updated.yaml", "image.yaml"];
/// Files docker sends with every context, whatever `.dockerignore` says: it needs them to build.
const ALWAYS_SENT: [&str; 2] = ["Dockerfile", ".dockerignore"];

/// What goes into an input digest besides the context.
pub struct Inputs<'a> {
    pub context: &'a str,
    pub build_args: &'a [(String, String)],
    pub platform: Option<&'a Platform>,
    /// The input digest of the local base image, when there is one.
    pub base: Option<&'a str>,
    /// Each upstream image reference with what stands for it (`upstream::Pin::to_text`), sorted.
    pub upstream: &'a [(String, String)],
    /// Each build secret's id and source, never its value (`BuildSecret::digest_text`).
    pub secrets: &'a [String],
}

/// The parts of an input digest, as the image's `INPUTS_LABEL` records them: what a later run
/// compares part by part to say why an image is stale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    pub context: String,
    /// A digest of the build arguments and the platform.
    pub args: String,
    pub base: Option<String>,
    /// Upstream reference -> its pin.
    #[serde(default)]
    pub upstream: BTreeMap<String, String>,
    /// Build secrets by id and source (`pip=env:PIP_TOKEN`); absent without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

/// The input digest of an image-version. Without upstream images or build secrets it is what it
/// was before they counted. A secret counts by its id and source: a new value of the same
/// variable or file leaves the digest as it was.
pub fn input_digest(inputs: &Inputs) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"dagster-image input digest v1\0");
    field(&mut hasher, "context", inputs.context);
    for (name, value) in inputs.build_args {
        field(&mut hasher, "arg", &format!("{name}={value}"));
    }
    field(&mut hasher, "platform", &platform_text(inputs.platform));
    field(&mut hasher, "base", inputs.base.unwrap_or(""));
    for (reference, pin) in inputs.upstream {
        field(&mut hasher, "upstream", &format!("{reference}={pin}"));
    }
    for secret in inputs.secrets {
        field(&mut hasher, "secret", secret);
    }
    format!("blake3:{}", hasher.finalize().to_hex())
}

impl Recorded {
    /// The parts of `inputs`. An upstream reference made with a secret build argument
    /// (`FROM registry/${BASE_TOKEN}:1`) is kept with the secret hidden: the label is shown by
    /// `--dry-run` and stored on the image.
    pub fn of(inputs: &Inputs) -> Self {
        Self {
            context: inputs.context.to_owned(),
            args: args_digest(inputs.build_args, inputs.platform),
            base: inputs.base.map(str::to_owned),
            upstream: inputs
                .upstream
                .iter()
                .map(|(reference, pin)| {
                    (shown_reference(reference, inputs.build_args), pin.clone())
                })
                .collect(),
            secrets: inputs.secrets.to_vec(),
        }
    }

    /// As the label holds it.
    pub fn to_label(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A label's parts; None for a label this version cannot read.
    pub fn from_label(label: &str) -> Option<Self> {
        serde_json::from_str(label).ok()
    }
}

/// An upstream reference as a label records it: the secrets of `build_args` in it hidden.
pub fn shown_reference(reference: &str, build_args: &[(String, String)]) -> String {
    crate::secrets::hide_in(
        reference,
        build_args
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
}

/// A digest of build arguments and platform.
fn args_digest(build_args: &[(String, String)], platform: Option<&Platform>) -> String {
    let mut hasher = blake3::Hasher::new();
    for (name, value) in build_args {
        field(&mut hasher, "arg", &format!("{name}={value}"));
    }
    field(&mut hasher, "platform", &platform_text(platform));
    hasher.finalize().to_hex().to_string()
}

/// A platform as a digest counts it: its `--platform` spelling, empty for none.
fn platform_text(platform: Option<&Platform>) -> String {
    platform.map(Platform::to_string).unwrap_or_default()
}

fn field(hasher: &mut blake3::Hasher, name: &str, value: &str) {
    hasher.update(name.as_bytes());
    hasher.update(&(value.len() as u64).to_le_bytes());
    hasher.update(value.as_bytes());
}

/// A file (or, when asked for, a folder) of the context: where docker sees it, and where it is
/// read from.
struct Entry {
    path: PathBuf,
    source: PathBuf,
}

impl Entry {
    /// Whether docker reads this file through a link (the Dockerfile and `.dockerignore` at the
    /// top of the context), so that its target's content is the input, not the link.
    fn followed(&self) -> bool {
        ALWAYS_SENT.iter().any(|name| self.path == Path::new(name))
    }
}

/// The paths of an image folder that docker receives as the build context, files and folders
/// (after `.dockerignore`, without the `image.yaml` copies), and the `.dockerignore` itself.
#[derive(Debug, Default)]
pub struct ContextPaths {
    pub paths: BTreeSet<PathBuf>,
    pub ignore: DockerIgnore,
}

/// Reads `<context>/.dockerignore`; none means nothing is excluded. Guarded like the
/// catalog's files: a FIFO or a link to `/dev/zero` is refused, not read forever.
fn read_dockerignore(context: &Path) -> std::io::Result<DockerIgnore> {
    match file::read_text_if_exists(&context.join(".dockerignore")) {
        Ok(text) => Ok(DockerIgnore::parse(&text.unwrap_or_default())),
        Err(catalog::Error::Io(e)) => Err(e),
        Err(invalid) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            invalid.to_string(),
        )),
    }
}

/// The paths of the build context of `dir`, relative to it, with every folder holding one.
pub fn context_paths(dir: &Path) -> std::io::Result<ContextPaths> {
    let ignore = read_dockerignore(dir)?;
    let nothing = DockerIgnore::default();
    let mut entries = Vec::new();
    let walk = Walk {
        folders: true,
        ..Walk::new(&ignore, &nothing, Path::new(""))
    };
    walk.files(dir, Path::new(""), &mut entries)?;
    let mut paths = BTreeSet::new();
    for entry in entries {
        let folders = entry.path.ancestors().skip(1);
        paths.extend(
            folders
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_owned),
        );
        paths.insert(entry.path);
    }
    Ok(ContextPaths { paths, ignore })
}

/// The digest of the build context of `dir` with `copies` placed in it: every file docker
/// would be sent (after `.dockerignore`, which never leaves out the Dockerfile and itself, and
/// the copies' `exclude`), its path, mode and content. Excluded folders are not read at all
/// unless a `!` rule may include something inside them.
pub fn context_digest(dir: &Path, copies: &[Copy]) -> std::io::Result<String> {
    let ignore = read_dockerignore(dir)?;
    let mut entries = Vec::new();
    let nothing = DockerIgnore::default();
    Walk::new(&ignore, &nothing, Path::new("")).files(dir, Path::new(""), &mut entries)?;
    add_always_sent(dir, &mut entries);
    entries.retain(|e| {
        !(e.path.components().count() == 1 && METADATA.iter().any(|m| e.path == Path::new(m)))
    });
    for copy in copies {
        if copy.from.is_dir() {
            let exclude = DockerIgnore::from_patterns(&copy.exclude);
            Walk::new(&ignore, &exclude, &copy.to).files(&copy.from, &copy.to, &mut entries)?;
        } else if !ignore.excludes(&copy.to) {
            entries.push(Entry {
                path: copy.to.clone(),
                source: copy.from.clone(),
            });
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let hashes = hash_files(&entries)?;
    let mut hasher = blake3::Hasher::new();
    for (entry, hash) in entries.iter().zip(hashes) {
        field(&mut hasher, "path", &entry.path.to_string_lossy());
        field(&mut hasher, "file", &hash);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// The Dockerfile and `.dockerignore` that `.dockerignore` excluded: docker sends them anyway,
/// and an edited Dockerfile is a changed input.
fn add_always_sent(dir: &Path, entries: &mut Vec<Entry>) {
    for name in ALWAYS_SENT {
        let path = PathBuf::from(name);
        let source = dir.join(name);
        if fs_err::symlink_metadata(&source).is_ok() && !entries.iter().any(|e| e.path == path) {
            entries.push(Entry { path, source });
        }
    }
}

/// A walk of a folder placed in the context: the context's `.dockerignore` applies to paths in
/// the context, a copy's `exclude` to paths relative to the copy's destination `root`.
struct Walk<'a> {
    ignore: &'a DockerIgnore,
    exclude: &'a DockerIgnore,
    root: &'a Path,
    /// Whether folders that are kept are listed too.
    folders: bool,
}

impl<'a> Walk<'a> {
    fn new(ignore: &'a DockerIgnore, exclude: &'a DockerIgnore, root: &'a Path) -> Self {
        Self {
            ignore,
            exclude,
            root,
            folders: false,
        }
    }

    fn in_copy<'p>(&self, path: &'p Path) -> &'p Path {
        path.strip_prefix(self.root).unwrap_or(path)
    }

    fn excludes(&self, path: &Path) -> bool {
        self.ignore.excludes(path) || self.exclude.excludes(self.in_copy(path))
    }

    fn enters(&self, folder: &Path) -> bool {
        self.ignore.enters(folder) && self.exclude.enters(self.in_copy(folder))
    }

    /// Every file (and folder, when asked for) under `dir`, seen in the context at `relative`,
    /// that is not left out.
    fn files(&self, dir: &Path, relative: &Path, entries: &mut Vec<Entry>) -> std::io::Result<()> {
        for entry in fs_err::read_dir(dir)? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                if self.folders && !self.excludes(&path) {
                    entries.push(Entry {
                        path: path.clone(),
                        source: entry.path(),
                    });
                }
                if self.enters(&path) {
                    self.files(&entry.path(), &path, entries)?;
                }
            } else if !self.excludes(&path) {
                entries.push(Entry {
                    path,
                    source: entry.path(),
                });
            }
        }
        Ok(())
    }
}

/// Hashes of the entries (mode, then content of a regular file or target of a link), on every
/// CPU.
fn hash_files(entries: &[Entry]) -> std::io::Result<Vec<String>> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = entries.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|e| hash_file(&e.source, e.followed()))
                        .collect::<std::io::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut hashes = Vec::with_capacity(entries.len());
        for handle in handles {
            hashes.extend(
                handle
                    .join()
                    .map_err(|_| std::io::Error::other("a hashing thread panicked"))??,
            );
        }
        Ok(hashes)
    })
}

/// The hash of the file at `path`; with `follow`, of the file a link there points to.
fn hash_file(path: &Path, follow: bool) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = if follow {
        fs_err::metadata(path)?
    } else {
        fs_err::symlink_metadata(path)?
    };
    let mut hasher = blake3::Hasher::new();
    hasher.update(&meta.permissions().mode().to_le_bytes());
    if meta.is_symlink() {
        hasher.update(fs_err::read_link(path)?.as_os_str().as_encoded_bytes());
    } else if meta.is_file() {
        hasher.update_reader(fs_err::File::open(path)?)?;
    }
    // A FIFO, socket or device: docker sends its header only, and the mode (which holds the
    // file type) is all there is to hash; opening a FIFO would wait for a writer forever.
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        fs_err::create_dir(dir.path().join("src")).unwrap();
        fs_err::write(dir.path().join("src/app.py"), "print(1)\n").unwrap();
        dir
    }

    fn digest(dir: &Path) -> String {
        context_digest(dir, &[]).unwrap()
    }

    #[test]
    fn changes_with_content_paths_and_modes_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = context();
        let before = digest(dir.path());
        assert_eq!(digest(dir.path()), before, "stable");
        fs_err::write(dir.path().join("last_updated.yaml"), "'3.9': x\n").unwrap();
        assert_eq!(
            digest(dir.path()),
            before,
            "the tool's metadata is not input"
        );
        fs_err::write(dir.path().join("src/app.py"), "print(2)\n").unwrap();
        let edited = digest(dir.path());
        assert_ne!(edited, before);
        fs_err::set_permissions(
            dir.path().join("src/app.py"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_ne!(digest(dir.path()), edited);
    }

    fn mkfifo(path: &Path) {
        let made = std::process::Command::new("mkfifo").arg(path).status();
        assert!(made.unwrap().success(), "mkfifo {}", path.display());
    }

    /// A FIFO has no writer here: reading it would wait forever, as would a `.dockerignore`
    /// that is one.
    #[test]
    fn a_fifo_counts_by_its_mode_and_is_never_read() {
        let dir = context();
        let before = digest(dir.path());
        mkfifo(&dir.path().join("pipe"));
        assert_ne!(digest(dir.path()), before);
        mkfifo(&dir.path().join(".dockerignore"));
        let error = context_digest(dir.path(), &[]).unwrap_err().to_string();
        assert!(
            error.ends_with("expected a regular file, found a special file"),
            "{error}"
        );
    }

    #[test]
    fn ignored_files_and_folders_do_not_count() {
        let dir = context();
        fs_err::write(dir.path().join(".dockerignore"), "cache\n*.log\n").unwrap();
        let before = digest(dir.path());
        fs_err::write(dir.path().join("debug.log"), "noise").unwrap();
        fs_err::create_dir(dir.path().join("cache")).unwrap();
        fs_err::write(dir.path().join("cache/blob"), "big").unwrap();
        assert_eq!(digest(dir.path()), before);
    }

    /// Docker sends both whatever the ignore file says, so editing either is a new input.
    /// Docker follows a linked Dockerfile (`Dockerfile -> ../../shared/Dockerfile.base`): what
    /// it builds from is the target's content.
    #[test]
    fn a_linked_dockerfile_counts_by_its_targets_content() {
        let dir = context();
        let shared = tempfile::tempdir().unwrap();
        let target = shared.path().join("Dockerfile.base");
        fs_err::write(&target, "FROM x\n").unwrap();
        fs_err::remove_file(dir.path().join("Dockerfile")).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("Dockerfile")).unwrap();
        let before = digest(dir.path());
        fs_err::write(&target, "FROM y\n").unwrap();
        assert_ne!(
            digest(dir.path()),
            before,
            "an edited target changes the digest"
        );
    }

    #[test]
    fn the_dockerfile_and_dockerignore_count_even_when_ignored() {
        let dir = context();
        fs_err::write(
            dir.path().join(".dockerignore"),
            "Dockerfile\n.dockerignore\n",
        )
        .unwrap();
        let before = digest(dir.path());
        fs_err::write(dir.path().join("Dockerfile"), "FROM y\n").unwrap();
        let edited = digest(dir.path());
        assert_ne!(edited, before, "an edited Dockerfile changes the digest");
        fs_err::write(
            dir.path().join(".dockerignore"),
            "Dockerfile\n.dockerignore\n# note\n",
        )
        .unwrap();
        assert_ne!(
            digest(dir.path()),
            edited,
            "so does an edited .dockerignore"
        );
    }

    #[test]
    fn copies_count_as_context_files_at_their_destination() {
        let dir = context();
        let outside = tempfile::tempdir().unwrap();
        fs_err::write(outside.path().join("lib.py"), "x = 1\n").unwrap();
        let copy = Copy {
            from: outside.path().to_owned(),
            to: "build_cache/lib".into(),
            exclude: Vec::new(),
        };
        let with_copy = context_digest(dir.path(), std::slice::from_ref(&copy)).unwrap();
        assert_ne!(with_copy, digest(dir.path()));
        fs_err::write(outside.path().join("lib.py"), "x = 2\n").unwrap();
        assert_ne!(context_digest(dir.path(), &[copy]).unwrap(), with_copy);
    }

    #[test]
    fn files_a_copy_excludes_do_not_count() {
        let dir = context();
        let outside = tempfile::tempdir().unwrap();
        fs_err::write(outside.path().join("Main.scala"), "object Main\n").unwrap();
        let copy = Copy {
            from: outside.path().to_owned(),
            to: "scala_modules".into(),
            exclude: vec!["*target*".into(), "**/*.class".into()],
        };
        let digest_of = |copy: &Copy| context_digest(dir.path(), std::slice::from_ref(copy));
        let before = digest_of(&copy).unwrap();
        fs_err::create_dir_all(outside.path().join("target/deep")).unwrap();
        fs_err::write(outside.path().join("target/deep/out.jar"), "jar").unwrap();
        fs_err::create_dir(outside.path().join("sub")).unwrap();
        fs_err::write(outside.path().join("sub/Main.class"), "class").unwrap();
        assert_eq!(digest_of(&copy).unwrap(), before);
        fs_err::write(outside.path().join("sub/Main.scala"), "object Sub\n").unwrap();
        assert_ne!(digest_of(&copy).unwrap(), before, "what is kept counts");
    }

    #[test]
    fn context_paths_are_files_and_folders_docker_receives() {
        let dir = context();
        fs_err::write(
            dir.path().join(".dockerignore"),
            "cache\n!cache/keep\n*.log\n",
        )
        .unwrap();
        fs_err::create_dir_all(dir.path().join("cache/deep")).unwrap();
        fs_err::write(dir.path().join("cache/deep/blob"), "big").unwrap();
        fs_err::write(dir.path().join("cache/keep"), "kept").unwrap();
        fs_err::write(dir.path().join("debug.log"), "noise").unwrap();
        fs_err::create_dir(dir.path().join("empty")).unwrap();
        let listed = context_paths(dir.path()).unwrap();
        let paths: Vec<String> = listed
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                ".dockerignore",
                "Dockerfile",
                "cache",
                "cache/keep",
                "empty",
                "src",
                "src/app.py"
            ]
        );
        assert!(listed.ignore.excludes(Path::new("debug.log")));
    }

    #[test]
    fn input_digest_covers_args_platform_and_base() {
        let args = vec![("A".to_owned(), "1".to_owned())];
        let inputs = |args: &[(String, String)], platform, base| {
            input_digest(&Inputs {
                context: "c",
                build_args: args,
                platform,
                base,
                upstream: &[],
                secrets: &[],
            })
        };
        let base = inputs(&args, None, None);
        assert!(base.starts_with("blake3:"));
        assert_ne!(inputs(&[("A".into(), "2".into())], None, None), base);
        let arm = Platform::parse("linux/arm64").unwrap();
        assert_ne!(inputs(&args, Some(&arm), None), base);
        assert_ne!(inputs(&args, None, Some("blake3:b")), base);
        assert_eq!(inputs(&args, None, None), base);
    }

    #[test]
    fn upstream_pins_count_and_none_keeps_the_digest_of_before() {
        let upstream = [("python:3.10-slim".to_owned(), "sha256:a".to_owned())];
        let inputs = |upstream| Inputs {
            context: "c",
            build_args: &[],
            platform: None,
            base: None,
            upstream,
            secrets: &[],
        };
        let without = input_digest(&inputs(&[]));
        assert_eq!(
            without, "blake3:da38a2eb9bfe8f41078ddc13f0f50d64218fcbf0bd0c1f587d7b4af8d5fd994b",
            "the digest of an image without upstream images is the one earlier versions labelled"
        );
        assert_ne!(input_digest(&inputs(&upstream)), without);
        let recorded = Recorded::of(&inputs(&upstream));
        assert_eq!(Recorded::from_label(&recorded.to_label()), Some(recorded));
        assert_eq!(Recorded::from_label("blake3:x"), None);
    }

    #[test]
    fn secrets_count_by_id_and_source_and_none_keeps_the_digest_of_before() {
        let inputs = |secrets| Inputs {
            context: "c",
            build_args: &[],
            platform: None,
            base: None,
            upstream: &[],
            secrets,
        };
        let without = input_digest(&inputs(&[]));
        assert_eq!(
            without, "blake3:da38a2eb9bfe8f41078ddc13f0f50d64218fcbf0bd0c1f587d7b4af8d5fd994b",
            "the digest of an image without secrets is the one earlier versions labelled"
        );
        let pip = ["pip=env:PIP_TOKEN".to_owned()];
        let with = input_digest(&inputs(&pip));
        assert_ne!(with, without);
        let other_source = ["pip=env:OTHER".to_owned()];
        let other_id = ["npm=env:PIP_TOKEN".to_owned()];
        assert_ne!(input_digest(&inputs(&other_source)), with);
        assert_ne!(input_digest(&inputs(&other_id)), with);
        let recorded = Recorded::of(&inputs(&pip));
        assert_eq!(recorded.secrets, pip);
        assert!(!Recorded::of(&inputs(&[])).to_label().contains("secrets"));
    }
}
