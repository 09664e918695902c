//! Validation of the names that end up in Docker references: image names, Python versions,
//! timestamps and tags. Checked before anything runs, so docker never sees a malformed reference.

/// Longest tag Docker accepts.
const MAX_TAG_LEN: usize = 128;
/// Longest image name: `dagster/<name>`, or `<registry>/<name>` with a registry address, must
/// stay within the 255 characters Docker takes for a repository, and a build's log file,
/// `<name>-py<V>[-<platform>].log`, within a file name's 255 bytes.
pub const MAX_IMAGE_NAME_LEN: usize = 128;

/// Why a value cannot be used where it was given.
pub type Invalid = String;

/// An image name must be one path component of a Docker repository: lowercase letters and
/// digits, separated by single `.`, `_`, `__` or runs of `-`.
pub fn check_image_name(name: &str) -> Result<(), Invalid> {
    if name.len() > MAX_IMAGE_NAME_LEN {
        return Err(format!(
            "it is {} characters long; an image name is at most {MAX_IMAGE_NAME_LEN}",
            name.len()
        ));
    }
    let is_alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if let Some(c) = name
        .chars()
        .find(|c| !(is_alphanumeric(*c) || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{c}` is not allowed (lowercase letters, digits, `.`, `_` and `-` only)"
        ));
    }
    if !name.starts_with(is_alphanumeric) || !name.ends_with(is_alphanumeric) {
        return Err("it must start and end with a lowercase letter or digit".into());
    }
    match name
        .split(is_alphanumeric)
        .find(|run| !run.is_empty() && !is_valid_separator(run))
    {
        Some(run) => Err(format!("`{run}` is not a valid separator")),
        None => Ok(()),
    }
}

fn is_valid_separator(run: &str) -> bool {
    run == "." || run == "_" || run == "__" || run.chars().all(|c| c == '-')
}

/// A tag: up to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
pub fn check_tag(tag: &str) -> Result<(), Invalid> {
    check_tag_chars(tag)?;
    if tag.starts_with(['.', '-']) {
        return Err("a tag cannot start with `.` or `-`".into());
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!("a tag is at most {MAX_TAG_LEN} characters"));
    }
    Ok(())
}

/// A part of a tag (a Python version or a timestamp): the tag characters only.
pub fn check_tag_chars(part: &str) -> Result<(), Invalid> {
    if part.is_empty() {
        return Err("it is empty".into());
    }
    match part
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        Some(c) => Err(format!(
            "`{c}` cannot be in a Docker tag (letters, digits, `_`, `.` and `-` only)"
        )),
        None => Ok(()),
    }
}

/// A timestamp: tag characters, not starting with `-` (`-t=--push` is a flag given as a value,
/// not a timestamp to record).
pub fn check_timestamp(timestamp: &str) -> Result<(), Invalid> {
    check_tag_chars(timestamp)?;
    if timestamp.starts_with('-') {
        return Err("a timestamp cannot start with `-` (it looks like a flag)".into());
    }
    Ok(())
}

/// A platform as `docker build --platform` takes one: `OS`, `OS/ARCH` or `OS/ARCH/VARIANT`
/// (`linux/amd64`, `linux/arm/v7`), each part letters, digits, `_` or `-`, starting with a
/// letter or digit.
pub fn check_platform(platform: &str) -> Result<(), Invalid> {
    if platform.contains(',') {
        return Err("one platform per build (`docker build` builds one at a time)".into());
    }
    let parts: Vec<&str> = platform.split('/').collect();
    if parts.len() > 3 {
        return Err("expected OS/ARCH or OS/ARCH/VARIANT, like linux/amd64 or linux/arm/v7".into());
    }
    let is_valid = |part: &&str| {
        part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    };
    match parts.iter().find(|part| !is_valid(part)) {
        Some(part) => Err(format!(
            "`{part}` is not a platform part (a letter or digit, then letters, digits, `_` and `-`)"
        )),
        None => Ok(()),
    }
}

/// The closest of `candidates` to `wanted`, when it is close enough to be a likely typo.
pub fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|(d, c)| *d <= (wanted.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The fewest insertions, deletions, substitutions and swaps of two neighbours (`nmae` for
/// `name`) that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut two_rows_up = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let substitution = previous[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            row[j] = substitution.min(previous[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(two_rows_up[j - 2] + 1);
            }
        }
        two_rows_up = std::mem::replace(&mut previous, row);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_are_os_arch_variant_one_at_a_time() {
        for valid in [
            "linux",
            "linux/amd64",
            "linux/arm/v7",
            "Linux/ARM64",
            "linux/ppc64le",
        ] {
            assert_eq!(check_platform(valid), Ok(()), "{valid}");
        }
        let why = |platform| check_platform(platform).unwrap_err();
        assert!(why("linux/amd64,linux/arm64").starts_with("one platform per build"));
        assert!(why("linux/arm/v7/extra").starts_with("expected OS/ARCH"));
        assert!(why("linux//amd64").starts_with("`` is not a platform part"));
        assert!(why("").starts_with("`` is not a platform part"));
        assert!(why("linux/am d64").starts_with("`am d64` is not a platform part"));
        assert!(why("--push").starts_with("`--push` is not a platform part"));
    }

    #[test]
    fn image_names_follow_docker_path_components() {
        for good in ["buildkite-unit", "a", "a.b", "a__b", "a---b", "py3", "x_y"] {
            assert_eq!(check_image_name(good), Ok(()), "{good}");
        }
        for bad in [
            "", "Upper", "-a", "a-", "a..b", "a___b", "a b", "a/b", "_a", "a:b",
        ] {
            assert!(check_image_name(bad).is_err(), "{bad}");
        }
        assert_eq!(check_image_name(&"a".repeat(MAX_IMAGE_NAME_LEN)), Ok(()));
        assert!(check_image_name(&"a".repeat(MAX_IMAGE_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn tags_allow_only_docker_tag_characters() {
        assert_eq!(check_tag("py3.10-2020-07-11T040642"), Ok(()));
        assert!(check_tag("py3.10:x").is_err());
        assert!(check_tag(".hidden").is_err());
        assert!(check_tag("-x").is_err());
        assert!(check_tag(&"a".repeat(129)).is_err());
        assert_eq!(check_tag(&"a".repeat(128)), Ok(()));
        assert!(check_tag_chars("2020 07").is_err());
        assert!(check_tag_chars("").is_err());
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["buildkite-unit", "buildkite-integration", "python-base"];
        assert_eq!(suggest("buildkite-unti", names), Some("buildkite-unit"));
        assert_eq!(suggest("docker_args", ["docker_args"]), Some("docker_args"));
        assert_eq!(suggest("nothing-like-it", names), None);
        assert_eq!(suggest("nmae", ["name", "source"]), Some("name"));
        assert_eq!(suggest("pyhton-base", names), Some("python-base"));
    }
}
