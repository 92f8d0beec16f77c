//! Family `netpol/`: NetworkPolicies as the API server and the network plugin read them. Selection is
//! namespace-aware (a policy selects pods of its own namespace only), selectors use `matchLabels` and
//! `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`), and `policyTypes` default as in Kubernetes:
//! `Ingress` always, `Egress` only when the policy has egress rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::check::k8s::{FindingExt, Pods, Selector};
use crate::check::Index;
use crate::check::{Context, Finding, Rule, Severity};
use crate::node::Node;
use crate::resource::Resource;

pub static RULES: &[Rule] = &[
    NO_DEFAULT_DENY,
    WORKLOAD_NOT_SELECTED,
    ALLOW_ALL,
    POLICY_SELECTS_NOTHING,
    PEER_SELECTS_NOTHING,
    PORT_NOT_EXPOSED,
];

const NO_DEFAULT_DENY: Rule = Rule {
    code: "netpol/no-default-deny",
    default_severity: Severity::Error,
    summary:
        "a namespace that runs workloads has no default-deny NetworkPolicy for ingress and egress",
    run: no_default_deny,
};
const WORKLOAD_NOT_SELECTED: Rule = Rule {
    code: "netpol/workload-not-selected",
    default_severity: Severity::Error,
    summary:
        "no NetworkPolicy of its namespace selects a workload's pods for ingress or for egress",
    run: workload_not_selected,
};
const ALLOW_ALL: Rule = Rule {
    code: "netpol/allow-all",
    default_severity: Severity::Error,
    summary: "a NetworkPolicy rule allows every source or destination",
    run: allow_all,
};
const POLICY_SELECTS_NOTHING: Rule = Rule {
    code: "netpol/policy-selects-nothing",
    default_severity: Severity::Error,
    summary: "a NetworkPolicy's podSelector matches no pod the tree runs in its namespace",
    run: policy_selects_nothing,
};
const PEER_SELECTS_NOTHING: Rule = Rule {
    code: "netpol/peer-selects-nothing",
    default_severity: Severity::Error,
    summary: "a NetworkPolicy peer's podSelector matches no pod the tree runs",
    run: peer_selects_nothing,
};
const PORT_NOT_EXPOSED: Rule = Rule {
    code: "netpol/port-not-exposed",
    default_severity: Severity::Error,
    summary: "a NetworkPolicy allows a port that no container of the pods it concerns declares",
    run: port_not_exposed,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Ingress,
    Egress,
}

impl Dir {
    const BOTH: [Dir; 2] = [Dir::Ingress, Dir::Egress];
    fn key(self) -> &'static str {
        match self {
            Dir::Ingress => "ingress",
            Dir::Egress => "egress",
        }
    }
    fn peers_key(self) -> &'static str {
        match self {
            Dir::Ingress => "from",
            Dir::Egress => "to",
        }
    }
}

/// A NetworkPolicy, read.
struct NetPol<'a> {
    r: &'a Resource,
    pod_selector: Selector,
    pod_selector_node: Option<&'a Node>,
    ingress: bool,
    egress: bool,
    ingress_rules: &'a [Node],
    egress_rules: &'a [Node],
}

impl<'a> NetPol<'a> {
    fn ns(&self) -> &'a str {
        self.r.namespace()
    }
    fn has(&self, dir: Dir) -> bool {
        match dir {
            Dir::Ingress => self.ingress,
            Dir::Egress => self.egress,
        }
    }
    fn rules(&self, dir: Dir) -> &'a [Node] {
        match dir {
            Dir::Ingress => self.ingress_rules,
            Dir::Egress => self.egress_rules,
        }
    }
    /// The rules of the directions the policy has (rules of another direction are ignored by Kubernetes).
    fn active_rules(&self) -> impl Iterator<Item = (Dir, usize, &'a Node)> + '_ {
        Dir::BOTH
            .into_iter()
            .filter(|d| self.has(*d))
            .flat_map(|d| {
                self.rules(d)
                    .iter()
                    .enumerate()
                    .map(move |(i, n)| (d, i, n))
            })
    }
    /// The pods the policy selects: those of its namespace that its `podSelector` matches.
    fn selected<'s>(&'s self, index: &'s Index<'_>) -> impl Iterator<Item = &'s Pods<'s>> + 's {
        index.selected(self.ns(), &self.pod_selector)
    }
}

fn policies(resources: &[Resource]) -> Vec<NetPol<'_>> {
    let mut out = Vec::new();
    for r in resources {
        if r.kind() != "NetworkPolicy" || r.group() != "networking.k8s.io" {
            continue;
        }
        let spec = r.node.get("spec");
        let rules = |key: &str| {
            spec.and_then(|s| s.get(key))
                .and_then(Node::as_seq)
                .unwrap_or(&[])
        };
        let ingress_rules = rules("ingress");
        let egress_rules = rules("egress");
        let types: Option<Vec<&str>> = spec
            .and_then(|s| s.get("policyTypes"))
            .and_then(Node::as_seq)
            .map(|l| l.iter().filter_map(Node::as_str).collect());
        let (ingress, egress) = match types {
            Some(t) => (t.contains(&"Ingress"), t.contains(&"Egress")),
            None => (true, !egress_rules.is_empty()),
        };
        let pod_selector_node = spec.and_then(|s| s.get("podSelector"));
        out.push(NetPol {
            r,
            pod_selector: Selector::label_selector(pod_selector_node),
            pod_selector_node,
            ingress,
            egress,
            ingress_rules,
            egress_rules,
        });
    }
    out
}

fn ns_text(ns: &str) -> String {
    if ns.is_empty() {
        "the namespace of objects that set none".to_string()
    } else {
        format!("namespace `{ns}`")
    }
}

/// "Deployment/openim-api", or "Cluster/openim-mongodb (component mongodb)" for an operator's pods.
fn describe(p: &Pods<'_>) -> String {
    match (
        p.template,
        p.labels.get("apps.kubeblocks.io/component-name"),
    ) {
        (None, Some(c)) => format!("{}/{} (component {c})", p.owner.kind(), p.owner.name()),
        _ => format!("{}/{}", p.owner.kind(), p.owner.name()),
    }
}

fn directions_text(ingress: bool, egress: bool) -> &'static str {
    match (ingress, egress) {
        (true, true) => "ingress and egress",
        (true, false) => "ingress",
        _ => "egress",
    }
}

/// Checks that every namespace that runs pods has a default deny for both directions: a NetworkPolicy
/// with an empty `podSelector` (every pod of the namespace) whose `policyTypes` include `Ingress`, and one
/// (the same or another) whose `policyTypes` include `Egress`.
///
/// Why: without it, a pod no policy selects accepts and opens any connection; a new workload, or a
/// label typo, silently leaves the network open. With it, everything not allowed explicitly is denied.
///
/// Bad (a namespace whose only policy selects one app):
/// ```yaml
/// kind: NetworkPolicy
/// spec:
///   podSelector: {matchLabels: {app: api}}
///   ingress: [...]
/// ```
/// Good:
/// ```yaml
/// kind: NetworkPolicy
/// metadata: {name: default-deny-all}
/// spec:
///   podSelector: {}
///   policyTypes: [Ingress, Egress]
/// ```
fn no_default_deny(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let pols = policies(ctx.resources);
    // The first policy of each namespace that selects every pod for ingress, and for egress.
    let mut denies: HashMap<&str, [Option<&NetPol<'_>>; 2]> = HashMap::new();
    for pol in pols.iter().filter(|pol| pol.pod_selector.is_empty()) {
        let deny = denies.entry(pol.ns()).or_default();
        for (slot, dir) in deny.iter_mut().zip(Dir::BOTH) {
            if slot.is_none() && pol.has(dir) {
                *slot = Some(pol);
            }
        }
    }
    let mut first: BTreeMap<&str, &Pods<'_>> = BTreeMap::new();
    for p in ctx.index().pods() {
        first.entry(p.namespace).or_insert(p);
    }
    for (ns, p) in first {
        let [ing, eg] = denies.get(ns).copied().unwrap_or_default();
        if ing.is_some() && eg.is_some() {
            continue;
        }
        let origin = p
            .owner
            .node
            .path(&["metadata", "namespace"])
            .map(|n| n.origin)
            .unwrap_or_else(|| p.owner.name_origin());
        let mut f = NO_DEFAULT_DENY
            .finding(
                origin,
                Some(p.owner),
                format!(
                    "{} runs workloads ({} first) but no NetworkPolicy denies all {} by default",
                    ns_text(ns),
                    describe(p),
                    directions_text(ing.is_none(), eg.is_none())
                ),
            )
            .help(
                "add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress, Egress]` and no rules, \
                 then allow what each workload needs in policies of its own",
            );
        if let Some(partial) = ing.or(eg) {
            f = f.related(
                partial.r.name_origin(),
                format!(
                    "this policy selects every pod for {} only",
                    directions_text(ing.is_some(), eg.is_some())
                ),
            );
        }
        out.push(f);
    }
}

/// Checks that the pods of every workload are selected, for ingress and for egress, by some NetworkPolicy
/// of their own namespace (a policy of another namespace does not count; `matchExpressions` count; a
/// policy without `policyTypes` counts for egress only when it has egress rules).
///
/// Why: a pod that no policy selects for a direction is not isolated in that direction: all traffic is
/// allowed, whatever the other policies say.
///
/// Bad (the policy lives in another namespace than the Deployment, or lists only `Ingress`):
/// ```yaml
/// kind: NetworkPolicy
/// metadata: {name: api, namespace: other}
/// spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress]}
/// ```
/// Good:
/// ```yaml
/// kind: NetworkPolicy
/// metadata: {name: api, namespace: openim}
/// spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress, Egress], ingress: [...], egress: [...]}
/// ```
fn workload_not_selected(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let pols = policies(ctx.resources);
    let index = ctx.index();
    // For each pod, the policies that select it, in order.
    let mut selecting: Vec<Vec<&NetPol<'_>>> = vec![Vec::new(); index.pods().len()];
    for pol in &pols {
        for i in index.selected_positions(pol.ns(), &pol.pod_selector) {
            selecting[i].push(pol);
        }
    }
    for (p, selecting) in index.pods().iter().zip(selecting) {
        let ing = selecting.iter().any(|pol| pol.ingress);
        let eg = selecting.iter().any(|pol| pol.egress);
        if ing && eg {
            continue;
        }
        let message = if selecting.is_empty() {
            format!(
                "no NetworkPolicy in {} selects the pods of {}: all traffic to and from them is allowed",
                ns_text(p.namespace),
                describe(p)
            )
        } else {
            format!(
                "no NetworkPolicy in {} selects the pods of {} for {}: that traffic is not restricted",
                ns_text(p.namespace),
                describe(p),
                directions_text(!ing, !eg)
            )
        };
        let mut f = WORKLOAD_NOT_SELECTED
            .finding(p.owner.name_origin(), Some(p.owner), message)
            .help("add a default deny for the namespace, or a policy whose podSelector matches these pods' labels");
        for pol in selecting.iter().take(3) {
            f = f.related(
                pol.r.name_origin(),
                format!(
                    "selects them for {} only",
                    directions_text(pol.ingress, pol.egress)
                ),
            );
        }
        out.push(f);
    }
}

fn allowed_open(ctx: &Context<'_>, pol: &NetPol<'_>) -> bool {
    ctx.policy
        .allow_all
        .iter()
        .any(|a| a.name == pol.r.name() && (a.namespace.is_empty() || a.namespace == pol.ns()))
}

/// Checks that no NetworkPolicy rule allows everything: a rule without peers (`ingress: [{}]`, a missing
/// or empty `from`/`to`), an `ipBlock` of `0.0.0.0/0` or `::/0`, an empty peer, or a `namespaceSelector: {}`
/// without a narrowing `podSelector` (every pod of every namespace). A policy the policy file lists under
/// `allow_all` may do so.
///
/// Why: one such rule undoes the default deny for the pods the policy selects, and reviewers easily read
/// `{}` as "nothing".
///
/// Bad:
/// ```yaml
/// ingress:
///   - {}
/// egress:
///   - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
/// ```
/// Good:
/// ```yaml
/// ingress:
///   - from: [{podSelector: {matchLabels: {app: openim-api}}}]
///     ports: [{port: 10002}]
/// ```
fn allow_all(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    const HELP: &str = "name the peers (a podSelector, a namespaceSelector on kubernetes.io/metadata.name, a \
                        narrow ipBlock); a policy that must stay open goes in the policy file's allow_all";
    for pol in policies(ctx.resources) {
        if allowed_open(ctx, &pol) {
            continue;
        }
        let name = pol.r.name();
        for (dir, i, rule) in pol.active_rules() {
            let what = format!("{} rule {} of NetworkPolicy {name}", dir.key(), i + 1);
            let everyone = match dir {
                Dir::Ingress => "from every source",
                Dir::Egress => "to every destination",
            };
            let ports = if rule
                .get("ports")
                .and_then(Node::as_seq)
                .is_some_and(|p| !p.is_empty())
            {
                "on the ports it lists"
            } else {
                "on every port"
            };
            let mut push = |origin, message: String| {
                out.push(ALLOW_ALL.finding(origin, Some(pol.r), message).help(HELP));
            };
            match rule.get(dir.peers_key()) {
                None => push(
                    rule.origin,
                    format!(
                        "{what} has no `{}`: it allows traffic {everyone} {ports}",
                        dir.peers_key()
                    ),
                ),
                Some(peers) => match peers.as_seq() {
                    Some([]) => push(
                        peers.origin,
                        format!(
                            "{what} has an empty `{}`: it allows traffic {everyone} {ports}",
                            dir.peers_key()
                        ),
                    ),
                    Some(list) => {
                        for peer in list {
                            if let Some((origin, why)) = open_peer(peer) {
                                push(origin, format!("{what}: {why}"));
                            }
                        }
                    }
                    None => {}
                },
            }
        }
    }
}

/// Why a peer matches everything, and where.
fn open_peer(peer: &Node) -> Option<(crate::node::Origin, String)> {
    let map = peer.as_map()?;
    if map.is_empty() {
        return Some((
            peer.origin,
            "an empty peer matches every source and destination".into(),
        ));
    }
    if let Some(cidr) = peer.path(&["ipBlock", "cidr"]) {
        match cidr.as_str().map(str::trim) {
            Some("0.0.0.0/0") => {
                return Some((
                    cidr.origin,
                    "`ipBlock` `0.0.0.0/0` matches every IPv4 address".into(),
                ))
            }
            Some("::/0") => {
                return Some((
                    cidr.origin,
                    "`ipBlock` `::/0` matches every IPv6 address".into(),
                ))
            }
            _ => {}
        }
    }
    let ns = peer.get("namespaceSelector")?;
    let pods_open = Selector::label_selector(peer.get("podSelector")).is_empty();
    if Selector::label_selector(Some(ns)).is_empty() && pods_open {
        return Some((
            ns.origin,
            "an empty `namespaceSelector` without a `podSelector` matches every pod of every namespace".into(),
        ));
    }
    None
}

/// Checks that a NetworkPolicy's `podSelector` matches some pod the tree runs in the policy's namespace
/// (an empty selector, every pod, is always fine).
///
/// Why: a policy that selects nothing protects nothing; usually a label was misspelt or changed, and the
/// workload it was written for is either unprotected or cut off.
///
/// Bad: `podSelector: {matchLabels: {app.kubernetes.io/name: openim-apii}}`.
/// Good: `podSelector: {matchLabels: {app.kubernetes.io/name: openim-api}}`, the label of the Deployment's
/// pod template.
fn policy_selects_nothing(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    for pol in policies(ctx.resources) {
        if pol.pod_selector.is_empty()
            || pol.pod_selector.names_controller_made_label()
            || ctx
                .policy
                .selects_external_pods(pol.ns(), &pol.pod_selector)
            || pol.selected(index).next().is_some()
        {
            continue;
        }
        let origin = pol
            .pod_selector_node
            .map(|n| n.origin)
            .unwrap_or(pol.r.name_origin());
        out.push(
            POLICY_SELECTS_NOTHING
                .finding(
                    origin,
                    Some(pol.r),
                    format!(
                        "the podSelector of NetworkPolicy {} matches no pod in {}",
                        pol.r.name(),
                        ns_text(pol.ns())
                    ),
                )
                .help("compare it with the labels of the pod template it is meant for"),
        );
    }
}

/// The namespaces a peer's pods may live in, when the tree can tell: the policy's own without a
/// `namespaceSelector`, the ones a `namespaceSelector` pins by `kubernetes.io/metadata.name` when the tree
/// renders all of them. `None`: unknown (other labels, or namespaces outside the tree).
fn peer_namespaces(peer: &Node, own: &str, in_tree: &BTreeSet<&str>) -> Option<BTreeSet<String>> {
    match peer.get("namespaceSelector") {
        None => Some([own.to_string()].into()),
        Some(n) => {
            let names = Selector::label_selector(Some(n)).pinned_namespaces()?;
            names
                .iter()
                .all(|n| in_tree.contains(n.as_str()))
                .then_some(names)
        }
    }
}

/// Checks that every peer `podSelector` matches some pod: in the policy's namespace, or in the namespaces
/// its `namespaceSelector` names by `kubernetes.io/metadata.name` when the tree renders them. Peers in
/// namespaces the tree does not render (kube-system, the ingress controller's) are not checked.
///
/// Why: a peer that matches nothing allows nothing; the traffic it was written for is blocked, usually
/// because of a misspelt label or a renamed app.
///
/// Bad: `from: [{podSelector: {matchLabels: {app.kubernetes.io/name: openim-chat-apii}}}]`.
/// Good: `from: [{podSelector: {matchLabels: {app.kubernetes.io/name: openim-chat-api}}}]`.
fn peer_selects_nothing(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    let in_tree = index.namespaces();
    for pol in policies(ctx.resources) {
        for (dir, i, rule) in pol.active_rules() {
            for peer in rule
                .get(dir.peers_key())
                .and_then(Node::as_seq)
                .unwrap_or(&[])
            {
                let Some(sel_node) = peer.get("podSelector") else {
                    continue;
                };
                let sel = Selector::label_selector(Some(sel_node));
                if sel.is_empty() {
                    continue;
                }
                let Some(nss) = peer_namespaces(peer, pol.ns(), in_tree) else {
                    continue;
                };
                if sel.names_controller_made_label()
                    || nss.iter().any(|ns| {
                        index.selected(ns, &sel).next().is_some()
                            || ctx.policy.selects_external_pods(ns, &sel)
                    })
                {
                    continue;
                }
                let where_ = nss
                    .iter()
                    .map(|n| ns_text(n))
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push(
                    PEER_SELECTS_NOTHING
                        .finding(
                            sel_node.origin,
                            Some(pol.r),
                            format!(
                                "{} rule {} of NetworkPolicy {}: this podSelector matches no pod in {where_}",
                                dir.key(),
                                i + 1,
                                pol.r.name()
                            ),
                        )
                        .help("compare it with the labels of the pod templates it is meant for"),
                );
            }
        }
    }
}

/// The pods a rule's peers name, when the tree can tell all of them (no `ipBlock`, known namespaces).
fn peer_pods<'p, 'a>(
    rule: &Node,
    dir: Dir,
    own: &str,
    index: &'p Index<'a>,
) -> Option<Vec<&'p Pods<'a>>> {
    let peers = rule.get(dir.peers_key())?.as_seq()?;
    if peers.is_empty() {
        return None;
    }
    let mut found = Vec::new();
    for peer in peers {
        if peer.get("ipBlock").is_some() || peer.as_map().is_none_or(|m| m.is_empty()) {
            return None;
        }
        let nss = peer_namespaces(peer, own, index.namespaces())?;
        let sel = Selector::label_selector(peer.get("podSelector"));
        // In the order of the pods, as one pass over them would find them.
        let mut positions: Vec<usize> = nss
            .iter()
            .flat_map(|ns| index.selected_positions(ns, &sel))
            .collect();
        positions.sort_unstable();
        found.extend(positions.into_iter().map(|i| &index.pods()[i]));
    }
    Some(found)
}

/// Checks that every port a NetworkPolicy rule allows (`port` by number, with `endPort` a range, or by
/// name, with its protocol, TCP by default) is declared by some container of the pods it concerns: for
/// ingress the pods the policy selects, for egress the pods its peers name. Rules whose pods the tree
/// cannot tell (an `ipBlock`, other namespaces, pods an operator makes) are not checked.
///
/// Why: a port no container listens on is a leftover or a typo, and the port that is really needed stays
/// closed.
///
/// Bad (the container declares `http` on 10002): `ports: [{port: 10020}]`.
/// Good: `ports: [{port: 10002, protocol: TCP}]` or `ports: [{port: http}]`.
fn port_not_exposed(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    for pol in policies(ctx.resources) {
        let selected: Vec<&Pods<'_>> = pol.selected(index).collect();
        for (dir, i, rule) in pol.active_rules() {
            let Some(ports) = rule.get("ports").and_then(Node::as_seq) else {
                continue;
            };
            let concerned = match dir {
                Dir::Ingress => selected.clone(),
                Dir::Egress => match peer_pods(rule, dir, pol.ns(), index) {
                    Some(p) => p,
                    None => continue,
                },
            };
            if concerned.is_empty() || concerned.iter().any(|p| p.ports.is_none()) {
                continue;
            }
            for port in ports {
                let protocol = port.str_at(&["protocol"]).unwrap_or("TCP");
                let Some(p) = port.get("port") else {
                    continue;
                };
                let (exposed, text) = match &p.value {
                    crate::node::Value::Int(n) => {
                        let end = port.get("endPort").and_then(Node::as_i64).unwrap_or(*n);
                        let exposed = concerned.iter().any(|pods| {
                            pods.ports
                                .iter()
                                .flatten()
                                .any(|c| c.protocol == protocol && (*n..=end).contains(&c.number))
                        });
                        let text = if end != *n {
                            format!("{n}-{end}")
                        } else {
                            n.to_string()
                        };
                        (exposed, text)
                    }
                    crate::node::Value::Str(name) => {
                        let exposed = concerned.iter().any(|pods| {
                            pods.ports.iter().flatten().any(|c| {
                                c.protocol == protocol && c.name.as_deref() == Some(name.as_str())
                            })
                        });
                        (exposed, format!("`{name}`"))
                    }
                    _ => continue,
                };
                if exposed {
                    continue;
                }
                let owners: BTreeSet<String> = concerned.iter().map(|p| describe(p)).collect();
                let mut list: Vec<String> = owners.iter().take(3).cloned().collect();
                if owners.len() > 3 {
                    list.push(format!("{} more", owners.len() - 3));
                }
                let whose = match dir {
                    Dir::Ingress => "the pods it selects",
                    Dir::Egress => "the pods its peers name",
                };
                out.push(
                    PORT_NOT_EXPOSED
                        .finding(
                            p.origin,
                            Some(pol.r),
                            format!(
                                "{} rule {} of NetworkPolicy {} allows port {text}/{protocol}, which no container of \
                                 {whose} ({}) declares",
                                dir.key(),
                                i + 1,
                                pol.r.name(),
                                list.join(", ")
                            ),
                        )
                        .help("use a containerPort (or its name) the pods declare, with its protocol"),
                );
            }
        }
    }
}
