//! Embeds the vendored Kubernetes and CRD schemas: writes `$OUT_DIR/vendored_schemas.rs`, the tables
//! `src/check/vendored.rs` reads. Kubernetes schemas are stored once per distinct content
//! (`schemas/kubernetes/objects/`), with one index of kinds and one of definitions per Kubernetes minor
//! (`schemas/kubernetes/v<minor>/`); CRD schemas are whole files listed in `schemas/crds/index.json`.
//!
//! Embedding (instead of reading `schemas/` at run time) lets `check` lint any manifest from any folder
//! with one self-contained binary, and costs nothing at startup: a schema is assembled, parsed and
//! compiled only when a resource of its kind is checked.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let schemas = root.join("schemas");
    println!("cargo:rerun-if-changed=schemas/kubernetes");
    println!("cargo:rerun-if-changed=schemas/crds");

    let kube = schemas.join("kubernetes");
    let versions = minors(&kube);
    let mut objects: Vec<String> = Vec::new();
    for entry in fs::read_dir(kube.join("objects")).expect("schemas/kubernetes/objects/") {
        let name = entry
            .expect("a readable folder entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if let Some(hash) = name.strip_suffix(".json") {
            objects.push(hash.to_string());
        }
    }
    objects.sort();
    let object_index = |hash: &str, what: &Path| -> usize {
        objects
            .binary_search_by(|o| o.as_str().cmp(hash))
            .unwrap_or_else(|_| panic!("{} names {hash}, which is not in objects/", what.display()))
    };

    let mut out = String::new();
    out.push_str("/// The vendored Kubernetes minors, oldest first.\n");
    out.push_str(&format!(
        "pub static KUBERNETES_VERSIONS: &[&str] = &{:?};\n",
        versions.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>()
    ));
    out.push_str("/// `(name, text)` of every Kubernetes schema object, sorted by name.\n");
    out.push_str("pub static OBJECTS: &[(&str, &str)] = &[\n");
    // The path is spelled from the crate's own folder when the library compiles, not written out here:
    // a build script's output can outlive the folder it ran in (a shared target/ built from a
    // temporary clone), and an absolute path would then point at files that are gone.
    for hash in &objects {
        out.push_str(&format!(
            "    ({hash:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/schemas/kubernetes/objects/{hash}.json\"))),\n"
        ));
    }
    out.push_str("];\n");
    for (table, file, doc) in [
        ("KINDS", "index.json", "`(\"<apiVersion>|<Kind>\", object)`"),
        (
            "DEFINITIONS",
            "definitions.json",
            "`(definition name, object)`",
        ),
    ] {
        out.push_str(&format!(
            "/// Per minor (as in `KUBERNETES_VERSIONS`): {doc}, sorted by the first.\n"
        ));
        out.push_str(&format!("pub static {table}: &[&[(&str, u32)]] = &[\n"));
        for (dir, _) in &versions {
            let path = dir.join(file);
            let mut entries = read_index(&path);
            entries.sort();
            out.push_str("    &[\n");
            for (key, hash) in entries {
                out.push_str(&format!(
                    "        ({key:?}, {}),\n",
                    object_index(&hash, &path)
                ));
            }
            out.push_str("    ],\n");
        }
        out.push_str("];\n");
    }

    let crds = schemas.join("crds");
    let mut entries = read_index(&crds.join("index.json"));
    entries.sort();
    out.push_str(
        "/// `(\"<apiVersion>|<Kind>\", path below schemas/, schema text)` of the CRDs, sorted by key.\n",
    );
    out.push_str("pub static CRDS: &[(&str, &str, &str)] = &[\n");
    for (key, file) in &entries {
        assert!(
            crds.join(file).is_file(),
            "crds/index.json names {file}, which does not exist"
        );
        let label = format!("crds/{file}");
        out.push_str(&format!(
            "    ({key:?}, {label:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/schemas/\", {label:?}))),\n"
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("vendored_schemas.rs");
    fs::write(&dest, out).expect("cannot write the schema table");
}

/// The `v<major>.<minor>` folders, oldest first, with their version (`1.37`).
fn minors(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found: Vec<(Vec<u32>, PathBuf, String)> = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
    {
        let path = entry.expect("a readable folder entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Some(v) = name.strip_prefix('v') else {
            continue;
        };
        let parts: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
        if parts.len() == 2 && path.join("index.json").is_file() {
            found.push((parts, path, v.to_string()));
        }
    }
    found.sort();
    assert!(
        !found.is_empty(),
        "no v<major>.<minor> folder in {}",
        dir.display()
    );
    found.into_iter().map(|(_, p, v)| (p, v)).collect()
}

/// The string pairs of a flat JSON object (`index.json` holds nothing else; no escapes in it).
fn read_index(path: &Path) -> Vec<(String, String)> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let strings: Vec<&str> = text.split('"').skip(1).step_by(2).collect();
    assert!(
        strings.len() % 2 == 0 && !text.contains('\\'),
        "{} is not a flat object of strings",
        path.display()
    );
    strings
        .chunks(2)
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect()
}
