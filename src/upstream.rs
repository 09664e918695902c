//! Upstream images: the images a build starts from that the catalog does not build
//! (`python:3.10-slim`). What a reference is now (the registry's digest, the local copy), what a
//! build recorded it was made from (a [`Pin`]), and whether it moved since. Pure.

use std::fmt;

/// What a build used of an upstream reference: the registry's manifest digest for its platform,
/// or the local image ID when the registry did not know it or could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pin {
    Registry(String),
    Local(String),
}

/// How many hex digits of a digest are shown.
const SHORT: usize = 12;

impl Pin {
    /// As recorded in a label: `sha256:...` for the registry's, `local:sha256:...` for an ID.
    pub fn to_text(&self) -> String {
        match self {
            Pin::Registry(digest) => digest.clone(),
            Pin::Local(id) => format!("local:{id}"),
        }
    }

    /// A recorded pin, as `to_text` wrote it.
    pub fn from_text(text: &str) -> Self {
        match text.strip_prefix("local:") {
            Some(id) => Pin::Local(id.to_owned()),
            None => Pin::Registry(text.to_owned()),
        }
    }

    /// Shortened for a table: `sha256:ab12cd34ef56`, `local sha256:ab12cd34ef56`.
    pub fn short(&self) -> String {
        let shorten = |digest: &str| {
            let (algorithm, hex) = digest.split_once(':').unwrap_or(("", digest));
            let hex: String = hex.chars().take(SHORT).collect();
            match algorithm {
                "" => hex,
                _ => format!("{algorithm}:{hex}"),
            }
        };
        match self {
            Pin::Registry(digest) => shorten(digest),
            Pin::Local(id) => format!("local {}", shorten(id)),
        }
    }
}

/// The registry's answer about a reference for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// `--offline`: the registry was not asked.
    NotAsked,
    /// The registry has no such image (or none for the platform).
    Missing,
    /// The manifest digest for the platform, and every digest a local copy pulled from this
    /// tag may be known by (the index's as well as the platform's).
    Found {
        digest: String,
        aliases: Vec<String>,
    },
    /// The registry could not be asked: which one, and why.
    Failed { registry: String, reason: String },
}

/// The engine's copy of a reference: its image ID and the registry digests it was pulled or
/// pushed as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCopy {
    pub id: String,
    /// Under any name: a digest is of the content, whichever repository holds it.
    pub repo_digests: Vec<String>,
    /// Under the reference's own repository: it came from or went to that registry.
    pub pulled_as: Vec<String>,
}

impl LocalCopy {
    /// Whether the copy never came from, nor went to, a registry under its reference's name (an
    /// image built, imported or tagged here): a build on it needs nothing of that registry.
    pub fn is_local_only(&self) -> bool {
        self.pulled_as.is_empty()
    }
}

/// A reference as this run sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub lookup: Lookup,
    pub local: Option<LocalCopy>,
}

/// An upstream reference against what a build recorded of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Same,
    Moved {
        new: Pin,
    },
    /// Cannot tell: the registry failed (which and why), or there is nothing to compare with.
    Unknown {
        failed: Option<(String, String)>,
    },
}

impl Observed {
    /// Whether the local copy is the image the registry has now.
    fn local_is_current(&self) -> bool {
        match (&self.lookup, &self.local) {
            (Lookup::Found { digest, aliases }, Some(local)) => local
                .repo_digests
                .iter()
                .any(|d| d == digest || aliases.contains(d)),
            _ => false,
        }
    }

    /// What a build made now would use: the registry's image when it pulls (`pulling`), has no
    /// copy, or its copy is the registry's; else its copy; None when there is neither.
    pub fn pin(&self, pulling: bool) -> Option<Pin> {
        let local = self.local.as_ref().map(|l| Pin::Local(l.id.clone()));
        match &self.lookup {
            Lookup::Found { digest, .. }
                if pulling || self.local.is_none() || self.local_is_current() =>
            {
                Some(Pin::Registry(digest.clone()))
            }
            _ => local,
        }
    }

    /// Whether the image `recorded` moved. A registry pin is compared with the registry's
    /// answer (unknown when it failed; with the local copy when not asked or gone from the
    /// registry); a local pin with the local copy, which moved also when the registry now has
    /// another image than that copy.
    pub fn compare(&self, recorded: &Pin) -> Outcome {
        match recorded {
            Pin::Registry(old) => self.compare_registry(old),
            Pin::Local(old) => self.compare_local(old),
        }
    }

    fn compare_registry(&self, old: &str) -> Outcome {
        match &self.lookup {
            Lookup::Found { digest, aliases }
                if digest == old || aliases.iter().any(|a| a == old) =>
            {
                Outcome::Same
            }
            Lookup::Found { digest, .. } => Outcome::Moved {
                new: Pin::Registry(digest.clone()),
            },
            Lookup::Failed { registry, reason } => Outcome::Unknown {
                failed: Some((registry.clone(), reason.clone())),
            },
            Lookup::NotAsked | Lookup::Missing => match &self.local {
                Some(local) if local.repo_digests.iter().any(|d| d == old) => Outcome::Same,
                Some(local) => Outcome::Moved {
                    new: Pin::Local(local.id.clone()),
                },
                None => Outcome::Unknown { failed: None },
            },
        }
    }

    fn compare_local(&self, old: &str) -> Outcome {
        let registry_moved_on =
            matches!(self.lookup, Lookup::Found { .. }) && !self.local_is_current();
        match (&self.local, self.pin(registry_moved_on)) {
            (Some(local), _) if local.id == old && !registry_moved_on => Outcome::Same,
            (_, Some(new)) => Outcome::Moved { new },
            (_, None) => match &self.lookup {
                Lookup::Failed { registry, reason } => Outcome::Unknown {
                    failed: Some((registry.clone(), reason.clone())),
                },
                _ => Outcome::Unknown { failed: None },
            },
        }
    }

    /// The pin that stands for this reference in a build's digest now: the recorded one unless
    /// it moved (so that what cannot be told does not count as a change), else what a build
    /// would use.
    pub fn settled(&self, recorded: Option<&Pin>) -> Option<Pin> {
        match recorded {
            Some(old) => match self.compare(old) {
                Outcome::Moved { new } => Some(new),
                Outcome::Same | Outcome::Unknown { .. } => Some(old.clone()),
            },
            None => self.pin(false),
        }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(digest: &str) -> Lookup {
        Lookup::Found {
            digest: digest.into(),
            aliases: vec![format!("{digest}-index")],
        }
    }

    fn failed() -> Lookup {
        Lookup::Failed {
            registry: "127.0.0.1:5000".into(),
            reason: "it refused the connection".into(),
        }
    }

    fn local(id: &str, repo_digests: &[&str]) -> Option<LocalCopy> {
        local_pulled_as(id, repo_digests, repo_digests)
    }

    fn local_pulled_as(id: &str, repo_digests: &[&str], pulled_as: &[&str]) -> Option<LocalCopy> {
        Some(LocalCopy {
            id: id.into(),
            repo_digests: repo_digests.iter().map(|d| d.to_string()).collect(),
            pulled_as: pulled_as.iter().map(|d| d.to_string()).collect(),
        })
    }

    fn observed(lookup: Lookup, local: Option<LocalCopy>) -> Observed {
        Observed { lookup, local }
    }

    #[test]
    fn pins_round_trip_and_shorten() {
        for pin in [
            Pin::Registry("sha256:ab".into()),
            Pin::Local("sha256:cd".into()),
        ] {
            assert_eq!(Pin::from_text(&pin.to_text()), pin);
        }
        let long = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Pin::Registry(long.clone()).short(), "sha256:aaaaaaaaaaaa");
        assert_eq!(Pin::Local(long).short(), "local sha256:aaaaaaaaaaaa");
    }

    #[test]
    fn a_build_uses_the_registry_image_when_pulling_missing_or_current_else_its_copy() {
        let behind = observed(found("sha256:new"), local("sha256:id", &["sha256:old"]));
        assert_eq!(behind.pin(false), Some(Pin::Local("sha256:id".into())));
        assert_eq!(behind.pin(true), Some(Pin::Registry("sha256:new".into())));
        let current = observed(
            found("sha256:new"),
            local("sha256:id", &["sha256:new-index"]),
        );
        assert_eq!(current.pin(false), Some(Pin::Registry("sha256:new".into())));
        assert_eq!(
            observed(found("sha256:new"), None).pin(false),
            Some(Pin::Registry("sha256:new".into()))
        );
        assert_eq!(observed(failed(), None).pin(true), None);
        assert_eq!(
            observed(Lookup::NotAsked, local("sha256:id", &[])).pin(true),
            Some(Pin::Local("sha256:id".into()))
        );
    }

    /// A plain build asks a registry only about a reference whose copy came from or went to
    /// it under that name; a copy only tagged or built here needs nothing of it.
    #[test]
    fn a_copy_never_pulled_or_pushed_under_its_name_is_local_only() {
        assert!(local("sha256:id", &[]).unwrap().is_local_only());
        let pushed_elsewhere = local_pulled_as("sha256:id", &["sha256:d"], &[]).unwrap();
        assert!(pushed_elsewhere.is_local_only());
        assert!(!local("sha256:id", &["sha256:d"]).unwrap().is_local_only());
    }

    /// A copy pulled by an index is known by the index's digest: the registry's index is still
    /// that one, so it did not move; another index did.
    #[test]
    fn a_pin_of_an_index_digest_is_the_same_while_the_registry_keeps_that_index() {
        let by_index = Pin::Registry("sha256:new-index".into());
        let copy = local("sha256:id", &["sha256:new-index"]);
        assert_eq!(
            observed(found("sha256:new"), copy.clone()).compare(&by_index),
            Outcome::Same
        );
        assert_eq!(
            observed(found("sha256:newer"), copy).compare(&by_index),
            Outcome::Moved {
                new: Pin::Registry("sha256:newer".into())
            }
        );
    }

    #[test]
    fn a_registry_pin_moves_with_the_registry_and_is_unknown_when_it_fails() {
        let old = Pin::Registry("sha256:old".into());
        let copy = local("sha256:id", &["sha256:old"]);
        assert_eq!(
            observed(found("sha256:old"), None).compare(&old),
            Outcome::Same
        );
        assert_eq!(
            observed(found("sha256:new"), copy.clone()).compare(&old),
            Outcome::Moved {
                new: Pin::Registry("sha256:new".into())
            }
        );
        let unknown = observed(failed(), copy.clone()).compare(&old);
        assert!(
            matches!(unknown, Outcome::Unknown { failed: Some(_) }),
            "{unknown:?}"
        );
        assert_eq!(
            observed(Lookup::NotAsked, copy).compare(&old),
            Outcome::Same
        );
        assert_eq!(
            observed(Lookup::NotAsked, local("sha256:other", &[])).compare(&old),
            Outcome::Moved {
                new: Pin::Local("sha256:other".into())
            }
        );
        assert_eq!(
            observed(Lookup::NotAsked, None).compare(&old),
            Outcome::Unknown { failed: None }
        );
    }

    #[test]
    fn a_local_pin_moves_with_the_copy_or_when_the_registry_has_another_image() {
        let old = Pin::Local("sha256:id".into());
        for lookup in [Lookup::NotAsked, Lookup::Missing, failed()] {
            let same = observed(lookup, local("sha256:id", &[]));
            assert_eq!(same.compare(&old), Outcome::Same);
        }
        assert_eq!(
            observed(failed(), local("sha256:id2", &[])).compare(&old),
            Outcome::Moved {
                new: Pin::Local("sha256:id2".into())
            }
        );
        assert_eq!(
            observed(found("sha256:new"), local("sha256:id", &["sha256:old"])).compare(&old),
            Outcome::Moved {
                new: Pin::Registry("sha256:new".into())
            }
        );
        assert_eq!(
            observed(found("sha256:new"), local("sha256:id", &["sha256:new"])).compare(&old),
            Outcome::Same
        );
        assert!(matches!(
            observed(failed(), None).compare(&old),
            Outcome::Unknown { failed: Some(_) }
        ));
    }

    #[test]
    fn what_cannot_be_told_settles_on_the_recorded_pin() {
        let old = Pin::Registry("sha256:old".into());
        assert_eq!(
            observed(failed(), None).settled(Some(&old)),
            Some(old.clone())
        );
        assert_eq!(
            observed(found("sha256:new"), None).settled(Some(&old)),
            Some(Pin::Registry("sha256:new".into()))
        );
        assert_eq!(observed(failed(), None).settled(None), None);
    }
}
