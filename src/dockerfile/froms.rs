//! The images a Dockerfile's stages start from (`FROM`), expanded with the build arguments of one
//! build: what a build pulls from outside when it is not another stage, `scratch`, or a digest
//! that cannot move.

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::copies::expand;
use super::{Dockerfile, Scope, words};

impl Dockerfile {
    /// The image references of the `FROM`s, in order and each once, expanded with `build_args`
    /// and the defaults of the `ARG`s before the first `FROM`. Left out: earlier stages
    /// (`FROM builder`), `scratch`, references pinned by digest (`name@sha256:...`), and those
    /// with a variable of no known value.
    pub fn from_images(&self, build_args: &IndexMap<String, String>) -> Vec<String> {
        let mut scope = Scope::default();
        let mut stages = BTreeSet::new();
        let mut images: Vec<String> = Vec::new();
        for instruction in &self.instructions {
            if instruction.keyword == "FROM" {
                let (image, stage) = from_arguments(&instruction.arguments);
                let args = scope.args(true);
                let expanded = image.and_then(|i| expand(&i, args, self.escape, build_args));
                if let Some(image) = expanded.filter(|i| is_upstream(i, &stages))
                    && !images.contains(&image)
                {
                    images.push(image);
                }
                stages.extend(stage.map(|s| s.to_ascii_lowercase()));
            }
            scope.take_in(instruction);
        }
        images
    }
}

/// The image and the stage name (`AS name`) of a `FROM`'s arguments, flags skipped.
fn from_arguments(arguments: &str) -> (Option<String>, Option<String>) {
    let words = words(arguments);
    let mut rest = words.iter().skip_while(|w| w.starts_with("--"));
    let image = rest.next().cloned();
    let stage = match (rest.next(), rest.next()) {
        (Some(as_), Some(name)) if as_.eq_ignore_ascii_case("as") => Some(name.clone()),
        _ => None,
    };
    (image, stage)
}

/// Whether `image` comes from outside the Dockerfile and may change under the same name.
fn is_upstream(image: &str, stages: &BTreeSet<String>) -> bool {
    !image.is_empty()
        && !image.eq_ignore_ascii_case("scratch")
        && !image.contains('@')
        && !stages.contains(&image.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn froms(text: &str, pairs: &[(&str, &str)]) -> Vec<String> {
        let build_args = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Dockerfile::parse(text).from_images(&build_args)
    }

    #[test]
    fn from_images_expand_with_build_args_then_global_defaults() {
        let text = "ARG PYTHON_VERSION=3.8\nFROM python:${PYTHON_VERSION}-slim\n";
        assert_eq!(froms(text, &[]), ["python:3.8-slim"]);
        assert_eq!(
            froms(text, &[("PYTHON_VERSION", "3.10")]),
            ["python:3.10-slim"]
        );
        let base = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";
        assert_eq!(
            froms(base, &[("BASE_IMAGE", "reg/base:py3.10-T")]),
            ["reg/base:py3.10-T"]
        );
    }

    #[test]
    fn stages_scratch_and_digests_are_not_upstream() {
        let text = "FROM --platform=$BUILDPLATFORM golang:1 AS Build\nFROM build\n\
                    FROM scratch\nFROM alpine@sha256:abc\nFROM golang:1\nFROM busybox AS b\n";
        assert_eq!(froms(text, &[]), ["golang:1", "busybox"]);
    }

    #[test]
    fn a_from_seeing_only_stage_args_or_unknown_values_is_left_out() {
        let stage_arg = "FROM a\nARG V=1\nFROM b:$V\n";
        assert_eq!(froms(stage_arg, &[]), ["a"]);
        assert_eq!(froms("ARG V\nFROM b:$V\n", &[]), Vec::<String>::new());
        assert_eq!(froms("FROM\nFROM ${\n", &[]), Vec::<String>::new());
        let undeclared_but_passed = "FROM b:$V\n";
        assert_eq!(
            froms(undeclared_but_passed, &[("V", "1")]),
            Vec::<String>::new()
        );
    }
}
