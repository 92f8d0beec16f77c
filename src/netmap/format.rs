//! The network map as a reader sees it: text, JSON, a Mermaid flowchart or Graphviz DOT; and a map's
//! change as Markdown for the `diff` comment (a Mermaid block of the added and lost paths, and a list).
//!
//! Every output is sorted by node id, then by path, so the same map always prints the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{MapDiff, NetMap, Peer, PeerKind};

/// Plain text: a summary, then one line per path, then the members of each class of several workloads.
pub fn text(map: &NetMap) -> String {
    let mut out = String::new();
    let classes: Vec<&Peer> = map
        .nodes
        .values()
        .filter(|p| p.kind == PeerKind::Workload)
        .collect();
    let workloads: usize = classes.iter().map(|p| p.members.len().max(1)).sum();
    let grouped = if classes.len() == workloads {
        String::new()
    } else {
        let s = if classes.len() == 1 { "" } else { "es" };
        format!(" in {} class{s}", classes.len())
    };
    let focus = map
        .focus
        .as_ref()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}{focus}: {workloads} workloads{grouped}, {} peers outside, {} paths",
        map.environment,
        map.nodes.len() - classes.len(),
        map.edges.len()
    );
    let label = |id: &str| {
        map.nodes
            .get(id)
            .map(|p| p.label.as_str())
            .unwrap_or(id)
            .to_string()
    };
    for ((from, to), ports) in &map.edges {
        let _ = writeln!(out, "{} -> {}: {ports}", label(from), label(to));
    }
    let mut first = true;
    for p in classes.iter().filter(|p| p.members.len() > 1) {
        if first {
            out.push_str("\nclasses (workloads the NetworkPolicies treat alike):\n");
            first = false;
        }
        let _ = writeln!(out, "{}: {}", p.label, member_list(p, usize::MAX));
    }
    out
}

/// A class's members, by label, at most `max` of them before a count of the rest.
pub fn member_list(p: &Peer, max: usize) -> String {
    let mut names: Vec<&str> = p
        .members
        .iter()
        .take(max)
        .map(|m| m.label.as_str())
        .collect();
    let rest = p.members.len().saturating_sub(max);
    let more = format!("… and {rest} more");
    if rest > 0 {
        names.push(&more);
    }
    names.join(", ")
}

/// JSON: the nodes with their kind and label, and the paths with their ports.
pub fn json(map: &NetMap) -> serde_json::Value {
    let nodes: Vec<serde_json::Value> = map
        .nodes
        .iter()
        .map(|(id, p)| {
            let mut v = serde_json::json!({"id": id, "kind": p.kind.as_str(), "label": p.label});
            if let Some(ns) = &p.namespace {
                v["namespace"] = ns.clone().into();
            }
            if let Some(owner) = &p.owner {
                v["owner"] = owner.clone().into();
            }
            if p.kind == PeerKind::Workload {
                v["members"] = p
                    .members
                    .iter()
                    .map(|m| serde_json::json!({"id": m.id, "label": m.label, "owner": m.owner}))
                    .collect();
            }
            v
        })
        .collect();
    let edges: Vec<serde_json::Value> = map
        .edges
        .iter()
        .map(|((from, to), ports)| serde_json::json!({"from": from, "to": to, "ports": ports.texts()}))
        .collect();
    let mut v = serde_json::json!({"environment": map.environment, "nodes": nodes, "edges": edges});
    if let Some(f) = &map.focus {
        v["focus"] = f.clone().into();
    }
    v
}

/// Mermaid node ids: letters, digits and underscores from the node's label, unique (in id order), never a
/// keyword.
fn mermaid_ids(nodes: &BTreeMap<String, Peer>) -> BTreeMap<&str, String> {
    let mut used = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (id, peer) in nodes {
        let mut slug: String = peer
            .label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        while slug.contains("__") {
            slug = slug.replace("__", "_");
        }
        let base = format!("n_{}", slug.trim_matches('_'));
        let mut candidate = base.clone();
        let mut n = 2;
        while !used.insert(candidate.clone()) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        out.insert(id.as_str(), candidate);
    }
    out
}

/// Text inside a Mermaid `"..."` label.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

fn mermaid_node(id: &str, p: &Peer) -> String {
    let l = mermaid_text(&p.label);
    match p.kind {
        PeerKind::Workload => format!("{id}[\"{l}\"]"),
        PeerKind::Namespace | PeerKind::Namespaces => format!("{id}([\"{l}\"])"),
        PeerKind::IpBlock => format!("{id}{{{{\"{l}\"}}}}"),
        PeerKind::Anywhere => format!("{id}((\"{l}\"))"),
    }
}

/// The node declarations: workloads in one subgraph per namespace, the other peers outside them.
fn mermaid_nodes(out: &mut String, nodes: &BTreeMap<String, Peer>, ids: &BTreeMap<&str, String>) {
    let mut by_ns: BTreeMap<&str, Vec<(&String, &Peer)>> = BTreeMap::new();
    let mut others = Vec::new();
    for (id, p) in nodes {
        match (&p.kind, &p.namespace) {
            (PeerKind::Workload, Some(ns)) => by_ns.entry(ns.as_str()).or_default().push((id, p)),
            _ => others.push((id, p)),
        }
    }
    for (i, (ns, list)) in by_ns.iter().enumerate() {
        let title = if ns.is_empty() {
            "no namespace".to_string()
        } else {
            format!("namespace {ns}")
        };
        let _ = writeln!(out, "  subgraph ns_{i}[\"{}\"]", mermaid_text(&title));
        for (id, p) in list {
            let _ = writeln!(out, "    {}", mermaid_node(&ids[id.as_str()], p));
        }
        let _ = writeln!(out, "  end");
    }
    for (id, p) in others {
        let _ = writeln!(out, "  {}", mermaid_node(&ids[id.as_str()], p));
    }
    for (id, p) in nodes {
        if p.members.len() > 1 {
            let _ = writeln!(
                out,
                "  %% {}: {}",
                ids[id.as_str()],
                member_list(p, usize::MAX).replace('\n', " ")
            );
        }
    }
}

/// A Mermaid flowchart, left to right.
pub fn mermaid(map: &NetMap) -> String {
    let ids = mermaid_ids(&map.nodes);
    let mut out = String::from("flowchart LR\n");
    mermaid_nodes(&mut out, &map.nodes, &ids);
    for ((from, to), ports) in &map.edges {
        let _ = writeln!(
            out,
            "  {} -->|\"{}\"| {}",
            ids[from.as_str()],
            mermaid_text(&ports.to_string()),
            ids[to.as_str()]
        );
    }
    out
}

/// A string in DOT's double quotes.
fn dot_text(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dot_shape(kind: PeerKind) -> &'static str {
    match kind {
        PeerKind::Workload => "box",
        PeerKind::Namespace | PeerKind::Namespaces => "ellipse",
        PeerKind::IpBlock => "hexagon",
        PeerKind::Anywhere => "doublecircle",
    }
}

/// Graphviz DOT: workloads in one cluster per namespace.
pub fn dot(map: &NetMap) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "digraph {} {{",
        dot_text(&format!("netmap {}", map.environment))
    );
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(out, "  graph [fontname=\"Helvetica\"];");
    let _ = writeln!(out, "  node [fontname=\"Helvetica\"];");
    let _ = writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=10];");
    let mut by_ns: BTreeMap<&str, Vec<(&String, &Peer)>> = BTreeMap::new();
    let mut others = Vec::new();
    for (id, p) in &map.nodes {
        match (&p.kind, &p.namespace) {
            (PeerKind::Workload, Some(ns)) => by_ns.entry(ns.as_str()).or_default().push((id, p)),
            _ => others.push((id, p)),
        }
    }
    let node = |id: &str, p: &Peer| {
        // A class of several workloads lists them in its tooltip (shown on hover in SVG).
        let members = if p.members.len() > 1 {
            format!(", tooltip={}", dot_text(&member_list(p, usize::MAX)))
        } else {
            String::new()
        };
        format!(
            "{} [label={}, shape={}{members}];",
            dot_text(id),
            dot_text(&p.label),
            dot_shape(p.kind)
        )
    };
    for (ns, list) in &by_ns {
        let _ = writeln!(out, "  subgraph {} {{", dot_text(&format!("cluster_{ns}")));
        let _ = writeln!(out, "    label={};", dot_text(&format!("namespace {ns}")));
        for (id, p) in list {
            let _ = writeln!(out, "    {}", node(id, p));
        }
        let _ = writeln!(out, "  }}");
    }
    for (id, p) in others {
        let _ = writeln!(out, "  {}", node(id, p));
    }
    for ((from, to), ports) in &map.edges {
        let _ = writeln!(
            out,
            "  {} -> {} [label={}];",
            dot_text(from),
            dot_text(to),
            dot_text(&ports.to_string())
        );
    }
    out.push_str("}\n");
    out
}

/// Paths listed in a diff before the rest is only counted, so the comment stays readable and small.
pub const MAX_PATHS_SHOWN: usize = 60;

fn label<'a>(d: &'a MapDiff, id: &'a str) -> &'a str {
    d.nodes.get(id).map(|p| p.label.as_str()).unwrap_or(id)
}

/// A line for the text diff: `network paths: 2 added, 1 lost`.
pub fn diff_summary(d: &MapDiff) -> String {
    format!(
        "network paths: {} added, {} lost",
        d.added.len(),
        d.lost.len()
    )
}

/// Members of a class named in a diff before the rest is only counted.
pub const MAX_MEMBERS_SHOWN: usize = 20;

/// The map's change as plain text lines: `+ a -> b: 10002/TCP`, `- c -> d: 53/UDP`, then the members
/// of each class of several workloads the lines name.
pub fn diff_text(d: &MapDiff) -> String {
    let mut out = String::new();
    for (sign, list) in [("+", &d.added), ("-", &d.lost)] {
        for c in list {
            let _ = writeln!(
                out,
                "  {sign} {} -> {}: {}",
                label(d, &c.from),
                label(d, &c.to),
                c.ports.join(", ")
            );
        }
    }
    for p in d.nodes.values().filter(|p| p.members.len() > 1) {
        let _ = writeln!(
            out,
            "    {}: {}",
            p.label,
            member_list(p, MAX_MEMBERS_SHOWN)
        );
    }
    out
}

/// The map's change as Markdown: a Mermaid block with the added paths as thick green arrows and the
/// lost ones as dashed red arrows (only the nodes they touch), then the same paths as a list.
pub fn diff_markdown(d: &MapDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "**Network paths** (from the NetworkPolicies): {} added, {} lost\n",
        d.added.len(),
        d.lost.len()
    );
    let added: Vec<_> = d.added.iter().take(MAX_PATHS_SHOWN).collect();
    let lost: Vec<_> = d
        .lost
        .iter()
        .take(MAX_PATHS_SHOWN.saturating_sub(added.len()))
        .collect();
    let mut shown: BTreeMap<String, Peer> = BTreeMap::new();
    for c in added.iter().chain(lost.iter()) {
        for id in [&c.from, &c.to] {
            if let Some(p) = d.nodes.get(id) {
                shown.insert(id.clone(), p.clone());
            }
        }
    }
    let ids = mermaid_ids(&shown);
    let id = |k: &str| {
        ids.get(k)
            .cloned()
            .unwrap_or_else(|| "n_unknown".to_string())
    };
    out.push_str("```mermaid\nflowchart LR\n");
    mermaid_nodes(&mut out, &shown, &ids);
    for c in &added {
        let _ = writeln!(
            out,
            "  {} ==>|\"+ {}\"| {}",
            id(&c.from),
            mermaid_text(&c.ports.join(", ")),
            id(&c.to)
        );
    }
    for c in &lost {
        let _ = writeln!(
            out,
            "  {} -.->|\"- {}\"| {}",
            id(&c.from),
            mermaid_text(&c.ports.join(", ")),
            id(&c.to)
        );
    }
    let n_added = added.len();
    if n_added > 0 {
        let list: Vec<String> = (0..n_added).map(|i| i.to_string()).collect();
        let _ = writeln!(
            out,
            "  linkStyle {} stroke:#1a7f37,stroke-width:3px",
            list.join(",")
        );
    }
    if !lost.is_empty() {
        let list: Vec<String> = (n_added..n_added + lost.len())
            .map(|i| i.to_string())
            .collect();
        let _ = writeln!(
            out,
            "  linkStyle {} stroke:#cf222e,stroke-width:2px,stroke-dasharray:5",
            list.join(",")
        );
    }
    out.push_str("```\n\n");
    for (mark, what, list) in [
        (":heavy_plus_sign:", "added", &d.added),
        (":heavy_minus_sign:", "lost", &d.lost),
    ] {
        for c in list.iter().take(MAX_PATHS_SHOWN) {
            let _ = writeln!(
                out,
                "- {mark} {what}: `{}` → `{}` on {}",
                label(d, &c.from),
                label(d, &c.to),
                c.ports
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if list.len() > MAX_PATHS_SHOWN {
            let _ = writeln!(
                out,
                "- … and {} more {what} path(s)",
                list.len() - MAX_PATHS_SHOWN
            );
        }
    }
    for p in d.nodes.values().filter(|p| p.members.len() > 1) {
        let _ = writeln!(
            out,
            "- `{}` stands for: {}",
            p.label,
            member_list(p, MAX_MEMBERS_SHOWN)
        );
    }
    out.push('\n');
    out
}
