use super::*;

fn image(versions: &[&str], recorded: &[(&str, &str)]) -> Image {
    Image::fixture("app", versions, recorded)
}

/// Each tag with a digest of its own.
fn distinct(tags: &[&str]) -> Vec<RemoteTag> {
    tags.iter()
        .map(|tag| RemoteTag {
            tag: tag.to_string(),
            digest: format!("sha256:{tag}"),
        })
        .collect()
}

fn doomed(image: &Image, tags: &[RemoteTag], keep: usize, cutoff: Option<&str>) -> Vec<String> {
    doomed_with(image, tags, keep, cutoff, &[])
}

fn doomed_with(
    image: &Image,
    tags: &[RemoteTag],
    keep: usize,
    cutoff: Option<&str>,
    naming_files: &[String],
) -> Vec<String> {
    let policy = Policy {
        keep,
        cutoff: cutoff.map(|c| parse_timestamp(c).unwrap()),
        naming_files,
    };
    doomed_tags(image, tags, &policy)
        .into_iter()
        .map(|remote| remote.tag)
        .collect()
}

const T1: &str = "2026-01-01T000000";
const T2: &str = "2026-02-01T000000";
const T3: &str = "2026-03-01T000000";
const T4: &str = "2026-04-01T000000";

fn tag(version: &str, timestamp: &str) -> String {
    format!("py{version}-{timestamp}")
}

#[test]
fn keeps_the_newest_builds_of_each_version_and_deletes_the_rest() {
    let app = image(&["3.9", "3.10"], &[]);
    let names = [
        tag("3.9", T1),
        tag("3.9", T3),
        tag("3.9", T2),
        tag("3.10", T1),
        tag("3.10", T2),
    ];
    let tags = distinct(&names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(doomed(&app, &tags, 2, None), [tag("3.9", T1)]);
    assert_eq!(
        doomed(&app, &tags, 1, None),
        [tag("3.9", T1), tag("3.9", T2), tag("3.10", T1)]
    );
    assert_eq!(doomed(&app, &tags, 3, None), Vec::<String>::new());
    assert_eq!(doomed(&app, &tags, 0, None).len(), 5);
}

#[test]
fn each_platform_suffix_is_counted_apart() {
    let app = image(&["3.9"], &[]);
    let names = [
        tag("3.9", T1),
        tag("3.9", T2),
        format!("py3.9-{T1}-linux-arm64"),
        format!("py3.9-{T3}-linux-arm64"),
        format!("py3.9-{T4}-linux-amd64"),
    ];
    let tags = distinct(&names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        doomed(&app, &tags, 1, None),
        [tag("3.9", T1), format!("py3.9-{T1}-linux-arm64")]
    );
}

#[test]
fn older_than_deletes_only_builds_before_the_cutoff_beyond_the_newest() {
    let app = image(&["3.9"], &[]);
    let names = [
        tag("3.9", T1),
        tag("3.9", T2),
        tag("3.9", T3),
        tag("3.9", T4),
    ];
    let tags = distinct(&names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        doomed(&app, &tags, 1, Some(T3)),
        [tag("3.9", T1), tag("3.9", T2)]
    );
    assert_eq!(doomed(&app, &tags, 1, Some(T2)), [tag("3.9", T1)]);
    assert_eq!(doomed(&app, &tags, 3, Some(T4)), [tag("3.9", T1)]);
    assert_eq!(
        doomed(&app, &tags, 0, Some(T4)),
        [tag("3.9", T1), tag("3.9", T2), tag("3.9", T3)],
        "a build at the cutoff itself is not older than it"
    );
}

#[test]
fn tags_not_of_the_build_form_are_never_deleted() {
    let app = image(&["3.9", "3.10", "3.10-slim"], &[]);
    let tags = distinct(&[
        "latest",
        "py3.9-custom",
        "py3.9-2026-01-01",
        "py3.9-2026-13-01T000000",
        "py3.9-2026-01-01T00000",
        "py3.9-2026-1-01T0000000",
        &format!("py3.8-{T1}"),
        &format!("py3.90-{T1}"),
        &format!("py3.9-{T1}-"),
        &format!("py3.9-{T1}x"),
        &format!("py3.9-{T1}xy"),
        &format!("x-py3.9-{T1}"),
        &format!("py3.10-slim-{T1}"),
        &format!("py3.10-slim-{T2}"),
    ]);
    assert_eq!(doomed(&app, &tags, 1, None), [format!("py3.10-slim-{T1}")]);
    assert_eq!(
        doomed(&app, &tags, 0, None),
        [format!("py3.10-slim-{T1}"), format!("py3.10-slim-{T2}")],
        "not even a lone tag of another form goes"
    );
}

#[test]
fn a_version_only_last_updated_yaml_still_has_is_a_build_version() {
    let app = image(&["3.10"], &[("3.7", T4)]);
    let tags = distinct(&[&tag("3.7", T1), &tag("3.7", T2), &tag("3.7", T4)]);
    assert_eq!(doomed(&app, &tags, 1, None), [tag("3.7", T1)]);
}

#[test]
fn recorded_builds_and_timestamps_files_name_are_kept_and_not_counted() {
    let app = image(&["3.9", "3.10"], &[("3.9", T1)]);
    let names = [
        tag("3.9", T1),
        format!("py3.9-{T1}-linux-arm64"),
        tag("3.9", T2),
        tag("3.9", T3),
        tag("3.9", T4),
        tag("3.10", T1),
    ];
    let tags = distinct(&names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        doomed(&app, &tags, 1, None),
        [tag("3.9", T2), tag("3.9", T3)],
        "3.10 at T1 was never recorded, but it is the newest 3.10"
    );
    let naming = [
        format!("FROM x/app:py3.9-{T2}\n"),
        format!("V = \"{T3}\"\n"),
    ];
    assert_eq!(
        doomed_with(&app, &tags, 1, None, &naming),
        Vec::<String>::new()
    );
    assert_eq!(
        doomed_with(&app, &tags, 0, None, &naming[..1]),
        [tag("3.9", T3), tag("3.9", T4), tag("3.10", T1)]
    );
}

#[test]
fn a_tag_sharing_its_manifest_with_a_kept_tag_is_kept() {
    let app = image(&["3.9"], &[]);
    let mut tags = distinct(&[&tag("3.9", T1), &tag("3.9", T2), &tag("3.9", T3), "latest"]);
    tags[0].digest = "sha256:same".into();
    tags[2].digest = "sha256:same".into();
    assert_eq!(doomed(&app, &tags, 1, None), [tag("3.9", T2)]);
    tags[1].digest = "sha256:latest".into();
    tags[3].digest = "sha256:latest".into();
    assert_eq!(doomed(&app, &tags, 1, None), Vec::<String>::new());
    tags[2].digest = "sha256:other".into();
    assert_eq!(
        doomed(&app, &tags, 1, None),
        [tag("3.9", T1)],
        "two deleted tags may share a manifest"
    );
}

#[test]
fn timestamps_are_read_in_the_tools_format_exactly() {
    assert!(parse_timestamp(T1).is_some());
    assert!(parse_timestamp("2026-1-01T000000").is_none());
    assert!(parse_timestamp("2026-01-01T000000 ").is_none());
    assert!(parse_timestamp("2026-01-01").is_none());
    assert!(parse_timestamp(T2) > parse_timestamp(T1));
}
