//! Registry faults through a loopback proxy in front of the real test registry, for the tool's
//! own requests and docker's alike (docker reaches the proxy as an insecure loopback registry):
//! transient faults are survived, refusals, persistent failures and stalls end fast in one line
//! naming the registry, a 429's `Retry-After` is waited out within the deadline, and a run stopped halfway says what it published. Every outcome is
//! checked in the real registry through its API.

mod common;

use std::time::{Duration, Instant};

use common::proxy::{Faults, Proxy, RetryAfter, TooMany};
use common::{Env, REGISTRY, Run, words};

/// Builds both Python versions of `python-base` at the test's timestamp.
fn built() -> Env {
    let env = Env::new();
    let ts = &env.timestamp;
    env.run(&words(&format!("build-all --name python-base -t {ts}")))
        .success();
    env
}

/// A proxy making `faults` in front of the test registry, and the test's registry path behind
/// it (`<proxy>/<path>`).
fn behind_proxy(env: &Env, faults: Faults) -> (Proxy, String) {
    let proxy = Proxy::start(REGISTRY, faults);
    let registry = format!("{}/{}", proxy.host, env.registry_path());
    (proxy, registry)
}

/// `dagster-image --registry <registry> ARGS`, with a registry timeout of `timeout` seconds, and
/// how long it took.
fn timed_run(env: &Env, registry: &str, args: &str, timeout: u64) -> (Run, Duration) {
    let started = Instant::now();
    let timeout = timeout.to_string();
    let run = env.run_with(
        &words(&format!("--registry {registry} {args}")),
        &[("DAGSTER_IMAGE_REGISTRY_TIMEOUT", &timeout)],
    );
    (run, started.elapsed())
}

/// Like `timed_run`, pushing with `docker push` (`--push-with engine`, as for an engine that is
/// not on this machine): for what docker's own push does and says.
fn timed_engine_run(env: &Env, registry: &str, args: &str, timeout: u64) -> (Run, Duration) {
    timed_run(
        env,
        registry,
        &format!("--push-with engine {args}"),
        timeout,
    )
}

/// The tags of `repository` (a path of the test's registry path) in the real registry.
fn tags_of(env: &Env, repository: &str) -> Vec<String> {
    common::registry_tags(&format!("{}/{repository}", env.registry_path()))
}

/// Asserts that `image`'s registry tags are the local images of both Python versions.
#[track_caller]
fn assert_both_versions_pushed(env: &Env) {
    let ts = &env.timestamp;
    let repository = format!("{}/python-base", env.registry_path());
    assert_eq!(
        common::registry_tags(&repository),
        [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
    );
    for version in ["3.9", "3.10"] {
        assert_eq!(
            common::registry_image_id(&repository, &format!("py{version}-{ts}")),
            Some(common::image_id(&env.tag("python-base", version))),
            "py{version}"
        );
    }
}

/// The lines of stderr that start with `prefix`.
fn lines_starting<'a>(run: &'a Run, prefix: &str) -> Vec<&'a str> {
    (run.stderr.lines())
        .filter(|line| line.starts_with(prefix))
        .collect()
}

#[test]
fn a_docker_push_whose_manifest_upload_fails_is_tried_again_and_lands() {
    let env = built();
    let faults = Faults {
        manifest_puts_failing_first: 2,
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let (run, _) = timed_engine_run(&env, &registry, "push-all --name python-base", 30);
    let run = run.success();
    let retries = lines_starting(&run, "warning: pushing `");
    assert_eq!(retries.len(), 2, "{run:#?}");
    assert!(
        retries[0].contains("received unexpected HTTP status: 500 Internal Server Error")
            && retries[0].contains("trying again in 1 s, attempt 2 of 30"),
        "{run:#?}"
    );
    assert!(proxy.seen().iter().filter(|s| s.ends_with(" 500!")).count() == 2);
    assert_both_versions_pushed(&env);
}

/// Puts the layers of the local `python-base` image of Python 3.9 in the test's repository
/// under another tag, so that pushes through the proxy mostly check them (docker's own retries
/// of a layer wait 5 s, then 10 s, ...).
fn layers_already_in_the_registry(env: &Env) {
    let other = format!("{}/python-base:layers", env.registry());
    common::docker_output(&["tag", &env.tag("python-base", "3.9"), &other]);
    common::docker_output(&["push", &other]);
}

#[test]
fn a_push_lands_through_a_fifth_of_connections_reset() {
    let env = built();
    layers_already_in_the_registry(&env);
    let faults = Faults {
        reset_share: Some((20, 7)),
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let (run, _) = timed_run(&env, &registry, "push --name python-base -v 3.9", 30);
    run.success();
    assert!(
        proxy.seen().iter().any(|s| s.ends_with(" reset!")),
        "no reset made: {:#?}",
        proxy.seen()
    );
    let ts = &env.timestamp;
    let tag = format!("py3.9-{ts}");
    assert_eq!(
        tags_of(&env, "python-base"),
        [String::from("layers"), tag.clone()]
    );
    let repository = format!("{}/python-base", env.registry_path());
    assert_eq!(
        common::registry_image_id(&repository, &tag),
        Some(common::image_id(&env.tag("python-base", "3.9"))),
    );
}

#[test]
fn push_all_reports_every_versions_outcome_not_only_the_first_failure() {
    let env = built();
    let ts = env.timestamp.clone();
    let failing = Box::leak(format!("py3.9-{ts}").into_boxed_str());
    let faults = Faults {
        manifest_puts_failing_for: Some(failing),
        ..Faults::default()
    };
    let (_proxy, registry) = behind_proxy(&env, faults);
    let (run, _) = timed_engine_run(&env, &registry, "push-all --name python-base", 1);
    let run = run.code(1);
    let errors = lines_starting(&run, "error:");
    assert_eq!(errors.len(), 1, "{run:#?}");
    let error = errors[0];
    assert!(
        error.starts_with(&format!(
            "error: 1 of 2 tag(s) not published: `{registry}/python-base:py3.9-{ts}` (pushing"
        )) && error.contains("received unexpected HTTP status: 500 Internal Server Error")
            && error.contains(&format!(
                "published: `{registry}/python-base:py3.10-{ts}`; running the same command again"
            )),
        "{run:#?}"
    );
    assert_eq!(tags_of(&env, "python-base"), [format!("py3.10-{ts}")]);
}

/// `release --name python-base --dagster-version 1.2.3 --to <registry>/app`.
fn release_to_app(registry: &str) -> String {
    format!("release --name python-base --dagster-version 1.2.3 --to {registry}/app")
}

#[test]
fn release_to_a_registry_answering_401_stops_at_once_without_pushing_the_local_image() {
    let env = built();
    let faults = Faults {
        unauthorized: true,
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let (run, took) = timed_run(&env, &registry, &release_to_app(&registry), 30);
    let ts = &env.timestamp;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "error: checking `{registry}/python-base:py3.9-{ts}` failed: registry `{}` asks for \
             credentials: log docker in to it\n",
            proxy.host
        )
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(tags_of(&env, "app"), Vec::<String>::new());
}

#[test]
fn release_with_a_wrong_password_stops_at_once_and_never_shows_it() {
    let env = built();
    let faults = Faults {
        unauthorized: true,
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let password = "wr0ng-passw0rd";
    let config = env.root().join("docker-config");
    fs_err::create_dir_all(&config).unwrap();
    let auth = base64_encode(&format!("ci:{password}"));
    let auths = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, proxy.host);
    fs_err::write(config.join("config.json"), auths).unwrap();
    let started = Instant::now();
    let args = format!("--registry {registry} {}", release_to_app(&registry));
    let run = env.run_with(
        &words(&args),
        &[("DOCKER_CONFIG", config.to_str().unwrap())],
    );
    let took = started.elapsed();
    assert_eq!(run.code, Some(1), "{run:#?}");
    let errors = lines_starting(&run, "error:");
    assert_eq!(errors.len(), 1, "{run:#?}");
    assert!(
        errors[0].contains(&format!(
            "registry `{}` refused the credentials of user `ci` (wrong password?)",
            proxy.host
        )),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("pushing the local image"), "{run:#?}");
    assert!(!run.stderr.contains(password) && !run.stdout.contains(password));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(tags_of(&env, "app"), Vec::<String>::new());
}

/// Standard base64 with padding, for a docker `auths` entry.
fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn release_to_a_registry_that_keeps_failing_stops_without_the_fallback_push() {
    let env = built();
    let faults = Faults {
        unavailable_first: usize::MAX,
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let (run, took) = timed_run(&env, &registry, &release_to_app(&registry), 30);
    let ts = &env.timestamp;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "error: checking `{registry}/python-base:py3.9-{ts}` failed: registry `{}` answered \
             HTTP 503, 4 times\n",
            proxy.host
        )
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(tags_of(&env, "app"), Vec::<String>::new());
}

#[test]
fn a_release_stopped_halfway_names_the_tags_it_published_and_running_it_again_completes_it() {
    let env = built();
    let push = format!(
        "--registry {} push --name python-base -v 3.9",
        env.registry()
    );
    env.run(&words(&push)).success();
    let faults = Faults {
        manifest_puts_failing_for: Some("latest"),
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let (run, _) = timed_run(&env, &registry, &release_to_app(&registry), 2);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let errors = lines_starting(&run, "error:");
    assert_eq!(
        errors,
        [format!(
            "error: 1 of 2 tag(s) not published: `{registry}/app:latest` (pushing the manifest \
             of `{registry}/app:latest` failed: registry `{}` answered HTTP 500, 4 times); \
             published: `{registry}/app:1.2.3`; running the same command again publishes the \
             missing ones",
            proxy.host
        )],
        "{run:#?}"
    );
    assert!(!run.stderr.contains("pushing the local image"), "{run:#?}");
    assert_eq!(tags_of(&env, "app"), ["1.2.3"]);
    drop(proxy);
    let direct = env.registry();
    let (again, _) = timed_run(&env, &direct, &release_to_app(&direct), 30);
    again.success();
    assert_eq!(tags_of(&env, "app"), ["1.2.3", "latest"]);
    let app = format!("{}/app", env.registry_path());
    assert_eq!(
        common::registry_digest(&app, "latest"),
        common::registry_digest(&app, "1.2.3")
    );
}

#[test]
fn release_pushes_the_local_image_when_only_the_source_registry_is_unreachable() {
    let env = built();
    let to = format!("{}/app", env.registry());
    let release = format!("release --name python-base --dagster-version 1.2.3 --to {to}");
    let (run, _) = timed_run(&env, "127.0.0.1:1/x", &release, 30);
    let run = run.success();
    assert_eq!(
        lines_starting(&run, "warning:"),
        [format!(
            "warning: cannot copy `127.0.0.1:1/x/python-base:py3.9-{}` inside the registry \
             (checking `127.0.0.1:1/x/python-base:py3.9-{}` failed: registry `127.0.0.1:1` is \
             unreachable (connection refused)): pushing the local image instead",
            env.timestamp, env.timestamp
        )],
        "{run:#?}"
    );
    assert_eq!(tags_of(&env, "app"), ["1.2.3", "latest"]);
}

#[test]
fn a_stalled_registry_fails_within_the_deadline_in_one_line_naming_it() {
    let env = Env::new();
    let faults = Faults {
        stall: Some(Duration::from_secs(20)),
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let (run, took) = timed_run(&env, &registry, "tags --name python-base", 2);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(
        run.stderr,
        format!(
            "error: listing the tags of `{registry}/python-base` failed: registry `{}` did not \
             answer within 2 s (`--registry-timeout` or `DAGSTER_IMAGE_REGISTRY_TIMEOUT` sets \
             how long to wait)\n",
            proxy.host
        )
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn tags_of_a_repository_the_registry_does_not_have_is_an_error_not_an_empty_list() {
    let env = Env::new();
    let registry = env.registry();
    let (run, _) = timed_run(&env, &registry, "tags --name python-base", 30);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        format!(
            "error: listing the tags of `{registry}/python-base` failed: registry `{REGISTRY}` \
             has no repository `{}/python-base`\n",
            env.registry_path()
        )
    );
}

/// A proxy answering the tag list 429 for `lasting`, with `retry_after`, in front of the test
/// registry holding both versions of `python-base`; and the test's registry path behind it.
fn tag_lists_rate_limited(
    env: &Env,
    lasting: Duration,
    retry_after: RetryAfter,
) -> (Proxy, String) {
    let faults = Faults {
        too_many: Some(TooMany {
            method: None,
            path_part: "/tags/list",
            lasting,
            retry_after,
        }),
        ..Faults::default()
    };
    behind_proxy(env, faults)
}

/// The registry's `Retry-After`, in seconds or as an HTTP date, is waited out (the client's own
/// retries give up after ~1.3 s) and the tags are listed.
#[test]
fn tags_waits_as_long_as_a_429_s_retry_after_asks_in_seconds_or_as_a_date() {
    let env = built();
    let registry = env.registry();
    timed_run(&env, &registry, "push-all --name python-base", 30)
        .0
        .success();
    let ts = &env.timestamp;
    for retry_after in [RetryAfter::SecondsLeft, RetryAfter::DateOfEnd] {
        let (proxy, behind) = tag_lists_rate_limited(&env, Duration::from_secs(3), retry_after);
        let (run, took) = timed_run(&env, &behind, "tags --name python-base", 30);
        let run = run.success();
        assert_eq!(
            run.stdout,
            format!("py3.10-{ts}\npy3.9-{ts}\n"),
            "{retry_after:?}"
        );
        assert!(
            took >= Duration::from_secs(2),
            "{retry_after:?}: took {took:?}"
        );
        let seen = proxy.seen();
        let refused = seen.iter().filter(|r| r.ends_with(" 429!")).count();
        assert!(refused <= 4, "{retry_after:?}: {seen:#?}");
    }
}

/// A `Retry-After` of an hour, past the 30 s deadline, fails at once in one line saying when to
/// retry, with a hint to log in or use a mirror.
#[test]
fn a_retry_after_past_the_registry_timeout_fails_at_once_saying_when_to_retry() {
    let env = Env::new();
    let hour = Duration::from_secs(3600);
    let (proxy, behind) = tag_lists_rate_limited(&env, hour, RetryAfter::Seconds(3600));
    let (run, took) = timed_run(&env, &behind, "tags --name python-base", 30);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let host = &proxy.host;
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "error: listing the tags of `{behind}/python-base` failed: registry `{host}` \
             answered 429 Too Many Requests: retry after 20"
        )),
        "{run:#?}"
    );
    assert!(
        lines[0].ends_with(" UTC (3600 s from now), later than the 30 s of `--registry-timeout`"),
        "{run:#?}"
    );
    assert_eq!(
        lines[1],
        format!(
            "hint: log in to `{host}` for a higher limit (`docker login {host}`), or pull \
             through a mirror of it (`registry-mirrors` of docker's daemon.json), or try again \
             later"
        )
    );
}

/// Docker's `toomanyrequests` (the registry's manifest uploads answered 429 for an hour) is no
/// hiccup to push again and again: the push stops at once, in one error line naming the
/// registry, with a hint to log in or use a mirror, and pushes nothing else.
#[test]
fn a_push_refused_for_a_spent_rate_limit_stops_at_once_with_a_hint_to_log_in() {
    let env = built();
    let faults = Faults {
        too_many: Some(TooMany {
            method: Some("PUT"),
            path_part: "/manifests/",
            lasting: Duration::from_secs(3600),
            retry_after: RetryAfter::Seconds(3600),
        }),
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let (run, took) = timed_engine_run(&env, &registry, "push-all --name python-base", 5);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(took < Duration::from_secs(20), "took {took:?}: {run:#?}");
    let host = &proxy.host;
    let ts = &env.timestamp;
    assert_eq!(
        lines_starting(&run, "error:"),
        [format!(
            "error: pushing `{registry}/python-base:py3.9-{ts}` failed: registry `{host}` says \
             its rate limit is spent (toomanyrequests: You have reached your pull rate limit.)"
        )],
        "{run:#?}"
    );
    assert_eq!(
        lines_starting(&run, "hint:"),
        [format!(
            "hint: log in to `{host}` for a higher limit (`docker login {host}`), or pull \
             through a mirror of it (`registry-mirrors` of docker's daemon.json), or try again \
             later"
        )]
    );
    assert_eq!(lines_starting(&run, "warning:"), Vec::<&str>::new());
    let seen = proxy.seen();
    let refused = seen.iter().filter(|r| r.ends_with(" 429!")).count();
    assert_eq!(refused, 1, "{seen:#?}");
    assert_eq!(tags_of(&env, "python-base"), Vec::<String>::new());
}

/// A registry answering 429 without a `Retry-After`, again and again, is a spent rate limit:
/// the tool's own request gives up within seconds, saying so, with the hint.
#[test]
fn a_429_that_does_not_clear_fails_within_seconds_naming_the_spent_rate_limit() {
    let env = Env::new();
    let hour = Duration::from_secs(3600);
    let (proxy, behind) = tag_lists_rate_limited(&env, hour, RetryAfter::None);
    let (run, took) = timed_run(&env, &behind, "tags --name python-base", 30);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let host = &proxy.host;
    assert_eq!(
        run.stderr,
        format!(
            "error: listing the tags of `{behind}/python-base` failed: registry `{host}` \
             answered 429 Too Many Requests, 4 times: its rate limit is spent\n\
             hint: log in to `{host}` for a higher limit (`docker login {host}`), or pull \
             through a mirror of it (`registry-mirrors` of docker's daemon.json), or try again \
             later\n"
        )
    );
}

/// The images of the example catalog, each built for Python 3.9 and 3.10.
const CATALOG: [&str; 4] = [
    "python-base",
    "buildkite-unit-snapshot-builder",
    "buildkite-unit",
    "dagster-app",
];

/// How long the harness lets the pushes of the whole example catalog run through a registry
/// failing every third request: `docker push`'s own layer retries (5, 10, 15, 20 s) took
/// longer than this.
const CATALOG_PUSH_DEADLINE: Duration = Duration::from_secs(180);

/// A registry that answers every third request with 503 costs the tool's own client a few
/// quick retries of single requests: `push-all` of every image of the example catalog
/// finishes, and the registry holds every tag with the local image's config, pullable (the
/// leaf image's layers fetched from the registry) and running.
#[test]
fn push_all_of_the_catalog_through_a_registry_failing_every_third_request_lands_every_tag() {
    let env = Env::new();
    let ts = env.timestamp.clone();
    env.run(&words(&format!("build-all -t {ts}"))).success();
    let faults = Faults {
        unavailable_every: Some(3),
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let started = Instant::now();
    for image in CATALOG {
        let push = format!("--registry {registry} push-all --name {image}");
        let left = CATALOG_PUSH_DEADLINE.saturating_sub(started.elapsed());
        env.run_within(&words(&push), &[], left).success();
    }
    let failed = proxy.seen().iter().filter(|s| s.ends_with(" 503!")).count();
    assert!(failed > 10, "the proxy failed {failed} requests");
    for image in CATALOG {
        let repository = format!("{}/{image}", env.registry_path());
        assert_eq!(
            common::registry_tags(&repository),
            [format!("py3.10-{ts}"), format!("py3.9-{ts}")]
        );
        for version in ["3.9", "3.10"] {
            let tag = format!("py{version}-{ts}");
            assert_eq!(
                common::registry_image_id(&repository, &tag),
                Some(common::image_id(&env.tag(image, version))),
                "{image}:{tag}"
            );
        }
    }
    assert_pulled_app_runs(&env, &registry);
}

/// Removes the local `dagster-app` images (a leaf: its own layers go with them), pulls each
/// from the test registry and runs it.
#[track_caller]
fn assert_pulled_app_runs(env: &Env, proxied_registry: &str) {
    let ts = &env.timestamp;
    for version in ["3.9", "3.10"] {
        let tag = format!("dagster-app:py{version}-{ts}");
        let proxied = format!("{proxied_registry}/{tag}");
        common::docker_output(&["image", "rm", &env.tag("dagster-app", version), &proxied]);
        let pulled = format!("{}/{tag}", env.registry());
        common::docker_output(&["pull", &pulled]);
        let said = common::run_image(&pulled, &["app"]);
        assert_eq!(
            said.trim(),
            format!("dagster dev on python {version}"),
            "{pulled}"
        );
    }
}
