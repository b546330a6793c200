//! Rules about the crate's shape, checked on its source: format code does no
//! I/O, and the top-level modules do not import each other in a circle.
//!
//! Both read only code outside tests: `//` comments (doc comments included)
//! are left out, and so are files named `tests.rs`, `test_server.rs` or
//! `suite.rs`, and what follows a `#[cfg(test)]` at the start of a line: the
//! next line if it ends with `;` (`mod tests;`), else the rest of the file
//! (the trailing `mod tests { ... }`). The crate has no `/* */` comments.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const TEST_FILES: [&str; 3] = ["tests.rs", "test_server.rs", "suite.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `file` as the crate's root names it (`src/...`).
fn shown(file: &Path) -> String {
    file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(file).display().to_string()
}

/// The `.rs` files at `path` (a file, or a directory walked), test files
/// left out, sorted.
fn rust_files(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            files.extend(rust_files(&entry.unwrap().path()));
        }
    } else if path.is_file()
        && path.extension().is_some_and(|ext| ext == "rs")
        && !TEST_FILES.iter().any(|name| path.ends_with(name))
    {
        files.push(path.to_path_buf());
    }
    files.sort();
    files
}

/// The code lines of `file` outside tests, without their comments, with
/// their line numbers.
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let source = fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = source.lines().collect();
    let mut code = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("#[cfg(test)]") {
            match lines.get(i + 1) {
                Some(next) if next.trim_end().ends_with(';') => i += 2,
                _ => break,
            }
            continue;
        }
        // Cutting at the first `//` may hide code after a "https://" in a
        // string, but never makes a comment look like code.
        let line = lines[i].split("//").next().unwrap_or_default();
        if !line.trim().is_empty() {
            code.push((i + 1, line.to_string()));
        }
        i += 1;
    }
    code
}

/// The crate's top-level modules, as `src/lib.rs` declares them outside
/// tests.
fn top_level_modules() -> BTreeSet<String> {
    let lib = code_lines(&src().join("lib.rs"));
    let names = lib.iter().filter_map(|(_, line)| match line.split_whitespace().collect::<Vec<_>>()[..] {
        [.., "mod", name] => name.strip_suffix(';').map(str::to_string),
        _ => None,
    });
    names.collect()
}

/// The first names after each `crate::` in `code`: `a` of `crate::a::b`,
/// and `a` and `b` of `use crate::{a::{x, y}, b}`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest));
            continue;
        };
        // The group's own items: what is outside nested braces, up to its
        // closing one, split at commas.
        let (mut depth, mut items) = (0, String::new());
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                _ if depth == 0 => items.push(c),
                _ => {}
            }
        }
        names.extend(items.split(',').map(ident));
    }
    names
}

/// Every circle in `graph`, each named once, from its least module:
/// `a -> b -> a`.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    fn walk<'a>(
        node: &'a String,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a String>,
        found: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut circle = path[at..].to_vec();
            let least = (0..circle.len()).min_by_key(|&i| circle[i]).unwrap();
            circle.rotate_left(least);
            circle.push(circle[0]);
            found.insert(circle.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" -> "));
            return;
        }
        path.push(node);
        for next in &graph[node] {
            walk(next, graph, path, found);
        }
        path.pop();
    }
    let mut found = BTreeSet::new();
    for node in graph.keys() {
        walk(node, graph, &mut Vec::new(), &mut found);
    }
    found
}

#[test]
fn formats_do_no_io() {
    let forbidden = [
        "std::fs",
        "std::net",
        "std::process",
        "std::env",
        "tokio",
        "reqwest",
        "hyper",
        "SystemTime::now",
        "Instant::now",
        "File::",
        "crate::store",
    ];
    let mut found = Vec::new();
    for file in rust_files(&src().join("formats")) {
        for (number, line) in code_lines(&file) {
            for word in forbidden.iter().filter(|word| line.contains(*word)) {
                found.push(format!("{}:{number}: {word}", shown(&file)));
            }
        }
    }
    assert!(found.is_empty(), "format code must do no I/O and read no clock:\n{}", found.join("\n"));
}

#[test]
fn top_level_modules_import_each_other_in_no_circle() {
    let modules = top_level_modules();
    assert!(modules.contains("formats") && modules.contains("store"), "{modules:?}");
    let mut graph = BTreeMap::new();
    // Which file first names each edge, for the message.
    let mut evidence = BTreeMap::new();
    for module in &modules {
        let mut files = rust_files(&src().join(module));
        files.extend(rust_files(&src().join(format!("{module}.rs"))));
        let uses: &mut BTreeSet<String> = graph.entry(module.clone()).or_default();
        for file in files {
            let code: Vec<String> = code_lines(&file).into_iter().map(|(_, line)| line).collect();
            for used in crate_paths(&code.join("\n")) {
                if modules.contains(&used) && used != *module && uses.insert(used.clone()) {
                    evidence.insert(format!("{module} -> {used}"), shown(&file));
                }
            }
        }
    }
    let found = circles(&graph);
    let mut message = String::new();
    for circle in &found {
        message.push_str(&format!("\n  {circle}"));
        let hops: Vec<&str> = circle.split(" -> ").collect();
        for hop in hops.windows(2) {
            let edge = format!("{} -> {}", hop[0], hop[1]);
            message.push_str(&format!("\n    {edge}: {}", evidence[&edge]));
        }
    }
    assert!(found.is_empty(), "top-level modules import each other in a circle:{message}");
}

#[test]
fn only_vars_spells_the_tools_environment_variables() {
    // The names the tool reads or sets; the variables cargo sets for rustc
    // (`CARGO_MANIFEST_DIR`, `OUT_DIR`, ...) are cargo's, not ours.
    let ours =
        ["\"CARGO_IPFS_", "\"RUSTC_WRAPPER\"", "\"CARGO_BUILD_RUSTC_WRAPPER\"", "\"CARGO_BUILD_RUSTC\"", "\"RUSTC\""];
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        if file.ends_with("vars.rs") || file.ends_with("boundaries.rs") {
            continue;
        }
        for (number, line) in code_lines(&file) {
            if ours.iter().any(|name| line.contains(name)) {
                found.push(format!("{}:{number}: {}", shown(&file), line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "name these through crate::vars:\n{}", found.join("\n"));
}

#[test]
fn crate_paths_reads_plain_and_grouped_imports() {
    let code = "use crate::a::b;\nuse crate::{c::{d, e::f}, g,\n    h::i};\nlet x = crate::j::k();";
    let names: Vec<String> = crate_paths(code).into_iter().collect();
    assert_eq!(names, ["a", "c", "g", "h", "j"]);
}

#[test]
fn circles_are_named_once_each() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "a"), ("c", "a"), ("c", "b"), ("b", "c")]
        .iter()
        .fold(BTreeMap::new(), |mut graph, (from, to)| {
            graph.entry(from.to_string()).or_insert_with(BTreeSet::new).insert(to.to_string());
            graph.entry(to.to_string()).or_default();
            graph
        });
    let found: Vec<String> = circles(&graph).into_iter().collect();
    assert_eq!(found, ["a -> b -> a", "a -> b -> c -> a", "b -> c -> b"]);
}
