//! The manifests the tool's own client pushed, kept beside the catalog
//! (`.dagster-image/pushed-digests.json`): for each local image ID, `REPOSITORY@DIGEST` of each
//! push, as docker's `RepoDigests` records what `docker push` pushed. The up-to-date check of
//! the next push then finds such a tag with a `HEAD` alone (Docker Hub counts no pull for it),
//! not a `GET` of its manifest. A file that cannot be read or written only costs that `GET`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::engine::LocalImages;

use super::Session;

const FILE: &str = "pushed-digests.json";

/// `REPOSITORY@DIGEST`s by local image ID, and where they are kept.
#[derive(Debug, Default)]
pub struct PushedDigests {
    path: Option<PathBuf>,
    by_image: BTreeMap<String, BTreeSet<String>>,
    changed: bool,
}

impl PushedDigests {
    /// Those kept beside the catalog of `context`; none when there is no catalog or no file.
    pub fn load(session: &Session) -> Self {
        let Ok(catalog) = session.catalog() else {
            return Self::default();
        };
        let path = super::state_path(catalog).join(FILE);
        let by_image = fs_err::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Self {
            path: Some(path),
            by_image,
            changed: false,
        }
    }

    /// Adds to each of the `local` images the digests its pushes got.
    pub fn add_to(&self, local: &mut LocalImages) {
        for (id, digests) in &self.by_image {
            local.add_repo_digests(id, digests.iter().cloned());
        }
    }

    /// Notes that the image `image_id` was pushed to `repository` as the manifest `digest`.
    pub fn record(&mut self, image_id: &str, repository: &str, digest: &str) {
        let entry = self.by_image.entry(image_id.to_owned()).or_default();
        self.changed |= entry.insert(format!("{repository}@{digest}"));
    }

    /// Writes them back beside the catalog when they changed; a failure is said under
    /// `--debug` only.
    pub fn save(&self, session: &Session) {
        let Some(path) = self.path.as_deref().filter(|_| self.changed) else {
            return;
        };
        let written = session
            .catalog()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(super::state_dir)
            .and_then(|_| serde_json::to_vec_pretty(&self.by_image).map_err(std::io::Error::other))
            .and_then(|json| crate::atomic::write(path, &json));
        if let Err(error) = written {
            session.out.debug(format_args!(
                "cannot keep the pushed digests in `{}`: {error}",
                path.display()
            ));
        }
    }
}
