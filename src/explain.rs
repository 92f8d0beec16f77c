//! `explain`: the rendered value of a resource or one of its fields, and for every leaf the file and line
//! that set it (base, component, patch, environment or config file). Secret values are never shown.

use crate::error::{Error, Result};
use crate::node::{Node, Sources, Value};
use crate::resource::Resource;

/// One leaf of the explained subtree.
#[derive(Debug, Clone)]
pub struct Field {
    pub path: String,
    /// The value in one line, or `None` when it must not be shown.
    pub value: serde_json::Value,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub source: &'static str,
}

/// A path step: a map key, a list index, or a list item selected by a field (`[name=openim-api]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
    Select(String, String),
}

/// Parses `spec.template.spec.containers[name=api].image` or `metadata.labels["app.kubernetes.io/name"]`.
pub fn parse_path(text: &str) -> Result<Vec<Step>> {
    let bad = |why: &str| {
        Error::usage(format!("cannot read the field path `{text}`: {why}"))
            .help("write it as spec.template.spec.containers[name=app].image, list items as [0] or [name=x], keys with dots as [\"a.b/c\"]")
    };
    let mut steps = Vec::new();
    let mut chars = text.chars();
    let mut key = String::new();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !key.is_empty() {
                    steps.push(Step::Key(std::mem::take(&mut key)));
                }
            }
            '[' => {
                if !key.is_empty() {
                    steps.push(Step::Key(std::mem::take(&mut key)));
                }
                let mut inner = String::new();
                let mut quoted = false;
                let mut closed = false;
                for c in chars.by_ref() {
                    match c {
                        '"' => quoted = !quoted,
                        ']' if !quoted => {
                            closed = true;
                            break;
                        }
                        c => inner.push(c),
                    }
                }
                if !closed {
                    return Err(bad("a `[` is not closed"));
                }
                if let Ok(i) = inner.parse::<usize>() {
                    steps.push(Step::Index(i));
                } else if let Some((k, v)) = inner.split_once('=') {
                    steps.push(Step::Select(k.to_string(), v.to_string()));
                } else if !inner.is_empty() {
                    steps.push(Step::Key(inner));
                } else {
                    return Err(bad("`[]` is empty"));
                }
            }
            c => key.push(c),
        }
    }
    if !key.is_empty() {
        steps.push(Step::Key(key));
    }
    Ok(steps)
}

/// Finds a resource by `Kind/name` or `Kind/namespace/name` (kind case-insensitive).
pub fn find<'a>(resources: &'a [Resource], spec: &str) -> Result<&'a Resource> {
    let parts: Vec<&str> = spec.split('/').collect();
    let (kind, ns, name) = match parts.as_slice() {
        [k, n] => (*k, None, *n),
        [k, ns, n] => (*k, Some(*ns), *n),
        _ => {
            return Err(Error::usage(format!("`{spec}` is not Kind/name"))
                .help("for example Deployment/openim-api or Deployment/openim-release/openim-api"))
        }
    };
    let hits: Vec<&Resource> = resources
        .iter()
        .filter(|r| {
            r.kind().eq_ignore_ascii_case(kind)
                && (r.name() == name || r.generated.as_ref().is_some_and(|g| g.base_name == name))
                && ns.is_none_or(|ns| r.namespace() == ns)
        })
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => {
            let mut names: Vec<String> = resources
                .iter()
                .filter(|r| r.kind().eq_ignore_ascii_case(kind))
                .map(|r| r.name().to_string())
                .collect();
            names.sort();
            let help = if names.is_empty() {
                format!("the environment has no {kind}")
            } else {
                format!("it has: {}", names.join(", "))
            };
            Err(Error::usage(format!("the environment renders no {kind}/{name}")).help(help))
        }
        _ => Err(
            Error::usage(format!("{kind}/{name} exists in several namespaces"))
                .help("name it as Kind/namespace/name"),
        ),
    }
}

/// Walks to a path inside a resource.
pub fn select<'a>(root: &'a Node, steps: &[Step]) -> Result<(&'a Node, String)> {
    let mut node = root;
    let mut path = String::new();
    for step in steps {
        let parent = path.clone();
        let next = match (step, &node.value) {
            (Step::Key(k), Value::Map(m)) => {
                push_key(&mut path, k);
                m.get(k)
            }
            (Step::Index(i), Value::Seq(items)) => {
                path.push_str(&format!("[{i}]"));
                items.get(*i)
            }
            (Step::Select(k, v), Value::Seq(items)) => {
                path.push_str(&format!("[{k}={v}]"));
                items.iter().find(|i| {
                    i.get(k).is_some_and(|n| match &n.value {
                        Value::Str(s) => s == v,
                        other => other.to_string() == *v,
                    })
                })
            }
            _ => None,
        };
        node = next.ok_or_else(|| {
            let shown = match step {
                Step::Key(k) => k.clone(),
                Step::Index(i) => format!("[{i}]"),
                Step::Select(k, v) => format!("[{k}={v}]"),
            };
            Error::usage(format!(
                "the rendered object has no `{shown}` at `{}`",
                if parent.is_empty() { "." } else { &parent }
            ))
        })?;
    }
    Ok((node, path))
}

fn push_key(path: &mut String, k: &str) {
    if k.contains(['.', '[', ']', '/']) {
        path.push_str(&format!("[\"{k}\"]"));
    } else {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
    }
}

/// Every leaf below `node`, with its origin. Values under a Secret's `data`/`stringData` are hidden.
pub fn leaves(sources: &Sources, node: &Node, path: &str, secret: bool, out: &mut Vec<Field>) {
    let hidden = secret && (path.starts_with("data") || path.starts_with("stringData"));
    match &node.value {
        Value::Map(m) if !m.is_empty() => {
            for (k, v) in crate::render::emit::sorted(m) {
                let mut p = path.to_string();
                push_key(&mut p, k);
                leaves(sources, v, &p, secret, out);
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let step = match item.get("name").and_then(Node::as_str) {
                    Some(name) => format!("[name={name}]"),
                    None => format!("[{i}]"),
                };
                leaves(sources, item, &format!("{path}{step}"), secret, out);
            }
        }
        _ => {
            let file = sources.get(node.origin.file);
            let value = if hidden {
                serde_json::Value::String("(hidden: a Secret value)".into())
            } else {
                node.to_json()
            };
            out.push(Field {
                path: if path.is_empty() {
                    ".".into()
                } else {
                    path.to_string()
                },
                value,
                file: file.display.clone(),
                line: node.origin.line,
                column: node.origin.col,
                source: file.role.as_str(),
            });
        }
    }
}

/// The explained fields of one resource at a path.
pub fn explain(sources: &Sources, r: &Resource, path: Option<&str>) -> Result<Vec<Field>> {
    let steps = match path {
        Some(p) => parse_path(p)?,
        None => Vec::new(),
    };
    // Values the redaction rule hides are shown as their marker and short hash (origins kept).
    let mut hidden = r.node.clone();
    crate::check::redact::object(&mut hidden);
    let (node, shown) = match select(&hidden, &steps) {
        Ok(found) => found,
        Err(e) => return Err(removed_by(sources, r, &steps).unwrap_or(e)),
    };
    let mut out = Vec::new();
    leaves(
        sources,
        node,
        &shown,
        r.kind() == "Secret" && r.group().is_empty(),
        &mut out,
    );
    Ok(out)
}

/// The path steps as the overlay records a removed field: `replicas`, `[name=api]`, `[0]`.
fn step_names(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => format!("[{i}]"),
            Step::Select(k, v) => format!("[{k}={v}]"),
        })
        .collect()
}

/// When a field is missing because an overlay step removed it (or removed what held it): the error
/// that says which step, at the line that did it.
fn removed_by(sources: &Sources, r: &Resource, steps: &[Step]) -> Option<Error> {
    let asked = step_names(steps);
    let gone = r
        .removed
        .iter()
        .rev()
        .find(|g| asked.starts_with(&g.path))?;
    let mut field = String::new();
    for step in &gone.path {
        if step.starts_with('[') {
            field.push_str(step);
        } else {
            push_key(&mut field, step);
        }
    }
    let file = sources.get(gone.origin.file);
    Some(
        Error::at(
            gone.origin,
            format!(
                "{}/{} has no `{field}`: the patch at {}:{} removes it",
                r.kind(),
                r.name(),
                file.display,
                gone.origin.line
            ),
        )
        .label("removed here")
        .help("the rendered object is what the cluster gets; explain the fields it keeps, or change this patch"),
    )
}

/// One line per field: `path = value    file:line:column (source)`.
pub fn human(fields: &[Field]) -> String {
    let mut out = String::new();
    for f in fields {
        let value = match &f.value {
            serde_json::Value::String(s) if s.contains('\n') => {
                let first = s.lines().next().unwrap_or("");
                format!("{:?}… ({} lines)", first, s.lines().count())
            }
            serde_json::Value::String(s) => format!("{s:?}"),
            serde_json::Value::Array(_) => "[]".into(),
            serde_json::Value::Object(_) => "{}".into(),
            other => other.to_string(),
        };
        out.push_str(&format!(
            "{} = {}\n    set at {}:{}:{} ({})\n",
            f.path, value, f.file, f.line, f.column, f.source
        ));
    }
    out
}
