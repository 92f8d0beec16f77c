//! Stage 2, overlay: applies an environment to the resources it names, in the order documented in
//! `docs/overlay-format.md`, and hands the tag stage a [`Build`]: the environment's resources with every
//! value's origin, and the environment's tag rule.

pub mod argocd;
pub mod generate;
pub mod images;
pub mod json_patch;
pub mod merge;

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::load::layer::{Layer, LayerKind, PatchBody, PatchSpec, ReplicaRule, Target};
use crate::load::{check_unique, Loader};
use crate::node::{Key, Node, Origin, Value};
use crate::resource::{group_of, is_cluster_scoped, Removed, Resource};

/// An environment after the overlay: ready for its tag and for rendering.
#[derive(Clone, Debug)]
pub struct Build {
    pub env: Layer,
    pub components: Vec<Layer>,
    pub resources: Vec<Resource>,
}

/// Loads an environment file and everything it names, and applies it.
pub fn build(loader: &mut Loader<'_>, env_file: &Path) -> Result<Build> {
    let env = Layer::load(loader, env_file, LayerKind::Environment)?;
    let mut components = Vec::new();
    for c in &env.components {
        let file = c.value.join("component.yaml");
        if !loader.files.is_file(&file) {
            return Err(Error::at(
                c.origin,
                format!("`{}` does not exist", crate::node::display_path(&file)),
            )
            .label("this component")
            .help("a component is a folder with a component.yaml"));
        }
        components.push(Layer::load(loader, &file, LayerKind::Component)?);
    }

    // 1. resources
    let mut resources = Vec::new();
    let mut errors = Vec::new();
    for layer in std::iter::once(&env).chain(components.iter()) {
        for path in &layer.resources {
            match loader.resources(&path.value, path.origin) {
                Ok(mut rs) => resources.append(&mut rs),
                Err(e) => errors.push(e),
            }
        }
    }
    Error::collect(errors)?;
    check_unique(&resources)?;

    // 2. generated ConfigMaps
    for layer in components.iter().chain(std::iter::once(&env)) {
        generate::generate(loader, &mut resources, &layer.generators)?;
    }

    // 3. patches, replicas, images
    for layer in components.iter().chain(std::iter::once(&env)) {
        for p in &layer.patches {
            apply_patch(&mut resources, p)?;
        }
        set_replicas(&mut resources, &layer.replicas)?;
        images::apply_rules(&mut resources, &layer.images)?;
    }

    // 4. labels and annotations
    for layer in components.iter().chain(std::iter::once(&env)) {
        if let Some(labels) = &layer.labels {
            add_metadata(&mut resources, "labels", labels);
        }
        if let Some(annotations) = &layer.annotations {
            add_metadata(&mut resources, "annotations", annotations);
        }
    }

    // 5. namespace
    if let Some(ns) = &env.namespace {
        set_namespace(&mut resources, &ns.value, ns.origin);
    }

    // 7. content hashes (the tag stage, 6, does not change ConfigMaps)
    generate::apply_hashes(&mut resources);
    check_unique(&resources)?;

    Ok(Build {
        env,
        components,
        resources,
    })
}

/// True when `target` selects `r`.
pub fn selects(target: &Target, r: &Resource) -> bool {
    let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    eq(&target.group, r.group())
        && eq(&target.version, r.version())
        && eq(&target.kind, r.kind())
        && eq(&target.name, r.name())
        && eq(&target.namespace, r.namespace())
        && target.labels.iter().all(|(k, v)| {
            r.node
                .path(&["metadata", "labels", k])
                .and_then(Node::as_str)
                .is_some_and(|have| have == v)
        })
}

/// The target a strategic merge patch document names by its own apiVersion, kind and name.
fn own_target(doc: &Node) -> Result<Target> {
    let kind = doc.str_at(&["kind"]);
    let name = doc.str_at(&["metadata", "name"]);
    match (kind, name) {
        (Some(kind), Some(name)) => Ok(Target {
            group: doc.str_at(&["apiVersion"]).map(|a| group_of(a).to_string()),
            kind: Some(kind.to_string()),
            name: Some(name.to_string()),
            namespace: doc.str_at(&["metadata", "namespace"]).map(str::to_string),
            origin: Some(doc.origin),
            ..Target::default()
        }),
        _ => Err(Error::at(
            doc.origin,
            "this patch names no object: it needs `kind` and `metadata.name`, or the entry a `target`",
        )
        .label("this patch")),
    }
}

fn apply_patch(resources: &mut [Resource], p: &PatchSpec) -> Result<()> {
    let docs: Vec<(Target, Option<&Node>, Vec<Node>)> = match &p.body {
        PatchBody::Strategic(docs) => docs
            .iter()
            .map(|d| {
                let target = match &p.target {
                    Some(t) => t.clone(),
                    None => own_target(d)?,
                };
                Ok((target, Some(d), Vec::new()))
            })
            .collect::<Result<_>>()?,
        PatchBody::Json6902(ops) => vec![(p.target.clone().unwrap_or_default(), None, ops.clone())],
    };
    for (target, doc, ops) in docs {
        let mut hits = 0;
        for r in resources.iter_mut() {
            if !selects(&target, r) {
                continue;
            }
            hits += 1;
            // What the patch removes is remembered for `explain`, from a copy taken only when the
            // patch can remove anything.
            let before = match doc {
                Some(d) => may_remove(d),
                None => ops
                    .iter()
                    .any(|op| matches!(op.str_at(&["op"]), Some("remove" | "move" | "replace"))),
            }
            .then(|| r.node.clone());
            match doc {
                Some(d) => {
                    // With an explicit target, the patch's own identity fields do not rename the object.
                    let mut d = d.clone();
                    if p.target.is_some() {
                        if let Some(m) = d.as_map_mut() {
                            m.remove("apiVersion");
                            m.remove("kind");
                            if let Some(meta) = m.get_mut("metadata").and_then(Node::as_map_mut) {
                                meta.remove("name");
                                meta.remove("namespace");
                            }
                        }
                    }
                    merge::merge(&mut r.node, &d)
                        .map_err(|e| e.related(p.origin, "patch entry"))?;
                }
                None => json_patch::apply(&mut r.node, &ops)
                    .map_err(|e| e.related(p.origin, "patch entry"))?,
            }
            if let Some(before) = before {
                let mut gone = Vec::new();
                removed_paths(&before, &r.node, &mut Vec::new(), &mut gone);
                for path in gone {
                    let origin = match doc {
                        Some(d) => origin_in_patch(d, &path),
                        None => p.origin,
                    };
                    r.removed.push(Removed { path, origin });
                }
            }
        }
        if hits == 0 {
            let at = target.origin.unwrap_or(p.origin);
            return Err(Error::at(
                at,
                format!("this patch selects no resource ({})", describe(&target)),
            )
            .label("the target")
            .related(p.origin, "patch entry")
            .help("check the kind and name against the resources the environment includes"));
        }
    }
    Ok(())
}

/// Whether a strategic merge patch can remove anything: it holds a `null` or a `$patch` directive.
fn may_remove(patch: &Node) -> bool {
    match &patch.value {
        Value::Null => true,
        Value::Map(m) => m
            .iter()
            .any(|(k, v)| k.name.starts_with('$') || may_remove(v)),
        Value::Seq(items) => items.iter().any(may_remove),
        _ => false,
    }
}

/// The step of a list item in a removed path: `[name=x]` for an item with a name, else none (a list
/// item without one is not told apart).
fn item_step(item: &Node) -> Option<String> {
    item.get("name")
        .and_then(Node::as_str)
        .map(|n| format!("[name={n}]"))
}

/// The fields of `before` that `after` no longer has: map keys, and named list items.
fn removed_paths(before: &Node, after: &Node, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match (&before.value, &after.value) {
        (Value::Map(b), Value::Map(a)) => {
            for (k, v) in b.iter() {
                path.push(k.name.clone());
                match a.get(&k.name) {
                    None => out.push(path.clone()),
                    Some(now) => removed_paths(v, now, path, out),
                }
                path.pop();
            }
        }
        (Value::Seq(b), Value::Seq(a)) => {
            for item in b {
                let Some(step) = item_step(item) else {
                    continue;
                };
                path.push(step.clone());
                match a
                    .iter()
                    .find(|i| item_step(i).as_deref() == Some(step.as_str()))
                {
                    None => out.push(path.clone()),
                    Some(now) => removed_paths(item, now, path, out),
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// The line of a strategic merge patch that removed `path`: the `null` or `$patch: delete` there, else
/// the deepest place of the patch on the way to it.
fn origin_in_patch(patch: &Node, path: &[String]) -> Origin {
    let mut node = patch;
    for step in path {
        let next = match &node.value {
            Value::Map(m) => m.get(step),
            Value::Seq(items) => items
                .iter()
                .find(|i| item_step(i).as_deref() == Some(step.as_str())),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node.origin
}

fn describe(t: &Target) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("group", &t.group),
        ("version", &t.version),
        ("kind", &t.kind),
        ("name", &t.name),
        ("namespace", &t.namespace),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    for (k, v) in &t.labels {
        parts.push(format!("label {k}={v}"));
    }
    parts.join(", ")
}

/// Sets `spec.replicas` from a layer's `replicas` entries (later entries win); an entry that names no
/// Deployment, StatefulSet or ReplicaSet is an error. One pass over the resources.
fn set_replicas(resources: &mut [Resource], rules: &[ReplicaRule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        by_name.entry(rule.name.value.as_str()).or_default().push(i);
    }
    let mut hits = vec![false; rules.len()];
    for r in resources.iter_mut() {
        let Some(list) = by_name.get(r.name()) else {
            continue;
        };
        for &i in list {
            let rule = &rules[i];
            let kind_ok = match &rule.kind {
                Some(k) => r.kind() == k,
                None => matches!(r.kind(), "Deployment" | "StatefulSet" | "ReplicaSet"),
            };
            if !kind_ok {
                continue;
            }
            hits[i] = true;
            let origin = rule.count.origin;
            if let Some(spec) = r.node.ensure_map("spec", origin) {
                spec.insert(
                    Key {
                        name: "replicas".into(),
                        origin,
                    },
                    Node::new(rule.count.value.clone(), origin),
                );
            }
        }
    }
    if let Some(i) = hits.iter().position(|h| !h) {
        let rule = &rules[i];
        return Err(Error::at(
            rule.name.origin,
            format!(
                "no Deployment, StatefulSet or ReplicaSet is named `{}`",
                rule.name.value
            ),
        )
        .label("this name"));
    }
    Ok(())
}

/// Adds labels or annotations to every object and to pod templates; never to selectors.
fn add_metadata(resources: &mut [Resource], field: &str, extra: &Node) {
    let Some(extra) = extra.as_map() else {
        return;
    };
    let add = |node: &mut Node| {
        let origin = extra
            .entries
            .first()
            .map(|(k, _)| k.origin)
            .unwrap_or(node.origin);
        let Some(meta) = node.ensure_map("metadata", origin) else {
            return;
        };
        let exists = meta.get(field).is_some_and(|n| !n.is_null());
        if !exists {
            meta.insert(
                Key {
                    name: field.to_string(),
                    origin,
                },
                Node::map(origin),
            );
        }
        if let Some(target) = meta.get_mut(field).and_then(Node::as_map_mut) {
            for (k, v) in extra.iter() {
                target.insert(k.clone(), v.clone());
            }
        }
    };
    for r in resources.iter_mut() {
        add(&mut r.node);
        // A Pod is its own template: its metadata is done above.
        if r.kind() != "Pod" {
            if let Some(t) = r.pod_template_mut() {
                add(t);
            }
        }
    }
}

/// Fills in the namespace of every namespaced object that sets none, and of ServiceAccount subjects of
/// (Cluster)RoleBindings that name none.
fn set_namespace(resources: &mut [Resource], ns: &str, origin: Origin) {
    for r in resources.iter_mut() {
        let group = r.group().to_string();
        let kind = r.kind().to_string();
        if !is_cluster_scoped(&group, &kind) && r.namespace().is_empty() {
            if let Some(meta) = r.node.get_mut("metadata").and_then(Node::as_map_mut) {
                meta.insert(
                    Key {
                        name: "namespace".into(),
                        origin,
                    },
                    Node::str(ns, origin),
                );
            }
        }
        if kind == "RoleBinding" || kind == "ClusterRoleBinding" {
            if let Some(subjects) = r.node.get_mut("subjects").and_then(Node::as_seq_mut) {
                for s in subjects {
                    let is_sa = s.str_at(&["kind"]) == Some("ServiceAccount");
                    if let (true, Some(m)) = (is_sa, s.as_map_mut()) {
                        if !m.contains("namespace") {
                            m.insert(
                                Key {
                                    name: "namespace".into(),
                                    origin,
                                },
                                Node::new(Value::Str(ns.to_string()), origin),
                            );
                        }
                    }
                }
            }
        }
    }
}
