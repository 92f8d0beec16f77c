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
    // What is embedded is each CRD schema without its descriptions (see `lean`; the Kubernetes objects
    // are vendored without them), written beside this table in OUT_DIR and spelled from OUT_DIR when
    // the library compiles (never as an absolute path written out here, for the reason above).
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (key, file) in &entries {
        let path = crds.join(file);
        assert!(
            path.is_file(),
            "crds/index.json names {file}, which does not exist"
        );
        let label = format!("crds/{file}");
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut schema: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        lean(&mut schema);
        let dest = out_dir.join("schemas").join(&label);
        fs::create_dir_all(dest.parent().expect("a schema file has a folder"))
            .expect("cannot create a folder in OUT_DIR");
        fs::write(
            &dest,
            serde_json::to_string(&schema).expect("a JSON value serializes"),
        )
        .expect("cannot write a schema to OUT_DIR");
        out.push_str(&format!(
            "    ({key:?}, {label:?}, include_str!(concat!(env!(\"OUT_DIR\"), \"/schemas/\", {label:?}))),\n"
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

/// Removes what only documents a schema: `description` and `$comment` of every schema in it (not a
/// property *named* `description`, nor anything inside `enum`, `const`, `default` or `examples`,
/// which are data). The validator keeps every keyword it does not know as an annotation, a copy per
/// compiled subschema: a CRD's descriptions were most of its bytes, and of the time compiling it.
/// Validation is unchanged, and no message quotes a description.
fn lean(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            if map
                .get("description")
                .is_some_and(serde_json::Value::is_string)
            {
                map.remove("description");
            }
            map.remove("$comment");
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "enum" | "const" | "default" | "examples" => {}
                    // Maps from a name to a schema: the names stay, the schemas are made lean.
                    "properties" | "patternProperties" | "$defs" | "definitions"
                    | "dependentSchemas" => {
                        if let serde_json::Value::Object(named) = value {
                            named.values_mut().for_each(lean);
                        }
                    }
                    _ => lean(value),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(lean),
        _ => {}
    }
}
