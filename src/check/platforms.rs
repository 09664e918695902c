//! Local bases that lack a platform of their dependents: an image built for `linux/arm64` needs
//! its local base's `linux/arm64` image, which exists only when the base's `image.yaml` lists
//! that platform (an image without `platforms` is built for the engine's platform alone).

use std::collections::BTreeSet;

use indexmap::IndexMap;

use crate::catalog::{BaseSource, VersionSpec};
use crate::reference::{Platform, PythonVersion};

use super::{Folder, Folders, Kind, Problem};

/// One problem per local base of `folder` lacking some of `folder`'s platforms.
pub(super) fn bases_lacking_platforms(
    folders: &Folders,
    folder: &Folder,
    versions: &IndexMap<PythonVersion, VersionSpec>,
) -> Vec<Problem> {
    let Ok(config) = &folder.config else {
        return Vec::new();
    };
    let bases: BTreeSet<&str> = versions
        .values()
        .filter_map(|spec| spec.base_image.as_ref())
        .filter(|base| base.source == BaseSource::Local)
        .map(|base| base.name.as_str())
        .collect();
    let mut found = Vec::new();
    for base in bases {
        let Some(Ok(base_config)) = folders.get(base).map(|f| &f.config) else {
            continue;
        };
        let covers = |platform: &Platform| {
            base_config.platforms.contains(platform)
                || (base_config.platforms.is_empty() && config.platforms.len() == 1)
        };
        let missing: Vec<String> = config
            .platforms
            .iter()
            .filter(|platform| !covers(platform))
            .map(Platform::to_string)
            .collect();
        if missing.is_empty() {
            continue;
        }
        let missing = missing.join("`, `");
        found.push(folder.problem(Kind::BaseLacksPlatform, "image.yaml", None).says(
            format!("builds for `{missing}` on the local base `{base}`, which is not built for it"),
            format!("add `{missing}` to the `platforms` of `{base}/image.yaml`"),
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::{ImageConfig, LastUpdated, versions};
    use crate::check::problems;
    use crate::digest::ContextPaths;

    /// An image folder building Python 3.9 for `platforms`, on the local `base` when given.
    fn folder(name: &str, base: Option<&str>, platforms: &[&str]) -> Folder {
        let dir = Path::new("images").join(name);
        let versions_yaml = match base {
            Some(base) => format!("'3.9':\n  base_image: {{name: {base}, source: local}}\n"),
            None => "'3.9': {}\n".to_owned(),
        };
        let config = ImageConfig {
            platforms: platforms
                .iter()
                .map(|p| Platform::parse(p).unwrap())
                .collect(),
            ..ImageConfig::default()
        };
        Folder {
            name: name.to_owned(),
            versions: versions::parse(&dir.join("versions.yaml"), &versions_yaml),
            last_updated: Ok(LastUpdated::default()),
            config: Ok(config),
            dockerfile: Ok("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n".to_owned()),
            context: Ok(ContextPaths::default()),
            uncopiable: Vec::new(),
            dir,
        }
    }

    fn platform_problems(base: &[&str], app: &[&str]) -> Vec<String> {
        let folders: Folders = [folder("base", None, base), folder("app", Some("base"), app)]
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect();
        problems(&folders)
            .into_iter()
            .filter(|p| p.kind == Kind::BaseLacksPlatform)
            .map(|p| format!("{}: {} ({})", p.image, p.problem, p.fix))
            .collect()
    }

    #[test]
    fn a_local_base_must_be_built_for_every_platform_of_its_dependents() {
        let both = ["linux/amd64", "linux/arm64"];
        assert!(platform_problems(&both, &both).is_empty());
        assert!(platform_problems(&both, &["linux/arm64"]).is_empty());
        assert!(platform_problems(&[], &["linux/arm64"]).is_empty());
        assert!(platform_problems(&[], &[]).is_empty());
        assert_eq!(
            platform_problems(&["linux/amd64"], &both),
            [
                "app: builds for `linux/arm64` on the local base `base`, which is not built for it \
              (add `linux/arm64` to the `platforms` of `base/image.yaml`)"
            ]
        );
        assert_eq!(platform_problems(&[], &both).len(), 1);
    }
}
