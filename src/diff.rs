//! Stage 6, diff: compares two rendered [`Tree`]s of one environment per resource file (added, removed,
//! changed), with a unified diff of each, a count per kind, and the changes a reviewer must not miss
//! called out as risks (see [`risk`]). [`format`] prints the result as text, Markdown for a pull-request
//! comment, or JSON.
//!
//! The metadata file is left out: it changes with every source commit and says nothing about the
//! cluster. Secret values never appear: the data of a Secret is replaced before diffing.

pub mod format;
pub mod risk;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use similar::TextDiff;

use crate::node::{FileRole, Node, Sources};
use crate::render::{emit, Tree, METADATA_FILE};

/// How a resource file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One resource file that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The path in the rendered tree.
    pub path: String,
    pub change: ChangeKind,
    /// The Kubernetes kind, name and namespace (from the document; from the path if it cannot be read).
    pub kind: String,
    pub name: String,
    pub namespace: String,
    /// The unified diff, `--- a/<path>` / `+++ b/<path>` headers included.
    pub diff: String,
    /// Why a reviewer should look twice; empty for ordinary changes.
    pub risks: Vec<String>,
}

impl Change {
    /// `Kind/name`, and the namespace in parentheses.
    pub fn title(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{} ({})", self.kind, self.name, self.namespace)
        }
    }
}

/// The difference between two renders of one environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvDiff {
    pub environment: String,
    /// Risky changes first, then by path.
    pub changes: Vec<Change>,
    /// Resource files equal on both sides.
    pub unchanged: usize,
    /// Things the reader should know about how the sides were rendered.
    pub notes: Vec<String>,
    /// The network paths the change adds or loses (see [`crate::netmap`]), when both sides were mapped.
    pub paths: Option<crate::netmap::MapDiff>,
}

impl EnvDiff {
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.change == kind).count()
    }

    /// Added, removed and changed counts per Kubernetes kind, by kind.
    pub fn per_kind(&self) -> BTreeMap<&str, [usize; 3]> {
        let mut out: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
        for c in &self.changes {
            let slot = match c.change {
                ChangeKind::Added => 0,
                ChangeKind::Removed => 1,
                ChangeKind::Changed => 2,
            };
            out.entry(c.kind.as_str()).or_default()[slot] += 1;
        }
        out
    }

    pub fn risky(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| !c.risks.is_empty())
    }
}

/// Compares the base and head renders of an environment.
pub fn compare(environment: &str, base: &Tree, head: &Tree) -> EnvDiff {
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let mut paths: Vec<&String> = base.files.keys().chain(head.files.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        if path == METADATA_FILE {
            continue;
        }
        let old = base.files.get(path);
        let new = head.files.get(path);
        let change = match (old, new) {
            (Some(a), Some(b)) if a == b => {
                unchanged += 1;
                continue;
            }
            (Some(_), Some(_)) => ChangeKind::Changed,
            (None, Some(_)) => ChangeKind::Added,
            (Some(_), None) => ChangeKind::Removed,
            (None, None) => continue,
        };
        changes.push(compare_file(path, change, old, new));
    }
    changes.sort_by(|a, b| (a.risks.is_empty(), &a.path).cmp(&(b.risks.is_empty(), &b.path)));
    EnvDiff {
        environment: environment.to_string(),
        changes,
        unchanged,
        notes: Vec::new(),
        paths: None,
    }
}

/// A rendered file read back: its document as a node tree, or `None` if it cannot be parsed.
fn parse(path: &str, bytes: &[u8]) -> Option<Node> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut sources = Sources::new();
    let id = sources.add(Path::new(path), Arc::from(text), FileRole::Other);
    let docs = crate::load::yaml::parse(id, sources.get(id)).ok()?;
    docs.into_iter().next().map(|d| d.root)
}

fn compare_file(
    path: &str,
    change: ChangeKind,
    old: Option<&Vec<u8>>,
    new: Option<&Vec<u8>>,
) -> Change {
    let mut old_node = old.and_then(|b| parse(path, b));
    let mut new_node = new.and_then(|b| parse(path, b));
    let either = new_node.as_ref().or(old_node.as_ref());
    let field = |keys: &[&str]| either.and_then(|n| n.str_at(keys)).map(str::to_string);
    // Rendered paths are `<namespace>/<kind>[.<group>]/<name>.yaml`.
    let parts: Vec<&str> = path.split('/').collect();
    let kind = field(&["kind"]).unwrap_or_else(|| parts.get(1).copied().unwrap_or("").to_string());
    let name = field(&["metadata", "name"]).unwrap_or_else(|| {
        parts
            .last()
            .map(|p| p.trim_end_matches(".yaml").to_string())
            .unwrap_or_default()
    });
    let namespace = field(&["metadata", "namespace"]).unwrap_or_default();

    let risks = risk::assess(&kind, change, old_node.as_ref(), new_node.as_ref());

    let is_secret = kind == "Secret"
        && either
            .and_then(|n| n.str_at(&["apiVersion"]))
            .is_some_and(|v| v == "v1");
    let text = |bytes: Option<&Vec<u8>>| -> String {
        bytes
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let (old_text, new_text) = if is_secret {
        redact(old_node.as_mut(), new_node.as_mut());
        (
            old_node.as_ref().map(emit::document).unwrap_or_default(),
            new_node.as_ref().map(emit::document).unwrap_or_default(),
        )
    } else {
        (text(old), text(new))
    };
    let a = if old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_string()
    };
    let b = if new.is_some() {
        format!("b/{path}")
    } else {
        "/dev/null".to_string()
    };
    let diff = TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string();
    Change {
        path: path.to_string(),
        change,
        kind,
        name,
        namespace,
        diff,
        risks,
    }
}

/// Replaces every value under a Secret's `data` and `stringData` with a marker saying only whether
/// it changed, so that a diff shows which keys changed and never what they hold.
fn redact(old: Option<&mut Node>, new: Option<&mut Node>) {
    const FIELDS: [&str; 2] = ["data", "stringData"];
    let old_values = FIELDS.map(|f| values(old.as_deref(), f));
    let new_values = FIELDS.map(|f| values(new.as_deref(), f));
    if let Some(node) = old {
        for (i, field) in FIELDS.iter().enumerate() {
            mark(node, field, &new_values[i], "old");
        }
    }
    if let Some(node) = new {
        for (i, field) in FIELDS.iter().enumerate() {
            mark(node, field, &old_values[i], "new");
        }
    }
}

/// The values under a Secret field.
fn values(node: Option<&Node>, field: &str) -> BTreeMap<String, serde_json::Value> {
    let Some(map) = node.and_then(|n| n.get(field)).and_then(Node::as_map) else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(k, v)| (k.name.clone(), v.to_json()))
        .collect()
}

fn mark(node: &mut Node, field: &str, theirs: &BTreeMap<String, serde_json::Value>, side: &str) {
    let Some(map) = node.get_mut(field).and_then(Node::as_map_mut) else {
        return;
    };
    let keys: Vec<String> = map.iter().map(|(k, _)| k.name.clone()).collect();
    for key in keys {
        if let Some(v) = map.get_mut(&key) {
            let changed = theirs.get(&key).is_some_and(|other| *other != v.to_json());
            let marker = if changed {
                format!("(redacted, {side} value)")
            } else {
                "(redacted)".to_string()
            };
            *v = Node::str(marker, v.origin);
        }
    }
}
