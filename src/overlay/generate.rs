//! ConfigMaps generated from files and literals, their content-hash names, and the rewriting of every
//! reference to them.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::load::layer::{Behavior, GeneratorSpec};
use crate::load::Loader;
use crate::node::{FileRole, Key, Map, Node, Origin, Value};
use crate::resource::{Generated, Resource};

fn key(name: &str, origin: Origin) -> Key {
    Key {
        name: name.to_string(),
        origin,
    }
}

/// Builds the `data` of a generator: files (each value's origin spans the whole file, so checks can map
/// positions inside the text back to the file) and literals.
fn data(loader: &mut Loader<'_>, g: &GeneratorSpec) -> Result<Map> {
    let mut data = Map::new();
    for (k, path, at) in &g.files {
        if !loader.files.is_file(path) {
            return Err(Error::at(
                *at,
                format!("`{}` does not exist", crate::node::display_path(path)),
            )
            .label("named here"));
        }
        let id = loader.source(path, FileRole::ConfigSource)?;
        let text = loader.sources.get(id).text.to_string();
        let origin = Origin {
            file: id,
            start: 0,
            end: text.len() as u32,
            line: 1,
            col: 1,
        };
        if data.insert(key(k, *at), Node::str(text, origin)).is_some() {
            return Err(Error::at(
                *at,
                format!("the key `{k}` appears twice in this generator"),
            )
            .label("here"));
        }
    }
    for (k, v, at) in &g.literals {
        if data
            .insert(key(k, *at), Node::str(v.clone(), *at))
            .is_some()
        {
            return Err(Error::at(
                *at,
                format!("the key `{k}` appears twice in this generator"),
            )
            .label("here"));
        }
    }
    Ok(data)
}

/// Adds or merges the ConfigMaps of a layer's generators into `resources`.
pub fn generate(
    loader: &mut Loader<'_>,
    resources: &mut Vec<Resource>,
    generators: &[GeneratorSpec],
) -> Result<()> {
    if generators.is_empty() {
        return Ok(());
    }
    // (namespace, name) -> position of every ConfigMap, so each generator finds its own in one look-up.
    let mut index: HashMap<(String, String), usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind() == "ConfigMap" && r.group().is_empty())
        .map(|(i, r)| ((r.namespace().to_string(), r.name().to_string()), i))
        .collect();
    for g in generators {
        let name = &g.name.value;
        let ns = g.namespace.as_ref().map(|n| n.value.as_str()).unwrap_or("");
        let data = data(loader, g)?;
        let existing = index.get(&(ns.to_string(), name.clone())).copied();
        match (existing, g.behavior) {
            (Some(i), Behavior::Merge) | (Some(i), Behavior::Replace) => {
                let r = &mut resources[i];
                let replace = g.behavior == Behavior::Replace;
                if let Some(Value::Map(m)) = r.node.as_map_mut().map(|m| {
                    if replace || m.get("data").is_none() {
                        m.insert(key("data", g.origin), Node::map(g.origin));
                    }
                    &mut m.get_mut("data").expect("inserted above").value
                }) {
                    for (k, v) in data.entries {
                        m.insert(k, v);
                    }
                }
                decorate(&mut r.node, g);
                if r.generated.is_none() {
                    r.generated = Some(Generated {
                        base_name: name.clone(),
                        hash_suffix: !g.disable_hash,
                        origin: g.origin,
                    });
                }
            }
            (Some(i), Behavior::Create) => {
                return Err(Error::at(
                    g.name.origin,
                    format!("a ConfigMap `{name}` already exists"),
                )
                .label("generated here")
                .related(resources[i].name_origin(), "defined here")
                .help("use `behavior: merge` or `behavior: replace` to change it"));
            }
            (None, Behavior::Merge) | (None, Behavior::Replace) => {
                return Err(Error::at(
                    g.name.origin,
                    format!(
                        "there is no ConfigMap `{name}` to {}",
                        if g.behavior == Behavior::Merge {
                            "merge into"
                        } else {
                            "replace"
                        }
                    ),
                )
                .label("here"));
            }
            (None, Behavior::Create) => {
                let mut meta = Map::new();
                meta.insert(
                    key("name", g.name.origin),
                    Node::str(name.clone(), g.name.origin),
                );
                if let Some(n) = &g.namespace {
                    meta.insert(
                        key("namespace", n.origin),
                        Node::str(n.value.clone(), n.origin),
                    );
                }
                let mut m = Map::new();
                m.insert(key("apiVersion", g.origin), Node::str("v1", g.origin));
                m.insert(key("kind", g.origin), Node::str("ConfigMap", g.origin));
                m.insert(
                    key("metadata", g.origin),
                    Node::new(Value::Map(meta), g.origin),
                );
                m.insert(key("data", g.origin), Node::new(Value::Map(data), g.origin));
                if g.immutable {
                    m.insert(
                        key("immutable", g.origin),
                        Node::new(Value::Bool(true), g.origin),
                    );
                }
                let mut node = Node::new(Value::Map(m), g.origin);
                decorate(&mut node, g);
                index.insert((ns.to_string(), name.clone()), resources.len());
                resources.push(Resource {
                    node,
                    generated: Some(Generated {
                        base_name: name.clone(),
                        hash_suffix: !g.disable_hash,
                        origin: g.origin,
                    }),
                    removed: Vec::new(),
                });
            }
        }
    }
    Ok(())
}

fn decorate(node: &mut Node, g: &GeneratorSpec) {
    for (field, extra) in [("labels", &g.labels), ("annotations", &g.annotations)] {
        let Some(extra) = extra.as_ref().and_then(Node::as_map) else {
            continue;
        };
        let Some(meta) = node.get_mut("metadata") else {
            continue;
        };
        if let Some(target) = meta.ensure_map(field, g.origin) {
            for (k, v) in extra.iter() {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The content hash of a generated ConfigMap: the first 10 hex digits of the SHA-256 of its kind, name
/// and sorted data, so the same content gives the same name on every machine.
pub fn content_hash(r: &Resource, base_name: &str) -> String {
    let mut data: BTreeMap<&str, String> = BTreeMap::new();
    for field in ["data", "binaryData"] {
        if let Some(m) = r.node.get(field).and_then(Node::as_map) {
            for (k, v) in m.iter() {
                let text = match &v.value {
                    Value::Str(s) => s.clone(),
                    other => other.to_string(),
                };
                data.insert(&k.name, format!("{field}:{text}"));
            }
        }
    }
    let canonical = serde_json::json!({ "kind": "ConfigMap", "name": base_name, "data": data });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// Appends the content hash to every generated ConfigMap that wants one, and rewrites every reference to
/// it in the same namespace.
pub fn apply_hashes(resources: &mut [Resource]) {
    // (namespace, old name) -> (new name, generator origin)
    let mut renames: HashMap<(String, String), (String, Origin)> = HashMap::new();
    for r in resources.iter_mut() {
        let Some(g) = r.generated.clone() else {
            continue;
        };
        if !g.hash_suffix {
            continue;
        }
        let new_name = format!("{}-{}", g.base_name, content_hash(r, &g.base_name));
        renames.insert(
            (r.namespace().to_string(), g.base_name.clone()),
            (new_name.clone(), g.origin),
        );
        if let Some(n) = r.node.path_mut(&["metadata", "name"]) {
            n.value = Value::Str(new_name);
            n.origin = g.origin;
        }
    }
    if renames.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let ns = r.namespace().to_string();
        let Some(spec) = r.pod_spec_mut() else {
            continue;
        };
        let rename = |n: &mut Node| {
            if let Some(old) = n.as_str() {
                if let Some((new, origin)) = renames.get(&(ns.clone(), old.to_string())) {
                    n.value = Value::Str(new.clone());
                    n.origin = *origin;
                }
            }
        };
        rewrite_refs(spec, &rename);
    }
}

/// Calls `f` on every node in a pod spec that names a ConfigMap.
pub fn rewrite_refs(spec: &mut Node, f: &dyn Fn(&mut Node)) {
    if let Some(vols) = spec.get_mut("volumes").and_then(Node::as_seq_mut) {
        for v in vols {
            if let Some(n) = v.path_mut(&["configMap", "name"]) {
                f(n);
            }
            if let Some(sources) = v
                .path_mut(&["projected", "sources"])
                .and_then(Node::as_seq_mut)
            {
                for s in sources {
                    if let Some(n) = s.path_mut(&["configMap", "name"]) {
                        f(n);
                    }
                }
            }
        }
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(items) = spec.get_mut(list).and_then(Node::as_seq_mut) else {
            continue;
        };
        for c in items {
            if let Some(from) = c.get_mut("envFrom").and_then(Node::as_seq_mut) {
                for e in from {
                    if let Some(n) = e.path_mut(&["configMapRef", "name"]) {
                        f(n);
                    }
                }
            }
            if let Some(env) = c.get_mut("env").and_then(Node::as_seq_mut) {
                for e in env {
                    if let Some(n) = e.path_mut(&["valueFrom", "configMapKeyRef", "name"]) {
                        f(n);
                    }
                }
            }
        }
    }
}
