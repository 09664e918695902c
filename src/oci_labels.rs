//! The standard OCI labels every image gets (`org.opencontainers.image.*`): where its source is,
//! at which commit, when it was built and as which version. They are put beside the input-digest
//! labels and are no input of the digest, so that a new commit alone makes nothing stale.

use crate::reference::{TIMESTAMP_FORMAT, Timestamp};

/// The repository's remote URL, without credentials.
pub const SOURCE: &str = "org.opencontainers.image.source";
/// The commit built (git's `HEAD`).
pub const REVISION: &str = "org.opencontainers.image.revision";
/// When it was built: the run's timestamp, as RFC 3339.
pub const CREATED: &str = "org.opencontainers.image.created";
/// `py<V>-<T>`, or the Dagster version of a release.
pub const VERSION: &str = "org.opencontainers.image.version";

/// What git says of the catalog's repository; each part unknown without git, a commit or an
/// `origin` remote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The `origin` remote's URL, as git gives it (credentials are removed here).
    pub remote: Option<String>,
    /// The commit of `HEAD`.
    pub revision: Option<String>,
}

/// The OCI labels of an image built from `provenance` at `timestamp` as `version`; a label whose
/// value is unknown is left out.
pub fn labels(
    provenance: &Provenance,
    timestamp: &Timestamp,
    version: &str,
) -> Vec<(String, String)> {
    let source = provenance.remote.as_deref().map(without_credentials);
    [
        (SOURCE, source),
        (REVISION, provenance.revision.clone()),
        (CREATED, created(timestamp)),
        (VERSION, Some(version.to_owned())),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_owned(), value?)))
    .collect()
}

/// `timestamp` (`%Y-%m-%dT%H%M%S`, in UTC) as RFC 3339; None for a timestamp given in another
/// form (`-t nightly`), which says no time.
pub fn created(timestamp: &Timestamp) -> Option<String> {
    let time = jiff::civil::DateTime::strptime(TIMESTAMP_FORMAT, timestamp.as_str()).ok()?;
    Some(time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A remote URL without the `user[:password]@` of a `scheme://` URL, which may hold a token.
/// The user of an scp-like address (`git@github.com:org/repo.git`) is no secret and stays.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Provenance {
        Provenance {
            remote: Some("https://x-access-token:ghs_SECRET@github.com/team/images.git".into()),
            revision: Some("0123abcd".into()),
        }
    }

    #[test]
    fn every_label_known_in_order_with_the_source_without_credentials() {
        let timestamp = Timestamp::recorded("2026-12-06T225728");
        assert_eq!(
            labels(&known(), &timestamp, "py3.10-2026-12-06T225728"),
            [
                (SOURCE.into(), "https://github.com/team/images.git".into()),
                (REVISION.into(), "0123abcd".into()),
                (CREATED.into(), "2026-12-06T22:57:28Z".into()),
                (VERSION.into(), "py3.10-2026-12-06T225728".into()),
            ]
        );
    }

    #[test]
    fn an_unknown_value_leaves_its_label_out() {
        let timestamp = Timestamp::recorded("nightly");
        let labels = labels(&Provenance::default(), &timestamp, "1.2.3");
        assert_eq!(labels, [(VERSION.into(), "1.2.3".into())]);
    }

    #[test]
    fn credentials_of_a_url_are_removed_and_an_scp_address_kept() {
        assert_eq!(
            without_credentials("https://user:pass@host:8443/a/b.git?x=1"),
            "https://host:8443/a/b.git?x=1"
        );
        assert_eq!(
            without_credentials("https://TOKEN@host/a"),
            "https://host/a"
        );
        assert_eq!(without_credentials("ssh://git@host/a@b"), "ssh://host/a@b");
        assert_eq!(
            without_credentials("git@github.com:team/images.git"),
            "git@github.com:team/images.git"
        );
        assert_eq!(without_credentials("/srv/git/images"), "/srv/git/images");
    }

    #[test]
    fn created_is_rfc_3339_only_for_the_tools_timestamp_format() {
        let at = |t: &str| created(&Timestamp::recorded(t));
        assert_eq!(
            at("2020-07-11T040642").as_deref(),
            Some("2020-07-11T04:06:42Z")
        );
        assert_eq!(at("2020-07-11"), None);
        assert_eq!(at("2020-13-11T040642"), None);
    }
}
