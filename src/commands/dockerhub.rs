//! `build-and-push-dockerhub`: the original tool's multi-platform release, drop-in. The image
//! folder (its `image.yaml` copies in place) is built with the `docker_args` of its first Python
//! version and `DAGSTER_VERSION=X`. When the current buildx builder can build every platform and
//! push them as one index, one `docker buildx build --push` does it all, as in the original. On
//! every other engine each platform is built and pushed to the tool's own registry (staging,
//! `<registry>/N:X-<os>-<arch>`), copied from there into the release's repository by digest,
//! without a tag, and their index put under `<repo>:X` (and `<repo>:latest` with
//! `--set-latest`) through the registry API: the release's repository ends with exactly the
//! original's tags. One platform is one build tagged `<repo>:X` and pushed. `last_updated.yaml`
//! is not touched: nothing was built at a timestamp. A failed build exits with the engine's exit
//! status, as the original does.

use crate::build_context::{Additions, Prepared};
use crate::catalog::{Error as CatalogError, Image};
use crate::error::{Error, Result};
use crate::oci_labels;
use crate::plan::{BuildSpec, DAGSTER_VERSION_ARG, platform_args};
use crate::process::Command;
use crate::reference::{ImageName, Platform, Tag, Timestamp};
use crate::registry::{Child, split_repository};

use crate::ops::{Session, state_dir, state_path};
use crate::ops::{build_secrets, platform_index};

/// The platforms built when none is given, as the original tool: `linux/amd64` and
/// `linux/arm64`.
pub fn default_platforms() -> Vec<Platform> {
    vec![
        Platform::linux_amd64(),
        Platform::from_parts("linux", "arm64", None),
    ]
}

/// What to build and push.
pub struct Release<'a> {
    pub name: &'a str,
    pub dagster_version: &'a Tag,
    pub set_latest: bool,
    pub platforms: &'a [Platform],
    /// Where to push, `dagster/<name>` (Docker Hub) unless given.
    pub repository: Option<&'a str>,
}

pub fn build_and_push(session: &Session, release: &Release, dry_run: bool) -> Result<()> {
    let version = release.dagster_version.as_str();
    let platforms: Vec<Platform> = if release.platforms.is_empty() {
        default_platforms()
    } else {
        release.platforms.to_vec()
    };
    let image = session.catalog()?.image(release.name)?;
    let repository = release
        .repository
        .map_or_else(|| format!("dagster/{}", release.name), str::to_owned);
    let mut tags = vec![version.to_owned()];
    if release.set_latest {
        tags.push("latest".to_owned());
    }
    // One platform needs no buildx: it is not asked.
    let buildx = match platforms.len() > 1 {
        true => session.docker.buildx_builder()?,
        false => None,
    };
    let with_buildx = buildx.is_some_and(|builder| builder.pushes_all(&platforms));
    let staging = match platforms.len() > 1 && !with_buildx {
        true => Some(staging_repository(session, &image.name, dry_run)?),
        false => None,
    };
    let provenance = session.provenance()?;
    let labels = oci_labels::labels(provenance, &Timestamp::now(), version);
    let pushed = Pushed {
        image: &image,
        repository: &repository,
        tags: &tags,
        platforms: &platforms,
        labels: &labels,
    };
    let steps = match &staging {
        Some(staging) => Steps::staged(session, &pushed, staging),
        None if with_buildx => {
            Steps::with_buildx(session, &pushed, release_cache(session, &image)?)
        }
        None => Steps::new(session, &pushed),
    };
    let hosts: Vec<String> = [Some(repository.as_str()), staging.as_deref()]
        .into_iter()
        .flatten()
        .map(|repository| split_repository(repository).0.to_owned())
        .collect();
    build_secrets::check_sources([&image])?;
    // `docker buildx build` is BuildKit's, which takes secrets.
    if !dry_run && !with_buildx {
        build_secrets::check_engine(&session.docker, [&image])?;
    }
    let copies = Additions::prepare([&image], &state_path(session.catalog()?))?;
    if dry_run {
        session.out.data(&steps.describe(&image));
    } else {
        build_and_push_staged(session, copies, &steps, staging.as_deref())?;
    }
    steps.release_untagged(session, &hosts, &pushed, dry_run)
}

/// The registry layer cache of a release built by buildx (`--registry-cache`): the cache tag of
/// the image's first Python version, whose build arguments a release builds with.
fn release_cache(session: &Session, image: &Image) -> Result<Option<String>> {
    let Some(registry) = session.cache_registry()? else {
        return Ok(None);
    };
    let tag = crate::reference::cache_tag(image.first_version(), None);
    Ok(Some(format!("{}:{tag}", registry.repository(&image.name))))
}

/// Runs the builds of `steps` with the image's `copies` in place (a failure exits with the
/// engine's status), then their pushes, docker logged in to an AWS `staging` registry first.
fn build_and_push_staged(
    session: &Session,
    copies: Prepared,
    steps: &Steps,
    staging: Option<&str>,
) -> Result<()> {
    state_dir(session.catalog()?).map_err(CatalogError::Io)?;
    {
        let _copies = copies.copy_in()?;
        for (step, command) in &steps.builds {
            command.run(step).map_err(Error::ReleaseBuild)?;
        }
        for request in &steps.built {
            crate::run::verify_platform(&session.docker, request)?;
        }
    }
    if let Some(staging) = staging {
        crate::ops::engine_login::login_if_aws(session, split_repository(staging).0)?;
    }
    for (step, command) in &steps.pushes {
        command.run(step)?;
    }
    Ok(())
}

/// Where each platform's image waits before its copy by digest: the repository of `name` in the
/// tool's registry (`--registry`, `DAGSTER_IMAGE_REGISTRY`, ECR of `AWS_ACCOUNT_ID`), never the
/// public one, where a tag of each platform would stay. A dry run without a registry names it
/// `<registry>/<name>`, saying so.
fn staging_repository(session: &Session, name: &ImageName, dry_run: bool) -> Result<String> {
    match session.registry() {
        Ok(registry) => Ok(registry.repository(name)),
        Err(error) if dry_run => {
            session.out.say(format_args!(
                "warning: {error}: each platform's image is pushed to `<registry>/{name}` first"
            ));
            Ok(format!("<registry>/{name}"))
        }
        Err(error) => {
            session.out.say(format_args!(
                "note: without a buildx builder that pushes every platform at once, each \
                 platform's image is pushed to the tool's registry first, then copied by digest, \
                 without a tag, next to the release"
            ));
            Err(error.into())
        }
    }
}

/// The build arguments of a release, as the original's: the `docker_args` of the image's first
/// Python version (Dagster's release Dockerfiles take their `BASE_IMAGE` from there), then
/// `DAGSTER_VERSION=<version>`, which replaces a `docker_args` entry of that name.
fn release_build_args(image: &Image, version: &str) -> Vec<(String, String)> {
    let mut build_args: Vec<(String, String)> = image
        .versions
        .get(image.first_version())
        .map(|spec| spec.docker_args.clone().into_iter().collect())
        .unwrap_or_default();
    build_args.retain(|(name, _)| name != DAGSTER_VERSION_ARG);
    build_args.push((DAGSTER_VERSION_ARG.to_owned(), version.to_owned()));
    build_args
}

/// The build of the image folder with the release's build arguments tagged `references`, for
/// `platform` (with the `TARGET*` arguments BuildKit would set) or for every platform at once.
fn release_request(
    pushed: &Pushed,
    references: &[String],
    platform: Option<&Platform>,
) -> BuildSpec {
    let (image, version) = (pushed.image, &pushed.tags[0]);
    let mut build_args = release_build_args(image, version);
    build_args.extend(platform.map(platform_args).unwrap_or_default());
    BuildSpec {
        tag: references[0].clone(),
        extra_tags: references[1..].to_vec(),
        dockerfile: image.dir.join("Dockerfile"),
        context: image.dir.clone(),
        build_args,
        platform: platform.cloned(),
        default_platform: false,
        labels: pushed.labels.to_vec(),
        pull: false,
        secrets: image.config.secrets.clone(),
        cache: None,
    }
}

/// The builds, pushes and indexes of a release.
/// What a release builds, and where it pushes it.
struct Pushed<'a> {
    image: &'a Image,
    repository: &'a str,
    /// The version first, then `latest` when asked.
    tags: &'a [String],
    platforms: &'a [Platform],
    /// The OCI labels of the images, their version the Dagster version.
    labels: &'a [(String, String)],
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
    /// Each platform's image in the staging repository, to be copied by digest.
    staged: Vec<Child>,
}

impl Steps {
    /// One platform: one build tagged with every tag, pushed.
    fn new(session: &Session, pushed: &Pushed) -> Self {
        let docker = &session.docker;
        let references = pushed.references();
        let request = release_request(pushed, &references, pushed.platforms.first());
        let step = format!("building `{}`", request.tag);
        Steps {
            builds: vec![(step, docker.build(&request))],
            built: vec![request],
            pushes: (references.iter())
                .map(|reference| (format!("pushing `{reference}`"), docker.push(reference)))
                .collect(),
            staged: Vec::new(),
        }
    }

    /// Several platforms without buildx: each built and pushed to `staging` as
    /// `<staging>:<version>-<os>-<arch>`, to be copied into the release's repository by digest.
    fn staged(session: &Session, pushed: &Pushed, staging: &str) -> Self {
        let docker = &session.docker;
        let version = &pushed.tags[0];
        let mut steps = Steps {
            builds: Vec::new(),
            built: Vec::new(),
            pushes: Vec::new(),
            staged: Vec::new(),
        };
        for platform in pushed.platforms {
            let suffix = platform.tag_suffix();
            let reference = format!("{staging}:{version}-{suffix}");
            let request = release_request(pushed, std::slice::from_ref(&reference), Some(platform));
            let step = format!("building `{reference}`");
            steps.builds.push((step, docker.build(&request)));
            steps.built.push(request);
            let step = format!("pushing `{reference}`");
            steps.pushes.push((step, docker.push(&reference)));
            steps.staged.push(Child {
                reference,
                platform: platform.clone(),
            });
        }
        steps
    }

    /// The staged images copied into the release's repository by digest, and their index put
    /// under every tag; nothing when nothing was staged.
    fn release_untagged(
        &self,
        session: &Session,
        hosts: &[String],
        pushed: &Pushed,
        dry_run: bool,
    ) -> Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        platform_index::release_untagged(
            session,
            hosts,
            &self.staged,
            pushed.repository,
            &pushed.references(),
            dry_run,
        )
    }

    /// One `docker buildx build --push` of every platform, tagged with every tag: the index is
    /// pushed by BuildKit, as the original tool does.
    fn with_buildx(session: &Session, pushed: &Pushed, cache: Option<String>) -> Self {
        let references = pushed.references();
        let mut request = release_request(pushed, &references, None);
        request.cache = cache;
        let step = format!("building and pushing `{}` with buildx", request.tag);
        let build = session.docker.buildx_build_push(&request, pushed.platforms);
        Steps {
            builds: vec![(step, build)],
            built: Vec::new(),
            pushes: Vec::new(),
            staged: Vec::new(),
        }
    }

    /// Every build and push, in order, as `--dry-run` shows them.
    fn describe(&self, image: &Image) -> String {
        let mut out = crate::ops::build::copy_notes([image]);
        for (_, command) in self.builds.iter().chain(&self.pushes) {
            out += &format!("{command}\n");
        }
        out
    }
}
