//! One reading of a tree for the map: its pods (indexed by namespace and label), its NetworkPolicies,
//! its namespaces, which policies isolate which pods, and the pods grouped into classes. [`Reading`] is
//! built once per tree; the map, and every question `diff` asks about a changed policy, read from it.
//!
//! A class is a set of pods the network cannot tell apart: the same namespace, the same rules (by
//! content) isolating them in each direction (or none), the same rules of the tree admitting them as a
//! peer, and the same declared ports (named ports resolve against them). Whether pods A may reach pods B,
//! and on which ports, depends only on the classes of A and B, so the map is computed class by class:
//! 2,000 workloads that each admit their whole namespace are one class and one path, not four million.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::k8s::netpol::{
    self, Direction, Namespaces, NetworkPolicy, PeerKind as PeerKind8s, Peers, PortRule, PortSel,
    Rule,
};
use crate::k8s::{self, ContainerPort, Labels, Pods, Selector};
use crate::resource::Resource;

use super::{Blocked, Member, NetMap, Peer, PeerKind, Port, Ports};

const ANYWHERE: &str = "anywhere";

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// The pods of one namespace, by label.
#[derive(Default)]
struct NamespacePods {
    all: Vec<usize>,
    by_label: HashMap<(String, String), Vec<usize>>,
}

/// A rule, identified by what it says: rules written alike in policies of one namespace are one.
struct DistinctRule {
    policy: usize,
    dir: Direction,
    index: usize,
}

/// Pods the network cannot tell apart (see the module doc).
struct Class {
    /// Positions in the pod list, by map id.
    members: Vec<usize>,
    /// The distinct rules that isolate the class, per direction (`None`: open in that direction).
    rules: [Option<Vec<usize>>; 2],
    /// The distinct rules (of either direction) that admit the class as a peer, ascending.
    admitted: Vec<usize>,
}

/// One reading of a tree's network (see the module doc).
pub struct Reading<'a> {
    pods: Vec<Pods<'a>>,
    policies: Vec<NetworkPolicy<'a>>,
    ns_labels: BTreeMap<String, Labels>,
    /// Each pod set's map id and node.
    workloads: Vec<(String, Peer)>,
    /// Each pod set's position, by map id.
    position: HashMap<String, usize>,
    /// For each direction, each pod's isolating policies (positions in `policies`).
    isolating: [Vec<Vec<usize>>; 2],
    by_namespace: HashMap<String, NamespacePods>,
}

impl<'a> Reading<'a> {
    pub fn new(resources: &'a [Resource]) -> Reading<'a> {
        let pods = k8s::pods(resources);
        let policies = netpol::policies(resources);
        let ns_labels = k8s::namespace_labels(resources);
        let one = one_namespace(&pods);
        let workloads: Vec<(String, Peer)> = pods.iter().map(|p| workload(p, one)).collect();
        let position = workloads
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.clone(), i))
            .collect();
        let mut by_namespace: HashMap<String, NamespacePods> = HashMap::new();
        for (i, p) in pods.iter().enumerate() {
            let ns = by_namespace.entry(p.namespace.to_string()).or_default();
            ns.all.push(i);
            for (k, v) in &p.labels {
                ns.by_label
                    .entry((k.clone(), v.clone()))
                    .or_default()
                    .push(i);
            }
        }
        let mut reading = Reading {
            pods,
            policies,
            ns_labels,
            workloads,
            position,
            isolating: [Vec::new(), Vec::new()],
            by_namespace,
        };
        let mut isolating = [
            vec![Vec::new(); reading.pods.len()],
            vec![Vec::new(); reading.pods.len()],
        ];
        for (i, pol) in reading.policies.iter().enumerate() {
            let selected = reading.select(pol.namespace, &pol.pod_selector);
            for dir in Direction::BOTH {
                if pol.applies(dir) {
                    for &p in &selected {
                        isolating[slot(dir)][p].push(i);
                    }
                }
            }
        }
        reading.isolating = isolating;
        reading
    }

    /// Positions of the pods of `namespace` a selector matches, ascending: only the pods that carry
    /// a value of its rarest equality term are tried.
    fn select(&self, namespace: &str, selector: &Selector) -> Vec<usize> {
        let Some(ns) = self.by_namespace.get(namespace) else {
            return Vec::new();
        };
        let mut best: Option<(usize, Cow<'_, [usize]>)> = None;
        for (key, values) in selector.terms() {
            let lists: Vec<&[usize]> = values
                .iter()
                .map(|v| {
                    ns.by_label
                        .get(&(key.to_string(), v.clone()))
                        .map_or(&[][..], Vec::as_slice)
                })
                .collect();
            let size: usize = lists.iter().map(|l| l.len()).sum();
            if best.as_ref().is_none_or(|(fewest, _)| size < *fewest) {
                let list = match lists.as_slice() {
                    [one] => Cow::Borrowed(*one),
                    _ => {
                        let mut all: Vec<usize> = lists.concat();
                        all.sort_unstable();
                        all.dedup();
                        Cow::Owned(all)
                    }
                };
                best = Some((size, list));
            }
        }
        let candidates = best.map_or(Cow::Borrowed(ns.all.as_slice()), |(_, l)| l);
        candidates
            .iter()
            .copied()
            .filter(|&i| selector.matches(&self.pods[i].labels))
            .collect()
    }

    /// Positions of the pods a rule of a policy in namespace `own` admits as peers, ascending.
    fn admitted_by(&self, rule: &Rule<'_>, own: &str) -> Vec<usize> {
        let every = || (0..self.pods.len()).collect::<Vec<_>>();
        let Peers::Listed(peers) = &rule.peers else {
            return every();
        };
        let mut out = Vec::new();
        for peer in peers {
            match &peer.kind {
                PeerKind8s::Everything => return every(),
                // ipBlocks are meant for addresses outside the cluster: pod addresses come and go.
                PeerKind8s::IpBlock(_) => {}
                PeerKind8s::Pods {
                    namespaces, pods, ..
                } => {
                    for (name, labels) in &self.ns_labels {
                        if namespaces.contains(own, name, labels) {
                            out.extend(self.select(name, pods));
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn rule(&self, d: &DistinctRule) -> (&NetworkPolicy<'a>, &Rule<'a>) {
        let pol = &self.policies[d.policy];
        (pol, &pol.rules(d.dir)[d.index])
    }

    /// The distinct rules of the policies that isolate some pod, and the classes.
    fn classes(&self) -> (Vec<DistinctRule>, Vec<Class>) {
        // Rules by content: the policy's namespace, the direction, the rule as written.
        let mut ids: HashMap<(&str, Direction, String), usize> = HashMap::new();
        let mut distinct: Vec<DistinctRule> = Vec::new();
        let mut of_policy: Vec<[Option<Vec<usize>>; 2]> = Vec::new();
        for (i, pol) in self.policies.iter().enumerate() {
            let mut per = [None, None];
            for dir in Direction::BOTH {
                if !pol.applies(dir) {
                    continue;
                }
                let mut list = Vec::new();
                for (index, rule) in pol.rules(dir).iter().enumerate() {
                    let key = (pol.namespace, dir, rule.node.to_json().to_string());
                    let next = distinct.len();
                    let id = *ids.entry(key).or_insert(next);
                    if id == next {
                        distinct.push(DistinctRule {
                            policy: i,
                            dir,
                            index,
                        });
                    }
                    list.push(id);
                }
                per[slot(dir)] = Some(list);
            }
            of_policy.push(per);
        }
        // Each pod's rules per direction, and the rules in use.
        let mut in_use = vec![false; distinct.len()];
        let rules: Vec<[Option<Vec<usize>>; 2]> = (0..self.pods.len())
            .map(|p| {
                Direction::BOTH.map(|dir| {
                    let pols = &self.isolating[slot(dir)][p];
                    (!pols.is_empty()).then(|| {
                        let mut list: Vec<usize> = pols
                            .iter()
                            .flat_map(|&i| of_policy[i][slot(dir)].iter().flatten().copied())
                            .collect();
                        list.sort_unstable();
                        list.dedup();
                        for &d in &list {
                            in_use[d] = true;
                        }
                        list
                    })
                })
            })
            .collect();
        let mut admitted: Vec<Vec<usize>> = vec![Vec::new(); self.pods.len()];
        for (d, rule) in distinct.iter().enumerate() {
            if !in_use[d] {
                continue;
            }
            let (pol, rule) = self.rule(rule);
            for p in self.admitted_by(rule, pol.namespace) {
                admitted[p].push(d);
            }
        }
        // Group.
        type Key<'k> = (
            &'k str,
            &'k [Option<Vec<usize>>; 2],
            &'k [usize],
            Option<&'k [ContainerPort]>,
        );
        let mut groups: HashMap<Key<'_>, usize> = HashMap::new();
        let mut classes: Vec<Class> = Vec::new();
        let mut order: Vec<usize> = (0..self.pods.len()).collect();
        order.sort_by(|a, b| self.workloads[*a].0.cmp(&self.workloads[*b].0));
        for p in order {
            let key: Key<'_> = (
                self.pods[p].namespace,
                &rules[p],
                &admitted[p],
                self.pods[p].ports.as_deref(),
            );
            let next = classes.len();
            let c = *groups.entry(key).or_insert(next);
            if c == next {
                classes.push(Class {
                    members: Vec::new(),
                    rules: rules[p].clone(),
                    admitted: admitted[p].clone(),
                });
            }
            classes[c].members.push(p);
        }
        (distinct, classes)
    }

    /// The map: a node per class of workloads (its members listed) and per peer outside the tree, and
    /// the paths between them.
    pub fn map(&self, environment: &str) -> NetMap {
        let (distinct, classes) = self.classes();
        let mut map = NetMap {
            environment: environment.to_string(),
            ..NetMap::default()
        };
        // Class ids: the first member's map id (another suffix in the unlikely case of a repeat).
        let mut class_ids = Vec::with_capacity(classes.len());
        for c in &classes {
            let (first_id, first) = &self.workloads[c.members[0]];
            let mut id = first_id.clone();
            let mut n = 2;
            while map.nodes.contains_key(&id) {
                id = format!("{first_id}#{n}");
                n += 1;
            }
            let members: Vec<Member> = c
                .members
                .iter()
                .map(|&p| {
                    let (id, peer) = &self.workloads[p];
                    Member {
                        id: id.clone(),
                        label: peer.label.clone(),
                        owner: peer.owner.clone().unwrap_or_default(),
                    }
                })
                .collect();
            for m in &members {
                map.class_of.insert(m.id.clone(), id.clone());
            }
            let mut node = first.clone();
            node.label = class_label(&first.label, members.len());
            if members.len() > 1 {
                node.owner = None;
            }
            node.members = members;
            map.nodes.insert(id.clone(), node);
            class_ids.push(id);
        }

        // The classes each rule admits, for the sources a destination's ingress rules name.
        let mut admits: Vec<Vec<usize>> = vec![Vec::new(); distinct.len()];
        for (i, c) in classes.iter().enumerate() {
            for &d in &c.admitted {
                admits[d].push(i);
            }
        }
        let ports_of = |c: &Class| self.pods[c.members[0]].ports.as_deref();
        // What the rules `rules` allow towards (or from) `other`, on the ports of `dest`.
        let allowed = |rules: &[usize], other: &Class, dest: &Class| {
            let mut ports = Ports::default();
            for &d in rules {
                if other.admitted.binary_search(&d).is_ok() {
                    let (_, rule) = self.rule(&distinct[d]);
                    ports.extend(resolve(&rule.ports, ports_of(dest)));
                }
            }
            ports
        };
        for (b, to) in classes.iter().enumerate() {
            let sources: Vec<usize> = match &to.rules[slot(Direction::Ingress)] {
                None => (0..classes.len()).collect(),
                Some(rules) => {
                    let mut s: Vec<usize> = rules
                        .iter()
                        .flat_map(|&d| admits[d].iter().copied())
                        .collect();
                    s.sort_unstable();
                    s.dedup();
                    s
                }
            };
            for a in sources {
                let from = &classes[a];
                let out = match &from.rules[slot(Direction::Egress)] {
                    None => Ports::any(),
                    Some(rules) => allowed(rules, to, to),
                };
                if out.is_empty() {
                    continue;
                }
                let inn = match &to.rules[slot(Direction::Ingress)] {
                    None => Ports::any(),
                    Some(rules) => allowed(rules, from, to),
                };
                add_edge(&mut map, &class_ids[a], &class_ids[b], out.intersect(&inn));
            }
        }

        // Paths to and from peers outside the tree.
        for (i, c) in classes.iter().enumerate() {
            for dir in Direction::BOTH {
                let found: Vec<(String, Peer, Ports)> = match &c.rules[slot(dir)] {
                    None => vec![(anywhere().0, anywhere().1, Ports::any())],
                    Some(rules) => rules
                        .iter()
                        .flat_map(|&d| {
                            let (_, rule) = self.rule(&distinct[d]);
                            // Named ports resolve against this class for ingress; for egress the
                            // destination is outside and its names stay names.
                            let ports = match dir {
                                Direction::Ingress => resolve(&rule.ports, ports_of(c)),
                                Direction::Egress => resolve(&rule.ports, None),
                            };
                            outside(rule, &self.ns_labels)
                                .into_iter()
                                .map(move |(id, peer)| (id, peer, ports.clone()))
                        })
                        .collect(),
                };
                for (id, peer, ports) in found {
                    map.nodes.entry(id.clone()).or_insert(peer);
                    match dir {
                        Direction::Ingress => add_edge(&mut map, &id, &class_ids[i], ports),
                        Direction::Egress => add_edge(&mut map, &class_ids[i], &id, ports),
                    }
                }
            }
        }
        map
    }

    /// For each set of pods (by map id), whether some NetworkPolicy of its namespace isolates it for
    /// ingress and for egress: the directions in which the map admits only what rules allow.
    pub fn isolation(&self) -> BTreeMap<String, (bool, bool)> {
        self.workloads
            .iter()
            .enumerate()
            .map(|(p, (id, _))| {
                (
                    id.clone(),
                    (
                        !self.isolating[0][p].is_empty(),
                        !self.isolating[1][p].is_empty(),
                    ),
                )
            })
            .collect()
    }

    /// The tree's workloads one NetworkPolicy's rules admit as peers in a direction, by map id, with
    /// the ports (named ports stay names): what a rule of the policy reaches before the other end's
    /// policies have their say.
    pub fn reach(
        &self,
        pol: &NetworkPolicy<'_>,
        dir: Direction,
    ) -> BTreeMap<String, (Peer, Ports)> {
        let mut out: BTreeMap<String, (Peer, Ports)> = BTreeMap::new();
        if !pol.applies(dir) {
            return out;
        }
        for rule in pol.rules(dir) {
            let ports = resolve(&rule.ports, None);
            for p in self.admitted_by(rule, pol.namespace) {
                let (id, peer) = &self.workloads[p];
                out.entry(id.clone())
                    .or_insert((peer.clone(), Ports::default()))
                    .1
                    .extend(ports.clone());
            }
        }
        out.retain(|_, (_, ports)| !ports.is_empty());
        out
    }

    /// The tree's workloads a NetworkPolicy selects, by map id.
    pub fn selected(&self, pol: &NetworkPolicy<'_>) -> BTreeMap<String, Peer> {
        self.select(pol.namespace, &pol.pod_selector)
            .into_iter()
            .map(|p| self.workloads[p].clone())
            .collect()
    }

    /// Why there is no path from the workload `from` to the workload `to` (map ids): `None` when there
    /// is one, or when either is not a workload of the tree.
    pub fn blocked(&self, from: &str, to: &str) -> Option<Blocked> {
        let find = |id: &str| self.position.get(id).copied();
        let (src, dst) = (find(from)?, find(to)?);
        let side = |p: usize, other: usize, dir: Direction| -> (Vec<String>, Ports) {
            let pols = &self.isolating[slot(dir)][p];
            if pols.is_empty() {
                return (Vec::new(), Ports::any());
            }
            let mut ports = Ports::default();
            for &i in pols {
                let pol = &self.policies[i];
                for rule in pol.rules(dir) {
                    if admits_pod(rule, pol.namespace, &self.pods[other], &self.ns_labels) {
                        ports.extend(resolve(&rule.ports, self.pods[dst].ports.as_deref()));
                    }
                }
            }
            let names = pols
                .iter()
                .map(|&i| self.policies[i].name().to_string())
                .collect();
            (names, ports)
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
}

impl Reading<'_> {
    /// The names of the NetworkPolicies that isolate the workload `id` (a map id) in a direction:
    /// what [`Reading::blocked`] names when that end allows nothing towards the other.
    pub fn isolating(&self, id: &str, dir: Direction) -> Vec<&str> {
        self.position.get(id).map_or_else(Vec::new, |&p| {
            self.isolating[slot(dir)][p]
                .iter()
                .map(|&i| self.policies[i].name())
                .collect()
        })
    }
}

/// Whether every set of pods runs in one namespace (the map then leaves namespaces out of labels).
pub(super) fn one_namespace(pods: &[Pods<'_>]) -> bool {
    pods.iter()
        .map(|p| p.namespace)
        .collect::<BTreeSet<_>>()
        .len()
        <= 1
}

/// A class's label: its first member's, with how many more it holds.
pub fn class_label(first: &str, members: usize) -> String {
    match members {
        0 | 1 => first.to_string(),
        n => format!("{first} (+{} more)", n - 1),
    }
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

pub(super) fn anywhere() -> (String, Peer) {
    (
        ANYWHERE.to_string(),
        Peer {
            kind: PeerKind::Anywhere,
            label: ANYWHERE.to_string(),
            namespace: None,
            owner: None,
            members: Vec::new(),
        },
    )
}

/// The id and node of a set of pods the tree runs.
pub(super) fn workload(p: &Pods<'_>, one_namespace: bool) -> (String, Peer) {
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
            members: Vec::new(),
        },
    )
}

/// Whether a rule of a policy in namespace `own` admits the pods `p` as a peer.
pub(super) fn admits_pod(
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

/// The peers of a rule outside the tree: namespaces it does not render, ipBlocks, anywhere.
pub(super) fn outside(
    rule: &Rule<'_>,
    ns_labels: &BTreeMap<String, Labels>,
) -> Vec<(String, Peer)> {
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
                members: Vec::new(),
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
pub(super) fn resolve(specs: &[PortRule<'_>], dest: Option<&[ContainerPort]>) -> Ports {
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
