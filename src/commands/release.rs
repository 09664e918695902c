//! `release`: the first Python version of an image as `<repo>:<version>` and `<repo>:latest`.
//! The image already pushed to the registry is copied inside the registries; when that copy
//! cannot be made but a push of the local image can succeed (the registry lacks the tag, or only
//! the source registry cannot be read), the local image is pushed with docker instead. A
//! destination that refuses or keeps failing stops the release at once, and a release stopped
//! halfway says which tags it published.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::output::Output;
use crate::reference::{ImageName, Tag, local_tag, version_tag};
use crate::registry::{self, Logins, RegistryClient, RemoteError};

use super::config::Destination;
use crate::ops::Session;
use crate::ops::outcome::Outcome;
use crate::ops::push::{AfterFailure, Publication, print_docker_steps, push_with_docker};

/// Publishes the first Python version of `name` as `<repo>:<dagster_version>`, and with
/// `set_latest` as `<repo>:latest`, for every destination repository.
pub fn release(
    session: &Session,
    name: &ImageName,
    dagster_version: &Tag,
    destinations: &[Destination],
    set_latest: bool,
    dry_run: bool,
) -> Result<()> {
    let image = session.catalog()?.image(name)?;
    let version = image.first_version().clone();
    let timestamp = image.last_built(&version)?;
    let mut hosts = BTreeSet::new();
    let mut targets = Vec::new();
    for destination in destinations {
        hosts.insert(destination.host.clone());
        let repository = &destination.repository;
        targets.push(format!("{repository}:{dagster_version}"));
        if set_latest {
            targets.push(format!("{repository}:latest"));
        }
    }
    let publication = Publication {
        source: local_tag(&image.name, &version, &timestamp),
        targets,
    };
    let pushed = session.registry().ok().map(|registry| Pushed {
        host: registry.host().to_owned(),
        reference: format!(
            "{}:{}",
            registry.repository(&image.name),
            version_tag(&version, &timestamp)
        ),
    });
    let hosts: Vec<String> = hosts.into_iter().collect();
    let several_platforms = image.config.platforms.len() > 1;
    if dry_run && several_platforms {
        print_index_copy(&session.out, pushed.as_ref(), &hosts, &publication.targets);
        return Ok(());
    }
    if several_platforms {
        return copy_index(session, &hosts, pushed, name, &publication.targets);
    }
    if dry_run {
        if let Some(pushed) = &pushed {
            note_copy_inside_registries(&session.out, pushed);
        }
        print_docker_steps(session, &hosts, &[publication]);
        return Ok(());
    }
    copy_else_push(session, &hosts, pushed.as_ref(), publication)
}

/// What a release of several platforms does, as `--dry-run` shows it: the AWS passwords it
/// signs in with where docker has no credentials, then the index copied inside the registries,
/// with no docker command.
fn print_index_copy(
    out: &Output,
    pushed: Option<&Pushed>,
    destination_hosts: &[String],
    targets: &[String],
) {
    let source = pushed.map_or("the pushed index (no registry given)", |p| {
        p.reference.as_str()
    });
    let source_host = pushed.map(|p| p.host.clone());
    let hosts: BTreeSet<&String> = source_host.iter().chain(destination_hosts).collect();
    let mut text = String::new();
    for host in hosts {
        if let Some(password) = registry::aws_password_needed(host) {
            text += &format!("# sign in to {host} with the password of `{password}`\n");
        }
    }
    for target in targets {
        text += &format!(
            "# copy {source} (an index, every platform) to {target} inside the registries\n"
        );
    }
    out.data(&text);
}

/// Copies the index `pushed` of a multi-platform image with every platform's image inside the
/// registries: the local store has one platform per tag, so there is no local image to push
/// instead.
fn copy_index(
    session: &Session,
    hosts: &[String],
    pushed: Option<Pushed>,
    name: &ImageName,
    targets: &[String],
) -> Result<()> {
    let Some(pushed) = pushed else {
        return Err(registry::Error::Missing.into());
    };
    let mut logins = session.sign_ins.sign_in(hosts)?;
    let published = RefCell::new(Vec::new());
    let copy = ReleaseCopy {
        session,
        destination_hosts: hosts,
        pushed: &pushed,
        targets,
        published: &published,
    };
    match copy.run(&mut logins) {
        Ok(Copied::Done) => Ok(()),
        Ok(Copied::SourceMissing) => Err(Error::IndexNotPushed {
            name: name.to_string(),
            reference: pushed.reference,
        }),
        Err(Failed::AtSource(error) | Failed::Elsewhere(error)) => {
            stopped(error, targets, published.into_inner())
        }
    }
}

/// Where the image a release publishes was pushed: `<registry>/<name>:py<V>-<timestamp>`.
struct Pushed {
    host: String,
    reference: String,
}

/// Says on stderr what `--dry-run` does not show of a release: the copy it tries first, and the
/// AWS password reading the source needs.
fn note_copy_inside_registries(out: &Output, pushed: &Pushed) {
    let password = registry::aws_password_needed(&pushed.host)
        .map(|command| format!(" (reading it needs the password of `{command}`)"))
        .unwrap_or_default();
    out.say(format_args!(
        "note: without --dry-run, `{}` is copied inside the registries when its registry has \
         it{password}; these are the commands run when it does not, or cannot be copied",
        pushed.reference
    ));
}

/// Copies `pushed` to the targets inside the registries when its registry has it, else tags
/// and pushes the local image with docker: also when only the source registry cannot be read,
/// saying why in one line. Any other failure stops the release, saying what it published.
fn copy_else_push(
    session: &Session,
    destination_hosts: &[String],
    pushed: Option<&Pushed>,
    publication: Publication,
) -> Result<()> {
    let mut logins = session.sign_ins.sign_in(destination_hosts)?;
    if let Some(pushed) = pushed {
        let published = RefCell::new(Vec::new());
        let copy = ReleaseCopy {
            session,
            destination_hosts,
            pushed,
            targets: &publication.targets,
            published: &published,
        };
        match copy.run(&mut logins) {
            Ok(Copied::Done) => return Ok(()),
            Ok(Copied::SourceMissing) => {}
            Err(Failed::AtSource(error)) if !error.is_interrupted() => {
                session.out.say(format_args!(
                    "warning: cannot copy `{}` inside the registry ({}): pushing the local image \
                 instead",
                    pushed.reference,
                    registry::joined_lines(&error.to_string())
                ))
            }
            Err(Failed::AtSource(error) | Failed::Elsewhere(error)) => {
                return stopped(error, &publication.targets, published.into_inner());
            }
        }
    }
    let hosts = destination_hosts;
    push_with_docker(session, hosts, &logins, &[publication], AfterFailure::Stop)
}

/// The failure of a copy that failed with `error` after writing the `published` tags of
/// `targets`: the error itself when it wrote none, else what is published and what is not.
fn stopped(error: RemoteError, targets: &[String], published: Vec<String>) -> Result<()> {
    let mut missing = targets.iter().filter(|t| !published.contains(t));
    let first = missing.next();
    let Some(first) = first.filter(|_| !published.is_empty() && !error.is_interrupted()) else {
        return Err(error.into());
    };
    let mut outcome = Outcome::default();
    for target in &published {
        outcome.published(target);
    }
    outcome.failed(first, error.into());
    outcome.untried(missing.cloned());
    outcome.into_result()
}

/// A copy of the pushed image to the release's targets.
struct ReleaseCopy<'a> {
    session: &'a Session,
    destination_hosts: &'a [String],
    pushed: &'a Pushed,
    targets: &'a [String],
    /// The targets written so far.
    published: &'a RefCell<Vec<String>>,
}

enum Copied {
    Done,
    /// The registry does not have the pushed image (said on stderr).
    SourceMissing,
}

/// Why a copy failed: at the source registry only (a push of the local image can still
/// succeed), or elsewhere (it cannot).
enum Failed {
    AtSource(RemoteError),
    Elsewhere(RemoteError),
}

impl ReleaseCopy<'_> {
    /// Copies the pushed image to the targets when its registry has it. Signs in to its
    /// registry first when it is no destination.
    fn run(&self, logins: &mut Logins) -> std::result::Result<Copied, Failed> {
        let source_host = &self.pushed.host;
        let mut hosts = self.destination_hosts.to_vec();
        if !hosts.contains(source_host) {
            let sign_ins = &self.session.sign_ins;
            sign_ins
                .sign_in_to(logins, source_host)
                .map_err(Failed::AtSource)?;
            hosts.push(source_host.clone());
        }
        let deadline = self.session.registry_timeout;
        let copied = (self.session.sign_ins)
            .with_client(&hosts, logins, deadline, |client| self.copy(client))
            .map_err(|error| self.blame(error))?;
        let Some(copied) = copied else {
            self.session.out.say(format_args!(
                "`{}` is not in the registry: pushing the local image",
                self.pushed.reference
            ));
            return Ok(Copied::SourceMissing);
        };
        self.session.out.say(format_args!(
            "copied `{}` ({}) to `{}` without docker: {} blob(s) mounted, {} uploaded",
            self.pushed.reference,
            copied.digest,
            self.targets.join("`, `"),
            copied.mounted,
            copied.uploaded
        ));
        Ok(Copied::Done)
    }

    /// The copy when the source registry has the pushed image, None when it does not.
    fn copy(
        &self,
        client: &RegistryClient,
    ) -> std::result::Result<Option<registry::Copied>, RemoteError> {
        if client.manifest_digest(&self.pushed.reference)?.is_none() {
            return Ok(None);
        }
        let mut note = |target: &str| self.published.borrow_mut().push(target.to_owned());
        client
            .copy(&self.pushed.reference, self.targets, &mut note)
            .map(Some)
    }

    /// Whether `error` happened at the source registry, and it is no destination.
    fn blame(&self, error: RemoteError) -> Failed {
        let host = error.registry();
        let at_source = host == Some(self.pushed.host.as_str())
            && !self
                .destination_hosts
                .iter()
                .any(|d| Some(d.as_str()) == host);
        if at_source {
            Failed::AtSource(error)
        } else {
            Failed::Elsewhere(error)
        }
    }
}
