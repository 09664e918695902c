//! `record` and `pull`: take in a build made on another machine (a Buildkite agent of the
//! exported pipeline): `record` writes its known timestamp into `last_updated.yaml` without
//! building; `pull` also fetches the pushed image and tags it as if it had been built here, so
//! that builds on it here start from it.

use crate::catalog::{Image, names};
use crate::error::Result;
use crate::plan::{local_tag, version_tag};

use super::{Context, invalid};

/// Records `timestamp` as the last build of `python_version` of `name`.
pub fn record(context: &Context, name: &str, python_version: &str, timestamp: &str) -> Result<()> {
    let image = built_image(context, name, python_version, timestamp)?;
    Ok(image.record_build(python_version, timestamp)?)
}

/// Pulls `<registry>/<name>:py<V>-<timestamp>`, tags it `dagster/<name>:py<V>-<timestamp>` and
/// records `timestamp`.
pub fn pull(context: &Context, name: &str, python_version: &str, timestamp: &str) -> Result<()> {
    let image = built_image(context, name, python_version, timestamp)?;
    let registry = context.registry()?;
    let remote = registry.image_tag(name, python_version, timestamp);
    let local = local_tag(name, python_version, timestamp);
    let docker = &context.docker;
    super::login::login_if_aws(docker, registry.host())?;
    docker.pull(&remote).run(&format!("pulling `{remote}`"))?;
    docker
        .tag(&remote, &local)
        .run(&format!("tagging `{remote}` as `{local}`"))?;
    Ok(image.record_build(python_version, timestamp)?)
}

/// The image `name`, once its `python_version` and the tag of `timestamp` are checked.
fn built_image(
    context: &Context,
    name: &str,
    python_version: &str,
    timestamp: &str,
) -> Result<Image> {
    let image = context.catalog()?.image(name)?;
    image.version(python_version)?;
    names::check_tag_chars(timestamp).map_err(|why| invalid("timestamp", timestamp, why))?;
    let tag = version_tag(python_version, timestamp);
    names::check_tag(&tag).map_err(|why| invalid("tag", &tag, why))?;
    Ok(image)
}
