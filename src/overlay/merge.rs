//! Strategic merge patches, as Kubernetes defines them: maps merge key by key, `null` deletes a key, lists of
//! objects merge item by item on their merge key, other lists are replaced, and the `$patch` directives
//! `replace` and `delete` are honoured. Every value the patch sets keeps the patch's origin.

use crate::error::{Error, Result};
use crate::node::{Map, Node, Value};

/// What the parent should do with the field after merging into it.
enum Outcome {
    Keep,
    Delete,
}

/// Merges `patch` into `target`.
pub fn merge(target: &mut Node, patch: &Node) -> Result<()> {
    match merge_node(target, patch, "")? {
        Outcome::Keep => Ok(()),
        Outcome::Delete => Err(Error::at(
            patch.origin,
            "`$patch: delete` at the top of a patch would delete the whole object",
        )
        .label("here")
        .help("remove the object from `resources` instead")),
    }
}

fn directive(node: &Node) -> Option<&str> {
    node.get("$patch").and_then(Node::as_str)
}

/// The patch value without directives, for inserting where nothing is merged. A `null` in it deletes
/// nothing (there is nothing yet), so it is dropped, as JSON merge patches do.
pub fn strip_directives(node: &Node) -> Node {
    match &node.value {
        Value::Map(m) => {
            let entries = m
                .entries
                .iter()
                .filter(|(k, v)| !k.name.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect();
            Node::new(Value::Map(Map { entries }), node.origin)
        }
        Value::Seq(items) => Node::new(
            Value::Seq(
                items
                    .iter()
                    .filter(|i| directive(i).is_none() || i.as_map().is_some_and(|m| m.len() > 1))
                    .map(strip_directives)
                    .collect(),
            ),
            node.origin,
        ),
        _ => node.clone(),
    }
}

fn merge_node(target: &mut Node, patch: &Node, field: &str) -> Result<Outcome> {
    match (&mut target.value, &patch.value) {
        (Value::Map(t), Value::Map(p)) => {
            match directive(patch) {
                Some("delete") => return Ok(Outcome::Delete),
                Some("replace") => {
                    *target = strip_directives(patch);
                    return Ok(Outcome::Keep);
                }
                Some("merge") | None => {}
                Some(other) => {
                    let at = patch
                        .get("$patch")
                        .map(|n| n.origin)
                        .unwrap_or(patch.origin);
                    return Err(
                        Error::at(at, format!("unknown directive `$patch: {other}`"))
                            .label("here")
                            .help("use `replace`, `delete` or `merge`"),
                    );
                }
            }
            for (key, value) in &p.entries {
                if key.name.starts_with('$') {
                    continue;
                }
                if value.is_null() {
                    t.remove(&key.name);
                    continue;
                }
                match t.get_mut(&key.name) {
                    Some(existing) => {
                        if let Outcome::Delete = merge_node(existing, value, &key.name)? {
                            t.remove(&key.name);
                        }
                    }
                    None => {
                        if directive(value) == Some("delete") {
                            return Err(Error::at(
                                key.origin,
                                format!(
                                    "`{}` is to be deleted, but the object has no such field",
                                    key.name
                                ),
                            )
                            .label("here"));
                        }
                        t.insert(key.clone(), strip_directives(value));
                    }
                }
            }
            Ok(Outcome::Keep)
        }
        (Value::Seq(t), Value::Seq(p)) => {
            merge_list(t, p, field)?;
            target.origin = patch.origin;
            Ok(Outcome::Keep)
        }
        _ => {
            if directive(patch) == Some("delete") {
                return Ok(Outcome::Delete);
            }
            // An equal scalar (a merge key, a value restated) keeps the place that first set it.
            if target.value == patch.value {
                return Ok(Outcome::Keep);
            }
            *target = strip_directives(patch);
            Ok(Outcome::Keep)
        }
    }
}

/// The merge key of a list field, from the field name and (for `ports`) the items' shape.
fn merge_keys(field: &str, sample: &[&Node]) -> Option<&'static [&'static str]> {
    let has = |k: &str| sample.iter().any(|n| n.get(k).is_some());
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets"
        | "resourceClaims" => &["name"],
        "ports" if has("containerPort") => &["containerPort", "protocol"],
        "ports" if has("port") => &["port", "protocol"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "hostAliases" => &["ip"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        _ => return None,
    })
}

/// Two items are the same element when every merge key matches (`protocol` defaults to TCP).
fn same_item(a: &Node, b: &Node, keys: &[&str]) -> bool {
    keys.iter().all(|k| {
        let va = a.get(k).map(|n| &n.value);
        let vb = b.get(k).map(|n| &n.value);
        match (*k, va, vb) {
            ("protocol" | "whenUnsatisfiable", None, None) => true,
            ("protocol", Some(Value::Str(s)), None) | ("protocol", None, Some(Value::Str(s))) => {
                s == "TCP"
            }
            ("whenUnsatisfiable", _, None) | ("whenUnsatisfiable", None, _) => true,
            (_, Some(x), Some(y)) => x == y,
            _ => false,
        }
    })
}

fn merge_list(target: &mut Vec<Node>, patch: &[Node], field: &str) -> Result<()> {
    // `- $patch: replace` anywhere in the patch list: the list replaces the target's.
    if patch
        .iter()
        .any(|i| directive(i) == Some("replace") && i.as_map().is_some_and(|m| m.len() == 1))
    {
        *target = patch
            .iter()
            .filter(|i| !(directive(i).is_some() && i.as_map().is_some_and(|m| m.len() == 1)))
            .map(strip_directives)
            .collect();
        return Ok(());
    }
    let sample: Vec<&Node> = target.iter().chain(patch.iter()).collect();
    let all_maps = !patch.is_empty() && patch.iter().all(|i| i.as_map().is_some());
    let keys = if all_maps {
        merge_keys(field, &sample)
    } else {
        None
    };
    let Some(keys) = keys else {
        *target = patch.iter().map(strip_directives).collect();
        return Ok(());
    };
    for item in patch {
        let primary = keys[0];
        if item.get(primary).is_none() {
            return Err(Error::at(
                item.origin,
                format!(
                    "this `{field}` item has no `{primary}`, so it cannot be merged into the list"
                ),
            )
            .label("this item")
            .help(format!(
                "`{field}` lists merge on `{primary}`; add it, or use `$patch: replace`"
            )));
        }
        let pos = target.iter().position(|t| same_item(t, item, keys));
        match (pos, directive(item)) {
            (Some(i), Some("delete")) => {
                target.remove(i);
            }
            (None, Some("delete")) => {
                let key = item
                    .get(primary)
                    .map(|n| n.value.to_string())
                    .unwrap_or_default();
                return Err(Error::at(
                    item.origin,
                    format!("`$patch: delete` names `{primary}: {key}`, which is not in the list"),
                )
                .label("this item"));
            }
            (Some(i), _) => {
                if let Outcome::Delete = merge_node(&mut target[i], item, field)? {
                    target.remove(i);
                }
            }
            (None, _) => target.push(strip_directives(item)),
        }
    }
    Ok(())
}
