//! `bake` and `pipeline`: print the plan that `build-all` would run as a `docker buildx bake`
//! file or as a Buildkite pipeline, for builders beyond this machine.

use std::collections::BTreeMap;
use std::path::Path;

use crate::catalog::{Catalog, Image, SecretSource};
use crate::error::Result;
use crate::export::{bake, pipeline};
use crate::output::Output;
use crate::plan::Plan;
use crate::reference::{ImageName, Target, Timestamp};

use crate::ops::build::{self, BuildRequest};
use crate::ops::{Session, labelling};

/// Prints the bake file of `request`'s plan, each target labelled as `build-all` labels its
/// image and pulling where an upstream image moved; with `push`, tagged for the registry and
/// pushed.
pub fn bake(session: &Session, request: &BuildRequest, push: bool) -> Result<()> {
    let (images, plan) = build::resolve(session, request)?;
    let mut plan = labelling::label_export(session, &images, plan, false)?;
    build::add_oci_labels(session, &mut plan)?;
    let registry = if push {
        Some(session.registry()?.to_string())
    } else {
        None
    };
    let declared = images
        .iter()
        .map(|(name, image)| (name.clone(), image.config.platforms.clone()))
        .collect();
    let options = bake::Options {
        platforms: request.platforms(),
        declared,
        push_to: registry.as_deref(),
    };
    let file = bake::bake_file(&plan, &options)?;
    let most_platforms = file.target.values().map(|t| t.platforms.len()).max();
    warn_of_copies(&session.out, &images, &plan);
    session.out.text(format_args!(
        "{}",
        bake_notes(session.catalog()?.dir(), most_platforms.unwrap_or(0), push)
    ));
    note_secret_files(&session.out, &plan);
    session.out.data(&bake::to_json(&file));
    Ok(())
}

/// What `docker buildx bake` needs to be told to run the file: where it may read the build
/// contexts from, and, without `--push`, what it does with the images.
fn bake_notes(images_dir: &Path, platforms: usize, push: bool) -> String {
    let dir = images_dir.display();
    let mut notes = format!(
        "note: bake reads no build context outside the folder it runs in: run `docker buildx \
         bake` in `{dir}` or a folder above it, or pass `--allow=fs.read={dir}`\n"
    );
    if !push && platforms > 1 {
        notes.push_str(
            "note: without `--push` the images are loaded into docker (output `type=docker`), \
             whose classic image store holds one platform per image (the containerd image \
             store holds several): pass `--push`, or one `--platform`\n",
        );
    }
    notes
}

/// Prints the Buildkite pipeline of `request`'s plan, which pushes to the registry, each step
/// pulling where an upstream image moved; with `--skip-unchanged`, only the steps of what is
/// stale (none when nothing is).
pub fn pipeline(
    session: &Session,
    request: &BuildRequest,
    agents: &[(String, String)],
) -> Result<()> {
    let (images, plan) = build::resolve(session, request)?;
    let registry = session.registry()?.to_string();
    let total = plan.builds.len();
    let plan = labelling::label_export(session, &images, plan, request.skips_unchanged())?;
    if request.skips_unchanged() {
        session.out.say(format_args!(
            "{} of {total} image-versions changed",
            plan.builds.len()
        ));
    }
    let current_bases = current_bases(&images, &plan);
    let images_dir = dir_in_repository(session.catalog()?);
    let settings = pipeline::Settings {
        images_dir: &images_dir,
        registry: &registry,
        agents,
        current_bases: &current_bases,
        registry_cache: session.registry_cache,
    };
    session.out.data(&pipeline::pipeline(&plan, &settings)?);
    Ok(())
}

/// The current timestamp of each local base the builds of `plan` use without building it.
fn current_bases(images: &BTreeMap<ImageName, Image>, plan: &Plan) -> Vec<(Target, Timestamp)> {
    plan.builds
        .iter()
        .filter(|build| build.after.is_empty())
        .filter_map(|build| build.base.as_ref())
        .filter_map(|base| {
            let image = images.get(base.target.image.as_str())?;
            let timestamp = image.last_updated.get(&base.target.python_version)?;
            Some((base.target.clone(), timestamp.clone()))
        })
        .collect()
}

/// Bake reads a secret's file only inside the folder it runs in, or where `--allow` lets it:
/// says so of each file a target reads.
fn note_secret_files(out: &Output, plan: &Plan) {
    let files: std::collections::BTreeSet<&Path> = plan
        .builds
        .iter()
        .flat_map(|build| &build.request.secrets)
        .filter_map(|secret| match &secret.source {
            SecretSource::File { path, .. } => Some(path.as_path()),
            SecretSource::Env(_) => None,
        })
        .collect();
    for file in files {
        out.say(format_args!(
            "note: bake reads the secret file `{}`: run `docker buildx bake` in a folder above \
             it, or pass `--allow=fs.read={}`",
            file.display(),
            file.display()
        ));
    }
}

/// `image.yaml` copies are made by `build`, which bake does not run: says which files must be
/// in place first.
fn warn_of_copies(out: &Output, images: &BTreeMap<ImageName, Image>, plan: &Plan) {
    let planned = |image: &&Image| plan.builds.iter().any(|b| b.target.image == image.name);
    for image in images.values().filter(planned) {
        for copy in &image.config.copies {
            out.say(format_args!(
                "warning: `{}` builds with `{}` copied to `{}` (its image.yaml); bake does not \
                 copy it, so put it there before running `docker buildx bake`",
                image.name,
                copy.from.display(),
                image.dir.join(&copy.to).display()
            ));
        }
    }
}

/// The catalog folder relative to the root of its repository, where Buildkite runs the steps.
fn dir_in_repository(catalog: &Catalog) -> String {
    let dir = fs_err::canonicalize(catalog.dir()).unwrap_or_else(|_| catalog.dir().to_owned());
    match dir.strip_prefix(catalog.repository_root()) {
        Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
        Ok(relative) => relative.display().to_string(),
        Err(_) => dir.display().to_string(),
    }
}
