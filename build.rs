//! Embeds the vendored Kubernetes (strict) and CRD schemas: writes `$OUT_DIR/vendored_schemas.rs`, a table
//! from `"<apiVersion>|<Kind>"` to the schema text, read from the `index.json` of each folder.
//!
//! Embedding (instead of reading `schemas/` at run time) lets `check` lint any manifest from any folder
//! with one self-contained binary, and costs nothing at startup: a schema is parsed and compiled only
//! when a resource of its kind is checked.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let schemas = root.join("schemas");
    println!("cargo:rerun-if-changed=schemas/kubernetes");
    println!("cargo:rerun-if-changed=schemas/crds");

    let kube_dir = newest_strict(&schemas.join("kubernetes"));
    let version = kube_dir
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches("-strict").to_string())
        .unwrap_or_default();
    let mut entries: Vec<(String, String, PathBuf)> = Vec::new();
    for dir in [kube_dir.clone(), schemas.join("crds")] {
        let label = dir
            .strip_prefix(&schemas)
            .unwrap_or(&dir)
            .to_string_lossy()
            .replace('\\', "/");
        for (key, file) in read_index(&dir.join("index.json")) {
            if entries.iter().any(|(k, _, _)| *k == key) {
                continue;
            }
            let path = dir.join(&file);
            assert!(
                path.is_file(),
                "{} names {file}, which does not exist",
                dir.display()
            );
            entries.push((key, format!("{label}/{file}"), path));
        }
    }
    entries.sort();

    let mut out = String::new();
    out.push_str("/// The Kubernetes version of the vendored built-in schemas.\n");
    out.push_str(&format!(
        "pub const KUBERNETES_VERSION: &str = {version:?};\n"
    ));
    out.push_str(
        "/// `(\"<apiVersion>|<Kind>\", path below schemas/, schema text)`, sorted by key.\n",
    );
    out.push_str("pub static SCHEMAS: &[(&str, &str, &str)] = &[\n");
    // What is embedded is each schema without its descriptions (see `lean`), written beside this
    // table in OUT_DIR and spelled from OUT_DIR when the library compiles (never as an absolute path
    // written out here: a build script's output can outlive the folder it ran in).
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (key, label, path) in &entries {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut schema: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        lean(&mut schema);
        let dest = out_dir.join("schemas").join(label);
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
    let dest = out_dir.join("vendored_schemas.rs");
    fs::write(&dest, out).expect("cannot write the schema table");
}

/// The `v<X.Y.Z>-strict` folder with the highest version.
fn newest_strict(dir: &Path) -> PathBuf {
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
    {
        let path = entry.expect("a readable folder entry").path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Some(v) = name
            .strip_prefix('v')
            .and_then(|n| n.strip_suffix("-strict"))
        else {
            continue;
        };
        let parts: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
        if best.as_ref().is_none_or(|(b, _)| parts > *b) {
            best = Some((parts, path));
        }
    }
    best.map(|(_, p)| p)
        .unwrap_or_else(|| panic!("no v<version>-strict folder in {}", dir.display()))
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
/// compiled subschema: the descriptions were most of the bytes, and of the time, of compiling a
/// Kubernetes schema. Validation is unchanged, and no message quotes a description.
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
