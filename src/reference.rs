//! How images are named: an image-version ([`Target`]), the tag part `py<V>-<timestamp>`, the
//! local tag `dagster/<image>:py<V>-<timestamp>`. The registry's names are made by
//! [`crate::registry::Registry::image_tag`], from the same tag part.

/// Repository of locally built images: `dagster/<name>`.
pub const LOCAL_NAMESPACE: &str = "dagster";

/// The default timestamp: the time in UTC, the seed tool's format, which sorts as text in time
/// order.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H%M%S";

/// An image-version: one image built for one Python version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub image: String,
    pub python_version: String,
}

impl Target {
    pub fn new(image: &str, python_version: &str) -> Self {
        Self {
            image: image.to_owned(),
            python_version: python_version.to_owned(),
        }
    }
}

/// The local tag of an image-version built at `timestamp`.
pub fn local_tag(image: &str, python_version: &str, timestamp: &str) -> String {
    format!(
        "{LOCAL_NAMESPACE}/{image}:{}",
        version_tag(python_version, timestamp)
    )
}

/// The local tag of one platform's image of a multi-platform image-version (None: the local
/// tag without a platform).
pub fn local_platform_tag(
    image: &str,
    python_version: &str,
    timestamp: &str,
    platform: Option<&str>,
) -> String {
    format!(
        "{LOCAL_NAMESPACE}/{image}:{}",
        platform_version_tag(python_version, timestamp, platform)
    )
}

/// The tag part of one platform's image of a multi-platform image-version:
/// `py<V>-<timestamp>-<os>-<arch>[-<variant>]`; the tag part without a platform otherwise.
pub fn platform_version_tag(
    python_version: &str,
    timestamp: &str,
    platform: Option<&str>,
) -> String {
    let tag = version_tag(python_version, timestamp);
    match platform {
        Some(platform) => format!("{tag}-{}", platform.replace('/', "-")),
        None => tag,
    }
}

/// The repository of `image` under `namespace`: `dagster/<image>` locally, `<registry>/<image>`
/// in a registry given as `HOST[:PORT][/PATH]`.
pub fn repository(namespace: &str, image: &str) -> String {
    format!("{namespace}/{image}")
}

/// The tag part shared by local and pushed images: `py<V>-<timestamp>`.
pub fn version_tag(python_version: &str, timestamp: &str) -> String {
    format!("py{python_version}-{timestamp}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_tags_keep_the_python_version_as_written() {
        assert_eq!(
            local_tag("app", "3.10", "2020-07-11T040642"),
            "dagster/app:py3.10-2020-07-11T040642"
        );
        assert_eq!(version_tag("3.9.12", "T"), "py3.9.12-T");
        assert_eq!(
            platform_version_tag("3.10", "T", Some("linux/arm/v7")),
            "py3.10-T-linux-arm-v7"
        );
        assert_eq!(platform_version_tag("3.10", "T", None), "py3.10-T");
    }
}
