//! The layers of ARCHITECTURE.md are what the code imports: the module graph, made from every
//! `use crate::X` and `crate::X::` of src/ (`dagster_image::X` in main.rs), has no circle, and no
//! module imports one of a layer above its own. The layer order is read from ARCHITECTURE.md's
//! diagram, its one place; `cargo test --test layers -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module, by name, and the modules it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The layers of ARCHITECTURE.md's diagram, top first, each the modules it names: the leading
/// words of a line that are `name.rs` or `name/`, up to its description; `|` lines join them.
fn declared_layers() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = &text[text
        .find("## Layers")
        .expect("ARCHITECTURE.md has `## Layers`")..];
    let diagram = section
        .split("```")
        .nth(1)
        .expect("a diagram under `## Layers`");
    diagram
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map_while(module_of_word)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|layer| !layer.is_empty())
        .collect()
}

/// `run` of `run.rs`, `ops` of `ops/`; None for a word of a description.
fn module_of_word(word: &str) -> Option<&str> {
    let name = word
        .strip_suffix(".rs")
        .or_else(|| word.strip_suffix('/'))?;
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    plain.then_some(name)
}

/// The modules lib.rs declares, and `main`.
fn modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let mut modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("pub ").unwrap_or(line.trim());
            line.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_owned)
        })
        .collect();
    modules.insert("main".to_owned());
    modules
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module each file of src/ belongs to: `src/X.rs` and `src/X/...` to `X`, a file a
/// module includes with `#[path = "F.rs"]` to that module; lib.rs, which only declares them,
/// to none.
fn files_by_module(modules: &BTreeSet<String>) -> BTreeMap<PathBuf, String> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut owners = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
        if modules.contains(&name) {
            owners.insert(file.clone(), name);
        }
    }
    for (file, module) in owners.clone() {
        let text = std::fs::read_to_string(&file).unwrap();
        for included in text.split("#[path = \"").skip(1) {
            let included = included.split('"').next().unwrap();
            owners.insert(file.parent().unwrap().join(included), module.clone());
        }
    }
    let lib = src.join("lib.rs");
    let orphans: Vec<_> = (files.iter())
        .filter(|f| **f != lib && !owners.contains_key(*f))
        .collect();
    assert!(
        orphans.is_empty(),
        "files of no module of lib.rs: {orphans:?}"
    );
    owners
}

/// The top-level modules `code` names after `prefix` (`crate`), in paths and `use` groups.
fn imported(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let needle = format!("{prefix}::");
    for (at, _) in code.match_indices(&needle) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + needle.len()..];
        match rest.strip_prefix('{') {
            Some(group) => names.extend(group_heads(group)),
            None => names.extend(ident(rest)),
        }
    }
    names
}

/// The first word of each item of a `use` group (`a, b::{c, d}, e}` gives a, b, e).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && !c.is_whitespace() => {
                heads.extend(ident(&group[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    heads
}

fn ident(text: &str) -> Option<String> {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_owned())
}

/// Code without its comments (`//`, `///`, `//!`: doc links name modules without importing).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn import_graph(modules: &BTreeSet<String>) -> Graph {
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (file, module) in files_by_module(modules) {
        let code = without_comments(&std::fs::read_to_string(&file).unwrap());
        let prefix = if module == "main" {
            "dagster_image"
        } else {
            "crate"
        };
        let targets = imported(&code, prefix);
        let edges = graph.get_mut(&module).unwrap();
        edges.extend(
            targets
                .into_iter()
                .filter(|target| target != &module && modules.contains(target)),
        );
    }
    graph
}

/// The circles of `graph`: its strongly connected parts of more than one module.
fn circles(graph: &Graph) -> Vec<BTreeSet<String>> {
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(module) = todo.pop() {
            for next in &graph[&module] {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reaches(m))).collect();
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for module in graph.keys() {
        let circle: BTreeSet<String> = graph
            .keys()
            .filter(|other| reach[module].contains(*other) && reach[*other].contains(module))
            .cloned()
            .collect();
        if circle.len() > 1 && !found.contains(&circle) {
            found.push(circle);
        }
    }
    found
}

fn shown(graph: &Graph, layers: &[Vec<String>]) -> String {
    let mut out = String::from("layers, top first:\n");
    for layer in layers {
        out += &format!("  {}\n", layer.join("  "));
    }
    out += "imports:\n";
    for (module, targets) in graph {
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        out += &format!("  {module} -> {}\n", targets.join(" "));
    }
    out
}

#[test]
fn imports_follow_the_layers_of_architecture_md_without_a_circle() {
    let modules = modules();
    let layers = declared_layers();
    let graph = import_graph(&modules);
    println!("{}", shown(&graph, &layers));

    let level: BTreeMap<&String, usize> = (layers.iter().enumerate())
        .flat_map(|(i, layer)| layer.iter().map(move |m| (m, i)))
        .collect();
    let undeclared: Vec<&String> = modules.iter().filter(|m| !level.contains_key(m)).collect();
    let unknown: Vec<&&String> = level.keys().filter(|m| !modules.contains(**m)).collect();
    assert!(
        undeclared.is_empty() && unknown.is_empty(),
        "ARCHITECTURE.md's layers lack {undeclared:?} and name {unknown:?}, which lib.rs lacks"
    );
    assert_eq!(
        level.len(),
        layers.iter().flatten().count(),
        "a module in two layers"
    );

    let upward: Vec<String> = (graph.iter())
        .flat_map(|(from, targets)| targets.iter().map(move |to| (from, to)))
        .filter(|(from, to)| level[to] < level[from])
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect();
    assert!(
        upward.is_empty(),
        "imports of a layer above: {upward:?}\n{}",
        shown(&graph, &layers)
    );
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "import circles between modules: {circles:?}\n{}",
        shown(&graph, &layers)
    );
}

#[test]
fn the_graph_sees_paths_and_use_groups_and_finds_circles() {
    let code = "use crate::{a, b::{c, d}, e};\nlet x = crate::f::g();\nuse std::crate_y;";
    let expected: BTreeSet<String> = ["a", "b", "e", "f"].map(str::to_owned).into();
    assert_eq!(imported(code, "crate"), expected);
    assert_eq!(without_comments("x // crate::h\n/// [`crate::i`]"), "x \n");
    let edges = |pairs: &[(&str, &str)]| {
        let mut graph = Graph::new();
        for (from, to) in pairs {
            graph.entry(to.to_string()).or_default();
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
        graph
    };
    let circle: BTreeSet<String> = ["a", "b", "c"].map(str::to_owned).into();
    let graph = edges(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]);
    assert_eq!(circles(&graph), [circle]);
    assert!(circles(&edges(&[("a", "b"), ("a", "c"), ("b", "c")])).is_empty());
}
