//! `push`, `push-all` and `tags`: the last build of one or every Python version of an image
//! pushed to the registry ([`crate::ops::push`]), and the tags the registry has of an image.

use crate::error::Result;
use crate::reference::{ImageName, Platform, PythonVersion, Tag};

use crate::ops::push::Pushes;
use crate::ops::{Session, platform_index};

/// What `push` and `push-all` push of an image.
pub struct Push<'a> {
    /// One Python version, else every one.
    pub python_version: Option<&'a PythonVersion>,
    /// The tag instead of `py<V>-<timestamp>`.
    pub custom_tag: Option<&'a Tag>,
    /// Platforms instead of the image.yaml ones.
    pub platforms: &'a [Platform],
}

/// Pushes `python_version` of `name` (or every version) as `<registry>/<name>:py<V>-<timestamp>`,
/// or as `<registry>/<name>:<custom_tag>`: for several `platforms` (else those of its
/// image.yaml), each platform's image and then their index under that tag.
pub fn push(session: &Session, name: &ImageName, push: &Push, dry_run: bool) -> Result<()> {
    let image = session.catalog()?.image(name)?;
    let registry = session.registry()?;
    let custom_tag = push.custom_tag.map(Tag::as_str);
    let versions: Vec<PythonVersion> = match push.python_version {
        Some(version) => {
            image.version(version)?;
            vec![version.clone()]
        }
        None => image.versions.keys().cloned().collect(),
    };
    let platforms = platform_index::platforms_to_push(&image, push.platforms);
    let mut pushes = Pushes::default();
    for version in &versions {
        let timestamp = image.last_built(version)?;
        pushes.add(
            registry,
            &image.name,
            (version, &timestamp),
            platforms,
            custom_tag,
        );
    }
    pushes.run(session, registry, dry_run)
}

/// Prints the tags of `<registry>/<name>`, one per line.
pub fn tags(session: &Session, name: &ImageName) -> Result<()> {
    let registry = session.registry()?;
    let hosts = [registry.host().to_owned()];
    let mut logins = session.sign_ins.sign_in(&hosts)?;
    let repository = registry.repository(name);
    let deadline = session.registry_timeout;
    let tags = session
        .sign_ins
        .with_client(&hosts, &mut logins, deadline, |client| {
            client.tags(&repository)
        })?;
    session.out.data(
        &tags
            .iter()
            .map(|tag| format!("{tag}\n"))
            .collect::<String>(),
    );
    Ok(())
}
