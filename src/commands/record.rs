//! `record`, `pull` and `index`: take in a build made on another machine (a Buildkite agent of
//! the exported pipeline): `record` writes its known timestamp into `last_updated.yaml` without
//! building; `pull` also fetches the pushed image and tags it as if it had been built here, so
//! that builds on it here start from it; `index` puts the index of the images each platform's
//! step pushed.

use crate::catalog::Image;
use crate::error::Result;
use crate::names;
use crate::reference::{
    ImageName, Platform, PythonVersion, Timestamp, local_tag, platform_version_tag, version_tag,
};

use super::config::BuiltElsewhere;
use crate::ops::{Session, invalid, platform_index};

/// Records the timestamp of `built` as the last build of its Python version.
pub fn record(session: &Session, built: &BuiltElsewhere) -> Result<()> {
    let (name, python_version, timestamp) = (&built.name, &built.python_version, &built.timestamp);
    let image = built_image(session, name, python_version, timestamp)?;
    Ok(image.record_build(python_version, timestamp)?)
}

/// Pulls `<registry>/<name>:py<V>-<timestamp>` (`-<os>-<arch>` for one `platform` of a
/// multi-platform image), tags it `dagster/<name>:py<V>-<timestamp>` and records `timestamp`.
pub fn pull(session: &Session, built: &BuiltElsewhere, platform: Option<&Platform>) -> Result<()> {
    let (name, python_version, timestamp) = (&built.name, &built.python_version, &built.timestamp);
    let image = built_image(session, name, python_version, timestamp)?;
    let registry = session.registry()?;
    let tag = platform_version_tag(python_version, timestamp, platform);
    let name = &image.name;
    let remote = format!("{}:{tag}", registry.repository(name));
    let local = local_tag(name, python_version, timestamp);
    let docker = &session.docker;
    crate::ops::engine_login::login_if_aws(session, registry.host())?;
    docker.pull(&remote).run(&format!("pulling `{remote}`"))?;
    docker
        .tag(&remote, &local)
        .run(&format!("tagging `{remote}` as `{local}`"))?;
    Ok(image.record_build(python_version, timestamp)?)
}

/// `index`: puts the index of the images of each platform of `built`, pushed already by the
/// steps of a pipeline, under its common tag.
pub fn index(
    session: &Session,
    built: &BuiltElsewhere,
    platforms: &[Platform],
    dry_run: bool,
) -> Result<()> {
    let (name, version, timestamp) = (&built.name, &built.python_version, &built.timestamp);
    let image = built_image(session, name, version, timestamp)?;
    let platforms = platform_index::platforms_to_push(&image, platforms);
    let registry = session.registry()?;
    let tag = crate::reference::version_tag(version, timestamp);
    let (_, index) =
        platform_index::per_platform(registry, &image.name, version, timestamp, platforms, &tag);
    let hosts = [registry.host().to_owned()];
    platform_index::assemble(session, &hosts, &[index], dry_run)
}

/// The image `name`, once its `python_version` and the tag at `timestamp` are checked.
fn built_image(
    session: &Session,
    name: &ImageName,
    python_version: &PythonVersion,
    timestamp: &Timestamp,
) -> Result<Image> {
    let image = session.catalog()?.image(name)?;
    image.version(python_version)?;
    let tag = version_tag(python_version, timestamp);
    names::check_tag(&tag).map_err(|why| invalid("tag", &tag, why))?;
    Ok(image)
}
