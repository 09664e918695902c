//! Pushing a local image with the tool's own registry client rather than `docker push`: the
//! engine saves the image into a temporary file (`image save`), its layers are gzipped beside it
//! as `docker push` sends them, and the client uploads it from there ([`RegistryClient::push_saved`]), with its own short retries, so that a registry that
//! fails now and then costs seconds, not docker's 5, 10, 15, 20 s layer retries. Used when the
//! engine runs on this machine, or when asked to (`--push-with`).

use std::path::Path;

use crate::engine::{self, CompressedLayer, PushWith, SavedImage};
use crate::error::{Error, Result};
use crate::process::Command;
use crate::registry::RegistryClient;

use super::outcome::Outcome;
use super::{PushedDigests, Session};

/// Whether pushes of this run go through the tool's client: `--push-with client`, or `auto`
/// with an engine on this machine.
pub fn uses_client(session: &Session) -> bool {
    match session.push_with {
        PushWith::Auto => session.docker.is_local(),
        PushWith::Engine => false,
        PushWith::Client => true,
    }
}

/// The engine command that saves `source` into `file`, with its step.
pub fn save_step(session: &Session, source: &str, file: &Path) -> (String, Command) {
    let step = format!("saving `{source}` to push it");
    (step, session.docker.save(source, file))
}

/// Saves `source` and uploads it as each of `targets`, in order, each outcome into `outcome`
/// (the first target that failed, and those after it untried); Err only when interrupted or
/// when the registry's rate limit is spent.
pub fn push_saved(
    session: &Session,
    (client, pushed): (&RegistryClient, &mut PushedDigests),
    source: &str,
    targets: &[String],
    outcome: &mut Outcome,
) -> Result<()> {
    let mut published = 0;
    let result = save(session, source).and_then(|(_dir, saved, layers)| {
        let image_id = saved.id();
        let on_published = &mut |target: &str, digest: &str| {
            outcome.published(target);
            pushed.record(&image_id, crate::registry::split_tag(target).0, digest);
            published += 1;
        };
        client.push_saved((&saved, &layers), targets, on_published)?;
        Ok(())
    });
    match result {
        Ok(()) => Ok(()),
        Err(Error::Interrupted) => Err(Error::Interrupted),
        Err(Error::Process(crate::process::Error::Interrupted)) => Err(Error::Interrupted),
        Err(Error::Remote(error)) if error.is_interrupted() => Err(Error::Interrupted),
        // Every next push would be refused too.
        Err(Error::Remote(error)) if error.is_rate_limited() => Err(Error::Remote(error)),
        Err(error) => {
            let target = &targets[published];
            outcome.failed(target, error);
            outcome.untried(targets[published + 1..].iter().cloned());
            Ok(())
        }
    }
}

/// `source` saved by the engine into a temporary folder (removed when dropped), read, and its
/// layers gzipped into that folder.
fn save(
    session: &Session,
    source: &str,
) -> Result<(tempfile::TempDir, SavedImage, Vec<CompressedLayer>)> {
    let step = "making a folder for the saved image";
    let io = |source| crate::process::Error::Io {
        step: step.to_owned(),
        source,
    };
    let dir = tempfile::Builder::new()
        .prefix("dagster-image-push-")
        .tempdir()
        .map_err(io)?;
    let file = dir.path().join("image.tar");
    let (step, command) = save_step(session, source, &file);
    command.output(&step, None)?;
    let unreadable = |e: engine::ArchiveError| engine::Error::Unreadable {
        step: step.clone(),
        command: command.to_string(),
        why: e.to_string(),
    };
    let saved = SavedImage::read(&file).map_err(unreadable)?;
    let layers = saved.compressed_layers().map_err(unreadable)?;
    Ok((dir, saved, layers))
}
