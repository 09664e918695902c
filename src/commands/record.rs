//! `record` and `pull`: take in a build made on another machine (a Buildkite agent of the
//! exported pipeline): `record` writes its known timestamp into `last_updated.yaml` without
//! building; `pull` also fetches the pushed image and tags it as if it had been built here, so
//! that builds on it here start from it.

use crate::catalog::{Image, names};
use crate::error::Result;
use crate::plan::{local_tag, platform_version_tag, version_tag};

use super::config::BuiltElsewhere;
use super::{Context, invalid};

/// Records the timestamp of `built` as the last build of its Python version.
pub fn record(context: &Context, built: &BuiltElsewhere) -> Result<()> {
    let (name, python_version, timestamp) = (&built.name, &built.python_version, &built.timestamp);
    let image = built_image(context, name, python_version, timestamp)?;
    Ok(image.record_build(python_version, timestamp)?)
}

/// Pulls `<registry>/<name>:py<V>-<timestamp>` (`-<os>-<arch>` for one `platform` of a
/// multi-platform image), tags it `dagster/<name>:py<V>-<timestamp>` and records `timestamp`.
pub fn pull(context: &Context, built: &BuiltElsewhere, platform: Option<&str>) -> Result<()> {
    let (name, python_version, timestamp) = (&built.name, &built.python_version, &built.timestamp);
    let image = built_image(context, name, python_version, timestamp)?;
    let registry = context.registry()?;
    let tag = platform_version_tag(python_version, timestamp, platform);
    let remote = format!("{}:{tag}", registry.repository(name));
    let local = local_tag(name, python_version, timestamp);
    let docker = &context.docker;
    super::login::login_if_aws(docker, registry.host())?;
    docker.pull(&remote).run(&format!("pulling `{remote}`"))?;
    docker
        .tag(&remote, &local)
        .run(&format!("tagging `{remote}` as `{local}`"))?;
    Ok(image.record_build(python_version, timestamp)?)
}

/// The image `name`, once its `python_version` and the tag at `timestamp` are checked.
pub(super) fn built_image(
    context: &Context,
    name: &str,
    python_version: &str,
    timestamp: &str,
) -> Result<Image> {
    let image = context.catalog()?.image(name)?;
    image.version(python_version)?;
    let tag = version_tag(python_version, timestamp);
    names::check_tag(&tag).map_err(|why| invalid("tag", &tag, why))?;
    Ok(image)
}
