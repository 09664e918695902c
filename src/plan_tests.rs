use std::path::PathBuf;

use indexmap::IndexMap;

use super::*;
use crate::catalog::{BaseImage, ImageConfig, LastUpdated, VersionSpec};
use crate::reference::ImageName;

/// An image with `versions`, each built on `base` (local) when given.
fn image(name: &str, versions: &[&str], base: Option<(&str, BaseSource)>) -> Image {
    let spec = |version: &str| VersionSpec {
        docker_args: IndexMap::from([("PYTHON_VERSION".to_owned(), version.to_owned())]),
        base_image: base.map(|(name, source)| BaseImage {
            name: name.into(),
            source,
            line: 1,
        }),
    };
    Image {
        name: name.into(),
        dir: PathBuf::from("images").join(name),
        versions: versions.iter().map(|&v| (v.into(), spec(v))).collect(),
        last_updated: LastUpdated::default(),
        config: ImageConfig::default(),
    }
}

fn catalog(images: Vec<Image>) -> BTreeMap<ImageName, Image> {
    images.into_iter().map(|i| (i.name.clone(), i)).collect()
}

fn target(image: &str, version: &str) -> Target {
    Target::new(image, version)
}

fn request(targets: Vec<Target>, with_deps: bool) -> Request {
    Request {
        with_deps,
        ..Request::new(targets, Timestamp::recorded("T"))
    }
}

fn no_registry() -> RegistryAddress {
    Err(NoRegistry {
        message: "no registry".into(),
        hint: None,
        missing: true,
    })
}

fn order(plan: &Plan) -> Vec<String> {
    plan.builds
        .iter()
        .map(|b| format!("{}:{}", b.target.image, b.target.python_version))
        .collect()
}

fn built(mut image: Image, version: &str, timestamp: &str) -> Image {
    image
        .last_updated
        .timestamps
        .insert(version.into(), timestamp.into());
    image
}

#[test]
fn a_built_local_base_is_passed_as_base_image() {
    let images = catalog(vec![
        built(image("base", &["3.10"], None), "3.10", "OLD"),
        image("app", &["3.10"], Some(("base", BaseSource::Local))),
    ]);
    let plan = resolve(
        &images,
        &request(vec![target("app", "3.10")], false),
        &no_registry(),
    )
    .unwrap();
    assert_eq!(order(&plan), ["app:3.10"]);
    let build = &plan.builds[0];
    assert_eq!(build.request.tag, "dagster/app:py3.10-T");
    assert_eq!(
        build.request.build_args,
        [
            ("PYTHON_VERSION".to_owned(), "3.10".to_owned()),
            (
                "BASE_IMAGE".to_owned(),
                "dagster/base:py3.10-OLD".to_owned()
            ),
        ]
    );
    assert!(build.after.is_empty());
}

#[test]
fn with_deps_builds_bases_first_with_the_same_timestamp() {
    let images = catalog(vec![
        image("root", &["3.9", "3.10"], None),
        image("mid", &["3.9", "3.10"], Some(("root", BaseSource::Local))),
        image("leaf", &["3.9", "3.10"], Some(("mid", BaseSource::Local))),
    ]);
    let targets = vec![target("leaf", "3.9"), target("leaf", "3.10")];
    let plan = resolve(&images, &request(targets, true), &no_registry()).unwrap();
    assert_eq!(
        order(&plan),
        [
            "root:3.9",
            "mid:3.9",
            "leaf:3.9",
            "root:3.10",
            "mid:3.10",
            "leaf:3.10"
        ]
    );
    assert_eq!(plan.builds[2].after, [1]);
    assert_eq!(
        plan.builds[2].request.build_args[1].1,
        "dagster/mid:py3.9-T"
    );
}

#[test]
fn requested_bases_are_ordered_first_even_when_listed_last() {
    let images = catalog(vec![
        image("base", &["3.9"], None),
        image("app", &["3.9"], Some(("base", BaseSource::Local))),
    ]);
    let targets = vec![target("app", "3.9"), target("base", "3.9")];
    let plan = resolve(&images, &request(targets, false), &no_registry()).unwrap();
    assert_eq!(order(&plan), ["base:3.9", "app:3.9"]);
    assert_eq!(plan.builds[1].after, [0]);
}

#[test]
fn an_unbuilt_base_without_with_deps_is_an_error() {
    let images = catalog(vec![
        image("base", &["3.9"], None),
        image("app", &["3.9"], Some(("base", BaseSource::Local))),
    ]);
    let error = resolve(
        &images,
        &request(vec![target("app", "3.9")], false),
        &no_registry(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::BaseNotBuilt { .. }), "{error}");
    assert!(
        error
            .hint()
            .is_some_and(|hint| hint.contains("add `--with-deps`"))
    );
}

/// `--with-deps` adds local bases only: the hint for a base from the registry says what works.
#[test]
fn an_unbuilt_aws_base_asks_for_it_built_and_pushed_not_for_with_deps() {
    let images = catalog(vec![
        image("base", &["3.9"], None),
        image("app", &["3.9"], Some(("base", BaseSource::Aws))),
    ]);
    let registry = Ok("127.0.0.1:5000/ci".to_owned());
    let error = resolve(
        &images,
        &request(vec![target("app", "3.9")], true),
        &registry,
    )
    .unwrap_err();
    assert!(matches!(error, Error::BaseNotBuilt { .. }), "{error}");
    assert_eq!(
        error.hint().as_deref(),
        Some(
            "build and push `base` first, or build both in one run (`build-all` of the whole catalog)"
        )
    );
}

#[test]
fn a_base_without_the_python_version_is_an_error() {
    let images = catalog(vec![
        image("base", &["3.9"], None),
        image("app", &["3.10"], Some(("base", BaseSource::Local))),
    ]);
    let error = resolve(
        &images,
        &request(vec![target("app", "3.10")], true),
        &no_registry(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::BaseLacksVersion { .. }), "{error}");
}

#[test]
fn cycles_are_reported_with_their_path() {
    let images = catalog(vec![
        image("a", &["3.9"], Some(("b", BaseSource::Local))),
        image("b", &["3.9"], Some(("c", BaseSource::Local))),
        image("c", &["3.9"], Some(("a", BaseSource::Local))),
    ]);
    let with_deps = resolve(
        &images,
        &request(vec![target("a", "3.9")], true),
        &no_registry(),
    )
    .unwrap_err();
    assert_eq!(
        with_deps.to_string(),
        "base images form a cycle: a -> b -> c -> a"
    );
    let without = resolve(
        &images,
        &request(vec![target("a", "3.9")], false),
        &no_registry(),
    )
    .unwrap_err();
    assert_eq!(
        without.to_string(),
        "base images form a cycle: a -> b -> c -> a"
    );
}

#[test]
fn aws_bases_come_from_the_registry() {
    let images = catalog(vec![
        built(image("base", &["3.9"], None), "3.9", "OLD"),
        image("app", &["3.9"], Some(("base", BaseSource::Aws))),
    ]);
    let registry = Ok("127.0.0.1:5000/ci".to_owned());
    let plan = resolve(
        &images,
        &request(vec![target("app", "3.9")], true),
        &registry,
    )
    .unwrap();
    assert_eq!(order(&plan), ["app:3.9"], "a remote base is never built");
    assert_eq!(
        plan.builds[0].request.build_args[1].1,
        "127.0.0.1:5000/ci/base:py3.9-OLD"
    );
    let error = resolve(
        &images,
        &request(vec![target("app", "3.9")], true),
        &no_registry(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::NoRegistry { .. }));
}

/// Dagster's `buildkite-integration` builds on `buildkite-integration-base` with `source: aws`;
/// a whole-catalog run builds both with one timestamp.
#[test]
fn an_aws_base_built_in_the_same_run_comes_first_under_its_registry_name() {
    let images = catalog(vec![
        built(image("base", &["3.9"], None), "3.9", "OLD"),
        image("app", &["3.9"], Some(("base", BaseSource::Aws))),
    ]);
    let registry = Ok("127.0.0.1:5000/ci".to_owned());
    let targets = vec![target("app", "3.9"), target("base", "3.9")];
    let plan = resolve(&images, &request(targets, false), &registry).unwrap();
    assert_eq!(order(&plan), ["base:3.9", "app:3.9"]);
    let (base, app) = (&plan.builds[0], &plan.builds[1]);
    assert_eq!(app.after, [0]);
    assert_eq!(
        app.request.build_args[1].1,
        "127.0.0.1:5000/ci/base:py3.9-T"
    );
    assert_eq!(base.request.tag, "dagster/base:py3.9-T");
    assert_eq!(base.request.extra_tags, ["127.0.0.1:5000/ci/base:py3.9-T"]);
    assert_eq!(app.base.as_ref().map(|b| b.source), Some(BaseSource::Aws));

    let narrowed = narrow(&plan, &[false, true], &images);
    assert_eq!(
        narrowed.builds[0].request.build_args[1].1, "127.0.0.1:5000/ci/base:py3.9-OLD",
        "without its base, it builds on the base's current pushed image"
    );
}

/// With no registry configured, the whole-catalog run still builds: the fresh base is local.
#[test]
fn without_a_registry_an_aws_base_built_in_the_same_run_is_its_local_image() {
    let images = catalog(vec![
        built(image("base", &["3.9"], None), "3.9", "OLD"),
        image("app", &["3.9"], Some(("base", BaseSource::Aws))),
    ]);
    let targets = vec![target("app", "3.9"), target("base", "3.9")];
    let plan = resolve(&images, &request(targets, false), &no_registry()).unwrap();
    assert_eq!(order(&plan), ["base:3.9", "app:3.9"]);
    let (base, app) = (&plan.builds[0], &plan.builds[1]);
    assert_eq!(app.after, [0]);
    assert_eq!(app.request.build_args[1].1, "dagster/base:py3.9-T");
    assert!(
        base.request.extra_tags.is_empty(),
        "no registry, no registry tag"
    );
    assert!(plan.unknown_registry_bases.is_empty());
}

#[test]
fn a_shown_plan_names_an_aws_base_it_does_not_build_under_an_unknown_registry() {
    let images = catalog(vec![
        built(image("base", &["3.9"], None), "3.9", "OLD"),
        image("app", &["3.9"], Some(("base", BaseSource::Aws))),
        image("other", &["3.9"], Some(("base", BaseSource::Aws))),
    ]);
    let shown = Request {
        without_registry: true,
        ..request(vec![target("app", "3.9"), target("other", "3.9")], true)
    };
    let plan = resolve(&images, &shown, &no_registry()).unwrap();
    assert_eq!(order(&plan), ["app:3.9", "other:3.9"]);
    assert_eq!(
        plan.builds[0].request.build_args[1].1,
        "<registry>/base:py3.9-OLD"
    );
    assert_eq!(plan.unknown_registry_bases, ["base"]);
    let with_registry = resolve(&images, &shown, &Ok("127.0.0.1:5000".into())).unwrap();
    assert!(with_registry.unknown_registry_bases.is_empty());
}

/// A malformed registry is no missing one: it is refused whatever the plan is for.
#[test]
fn a_malformed_registry_is_refused_for_an_aws_base_even_built_in_the_run_or_only_shown() {
    let images = catalog(vec![
        built(image("base", &["3.9"], None), "3.9", "OLD"),
        image("app", &["3.9"], Some(("base", BaseSource::Aws))),
    ]);
    let malformed: RegistryAddress = Err(NoRegistry {
        message: "`bad_host` is not a registry".into(),
        hint: None,
        missing: false,
    });
    let both = vec![target("app", "3.9"), target("base", "3.9")];
    let error = resolve(&images, &request(both, false), &malformed).unwrap_err();
    assert!(matches!(error, Error::NoRegistry { .. }));
    let shown = Request {
        without_registry: true,
        ..request(vec![target("app", "3.9")], false)
    };
    let error = resolve(&images, &shown, &malformed).unwrap_err();
    assert!(matches!(error, Error::NoRegistry { .. }));
}

#[test]
fn a_local_base_needs_no_second_tag() {
    let images = catalog(vec![
        image("base", &["3.9"], None),
        image("app", &["3.9"], Some(("base", BaseSource::Local))),
    ]);
    let plan = resolve(
        &images,
        &request(vec![target("app", "3.9")], true),
        &no_registry(),
    )
    .unwrap();
    assert!(plan.builds[0].request.extra_tags.is_empty());
}

#[test]
fn dagster_version_and_platform_are_passed_on() {
    let images = catalog(vec![image("base", &["3.9"], None)]);
    let mut request = request(vec![target("base", "3.9")], false);
    request.dagster_version = Some("0.9.20".into());
    request.platforms = vec!["linux/arm64".into()];
    let plan = resolve(&images, &request, &no_registry()).unwrap();
    let build = &plan.builds[0].request;
    assert!(
        build
            .build_args
            .contains(&("DAGSTER_VERSION".to_owned(), "0.9.20".to_owned()))
    );
    assert!(
        build
            .build_args
            .contains(&("TARGETARCH".to_owned(), "arm64".to_owned()))
    );
    assert_eq!(build.tag, "dagster/base:py3.9-T");
    assert_eq!(build.platform, Some("linux/arm64".into()));
}

#[test]
fn narrowing_keeps_marked_builds_on_the_current_image_of_dropped_bases() {
    let images = catalog(vec![
        built(image("base", &["3.9"], None), "3.9", "OLD"),
        image("app", &["3.9"], Some(("base", BaseSource::Local))),
        image("other", &["3.9"], None),
    ]);
    let targets = vec![target("app", "3.9"), target("other", "3.9")];
    let plan = resolve(&images, &request(targets, true), &no_registry()).unwrap();
    assert_eq!(order(&plan), ["base:3.9", "app:3.9", "other:3.9"]);
    let narrowed = narrow(&plan, &[false, true, true], &images);
    assert_eq!(order(&narrowed), ["app:3.9", "other:3.9"]);
    assert!(narrowed.builds[0].after.is_empty());
    assert_eq!(
        narrowed.builds[0].request.build_args[1].1,
        "dagster/base:py3.9-OLD"
    );
    let kept_base = narrow(&plan, &[true, true, false], &images);
    assert_eq!(kept_base.builds[1].after, [0]);
    assert_eq!(
        kept_base.builds[1].request.build_args[1].1,
        "dagster/base:py3.9-T"
    );
}

#[test]
fn retaining_keeps_marked_builds_on_dropped_bases_at_the_plan_timestamp() {
    let images = catalog(vec![
        built(image("base", &["3.9"], None), "3.9", "OLD"),
        image("app", &["3.9"], Some(("base", BaseSource::Local))),
    ]);
    let plan = resolve(
        &images,
        &request(vec![target("app", "3.9")], true),
        &no_registry(),
    )
    .unwrap();
    let retained = retain(&plan, &[false, true]);
    assert_eq!(order(&retained), ["app:3.9"]);
    assert!(retained.builds[0].after.is_empty());
    assert_eq!(
        retained.builds[0].request.build_args[1].1,
        "dagster/base:py3.9-T"
    );
}

/// root <- mid <- leaf (local), root <- remote (from the registry), other alone.
fn family() -> BTreeMap<ImageName, Image> {
    catalog(vec![
        image("root", &["3.9", "3.10"], None),
        image("mid", &["3.9", "3.10"], Some(("root", BaseSource::Local))),
        image("leaf", &["3.10"], Some(("mid", BaseSource::Local))),
        image("remote", &["3.9"], Some(("root", BaseSource::Aws))),
        image("other", &["3.9", "3.10"], None),
    ])
}

#[test]
fn with_dependents_adds_what_builds_on_the_targets_through_local_bases_per_version() {
    let targets = vec![target("root", "3.9"), target("root", "3.10")];
    let all = with_dependents(&family(), &targets);
    let shown: Vec<String> = all
        .iter()
        .map(|t| format!("{}:{}", t.image, t.python_version))
        .collect();
    assert_eq!(
        shown,
        ["root:3.9", "root:3.10", "mid:3.9", "mid:3.10", "leaf:3.10"]
    );
    assert_eq!(
        with_dependents(&family(), &[target("leaf", "3.10")]),
        [target("leaf", "3.10")]
    );
}

#[test]
fn dependents_are_planned_after_their_bases_with_one_timestamp() {
    let mut images = family();
    let targets = with_dependents(&images, &[target("mid", "3.10"), target("mid", "3.9")]);
    let error = resolve(&images, &request(targets.clone(), false), &no_registry()).unwrap_err();
    assert!(
        matches!(error, Error::BaseNotBuilt { .. }),
        "root was never built"
    );
    let with_deps = resolve(&images, &request(targets.clone(), true), &no_registry()).unwrap();
    assert_eq!(
        order(&with_deps),
        ["root:3.10", "mid:3.10", "root:3.9", "mid:3.9", "leaf:3.10"]
    );
    let leaf = &with_deps.builds[4];
    assert_eq!(leaf.after, [1]);
    assert_eq!(leaf.request.tag, "dagster/leaf:py3.10-T");
    assert_eq!(leaf.request.build_args[1].1, "dagster/mid:py3.10-T");

    let root = images.remove("root").unwrap();
    images.insert(
        "root".into(),
        built(built(root, "3.9", "OLD"), "3.10", "OLD"),
    );
    let plan = resolve(&images, &request(targets, false), &no_registry()).unwrap();
    assert_eq!(order(&plan), ["mid:3.10", "mid:3.9", "leaf:3.10"]);
    assert_eq!(plan.builds[2].after, [0]);
    assert_eq!(
        plan.builds[0].request.build_args[1].1,
        "dagster/root:py3.10-OLD"
    );
}

/// `image` declaring `platforms` in its image.yaml.
fn on_platforms(mut image: Image, platforms: &[&str]) -> Image {
    image.config.platforms = platforms.iter().map(|&p| p.into()).collect();
    image
}

#[test]
fn each_platform_is_a_build_and_a_dependent_builds_on_its_bases_image_for_that_platform() {
    let two = ["linux/amd64", "linux/arm64"];
    let images = catalog(vec![
        on_platforms(image("base", &["3.9"], None), &two),
        on_platforms(
            image("app", &["3.9"], Some(("base", BaseSource::Local))),
            &two,
        ),
    ]);
    let request = request(vec![target("app", "3.9")], true);
    let plan = resolve(&images, &request, &no_registry()).unwrap();
    let tags: Vec<(&str, &[String], Option<String>)> = plan
        .builds
        .iter()
        .map(|b| {
            (
                b.request.tag.as_str(),
                &b.request.extra_tags[..],
                b.platform.as_ref().map(Platform::to_string),
            )
        })
        .collect();
    let arm = |name: &str| format!("dagster/{name}:py3.9-T-linux-arm64");
    let amd = |name: &str| vec![format!("dagster/{name}:py3.9-T-linux-amd64")];
    assert_eq!(
        tags,
        [
            (
                "dagster/base:py3.9-T",
                &amd("base")[..],
                Some("linux/amd64".into())
            ),
            (arm("base").as_str(), &[][..], Some("linux/arm64".into())),
            (
                "dagster/app:py3.9-T",
                &amd("app")[..],
                Some("linux/amd64".into())
            ),
            (arm("app").as_str(), &[][..], Some("linux/arm64".into())),
        ]
    );
    let base_arg = |i: usize| {
        let args = &plan.builds[i].request.build_args;
        args.iter()
            .find(|(n, _)| n == BASE_IMAGE_ARG)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(base_arg(2), "dagster/base:py3.9-T-linux-amd64");
    assert_eq!(base_arg(3), arm("base"));
    assert_eq!(
        (plan.builds[2].after.clone(), plan.builds[3].after.clone()),
        (vec![0], vec![1])
    );
}

#[test]
fn the_request_platforms_replace_the_image_ones_and_a_base_must_cover_its_dependents() {
    let images = catalog(vec![
        on_platforms(image("base", &["3.9"], None), &["linux/amd64"]),
        on_platforms(
            image("app", &["3.9"], Some(("base", BaseSource::Local))),
            &["linux/amd64", "linux/arm64"],
        ),
    ]);
    let error = resolve(
        &images,
        &request(vec![target("app", "3.9")], true),
        &no_registry(),
    );
    assert_eq!(
        error.unwrap_err().to_string(),
        "`app` builds on `base` for linux/arm64, but `base` is not built for linux/arm64"
    );
    let mut overridden = request(vec![target("app", "3.9")], true);
    overridden.platforms = vec!["linux/arm64".into(), "linux/amd64".into()];
    let plan = resolve(&images, &overridden, &no_registry()).unwrap();
    let platforms: Vec<_> = plan
        .builds
        .iter()
        .map(|b| b.request.platform.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(
        platforms,
        ["linux/arm64", "linux/amd64", "linux/arm64", "linux/amd64"]
    );
    assert_eq!(plan.builds[0].request.tag, "dagster/base:py3.9-T");
}

#[test]
fn without_platforms_a_build_is_for_linux_amd64_with_the_inputs_it_had_before() {
    let images = catalog(vec![
        image("base", &["3.9"], None),
        image("app", &["3.9"], Some(("base", BaseSource::Local))),
    ]);
    let plan = resolve(
        &images,
        &request(vec![target("app", "3.9")], true),
        &no_registry(),
    )
    .unwrap();
    for build in &plan.builds {
        assert_eq!(build.request.platform, Some(default_platform()));
        assert_eq!(build.platform, None, "one build, under its seed tag");
        // What an input digest counts is what it counted before the default: no platform, and
        // no `TARGET*` argument.
        assert_eq!(build.request.digest_platform(), None);
        assert!(
            build
                .request
                .build_args
                .iter()
                .all(|(n, _)| !n.starts_with("TARGET"))
        );
    }
    let mut asked = request(vec![target("base", "3.9")], false);
    asked.platforms = vec![default_platform()];
    let plan = resolve(&images, &asked, &no_registry()).unwrap();
    assert_eq!(
        plan.builds[0].request.digest_platform(),
        Some(&default_platform())
    );
}
