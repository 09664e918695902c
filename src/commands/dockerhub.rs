//! `build-and-push-dockerhub`: the original tool's multi-platform release, drop-in. The image
//! folder (its `image.yaml` copies in place) is built with `DAGSTER_VERSION=X` for each
//! platform, each platform's image pushed as `<repo>:X-<os>-<arch>`, then their index put under
//! `<repo>:X` (and `<repo>:latest` with `--set-latest`) through the registry API: on every
//! engine, where the original needs a buildx builder that pushes several platforms at once.
//! One platform is one build tagged `<repo>:X` and pushed. When the current buildx builder can
//! build every platform and push them as one index, one `docker buildx build --push` does it all,
//! as in the original. `last_updated.yaml` is not touched: nothing was built at a timestamp. A
//! failed build exits with the engine's exit status, as the original does.

use crate::build_context::Additions;
use crate::catalog::{Error as CatalogError, Image};
use crate::error::{Error, Result};
use crate::plan::{BuildSpec, DAGSTER_VERSION_ARG, platform_args};
use crate::process::Command;
use crate::reference::Tag;
use crate::registry::{Child, split_repository};

use super::platform_push::{self, PlannedIndex};
use super::{Context, print_stdout, state_dir};

/// The platforms built when none is given, as the original tool.
pub const DEFAULT_PLATFORMS: [&str; 2] = ["linux/amd64", "linux/arm64"];

/// What to build and push.
pub struct Release<'a> {
    pub name: &'a str,
    pub dagster_version: &'a Tag,
    pub set_latest: bool,
    pub platforms: &'a [String],
    /// Where to push, `dagster/<name>` (Docker Hub) unless given.
    pub repository: Option<&'a str>,
}

pub fn build_and_push(context: &Context, release: &Release, dry_run: bool) -> Result<()> {
    let version = release.dagster_version.as_str();
    let platforms: Vec<String> = if release.platforms.is_empty() {
        DEFAULT_PLATFORMS.map(str::to_owned).to_vec()
    } else {
        release.platforms.to_vec()
    };
    let image = context.catalog()?.image(release.name)?;
    let repository = release
        .repository
        .map_or_else(|| format!("dagster/{}", release.name), str::to_owned);
    let mut tags = vec![version.to_owned()];
    if release.set_latest {
        tags.push("latest".to_owned());
    }
    // One platform needs no buildx: it is not asked.
    let buildx = match platforms.len() > 1 {
        true => context.docker.buildx_builder()?,
        false => None,
    };
    let pushed = Pushed {
        image: &image,
        repository: &repository,
        tags: &tags,
        platforms: &platforms,
    };
    let steps = match buildx.filter(|builder| builder.pushes_all(&platforms)) {
        Some(_) => Steps::with_buildx(context, &pushed),
        None => Steps::new(context, &pushed),
    };
    if dry_run {
        print_stdout(&steps.describe(&image));
        return platform_push::assemble(&[], &steps.indexes, context.registry_timeout, true);
    }
    let state_dir = state_dir(context.catalog()?).map_err(CatalogError::Io)?;
    {
        let _copies = Additions::copy_in([&image], &state_dir)?;
        for (step, command) in &steps.builds {
            command.run(step).map_err(Error::ReleaseBuild)?;
        }
        for request in &steps.built {
            crate::run::verify_platform(&context.docker, request)?;
        }
    }
    for (step, command) in &steps.pushes {
        command.run(step)?;
    }
    let (host, _) = split_repository(&repository);
    platform_push::assemble(
        &[host.to_owned()],
        &steps.indexes,
        context.registry_timeout,
        false,
    )
}

/// The build of the image folder with `DAGSTER_VERSION=<version>` tagged `references`, for
/// `platform` (with the `TARGET*` arguments BuildKit would set) or for every platform at once.
fn release_request(
    image: &Image,
    references: &[String],
    version: &str,
    platform: Option<&str>,
) -> BuildSpec {
    let mut build_args = vec![(DAGSTER_VERSION_ARG.to_owned(), version.to_owned())];
    build_args.extend(platform.map(platform_args).unwrap_or_default());
    BuildSpec {
        tag: references[0].clone(),
        extra_tags: references[1..].to_vec(),
        dockerfile: image.dir.join("Dockerfile"),
        context: image.dir.clone(),
        build_args,
        platform: platform.map(str::to_owned),
        default_platform: false,
        labels: Vec::new(),
        pull: false,
    }
}

/// The builds, pushes and indexes of a release.
/// What a release builds, and where it pushes it.
struct Pushed<'a> {
    image: &'a Image,
    repository: &'a str,
    /// The version first, then `latest` when asked.
    tags: &'a [String],
    platforms: &'a [String],
}

impl Pushed<'_> {
    /// `<repository>:<tag>` of every tag.
    fn references(&self) -> Vec<String> {
        let repository = self.repository;
        self.tags
            .iter()
            .map(|tag| format!("{repository}:{tag}"))
            .collect()
    }
}

struct Steps {
    builds: Vec<(String, Command)>,
    /// The images the builds leave here, each checked to be of its platform before any push.
    built: Vec<BuildSpec>,
    pushes: Vec<(String, Command)>,
    indexes: Vec<PlannedIndex>,
}

impl Steps {
    fn new(context: &Context, pushed: &Pushed) -> Self {
        let (image, repository, tags, platforms) = (
            pushed.image,
            pushed.repository,
            pushed.tags,
            pushed.platforms,
        );
        let docker = &context.docker;
        let version = &tags[0];
        let several = platforms.len() > 1;
        let mut steps = Steps {
            builds: Vec::new(),
            built: Vec::new(),
            pushes: Vec::new(),
            indexes: Vec::new(),
        };
        let mut children = Vec::new();
        for platform in platforms {
            let references: Vec<String> = if several {
                let suffix = platform.replace('/', "-");
                vec![format!("{repository}:{version}-{suffix}")]
            } else {
                pushed.references()
            };
            let request = release_request(image, &references, version, Some(platform));
            let step = format!("building `{}`", request.tag);
            steps.builds.push((step, docker.build(&request)));
            steps.built.push(request);
            for reference in &references {
                let step = format!("pushing `{reference}`");
                steps.pushes.push((step, docker.push(reference)));
            }
            children.push(Child {
                reference: references[0].clone(),
                platform: platform.clone(),
            });
        }
        if several {
            steps.indexes = pushed
                .references()
                .into_iter()
                .map(|target| PlannedIndex {
                    target,
                    children: children.clone(),
                })
                .collect();
        }
        steps
    }

    /// One `docker buildx build --push` of every platform, tagged with every tag: the index is
    /// pushed by BuildKit, as the original tool does.
    fn with_buildx(context: &Context, pushed: &Pushed) -> Self {
        let references = pushed.references();
        let request = release_request(pushed.image, &references, &pushed.tags[0], None);
        let step = format!("building and pushing `{}` with buildx", request.tag);
        let build = context.docker.buildx_build_push(&request, pushed.platforms);
        Steps {
            builds: vec![(step, build)],
            built: Vec::new(),
            pushes: Vec::new(),
            indexes: Vec::new(),
        }
    }

    /// Every build and push, in order, as `--dry-run` shows them.
    fn describe(&self, image: &Image) -> String {
        let mut out = super::build_plan::copy_notes([image]);
        for (_, command) in self.builds.iter().chain(&self.pushes) {
            out += &format!("{command}\n");
        }
        out
    }
}
