//! The registry client against the real loopback registry: pushes that find the image already
//! there, releases copied inside the registry, and failures (refused, unknown host, 503 answers,
//! reset connections) that end in one line naming the registry, tag lists served in small pages,
//! and `status` saying once why the registry could not be asked. What the tool asked for is read
//! from the registry's access log, or from a loopback proxy put in front of the registry.
//!
//! The TLS registry with basic auth is exercised in `tests/ecr.rs`; the TLS registry nobody
//! trusts is the one of `scripts/setup-untrusted-registry.sh`.

mod common;

use common::access_log::{
    AccessLog, REGISTRY_LOG, all_by_the_tool, assert_copied_by_mounts,
    assert_only_up_to_date_checks,
};
use common::proxy::{Faults, Proxy, TagCursor};
use common::{Env, REGISTRY, Run, docker_output, words};

/// The registry of `scripts/setup-untrusted-registry.sh`: TLS with a self-signed certificate
/// that neither docker (`/etc/docker/certs.d`) nor the system trusts.
const UNTRUSTED_REGISTRY: &str = "untrusted.registry.test:5444";

/// The local base image of `scripts/setup-engine.sh`, small and already in the registry.
const ROOTFS_IMAGE: &str = "dagster-image/rootfs:busybox";

/// Builds both Python versions of `python-base` and pushes them to the test's registry path.
fn built_and_pushed() -> Env {
    let env = Env::new();
    let ts = &env.timestamp;
    env.run(&words(&format!("build-all --name python-base -t {ts}")))
        .success();
    run_with_registry(&env, &env.registry(), "push-all --name python-base").success();
    env
}

/// `dagster-image --registry <registry> ARGS`.
fn run_with_registry(env: &Env, registry: &str, args: &str) -> Run {
    env.run(&words(&format!("--registry {registry} {args}")))
}

/// A proxy making `faults` in front of the loopback registry, and the test's registry path
/// behind it (`<proxy>/<path>`).
fn behind_proxy(env: &Env, faults: Faults) -> (Proxy, String) {
    let proxy = Proxy::start(REGISTRY, faults);
    let registry = format!("{}/{}", proxy.host, env.registry_path());
    (proxy, registry)
}

/// Pushes the local root file system image as `<env.registry()>/app:TAG` for each of `tags`,
/// without building anything; the local tags are removed after.
fn pushed_as_app(env: &Env, tags: &[&str]) {
    for tag in tags {
        let reference = format!("{}/app:{tag}", env.registry());
        docker_output(&["tag", ROOTFS_IMAGE, &reference]);
        docker_output(&["push", &reference]);
    }
    env.remove_images();
}

/// How many tag list requests the proxy saw.
fn tag_lists(proxy: &Proxy) -> usize {
    tag_list_requests(proxy).len()
}

/// The tag list requests the proxy saw, in order.
fn tag_list_requests(proxy: &Proxy) -> Vec<String> {
    (proxy.seen().into_iter())
        .filter(|s| s.contains("/tags/list"))
        .collect()
}

/// How many requests the proxy saw end with `suffix` (a status, or `503!`/`reset!`).
fn count_ending(proxy: &Proxy, suffix: &str) -> usize {
    proxy.seen().iter().filter(|s| s.ends_with(suffix)).count()
}

#[track_caller]
fn assert_up_to_date(run: &Run, registry: &str, env: &Env) {
    for version in ["3.9", "3.10"] {
        let target = format!("{registry}/python-base:py{version}-{}", env.timestamp);
        let line = format!("`{target}` is up to date (sha256:");
        assert!(
            run.stderr.contains(&line),
            "not reported up to date: {run:#?}"
        );
    }
}

#[track_caller]
fn assert_one_line_error(run: &Run, expected: &str) {
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.stderr, format!("error: {expected}\n"));
}

#[test]
fn re_pushing_an_unchanged_image_reports_it_up_to_date_and_uploads_nothing() {
    let env = built_and_pushed();
    let log = AccessLog::mark(REGISTRY_LOG);
    let run = run_with_registry(&env, &env.registry(), "push-all --name python-base").success();
    assert_up_to_date(&run, &env.registry(), &env);
    let requests = log.requests(&format!("{}/python-base", env.registry_path()));
    assert_only_up_to_date_checks(&requests, 2);
    assert!(
        all_by_the_tool(&requests),
        "docker was asked: {requests:#?}"
    );
}

#[test]
fn an_image_rebuilt_under_the_same_tag_is_pushed_again() {
    let env = built_and_pushed();
    let dockerfile = env.read("python-base/Dockerfile");
    env.write(
        "python-base/Dockerfile",
        &format!("{dockerfile}RUN echo {} > /rebuilt\n", env.timestamp),
    );
    let ts = &env.timestamp;
    env.run(&words(&format!("build --name python-base -v 3.9 -t {ts}")))
        .success();
    let log = AccessLog::mark(REGISTRY_LOG);
    let run = run_with_registry(&env, &env.registry(), "push --name python-base -v 3.9").success();
    assert!(!run.stderr.contains("up to date"), "{run:#?}");
    let repository = format!("{}/python-base", env.registry_path());
    let manifest_puts = log
        .requests(&repository)
        .iter()
        .filter(|r| r.kind() == "PUT manifests")
        .count();
    assert_eq!(manifest_puts, 1);
    assert_eq!(
        common::registry_image_id(&repository, &format!("py3.9-{ts}")),
        Some(common::image_id(&env.tag("python-base", "3.9")))
    );
}

#[test]
fn an_image_pushed_under_another_registry_name_is_recognised_by_its_config_digest() {
    let env = built_and_pushed();
    // docker recorded the digests for 127.0.0.1:5000; through the proxy the registry has
    // another name, so only the config digest (the image ID) can tell.
    let (proxy, registry) = behind_proxy(&env, Faults::default());
    let run = run_with_registry(&env, &registry, "push-all --name python-base").success();
    assert_up_to_date(&run, &registry, &env);
    let seen = proxy.seen();
    assert!(
        seen.iter()
            .all(|s| s.starts_with("HEAD ") || s.starts_with("GET ")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("GET ") && s.contains("/manifests/"))
    );
}

#[test]
fn release_copies_the_pushed_image_inside_the_registry_without_the_local_image() {
    let env = built_and_pushed();
    let path = env.registry_path();
    let source_tag = format!("py3.9-{}", env.timestamp);
    let source_digest = common::registry_digest(&format!("{path}/python-base"), &source_tag);
    assert!(source_digest.is_some());
    env.remove_images();
    let log = AccessLog::mark(REGISTRY_LOG);
    let registry = env.registry();
    let release = format!(
        "release --name python-base --dagster-version 1.2.3 --to {registry}/a --to {registry}/b"
    );
    let run = run_with_registry(&env, &registry, &release).success();
    assert!(run.stderr.contains("without docker"), "{run:#?}");
    let repositories = [format!("{path}/a"), format!("{path}/b")];
    let requests_of_the_run = repositories
        .clone()
        .map(|repository| log.requests(&repository));
    for (repository, requests) in repositories.iter().zip(requests_of_the_run) {
        assert_eq!(common::registry_tags(repository), ["1.2.3", "latest"]);
        for tag in ["1.2.3", "latest"] {
            assert_eq!(common::registry_digest(repository, tag), source_digest);
        }
        assert_copied_by_mounts(&requests, 2);
    }
}

#[test]
fn release_copies_the_blobs_when_the_registry_starts_an_upload_instead_of_mounting() {
    let env = built_and_pushed();
    let path = env.registry_path();
    let source_tag = format!("py3.9-{}", env.timestamp);
    let source_digest = common::registry_digest(&format!("{path}/python-base"), &source_tag);
    let (proxy, registry) = behind_proxy(
        &env,
        Faults {
            refuse_mounts: true,
            ..Faults::default()
        },
    );
    let release = format!("release --name python-base --dagster-version 1.2.3 --to {registry}/a");
    let run = run_with_registry(&env, &registry, &release).success();
    assert!(run.stderr.contains(" 0 blob(s) mounted"), "{run:#?}");
    assert_eq!(
        common::registry_digest(&format!("{path}/a"), "1.2.3"),
        source_digest
    );
    let seen = proxy.seen();
    assert!(
        seen.iter()
            .any(|s| s.starts_with("POST ") && s.ends_with(" 202"))
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("PUT ") && s.contains("/blobs/uploads/"))
    );
}

#[test]
fn release_pushes_the_local_image_when_the_registry_does_not_have_it() {
    let env = Env::new();
    let ts = &env.timestamp;
    env.run(&words(&format!("build-all --name python-base -t {ts}")))
        .success();
    let registry = env.registry();
    let release = format!("release --name python-base --dagster-version 1.2.3 --to {registry}/a");
    let run = run_with_registry(&env, &registry, &release).success();
    let source = format!("{registry}/python-base:py3.9-{ts}");
    assert!(
        run.stderr.contains(&format!(
            "`{source}` is not in the registry: pushing the local image"
        )),
        "{run:#?}"
    );
    let repository = format!("{}/a", env.registry_path());
    assert_eq!(common::registry_tags(&repository), ["1.2.3", "latest"]);
    assert_eq!(
        common::registry_image_id(&repository, "1.2.3"),
        Some(common::image_id(&env.tag("python-base", "3.9")))
    );
}

#[test]
fn tags_lists_what_the_registry_has_for_the_image() {
    let env = built_and_pushed();
    let run = run_with_registry(&env, &env.registry(), "tags --name python-base").success();
    let ts = &env.timestamp;
    assert_eq!(run.stdout, format!("py3.10-{ts}\npy3.9-{ts}\n"));
    let none = run_with_registry(&env, &env.registry(), "tags --name dagster-app").code(1);
    assert_eq!(none.stdout, "");
    none.stderr_has("has no repository");
}

/// `tags --name app` of an `app` holding `tags`, through a proxy that puts at most two tags on
/// a page and links the next with `cursor`.
fn tags_in_pages_of_two(tags: &[&str], cursor: TagCursor) -> (Env, Proxy, String, Run) {
    let env = Env::new();
    pushed_as_app(&env, tags);
    let faults = Faults {
        tag_pages_of: Some(2),
        tag_cursor: cursor,
        ..Faults::default()
    };
    let (proxy, registry) = behind_proxy(&env, faults);
    let run = run_with_registry(&env, &registry, "tags --name app");
    (env, proxy, registry, run)
}

#[test]
fn tags_lists_every_page_of_a_registry_that_caps_pages_below_what_is_asked() {
    let five = ["t1", "t2", "t3", "t4", "t5"];
    let (_env, proxy, _, run) = tags_in_pages_of_two(&five, TagCursor::Last);
    let run = run.success();
    assert_eq!(run.stdout, "t1\nt2\nt3\nt4\nt5\n");
    assert_eq!(tag_lists(&proxy), 3, "{:#?}", proxy.seen());
}

/// The proxy pages by a cursor of its own in an absolute `Link` and ignores `last`: asking
/// after the last tag received would get the first page again, and list two tags of five.
#[test]
fn tags_follows_the_link_of_a_registry_whose_cursor_is_its_own() {
    let five = ["t1", "t2", "t3", "t4", "t5"];
    let (_env, proxy, _, run) = tags_in_pages_of_two(&five, TagCursor::Opaque);
    let run = run.success();
    assert_eq!(run.stdout, "t1\nt2\nt3\nt4\nt5\n");
    let pages = tag_list_requests(&proxy);
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(
        pages[1..]
            .iter()
            .all(|p| p.contains("?cursor=") && !p.contains("last=")),
        "{pages:#?}"
    );
}

/// The real registry (distribution 2.8) sends every tag in one page, without a `Link`.
#[test]
fn tags_asks_once_a_registry_whose_page_has_no_link() {
    let env = Env::new();
    pushed_as_app(&env, &["t2", "t1"]);
    let (proxy, registry) = behind_proxy(&env, Faults::default());
    let run = run_with_registry(&env, &registry, "tags --name app").success();
    assert_eq!(run.stdout, "t1\nt2\n");
    assert_eq!(tag_lists(&proxy), 1, "{:#?}", proxy.seen());
}

/// The registry's credentials go to the registry only: a `Link` to another host is not
/// followed.
#[test]
fn tags_of_a_registry_linking_to_another_host_is_an_error_naming_the_link() {
    let (env, proxy, registry, run) =
        tags_in_pages_of_two(&["t1", "t2", "t3"], TagCursor::Elsewhere);
    let elsewhere = proxy.host.replace("127.0.0.1", "localhost");
    assert_one_line_error(
        &run,
        &format!(
            "listing the tags of `{registry}/app` failed: registry `{}` linked the next page of \
             tags to another host (`http://{elsewhere}/v2/{}/app/tags/list?n=2&last=t2`)",
            proxy.host,
            env.registry_path()
        ),
    );
    assert_eq!(tag_lists(&proxy), 1, "{:#?}", proxy.seen());
}

#[test]
fn tags_of_a_registry_linking_back_to_a_page_it_sent_is_an_error_naming_the_link() {
    let (env, proxy, registry, run) = tags_in_pages_of_two(&["t1", "t2", "t3"], TagCursor::Looping);
    let host = &proxy.host;
    assert_one_line_error(
        &run,
        &format!(
            "listing the tags of `{registry}/app` failed: registry `{host}` linked a page of \
             tags it had sent already (`http://{host}/v2/{}/app/tags/list?n=2`)",
            env.registry_path()
        ),
    );
    assert_eq!(run.stdout, "");
    assert_eq!(tag_lists(&proxy), 2, "{:#?}", proxy.seen());
}

#[test]
fn an_unreachable_registry_is_one_line_naming_it() {
    let env = Env::new();
    let ts = &env.timestamp;
    env.run(&words(&format!("build --name python-base -v 3.9 -t {ts}")))
        .success();
    let run = run_with_registry(&env, "127.0.0.1:1", "push --name python-base -v 3.9");
    assert_one_line_error(
        &run,
        &format!(
            "checking `127.0.0.1:1/python-base:py3.9-{ts}` failed: registry `127.0.0.1:1` is \
             unreachable (connection refused)"
        ),
    );
}

#[test]
fn an_unknown_registry_host_is_one_line_naming_it() {
    let env = Env::new();
    let ts = &env.timestamp;
    env.run(&words(&format!("build --name python-base -v 3.9 -t {ts}")))
        .success();
    let host = "no-such-registry.invalid:5000";
    let run = run_with_registry(&env, host, "push --name python-base -v 3.9");
    assert_one_line_error(
        &run,
        &format!(
            "checking `{host}/python-base:py3.9-{ts}` failed: registry `{host}` is unknown: \
             no such host"
        ),
    );
}

#[test]
fn a_registry_answering_503_is_asked_again_and_the_push_goes_on() {
    let env = built_and_pushed();
    let (proxy, registry) = behind_proxy(
        &env,
        Faults {
            unavailable_first: 3,
            ..Faults::default()
        },
    );
    let run = run_with_registry(&env, &registry, "push-all --name python-base").success();
    assert_up_to_date(&run, &registry, &env);
    let seen = proxy.seen();
    assert_eq!(count_ending(&proxy, " 503!"), 3);
    let manifest = format!("/manifests/py3.9-{}", env.timestamp);
    let first_503 = seen
        .iter()
        .position(|s| s.contains(&manifest) && s.ends_with(" 503!"));
    let later_200 = seen
        .iter()
        .rposition(|s| s.contains(&manifest) && s.ends_with(" 200"));
    assert!(first_503 < later_200 && first_503.is_some(), "{seen:#?}");
}

#[test]
fn reset_connections_are_retried() {
    let env = built_and_pushed();
    let (proxy, registry) = behind_proxy(
        &env,
        Faults {
            reset_first: 2,
            ..Faults::default()
        },
    );
    let run = run_with_registry(&env, &registry, "tags --name python-base").success();
    let ts = &env.timestamp;
    assert_eq!(run.stdout, format!("py3.10-{ts}\npy3.9-{ts}\n"));
    assert_eq!(count_ending(&proxy, " reset!"), 2);
}

#[test]
fn a_registry_that_keeps_failing_is_given_up_after_four_attempts_in_one_line() {
    let env = Env::new();
    let (proxy, registry) = behind_proxy(
        &env,
        Faults {
            unavailable_first: usize::MAX,
            ..Faults::default()
        },
    );
    let run = run_with_registry(&env, &registry, "tags --name python-base");
    assert_one_line_error(
        &run,
        &format!(
            "listing the tags of `{registry}/python-base` failed: registry `{}` answered HTTP \
             503, 4 times",
            proxy.host
        ),
    );
    assert_eq!(tag_lists(&proxy), 4);
}

/// The untrusted registry's answer to `GET /v2/<path>` (skipping certificate checks, as only
/// the test may): the HTTP status and the body.
fn untrusted_registry_get(path: &str) -> (String, String) {
    let output = std::process::Command::new("curl")
        .args(["-sSk", "-w", "\n%{http_code}"])
        .arg(format!("https://{UNTRUSTED_REGISTRY}/v2/{path}"))
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "the registry {UNTRUSTED_REGISTRY} is not answering: run \
         `scripts/setup-untrusted-registry.sh` first\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_owned(), body.to_owned())
}

/// A registry whose TLS certificate is not trusted stops the push before anything is sent:
/// exit 1, one error line naming the registry and saying it is not trusted over TLS.
#[test]
fn an_untrusted_tls_registry_is_one_line_naming_it_and_nothing_is_pushed() {
    let env = Env::new();
    let ts = &env.timestamp;
    env.run(&words(&format!("build --name python-base -v 3.9 -t {ts}")))
        .success();
    let registry = format!("{UNTRUSTED_REGISTRY}/{}", env.registry_path());
    let run = run_with_registry(&env, &registry, "push --name python-base -v 3.9")
        .code(1)
        .stderr_has(&format!("registry `{UNTRUSTED_REGISTRY}`"))
        .stderr_has("is not trusted over TLS");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{run:#?}");
    assert!(
        errors[0].contains(&format!("`{UNTRUSTED_REGISTRY}` is not trusted over TLS")),
        "{run:#?}"
    );
    let (status, body) =
        untrusted_registry_get(&format!("{}/python-base/tags/list", env.registry_path()));
    assert_eq!(status, "404", "{body}");
    assert!(body.contains("NAME_UNKNOWN"), "{body}");
}

/// `python-base` recorded as built at the test's timestamp for both Python versions, so `status`
/// has two tags to ask the registry about.
fn recorded_env() -> Env {
    let env = Env::new();
    for version in ["3.9", "3.10"] {
        let ts = &env.timestamp;
        env.run(&words(&format!(
            "record --name python-base -v {version} -t {ts}"
        )))
        .success();
    }
    env
}

/// The lines of `run`'s stderr that are warnings.
fn warnings(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|line| line.starts_with("warning:"))
        .collect()
}

#[test]
fn status_says_once_why_an_unreachable_registry_was_not_asked() {
    let env = recorded_env();
    let run = run_with_registry(&env, "127.0.0.1:1/x", "status").success();
    assert_eq!(
        warnings(&run),
        [
            "warning: cannot ask registry `127.0.0.1:1` whether images are pushed: it is \
          unreachable (connection refused)"
        ],
        "{run:#?}"
    );
    let pushed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("python-base "))
        .filter_map(|line| line.split_whitespace().last())
        .collect();
    assert_eq!(pushed, ["?", "?"], "{run:#?}");
}

#[test]
fn status_json_leaves_pushed_null_and_asks_a_failing_registry_once() {
    let env = recorded_env();
    let (proxy, registry) = behind_proxy(
        &env,
        Faults {
            unavailable_first: usize::MAX,
            ..Faults::default()
        },
    );
    let run = run_with_registry(&env, &registry, "status --name python-base --json").success();
    assert_eq!(
        warnings(&run),
        [format!(
            "warning: cannot ask registry `{}` whether images are pushed: it answered HTTP 503, \
             4 times",
            proxy.host
        )],
        "{run:#?}"
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", run.stdout));
    let pushed: Vec<&serde_json::Value> = rows.iter().map(|row| &row["pushed"]).collect();
    assert_eq!(pushed, [&serde_json::Value::Null, &serde_json::Value::Null]);
    let seen = proxy.seen();
    let asked_about = |tag: &str| {
        seen.iter()
            .any(|s| s.contains(&format!("/manifests/{tag}")))
    };
    let ts = &env.timestamp;
    assert!(asked_about(&format!("py3.9-{ts}")), "{seen:#?}");
    assert!(
        !asked_about(&format!("py3.10-{ts}")),
        "asked after giving up: {seen:#?}"
    );
}

#[test]
fn status_rejects_a_malformed_registry_as_bad_input() {
    let env = recorded_env();
    run_with_registry(&env, "bad_host:5000", "status")
        .code(2)
        .stderr_has("`bad_host:5000` is not a registry");
}

/// `tags` asks the registry only: it works outside any repository, where no images folder is.
#[test]
fn tags_needs_no_images_folder() {
    let env = Env::empty();
    let pushed = format!("{}/app:only-tag", env.registry());
    common::docker_output(&["tag", "dagster-image/rootfs:busybox", &pushed]);
    common::docker_output(&["push", &pushed]);
    let elsewhere = tempfile::tempdir().unwrap();
    let mut command = env.bare(&["--registry", &env.registry(), "tags", "--name", "app"]);
    command.current_dir(elsewhere.path());
    let run = common::Run::from(command.output().unwrap()).success();
    assert_eq!(run.stdout, "only-tag\n");
}
