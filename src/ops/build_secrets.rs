//! The checks a run of builds with `image.yaml` `secrets:` makes before anything runs: every
//! secret's source is there (its environment variable set, its file a file, outside the build
//! context), and the engine's builder takes `--secret` (BuildKit and podman do; Docker's classic
//! builder does not). Each failure is bad input (exit 2) naming the secret and its source.

use std::path::Path;

use crate::catalog::{BuildSecret, Image, SecretSource};
use crate::engine::Docker;
use crate::error::SecretError as Error;

/// Every secret of `images` has its source: a set variable, a regular file (a link to one is
/// followed) that neither the image folder nor an `image.yaml` copy holds, since the build
/// context is sent to the engine and counted in the input digest.
pub fn check_sources<'a>(images: impl IntoIterator<Item = &'a Image>) -> Result<(), Error> {
    for image in images {
        for secret in &image.config.secrets {
            check_source(image, secret)?;
        }
    }
    Ok(())
}

fn check_source(image: &Image, secret: &BuildSecret) -> Result<(), Error> {
    let path = match &secret.source {
        SecretSource::Env(variable) if std::env::var_os(variable).is_none() => {
            return Err(Error::VariableMissing {
                image: image.name.to_string(),
                id: secret.id.clone(),
                variable: variable.clone(),
            });
        }
        SecretSource::Env(_) => return Ok(()),
        SecretSource::File { path, .. } => path,
    };
    let unusable = |why: String| Error::FileUnusable {
        image: image.name.to_string(),
        id: secret.id.clone(),
        path: path.clone(),
        why,
    };
    match fs_err::metadata(path) {
        Ok(metadata) if metadata.is_file() => {}
        Ok(_) => return Err(unusable("is not a file".to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unusable("does not exist".to_owned()));
        }
        Err(e) => return Err(unusable(format!("cannot be read: {e}"))),
    }
    match in_build_context(image, path) {
        Some(place) => Err(unusable(format!(
            "is in the build context ({place}), which is sent to the engine"
        ))),
        None => Ok(()),
    }
}

/// Where the build context of `image` holds `file`, if it does: the image folder, or a copy.
fn in_build_context(image: &Image, file: &Path) -> Option<String> {
    let file = fs_err::canonicalize(file).ok()?;
    let inside =
        |folder: &Path| fs_err::canonicalize(folder).is_ok_and(|folder| file.starts_with(folder));
    if inside(&image.dir) {
        return Some("the image folder".to_owned());
    }
    image
        .config
        .copies
        .iter()
        .find(|copy| inside(&copy.from))
        .map(|copy| format!("the copy of `{}`", copy.from.display()))
}

/// The engine builds with `--secret` when any of `images` has secrets; asked once, only then.
pub fn check_engine<'a>(
    docker: &Docker,
    images: impl IntoIterator<Item = &'a Image>,
) -> Result<(), Error> {
    let Some(image) = images
        .into_iter()
        .find(|image| !image.config.secrets.is_empty())
    else {
        return Ok(());
    };
    match docker.passes_build_secrets()? {
        true => Ok(()),
        false => Err(Error::ClassicBuilder {
            image: image.name.to_string(),
        }),
    }
}
