//! The shape of the code, held by tests: crates in layers whose dependencies only point down,
//! a core without AWS or HTTP, and the table's layout named only by the store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The layers, lowest first. A crate may depend only on crates of lower layers; the function
/// crates (every package under `functions/`) form the layer below the tests.
const LAYERS: &[&[&str]] = &[
    &["switchboard-core"],
    &["switchboard-domain", "switchboard-https"],
    &[
        "switchboard-store",
        "switchboard-http",
        "switchboard-sqs",
        "switchboard-apigw",
        "switchboard-telephony",
        "switchboard-llm",
        "switchboard-webhook-sender",
        "switchboard-payments",
        "switchboard-speech",
        "switchboard-s3",
        "switchboard-mail",
        "switchboard-reports",
    ],
    &["switchboard-runtime"],
    &[FUNCTIONS],
    &["switchboard-tests"],
];

const FUNCTIONS: &str = "<functions/*>";

fn metadata(extra: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(extra)
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The layer of each package of the workspace.
fn layers(packages: &[Value]) -> BTreeMap<String, usize> {
    let functions = root().join("functions");
    packages
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap();
            let in_functions = Path::new(p["manifest_path"].as_str().unwrap()).starts_with(&functions);
            let layer = LAYERS
                .iter()
                .position(|layer| layer.contains(&name) || (in_functions && layer.contains(&FUNCTIONS)))
                .unwrap_or_else(|| panic!("{name} is in no layer: add it to LAYERS"));
            (name.to_owned(), layer)
        })
        .collect()
}

#[test]
fn dependencies_between_crates_only_point_down() {
    let meta = metadata(&["--no-deps"]);
    let packages = meta["packages"].as_array().unwrap();
    let layer = layers(packages);
    let mut arrows = 0;
    for package in packages {
        let name = package["name"].as_str().unwrap();
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let Some(dep_layer) = layer.get(dep_name) else { continue };
            arrows += 1;
            assert!(
                *dep_layer < layer[name],
                "{name} (layer {}) depends on {dep_name} (layer {dep_layer}): dependencies only point down",
                layer[name]
            );
        }
    }
    assert!(
        arrows > 40,
        "the workspace's crates depend on each other ({arrows} arrows read)"
    );
}

#[test]
fn the_core_knows_neither_aws_nor_http() {
    let meta = metadata(&["--filter-platform", "x86_64-unknown-linux-gnu"]);
    let id_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let core = id_of.iter().find(|(_, name)| **name == "switchboard-core").unwrap().0;
    // Everything the core links, following normal (not dev or build) dependencies.
    let mut seen = BTreeSet::new();
    let mut todo = vec![*core];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null());
            if normal {
                todo.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    let linked: BTreeSet<&str> = seen.iter().map(|id| id_of[id]).collect();
    let forbidden: Vec<&&str> = linked
        .iter()
        .filter(|name| {
            name.starts_with("aws")
                || [
                    "http",
                    "hyper",
                    "reqwest",
                    "lambda_http",
                    "lambda_runtime",
                    "rustls",
                    "tokio",
                ]
                .contains(name)
        })
        .collect();
    assert!(forbidden.is_empty(), "switchboard-core links {forbidden:?}");
    assert!(linked.contains("serde"), "the graph was read: {linked:?}");
}

/// Names of the table's layout: its indexes, sort-key encodings and guard items.
const LAYOUT_NAMES: &[&str] = &[
    "GSI",
    "Gsi",
    "Index::",
    "_partition",
    "sort_key",
    "sort_between",
    "timeline_sort",
    "GUARD",
    "UniqueValue",
    "owner_of",
    "CONTACT_PHONE",
    "store::keys",
    "store::layout",
];

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

/// The layout names a line of code mentions.
fn layout_names(line: &str) -> Vec<&'static str> {
    let mut found: Vec<&'static str> = LAYOUT_NAMES
        .iter()
        .copied()
        .filter(|name| line.contains(name))
        .collect();
    // A key built by formatting: `"{a}#{b}"`.
    if line.contains("}#{") {
        found.push("}#{");
    }
    found
}

#[test]
fn the_layout_check_finds_what_it_looks_for() {
    assert_eq!(
        layout_names("index: Some((Index::Gsi2, campaign_partition(campaign))),"),
        ["Gsi", "Index::", "_partition"]
    );
    assert_eq!(
        layout_names(r#"owner_of(PROVIDER_CALL_GUARD, &format!("{provider}#{sid}"))"#),
        ["GUARD", "owner_of", "}#{"]
    );
    assert!(layout_names("let found = state.calls.query(ws, &query).await?;").is_empty());
}

#[test]
fn only_the_store_names_the_tables_layout() {
    let mut files = Vec::new();
    for dir in ["shared/core/src", "shared/domain/src", "shared/http/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    for function in std::fs::read_dir(root().join("functions")).unwrap() {
        rust_files(&function.unwrap().path().join("src"), &mut files);
    }
    assert!(files.len() > 50, "{} files read", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for name in layout_names(line) {
                found.push(format!(
                    "{}:{}: {name}",
                    file.strip_prefix(root()).unwrap().display(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the table's layout named outside the store:\n{}",
        found.join("\n")
    );
}
