//! Stage 6, diff: compares two rendered [`Tree`]s of one environment per resource file (added, removed,
//! changed), with a unified diff of each, a count per kind, and the changes a reviewer must not miss
//! called out as risks (see [`risk`]). [`format`] prints the result as text, Markdown for a pull-request
//! comment, or JSON.
//!
//! The metadata file is left out: it changes with every source commit and says nothing about the
//! cluster. Secret values never appear: the data of a Secret is replaced before diffing.

pub mod format;
pub mod group;
pub mod promotion;
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
    /// The same diff cut into its hunks (without the file headers).
    pub hunks: Vec<Hunk>,
    /// Why a reviewer should look twice; empty for ordinary changes.
    pub risks: Vec<String>,
    /// The fields that changed, each with the source line that set it (known when the diff was made
    /// from compiled environments, see [`compare_sides`]).
    pub fields: Vec<FieldChange>,
    /// A generated ConfigMap's name without its hash suffix, when the change is one of its content.
    pub base_name: Option<String>,
    /// The name it had at the base, when its content change renamed it.
    pub renamed_from: Option<String>,
    /// The workloads whose pods the change restarts (`Deployment/openim-api`).
    pub rollout: Vec<String>,
}

impl Change {
    /// The name that stays the same across renames and environments.
    pub fn identity(&self) -> &str {
        self.base_name.as_deref().unwrap_or(&self.name)
    }

    /// `Kind/name`, and the namespace in parentheses.
    pub fn title(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{} ({})", self.kind, self.name, self.namespace)
        }
    }
}

/// Where a value was set: a file relative to the repository's top, and a line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub file: String,
    pub line: u32,
}

/// A field whose rendered value changed, with the source line behind each side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// `spec.replicas`, `spec.template.spec.containers[name=api].image`.
    pub path: String,
    /// The values in one line, redacted (`None`: absent on that side).
    pub old: Option<String>,
    pub new: Option<String>,
    /// The line that set the new value (`None` when removed), and the one that set the old value.
    pub new_at: Option<Place>,
    pub old_at: Option<Place>,
    /// The values with the environment's namespace and name set aside, for grouping.
    pub key_old: String,
    pub key_new: String,
}

/// One hunk of a resource's diff: its text (`@@` line included) and what it changes, for telling the
/// same change in several environments apart from a change of one (see [`group`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    pub text: String,
    /// The added and removed lines only, with the environment's namespace and name replaced by a
    /// placeholder: equal for the same source change rendered into different environments.
    pub key: String,
}

/// The hunks of a unified diff of `old` -> `new`, keyed for `environment` (its resource in `namespace`).
fn hunks(old: &str, new: &str, environment: &str, namespace: &str) -> Vec<Hunk> {
    let diff = TextDiff::from_lines(old, new);
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    unified
        .iter_hunks()
        .map(|h| {
            let text = h.to_string();
            let key = text
                .lines()
                .filter(|l| l.starts_with('+') || l.starts_with('-'))
                .map(|l| normalize(l, environment, namespace))
                .collect::<Vec<_>>()
                .join("\n");
            Hunk { text, key }
        })
        .collect()
}

/// A changed line with what only names its environment made equal: the namespace anywhere in it, and
/// a value that is exactly the environment's name (`openim.io/environment: dev`).
fn normalize(line: &str, environment: &str, namespace: &str) -> String {
    let line = if namespace.is_empty() {
        line.to_string()
    } else {
        line.replace(namespace, "\u{0}ns")
    };
    match line.rsplit_once(": ") {
        Some((head, value))
            if !environment.is_empty() && value.trim_matches('"') == environment =>
        {
            format!("{head}: \u{0}env")
        }
        _ => line,
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
        changes.push(compare_file(environment, path, change, old, new));
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
    environment: &str,
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

    let is_secret = kind == "Secret"
        && either
            .and_then(|n| n.str_at(&["apiVersion"]))
            .is_some_and(|v| v == "v1");
    let text = |bytes: Option<&Vec<u8>>| -> String {
        bytes
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    // Every value the redaction rule hides is replaced by its marker and short hash on both sides, so
    // the diff shows that it changed and never what it holds.
    let hid_old = old_node.as_mut().map_or(0, crate::redact::object);
    let hid_new = new_node.as_mut().map_or(0, crate::redact::object);
    // Risks are read from the redacted objects: whatever they quote has been through the rule.
    let risks = risk::assess(&kind, change, old_node.as_ref(), new_node.as_ref());
    let (old_text, new_text) = if is_secret || hid_old + hid_new > 0 {
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
    let hunks = hunks(&old_text, &new_text, environment, &namespace);
    Change {
        path: path.to_string(),
        change,
        kind,
        name,
        namespace,
        diff,
        hunks,
        risks,
        fields: Vec::new(),
        base_name: None,
        renamed_from: None,
        rollout: Vec::new(),
    }
}
