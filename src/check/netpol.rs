//! Family `netpol/`: NetworkPolicies as the API server and the network plugin read them. Selection is
//! namespace-aware (a policy selects pods of its own namespace only), selectors use `matchLabels` and
//! `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`), and `policyTypes` default as in Kubernetes:
//! `Ingress` always, `Egress` only when the policy has egress rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::check::code::{Code, Netpol};
use crate::check::Index;
use crate::check::{Context, Finding, FindingExt, Rule as CheckRule};
use crate::k8s::netpol::{
    self, Direction, Namespaces, NetworkPolicy, PeerKind, Peers, PortSel, Rule,
};
use crate::k8s::{self, Labels, Pods};
use crate::resource::Resource;

pub static RULES: &[CheckRule] = &[
    NO_DEFAULT_DENY,
    WORKLOAD_NOT_SELECTED,
    ALLOW_ALL,
    POLICY_SELECTS_NOTHING,
    PEER_SELECTS_NOTHING,
    PORT_NOT_EXPOSED,
    INVALID_CIDR,
    DEAD_RULES,
];

const NO_DEFAULT_DENY: CheckRule =
    CheckRule::new(Code::Netpol(Netpol::NoDefaultDeny), no_default_deny);
const WORKLOAD_NOT_SELECTED: CheckRule = CheckRule::new(
    Code::Netpol(Netpol::WorkloadNotSelected),
    workload_not_selected,
);
const ALLOW_ALL: CheckRule = CheckRule::new(Code::Netpol(Netpol::AllowAll), allow_all);
const POLICY_SELECTS_NOTHING: CheckRule = CheckRule::new(
    Code::Netpol(Netpol::PolicySelectsNothing),
    policy_selects_nothing,
);
const PEER_SELECTS_NOTHING: CheckRule = CheckRule::new(
    Code::Netpol(Netpol::PeerSelectsNothing),
    peer_selects_nothing,
);
const PORT_NOT_EXPOSED: CheckRule =
    CheckRule::new(Code::Netpol(Netpol::PortNotExposed), port_not_exposed);

const INVALID_CIDR: CheckRule = CheckRule::new(Code::Netpol(Netpol::InvalidCidr), invalid_cidr);
const DEAD_RULES: CheckRule = CheckRule::new(Code::Netpol(Netpol::DeadRules), dead_rules);

type Dir = Direction;

/// A NetworkPolicy as [`crate::k8s::netpol`] reads it, with what the checks look up about it.
struct NetPol<'a> {
    r: &'a Resource,
    model: NetworkPolicy<'a>,
}

impl<'a> NetPol<'a> {
    fn ns(&self) -> &'a str {
        self.model.namespace
    }
    fn has(&self, dir: Dir) -> bool {
        self.model.applies(dir)
    }
    /// The rules of the directions the policy has (rules of another direction are ignored by Kubernetes).
    fn active_rules(&self) -> impl Iterator<Item = &Rule<'a>> + '_ {
        self.model.active_rules()
    }
    /// The pods the policy selects: those of its namespace that its `podSelector` matches.
    fn selected<'s>(&'s self, index: &'s Index<'_>) -> impl Iterator<Item = &'s Pods<'s>> + 's {
        index.selected(self.ns(), &self.model.pod_selector)
    }
}

fn policies(resources: &[Resource]) -> Vec<NetPol<'_>> {
    netpol::policies(resources)
        .into_iter()
        .map(|model| NetPol {
            r: model.resource,
            model,
        })
        .collect()
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

fn no_default_deny(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let pols = policies(ctx.resources);
    // The first policy of each namespace that selects every pod for ingress, and for egress.
    let mut denies: HashMap<&str, [Option<&NetPol<'_>>; 2]> = HashMap::new();
    for pol in pols.iter().filter(|pol| pol.model.pod_selector.is_empty()) {
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

fn workload_not_selected(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let pols = policies(ctx.resources);
    let index = ctx.index();
    // For each pod, the policies that select it, in order.
    let mut selecting: Vec<Vec<&NetPol<'_>>> = vec![Vec::new(); index.pods().len()];
    for pol in &pols {
        for i in index.selected_positions(pol.ns(), &pol.model.pod_selector) {
            selecting[i].push(pol);
        }
    }
    for (p, selecting) in index.pods().iter().zip(selecting) {
        let ing = selecting.iter().any(|pol| pol.has(Dir::Ingress));
        let eg = selecting.iter().any(|pol| pol.has(Dir::Egress));
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
                    directions_text(pol.has(Dir::Ingress), pol.has(Dir::Egress))
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

fn allow_all(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    const HELP: &str = "name the peers (a podSelector, a namespaceSelector on kubernetes.io/metadata.name, a \
                        narrow ipBlock); a policy that must stay open goes in the policy file's allow_all";
    for pol in policies(ctx.resources) {
        if allowed_open(ctx, &pol) {
            continue;
        }
        let name = pol.r.name();
        for rule in pol.active_rules() {
            let dir = rule.direction;
            let what = format!(
                "{} rule {} of NetworkPolicy {name}",
                dir.key(),
                rule.index + 1
            );
            let everyone = match dir {
                Dir::Ingress => "from every source",
                Dir::Egress => "to every destination",
            };
            let ports = if rule.ports.is_empty() {
                "on every port"
            } else {
                "on the ports it lists"
            };
            let mut push = |origin, message: String| {
                out.push(ALLOW_ALL.finding(origin, Some(pol.r), message).help(HELP));
            };
            match &rule.peers {
                Peers::Any { written: None } => push(
                    rule.node.origin,
                    format!(
                        "{what} has no `{}`: it allows traffic {everyone} {ports}",
                        dir.peers_key()
                    ),
                ),
                Peers::Any { written: Some(n) } => push(
                    n.origin,
                    format!(
                        "{what} has an empty `{}`: it allows traffic {everyone} {ports}",
                        dir.peers_key()
                    ),
                ),
                Peers::Listed(list) => {
                    for peer in list {
                        if let Some((origin, why)) = open_peer(peer) {
                            push(origin, format!("{what}: {why}"));
                        }
                    }
                    // Blocks that only together cover a whole address family.
                    for (family, blocks) in rule.covers_every_address() {
                        if blocks.len() < 2 {
                            continue;
                        }
                        let texts: Vec<String> = blocks
                            .iter()
                            .filter_map(|p| match &p.kind {
                                PeerKind::IpBlock(b) => Some(format!("`{}`", b.cidr.text)),
                                _ => None,
                            })
                            .collect();
                        let origin = match &blocks[0].kind {
                            PeerKind::IpBlock(b) => b.cidr.origin(),
                            _ => None,
                        }
                        .unwrap_or(blocks[0].node.origin);
                        push(
                            origin,
                            format!(
                                "{what}: the `ipBlock`s {} together match every {} address",
                                texts.join(", "),
                                family.as_str()
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Why a peer matches everything, and where.
fn open_peer(peer: &netpol::Peer<'_>) -> Option<(crate::node::Origin, String)> {
    match &peer.kind {
        PeerKind::Everything => Some((
            peer.node.origin,
            "an empty peer matches every source and destination".into(),
        )),
        PeerKind::IpBlock(b) => {
            let net = b.cidr.net.as_ref().ok()?;
            (net.prefix_len() == 0).then(|| {
                let family = match net {
                    ipnet::IpNet::V4(_) => "IPv4",
                    ipnet::IpNet::V6(_) => "IPv6",
                };
                (
                    b.cidr.origin().unwrap_or(peer.node.origin),
                    format!(
                        "`ipBlock` `{}` matches every {family} address",
                        b.cidr.text
                    ),
                )
            })
        }
        PeerKind::Pods {
            namespaces: Namespaces::Selected(ns),
            pods,
            ..
        } if ns.is_empty() && pods.is_empty() => Some((
            peer.namespace_selector_node()
                .map_or(peer.node.origin, |n| n.origin),
            "an empty `namespaceSelector` without a `podSelector` matches every pod of every namespace".into(),
        )),
        PeerKind::Pods { .. } => None,
    }
}

fn invalid_cidr(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for pol in policies(ctx.resources) {
        for dir in Dir::BOTH {
            for rule in pol.model.rules(dir) {
                for peer in rule.listed_peers() {
                    let PeerKind::IpBlock(b) = &peer.kind else {
                        continue;
                    };
                    for (cidr, why) in b.invalid() {
                        out.push(
                            INVALID_CIDR
                                .finding(
                                    cidr.origin().unwrap_or(peer.node.origin),
                                    Some(pol.r),
                                    format!(
                                        "{} rule {} of NetworkPolicy {}: {why}; the API server rejects the policy",
                                        dir.key(),
                                        rule.index + 1,
                                        pol.r.name()
                                    ),
                                )
                                .help("write an address and a prefix length, such as `10.0.0.0/8`"),
                        );
                    }
                }
            }
        }
    }
}

fn dead_rules(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for pol in policies(ctx.resources) {
        for dir in Dir::BOTH {
            let dead = pol.model.dead_rules(dir);
            let Some(first) = dead.first() else {
                continue;
            };
            let types = pol
                .model
                .policy_types_node
                .map_or(pol.r.name_origin(), |n| n.origin);
            out.push(
                DEAD_RULES
                    .finding(
                        first.node.origin,
                        Some(pol.r),
                        format!(
                            "NetworkPolicy {} has {} {} rule{} but its policyTypes leave out {}: Kubernetes ignores them",
                            pol.r.name(),
                            dead.len(),
                            dir.key(),
                            if dead.len() == 1 { "" } else { "s" },
                            dir.policy_type()
                        ),
                    )
                    .related(types, "the policy's types")
                    .help(format!(
                        "add `{}` to policyTypes, or remove the {} rules",
                        dir.policy_type(),
                        dir.key()
                    )),
            );
        }
    }
}

fn policy_selects_nothing(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    for pol in policies(ctx.resources) {
        if pol.model.pod_selector.is_empty()
            || pol.model.pod_selector.names_controller_made_label()
            || ctx
                .policy
                .selects_external_pods(pol.ns(), &pol.model.pod_selector)
            || pol.selected(index).next().is_some()
        {
            continue;
        }
        let origin = pol
            .model
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

/// The namespaces of the tree a peer's pods may live in, when the tree can tell: the policy's own
/// without a `namespaceSelector`; with one, the namespaces it pins by `kubernetes.io/metadata.name`
/// whose labels satisfy every other term of it, when the tree renders all of them. `None`: unknown
/// (other labels, or namespaces outside the tree).
fn peer_namespaces<'n>(
    namespaces: &Namespaces,
    own: &'n str,
    in_tree: &BTreeSet<&str>,
    ns_labels: &'n BTreeMap<String, Labels>,
) -> Option<(Vec<String>, Vec<&'n str>)> {
    match namespaces {
        Namespaces::Own => Some((vec![own.to_string()], vec![own])),
        Namespaces::Selected(sel) => {
            let names = sel.pinned_namespaces()?;
            if !names.iter().all(|n| in_tree.contains(n.as_str())) {
                return None;
            }
            let matching = ns_labels
                .iter()
                .filter(|(n, l)| names.contains(*n) && namespaces.contains(own, n, l))
                .map(|(n, _)| n.as_str())
                .collect();
            Some((names.into_iter().collect(), matching))
        }
    }
}

fn peer_selects_nothing(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    let in_tree = index.namespaces();
    let ns_labels = k8s::namespace_labels(ctx.resources);
    for pol in policies(ctx.resources) {
        for rule in pol.active_rules() {
            for peer in rule.listed_peers() {
                let PeerKind::Pods {
                    namespaces, pods, ..
                } = &peer.kind
                else {
                    continue;
                };
                let Some(sel_node) = peer.pod_selector_node() else {
                    continue;
                };
                if pods.is_empty() {
                    continue;
                }
                let Some((named, nss)) = peer_namespaces(namespaces, pol.ns(), in_tree, &ns_labels)
                else {
                    continue;
                };
                if pods.names_controller_made_label()
                    || nss.iter().any(|ns| {
                        index.selected(ns, pods).next().is_some()
                            || ctx.policy.selects_external_pods(ns, pods)
                    })
                {
                    continue;
                }
                let where_ = named
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
                                rule.direction.key(),
                                rule.index + 1,
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
    rule: &Rule<'_>,
    own: &str,
    index: &'p Index<'a>,
    ns_labels: &BTreeMap<String, Labels>,
) -> Option<Vec<&'p Pods<'a>>> {
    let Peers::Listed(peers) = &rule.peers else {
        return None;
    };
    let mut found = Vec::new();
    for peer in peers {
        let PeerKind::Pods {
            namespaces, pods, ..
        } = &peer.kind
        else {
            return None;
        };
        let (_, nss) = peer_namespaces(namespaces, own, index.namespaces(), ns_labels)?;
        // In the order of the pods, as one pass over them would find them.
        let mut positions: Vec<usize> = nss
            .iter()
            .flat_map(|ns| index.selected_positions(ns, pods))
            .collect();
        positions.sort_unstable();
        found.extend(positions.into_iter().map(|i| &index.pods()[i]));
    }
    Some(found)
}

fn port_not_exposed(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    let ns_labels = k8s::namespace_labels(ctx.resources);
    for pol in policies(ctx.resources) {
        let selected: Vec<&Pods<'_>> = pol.selected(index).collect();
        for rule in pol.active_rules() {
            let dir = rule.direction;
            if rule.ports.is_empty() {
                continue;
            }
            let concerned = match dir {
                Dir::Ingress => selected.clone(),
                Dir::Egress => match peer_pods(rule, pol.ns(), index, &ns_labels) {
                    Some(p) => p,
                    None => continue,
                },
            };
            if concerned.is_empty() || concerned.iter().any(|p| p.ports.is_none()) {
                continue;
            }
            for port in &rule.ports {
                let protocol = port.protocol.as_str();
                let Some(p) = port.port_node else {
                    continue;
                };
                let exposed = match &port.port {
                    PortSel::Number { from, to } => concerned.iter().any(|pods| {
                        pods.ports
                            .iter()
                            .flatten()
                            .any(|c| c.protocol == protocol && (*from..=*to).contains(&c.number))
                    }),
                    PortSel::Name(name) => concerned.iter().any(|pods| {
                        pods.ports.iter().flatten().any(|c| {
                            c.protocol == protocol && c.name.as_deref() == Some(name.as_str())
                        })
                    }),
                    PortSel::Every => continue,
                };
                if exposed {
                    continue;
                }
                let text = port.port.to_string();
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
                                rule.index + 1,
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
