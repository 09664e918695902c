//! The registry layer cache of a build run (`--registry-cache`): each build's cache tag, beside
//! its images' (`<registry>/<image>:buildcache-py<V>[-<os>-<arch>]`); the engine asked which
//! builder it runs, whose flags differ; the engine logged in to an AWS registry that keeps it.

use crate::engine::Docker;
use crate::error::Result;
use crate::plan::{BuildSpec, Plan};
use crate::reference;

use super::Session;

/// Gives each build of `plan` its cache tag when the run keeps the cache in the registry.
pub fn set_cache_tags(session: &Session, plan: &mut Plan) -> Result<()> {
    let Some(registry) = session.cache_registry()? else {
        return Ok(());
    };
    for build in &mut plan.builds {
        let (image, version) = (&build.target.image, &build.target.python_version);
        let tag = reference::cache_tag(version, build.platform.as_ref());
        build.request.cache = Some(format!("{}:{tag}", registry.repository(image)));
    }
    Ok(())
}

/// The engine that runs `plan`: asked which builder it runs when the builds take a registry
/// layer cache, whose flags differ between builders.
pub fn engine_for(session: &Session, plan: &Plan) -> Result<Docker> {
    if !plan
        .builds
        .iter()
        .any(|build| build.request.cache.is_some())
    {
        return Ok(session.docker.clone());
    }
    let dialect = session.docker.cache_dialect()?;
    Ok(session.docker.clone().with_cache_dialect(dialect))
}

/// Logs the engine in to an AWS registry that keeps the layer cache, as a push would; one
/// that cannot be logged in to is a warning, as a refused cache is.
pub fn log_in(session: &Session) -> Result<()> {
    let Some(registry) = session.cache_registry()? else {
        return Ok(());
    };
    if let Err(error) = super::engine_login::login_if_aws(session, registry.host()) {
        session.out.say(format_args!(
            "warning: no login to the registry of the layer cache: {error}"
        ));
    }
    Ok(())
}

/// The commands of one build: its layer cache pulled first and pushed after it when it has one.
pub fn describe_build(docker: &Docker, request: &BuildSpec) -> String {
    let cache = request.cache.as_deref();
    let pull = cache.and_then(|cache| docker.pull_layer_cache(cache));
    let export = cache.map(|cache| docker.export_layer_cache(&request.tag, cache));
    let commands = pull
        .into_iter()
        .chain(std::iter::once(docker.build(request)))
        .chain(export.unwrap_or_default());
    commands.map(|command| format!("{command}\n")).collect()
}
