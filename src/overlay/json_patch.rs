//! JSON 6902 patches on [`Node`] trees: add, remove, replace, move, copy and test. A path that does not
//! exist is an error at the operation's line.

use crate::error::{Error, Result};
use crate::node::{Key, Node, Origin, Value};

/// Applies every operation in order; stops at the first that fails.
pub fn apply(target: &mut Node, ops: &[Node]) -> Result<()> {
    for op in ops {
        apply_one(target, op)?;
        // `copy` doubles what it copies and `add` nests deeper each time: the load stage's bounds do not
        // hold for the result, so every operation is held to the bounds of a built object.
        if target.exceeds(MAX_BUILT_DEPTH, MAX_BUILT_NODES) {
            return Err(Error::at(
                op.origin,
                format!(
                    "after this operation the object nests deeper than {MAX_BUILT_DEPTH} levels or holds more than {MAX_BUILT_NODES} values"
                ),
            )
            .label("this operation"));
        }
    }
    Ok(())
}

/// How deep a patched object may nest: twice what a file may, room for a patch placed deep.
pub const MAX_BUILT_DEPTH: usize = 2 * crate::load::yaml::MAX_DEPTH;
/// How many values a patched object may hold.
pub const MAX_BUILT_NODES: usize = 500_000;

fn field<'a>(op: &'a Node, name: &str) -> Result<&'a Node> {
    op.get(name).ok_or_else(|| {
        Error::at(op.origin, format!("this operation has no `{name}`")).label("this operation")
    })
}

fn parse_pointer(node: &Node) -> Result<Vec<String>> {
    let Some(text) = node.as_str() else {
        return Err(Error::at(node.origin, "a JSON pointer must be a string").label("here"));
    };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = text.strip_prefix('/') else {
        return Err(Error::at(
            node.origin,
            format!("`{text}` is not a JSON pointer: it must start with `/`"),
        )
        .label("here"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn apply_one(target: &mut Node, op: &Node) -> Result<()> {
    if op.as_map().is_none() {
        return Err(Error::at(op.origin, "a JSON 6902 operation must be a mapping").label("here"));
    }
    let name = field(op, "op")?;
    let path_node = field(op, "path")?;
    let path = parse_pointer(path_node)?;
    let at = path_node.origin;
    match name.as_str() {
        Some("add") => {
            let value = field(op, "value")?.clone();
            add(target, &path, value, at)
        }
        Some("remove") => remove(target, &path, at).map(|_| ()),
        Some("replace") => {
            let value = field(op, "value")?.clone();
            let slot = lookup_mut(target, &path, at)?;
            *slot = value;
            Ok(())
        }
        Some("move") => {
            let from_node = field(op, "from")?;
            let from = parse_pointer(from_node)?;
            let value = remove(target, &from, from_node.origin)?;
            add(target, &path, value, at)
        }
        Some("copy") => {
            let from_node = field(op, "from")?;
            let from = parse_pointer(from_node)?;
            let value = lookup_mut(target, &from, from_node.origin)?.clone();
            add(target, &path, value, at)
        }
        Some("test") => {
            let want = field(op, "value")?;
            let have = lookup_mut(target, &path, at)?;
            if have.to_json() != want.to_json() {
                return Err(Error::at(
                    want.origin,
                    "the `test` operation failed: the value differs",
                )
                .label("expected this value"));
            }
            Ok(())
        }
        _ => Err(Error::at(name.origin, "unknown operation")
            .label("here")
            .help("use add, remove, replace, move, copy or test")),
    }
}

fn missing(at: Origin, path: &[String], depth: usize) -> Error {
    let shown: String = path[..=depth.min(path.len().saturating_sub(1))]
        .iter()
        .map(|t| format!("/{t}"))
        .collect();
    Error::at(
        at,
        format!("the path `{shown}` does not exist in the target"),
    )
    .label("this path")
}

fn lookup_mut<'a>(mut node: &'a mut Node, path: &[String], at: Origin) -> Result<&'a mut Node> {
    for (depth, token) in path.iter().enumerate() {
        node = match &mut node.value {
            Value::Map(m) => m.get_mut(token).ok_or_else(|| missing(at, path, depth))?,
            Value::Seq(items) => {
                let i: usize = token.parse().map_err(|_| missing(at, path, depth))?;
                items.get_mut(i).ok_or_else(|| missing(at, path, depth))?
            }
            _ => return Err(missing(at, path, depth)),
        };
    }
    Ok(node)
}

fn add(target: &mut Node, path: &[String], value: Node, at: Origin) -> Result<()> {
    let Some((last, parent_path)) = path.split_last() else {
        *target = value;
        return Ok(());
    };
    let parent = lookup_mut(target, parent_path, at)?;
    match &mut parent.value {
        Value::Map(m) => {
            m.insert(
                Key {
                    name: last.clone(),
                    origin: at,
                },
                value,
            );
            Ok(())
        }
        Value::Seq(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            match last.parse::<usize>() {
                Ok(i) if i <= items.len() => {
                    items.insert(i, value);
                    Ok(())
                }
                _ => Err(missing(at, path, path.len() - 1)),
            }
        }
        _ => Err(missing(at, path, path.len() - 1)),
    }
}

fn remove(target: &mut Node, path: &[String], at: Origin) -> Result<Node> {
    let Some((last, parent_path)) = path.split_last() else {
        return Err(Error::at(at, "cannot remove the whole object").label("this path"));
    };
    let parent = lookup_mut(target, parent_path, at)?;
    match &mut parent.value {
        Value::Map(m) => m
            .remove(last)
            .ok_or_else(|| missing(at, path, path.len() - 1)),
        Value::Seq(items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => Ok(items.remove(i)),
            _ => Err(missing(at, path, path.len() - 1)),
        },
        _ => Err(missing(at, path, path.len() - 1)),
    }
}
