//! `image.yaml`: optional settings of an image. `copy:` lists files and folders of the
//! repository to put into the image's build context for its builds (the seed did this with
//! per-image Python code): `path` (relative to the repository root, copied to
//! `build_cache/<basename>`) or `{from: path, to: path relative to the image folder}`, which may
//! add `exclude: [patterns]` (`.dockerignore` syntax, relative to the copied folder) for what
//! is left out of a folder's copy.
//! `references:` lists files of the repository that name the image's published tags (a
//! Dockerfile's `FROM`), which `publish` moves to the new timestamp.
//! `platforms:` lists the platforms the image is built for (`linux/amd64`, `linux/arm64`), each
//! its own build, assembled into one index when pushed; none means the engine's own platform.
//! `secrets:` lists build secrets (`{id: pip, env: PIP_TOKEN}`, `{id: pip, src: FILE}`), read
//! in [`build_secret`](super::build_secret).

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::build_secret::{self, BuildSecret, RawSecret};
use super::error::{Error, Result};
use super::{file, yaml};
use crate::dockerignore;
use crate::reference::Platform;

/// Where `copy: [path]` entries go inside the image folder.
pub const BUILD_CACHE: &str = "build_cache";

/// The settings of one image; all empty when it has no `image.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub copies: Vec<Copy>,
    /// Files naming the image's published tags, inside the repository, resolved.
    pub references: Vec<PathBuf>,
    /// The platforms to build, in order (the first keeps the seed's local tag); empty for the
    /// engine's own platform only.
    pub platforms: Vec<Platform>,
    /// Build secrets, in order, each id once.
    pub secrets: Vec<BuildSecret>,
}

/// One thing to copy into the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Inside the repository, resolved (symlinks followed).
    pub from: PathBuf,
    /// Relative to the image folder, without `..`.
    pub to: PathBuf,
    /// `.dockerignore` patterns, relative to `from`, of what a folder's copy leaves out; each
    /// checked.
    pub exclude: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    copy: Vec<Spanned<RawCopy>>,
    #[serde(default)]
    references: Vec<Spanned<String>>,
    #[serde(default)]
    platforms: Vec<Spanned<String>>,
    #[serde(default)]
    secrets: Vec<Spanned<RawSecret>>,
}

/// A `copy:` entry. Read by hand rather than as `#[serde(untagged)]`, whose one error ("data did
/// not match any variant of untagged enum") says neither what is wrong nor what is expected.
enum RawCopy {
    Path(String),
    Pair(RawPair),
}

impl<'de> Deserialize<'de> for RawCopy {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(RawCopyVisitor)
    }
}

struct RawCopyVisitor;

impl<'de> serde::de::Visitor<'de> for RawCopyVisitor {
    type Value = RawCopy;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a path of the repository, or `{from: PATH, to: PATH}`")
    }

    fn visit_str<E: serde::de::Error>(self, path: &str) -> std::result::Result<RawCopy, E> {
        Ok(RawCopy::Path(path.to_owned()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        map: A,
    ) -> std::result::Result<RawCopy, A::Error> {
        RawPair::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(RawCopy::Pair)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    from: String,
    to: String,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
}

impl ImageConfig {
    /// Reads `<image_dir>/image.yaml` when there is one.
    pub fn read(image_dir: &Path, repository: &Path) -> Result<Self> {
        let path = image_dir.join("image.yaml");
        if !path.exists() {
            return Ok(Self::default());
        }
        Self::parse(&path, &file::read_text(&path)?, image_dir, repository)
    }

    pub fn parse(path: &Path, text: &str, image_dir: &Path, repository: &Path) -> Result<Self> {
        let raw: Option<RawConfig> = yaml::parse(path, text)?;
        let raw = raw.unwrap_or_default();
        let at_line = |line: u64| {
            move |problem| Error::InvalidAt {
                path: path.to_owned(),
                line,
                problem,
            }
        };
        let mut copies: Vec<Copy> = Vec::new();
        for entry in raw.copy {
            let line = entry.referenced.line();
            let (copy, exclude) =
                resolve_copy(entry.value, image_dir, repository).map_err(at_line(line))?;
            let copy =
                with_excludes(copy, exclude).map_err(|(line, problem)| at_line(line)(problem))?;
            check_unique(&copies, &copy.to).map_err(at_line(line))?;
            copies.push(copy);
        }
        let mut secrets: Vec<BuildSecret> = Vec::new();
        for entry in raw.secrets {
            let line = entry.referenced.line();
            let secret = build_secret::resolve(entry.value, repository).map_err(at_line(line))?;
            build_secret::check_unique(&secrets, &secret.id).map_err(at_line(line))?;
            secrets.push(secret);
        }
        let check_reference = |entry: Spanned<String>| {
            let line = entry.referenced.line();
            resolve_reference(&entry.value, repository).map_err(at_line(line))
        };
        Ok(Self {
            copies,
            references: raw
                .references
                .into_iter()
                .map(check_reference)
                .collect::<Result<_>>()?,
            platforms: platforms(
                raw.platforms
                    .into_iter()
                    .map(|entry| (entry.referenced.line(), entry.value)),
            )
            .map_err(|(line, problem)| at_line(line)(problem))?,
            secrets,
        })
    }
}

/// The platforms of `image.yaml`, each with its line: each one `docker build --platform`
/// takes, none twice; else the line at fault and why.
fn platforms(
    entries: impl IntoIterator<Item = (u64, String)>,
) -> std::result::Result<Vec<Platform>, (u64, String)> {
    let mut platforms: Vec<Platform> = Vec::new();
    for (line, text) in entries {
        let platform = Platform::parse(&text).map_err(|invalid| (line, invalid.to_string()))?;
        if platforms.contains(&platform) {
            return Err((line, format!("`{text}` is listed twice in `platforms`")));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

/// A file of the repository named by `references:`.
fn resolve_reference(path: &str, repository: &Path) -> std::result::Result<PathBuf, String> {
    let file = resolve_in_repository(path, repository)?;
    if !file.is_file() {
        return Err(format!("`{path}` is not a file"));
    }
    Ok(file)
}

/// The copy `raw` declares, resolved, and its `exclude` patterns still to check.
fn resolve_copy(
    raw: RawCopy,
    image_dir: &Path,
    repository: &Path,
) -> std::result::Result<(Copy, Vec<Spanned<String>>), String> {
    let (from, to, exclude) = match raw {
        RawCopy::Path(from) => {
            check_plain(&from)?;
            let name = Path::new(&from)
                .file_name()
                .ok_or(format!("`{from}` names no file or folder"))?;
            let to = Path::new(BUILD_CACHE).join(name);
            (from, to, Vec::new())
        }
        RawCopy::Pair(RawPair { from, to, exclude }) => {
            check_plain(&from)?;
            check_destination(&to)?;
            (from, PathBuf::from(to), exclude)
        }
    };
    let source = resolve_in_repository(&from, repository)?;
    if let Ok(folder) = fs_err::canonicalize(image_dir) {
        if folder.starts_with(&source) {
            return Err(format!(
                "`{from}` holds the image folder, so it would be copied into itself"
            ));
        }
        if folder.join(&to).starts_with(&source) {
            return Err(format!(
                "`{from}` holds `{}`, so it would be copied into itself",
                to.display()
            ));
        }
    }
    check_stays_inside(image_dir, &to)?;
    if !exclude.is_empty() && !source.is_dir() {
        return Err(format!(
            "`exclude` leaves files out of a folder's copy, but `{from}` is a file"
        ));
    }
    let copy = Copy {
        from: source,
        to,
        exclude: Vec::new(),
    };
    Ok((copy, exclude))
}

/// `copy` with its `exclude` patterns, each a `.dockerignore` pattern; else the line at fault
/// and why.
fn with_excludes(
    mut copy: Copy,
    exclude: Vec<Spanned<String>>,
) -> std::result::Result<Copy, (u64, String)> {
    for pattern in exclude {
        let line = pattern.referenced.line();
        dockerignore::check_pattern(&pattern.value).map_err(|problem| (line, problem))?;
        copy.exclude.push(pattern.value);
    }
    Ok(copy)
}

/// `from`, relative to the repository, resolved: it must exist and stay inside the repository,
/// symlinks followed.
fn resolve_in_repository(from: &str, repository: &Path) -> std::result::Result<PathBuf, String> {
    check_relative(from, "the repository")?;
    let source = fs_err::canonicalize(repository.join(from)).map_err(|_| {
        format!(
            "`{from}` does not exist in the repository `{}`",
            repository.display()
        )
    })?;
    let root = fs_err::canonicalize(repository).map_err(|e| e.to_string())?;
    if !source.starts_with(&root) {
        return Err(format!(
            "`{from}` leads outside the repository (to `{}`)",
            source.display()
        ));
    }
    Ok(source)
}

/// The files of an image folder that the tool or the engine reads: no copy may land on one (it
/// would be replaced for the build and removed with the copies, `last_updated.yaml` included).
pub const RESERVED: [&str; 5] = [
    "Dockerfile",
    ".dockerignore",
    "versions.yaml",
    "last_updated.yaml",
    "image.yaml",
];

/// A path of `copy:` holds no control character: a newline or a NUL in a path is no name anybody
/// means, and breaks every line-based record of it.
fn check_plain(path: &str) -> std::result::Result<(), String> {
    match path.contains(char::is_control) {
        true => Err(format!(
            "{path:?} holds a control character (a newline?): write the path on one line"
        )),
        false => Ok(()),
    }
}

/// A `to:` path: plain, relative, inside the image folder, written in one way only (no empty,
/// `.` or `..` part, no trailing `/`: two spellings of one place would be two copies to it), and
/// not on a file of [`RESERVED`] (compared ignoring case, as macOS does).
fn check_destination(to: &str) -> std::result::Result<(), String> {
    check_plain(to)?;
    check_relative(to, "the image folder")?;
    if to.split('/').any(|part| part.is_empty() || part == ".") {
        return Err(format!(
            "`{to}` must be written plainly, as `a/b`: no empty or `.` part and no trailing `/`"
        ));
    }
    let first = to.split('/').next().unwrap_or(to);
    if let Some(name) = RESERVED.iter().find(|n| n.eq_ignore_ascii_case(first)) {
        return Err(format!(
            "`{to}` would land on the image's `{name}`, which a copy may not replace; \
             copy to another name"
        ));
    }
    Ok(())
}

/// No two copies go to one place.
fn check_unique(earlier: &[Copy], to: &Path) -> std::result::Result<(), String> {
    match earlier.iter().any(|copy| copy.to == to) {
        true => Err(format!(
            "`{}` is the destination of an earlier copy too",
            to.display()
        )),
        false => Ok(()),
    }
}

/// `path` must be relative and must not climb out with `..`.
fn check_relative(path: &str, within: &str) -> std::result::Result<(), String> {
    let candidate = Path::new(path);
    let climbs = candidate
        .components()
        .any(|c| matches!(c, Component::ParentDir));
    if path.is_empty() || candidate.is_absolute() || climbs {
        return Err(format!(
            "`{path}` must be a path inside {within}, relative and without `..`"
        ));
    }
    Ok(())
}

/// The part of `to` that already exists inside the image folder must not be a symlink leading
/// out of it, or the copy would be written elsewhere.
fn check_stays_inside(image_dir: &Path, to: &Path) -> std::result::Result<(), String> {
    let Ok(folder) = fs_err::canonicalize(image_dir) else {
        return Ok(());
    };
    let existing = image_dir
        .join(to)
        .ancestors()
        .find(|p| p.exists())
        .map(Path::to_owned);
    match existing.map(fs_err::canonicalize) {
        Some(Ok(resolved)) if !resolved.starts_with(&folder) => Err(format!(
            "`{}` leads outside the image folder (to `{}`)",
            to.display(),
            resolved.display()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Repo {
        dir: tempfile::TempDir,
    }

    impl Repo {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            fs_err::create_dir_all(dir.path().join("images/app")).unwrap();
            fs_err::create_dir_all(dir.path().join("python_modules/dagster")).unwrap();
            Self { dir }
        }

        fn parse(&self, text: &str) -> Result<ImageConfig> {
            let image = self.dir.path().join("images/app");
            ImageConfig::parse(&image.join("image.yaml"), text, &image, self.dir.path())
        }

        fn error(&self, text: &str) -> String {
            self.parse(text).unwrap_err().to_string()
        }
    }

    #[test]
    fn a_path_goes_to_build_cache_and_a_pair_where_it_says() {
        let repo = Repo::new();
        let config = repo
            .parse("copy:\n  - python_modules/dagster\n  - {from: python_modules, to: vendor/py}\n")
            .unwrap();
        let root = fs_err::canonicalize(repo.dir.path()).unwrap();
        assert_eq!(
            config.copies,
            [
                Copy {
                    from: root.join("python_modules/dagster"),
                    to: "build_cache/dagster".into(),
                    exclude: Vec::new(),
                },
                Copy {
                    from: root.join("python_modules"),
                    to: "vendor/py".into(),
                    exclude: Vec::new(),
                },
            ]
        );
    }

    #[test]
    fn a_pair_keeps_its_exclude_patterns_in_order() {
        let repo = Repo::new();
        let config = repo
            .parse("copy:\n  - from: python_modules\n    to: vendor/py\n    exclude: ['*target*', .idea, '**/*.class']\n")
            .unwrap();
        assert_eq!(
            config.copies[0].exclude,
            ["*target*", ".idea", "**/*.class"]
        );
    }

    #[test]
    fn malformed_exclude_patterns_are_refused_at_their_line() {
        let repo = Repo::new();
        fs_err::write(repo.dir.path().join("python_modules/setup.py"), "").unwrap();
        let unclosed = repo.error(
            "copy:\n  - from: python_modules\n    to: x\n    exclude:\n      - ok\n      - '[abc'\n",
        );
        assert!(
            unclosed.contains("image.yaml:6: `[abc` is not a pattern: unclosed character class"),
            "{unclosed}"
        );
        let empty = repo.error("copy:\n  - {from: python_modules, to: x, exclude: ['']}\n");
        assert!(
            empty.ends_with("image.yaml:2: `` is not a pattern: it is empty"),
            "{empty}"
        );
        let not_a_list =
            repo.error("copy:\n  - {from: python_modules, to: x, exclude: '*.class'}\n");
        assert!(not_a_list.contains("image.yaml:2:"), "{not_a_list}");
        assert!(not_a_list.contains("expected a list"), "{not_a_list}");
        let on_a_file =
            repo.error("copy:\n  - {from: python_modules/setup.py, to: x, exclude: ['*.pyc']}\n");
        assert!(
            on_a_file.ends_with(
                "image.yaml:2: `exclude` leaves files out of a folder's copy, but \
                 `python_modules/setup.py` is a file"
            ),
            "{on_a_file}"
        );
    }

    #[test]
    fn empty_or_absent_copy_lists_are_fine() {
        let repo = Repo::new();
        assert_eq!(repo.parse("").unwrap(), ImageConfig::default());
        assert_eq!(repo.parse("copy: []\n").unwrap(), ImageConfig::default());
    }

    #[test]
    fn paths_that_leave_the_repository_or_image_folder_are_refused_at_their_line() {
        let repo = Repo::new();
        assert!(repo.error("copy:\n  - ../outside\n").ends_with("image.yaml:2: `../outside` must be a path inside the repository, relative and without `..`"));
        assert!(
            repo.error("copy:\n  - /etc\n")
                .contains("`/etc` must be a path inside the repository")
        );
        assert!(
            repo.error("copy:\n  - {from: python_modules, to: ../x}\n")
                .contains("`../x` must be a path inside the image folder")
        );
        assert!(
            repo.error("copy:\n  - missing\n")
                .contains("`missing` does not exist in the repository")
        );
    }

    #[test]
    fn entries_of_the_wrong_form_are_refused_saying_what_is_expected() {
        let repo = Repo::new();
        for entry in [
            "{form: python_modules, to: x}",
            "{from: python_modules}",
            "12",
            "[a]",
        ] {
            let error = repo.error(&format!("copy:\n  - {entry}\n"));
            assert!(error.contains("image.yaml:2:"), "{entry}: {error}");
            assert!(!error.contains("untagged"), "{entry}: {error}");
        }
        let typo = repo.error("copy:\n  - {form: python_modules, to: x}\n");
        assert!(typo.ends_with("did you mean `from`?"), "{typo}");
    }

    #[test]
    fn a_copy_of_a_folder_holding_the_image_folder_or_into_the_folder_itself_is_refused() {
        let repo = Repo::new();
        for from in [".", "images", "images/app"] {
            let error = repo.error(&format!("copy:\n  - {{from: {from}, to: vendor}}\n"));
            assert!(
                error.ends_with(&format!(
                    "`{from}` holds the image folder, so it would be copied into itself"
                )),
                "{error}"
            );
        }
        let error = repo.error("copy:\n  - {from: python_modules, to: .}\n");
        assert!(
            error.ends_with(
                "`.` must be written plainly, as `a/b`: no empty or `.` part and no trailing `/`"
            ),
            "{error}"
        );
        fs_err::create_dir_all(repo.dir.path().join("images/app/sub")).unwrap();
        let error = repo.error("copy:\n  - {from: images/app/sub, to: sub/inner}\n");
        assert!(
            error
                .ends_with("`images/app/sub` holds `sub/inner`, so it would be copied into itself"),
            "{error}"
        );
    }

    #[test]
    fn destinations_are_written_one_way_and_never_on_the_files_of_the_image() {
        let repo = Repo::new();
        for to in ["a/.", "./a", "a//b", "a/", "a/./b"] {
            let error = repo.error(&format!(
                "copy:\n  - {{from: python_modules, to: '{to}'}}\n"
            ));
            assert!(error.contains("image.yaml:2:"), "{error}");
            assert!(error.contains("must be written plainly"), "{to}: {error}");
        }
        let twice = repo.error(
            "copy:\n  - {from: python_modules, to: a/b}\n  - {from: python_modules/dagster, to: a/b}\n",
        );
        assert!(
            twice.ends_with("image.yaml:3: `a/b` is the destination of an earlier copy too"),
            "{twice}"
        );
        for to in
            RESERVED
                .iter()
                .copied()
                .chain(["dockerfile", "Last_Updated.yaml", "Dockerfile/x"])
        {
            let error = repo.error(&format!(
                "copy:\n  - {{from: python_modules, to: '{to}'}}\n"
            ));
            assert!(
                error.contains("which a copy may not replace"),
                "{to}: {error}"
            );
        }
    }

    #[test]
    fn paths_with_a_newline_or_another_control_character_are_refused() {
        let repo = Repo::new();
        for entry in [
            "{from: python_modules, to: \"x\\n/some/dir\"}",
            "{from: \"python_modules\\n\", to: x}",
            "\"python_modules\\t\"",
            "{from: python_modules, to: \"a\\0b\"}",
        ] {
            let error = repo.error(&format!("copy:\n  - {entry}\n"));
            assert!(error.contains("image.yaml:2:"), "{entry}: {error}");
            assert!(
                error.contains("holds a control character"),
                "{entry}: {error}"
            );
        }
    }

    #[test]
    fn symlinks_leading_out_are_refused() {
        let repo = Repo::new();
        std::os::unix::fs::symlink("/etc", repo.dir.path().join("escape")).unwrap();
        assert!(
            repo.error("copy:\n  - escape\n")
                .contains("`escape` leads outside the repository")
        );
        std::os::unix::fs::symlink("/tmp", repo.dir.path().join("images/app/out")).unwrap();
        let error = repo.error("copy:\n  - {from: python_modules, to: out/x}\n");
        assert!(
            error.contains("`out/x` leads outside the image folder"),
            "{error}"
        );
    }

    #[test]
    fn references_are_files_of_the_repository_resolved() {
        let repo = Repo::new();
        fs_err::write(
            repo.dir.path().join("python_modules/Dockerfile"),
            "FROM x\n",
        )
        .unwrap();
        let link = repo.dir.path().join("images/app/Dockerfile.test");
        std::os::unix::fs::symlink("../../python_modules/Dockerfile", &link).unwrap();
        let config = repo
            .parse("references:\n  - python_modules/Dockerfile\n  - images/app/Dockerfile.test\n")
            .unwrap();
        let file = fs_err::canonicalize(repo.dir.path().join("python_modules/Dockerfile")).unwrap();
        assert_eq!(config.references, [file.clone(), file]);
    }

    #[test]
    fn references_leaving_the_repository_or_missing_are_refused_at_their_line() {
        let repo = Repo::new();
        std::os::unix::fs::symlink("/etc/hostname", repo.dir.path().join("escape")).unwrap();
        for (entry, problem) in [
            (
                "../x",
                "`../x` must be a path inside the repository, relative and without `..`",
            ),
            (
                "/etc/hostname",
                "`/etc/hostname` must be a path inside the repository",
            ),
            ("escape", "`escape` leads outside the repository"),
            ("missing", "`missing` does not exist in the repository"),
            ("python_modules", "`python_modules` is not a file"),
        ] {
            let error = repo.error(&format!("copy: []\nreferences:\n  - {entry}\n"));
            assert!(
                error.contains(&format!("image.yaml:3: {problem}")),
                "{error}"
            );
        }
    }

    #[test]
    fn secrets_are_read_in_order_and_refused_at_their_line() {
        let repo = Repo::new();
        let config = repo
            .parse("secrets:\n  - {id: pip, env: PIP_TOKEN}\n  - {id: npm, src: .npmrc}\n")
            .unwrap();
        let ids: Vec<&str> = config.secrets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["pip", "npm"]);
        let twice = repo.error("secrets:\n  - {id: pip, env: A}\n  - {id: pip, env: B}\n");
        assert!(
            twice.ends_with("image.yaml:3: secret `pip` is declared twice"),
            "{twice}"
        );
        let typo = repo.error("secrets:\n  - {id: pip, evn: A}\n");
        assert!(typo.contains("image.yaml:2"), "{typo}");
        assert!(typo.contains("unknown field `evn`"), "{typo}");
        let bad_id = repo.error("secrets:\n  - {id: pip, env: A}\n  - {id: a/b, env: A}\n");
        assert!(
            bad_id.contains("image.yaml:3: \"a/b\" is not a secret id"),
            "{bad_id}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let repo = Repo::new();
        assert!(
            repo.error("copies: []\n")
                .contains("unknown field `copies`")
        );
    }

    #[test]
    fn platforms_are_read_in_order_and_each_checked_at_its_line() {
        let repo = Repo::new();
        let config = repo
            .parse("platforms: [linux/amd64, linux/arm64]\n")
            .unwrap();
        let spelled: Vec<String> = config.platforms.iter().map(Platform::to_string).collect();
        assert_eq!(spelled, ["linux/amd64", "linux/arm64"]);
        assert!(repo.parse("copy: []\n").unwrap().platforms.is_empty());
        let error = repo.error("platforms:\n  - linux/amd64\n  - linux/arm64,linux/amd64\n");
        assert!(error.contains(":3"), "{error}");
        assert!(error.contains("`linux/arm64,linux/amd64` is not a valid platform"));
        let error = repo.error("platforms:\n  - linux/arm64\n  - linux/arm64\n");
        assert!(error.contains("`linux/arm64` is listed twice"), "{error}");
    }
}
