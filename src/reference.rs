//! How images are named: an image-version ([`Target`]), the tag part `py<V>-<timestamp>`, the
//! local tag `dagster/<image>:py<V>-<timestamp>`. The registry's names are made by
//! [`crate::registry::Registry::image_tag`], from the same tag part. The values in names and
//! tags are newtypes ([`ImageName`], [`PythonVersion`], [`Timestamp`], [`Tag`]), checked once
//! where they come from (the command line or the catalog's files).

use std::fmt;
use std::ops::Deref;

use crate::names;

/// Repository of locally built images: `dagster/<name>`.
pub const LOCAL_NAMESPACE: &str = "dagster";

/// The default timestamp: the time in UTC, the seed tool's format, which sorts as text in time
/// order.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H%M%S";

/// A value that cannot be used where it was given, naming what it was meant to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}: {why}")]
pub struct Invalid {
    pub what: &'static str,
    pub value: String,
    pub why: String,
}

impl Invalid {
    pub fn new(what: &'static str, value: &str, why: impl fmt::Display) -> Self {
        Self {
            what,
            value: value.to_owned(),
            why: why.to_string(),
        }
    }
}

/// A text newtype: read as `&str` through `Deref`, shown as it is.
macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Looked up by its text in maps keyed by it (`versions.get("3.10")`): its `Eq`,
        /// `Ord` and `Hash` are its text's.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        /// A value the unit tests spell out, taken as it is.
        #[cfg(test)]
        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// The name of an image of the catalog (its folder), one path component of a Docker
/// repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageName(String);
text_newtype!(ImageName);

impl ImageName {
    /// A name given on the command line, checked.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        names::check_image_name(value).map_err(|why| Invalid::new("image name", value, why))?;
        Ok(Self(value.to_owned()))
    }

    /// A name as the catalog has it (a folder, a `base_image`): reading an image refuses one
    /// Docker would not take, and `check` reports it.
    pub fn of_catalog(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

/// A Python version as `versions.yaml` writes it (`3.10` stays `3.10`); whether an image has it
/// is the catalog's to say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion(String);
text_newtype!(PythonVersion);

impl PythonVersion {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

/// The timestamp of a build, the part of its tag after the Python version: tag characters only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(String);
text_newtype!(Timestamp);

impl Timestamp {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        names::check_timestamp(value).map_err(|why| Invalid::new("timestamp", value, why))?;
        Ok(Self(value.to_owned()))
    }

    /// Now in UTC as [`TIMESTAMP_FORMAT`], the seed tool's format.
    pub fn now() -> Self {
        Self(
            jiff::Timestamp::now()
                .strftime(TIMESTAMP_FORMAT)
                .to_string(),
        )
    }

    /// A timestamp as a file of this tool records it (`last_updated.yaml`, publish's state), or
    /// the stand-in of a plan that is never built (`status`).
    pub fn recorded(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// `--timestamp` when given, else now.
    pub fn given_or_now(value: Option<&str>) -> Result<Self, Invalid> {
        value.map_or_else(|| Ok(Self::now()), Self::parse)
    }
}

/// Written as its text, in the files of this tool (publish's state).
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Read as this tool recorded it ([`Timestamp::recorded`]): checked where it is used for a tag.
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::recorded)
    }
}

/// A whole Docker tag, such as `--custom-tag` or a release's version: up to 128 tag
/// characters, not starting with `.` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);
text_newtype!(Tag);

impl Tag {
    /// `value` as a tag; `what` names it in the error (`tag`, `version tag`).
    pub fn parse(what: &'static str, value: &str) -> Result<Self, Invalid> {
        names::check_tag(value).map_err(|why| Invalid::new(what, value, why))?;
        Ok(Self(value.to_owned()))
    }
}

/// A platform as `docker build --platform` takes one: `OS/ARCH[/VARIANT]`.
pub fn check_platform(value: &str) -> Result<(), Invalid> {
    names::check_platform(value).map_err(|why| Invalid::new("platform", value, why))
}

/// An image-version: one image built for one Python version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub image: ImageName,
    pub python_version: PythonVersion,
}

impl Target {
    /// Python `python_version` of the image `image`, as the unit tests spell them.
    #[cfg(test)]
    pub fn new(image: &str, python_version: &str) -> Self {
        Self {
            image: ImageName::of_catalog(image),
            python_version: PythonVersion::new(python_version),
        }
    }
}

/// The local tag of an image-version built at `timestamp`.
pub fn local_tag(
    image: &ImageName,
    python_version: &PythonVersion,
    timestamp: &Timestamp,
) -> String {
    format!(
        "{LOCAL_NAMESPACE}/{image}:{}",
        version_tag(python_version, timestamp)
    )
}

/// The local tag of one platform's image of a multi-platform image-version (None: the local
/// tag without a platform).
pub fn local_platform_tag(
    image: &ImageName,
    python_version: &PythonVersion,
    timestamp: &Timestamp,
    platform: Option<&Platform>,
) -> String {
    format!(
        "{LOCAL_NAMESPACE}/{image}:{}",
        platform_version_tag(python_version, timestamp, platform)
    )
}

/// The tag part of one platform's image of a multi-platform image-version:
/// `py<V>-<timestamp>-<os>-<arch>[-<variant>]`; the tag part without a platform otherwise.
pub fn platform_version_tag(
    python_version: &PythonVersion,
    timestamp: &Timestamp,
    platform: Option<&Platform>,
) -> String {
    let tag = version_tag(python_version, timestamp);
    match platform {
        Some(platform) => format!("{tag}-{}", platform.tag_suffix()),
        None => tag,
    }
}

/// The tag of an image-version's layer cache in the registry, beside its images' tags:
/// `buildcache-py<V>[-<os>-<arch>[-<variant>]]`, one per platform built on its own.
pub fn cache_tag(python_version: &PythonVersion, platform: Option<&Platform>) -> String {
    let tag = format!("buildcache-py{python_version}");
    match platform {
        Some(platform) => format!("{tag}-{}", platform.tag_suffix()),
        None => tag,
    }
}

/// The repository of `image` under `namespace`: `dagster/<image>` locally, `<registry>/<image>`
/// in a registry given as `HOST[:PORT][/PATH]`.
pub fn repository(namespace: &str, image: &ImageName) -> String {
    format!("{namespace}/{image}")
}

/// The tag part shared by local and pushed images: `py<V>-<timestamp>`.
pub fn version_tag(python_version: &PythonVersion, timestamp: &Timestamp) -> String {
    format!("{}{timestamp}", version_tag_prefix(python_version))
}

/// What every tag part of `python_version` starts with, whatever the timestamp: `py<V>-`.
pub fn version_tag_prefix(python_version: &PythonVersion) -> String {
    format!("py{python_version}-")
}

/// A platform, `OS/ARCH[/VARIANT]`, parsed once into its parts where it comes in (the
/// command line, `image.yaml`, publish's state, an engine's or a registry's answer): its
/// `--platform` spelling is its `Display` (and its text in the files this tool writes), and the
/// suffix its image's tag gets is [`Platform::tag_suffix`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    os: String,
    arch: Option<String>,
    variant: Option<String>,
}

impl Platform {
    /// `value`, checked as `docker build --platform` takes it.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        check_platform(value)?;
        Ok(Self::of(value))
    }

    /// The parts of `value` as it is (a registry's answer, or a test's value): it is spelled
    /// back as it was given.
    pub fn of(value: &str) -> Self {
        let mut parts = value.splitn(3, '/').map(str::to_owned);
        Self {
            os: parts.next().unwrap_or_default(),
            arch: parts.next(),
            variant: parts.next(),
        }
    }

    /// A platform given as its parts (an engine's answer: `os`, `architecture`, `variant`); an
    /// empty variant is none.
    pub fn from_parts(os: &str, arch: &str, variant: Option<&str>) -> Self {
        Self {
            os: os.to_owned(),
            arch: Some(arch.to_owned()),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
        }
    }

    /// `linux/amd64`, the platform of a build for which nothing names one.
    pub fn linux_amd64() -> Self {
        Self::from_parts("linux", "amd64", None)
    }

    pub fn os(&self) -> &str {
        &self.os
    }

    /// The architecture; empty when none was given.
    pub fn arch(&self) -> &str {
        self.arch.as_deref().unwrap_or_default()
    }

    /// The variant (`v7` of `linux/arm/v7`), when one was given.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// The parts given, in order: os, arch, variant.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.os.as_str())
            .chain(self.arch.as_deref())
            .chain(self.variant.as_deref())
    }

    /// What a platform's image adds to its tag: `linux-arm64` of `linux/arm64`.
    pub fn tag_suffix(&self) -> String {
        self.parts().collect::<Vec<_>>().join("-")
    }

    /// Whether an image of `actual` (as the engine describes a local image) is one for this
    /// platform: a platform without a variant takes any variant of its architecture, and
    /// arm64's only variant, `v8`, may go unsaid.
    pub fn matches(&self, actual: &Platform) -> bool {
        let variant = |platform: &Platform| match (platform.arch(), platform.variant()) {
            (_, Some(variant)) if !variant.is_empty() => Some(variant.to_owned()),
            ("arm64", _) => Some("v8".to_owned()),
            _ => None,
        };
        self.os == actual.os
            && self.arch() == actual.arch()
            && (self.variant.is_none() || variant(self) == variant(actual))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts().collect::<Vec<_>>().join("/"))
    }
}

/// Written as its `--platform` spelling, in the files of this tool (publish's state, bake
/// files).
impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Read as its `--platform` spelling, checked (publish's state).
impl<'de> serde::Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A platform the unit tests spell out, checked.
#[cfg(test)]
impl From<&str> for Platform {
    fn from(value: &str) -> Self {
        Self::parse(value).expect("a test's platform is valid")
    }
}

impl std::str::FromStr for Platform {
    type Err = Invalid;
    fn from_str(value: &str) -> Result<Self, Invalid> {
        Self::parse(value)
    }
}

/// Hex digits of the name's hash that end a shortened name.
const SHORTENED_HASH_LEN: usize = 12;

/// `name` itself, or, when longer than `max_len` bytes, its start and a hash of all of it,
/// `<start>-<12 hex digits>`, the same on every run; two names differ in their hashes.
pub fn shortened(name: &str, max_len: usize) -> String {
    if name.len() <= max_len {
        return name.to_owned();
    }
    let hash = blake3::hash(name.as_bytes()).to_hex();
    let mut start = String::new();
    for c in name.chars() {
        if start.len() + c.len_utf8() > max_len - SHORTENED_HASH_LEN - 1 {
            break;
        }
        start.push(c);
    }
    format!("{start}-{}", &hash[..SHORTENED_HASH_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_is_spelled_as_given_and_suffixes_its_tag_with_its_parts() {
        let arm = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(
            (arm.os(), arm.arch(), arm.variant()),
            ("linux", "arm", Some("v7"))
        );
        assert_eq!(arm.to_string(), "linux/arm/v7");
        assert_eq!(arm.tag_suffix(), "linux-arm-v7");
        assert_eq!(Platform::of("linux/arm64").tag_suffix(), "linux-arm64");
        assert_eq!(Platform::of("linux/arm64").variant(), None);
        assert!(Platform::parse("linux/amd64,linux/arm64").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }

    #[test]
    fn a_platform_is_written_and_read_as_its_spelling_and_read_checked() {
        let arm = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(serde_json::to_string(&arm).unwrap(), r#""linux/arm/v7""#);
        let read: Platform = serde_json::from_str(r#""linux/arm/v7""#).unwrap();
        assert_eq!(read, arm);
        let refused = serde_json::from_str::<Platform>(r#""linux/-x""#).unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("`linux/-x` is not a valid platform"),
            "{refused}"
        );
        assert_eq!("linux/arm64".parse::<Platform>().unwrap().arch(), "arm64");
    }

    #[test]
    fn a_platform_of_parts_leaves_out_an_empty_variant() {
        assert_eq!(
            Platform::from_parts("linux", "arm64", Some("")),
            Platform::parse("linux/arm64").unwrap()
        );
        assert_eq!(
            Platform::from_parts("linux", "arm64", Some("v8")).to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(Platform::linux_amd64().to_string(), "linux/amd64");
    }

    #[test]
    fn a_platform_matches_its_images_whatever_the_variant_said() {
        let platform_matches =
            |wanted: &str, actual: &str| Platform::of(wanted).matches(&Platform::of(actual));
        assert!(platform_matches("linux/amd64", "linux/amd64"));
        assert!(platform_matches("linux/arm64", "linux/arm64/v8"));
        assert!(platform_matches("linux/arm64/v8", "linux/arm64"));
        assert!(platform_matches("linux/arm", "linux/arm/v7"));
        assert!(!platform_matches("linux/arm/v6", "linux/arm/v7"));
        assert!(!platform_matches("linux/amd64", "linux/arm64"));
        assert!(!platform_matches("linux/arm64", "linux/amd64"));
        assert!(!platform_matches("windows/amd64", "linux/amd64"));
    }

    #[test]
    fn values_are_checked_once_where_they_are_made() {
        assert_eq!(
            Timestamp::parse("2020-07-11T040642").unwrap().as_str(),
            "2020-07-11T040642"
        );
        assert_eq!(
            Timestamp::parse("a:b").unwrap_err().to_string(),
            "`a:b` is not a valid timestamp: `:` cannot be in a Docker tag (letters, digits, \
             `_`, `.` and `-` only)"
        );
        assert_eq!(
            Timestamp::parse("--push").unwrap_err().to_string(),
            "`--push` is not a valid timestamp: a timestamp cannot start with `-` (it looks like \
             a flag)"
        );
        assert!(ImageName::parse("Bad_Name").is_err());
        assert_eq!(&*ImageName::parse("app").unwrap(), "app");
        assert_eq!(
            Tag::parse("version tag", "-x").unwrap_err().to_string(),
            "`-x` is not a valid version tag: a tag cannot start with `.` or `-`"
        );
        assert_eq!(PythonVersion::new("3.10").to_string(), "3.10");
    }

    #[test]
    fn cache_tags_end_with_the_platform_as_its_images_tags_do() {
        let version = PythonVersion::new("3.10");
        assert_eq!(cache_tag(&version, None), "buildcache-py3.10");
        assert_eq!(
            cache_tag(&version, Some(&Platform::of("linux/arm/v7"))),
            "buildcache-py3.10-linux-arm-v7"
        );
    }

    #[test]
    fn local_tags_keep_the_python_version_as_written() {
        assert_eq!(
            local_tag(
                &ImageName::of_catalog("app"),
                &PythonVersion::new("3.10"),
                &Timestamp::recorded("2020-07-11T040642")
            ),
            "dagster/app:py3.10-2020-07-11T040642"
        );
        assert_eq!(
            version_tag(&PythonVersion::new("3.9.12"), &Timestamp::recorded("T")),
            "py3.9.12-T"
        );
        assert_eq!(
            platform_version_tag(
                &PythonVersion::new("3.10"),
                &Timestamp::recorded("T"),
                Some(&Platform::of("linux/arm/v7"))
            ),
            "py3.10-T-linux-arm-v7"
        );
        assert_eq!(
            platform_version_tag(&PythonVersion::new("3.10"), &Timestamp::recorded("T"), None),
            "py3.10-T"
        );
    }
}
