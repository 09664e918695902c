//! The catalog: `images/<name>/` folders read into typed values (images, Python versions, build
//! arguments, base images, timestamps). Knows YAML; knows nothing of docker.

pub mod build_secret;
mod error;
pub mod file;
pub mod graph;
pub mod image_config;
pub mod last_updated;
pub mod versions;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

pub use build_secret::{BuildSecret, SecretSource};
pub use error::{Error, Result};
pub use image_config::ImageConfig;
pub use last_updated::LastUpdated;
pub use versions::{BASE_IMAGE_ARG, BaseImage, BaseSource, VersionSpec};

use crate::names;
use crate::reference::{ImageName, PythonVersion, Target, Timestamp};

/// Where the seed's repository keeps its images, relative to the git root.
const SEED_IMAGES_DIR: &str = "python_modules/automation/automation/docker/images";

/// A folder of image folders.
#[derive(Debug, Clone)]
pub struct Catalog {
    dir: PathBuf,
}

/// One image folder, read.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its folder's name, checked as Docker takes it when the image was read.
    pub name: ImageName,
    pub dir: PathBuf,
    /// Python version -> how to build it, in build order.
    pub versions: IndexMap<PythonVersion, VersionSpec>,
    pub last_updated: LastUpdated,
    /// `image.yaml`, when the image has one.
    pub config: ImageConfig,
}

/// The image `name` among the `images` a command read: an error, not a panic, when it was not
/// read (every image a plan reaches is).
/// `name` is an [`ImageName`], or the text of one given on the command line.
pub fn lookup<'a, Name>(images: &'a BTreeMap<ImageName, Image>, name: &Name) -> Result<&'a Image>
where
    Name: Ord + std::fmt::Display + ?Sized,
    ImageName: std::borrow::Borrow<Name>,
{
    images.get(name).ok_or_else(|| Error::NotRead {
        name: name.to_string(),
    })
}

impl Catalog {
    /// The catalog at `explicit`, else `./images`, else the seed's layout under the git root.
    pub fn locate(explicit: Option<&Path>, cwd: &Path) -> Result<Self> {
        if let Some(dir) = explicit {
            return Self::open(dir);
        }
        let local = cwd.join("images");
        if local.is_dir() {
            return Self::open(&local);
        }
        let seed = git_root(cwd).unwrap_or(cwd).join(SEED_IMAGES_DIR);
        if seed.is_dir() {
            return Self::open(&seed);
        }
        Err(Error::NoImagesDir { looked_for: seed })
    }

    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::NotADirectory(dir.to_owned()));
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The repository the catalog lives in: its git root, else the catalog's parent.
    pub fn repository_root(&self) -> PathBuf {
        let dir = fs_err::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        git_root(&dir)
            .or_else(|| dir.parent())
            .unwrap_or(&dir)
            .to_owned()
    }

    /// Every folder of the images folder, hidden ones and links to folders included, sorted:
    /// what the original tool's `list` prints (it took each for an image).
    pub fn folders(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs_err::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.path().is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Names of the image folders (those holding a `versions.yaml`), sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs_err::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().join("versions.yaml").is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads the image `name`.
    pub fn image(&self, name: &str) -> Result<Image> {
        names::check_image_name(name).map_err(|why| Error::InvalidValue {
            what: "image name",
            value: name.to_owned(),
            why,
        })?;
        let dir = self.dir.join(name);
        let versions_path = dir.join("versions.yaml");
        if !versions_path.is_file() {
            let names = self.names()?;
            return Err(Error::UnknownImage {
                name: name.to_owned(),
                dir: self.dir.clone(),
                suggestion: names::suggest(name, names.iter().map(String::as_str))
                    .map(str::to_owned),
            });
        }
        let versions = versions::read(&versions_path)?;
        let last_updated = LastUpdated::read(&dir.join("last_updated.yaml"))?;
        let config = ImageConfig::read(&dir, &self.repository_root())?;
        Ok(Image {
            name: ImageName::of_catalog(name),
            dir,
            versions,
            last_updated,
            config,
        })
    }

    /// Reads every image.
    pub fn all_images(&self) -> Result<BTreeMap<ImageName, Image>> {
        let names = self.names()?;
        self.images_with_bases(&names)
    }

    /// Reads `roots` and, transitively, every image they name as `base_image`. A base that is
    /// not an image of the catalog is an error naming the line that declares it.
    pub fn images_with_bases(&self, roots: &[String]) -> Result<BTreeMap<ImageName, Image>> {
        let mut images = BTreeMap::new();
        graph::reachable(roots, |name| -> Result<Vec<String>> {
            let image = self.image(name)?;
            let mut bases = Vec::new();
            for (version, spec) in &image.versions {
                if let Some(base) = &spec.base_image {
                    self.check_base_exists(&image, version, base)?;
                    bases.push(base.name.to_string());
                }
            }
            images.insert(image.name.clone(), image);
            Ok(bases)
        })?;
        Ok(images)
    }

    fn check_base_exists(
        &self,
        image: &Image,
        version: &PythonVersion,
        base: &BaseImage,
    ) -> Result<()> {
        if self
            .dir
            .join(base.name.as_str())
            .join("versions.yaml")
            .is_file()
        {
            return Ok(());
        }
        let names = self.names()?;
        let hint = names::suggest(&base.name, names.iter().map(String::as_str))
            .map(|name| format!("; did you mean `{name}`?"))
            .unwrap_or_default();
        Err(Error::InvalidAt {
            path: image.versions_path(),
            line: base.line,
            problem: format!(
                "base image `{}` of Python {version} is not an image of the catalog `{}`{hint}",
                base.name,
                self.dir.display()
            ),
        })
    }
}

#[cfg(test)]
impl Image {
    /// An image of `images/<name>` with `versions` (no build arguments, no base) and the
    /// timestamps `recorded` per version, for unit tests.
    pub(crate) fn fixture(name: &str, versions: &[&str], recorded: &[(&str, &str)]) -> Self {
        let spec = VersionSpec {
            docker_args: IndexMap::new(),
            base_image: None,
        };
        Image {
            name: ImageName::of_catalog(name),
            dir: PathBuf::from("images").join(name),
            versions: versions
                .iter()
                .map(|&v| (PythonVersion::new(v), spec.clone()))
                .collect(),
            last_updated: LastUpdated {
                timestamps: recorded
                    .iter()
                    .map(|&(v, t)| (PythonVersion::new(v), Timestamp::recorded(t)))
                    .collect(),
            },
            config: Default::default(),
        }
    }
}

impl Image {
    pub fn versions_path(&self) -> PathBuf {
        self.dir.join("versions.yaml")
    }

    pub fn last_updated_path(&self) -> PathBuf {
        self.dir.join("last_updated.yaml")
    }

    /// Records `timestamp` as the last successful build of `version` in `last_updated.yaml`,
    /// keeping the file's versions in versions.yaml order.
    pub fn record_build(&self, version: &PythonVersion, timestamp: &Timestamp) -> Result<()> {
        let order: Vec<String> = self.versions.keys().map(PythonVersion::to_string).collect();
        LastUpdated::record(&self.last_updated_path(), version, timestamp, &order)
    }

    /// The spec of `version`, or an error listing the versions there are.
    pub fn version(&self, version: &str) -> Result<&VersionSpec> {
        self.versions
            .get(version)
            .ok_or_else(|| Error::UnknownVersion {
                image: self.name.to_string(),
                version: version.to_owned(),
                path: self.versions_path(),
                known: self.versions.keys().map(PythonVersion::to_string).collect(),
            })
    }

    /// The timestamp of the last build of `version` (checked as tag characters when the file was
    /// read), or an error saying it was never built.
    pub fn last_built(&self, version: &PythonVersion) -> Result<Timestamp> {
        self.last_updated
            .get(version)
            .cloned()
            .ok_or_else(|| Error::NotBuilt {
                image: self.name.to_string(),
                version: version.to_string(),
                path: self.last_updated_path(),
            })
    }

    /// Every image-version of the image, in versions.yaml order.
    pub fn targets(&self) -> Vec<Target> {
        self.versions
            .keys()
            .map(|version| Target {
                image: self.name.clone(),
                python_version: version.clone(),
            })
            .collect()
    }

    /// The first Python version, the one releases are made from.
    pub fn first_version(&self) -> &PythonVersion {
        // versions::parse refuses a file without versions.
        self.versions
            .keys()
            .next()
            .expect("versions.yaml declares a version")
    }
}

fn git_root(start: &Path) -> Option<&Path> {
    start.ancestors().find(|dir| dir.join(".git").exists())
}
