//! `check [--name N] [--json]`: reads every image folder, applies the rules of [`crate::check`]
//! and lists the problems on stdout, as text or as a JSON array. Builds and changes nothing.

use std::collections::BTreeSet;
use std::path::Path;

use crate::catalog::{self, Catalog, ImageConfig, LastUpdated, file, versions};
use crate::check::{self, Folder, Folders, Problem};
use crate::error::{Error, Result};
use crate::{build_context, digest};

use crate::ops::Session;

/// Lists the problems of the catalog, or of `name` and the images it builds on; an error when
/// there are any.
pub fn check(session: &Session, name: Option<&str>, json: bool) -> Result<()> {
    let catalog = session.catalog()?;
    let names = catalog.names()?;
    if let Some(name) = name {
        require_image(catalog, &names, name)?;
    }
    let repository = catalog.repository_root();
    let folders: Folders = names
        .into_iter()
        .map(|name| (name.clone(), read_folder(catalog, &repository, name)))
        .collect();
    let scope: BTreeSet<String> = match name {
        Some(name) => check::with_bases(&folders, name),
        None => folders.keys().cloned().collect(),
    };
    let mut problems: Vec<Problem> = check::problems(&folders)
        .into_iter()
        .filter(|p| scope.contains(&p.image))
        .collect();
    if name.is_none() {
        let not_images = check::folders_without_versions(
            catalog.dir(),
            &catalog.folders()?,
            &folders.keys().cloned().collect::<Vec<_>>(),
        );
        problems.extend(not_images);
    }
    if json {
        let text = serde_json::to_string_pretty(&problems)
            .map_err(|e| catalog::Error::Io(std::io::Error::other(e)))?;
        session.out.data(&format!("{text}\n"));
    } else {
        session.out.data(&check::as_text(&problems));
    }
    match problems.len() {
        0 => {
            session
                .out
                .say(format_args!("no problems in {} image(s)", scope.len()));
            Ok(())
        }
        count => Err(Error::ProblemsFound { count }),
    }
}

/// Fails, as bad input, when `name` is not an image folder of the catalog.
fn require_image(catalog: &Catalog, names: &[String], name: &str) -> Result<()> {
    if names.iter().any(|n| n == name) {
        return Ok(());
    }
    // Not an image folder, so reading it fails, saying why (a bad name, or a likely typo).
    catalog.image(name)?;
    Ok(())
}

/// The copies of `config` that cannot be made (a FIFO, a link leading out), and why.
fn config_problems(config: &catalog::Result<ImageConfig>) -> Vec<(std::path::PathBuf, String)> {
    config.as_ref().map_or_else(
        |_| Vec::new(),
        |config| build_context::problems(&config.copies),
    )
}

/// Every file of the image folder `name`, or why it could not be read.
fn read_folder(catalog: &Catalog, repository: &Path, name: String) -> Folder {
    let dir = catalog.dir().join(&name);
    let config = ImageConfig::read(&dir, repository);
    Folder {
        versions: versions::read(&dir.join("versions.yaml")),
        last_updated: LastUpdated::read(&dir.join("last_updated.yaml")),
        dockerfile: file::read_text(&dir.join("Dockerfile")),
        context: digest::context_paths(&dir),
        uncopiable: config_problems(&config),
        config,
        name,
        dir,
    }
}
