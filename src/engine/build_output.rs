//! What a line of a build's output says, in each builder's words: the classic builder's,
//! BuildKit's plain progress and podman's.

/// The Dockerfile step a line of `docker build` output starts: `Step 2/5 : RUN ...` from the
/// classic builder, `#5 [2/3] RUN ...` from BuildKit, `STEP 2/5: RUN ...` from podman.
pub fn build_step(text: &str) -> Option<&str> {
    let classic = text.starts_with("Step ") && text.contains(" : ");
    let podman = text.starts_with("STEP ") && text.contains(": ");
    if classic || podman {
        return Some(text);
    }
    let rest = text.strip_prefix('#')?;
    let (number, step) = rest.split_once(' ')?;
    (number.chars().all(|c| c.is_ascii_digit()) && step.starts_with('[')).then_some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_steps_of_docker_builders_and_podman() {
        assert_eq!(
            build_step("Step 2/5 : RUN pip install x"),
            Some("Step 2/5 : RUN pip install x")
        );
        assert_eq!(
            build_step("#5 [2/3] RUN echo hi"),
            Some("[2/3] RUN echo hi")
        );
        assert_eq!(
            build_step("STEP 2/5: RUN pip install x"),
            Some("STEP 2/5: RUN pip install x")
        );
        assert_eq!(build_step("#5 DONE 0.1s"), None);
        assert_eq!(build_step(" ---> Running in 1234"), None);
        assert_eq!(build_step("Stepping"), None);
        assert_eq!(build_step("Step back"), None, "a step has ` : `");
        assert_eq!(build_step("echo a : b"), None, "a step starts with `Step `");
        assert_eq!(build_step("STEP back"), None, "a podman step has `: `");
        assert_eq!(
            build_step("note: STEP"),
            None,
            "a podman step starts with `STEP `"
        );
    }
}
