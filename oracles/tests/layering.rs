//! The modules of `oracles` depend one way: each uses only modules of its own layer or the layers below,
//! and no two use each other, read from the `crate::` and `super::` paths of every non-test source file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A layer wraps the ones below it and they never know:
/// the shared model; the comparison and WASI program model; the base engines;
/// the layers over engines; the registry that builds every tier, with
/// whatever the crate root defines itself ([`ROOT`]).
const LAYERS: &[&[&str]] = &[
    &[
        "child",
        "engine",
        "facts",
        "features",
        "hex",
        "hook",
        "host",
        "outcome",
        "rewrite",
        "spectest",
        "npm",
        "tempfiles",
    ],
    &["classify", "compare", "differential", "wasi"],
    &["external", "wasmi", "wasmtime"],
    &["asyncify", "mutants", "nested", "timed"],
    &["tiers", ROOT],
];

/// The items `lib.rs` defines itself, rather than declares or re-exports, as one node.
const ROOT: &str = "lib.rs";

/// Which module depends on which, among `oracles`' top-level modules.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn every_module_uses_only_its_own_layer_and_those_below() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let layer = |module: &str| LAYERS.iter().position(|layer| layer.contains(&module));
    let mut upward = Vec::new();
    for (from, uses) in &graph {
        let Some(from_layer) = layer(from) else {
            panic!("module `{from}` is in no layer: add it to LAYERS");
        };
        for to in uses {
            let to_layer = layer(to).unwrap_or_else(|| panic!("`{to}` is in no layer"));
            if to_layer > from_layer {
                upward.push(format!("{from} uses {to}"));
            }
        }
    }
    assert!(upward.is_empty(), "a layer uses one above it: {upward:#?}");
}

#[test]
fn no_two_modules_use_each_other() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn the_reader_sees_a_cycle_planted_in_a_fixture() {
    let fixture = tempfile::tempdir().unwrap();
    let dir = fixture.path();
    let files = [
        (
            "lib.rs",
            "pub mod a;\npub mod b;\n#[cfg(test)]\nmod testing;\npub use b::Thing;\npub const IDS: &[&str] = &[];\n",
        ),
        (
            "a.rs",
            "//! a\nuse crate::Thing; // crate::testing in a comment\nfn f() { crate::IDS; }\n",
        ),
        (
            "b/mod.rs",
            "mod c;\npub struct Thing;\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
        ),
        ("b/c.rs", "use super::super::{a::x, b};\n"),
        ("testing.rs", "use crate::a;\n"),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let graph = module_graph(dir);
    let edges: Vec<(&str, &str)> = graph
        .iter()
        .flat_map(|(from, uses)| uses.iter().map(move |to| (from.as_str(), to.as_str())))
        .collect();
    assert_eq!(edges, [("a", "b"), ("a", ROOT), ("b", "a")]);
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}

/// Reads every source file under `src` but test code, and collects which top-level module uses which.
fn module_graph(src: &Path) -> Graph {
    let root = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let (root_code, _) = strip_tests(&root);
    let modules = declared_modules(&root_code);
    let reexports = reexports(&root_code, &modules);
    let files: Vec<(Vec<String>, String)> = rust_files(src)
        .into_iter()
        .map(|file| {
            let path = module_path(file.strip_prefix(src).unwrap());
            (path, std::fs::read_to_string(&file).unwrap())
        })
        .collect();
    // Test-only modules in files of their own, at any depth, by module path.
    let test_modules: BTreeSet<Vec<String>> = files
        .iter()
        .flat_map(|(path, text)| {
            let (_, names) = strip_tests(text);
            names
                .into_iter()
                .map(move |name| [path.clone(), vec![name]].concat())
        })
        .collect();
    let mut graph = Graph::new();
    for (path, text) in &files {
        let Some(top) = path.first() else {
            continue;
        };
        if test_modules.iter().any(|test| path.starts_with(test)) {
            continue;
        }
        let (code, _) = strip_tests(text);
        let uses = graph.entry(top.clone()).or_default();
        for name in root_items_named(&code, path.len()) {
            let used = match modules.contains(&name) {
                true => name,
                false => reexports.get(&name).cloned().unwrap_or(ROOT.to_string()),
            };
            if &used != top {
                uses.insert(used);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `wasmi/wasi.rs` → `[wasmi, wasi]`; `wasmtime/mod.rs` → `[wasmtime]`; `lib.rs` → `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if matches!(path.last().map(String::as_str), Some("mod" | "lib")) {
        path.pop();
    }
    path
}

/// `code` without comments and `#[cfg(test)]` items, and the names of the
/// test-only modules it declares in files of their own.
fn strip_tests(code: &str) -> (String, BTreeSet<String>) {
    let mut kept = String::new();
    let mut test_modules = BTreeSet::new();
    let mut lines = code
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""));
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            kept += line;
            kept.push('\n');
            continue;
        }
        let item = lines.next().unwrap_or("");
        if let Some(name) = item.trim().strip_suffix(';') {
            test_modules.insert(name.rsplit(' ').next().unwrap_or("").to_string());
            continue;
        }
        let mut depth = braces(item);
        while depth > 0 {
            depth += braces(lines.next().expect("balanced braces"));
        }
    }
    (kept, test_modules)
}

fn braces(line: &str) -> i64 {
    line.chars()
        .map(|c| match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        })
        .sum()
}

/// `mod name;` and `pub mod name;` in the crate root.
fn declared_modules(root: &str) -> BTreeSet<String> {
    let declarations = root.lines().filter_map(|line| {
        let line = line.trim().strip_prefix("pub ").unwrap_or(line.trim());
        line.strip_prefix("mod ")?.strip_suffix(';')
    });
    declarations.map(str::to_string).collect()
}

/// The names the crate root re-exports (`pub use module::{A, b};`), by the module they come from.
fn reexports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for line in root.lines() {
        let Some(used) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (module, names) = used.trim_end_matches(';').split_once("::").expect("a path");
        assert!(modules.contains(module), "re-export from `{module}`");
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            found.insert(name.trim().to_string(), module.to_string());
        }
    }
    found
}

/// The first name after each path to the crate root in `code`: `crate::` anywhere, or as many
/// `super::` as the file is deep. A `{...}` group after the root yields each of its names.
fn root_items_named(code: &str, depth: usize) -> Vec<String> {
    let supers = "super::".repeat(depth);
    let mut names = Vec::new();
    for root in ["crate::", supers.as_str()]
        .into_iter()
        .filter(|r| !r.is_empty())
    {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + root.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').expect("a closed group")];
                names.extend(group.split(',').map(|item| identifier(item.trim())));
            } else {
                names.push(identifier(rest));
            }
        }
    }
    names.retain(|name| !name.is_empty() && name != "super");
    names
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// A path `a → b → … → a` through the graph, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}
