//! The network map: which workloads of a compiled environment may reach which, derived from its
//! NetworkPolicies as the network plugin enforces them, with the peers outside the environment (other
//! namespaces, the ingress controller's among them, ipBlocks, anywhere) as nodes too. [`format`] draws
//! it (text, JSON, Mermaid, DOT) and [`compare`] says which paths a change adds or loses, for `diff`.
//!
//! A path from pods A to pods B exists when A's egress allows it and B's ingress allows it. A direction
//! in which no NetworkPolicy of the pods' namespace selects them is open. The ports of a path are the
//! destination's: a named port resolves against the destination's containers. Label selectors, the pods
//! a tree runs and the namespaces it renders come from `k8s`, the same as the `netpol/` checks see.

pub mod format;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::k8s::netpol::{
    self, Direction, Namespaces, NetworkPolicy, PeerKind as PeerKind8s, Peers, PortRule, PortSel,
    Rule,
};
use crate::k8s::{self, ContainerPort, Labels, Pods};
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

const ANYWHERE: &str = "anywhere";

/// Whether every set of pods runs in one namespace (the map then leaves namespaces out of labels).
fn one_namespace(pods: &[Pods<'_>]) -> bool {
    pods.iter()
        .map(|p| p.namespace)
        .collect::<BTreeSet<_>>()
        .len()
        <= 1
}

/// For each set of pods the resources run (by map id), whether some NetworkPolicy of its namespace
/// isolates it for ingress and for egress: the directions in which the map admits only what rules allow.
pub fn isolation(resources: &[Resource]) -> BTreeMap<String, (bool, bool)> {
    let pods = k8s::pods(resources);
    let policies = netpol::policies(resources);
    let one_namespace = one_namespace(&pods);
    pods.iter()
        .map(|p| {
            let isolated = |dir: Direction| {
                policies
                    .iter()
                    .any(|pol| pol.applies(dir) && pol.selects(p.namespace, &p.labels))
            };
            (
                workload(p, one_namespace).0,
                (isolated(Direction::Ingress), isolated(Direction::Egress)),
            )
        })
        .collect()
}

/// Builds the map of one environment's rendered resources.
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

pub fn build(environment: &str, resources: &[Resource]) -> NetMap {
    let pods = k8s::pods(resources);
    let policies = netpol::policies(resources);
    let ns_labels = k8s::namespace_labels(resources);
    let one_namespace = one_namespace(&pods);

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
    let isolating = |p: &Pods<'_>, dir: Direction| -> Option<Vec<&NetworkPolicy<'_>>> {
        let list: Vec<&NetworkPolicy<'_>> = policies
            .iter()
            .filter(|pol| pol.applies(dir) && pol.selects(p.namespace, &p.labels))
            .collect();
        (!list.is_empty()).then_some(list)
    };
    let ingress: Vec<_> = pods
        .iter()
        .map(|p| isolating(p, Direction::Ingress))
        .collect();
    let egress: Vec<_> = pods
        .iter()
        .map(|p| isolating(p, Direction::Egress))
        .collect();

    // What the rules of `pols` in one direction allow to (or from) `other`, on the ports of `dest`.
    let allowed =
        |pols: &[&NetworkPolicy<'_>], dir: Direction, other: &Pods<'_>, dest: &Pods<'_>| {
            let mut ports = Ports::default();
            for pol in pols {
                for rule in pol.rules(dir) {
                    if admits_pod(rule, pol.namespace, other, &ns_labels) {
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
                Some(pols) => allowed(pols, Direction::Egress, to, to),
            };
            if out.is_empty() {
                continue;
            }
            let inn = match &ingress[b] {
                None => Ports::any(),
                Some(pols) => allowed(pols, Direction::Ingress, from, to),
            };
            let both = out.intersect(&inn);
            if !both.is_empty() {
                add_edge(&mut map, &ids[a], &ids[b], both);
            }
        }
    }

    // Paths to and from peers outside the environment.
    for (i, p) in pods.iter().enumerate() {
        for (dir, isolated) in [
            (Direction::Ingress, &ingress[i]),
            (Direction::Egress, &egress[i]),
        ] {
            let found: Vec<(String, Peer, Ports)> = match isolated {
                None => vec![(anywhere().0, anywhere().1, Ports::any())],
                Some(pols) => pols
                    .iter()
                    .flat_map(|pol| {
                        pol.rules(dir).iter().flat_map(|rule| {
                            // Named ports resolve against this workload for ingress; for egress the
                            // destination is outside and its names stay names.
                            let ports = match dir {
                                Direction::Ingress => resolve(&rule.ports, p.ports.as_deref()),
                                Direction::Egress => resolve(&rule.ports, None),
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
                match dir {
                    Direction::Ingress => add_edge(&mut map, &id, &ids[i], ports),
                    Direction::Egress => add_edge(&mut map, &ids[i], &id, ports),
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

/// Whether a rule of a policy in namespace `own` admits the pods `p` as a peer.
fn admits_pod(
    rule: &Rule<'_>,
    own: &str,
    p: &Pods<'_>,
    ns_labels: &BTreeMap<String, Labels>,
) -> bool {
    let Peers::Listed(peers) = &rule.peers else {
        return true;
    };
    peers.iter().any(|peer| match &peer.kind {
        PeerKind8s::Everything => true,
        // ipBlocks are meant for addresses outside the cluster: pod addresses come and go.
        PeerKind8s::IpBlock(_) => false,
        PeerKind8s::Pods {
            namespaces, pods, ..
        } => {
            ns_labels
                .get(p.namespace)
                .is_some_and(|labels| namespaces.contains(own, p.namespace, labels))
                && pods.matches(&p.labels)
        }
    })
}

/// The peers of a rule outside the environment: namespaces it does not render, ipBlocks, anywhere.
fn outside(rule: &Rule<'_>, ns_labels: &BTreeMap<String, Labels>) -> Vec<(String, Peer)> {
    let Peers::Listed(peers) = &rule.peers else {
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
        let (namespaces, pods) = match &peer.kind {
            PeerKind8s::Everything => {
                out.push(anywhere());
                continue;
            }
            PeerKind8s::IpBlock(block) => {
                // An invalid block makes the API server reject the policy (`netpol/invalid-cidr`).
                if block.invalid().next().is_some() {
                    continue;
                }
                let cidr = block.text();
                out.push(node(
                    PeerKind::IpBlock,
                    format!("ipBlock:{cidr}"),
                    format!("ipBlock {cidr}"),
                ));
                continue;
            }
            PeerKind8s::Pods {
                namespaces, pods, ..
            } => (namespaces, pods),
        };
        let Namespaces::Selected(sel) = namespaces else {
            continue; // the policy's own namespace: its pods are workloads of the map
        };
        let pods_text = pods.text();
        let pods_suffix = |id: &mut String, label: &mut String| {
            if !pods_text.is_empty() {
                id.push(':');
                id.push_str(&pods_text);
                label.push_str(": ");
                label.push_str(&pods_text);
            }
        };
        match sel.pinned_namespaces() {
            Some(names) => {
                for name in names.iter().filter(|n| !ns_labels.contains_key(n.as_str())) {
                    // Every term of the selector counts: a namespace it rules out by name has no path,
                    // and terms on labels the tree cannot see stay in the peer's name.
                    let Some(rest) = namespaces.outside(name) else {
                        continue;
                    };
                    let mut id = format!("namespace:{name}");
                    let mut label = format!("namespace {name}");
                    if !rest.is_empty() {
                        id.push_str(&format!("[{}]", rest.text()));
                        label.push_str(&format!(" [{}]", rest.text()));
                    }
                    pods_suffix(&mut id, &mut label);
                    out.push(node(PeerKind::Namespace, id, label));
                }
            }
            None => {
                let text = sel.text();
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
fn resolve(specs: &[PortRule<'_>], dest: Option<&[ContainerPort]>) -> Ports {
    if specs.is_empty() {
        return Ports::any();
    }
    let mut out = Ports::default();
    for spec in specs {
        let protocol = &spec.protocol;
        let one = match &spec.port {
            PortSel::Number { from, to } => vec![Port::Range {
                protocol: protocol.clone(),
                from: *from,
                to: (*to).max(*from),
            }],
            PortSel::Every => vec![Port::Every {
                protocol: protocol.clone(),
            }],
            PortSel::Name(name) => match dest {
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

/// The environment's workloads one NetworkPolicy's rules admit as peers in a direction, by map id, with
/// the ports (named ports stay names): what a rule of the policy reaches before the other end's
/// policies have their say.
pub fn reach(
    pol: &NetworkPolicy<'_>,
    dir: Direction,
    resources: &[Resource],
) -> BTreeMap<String, (Peer, Ports)> {
    let pods = k8s::pods(resources);
    let ns_labels = k8s::namespace_labels(resources);
    let one = one_namespace(&pods);
    let mut out: BTreeMap<String, (Peer, Ports)> = BTreeMap::new();
    if !pol.applies(dir) {
        return out;
    }
    for p in &pods {
        let mut ports = Ports::default();
        for rule in pol.rules(dir) {
            if admits_pod(rule, pol.namespace, p, &ns_labels) {
                ports.extend(resolve(&rule.ports, None));
            }
        }
        if !ports.is_empty() {
            let (id, peer) = workload(p, one);
            out.entry(id)
                .or_insert((peer, Ports::default()))
                .1
                .extend(ports);
        }
    }
    out
}

/// The environment's workloads a NetworkPolicy selects, by map id.
pub fn selected(pol: &NetworkPolicy<'_>, resources: &[Resource]) -> BTreeMap<String, Peer> {
    let pods = k8s::pods(resources);
    let one = one_namespace(&pods);
    pods.iter()
        .filter(|p| pol.selects(p.namespace, &p.labels))
        .map(|p| workload(p, one))
        .collect()
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

/// Why there is no path from the workload `from` to the workload `to` (map ids): `None` when there is
/// one, or when either is not a workload of `resources`.
pub fn blocked(resources: &[Resource], from: &str, to: &str) -> Option<Blocked> {
    let pods = k8s::pods(resources);
    let policies = netpol::policies(resources);
    let ns_labels = k8s::namespace_labels(resources);
    let one = one_namespace(&pods);
    let find = |id: &str| pods.iter().find(|p| workload(p, one).0 == id);
    let (src, dst) = (find(from)?, find(to)?);
    let side = |p: &Pods<'_>, other: &Pods<'_>, dir: Direction| -> (Vec<String>, Ports) {
        let pols: Vec<&NetworkPolicy<'_>> = policies
            .iter()
            .filter(|pol| pol.applies(dir) && pol.selects(p.namespace, &p.labels))
            .collect();
        if pols.is_empty() {
            return (Vec::new(), Ports::any());
        }
        let mut ports = Ports::default();
        for pol in &pols {
            for rule in pol.rules(dir) {
                if admits_pod(rule, pol.namespace, other, &ns_labels) {
                    ports.extend(resolve(&rule.ports, dst.ports.as_deref()));
                }
            }
        }
        (pols.iter().map(|p| p.name().to_string()).collect(), ports)
    };
    let (out_pols, out) = side(src, dst, Direction::Egress);
    if out.is_empty() {
        return Some(Blocked::Egress(out_pols));
    }
    let (in_pols, inn) = side(dst, src, Direction::Ingress);
    if inn.is_empty() {
        return Some(Blocked::Ingress(in_pols));
    }
    out.intersect(&inn).is_empty().then_some(Blocked::Ports {
        egress: out,
        ingress: inn,
    })
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
