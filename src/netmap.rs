//! The network map: which workloads of a compiled environment may reach which, derived from its
//! NetworkPolicies as the network plugin enforces them, with the peers outside the environment (other
//! namespaces, the ingress controller's among them, ipBlocks, anywhere) as nodes too. [`format`] draws
//! it (text, JSON, Mermaid, DOT), [`NetMap::focus`] keeps the paths in and out of chosen workloads, and
//! [`compare`] says which paths a change adds or loses, for `diff`.
//!
//! A path from pods A to pods B exists when A's egress allows it and B's ingress allows it. A direction
//! in which no NetworkPolicy of the pods' namespace selects them is open. The ports of a path are the
//! destination's: a named port resolves against the destination's containers. Label selectors, the pods
//! a tree runs and the namespaces it renders come from `k8s`, the same as the `netpol/` checks see.
//!
//! The map is computed over classes of workloads the network cannot tell apart ([`Reading`] says how
//! they are formed): a node per class, listing its members, and a path between two classes stands for
//! the path between every member of one and every member of the other. [`NetMap::paths`] expands it.

pub mod format;
#[cfg(test)]
pub(crate) mod pairwise;
mod reading;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use reading::{class_label, Reading};

use crate::k8s::{self, ContainerPort, Labels};
use crate::resource::Resource;

/// What a node of the map stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerKind {
    /// Pods the environment runs (a workload, or a component of an operator's cluster object).
    Workload,
    /// Pods in namespaces the environment does not render, named by `kubernetes.io/metadata.name`.
    Namespace,
    /// Pods in namespaces chosen by other labels (or every namespace).
    Namespaces,
    /// Addresses of an `ipBlock`.
    IpBlock,
    /// Any source or destination: a rule without peers, or a direction no policy restricts.
    Anywhere,
}

impl PeerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerKind::Workload => "workload",
            PeerKind::Namespace => "namespace",
            PeerKind::Namespaces => "namespaces",
            PeerKind::IpBlock => "ipBlock",
            PeerKind::Anywhere => "anywhere",
        }
    }
}

/// A node of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub kind: PeerKind,
    /// What a reader sees: `openim-api`, `namespace ingress-nginx`, `ipBlock 0.0.0.0/0`; for a class of
    /// several workloads, its first member's and how many more: `app0000 (+1999 more)`.
    pub label: String,
    /// The namespace of a workload.
    pub namespace: Option<String>,
    /// The object that runs a workload's pods: `Deployment/openim-api` (a class of one workload).
    pub owner: Option<String>,
    /// The workloads of a class, by map id (empty for peers outside the tree).
    pub members: Vec<Member>,
}

/// A workload of a class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// `<namespace>/<Kind>/<name>[/<component>]`.
    pub id: String,
    pub label: String,
    /// `Deployment/openim-api`.
    pub owner: String,
}

/// A port a path allows, on the destination.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    /// Ports `from..=to` of a protocol.
    Range {
        protocol: String,
        from: i64,
        to: i64,
    },
    /// A named port the map cannot resolve to a number (the destination's containers are not in the tree).
    Named { protocol: String, name: String },
    /// Every port of a protocol.
    Every { protocol: String },
}

impl Port {
    fn protocol(&self) -> &str {
        match self {
            Port::Range { protocol, .. }
            | Port::Named { protocol, .. }
            | Port::Every { protocol } => protocol,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Range { protocol, from, to } if from == to => write!(f, "{from}/{protocol}"),
            Port::Range { protocol, from, to } => write!(f, "{from}-{to}/{protocol}"),
            Port::Named { protocol, name } => write!(f, "{name}/{protocol}"),
            Port::Every { protocol } => write!(f, "every {protocol} port"),
        }
    }
}

/// The ports of a path: every port of every protocol, or a set. An empty set allows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ports {
    pub any: bool,
    pub items: BTreeSet<Port>,
}

impl Ports {
    pub fn any() -> Ports {
        Ports {
            any: true,
            items: BTreeSet::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.any && self.items.is_empty()
    }

    /// Adds the ports of `other`.
    pub fn extend(&mut self, other: Ports) {
        if self.any {
            return;
        }
        if other.any {
            *self = Ports::any();
            return;
        }
        self.items.extend(other.items);
        self.normalize();
    }

    /// The ports both allow.
    pub fn intersect(&self, other: &Ports) -> Ports {
        if self.any {
            return other.clone();
        }
        if other.any {
            return self.clone();
        }
        let mut items = BTreeSet::new();
        for a in &self.items {
            for b in &other.items {
                if a.protocol() != b.protocol() {
                    continue;
                }
                let both = match (a, b) {
                    (Port::Every { .. }, x) | (x, Port::Every { .. }) => Some(x.clone()),
                    (
                        Port::Range {
                            protocol, from, to, ..
                        },
                        Port::Range {
                            from: f2, to: t2, ..
                        },
                    ) => {
                        let (lo, hi) = ((*from).max(*f2), (*to).min(*t2));
                        (lo <= hi).then(|| Port::Range {
                            protocol: protocol.clone(),
                            from: lo,
                            to: hi,
                        })
                    }
                    (Port::Named { name: n1, .. }, Port::Named { name: n2, .. }) => {
                        (n1 == n2).then(|| a.clone())
                    }
                    // A name the map cannot resolve against numbers: it may be one of them.
                    (n @ Port::Named { .. }, Port::Range { .. })
                    | (Port::Range { .. }, n @ Port::Named { .. }) => Some(n.clone()),
                };
                items.extend(both);
            }
        }
        let mut out = Ports { any: false, items };
        out.normalize();
        out
    }

    /// Every port of a protocol absorbs that protocol's other entries; touching ranges merge.
    fn normalize(&mut self) {
        let every: BTreeSet<String> = self
            .items
            .iter()
            .filter_map(|p| match p {
                Port::Every { protocol } => Some(protocol.clone()),
                _ => None,
            })
            .collect();
        let mut out: BTreeSet<Port> = BTreeSet::new();
        let mut last: Option<(String, i64, i64)> = None;
        for p in std::mem::take(&mut self.items) {
            if every.contains(p.protocol()) && !matches!(p, Port::Every { .. }) {
                continue;
            }
            match p {
                Port::Range { protocol, from, to } => match &mut last {
                    Some((lp, _, lt)) if *lp == protocol && from <= lt.saturating_add(1) => {
                        *lt = (*lt).max(to);
                    }
                    _ => {
                        if let Some((protocol, from, to)) = last.take() {
                            out.insert(Port::Range { protocol, from, to });
                        }
                        last = Some((protocol, from, to));
                    }
                },
                other => {
                    out.insert(other);
                }
            }
        }
        if let Some((protocol, from, to)) = last {
            out.insert(Port::Range { protocol, from, to });
        }
        self.items = out;
    }

    /// One entry per port, as text: `any port`, `10002/TCP`, `9092-9094/TCP`.
    pub fn texts(&self) -> Vec<String> {
        if self.any {
            return vec!["any port".to_string()];
        }
        self.items.iter().map(Port::to_string).collect()
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.texts().join(", "))
    }
}

/// Which classes of workloads may reach which, and which outside peers they reach or are reached from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetMap {
    pub environment: String,
    /// Every node, by id: a class of workloads by its first member's id
    /// (`<namespace>/<Kind>/<name>[/<component>]`), the others as `namespace:<name>`, `ipBlock:<cidr>`, ...
    pub nodes: BTreeMap<String, Peer>,
    /// The allowed paths, `(from, to)` by node id, with the destination ports they allow.
    pub edges: BTreeMap<(String, String), Ports>,
    /// Each workload's class, by map id.
    pub class_of: BTreeMap<String, String>,
    /// What [`NetMap::focus`] kept, in words (`paths in and out of openim-api`).
    pub focus: Option<String>,
}

/// Which workloads `--from`, `--to` or `--focus` name: each entry is matched as [`NetMap::matching`] says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub focus: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.from.is_empty() && self.to.is_empty() && self.focus.is_empty()
    }
}

/// A `*` in a pattern matches any run of characters (`/` included); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

impl NetMap {
    /// The workload with this map id, and its class's id.
    pub fn member(&self, id: &str) -> Option<(&str, &Member)> {
        let class = self.class_of.get(id)?;
        let m = self.nodes.get(class)?.members.iter().find(|m| m.id == id)?;
        Some((class.as_str(), m))
    }

    /// The label of a node or of a workload.
    pub fn label<'a>(&'a self, id: &'a str) -> &'a str {
        match self.member(id) {
            Some((_, m)) => &m.label,
            None => self.nodes.get(id).map_or(id, |p| p.label.as_str()),
        }
    }

    /// The ports of the path from one workload (or outside peer) to another, by id: their classes'.
    pub fn path(&self, from: &str, to: &str) -> Option<&Ports> {
        let class = |id: &str| {
            self.class_of
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_string())
        };
        self.edges.get(&(class(from), class(to)))
    }

    /// Every path between single workloads and outside peers: each class's paths expanded to its
    /// members. What the map means, for comparing it with a path-by-path computation.
    pub fn paths(&self) -> BTreeMap<(String, String), Ports> {
        let ends = |id: &str| -> Vec<String> {
            match self.nodes.get(id) {
                Some(p) if !p.members.is_empty() => {
                    p.members.iter().map(|m| m.id.clone()).collect()
                }
                _ => vec![id.to_string()],
            }
        };
        let mut out: BTreeMap<(String, String), Ports> = BTreeMap::new();
        for ((from, to), ports) in &self.edges {
            for a in ends(from) {
                for b in ends(to) {
                    out.entry((a.clone(), b)).or_default().extend(ports.clone());
                }
            }
        }
        out
    }

    /// The workloads a name selects, by map id. A name is matched against each workload's name (the
    /// object's, `openim-api`), its label (`openim-mongo/mongodb` for an operator's component, with the
    /// namespace in front when the map spans several), `<namespace>/<name>`, and its map id
    /// (`<namespace>/<Kind>/<name>`); a `*` matches any run of characters (`openim-rpc-*`).
    pub fn matching(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for node in self.nodes.values() {
            for m in &node.members {
                let object = m.owner.split_once('/').map_or(m.owner.as_str(), |x| x.1);
                let namespace = node.namespace.as_deref().unwrap_or("");
                let candidates = [
                    object.to_string(),
                    m.label.clone(),
                    format!("{namespace}/{object}"),
                    m.id.clone(),
                ];
                if candidates.iter().any(|c| glob(name, c)) {
                    out.push(m.id.clone());
                }
            }
        }
        out.sort();
        out
    }

    /// The paths from (`--from`), to (`--to`), or in and out of (`--focus`) the workloads a selection
    /// names, each of those workloads drawn on its own (the rest of its class stays one node). `Err`
    /// names an entry that matches no workload.
    pub fn focus(&self, sel: &Selection) -> Result<NetMap, String> {
        let mut chosen = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
        for (i, names) in [&sel.from, &sel.to, &sel.focus].into_iter().enumerate() {
            for name in names {
                let found = self.matching(name);
                if found.is_empty() {
                    return Err(format!(
                        "no workload of {} is named `{name}`",
                        self.environment
                    ));
                }
                chosen[i].extend(found);
            }
        }
        let [from, to, both] = chosen;
        let named: BTreeSet<&String> = from.iter().chain(&to).chain(&both).collect();
        // Each node split into its named members (one node each) and the rest.
        let mut parts: BTreeMap<&str, Vec<(String, Peer)>> = BTreeMap::new();
        for (id, node) in &self.nodes {
            if node.members.is_empty() {
                parts.insert(id, vec![(id.clone(), node.clone())]);
                continue;
            }
            let mut list = Vec::new();
            let (picked, rest): (Vec<&Member>, Vec<&Member>) =
                node.members.iter().partition(|m| named.contains(&m.id));
            for m in picked {
                let mut one = node.clone();
                one.label = m.label.clone();
                one.owner = Some(m.owner.clone());
                one.members = vec![m.clone()];
                list.push((m.id.clone(), one));
            }
            if let Some(&first) = rest.first() {
                let mut others = node.clone();
                others.label = reading::class_label(&first.label, rest.len());
                others.owner = (rest.len() == 1).then(|| first.owner.clone());
                others.members = rest.into_iter().cloned().collect();
                list.push((first.id.clone(), others));
            }
            parts.insert(id, list);
        }
        let keep = |a: &str, b: &str| {
            if !both.is_empty() {
                both.contains(a) || both.contains(b)
            } else {
                (from.is_empty() || from.contains(a)) && (to.is_empty() || to.contains(b))
            }
        };
        let mut out = NetMap {
            environment: self.environment.clone(),
            focus: Some(describe(sel)),
            ..NetMap::default()
        };
        for ((a, b), ports) in &self.edges {
            for (x, px) in &parts[a.as_str()] {
                for (y, py) in &parts[b.as_str()] {
                    if keep(x, y) {
                        out.nodes.insert(x.clone(), px.clone());
                        out.nodes.insert(y.clone(), py.clone());
                        out.edges.insert((x.clone(), y.clone()), ports.clone());
                    }
                }
            }
        }
        // The named workloads are drawn even when no path touches them.
        for list in parts.values() {
            for (id, node) in list {
                if named.contains(id) {
                    out.nodes.insert(id.clone(), node.clone());
                }
            }
        }
        for (id, node) in &out.nodes {
            for m in &node.members {
                out.class_of.insert(m.id.clone(), id.clone());
            }
        }
        Ok(out)
    }
}

/// A selection in words: `paths in and out of openim-api`, `paths from a to b`.
fn describe(sel: &Selection) -> String {
    let names = |l: &[String]| l.join(", ");
    if !sel.focus.is_empty() {
        return format!("paths in and out of {}", names(&sel.focus));
    }
    match (sel.from.is_empty(), sel.to.is_empty()) {
        (false, false) => format!("paths from {} to {}", names(&sel.from), names(&sel.to)),
        (false, true) => format!("paths from {}", names(&sel.from)),
        _ => format!("paths to {}", names(&sel.to)),
    }
}

/// For each set of pods the resources run (by map id), whether some NetworkPolicy of its namespace
/// isolates it for ingress and for egress: the directions in which the map admits only what rules allow.
pub fn isolation(resources: &[Resource]) -> BTreeMap<String, (bool, bool)> {
    Reading::new(resources).isolation()
}

/// Whether the map reads anything of an object beyond its kind and namespace (which it reads of
/// every object, for the namespaces a tree renders): the objects that run pods, NetworkPolicies and
/// Namespaces.
pub fn reads(r: &Resource) -> bool {
    if crate::k8s::netpol::is_network_policy(r)
        || (r.kind() == "Namespace" && r.group().is_empty())
        || r.pod_template().is_some()
    {
        return true;
    }
    let mut pods = Vec::new();
    k8s::pods_of(r, &mut pods);
    !pods.is_empty()
}

/// Passes what the map reads of each object through the redaction rule, for a map that prints labels
/// and names: a label value a `secrets/` rule flags shows as its marker (the same value gives the
/// same marker, so selectors still match the labels they matched). Of an object the map reads
/// nothing else of (a ConfigMap, a Service, a Secret), only the namespace: the map of the result is
/// the map of the objects passed over whole.
pub fn redact(resources: &mut [Resource]) {
    for r in resources {
        if reads(r) {
            crate::check::redact::object(&mut r.node);
        } else if let Some(ns) = r.node.path_mut(&["metadata", "namespace"]) {
            crate::check::redact::field(ns, "namespace");
        }
    }
}

/// Builds the map of one environment's rendered resources (one [`Reading`], then [`Reading::map`]).
pub fn build(environment: &str, resources: &[Resource]) -> NetMap {
    Reading::new(resources).map(environment)
}

/// Whether two trees give the same map because everything [`build`] reads is equal in both: the pods
/// (their owner's kind and name, namespace, labels, declared ports, and whether they come from a pod
/// template), the NetworkPolicies (compared as objects), and the namespaces with their labels. `diff`
/// builds the two maps only when this is false: most changes (an image, a replica count, a ConfigMap)
/// touch none of it, and a map of a large tree is the most expensive thing a diff can compute.
pub fn same_inputs(a: &[Resource], b: &[Resource]) -> bool {
    type Pod<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Labels,
        Option<Vec<ContainerPort>>,
        bool,
    );
    fn pods(rs: &[Resource]) -> Vec<Pod<'_>> {
        k8s::pods(rs)
            .into_iter()
            .map(|p| {
                (
                    p.namespace,
                    p.owner.kind(),
                    p.owner.name(),
                    p.labels,
                    p.ports,
                    p.template.is_some(),
                )
            })
            .collect()
    }
    fn policies(rs: &[Resource]) -> Vec<(&str, serde_json::Value)> {
        rs.iter()
            .filter(|r| crate::k8s::netpol::is_network_policy(r))
            .map(|r| (r.namespace(), r.node.to_json()))
            .collect()
    }
    k8s::namespace_labels(a) == k8s::namespace_labels(b)
        && policies(a) == policies(b)
        && pods(a) == pods(b)
}

/// Why pods cannot reach others: the end whose policies allow nothing towards the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// The source's egress: the NetworkPolicies that isolate it in that direction, by name.
    Egress(Vec<String>),
    /// The destination's ingress: the NetworkPolicies that isolate it.
    Ingress(Vec<String>),
    /// Both allow some ports, but not the same ones.
    Ports { egress: Ports, ingress: Ports },
}

/// One path a change adds or loses, with the ports that changed: between two nodes of
/// [`MapDiff::nodes`], each standing for every workload it lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathChange {
    pub from: String,
    pub to: String,
    pub ports: Vec<String>,
}

/// What a change does to the map: the paths (or ports of a path) it adds and the ones it loses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapDiff {
    pub added: Vec<PathChange>,
    pub lost: Vec<PathChange>,
    /// The nodes the changed paths touch, by id: outside peers, and workloads grouped by their class
    /// on both sides (a workload on one side only is grouped by that side's class).
    pub nodes: BTreeMap<String, Peer>,
}

impl MapDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.lost.is_empty()
    }
}

/// The paths `head` has and `base` has not (added), and the other way round (lost), per port.
///
/// Computed over classes: workloads are grouped by their class in `base` and their class in `head`,
/// and only the groups inside the two ends of a path of either map are compared, so two maps of
/// thousands of alike workloads compare in the time of a few paths.
pub fn compare(base: &NetMap, head: &NetMap) -> MapDiff {
    // A group: the node a workload (or outside peer) is in, on each side.
    type Group<'m> = [Option<&'m str>; 2];
    // Every workload and outside peer, with its node on each side.
    let mut sides: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    for (s, map) in [base, head].into_iter().enumerate() {
        for (id, node) in &map.nodes {
            if node.members.is_empty() {
                sides.entry(id.as_str()).or_default()[s] = Some(id.as_str());
            }
            for m in &node.members {
                sides.entry(m.id.as_str()).or_default()[s] = Some(id.as_str());
            }
        }
    }
    // Groups: the elements with the same node on both sides, in id order; a group's id is its first.
    let mut groups: BTreeMap<Group<'_>, Vec<&str>> = BTreeMap::new();
    for (id, key) in &sides {
        groups.entry(*key).or_default().push(id);
    }
    let mut within: [BTreeMap<&str, Vec<&Group<'_>>>; 2] = Default::default();
    for key in groups.keys() {
        for s in 0..2 {
            if let Some(node) = key[s] {
                within[s].entry(node).or_default().push(key);
            }
        }
    }
    let mut pairs: BTreeSet<(&Group<'_>, &Group<'_>)> = BTreeSet::new();
    for (s, map) in [base, head].into_iter().enumerate() {
        for (from, to) in map.edges.keys() {
            for a in within[s].get(from.as_str()).into_iter().flatten() {
                for b in within[s].get(to.as_str()).into_iter().flatten() {
                    pairs.insert((a, b));
                }
            }
        }
    }
    let mut out = MapDiff::default();
    let mut changes: Vec<(bool, PathChange)> = Vec::new();
    for (a, b) in pairs {
        let texts = |s: usize, m: &NetMap| -> BTreeSet<String> {
            match (a[s], b[s]) {
                (Some(x), Some(y)) => m
                    .edges
                    .get(&(x.to_string(), y.to_string()))
                    .map(|p| p.texts().into_iter().collect())
                    .unwrap_or_default(),
                _ => BTreeSet::new(),
            }
        };
        let (old, new) = (texts(0, base), texts(1, head));
        let (from, to) = (groups[a][0], groups[b][0]);
        for (is_added, ports) in [
            (true, new.difference(&old).cloned().collect::<Vec<_>>()),
            (false, old.difference(&new).cloned().collect()),
        ] {
            if !ports.is_empty() {
                changes.push((
                    is_added,
                    PathChange {
                        from: from.to_string(),
                        to: to.to_string(),
                        ports,
                    },
                ));
            }
        }
        for key in [a, b] {
            let members = &groups[key];
            if out.nodes.contains_key(members[0]) {
                continue;
            }
            // The node as the head draws it (else the base), with this group's members.
            let (s, map) = if key[1].is_some() {
                (1, head)
            } else {
                (0, base)
            };
            let Some(node) = key[s].and_then(|n| map.nodes.get(n)) else {
                continue;
            };
            let mut node = node.clone();
            if !node.members.is_empty() {
                node.members.retain(|m| members.contains(&m.id.as_str()));
                if let Some(first) = node.members.first() {
                    node.label = reading::class_label(&first.label, node.members.len());
                    node.owner = (node.members.len() == 1).then(|| first.owner.clone());
                }
            }
            out.nodes.insert(members[0].to_string(), node);
        }
    }
    changes.sort_by(|x, y| (&x.1.from, &x.1.to).cmp(&(&y.1.from, &y.1.to)));
    for (is_added, c) in changes {
        if is_added {
            out.added.push(c);
        } else {
            out.lost.push(c);
        }
    }
    // Only the nodes a change touches.
    let touched: BTreeSet<&String> = out
        .added
        .iter()
        .chain(&out.lost)
        .flat_map(|c| [&c.from, &c.to])
        .collect();
    out.nodes.retain(|id, _| touched.contains(id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{FileId, Node, Origin};

    fn object(v: serde_json::Value) -> Resource {
        let origin = Origin {
            file: FileId(0),
            start: 0,
            end: 0,
            line: 1,
            col: 1,
        };
        Resource::new(Node::from_json(&v, origin))
    }

    /// A Deployment with a pod label, an image and a port, and a policy admitting its namespace.
    fn tree(label: &str, image: &str, port: i64, from_ns: &str) -> Vec<Resource> {
        vec![
            object(
                serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "a"},
                "spec": {"selector": {"matchLabels": {"app": label}}, "template": {
                    "metadata": {"labels": {"app": label}},
                    "spec": {"containers": [{"name": "c", "image": image,
                        "ports": [{"containerPort": port}]}]}}}}),
            ),
            object(
                serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "p", "namespace": "a"},
                "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector":
                    {"matchLabels": {"kubernetes.io/metadata.name": from_ns}}}]}]}}),
            ),
        ]
    }

    #[test]
    fn the_map_of_what_it_reads_redacted_is_the_map_of_everything_redacted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("environments");
        for env in ["dev", "test", "release"] {
            let resources = pairwise::compiled(&root, env);
            let mut whole = resources.clone();
            for r in &mut whole {
                crate::check::redact::object(&mut r.node);
            }
            let mut read = resources;
            redact(&mut read);
            assert!(read.iter().filter(|r| !reads(r)).count() > 20, "{env}");
            assert_eq!(build(env, &read), build(env, &whole), "{env}");
        }
        // A label value a `secrets/` rule flags, on a pod template and on a Namespace: its marker.
        let planted = "Pl4ntedLabelPw4";
        let mut rs = tree("api", "api:1", 8080, "a");
        let mut v = rs[0].node.to_json();
        v["spec"]["template"]["metadata"]["labels"]["db-password"] = planted.into();
        rs[0] = object(v);
        rs.push(object(
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "a", "labels": {"db-password": planted}}}),
        ));
        redact(&mut rs);
        let text = format!(
            "{:?}",
            rs.iter().map(|r| r.node.to_json()).collect::<Vec<_>>()
        );
        assert!(!text.contains(planted), "{text}");
        assert!(text.contains(crate::check::redact::MARKER), "{text}");
    }

    #[test]
    fn the_map_is_rebuilt_only_when_something_it_reads_changed() {
        let base = tree("api", "api:1", 8080, "a");
        // An image or anything else the map does not read: the same map, not built again.
        assert!(same_inputs(&base, &tree("api", "api:2", 8080, "a")));
        // Pod labels, declared ports and policies are read.
        assert!(!same_inputs(&base, &tree("web", "api:1", 8080, "a")));
        assert!(!same_inputs(&base, &tree("api", "api:1", 9090, "a")));
        assert!(!same_inputs(&base, &tree("api", "api:1", 8080, "b")));
        // A namespace object's labels are read.
        let mut labelled = base.clone();
        labelled.push(object(
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "a", "labels": {"team": "x"}}}),
        ));
        assert!(!same_inputs(&base, &labelled));
        // Where the inputs are equal, so are the maps.
        let same = tree("api", "api:2", 8080, "a");
        assert!(compare(&build("dev", &base), &build("dev", &same)).is_empty());
    }

    fn range(p: &str, from: i64, to: i64) -> Port {
        Port::Range {
            protocol: p.into(),
            from,
            to,
        }
    }

    fn set(items: &[Port]) -> Ports {
        let mut p = Ports {
            any: false,
            items: items.iter().cloned().collect(),
        };
        p.normalize();
        p
    }

    #[test]
    fn ports_intersect_and_merge() {
        let a = set(&[range("TCP", 9092, 9094), range("UDP", 53, 53)]);
        let b = set(&[range("TCP", 9093, 9100), range("TCP", 53, 53)]);
        assert_eq!(a.intersect(&b).to_string(), "9093-9094/TCP");
        assert_eq!(Ports::any().intersect(&a), a);
        assert!(set(&[range("TCP", 1, 2)])
            .intersect(&set(&[range("UDP", 1, 2)]))
            .is_empty());
        let merged = set(&[range("TCP", 1, 2), range("TCP", 3, 4), range("TCP", 10, 10)]);
        assert_eq!(merged.to_string(), "1-4/TCP, 10/TCP");
        let every = set(&[
            Port::Every {
                protocol: "TCP".into(),
            },
            range("TCP", 80, 80),
        ]);
        assert_eq!(every.to_string(), "every TCP port");
        assert_eq!(every.intersect(&merged), merged);
        assert_eq!(Ports::any().to_string(), "any port");
    }
}
