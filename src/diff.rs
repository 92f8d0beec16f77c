//! Stage 6, diff: compares two rendered [`Tree`]s of one environment per resource file (added, removed,
//! changed), with a unified diff of each, a count per kind, and the changes a reviewer must not miss
//! called out as risks (see [`risk`]). [`format`] prints the result as text, Markdown for a pull-request
//! comment, or JSON.
//!
//! The metadata file is left out: it changes with every source commit and says nothing about the
//! cluster. Secret values never appear: the data of a Secret is replaced before diffing.

pub mod format;
pub mod group;
pub mod network;
pub mod promotion;
pub mod risk;
pub mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use similar::TextDiff;

use crate::node::{FileRole, Map, Node, Sources, Value};
use crate::render::{emit, Tree, METADATA_FILE};
use crate::resource::Resource;

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
    /// The renamed generated object whose new name is this workload's only change
    /// (`ConfigMap/openim-server-config-1a2b3c4d5e`): the rollout that change causes.
    pub rolled_by: Option<String>,
    /// What a NetworkPolicy change does to the paths between workloads, in words (both ends' policies
    /// read): a path opened, or no effective change and why.
    pub effects: Vec<String>,
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
    /// The link to it: the file's path percent-encoded, after the side's link prefix when one was
    /// given, with `#L<line>`.
    pub url: String,
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
pub(crate) fn normalize(line: &str, environment: &str, namespace: &str) -> String {
    let line = if namespace.is_empty() {
        line.to_string()
    } else {
        line.replace(namespace, "\u{0}ns")
    };
    if !environment.is_empty() && line == environment {
        return "\u{0}env".to_string();
    }
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
    /// Image name -> its tags (or digests) at the base and at the head, for every container the
    /// environment runs (known when the diff was made from compiled environments).
    pub images: BTreeMap<String, [Option<String>; 2]>,
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
        images: BTreeMap::new(),
    }
}

/// One side of a diff made from compiled environments: the rendered tree, the resources it was
/// rendered from (every value with its origin), the files those origins name, and the repository's
/// top folder (links are relative to it).
pub struct Side<'a> {
    pub tree: &'a Tree,
    pub resources: &'a [Resource],
    pub sources: &'a Sources,
    pub top: &'a Path,
    /// What source links start with (`https://github.com/o/r/blob/<commit>/`); none: relative to the
    /// repository's top.
    pub link_base: Option<&'a str>,
}

/// Compares two compiled renders of an environment: [`compare`], and then what only the compiled
/// objects can tell: the source line of every changed field, a generated ConfigMap renamed by its new
/// content as one change with the rollout it causes, NetworkPolicy changes in words with their
/// effect on the network paths, and those paths.
pub fn compare_sides(environment: &str, base: &Side<'_>, head: &Side<'_>) -> EnvDiff {
    let mut d = compare(environment, base.tree, head.tree);
    // Everything read from here on is redacted first. Whole: the changed objects (their fields,
    // renames and risks are read) and what the network map reads (which reads every workload's
    // images too); of the others only their identity is read (the path, the namespaces a tree
    // renders), so only that is kept, redacted as the whole object's would be.
    let changed: BTreeSet<&str> = d.changes.iter().map(|c| c.path.as_str()).collect();
    let redacted = |rs: &[Resource]| -> Vec<Resource> {
        rs.iter()
            .map(|r| {
                let whole =
                    crate::netmap::reads(r) || changed.contains(crate::render::path_of(r).as_str());
                let mut r = if whole { r.clone() } else { identity(r) };
                crate::check::redact::object(&mut r.node);
                r
            })
            .collect()
    };
    let (b_res, h_res) = (redacted(base.resources), redacted(head.resources));
    let index = |rs: &[Resource]| -> BTreeMap<String, usize> {
        rs.iter()
            .enumerate()
            .map(|(i, r)| (crate::render::path_of(r), i))
            .collect()
    };
    let (bi, hi) = (index(&b_res), index(&h_res));
    let old_paths = pair_renames(
        environment,
        &mut d,
        base.tree,
        head.tree,
        &b_res,
        &h_res,
        &bi,
        &hi,
    );
    // The maps only when something they read changed (see `netmap::same_inputs`), from one reading
    // of each side that every changed NetworkPolicy's words share.
    let readings = (!crate::netmap::same_inputs(&b_res, &h_res)).then(|| {
        (
            crate::netmap::Reading::new(&b_res),
            crate::netmap::Reading::new(&h_res),
        )
    });
    let maps = readings
        .as_ref()
        .map(|(b, h)| (b.map(environment), h.map(environment)));
    let mut reader = match (&readings, &maps) {
        (Some((b, h)), Some((bm, hm))) => Some(network::Reader::new(b, h, bm, hm)),
        _ => None,
    };
    let bo = source::Origins {
        sources: base.sources,
        top: base.top,
        link_base: base.link_base,
    };
    let ho = source::Origins {
        sources: head.sources,
        top: head.top,
        link_base: head.link_base,
    };
    for c in &mut d.changes {
        let old_path = old_paths.get(&c.path).unwrap_or(&c.path);
        let old = bi.get(old_path).map(|i| &b_res[*i]);
        let new = hi.get(&c.path).map(|i| &h_res[*i]);
        if let Some(g) = new.or(old).and_then(|r| r.generated.as_ref()) {
            c.base_name = Some(g.base_name.clone());
        }
        c.fields = match (old, new) {
            (Some(o), Some(n)) => {
                source::fields(&o.node, &n.node, &bo, &ho, environment, &c.namespace)
            }
            // A whole resource added or removed: the file that defines it.
            (None, Some(n)) => vec![whole(None, ho.place(n.name_origin()))],
            (Some(o), None) => vec![whole(bo.place(o.name_origin()), None)],
            (None, None) => Vec::new(),
        };
        if let (Some(o), Some(n)) = (old, new) {
            if let (true, Some(reader)) = (c.kind == "NetworkPolicy", &mut reader) {
                let (words, effects) = reader.reasons(o, n);
                if !words.is_empty() {
                    c.risks.retain(|r| !network::is_rule_reading(r));
                    c.risks.extend(words);
                }
                c.effects = effects;
            }
        }
    }
    rollouts(&mut d);
    d.changes
        .sort_by(|a, b| (a.risks.is_empty(), &a.path).cmp(&(b.risks.is_empty(), &b.path)));
    d.paths = maps
        .as_ref()
        .map(|(base_map, head_map)| crate::netmap::compare(base_map, head_map))
        .filter(|p| !p.is_empty());
    for (side, rs) in [(0, &b_res), (1, &h_res)] {
        for (name, tag) in images(rs) {
            let slot = &mut d.images.entry(name).or_default()[side];
            *slot = Some(match slot.take() {
                Some(t) if t != tag && !t.split(", ").any(|x| x == tag) => format!("{t}, {tag}"),
                Some(t) => t,
                None => tag,
            });
        }
    }
    d
}

/// Every container image the resources run: (name, tag or digest).
fn images(resources: &[Resource]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in resources {
        let Some(spec) = r.pod_spec() else { continue };
        for c in crate::k8s::workload::containers(spec) {
            let Some(text) = c.node.get("image").and_then(Node::as_str) else {
                continue;
            };
            let image = crate::k8s::image::ImageRef::parse(text);
            let tag = image
                .digest
                .clone()
                .or(image.tag.clone())
                .unwrap_or_else(|| "(no tag)".to_string());
            out.push((image.name, tag));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The field of a resource added or removed as a whole.
fn whole(old_at: Option<Place>, new_at: Option<Place>) -> FieldChange {
    let key = |p: &Option<Place>| {
        p.as_ref()
            .map(|p| format!("{}:{}", p.file, p.line))
            .unwrap_or_default()
    };
    FieldChange {
        path: String::new(),
        old: None,
        new: None,
        key_old: key(&old_at),
        key_new: key(&new_at),
        new_at,
        old_at,
    }
}

/// Pairs a generated ConfigMap removed at the base with the one of the same generator added at the
/// head (its hash suffix follows its content) into one change of content. Returns new path -> old path
/// of the pairs.
#[allow(clippy::too_many_arguments)]
fn pair_renames(
    environment: &str,
    d: &mut EnvDiff,
    base: &Tree,
    head: &Tree,
    b_res: &[Resource],
    h_res: &[Resource],
    bi: &BTreeMap<String, usize>,
    hi: &BTreeMap<String, usize>,
) -> BTreeMap<String, String> {
    let generated = |r: &Resource| {
        r.generated.as_ref().filter(|g| g.hash_suffix).map(|g| {
            (
                r.kind().to_string(),
                r.namespace().to_string(),
                g.base_name.clone(),
            )
        })
    };
    let mut pairs = BTreeMap::new();
    let removed: Vec<(String, (String, String, String))> = d
        .changes
        .iter()
        .filter(|c| c.change == ChangeKind::Removed)
        .filter_map(|c| {
            let r = &b_res[*bi.get(&c.path)?];
            Some((c.path.clone(), generated(r)?))
        })
        .collect();
    for (old_path, key) in removed {
        let Some(new_path) = d
            .changes
            .iter()
            .filter(|c| c.change == ChangeKind::Added)
            .find(|c| {
                hi.get(&c.path)
                    .and_then(|i| generated(&h_res[*i]))
                    .is_some_and(|k| k == key)
            })
            .map(|c| c.path.clone())
        else {
            continue;
        };
        let old_name = b_res[bi[&old_path]].name().to_string();
        d.changes
            .retain(|c| c.path != old_path && c.path != new_path);
        let mut c = compare_file_pair(
            environment,
            &old_path,
            &new_path,
            ChangeKind::Changed,
            base.files.get(&old_path),
            head.files.get(&new_path),
        );
        c.base_name = Some(key.2.clone());
        c.renamed_from = Some(old_name);
        d.changes.push(c);
        pairs.insert(new_path, old_path);
    }
    pairs
}

/// For each renamed generated object: the workloads whose change swaps its old name for its new one.
fn rollouts(d: &mut EnvDiff) {
    let renames: Vec<(usize, String, String, String)> = d
        .changes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            Some((
                i,
                c.renamed_from.clone()?,
                c.name.clone(),
                format!("{}/{}", c.kind, c.name),
            ))
        })
        .collect();
    for (i, old, new, title) in renames {
        // A workload whose every changed line is the old name turned into the new one.
        for c in d.changes.iter_mut() {
            let only = !c.hunks.is_empty()
                && c.hunks.iter().all(|h| {
                    let minus: Vec<String> = h
                        .text
                        .lines()
                        .filter(|l| l.starts_with('-'))
                        .map(|l| l[1..].replace(old.as_str(), new.as_str()))
                        .collect();
                    let plus: Vec<&str> = h
                        .text
                        .lines()
                        .filter(|l| l.starts_with('+'))
                        .map(|l| &l[1..])
                        .collect();
                    !minus.is_empty() && minus == plus
                });
            if only && c.change == ChangeKind::Changed && c.risks.is_empty() {
                c.rolled_by = Some(title.clone());
            }
        }
        let mut rolled: Vec<String> = d
            .changes
            .iter()
            .filter(|c| {
                c.change == ChangeKind::Changed
                    && crate::resource::pod_template_path(&c.kind).is_some()
            })
            .filter(|c| {
                c.hunks.iter().any(|h| {
                    h.text
                        .lines()
                        .any(|l| l.starts_with('-') && l.contains(old.as_str()))
                        && h.text
                            .lines()
                            .any(|l| l.starts_with('+') && l.contains(new.as_str()))
                })
            })
            .map(|c| format!("{}/{}", c.kind, c.name))
            .collect();
        rolled.sort();
        d.changes[i].rollout = rolled;
    }
}

/// An object reduced to what identifies it (`apiVersion`, `kind`, `metadata`) and how it was
/// generated: all [`compare_sides`] reads of an object that did not change and is not on the network
/// map.
fn identity(r: &Resource) -> Resource {
    let node = match &r.node.value {
        Value::Map(m) => Node {
            value: Value::Map(Map {
                entries: m
                    .entries
                    .iter()
                    .filter(|(k, _)| matches!(k.name.as_str(), "apiVersion" | "kind" | "metadata"))
                    .cloned()
                    .collect(),
            }),
            origin: r.node.origin,
        },
        _ => r.node.clone(),
    };
    Resource {
        node,
        generated: r.generated.clone(),
        removed: Vec::new(),
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
    compare_file_pair(environment, path, path, change, old, new)
}

/// One resource file at `old_path` on the base and `new_path` on the head.
fn compare_file_pair(
    environment: &str,
    old_path: &str,
    path: &str,
    change: ChangeKind,
    old: Option<&Vec<u8>>,
    new: Option<&Vec<u8>>,
) -> Change {
    let mut old_node = old.and_then(|b| parse(old_path, b));
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
    let hid_old = old_node.as_mut().map_or(0, crate::check::redact::object);
    let hid_new = new_node.as_mut().map_or(0, crate::check::redact::object);
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
        format!("a/{old_path}")
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
        rolled_by: None,
        effects: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(sources: &mut Sources, name: &str, text: &str) -> (Tree, Vec<Resource>) {
        let id = sources.add(Path::new(name), Arc::from(text), FileRole::Resource);
        let docs = crate::load::yaml::parse(id, sources.get(id)).unwrap();
        let resources: Vec<Resource> = docs.into_iter().map(|d| Resource::new(d.root)).collect();
        let meta = crate::render::Metadata::default();
        (crate::render::render(&resources, &meta), resources)
    }

    #[test]
    fn secret_content_is_redacted_in_fields_and_risks() {
        let secret = |v: &str| {
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: ns\nstringData:\n  password: {v}\n")
        };
        let (mut bs, mut hs) = (Sources::new(), Sources::new());
        let top = std::env::current_dir().unwrap();
        let (bt, br) = side(&mut bs, "base/secret.yaml", &secret("hunter2-old-value"));
        let (ht, hr) = side(&mut hs, "base/secret.yaml", &secret("hunter2-new-value"));
        let at = |tree, resources, sources| Side {
            tree,
            resources,
            sources,
            top: &top,
            link_base: None,
        };
        let d = compare_sides("dev", &at(&bt, &br, &bs), &at(&ht, &hr, &hs));
        let c = &d.changes[0];
        let shown = format!("{:?}", c);
        assert!(!shown.contains("hunter2"), "{shown}");
        let f = &c.fields[0];
        assert_eq!(f.path, "stringData.password");
        assert!(f
            .old
            .as_deref()
            .unwrap()
            .starts_with(crate::check::redact::MARKER));
        assert!(f
            .new
            .as_deref()
            .unwrap()
            .starts_with(crate::check::redact::MARKER));
        assert_ne!(f.old, f.new, "the change is visible, the values not");
        assert_eq!(f.new_at.as_ref().map(|p| p.line), Some(7));
        assert_eq!(
            f.new_at.as_ref().map(|p| p.url.as_str()),
            Some("base/secret.yaml#L7")
        );
    }
}
