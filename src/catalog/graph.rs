//! The graph of base images. Each image-version (a [`Target`]) points to the image-version it
//! builds on: its `base_image`, for the same Python version. Catalog validation, `check` and the
//! planner ask it the same few questions, answered here once: which images a set of images
//! reaches, which cycle a walk runs into, in which order to build, and what builds on what.
//!
//! Pure: the callers say how to find a node's base (`base_of`), from files read or being read.

use std::collections::{BTreeSet, HashMap};

use super::BaseImage;
use crate::reference::Target;

/// Image names forming a cycle of bases, in walking order; the first is not repeated at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl Cycle {
    /// The cycle as shown to users, back to where it starts: `a -> b -> a`.
    pub fn shown(&self) -> String {
        let mut names = self.0.clone();
        names.extend(self.0.first().cloned());
        names.join(" -> ")
    }

    /// The same cycle starting at its first name in order, so that one cycle met from
    /// different places is reported once.
    pub fn canonical(mut self) -> Self {
        if let Some(first) = (0..self.0.len()).min_by_key(|&i| &self.0[i]) {
            self.0.rotate_left(first);
        }
        self
    }
}

/// The base `target` builds on, as a node of the graph.
pub fn base_target(target: &Target, base: &BaseImage) -> Target {
    Target {
        image: base.name.clone(),
        python_version: target.python_version.clone(),
    }
}

/// `roots` and every image they reach through the bases of any of their versions, each once.
/// `bases_of` lists the base names of an image (reading it, which may fail).
pub fn reachable<E>(
    roots: &[String],
    mut bases_of: impl FnMut(&str) -> Result<Vec<String>, E>,
) -> Result<BTreeSet<String>, E> {
    let mut reached = BTreeSet::new();
    let mut pending: Vec<String> = roots.to_vec();
    while let Some(name) = pending.pop() {
        if reached.contains(&name) {
            continue;
        }
        pending.extend(bases_of(&name)?);
        reached.insert(name);
    }
    Ok(reached)
}

/// Follows the bases from `start` to the first image-version without one, failing on the
/// cycle it runs into.
pub fn walk<'a>(
    start: &Target,
    base_of: impl Fn(&Target) -> Option<&'a BaseImage>,
) -> Result<(), Cycle> {
    walk_after(&[], start, &base_of)
}

/// Like `walk`, for a walk that came to `start` along `path` (image names).
fn walk_after<'a>(
    path: &[String],
    start: &Target,
    base_of: &impl Fn(&Target) -> Option<&'a BaseImage>,
) -> Result<(), Cycle> {
    let mut path: Vec<String> = path.to_vec();
    let mut current = start.clone();
    loop {
        if let Some(at) = path.iter().position(|name| *name == current.image) {
            return Err(Cycle(path.split_off(at)));
        }
        path.push(current.image.to_string());
        match base_of(&current) {
            Some(base) => current = base_target(&current, base),
            None => return Ok(()),
        }
    }
}

/// `targets` and the bases that `follow` accepts (transitively), each once, every base before
/// what builds on it and otherwise in the order given. Depth-first, so a cycle is found on the
/// path being walked; a base not followed is still walked for cycles.
pub fn order<'a>(
    targets: &[Target],
    base_of: impl Fn(&Target) -> Option<&'a BaseImage>,
    follow: impl Fn(&Target, &BaseImage) -> bool,
) -> Result<Vec<Target>, Cycle> {
    let mut walk = Ordering {
        base_of: &base_of,
        follow: &follow,
        state: HashMap::new(),
        path: Vec::new(),
        order: Vec::new(),
    };
    for target in targets {
        walk.visit(target)?;
    }
    Ok(walk.order)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    InProgress,
    Done,
}

struct Ordering<'f, B, F> {
    base_of: &'f B,
    follow: &'f F,
    state: HashMap<Target, Visit>,
    path: Vec<String>,
    order: Vec<Target>,
}

impl<'a, B, F> Ordering<'_, B, F>
where
    B: Fn(&Target) -> Option<&'a BaseImage>,
    F: Fn(&Target, &BaseImage) -> bool,
{
    fn visit(&mut self, target: &Target) -> Result<(), Cycle> {
        match self.state.get(target) {
            Some(Visit::Done) => return Ok(()),
            Some(Visit::InProgress) => return Err(self.cycle_at(&target.image)),
            None => {}
        }
        self.state.insert(target.clone(), Visit::InProgress);
        self.path.push(target.image.to_string());
        if let Some(base) = (self.base_of)(target) {
            let base_node = base_target(target, base);
            if (self.follow)(target, base) {
                self.visit(&base_node)?;
            } else {
                walk_after(&self.path, &base_node, self.base_of)?;
            }
        }
        self.path.pop();
        self.state.insert(target.clone(), Visit::Done);
        self.order.push(target.clone());
        Ok(())
    }

    /// The cycle closing at `image`, on the walked path.
    fn cycle_at(&self, image: &str) -> Cycle {
        let start = self.path.iter().position(|n| n == image).unwrap_or(0);
        Cycle(self.path[start..].to_vec())
    }
}

/// `targets` followed by every node of `nodes` that builds on one of them through a base that
/// `follow` accepts, transitively, each once.
pub fn with_dependents<'a>(
    targets: &[Target],
    nodes: &[Target],
    base_of: impl Fn(&Target) -> Option<&'a BaseImage>,
    follow: impl Fn(&BaseImage) -> bool,
) -> Vec<Target> {
    let mut all: Vec<Target> = Vec::new();
    for target in targets {
        if !all.contains(target) {
            all.push(target.clone());
        }
    }
    let mut next = 0;
    while let Some(base) = all.get(next).cloned() {
        next += 1;
        for node in nodes {
            let builds_on_base =
                base_of(node).is_some_and(|b| follow(b) && base_target(node, b) == base);
            if builds_on_base && !all.contains(node) {
                all.push(node.clone());
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::BaseSource;

    fn node(image: &str, version: &str) -> Target {
        Target::new(image, version)
    }

    fn base(name: &str, source: BaseSource) -> BaseImage {
        BaseImage {
            name: name.into(),
            source,
            line: 1,
        }
    }

    /// image -> its base for every version.
    fn graph(edges: &[(&str, &str, BaseSource)]) -> BTreeMap<String, BaseImage> {
        edges
            .iter()
            .map(|(image, to, source)| (image.to_string(), base(to, *source)))
            .collect()
    }

    #[test]
    fn orders_followed_bases_first_and_keeps_the_given_order_otherwise() {
        let edges = graph(&[
            ("app", "base", BaseSource::Local),
            ("remote", "base", BaseSource::Aws),
        ]);
        let base_of = |t: &Target| edges.get(t.image.as_str());
        let targets = [
            node("app", "3.9"),
            node("other", "3.9"),
            node("remote", "3.9"),
        ];
        let local_only = |_: &Target, b: &BaseImage| b.source == BaseSource::Local;
        let order = order(&targets, base_of, local_only).unwrap();
        assert_eq!(
            order,
            [
                node("base", "3.9"),
                node("app", "3.9"),
                node("other", "3.9"),
                node("remote", "3.9")
            ]
        );
    }

    #[test]
    fn a_cycle_is_found_whether_its_bases_are_followed_or_only_walked() {
        let edges = graph(&[
            ("a", "b", BaseSource::Local),
            ("b", "c", BaseSource::Aws),
            ("c", "b", BaseSource::Local),
        ]);
        let base_of = |t: &Target| edges.get(t.image.as_str());
        let followed = order(&[node("a", "3.9")], base_of, |_, _| true).unwrap_err();
        assert_eq!(followed.shown(), "b -> c -> b");
        let walked = order(&[node("a", "3.9")], base_of, |_, _| false).unwrap_err();
        assert_eq!(walked.canonical().shown(), "b -> c -> b");
        assert_eq!(
            walk(&node("c", "3.9"), base_of).unwrap_err().shown(),
            "c -> b -> c"
        );
        assert!(walk(&node("x", "3.9"), base_of).is_ok());
    }

    #[test]
    fn reaches_bases_of_any_version_once_and_passes_read_errors_on() {
        let bases: BTreeMap<&str, Vec<String>> = BTreeMap::from([
            ("app", vec!["base".to_owned(), "base".to_owned()]),
            ("base", vec!["root".to_owned()]),
            ("root", vec![]),
        ]);
        let read = |name: &str| bases.get(name).cloned().ok_or(name.to_owned());
        let reached = reachable(&["app".to_owned()], read).unwrap();
        assert_eq!(
            reached,
            BTreeSet::from(["app", "base", "root"].map(String::from))
        );
        assert_eq!(
            reachable(&["nope".to_owned()], read),
            Err("nope".to_owned())
        );
    }

    #[test]
    fn dependents_follow_accepted_bases_transitively_for_the_same_version() {
        let edges = graph(&[
            ("mid", "root", BaseSource::Local),
            ("leaf", "mid", BaseSource::Local),
            ("remote", "root", BaseSource::Aws),
        ]);
        let base_of = |t: &Target| edges.get(t.image.as_str());
        let nodes = [
            node("mid", "3.9"),
            node("leaf", "3.9"),
            node("remote", "3.9"),
            node("leaf", "3.10"),
        ];
        let local = |b: &BaseImage| b.source == BaseSource::Local;
        assert_eq!(
            with_dependents(&[node("root", "3.9")], &nodes, base_of, local),
            [node("root", "3.9"), node("mid", "3.9"), node("leaf", "3.9")]
        );
    }
}
