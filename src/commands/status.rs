//! `status`: one row per image-version: when it was last built, whether that image is here,
//! whether its inputs changed since (stale), and whether the registry has it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::Image;
use crate::error::Result;
use crate::freshness::current_tag;
use crate::plan::{self, Plan, Target, version_tag};
use crate::registry::{self, Registry, RegistryClient};
use crate::report::table;

use super::{Context, incremental, print_stdout};

/// One row of `status`; the JSON output is an array of these.
#[derive(Debug, Serialize)]
pub struct Row {
    pub image: String,
    pub python_version: String,
    pub last_updated: Option<String>,
    pub local_image: bool,
    pub stale: bool,
    /// None when no registry is configured or it could not be asked.
    pub pushed: Option<bool>,
}

pub fn status(context: &Context, name: Option<&str>, json: bool) -> Result<()> {
    let images = match name {
        Some(name) => context.catalog.images_with_bases(&[name.to_owned()])?,
        None => context.catalog.all_images()?,
    };
    let shown: Vec<&Image> = match name {
        Some(name) => vec![&images[name]],
        None => images.values().collect(),
    };
    let targets: Vec<Target> = shown
        .iter()
        .flat_map(|image| {
            image.versions.keys().map(|v| Target {
                image: image.name.clone(),
                python_version: v.clone(),
            })
        })
        .collect();
    let request = plan::Request {
        targets: targets.clone(),
        with_deps: true,
        timestamp: "status".into(),
        ..Default::default()
    };
    let plan = plan::resolve(&images, &request, || context.registry())?;
    let mut rows = rows(context, &images, &plan, &targets)?;
    rows.sort_by(|a, b| a.image.cmp(&b.image)); // stable: versions stay in versions.yaml order
    let out = if json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        )
    } else {
        render(&rows)
    };
    print_stdout(&out);
    Ok(())
}

fn rows(
    context: &Context,
    images: &BTreeMap<String, Image>,
    plan: &Plan,
    targets: &[Target],
) -> Result<Vec<Row>> {
    let freshness = incremental::assess(&context.docker, images, plan)?;
    let local: Vec<String> = context
        .docker
        .list_images(&format!("{}/*", plan::LOCAL_NAMESPACE))
        .output("listing local images", None)?
        .lines()
        .map(str::to_owned)
        .collect();
    let registry = context.registry().ok();
    let client = registry.as_ref().and_then(registry_client);
    let mut rows = Vec::new();
    for (build, stale) in plan.builds.iter().zip(freshness.changed) {
        if !targets.contains(&build.target) {
            continue;
        }
        let image = &images[&build.target.image];
        let version = &build.target.python_version;
        let last_updated = image.last_updated.get(version).map(str::to_owned);
        let pushed = match (&registry, &last_updated) {
            (Some(registry), Some(timestamp)) => {
                let reference = format!(
                    "{}:{}",
                    registry.repository(&image.name),
                    version_tag(version, timestamp)
                );
                is_pushed(client.as_ref(), &reference)
            }
            (Some(_), None) => Some(false),
            (None, _) => None,
        };
        rows.push(Row {
            image: image.name.clone(),
            python_version: version.clone(),
            local_image: current_tag(image, version).is_some_and(|tag| local.contains(&tag)),
            last_updated,
            stale,
            pushed,
        });
    }
    Ok(rows)
}

/// A client for `registry` with the credentials of a push (docker's, else an AWS password);
/// None when there are none or no client.
fn registry_client(registry: &Registry) -> Option<RegistryClient> {
    let hosts = [registry.host().to_owned()];
    let logins = registry::sign_in(&hosts).ok()?;
    RegistryClient::connect(&hosts, &logins).ok()
}

/// Whether the registry has `reference`: None when it could not be asked.
fn is_pushed(client: Option<&RegistryClient>, reference: &str) -> Option<bool> {
    client?
        .manifest_digest(reference)
        .ok()
        .map(|digest| digest.is_some())
}

fn render(rows: &[Row]) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.image.clone(),
                r.python_version.clone(),
                r.last_updated.clone().unwrap_or_else(|| "-".into()),
                yes_no(r.local_image),
                yes_no(r.stale),
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
            "PUSHED",
        ],
        &cells,
    )
}
