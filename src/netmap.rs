//! The network map: which workloads of a compiled environment may reach which, derived from its
//! NetworkPolicies as the network plugin enforces them, with the peers outside the environment (other
//! namespaces, the ingress controller's among them, ipBlocks, anywhere) as nodes too. [`format`] draws
//! it (text, JSON, Mermaid, DOT) and [`compare`] says which paths a change adds or loses, for `diff`.
//!
//! A path from pods A to pods B exists when A's egress allows it and B's ingress allows it. A direction
//! in which no NetworkPolicy of the pods' namespace selects them is open. The ports of a path are the
//! destination's: a named port resolves against the destination's containers. Label selectors, the pods
//! a tree runs and the namespaces it renders come from `check::k8s`, the same as the `netpol/` checks see.

pub mod format;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::check::k8s::{self, ContainerPort, Labels, Pods, Selector, NAMESPACE_NAME_LABEL};
use crate::node::{Node, Value};
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
    /// What a reader sees: `openim-api`, `namespace ingress-nginx`, `ipBlock 0.0.0.0/0`.
    pub label: String,
    /// The namespace of a workload.
    pub namespace: Option<String>,
    /// The object that runs a workload's pods: `Deployment/openim-api`.
    pub owner: Option<String>,
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

/// Which workloads may reach which, and which outside peers they reach or are reached from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetMap {
    pub environment: String,
    /// Every node, by id (`<namespace>/<Kind>/<name>[/<component>]` for workloads, `namespace:<name>`,
    /// `ipBlock:<cidr>`, ... for the others).
    pub nodes: BTreeMap<String, Peer>,
    /// The allowed paths, `(from, to)` by id, with the destination ports they allow.
    pub edges: BTreeMap<(String, String), Ports>,
}

/// A NetworkPolicy, read as the network plugin reads it.
struct Policy<'a> {
    namespace: &'a str,
    selector: Selector,
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
}

/// One ingress or egress rule: its peers (`None`: every source or destination) and its ports.
struct Rule {
    peers: Option<Vec<PeerSpec>>,
    ports: Vec<PortSpec>,
}

/// A port entry of a rule, before a named port is resolved against the destination.
#[derive(Clone)]
enum PortSpec {
    Number {
        protocol: String,
        from: i64,
        to: i64,
    },
    Name {
        protocol: String,
        name: String,
    },
    Every {
        protocol: String,
    },
}

/// One entry of `from` or `to`.
struct PeerSpec {
    /// `None`: the policy's own namespace.
    namespaces: Option<Selector>,
    namespaces_text: Option<String>,
    pods: Selector,
    pods_text: Option<String>,
    ip_block: Option<String>,
    /// `{}`: matches everything.
    empty: bool,
}

fn read_policies(resources: &[Resource]) -> Vec<Policy<'_>> {
    let mut out = Vec::new();
    for r in resources {
        if r.kind() != "NetworkPolicy" || r.group() != "networking.k8s.io" {
            continue;
        }
        let spec = r.node.get("spec");
        let rules = |key: &str, peers_key: &str| -> Vec<Rule> {
            spec.and_then(|s| s.get(key))
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .map(|rule| read_rule(rule, peers_key))
                .collect()
        };
        let has_egress_rules = spec
            .and_then(|s| s.get("egress"))
            .and_then(Node::as_seq)
            .is_some_and(|l| !l.is_empty());
        // policyTypes default as in Kubernetes: Ingress always, Egress when there are egress rules.
        let types: Option<Vec<&str>> = spec
            .and_then(|s| s.get("policyTypes"))
            .and_then(Node::as_seq)
            .map(|l| l.iter().filter_map(Node::as_str).collect());
        let (ingress, egress) = match types {
            Some(t) => (t.contains(&"Ingress"), t.contains(&"Egress")),
            None => (true, has_egress_rules),
        };
        out.push(Policy {
            namespace: r.namespace(),
            selector: Selector::label_selector(spec.and_then(|s| s.get("podSelector"))),
            ingress: ingress.then(|| rules("ingress", "from")),
            egress: egress.then(|| rules("egress", "to")),
        });
    }
    out
}

fn read_rule(rule: &Node, peers_key: &str) -> Rule {
    let peers = match rule.get(peers_key).and_then(Node::as_seq) {
        None | Some([]) => None,
        Some(list) => Some(list.iter().map(read_peer).collect()),
    };
    let mut ports = Vec::new();
    for p in rule.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
        let protocol = p.str_at(&["protocol"]).unwrap_or("TCP").to_string();
        ports.push(match p.get("port").map(|n| &n.value) {
            Some(Value::Int(n)) => PortSpec::Number {
                protocol,
                from: *n,
                to: p.get("endPort").and_then(Node::as_i64).unwrap_or(*n),
            },
            Some(Value::Str(name)) => PortSpec::Name {
                protocol,
                name: name.clone(),
            },
            _ => PortSpec::Every { protocol },
        });
    }
    Rule { peers, ports }
}

fn read_peer(peer: &Node) -> PeerSpec {
    let ns_node = peer.get("namespaceSelector");
    let pods_node = peer.get("podSelector");
    let ip_block = peer
        .path(&["ipBlock", "cidr"])
        .and_then(Node::as_str)
        .map(|cidr| {
            let except: Vec<&str> = peer
                .path(&["ipBlock", "except"])
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(Node::as_str)
                .collect();
            if except.is_empty() {
                cidr.to_string()
            } else {
                format!("{cidr} except {}", except.join(", "))
            }
        });
    PeerSpec {
        namespaces: ns_node.map(|n| Selector::label_selector(Some(n))),
        namespaces_text: ns_node.map(selector_text),
        pods: Selector::label_selector(pods_node),
        pods_text: pods_node.map(selector_text).filter(|t| !t.is_empty()),
        ip_block,
        empty: peer.as_map().is_none_or(|m| m.is_empty()),
    }
}

/// A label selector as text, in `kubectl`'s syntax: `app=api,tier in (a,b),!canary`.
fn selector_text(node: &Node) -> String {
    let mut parts = Vec::new();
    if let Some(m) = node.get("matchLabels").and_then(Node::as_map) {
        for (k, v) in m.iter() {
            parts.push(format!(
                "{}={}",
                k.name,
                k8s::scalar_text(v).unwrap_or_default()
            ));
        }
    }
    for e in node
        .get("matchExpressions")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let key = e.str_at(&["key"]).unwrap_or_default();
        let values: Vec<String> = e
            .get("values")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(k8s::scalar_text)
            .collect();
        parts.push(match e.str_at(&["operator"]).unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({})", values.join(",")),
        });
    }
    parts.join(",")
}

/// The labels of every namespace the tree renders: a Namespace object's own, plus the name label the API
/// server sets on every namespace.
fn namespace_labels(resources: &[Resource]) -> BTreeMap<String, Labels> {
    let mut out: BTreeMap<String, Labels> = BTreeMap::new();
    for ns in k8s::namespaces(resources) {
        let mut l = Labels::new();
        l.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
        out.insert(ns.to_string(), l);
    }
    for r in resources {
        if r.kind() == "Namespace" && r.group().is_empty() {
            let l = out.entry(r.name().to_string()).or_default();
            for (k, v) in k8s::labels(r.node.path(&["metadata", "labels"])) {
                l.insert(k, v);
            }
            l.insert(NAMESPACE_NAME_LABEL.to_string(), r.name().to_string());
        }
    }
    out
}

const ANYWHERE: &str = "anywhere";

/// Builds the map of one environment's rendered resources.
pub fn build(environment: &str, resources: &[Resource]) -> NetMap {
    let pods = k8s::pods(resources);
    let policies = read_policies(resources);
    let ns_labels = namespace_labels(resources);
    let one_namespace = pods
        .iter()
        .map(|p| p.namespace)
        .collect::<BTreeSet<_>>()
        .len()
        <= 1;

    let mut map = NetMap {
        environment: environment.to_string(),
        ..NetMap::default()
    };
    let ids: Vec<String> = pods
        .iter()
        .map(|p| {
            let (id, peer) = workload(p, one_namespace);
            map.nodes.insert(id.clone(), peer);
            id
        })
        .collect();

    // The policies that isolate each workload, per direction (`None`: open in that direction).
    let isolating = |p: &Pods<'_>, ingress: bool| -> Option<Vec<&Policy<'_>>> {
        let list: Vec<&Policy<'_>> = policies
            .iter()
            .filter(|pol| {
                pol.namespace == p.namespace
                    && pol.selector.matches(&p.labels)
                    && if ingress {
                        pol.ingress.is_some()
                    } else {
                        pol.egress.is_some()
                    }
            })
            .collect();
        (!list.is_empty()).then_some(list)
    };
    let ingress: Vec<_> = pods.iter().map(|p| isolating(p, true)).collect();
    let egress: Vec<_> = pods.iter().map(|p| isolating(p, false)).collect();

    // What the rules of `pols` in one direction allow to (or from) `other`, on the ports of `dest`.
    let allowed = |pols: &[&Policy<'_>], ingress: bool, other: &Pods<'_>, dest: &Pods<'_>| {
        let mut ports = Ports::default();
        for pol in pols {
            let rules = if ingress { &pol.ingress } else { &pol.egress };
            for rule in rules.iter().flatten() {
                if matches_pod(rule, pol.namespace, other, &ns_labels) {
                    ports.extend(resolve(&rule.ports, dest.ports.as_deref()));
                }
            }
        }
        ports
    };

    // Paths between the environment's own workloads.
    for (a, from) in pods.iter().enumerate() {
        for (b, to) in pods.iter().enumerate() {
            let out = match &egress[a] {
                None => Ports::any(),
                Some(pols) => allowed(pols, false, to, to),
            };
            if out.is_empty() {
                continue;
            }
            let inn = match &ingress[b] {
                None => Ports::any(),
                Some(pols) => allowed(pols, true, from, to),
            };
            let both = out.intersect(&inn);
            if !both.is_empty() {
                add_edge(&mut map, &ids[a], &ids[b], both);
            }
        }
    }

    // Paths to and from peers outside the environment.
    for (i, p) in pods.iter().enumerate() {
        for (ingress_side, isolated) in [(true, &ingress[i]), (false, &egress[i])] {
            let found: Vec<(String, Peer, Ports)> = match isolated {
                None => vec![(anywhere().0, anywhere().1, Ports::any())],
                Some(pols) => pols
                    .iter()
                    .flat_map(|pol| {
                        let rules = if ingress_side {
                            &pol.ingress
                        } else {
                            &pol.egress
                        };
                        rules.iter().flatten().flat_map(|rule| {
                            // Named ports resolve against this workload for ingress; for egress the
                            // destination is outside and its names stay names.
                            let ports = if ingress_side {
                                resolve(&rule.ports, p.ports.as_deref())
                            } else {
                                resolve(&rule.ports, None)
                            };
                            outside(rule, &ns_labels)
                                .into_iter()
                                .map(move |(id, peer)| (id, peer, ports.clone()))
                        })
                    })
                    .collect(),
            };
            for (id, peer, ports) in found {
                map.nodes.entry(id.clone()).or_insert(peer);
                if ingress_side {
                    add_edge(&mut map, &id, &ids[i], ports);
                } else {
                    add_edge(&mut map, &ids[i], &id, ports);
                }
            }
        }
    }
    map
}

fn add_edge(map: &mut NetMap, from: &str, to: &str, ports: Ports) {
    if ports.is_empty() {
        return;
    }
    map.edges
        .entry((from.to_string(), to.to_string()))
        .or_default()
        .extend(ports);
}

fn anywhere() -> (String, Peer) {
    (
        ANYWHERE.to_string(),
        Peer {
            kind: PeerKind::Anywhere,
            label: ANYWHERE.to_string(),
            namespace: None,
            owner: None,
        },
    )
}

/// The id and node of a set of pods the environment runs.
fn workload(p: &Pods<'_>, one_namespace: bool) -> (String, Peer) {
    let component = match p.template {
        None => p.labels.get("apps.kubeblocks.io/component-name").cloned(),
        Some(_) => None,
    };
    let mut id = format!("{}/{}/{}", p.namespace, p.owner.kind(), p.owner.name());
    let mut label = p.owner.name().to_string();
    if let Some(c) = &component {
        id.push('/');
        id.push_str(c);
        label.push('/');
        label.push_str(c);
    }
    if !one_namespace && !p.namespace.is_empty() {
        label = format!("{}/{label}", p.namespace);
    }
    (
        id,
        Peer {
            kind: PeerKind::Workload,
            label,
            namespace: Some(p.namespace.to_string()),
            owner: Some(format!("{}/{}", p.owner.kind(), p.owner.name())),
        },
    )
}

/// Whether a rule of a policy in namespace `own` names the pods `p` as a peer.
fn matches_pod(rule: &Rule, own: &str, p: &Pods<'_>, ns_labels: &BTreeMap<String, Labels>) -> bool {
    let Some(peers) = &rule.peers else {
        return true;
    };
    peers.iter().any(|peer| {
        if peer.empty {
            return true;
        }
        // ipBlocks are meant for addresses outside the cluster: pod addresses come and go.
        if peer.ip_block.is_some() {
            return false;
        }
        let ns_ok = match &peer.namespaces {
            None => p.namespace == own,
            Some(sel) => ns_labels
                .get(p.namespace)
                .is_some_and(|labels| sel.matches(labels)),
        };
        ns_ok && peer.pods.matches(&p.labels)
    })
}

/// The peers of a rule outside the environment: namespaces it does not render, ipBlocks, anywhere.
fn outside(rule: &Rule, ns_labels: &BTreeMap<String, Labels>) -> Vec<(String, Peer)> {
    let Some(peers) = &rule.peers else {
        return vec![anywhere()];
    };
    let mut out = Vec::new();
    let node = |kind: PeerKind, id: String, label: String| {
        (
            id,
            Peer {
                kind,
                label,
                namespace: None,
                owner: None,
            },
        )
    };
    for peer in peers {
        if peer.empty {
            out.push(anywhere());
            continue;
        }
        if let Some(cidr) = &peer.ip_block {
            out.push(node(
                PeerKind::IpBlock,
                format!("ipBlock:{cidr}"),
                format!("ipBlock {cidr}"),
            ));
            continue;
        }
        let Some(sel) = &peer.namespaces else {
            continue; // the policy's own namespace: its pods are workloads of the map
        };
        let pods_suffix = |id: &mut String, label: &mut String| {
            if let Some(t) = &peer.pods_text {
                id.push(':');
                id.push_str(t);
                label.push_str(": ");
                label.push_str(t);
            }
        };
        match sel.pinned_namespaces() {
            Some(names) => {
                for name in names.iter().filter(|n| !ns_labels.contains_key(n.as_str())) {
                    let mut id = format!("namespace:{name}");
                    let mut label = format!("namespace {name}");
                    pods_suffix(&mut id, &mut label);
                    out.push(node(PeerKind::Namespace, id, label));
                }
            }
            None => {
                let text = peer.namespaces_text.clone().unwrap_or_default();
                let (mut id, mut label) = if text.is_empty() {
                    ("namespaces:*".to_string(), "every namespace".to_string())
                } else {
                    (format!("namespaces:{text}"), format!("namespaces {text}"))
                };
                pods_suffix(&mut id, &mut label);
                out.push(node(PeerKind::Namespaces, id, label));
            }
        }
    }
    out
}

/// The ports of a rule on a destination whose containers declare `dest` (`None`: unknown): no entry is
/// every port; a named port becomes the numbers the destination gives it, or stays a name.
fn resolve(specs: &[PortSpec], dest: Option<&[ContainerPort]>) -> Ports {
    if specs.is_empty() {
        return Ports::any();
    }
    let mut out = Ports::default();
    for spec in specs {
        let one = match spec {
            PortSpec::Number { protocol, from, to } => vec![Port::Range {
                protocol: protocol.clone(),
                from: *from,
                to: (*to).max(*from),
            }],
            PortSpec::Every { protocol } => vec![Port::Every {
                protocol: protocol.clone(),
            }],
            PortSpec::Name { protocol, name } => match dest {
                Some(ports) => ports
                    .iter()
                    .filter(|c| c.protocol == *protocol && c.name.as_deref() == Some(name))
                    .map(|c| Port::Range {
                        protocol: protocol.clone(),
                        from: c.number,
                        to: c.number,
                    })
                    .collect(),
                None => vec![Port::Named {
                    protocol: protocol.clone(),
                    name: name.clone(),
                }],
            },
        };
        out.items.extend(one);
    }
    out.normalize();
    out
}

/// One path a change adds or loses, with the ports that changed.
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
    /// The nodes the changed paths touch, by id.
    pub nodes: BTreeMap<String, Peer>,
}

impl MapDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.lost.is_empty()
    }
}

/// The paths `head` has and `base` has not (added), and the other way round (lost), per port.
pub fn compare(base: &NetMap, head: &NetMap) -> MapDiff {
    let mut out = MapDiff::default();
    let keys: BTreeSet<&(String, String)> = base.edges.keys().chain(head.edges.keys()).collect();
    for key in keys {
        let texts = |m: &NetMap| -> BTreeSet<String> {
            m.edges
                .get(key)
                .map(|p| p.texts().into_iter().collect())
                .unwrap_or_default()
        };
        let (old, new) = (texts(base), texts(head));
        let added: Vec<String> = new.difference(&old).cloned().collect();
        let lost: Vec<String> = old.difference(&new).cloned().collect();
        for (list, ports) in [(&mut out.added, added), (&mut out.lost, lost)] {
            if !ports.is_empty() {
                list.push(PathChange {
                    from: key.0.clone(),
                    to: key.1.clone(),
                    ports,
                });
            }
        }
    }
    for c in out.added.iter().chain(out.lost.iter()) {
        for id in [&c.from, &c.to] {
            if let Some(peer) = head.nodes.get(id).or_else(|| base.nodes.get(id)) {
                out.nodes.insert(id.clone(), peer.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
