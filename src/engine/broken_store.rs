//! podman's store broken by a cut-off commit. podman 4.3, stopped by a signal (as an interrupted
//! build is, by Ctrl-C or by this tool passing on its own interrupt) between writing an image's
//! record and its manifest, keeps an image without its manifest, and from then on its commands
//! that come upon that image (every `podman image ls`; an `image inspect` or a build looking
//! through the images) fail naming it. Neither signal avoids it (in 60
//! builds stopped at random moments, one broke the store with SIGINT, one with SIGTERM). The
//! failure is recognized here, for a hint that says how to repair the store.

use crate::process;

/// What podman says before the broken image's ID.
const BROKEN_IMAGE: &str = "locating item named \"manifest\" for image with ID \"";

/// How to repair the store, when `error` is an engine command failing on an image without its
/// manifest.
pub fn broken_store_hint(error: &process::Error) -> Option<String> {
    let process::Error::Failed { detail, .. } = error else {
        return None;
    };
    let id = broken_image(detail)?;
    Some(format!(
        "podman's store holds image `{id}` without its manifest, as podman leaves it when a \
         commit is cut off (a build interrupted at that moment), and podman's commands that \
         look through its images fail on it; remove it, as podman advises: \
         `podman rmi --force {id}`, then run again"
    ))
}

/// The ID of the image that podman's output says has no manifest.
fn broken_image(output: &str) -> Option<&str> {
    let (_, after) = output.split_once(BROKEN_IMAGE)?;
    let id = &after[..after.find('"')?];
    let is_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit());
    is_id.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    /// podman 4.3's `image inspect` on a store a cut-off commit broke, as a test run saw it.
    const PODMAN_SAYS: &str = "\nError: locating item named \"manifest\" for image with ID \
        \"e0bd72ddc1a38f40fc30b74183d90a402887279c744f00177088b7c3f3bad846\" (consider removing \
        the image to resolve the issue): file does not exist";

    fn failed(detail: &str) -> process::Error {
        process::Error::Failed {
            step: "reading the local images".into(),
            command: "podman image inspect x".into(),
            status: std::process::ExitStatus::from_raw(125 << 8),
            detail: detail.into(),
        }
    }

    #[test]
    fn names_the_image_without_a_manifest_and_the_command_removing_it() {
        let id = "e0bd72ddc1a38f40fc30b74183d90a402887279c744f00177088b7c3f3bad846";
        let hint = broken_store_hint(&failed(PODMAN_SAYS)).unwrap();
        assert!(
            hint.contains(&format!("image `{id}` without its manifest")),
            "{hint}"
        );
        assert!(hint.ends_with(&format!("`podman rmi --force {id}`, then run again")));
    }

    #[test]
    fn other_failures_get_no_such_hint() {
        assert_eq!(broken_store_hint(&failed("\nError: image not known")), None);
        assert_eq!(broken_store_hint(&process::Error::Interrupted), None);
        let not_an_id = PODMAN_SAYS.replace("e0bd72dd", "e0bd72d;");
        assert_eq!(broken_store_hint(&failed(&not_an_id)), None);
        let cut = "for image with ID \"e0bd72dd";
        assert_eq!(
            broken_image(&format!("locating item named \"manifest\" {cut}")),
            None
        );
        assert_eq!(broken_image(&format!("{BROKEN_IMAGE}\"")), None);
    }
}
