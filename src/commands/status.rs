//! `status`: one row per image-version (per platform of a multi-platform one): when it was last
//! built, whether that image is here, whether its inputs changed since (stale) and why, and
//! whether the registry has it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::{Image, lookup};
use crate::error::Result;
use crate::freshness::current_tag;
use crate::output::Output;
use crate::plan::{self, Plan};
use crate::reference::{ImageName, Platform, Target, Timestamp, platform_version_tag};
use crate::registry::{self, Registry, RegistryClient, RemoteError};
use crate::report::table;

use crate::ops::{Session, incremental};

/// One row of `status`; the JSON output is an array of these.
#[derive(Debug, Serialize)]
pub struct Row {
    pub image: String,
    pub python_version: String,
    /// The platform, for an image-version built for several (left out otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    pub last_updated: Option<String>,
    pub local_image: bool,
    pub stale: bool,
    /// Why it is stale (`context`, `args`, `base`, `upstream REF OLD -> NEW`, `not built`,
    /// `inputs`), or `unknown REF` when whether an upstream image moved cannot be told.
    pub reasons: Vec<String>,
    /// None when no registry is configured or it could not be asked.
    pub pushed: Option<bool>,
}

pub fn status(session: &Session, name: Option<&str>, json: bool) -> Result<()> {
    let images = match name {
        Some(name) => session.catalog()?.images_with_bases(&[name.to_owned()])?,
        None => session.catalog()?.all_images()?,
    };
    let shown: Vec<&Image> = match name {
        Some(name) => vec![lookup(&images, name)?],
        None => images.values().collect(),
    };
    let targets: Vec<Target> = shown.iter().flat_map(|image| image.targets()).collect();
    // Every image read is planned: the shown ones and their bases, `source: aws` ones too, so
    // that a base never built is a stale row of its own, not a plan that cannot be made. The
    // names of the bases do not matter to freshness: no registry is needed to plan.
    let planned: Vec<Target> = images.values().flat_map(|image| image.targets()).collect();
    let request = plan::Request {
        with_deps: true,
        without_registry: true,
        ..plan::Request::new(planned, Timestamp::recorded("status"))
    };
    let plan = plan::resolve(&images, &request, &session.registry_address())?;
    for image in images.values() {
        crate::ops::build::check_dockerignore(&image.dir)?;
    }
    let mut rows = rows(session, &images, &plan, &targets)?;
    rows.sort_by(|a, b| a.image.cmp(&b.image)); // stable: versions stay in versions.yaml order
    let out = if json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        )
    } else {
        render(&rows)
    };
    session.out.data(&out);
    Ok(())
}

fn rows(
    session: &Session,
    images: &BTreeMap<ImageName, Image>,
    plan: &Plan,
    targets: &[Target],
) -> Result<Vec<Row>> {
    let (freshness, local) = incremental::assess_with_images(session, images, plan)?;
    let mut registry =
        configured_registry(session)?.map(|registry| PushedLookup::connect(session, registry));
    let mut rows = Vec::new();
    let assessed = freshness.changed.into_iter().zip(freshness.reasons);
    for (build, (stale, reasons)) in plan.builds.iter().zip(assessed) {
        if !targets.contains(&build.target) {
            continue;
        }
        let image = lookup(images, &build.target.image)?;
        let version = &build.target.python_version;
        let last_updated = image.last_updated.get(version);
        let platform = build.platform.as_ref();
        let pushed = match (&mut registry, last_updated) {
            (Some(registry), Some(timestamp)) => {
                let tag = platform_version_tag(version, timestamp, platform);
                registry.is_pushed(&image.name, &tag)?
            }
            (Some(_), None) => Some(false),
            (None, _) => None,
        };
        rows.push(Row {
            image: image.name.to_string(),
            python_version: version.to_string(),
            platform: build.platform.as_ref().map(Platform::to_string),
            local_image: current_tag(image, version, platform)
                .is_some_and(|tag| local.contains(&tag)),
            last_updated: last_updated.map(Timestamp::to_string),
            stale,
            reasons: reasons.iter().map(ToString::to_string).collect(),
            pushed,
        });
    }
    Ok(rows)
}

/// The registry to look pushed images up in; None when none is configured or `--offline`, which
/// is a choice (`pushed` stays null without a word). A malformed one is bad input, as for every
/// command.
fn configured_registry(session: &Session) -> Result<Option<Registry>> {
    if session.offline {
        return Ok(None);
    }
    match session.registry() {
        Ok(registry) => Ok(Some(registry.clone())),
        Err(registry::Error::Missing) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Asks a registry whether tags are there. Its first failure is said once on stderr, and it is
/// not asked again: every later answer is unknown, rather than one more timeout each.
struct PushedLookup {
    out: Output,
    registry: Registry,
    /// None once the registry could not be asked.
    client: Option<RegistryClient>,
}

impl PushedLookup {
    /// A lookup with the credentials of a push: docker's, else an AWS password; each question
    /// answered within `deadline`.
    fn connect(session: &Session, registry: Registry) -> Self {
        let hosts = [registry.host().to_owned()];
        let deadline = session.registry_timeout;
        let client = (session.sign_ins.sign_in(&hosts))
            .and_then(|logins| RegistryClient::connect(&hosts, &logins, deadline))
            .map_err(|error| warn_cannot_ask(&session.out, &registry, &error))
            .ok();
        Self {
            out: session.out,
            registry,
            client,
        }
    }

    /// Whether the registry has `image` as `tag`: None when it could not be asked.
    fn is_pushed(&mut self, image: &ImageName, tag: &str) -> Result<Option<bool>> {
        let Some(client) = &self.client else {
            return Ok(None);
        };
        let reference = format!("{}:{tag}", self.registry.repository(image));
        match client.manifest_digest(&reference) {
            Ok(digest) => Ok(Some(digest.is_some())),
            Err(error @ RemoteError::Interrupted) => Err(error.into()),
            Err(error) => {
                warn_cannot_ask(&self.out, &self.registry, &error);
                self.client = None;
                Ok(None)
            }
        }
    }
}

fn warn_cannot_ask(out: &Output, registry: &Registry, error: &RemoteError) {
    out.say(format_args!(
        "warning: cannot ask registry `{}` whether images are pushed: {}",
        registry.host(),
        error.reason()
    ));
}

fn render(rows: &[Row]) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let python = |r: &Row| match &r.platform {
        Some(platform) => format!("{} {platform}", r.python_version),
        None => r.python_version.clone(),
    };
    let why = |r: &Row| match r.reasons.is_empty() {
        true => "-".to_owned(),
        false => r.reasons.join(", "),
    };
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.image.clone(),
                python(r),
                r.last_updated.clone().unwrap_or_else(|| "-".into()),
                yes_no(r.local_image),
                yes_no(r.stale),
                why(r),
                r.pushed.map_or_else(|| "?".into(), yes_no),
            ]
        })
        .collect();
    table(
        [
            "IMAGE",
            "PYTHON",
            "LAST UPDATED",
            "LOCAL",
            "STALE",
            "WHY",
            "PUSHED",
        ],
        &cells,
    )
}
