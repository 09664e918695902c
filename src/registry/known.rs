//! The upstream manifests a run read, kept beside the catalog with their digests
//! (`.dagster-image/upstream-manifests.json`), so that the next run asks each registry with a
//! `HEAD` (its `Docker-Content-Digest`; Docker Hub counts no pull for it) and reads (`GET`) only
//! a manifest whose digest moved. For an index the index's digest is compared, and the
//! platform's entry found in the index kept. A file that cannot be read is no error: it only
//! saves requests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use crate::debug;

/// The manifests known from earlier runs, by reference, and where they are kept.
#[derive(Debug, Default)]
pub struct KnownManifests {
    path: Option<PathBuf>,
    by_reference: BTreeMap<String, Known>,
    changed: bool,
}

/// One manifest as read: its digest and its exact bytes (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Known {
    digest: String,
    manifest: String,
}

impl KnownManifests {
    /// The manifests kept in `path`; none when it is missing or unreadable.
    pub fn load(path: &Path) -> Self {
        let by_reference = fs_err::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Self {
            path: Some(path.to_owned()),
            by_reference,
            changed: false,
        }
    }

    /// The manifests kept in `path`, as [`KnownManifests::load`], never written back.
    pub fn read_only(path: &Path) -> Self {
        Self {
            path: None,
            ..Self::load(path)
        }
    }

    /// The manifest last read for `reference`, if any.
    pub(super) fn get(&self, reference: &str) -> Option<Manifest> {
        let known = self.by_reference.get(reference)?;
        let bytes = known.manifest.clone().into_bytes();
        Manifest::parse(bytes, known.digest.clone()).ok()
    }

    /// Keeps `manifest` as the one `reference` names now.
    pub(super) fn record(&mut self, reference: &str, manifest: &Manifest) {
        let Ok(text) = String::from_utf8(manifest.bytes.clone()) else {
            return;
        };
        let known = Known {
            digest: manifest.digest.clone(),
            manifest: text,
        };
        let same = self
            .by_reference
            .get(reference)
            .is_some_and(|k| k.digest == known.digest);
        if !same {
            self.by_reference.insert(reference.to_owned(), known);
            self.changed = true;
        }
    }

    /// Writes the manifests back when they changed; a failure is said under `--debug` only.
    pub(super) fn save(&self) {
        let Some(path) = self.path.as_deref().filter(|_| self.changed) else {
            return;
        };
        let written = serde_json::to_vec_pretty(&self.by_reference)
            .map_err(std::io::Error::other)
            .and_then(|json| crate::atomic::write(path, &json));
        if let Err(error) = written {
            debug::line(format_args!(
                "cannot keep the upstream manifests in `{}`: {error}",
                path.display()
            ));
        }
    }
}
