//! `image.yaml`: optional settings of an image. `copy:` lists files and folders of the
//! repository to put into the image's build context for its builds (the seed did this with
//! per-image Python code): `path` (relative to the repository root, copied to
//! `build_cache/<basename>`) or `{from: path, to: path relative to the image folder}`.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{Error, Result};
use super::yaml;

/// Where `copy: [path]` entries go inside the image folder.
pub const BUILD_CACHE: &str = "build_cache";

/// The settings of one image; all empty when it has no `image.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub copies: Vec<Copy>,
}

/// One thing to copy into the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Inside the repository, resolved (symlinks followed).
    pub from: PathBuf,
    /// Relative to the image folder, without `..`.
    pub to: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    copy: Vec<Spanned<RawCopy>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCopy {
    Path(String),
    Pair(RawPair),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    from: String,
    to: String,
}

impl ImageConfig {
    /// Reads `<image_dir>/image.yaml` when there is one.
    pub fn read(image_dir: &Path, repository: &Path) -> Result<Self> {
        let path = image_dir.join("image.yaml");
        if !path.exists() {
            return Ok(Self::default());
        }
        Self::parse(&path, &yaml::read_text(&path)?, image_dir, repository)
    }

    pub fn parse(path: &Path, text: &str, image_dir: &Path, repository: &Path) -> Result<Self> {
        let raw: Option<RawConfig> = yaml::parse(path, text)?;
        let copies = raw.map(|raw| raw.copy).unwrap_or_default();
        let check = |entry: Spanned<RawCopy>| {
            let line = entry.referenced.line();
            resolve_copy(entry.value, image_dir, repository).map_err(|problem| Error::InvalidAt {
                path: path.to_owned(),
                line,
                problem,
            })
        };
        Ok(Self {
            copies: copies.into_iter().map(check).collect::<Result<_>>()?,
        })
    }
}

fn resolve_copy(
    raw: RawCopy,
    image_dir: &Path,
    repository: &Path,
) -> std::result::Result<Copy, String> {
    let (from, to) = match raw {
        RawCopy::Path(from) => {
            let name = Path::new(&from)
                .file_name()
                .ok_or(format!("`{from}` names no file or folder"))?;
            let to = Path::new(BUILD_CACHE).join(name);
            (from, to)
        }
        RawCopy::Pair(RawPair { from, to }) => {
            check_relative(&to, "the image folder")?;
            (from, PathBuf::from(to))
        }
    };
    check_relative(&from, "the repository")?;
    let source = fs_err::canonicalize(repository.join(&from)).map_err(|_| {
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
    check_stays_inside(image_dir, &to)?;
    Ok(Copy { from: source, to })
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
                    to: "build_cache/dagster".into()
                },
                Copy {
                    from: root.join("python_modules"),
                    to: "vendor/py".into()
                },
            ]
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
    fn unknown_keys_are_refused() {
        let repo = Repo::new();
        assert!(
            repo.error("copies: []\n")
                .contains("unknown field `copies`")
        );
    }
}
