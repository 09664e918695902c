//! `prune [--name N] [--images] [--dry-run]`: removes the `last_updated.yaml` entries of Python
//! versions that versions.yaml no longer has and, with `--images`, the local images of builds
//! that no entry names any more (see [`crate::prune`] for which), and with `--remote` the old
//! tags in the registry ([`super::prune_remote`]). Prints what it removed, or
//! would remove, on stdout, and the space that freed.

use std::collections::BTreeSet;

use crate::catalog::{Error as CatalogError, Image, LastUpdated};
use crate::engine::LocalImage;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::prune;
use crate::reference::LOCAL_NAMESPACE;

use super::prune_remote::Remote;

use crate::lock::Lock;
use crate::ops::{Session, builds_lock, state_dir};

pub fn prune(
    session: &Session,
    name: Option<&str>,
    images: bool,
    remote: Option<Remote>,
    dry_run: bool,
) -> Result<()> {
    let catalog = session.catalog()?;
    let names = match name {
        Some(name) => vec![name.to_owned()],
        None => catalog.names()?,
    };
    let catalog_images = names
        .iter()
        .map(|name| catalog.image(name))
        .collect::<std::result::Result<Vec<Image>, _>>()?;
    let mut removed = 0;
    for image in &catalog_images {
        removed += prune_entries(&session.out, image, dry_run)?;
    }
    if images {
        removed += prune_images(session, &catalog_images, dry_run)?;
    }
    if let Some(remote) = remote {
        removed += super::prune_remote::prune_remote(session, &catalog_images, &remote, dry_run)?;
    }
    if removed == 0 {
        session.out.data("nothing to prune\n");
    }
    Ok(())
}

/// Removes the entries of `image` for versions it no longer has; returns how many.
fn prune_entries(out: &Output, image: &Image, dry_run: bool) -> Result<usize> {
    let leftovers = image.last_updated.entries_not_in(&image.versions);
    if leftovers.is_empty() {
        return Ok(0);
    }
    let path = image.last_updated_path();
    if !dry_run {
        let versions: Vec<String> = leftovers.iter().map(|(v, _)| v.to_string()).collect();
        LastUpdated::remove(&path, &versions)?;
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    let lines: String = leftovers
        .iter()
        .map(|(version, timestamp)| {
            format!("{verb} '{version}': {timestamp} from {}\n", path.display())
        })
        .collect();
    out.data(&lines);
    Ok(leftovers.len())
}

/// Removes the local images of old builds of `images`; returns how many tags it removed.
fn prune_images(session: &Session, images: &[Image], dry_run: bool) -> Result<usize> {
    let (idle, _locks) = idle_images(session, images)?;
    let listing = session.docker.local_tags(&format!("{LOCAL_NAMESPACE}/*"))?;
    let mut doomed: Vec<String> = listing
        .into_iter()
        .filter(|reference| prune::is_old_build(&idle, reference))
        .collect();
    // Sorted, so that the report does not depend on docker's order of images built together.
    doomed.sort();
    if doomed.is_empty() {
        return Ok(0);
    }
    let described = describe_images(session, &doomed)?;
    let freed = if dry_run {
        would_free(&session.out, &doomed, &described)
    } else {
        remove_images(session, &doomed, &described)?
    };
    let verb = if dry_run { "would free" } else { "freed" };
    session.out.data(&format!(
        "{verb} up to {} (docker's image sizes, which count the layers shared with images that stay)\n",
        prune::human_size(freed)
    ));
    Ok(doomed.len())
}

/// The images of `images` that no running build is making, with the locks that keep new builds
/// of them waiting until the prune ends; says which it leaves alone.
fn idle_images(session: &Session, images: &[Image]) -> Result<(Vec<Image>, Vec<Lock>)> {
    let state_dir = state_dir(session.catalog()?).map_err(CatalogError::Io)?;
    let (mut idle, mut locks) = (Vec::new(), Vec::new());
    for image in images {
        let path = builds_lock(&state_dir, &image.name).map_err(CatalogError::Io)?;
        match Lock::try_file_exclusive(&path).map_err(CatalogError::Io)? {
            Some(lock) => {
                locks.push(lock);
                idle.push(image.clone());
            }
            None => session.out.say(format_args!(
                "skipping the images of `{}`: a run is building it (prune it once that run ends)",
                image.name
            )),
        }
    }
    Ok((idle, locks))
}

/// Each of `references` as the engine describes it, in the same order.
fn describe_images(session: &Session, references: &[String]) -> Result<Vec<LocalImage>> {
    let local = session.docker.local_images(references)?;
    references
        .iter()
        .map(|reference| {
            local
                .get(reference)
                .cloned()
                .ok_or_else(|| Error::WentAway {
                    reference: reference.clone(),
                })
        })
        .collect()
}

/// What removing `doomed` would free: the images none of whose tags would stay.
fn would_free(out: &Output, doomed: &[String], described: &[LocalImage]) -> u64 {
    let mut freed = 0;
    let mut counted = BTreeSet::new();
    for (reference, image) in doomed.iter().zip(described) {
        let deleted = image.tags.iter().all(|tag| doomed.contains(tag));
        if deleted && counted.insert(&image.id) {
            freed += image.size;
        }
        out.data(&outcome_line(reference, image, deleted, true));
    }
    freed
}

/// Removes each of `doomed`; returns the size of the images docker deleted.
fn remove_images(session: &Session, doomed: &[String], described: &[LocalImage]) -> Result<u64> {
    let mut freed = 0;
    for (reference, image) in doomed.iter().zip(described) {
        let deleted = session.docker.remove_image(reference)?.contains(&image.id);
        if deleted {
            freed += image.size;
        }
        session
            .out
            .data(&outcome_line(reference, image, deleted, false));
    }
    Ok(freed)
}

fn outcome_line(reference: &str, image: &LocalImage, deleted: bool, dry_run: bool) -> String {
    let (remove, untag) = if dry_run {
        ("would remove", "would untag")
    } else {
        ("removed", "untagged")
    };
    if deleted {
        format!("{remove} {reference} ({})\n", prune::human_size(image.size))
    } else {
        format!("{untag} {reference} (the image stays: another tag or image uses it)\n")
    }
}
