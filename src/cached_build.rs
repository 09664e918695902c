//! One build with its registry layer cache (`--registry-cache`), around the engine's commands
//! ([`crate::engine::layer_cache`]): the cache pulled first where the builder needs it here,
//! the image pushed to the cache tag after it. A cache that is missing (the first build) or
//! that the registry refuses never fails the build: it says so and goes on.

use std::path::Path;

use crate::engine::{Docker, layer_cache};
use crate::plan::BuildSpec;
use crate::process;

/// Builds `request`, its output logged to `log` and passed to `on_line`, reading and writing
/// its layer cache when it has one.
pub fn build(
    docker: &Docker,
    request: &BuildSpec,
    step: &str,
    log: &Path,
    on_line: &mut dyn FnMut(&str),
) -> process::Result<()> {
    let Some(cache) = request.cache.as_deref() else {
        return docker.build(request).run_logged(step, log, on_line);
    };
    import(docker, cache, log);
    let mut cache_push_failed = false;
    let built = docker.build(request).run_logged(step, log, &mut |line| {
        cache_push_failed |= layer_cache::says_cache_push_failed(line);
        on_line(line);
    });
    match built {
        Err(process::Error::Failed { .. }) if cache_push_failed => {
            warn_not_exported(cache, log);
            docker
                .build_reading_cache(request)
                .run_logged(step, log, on_line)
        }
        built => built,
    }
}

/// After a successful build: its image pushed to the cache tag, where the builder does not
/// push its cache itself.
pub fn export(docker: &Docker, request: &BuildSpec, log: &Path) {
    let Some(cache) = request.cache.as_deref() else {
        return;
    };
    if docker
        .run_layer_cache_export(&request.tag, cache, log)
        .is_err()
    {
        warn_not_exported(cache, log);
    }
}

/// The cache image pulled where the builder reuses only local layers; none there yet is the
/// first build's case.
fn import(docker: &Docker, cache: &str, log: &Path) {
    let Some(pull) = docker.pull_layer_cache(cache) else {
        return;
    };
    let step = format!("pulling the layer cache `{cache}`");
    if pull.run_logged(&step, log, &mut |_| {}).is_err() {
        say!(
            "note: no layer cache could be pulled from `{cache}` (none yet, on a first build): \
             building without it; see {}",
            log.display()
        );
    }
}

fn warn_not_exported(cache: &str, log: &Path) {
    say!(
        "warning: the registry refused the layer cache `{cache}`: the image is built, but a \
         build elsewhere will not reuse its layers; see {}",
        log.display()
    );
}
