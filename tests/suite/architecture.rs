//! The house's rules, read off the code's own paths (not by eye): no circle between modules at any
//! level, `report` a leaf, `shared` the lowest room, the build layer below the backends and the
//! matrix. Needs nothing.
//!
//! A module's imports are every `crate::…`, `super::…` and `self::…` path its files name
//! (grouped `use` lists included). An import from `a::b::x` to `a::c::y` is an edge `b -> c` among
//! the children of `a`; a module naming its own ancestor or descendant adds no edge (a parent
//! declares its children, a child may use its parent's items).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// The module path of a library file: `harness/backend/local/mod.rs` → `[backend, local]`.
fn module_of(file: &Path, root: &Path) -> Module {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Module = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The paths a file names, resolved to absolute module paths (`crate::` stripped).
fn imports(text: &str, module: &Module) -> Vec<Module> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for anchor in ["crate::", "super::", "self::"] {
        let mut at = 0;
        while let Some(i) = code[at..].find(anchor) {
            let start = at + i;
            at = start + anchor.len();
            let before = code[..start].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || (before == ':' && anchor != "crate::") {
                continue;
            }
            let base = match anchor {
                "crate::" => vec![],
                // `super` of `a/b/mod.rs` (module a::b) is `a`; of `a/b.rs` (module a::b) also `a`.
                "super::" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module.clone(),
            };
            for tail in paths_after(&code[at..]) {
                let mut path = base.clone();
                path.extend(tail);
                found.push(path);
            }
        }
    }
    found
}

/// `a::b::{c, d::e}` → `[[a, b, c], [a, b, d, e]]` (only lower-case segments: modules).
fn paths_after(text: &str) -> Vec<Module> {
    let mut path = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            if let Some(inner) = rest.strip_prefix('{') {
                return group(inner)
                    .into_iter()
                    .flat_map(|item| {
                        paths_after(&item).into_iter().map({
                            let path = path.clone();
                            move |t| [path.clone(), t].concat()
                        })
                    })
                    .collect();
            }
            return vec![path];
        }
        if !ident.starts_with(|c: char| c.is_lowercase()) {
            return vec![path];
        }
        path.push(ident.clone());
        rest = &rest[ident.len()..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return vec![path],
        }
    }
}

/// The top-level items of a `{…}` group whose opening brace is already consumed.
fn group(text: &str) -> Vec<String> {
    let (mut depth, mut items, mut item) = (0, Vec::new(), String::new());
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item).trim().to_string());
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item.trim().to_string());
    items
}

/// Edges among siblings: parent module → (child → children it uses).
fn sibling_graphs() -> BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> {
    let root = crate::util::root().join("harness");
    let mut graphs: BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in rust_files(&root) {
        // The binary is not a module of the library.
        if file.starts_with(root.join("cli")) {
            continue;
        }
        let module = module_of(&file, &root);
        let text = std::fs::read_to_string(&file).unwrap();
        for target in imports(&text, &module) {
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.len() || common == target.len() {
                continue; // An ancestor or a descendant.
            }
            graphs
                .entry(module[..common].to_vec())
                .or_default()
                .entry(module[common].clone())
                .or_default()
                .insert(target[common].clone());
        }
    }
    graphs
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// A circle in `graph`, as the nodes along it, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut path = stack[at..].to_vec();
            path.push(node.to_string());
            return Some(path);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_in_a_circle_at_any_level() {
    let circles: Vec<String> = sibling_graphs()
        .iter()
        .filter_map(|(parent, graph)| {
            circle(graph).map(|c| format!("in crate::{}: {}", parent.join("::"), c.join(" -> ")))
        })
        .collect();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn report_is_a_leaf_and_shared_is_the_lowest_room() {
    let rooms = &sibling_graphs()[&vec![]];
    let uses = |room: &str| rooms.get(room).cloned().unwrap_or_default();
    let allowed = |set: &[&str]| set.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let report = uses("report");
    assert!(
        report.is_subset(&allowed(&["shared", "scenario"])),
        "report uses {report:?}"
    );
    let shared = uses("shared");
    assert!(
        shared.is_subset(&allowed(&["scenario"])),
        "shared uses {shared:?}"
    );
    let scenario = uses("scenario");
    assert!(scenario.is_empty(), "scenario uses {scenario:?}");
    let decision = uses("decision");
    assert!(!decision.contains("backend"), "decision uses {decision:?}");
    // The backends ask the build layer for what they run; it knows none of them.
    let builds = uses("builds");
    assert!(
        !builds.is_empty() && !builds.contains("backend") && !builds.contains("matrix"),
        "builds uses {builds:?}"
    );
}

#[test]
fn the_import_reader_sees_grouped_relative_and_nested_paths() {
    let module = vec![
        "fakes".to_string(),
        "registry".to_string(),
        "auth".to_string(),
    ];
    let text = "use crate::{shared::Event, backend::{cell, local::probes}};\n\
                use super::bearer::Token; // crate::report in a comment\n\
                fn f() { self::helper(); crate::matrix::run(); }";
    let found = imports(text, &module);
    let as_text: Vec<String> = found.iter().map(|m| m.join("::")).collect();
    for want in [
        "shared",
        "backend::cell",
        "backend::local::probes",
        "fakes::registry::bearer",
        "matrix::run",
    ] {
        assert!(as_text.iter().any(|t| t == want), "{want} in {as_text:?}");
    }
    assert!(
        !as_text.iter().any(|t| t.starts_with("report")),
        "{as_text:?}"
    );
    let graph = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert_eq!(
        circle(&graph),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}
