//! NetworkPolicies (`networking.k8s.io/v1`) as the API server defaults them and the network plugin
//! enforces them. Every stage that reasons about them (the `netpol/` checks, the network map, the
//! reviewer's risks in `diff`) reads them here, so they cannot disagree.
//!
//! - Directions: `policyTypes` as written; when it is missing or empty (`policyTypes: []`), `Ingress`
//!   always and `Egress` when the policy has at least one egress rule (`egress: []` has none).
//! - A rule's peers: none listed (no `from`/`to`, or an empty list) is every source or destination; each
//!   listed peer is `{}` (everything), an `ipBlock` (addresses, its CIDRs parsed), or pods chosen by a
//!   `podSelector` (missing: every pod) in the policy's own namespace or, with a `namespaceSelector`, in the
//!   namespaces whose labels it matches, every term of it kept.
//! - A rule's ports: none listed is every port; each is a number (with `endPort` a range), a name that
//!   resolves against the destination's containers, or every port of a protocol (TCP by default).
//!
//! The model compares as values (selectors term by term, ports as ranges, CIDRs as networks), so two
//! revisions of a policy can be told apart by what their rules admit: see [`Rule::within`].

use ipnet::IpNet;
use std::fmt;

use crate::k8s::selector::{Labels, Selector, NAMESPACE_NAME_LABEL};
use crate::node::{Node, Origin, Value};
use crate::resource::Resource;

/// Whether a resource is a NetworkPolicy of the Kubernetes API.
pub fn is_network_policy(r: &Resource) -> bool {
    r.kind() == "NetworkPolicy" && r.group() == "networking.k8s.io"
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    /// The key of its rules: `ingress`, `egress`.
    pub fn key(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
    /// The key of a rule's peers: `from`, `to`.
    pub fn peers_key(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }
    /// As `policyTypes` writes it: `Ingress`, `Egress`.
    pub fn policy_type(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }
    pub fn other(self) -> Direction {
        match self {
            Direction::Ingress => Direction::Egress,
            Direction::Egress => Direction::Ingress,
        }
    }
}

/// A NetworkPolicy, read.
pub struct NetworkPolicy<'a> {
    pub resource: &'a Resource,
    pub namespace: &'a str,
    pub pod_selector: Selector,
    pub pod_selector_node: Option<&'a Node>,
    /// `spec.policyTypes`, when written and not empty.
    pub policy_types_node: Option<&'a Node>,
    ingress: bool,
    egress: bool,
    /// Every rule written, including those of a direction the policy does not apply in.
    pub ingress_rules: Vec<Rule<'a>>,
    pub egress_rules: Vec<Rule<'a>>,
}

impl<'a> NetworkPolicy<'a> {
    /// Reads a NetworkPolicy; `None` for any other kind of object.
    pub fn read(r: &'a Resource) -> Option<NetworkPolicy<'a>> {
        if !is_network_policy(r) {
            return None;
        }
        let spec = r.node.get("spec");
        let rules = |dir: Direction| -> Vec<Rule<'a>> {
            spec.and_then(|s| s.get(dir.key()))
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .enumerate()
                .map(|(i, n)| Rule::read(n, i, dir))
                .collect()
        };
        let ingress_rules = rules(Direction::Ingress);
        let egress_rules = rules(Direction::Egress);
        // The API server defaults a missing or empty list: Ingress, plus Egress with egress rules.
        let types_node = spec
            .and_then(|s| s.get("policyTypes"))
            .filter(|n| n.as_seq().is_some_and(|l| !l.is_empty()));
        let (ingress, egress) = match types_node.and_then(Node::as_seq) {
            Some(list) => {
                let has = |t: &str| list.iter().any(|n| n.as_str() == Some(t));
                (has("Ingress"), has("Egress"))
            }
            None => (true, !egress_rules.is_empty()),
        };
        let pod_selector_node = spec.and_then(|s| s.get("podSelector"));
        Some(NetworkPolicy {
            resource: r,
            namespace: r.namespace(),
            pod_selector: Selector::label_selector(pod_selector_node),
            pod_selector_node,
            policy_types_node: types_node,
            ingress,
            egress,
            ingress_rules,
            egress_rules,
        })
    }

    pub fn name(&self) -> &'a str {
        self.resource.name()
    }

    /// Whether the policy applies in a direction (isolates the pods it selects for it).
    pub fn applies(&self, dir: Direction) -> bool {
        match dir {
            Direction::Ingress => self.ingress,
            Direction::Egress => self.egress,
        }
    }

    /// The rules written for a direction, whether or not the policy applies in it.
    pub fn rules(&self, dir: Direction) -> &[Rule<'a>] {
        match dir {
            Direction::Ingress => &self.ingress_rules,
            Direction::Egress => &self.egress_rules,
        }
    }

    /// The rules the network plugin enforces: those of the directions the policy applies in.
    pub fn active_rules(&self) -> impl Iterator<Item = &Rule<'a>> + '_ {
        Direction::BOTH
            .into_iter()
            .filter(|d| self.applies(*d))
            .flat_map(|d| self.rules(d).iter())
    }

    /// The rules of a direction the policy does not apply in: Kubernetes ignores them.
    pub fn dead_rules(&self, dir: Direction) -> &[Rule<'a>] {
        if self.applies(dir) {
            &[]
        } else {
            self.rules(dir)
        }
    }

    /// Whether it selects pods with these labels (in its own namespace).
    pub fn selects(&self, namespace: &str, labels: &Labels) -> bool {
        self.namespace == namespace && self.pod_selector.matches(labels)
    }
}

/// Every NetworkPolicy of a list of resources, in order.
pub fn policies(resources: &[Resource]) -> Vec<NetworkPolicy<'_>> {
    resources.iter().filter_map(NetworkPolicy::read).collect()
}

/// One ingress or egress rule.
pub struct Rule<'a> {
    pub node: &'a Node,
    /// Its place in the policy's list (0-based).
    pub index: usize,
    pub direction: Direction,
    pub peers: Peers<'a>,
    /// Empty: every port.
    pub ports: Vec<PortRule<'a>>,
}

/// The peers of a rule.
pub enum Peers<'a> {
    /// No peer listed: every source or destination. `written` is the empty (or malformed) list, when
    /// there is one rather than no key at all.
    Any {
        written: Option<&'a Node>,
    },
    Listed(Vec<Peer<'a>>),
}

impl<'a> Rule<'a> {
    fn read(node: &'a Node, index: usize, direction: Direction) -> Rule<'a> {
        let peers = match node.get(direction.peers_key()) {
            None => Peers::Any { written: None },
            Some(list) => match list.as_seq() {
                Some(items) if !items.is_empty() => {
                    Peers::Listed(items.iter().map(Peer::read).collect())
                }
                _ => Peers::Any {
                    written: Some(list),
                },
            },
        };
        let ports = node
            .get("ports")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .map(PortRule::read)
            .collect();
        Rule {
            node,
            index,
            direction,
            peers,
            ports,
        }
    }

    /// The listed peers (none for a rule that admits every peer).
    pub fn listed_peers(&self) -> &[Peer<'a>] {
        match &self.peers {
            Peers::Any { .. } => &[],
            Peers::Listed(p) => p,
        }
    }

    /// True when everything this rule admits, `wide` admits too (peers and ports). Decided peer by
    /// peer and port by port, so it may say `false` for a rule that a combination of others covers.
    pub fn within(&self, wide: &Rule<'_>) -> bool {
        let peers_ok = match (&wide.peers, &self.peers) {
            (Peers::Any { .. }, _) => true,
            (Peers::Listed(_), Peers::Any { .. }) => false,
            (Peers::Listed(w), Peers::Listed(n)) => {
                n.iter().all(|p| w.iter().any(|q| p.kind.within(&q.kind)))
            }
        };
        let ports_ok = wide.ports.is_empty()
            || (!self.ports.is_empty()
                && self.ports.iter().all(|p| {
                    wide.ports
                        .iter()
                        .any(|q| p.port.within(&q.port, &p.protocol, &q.protocol))
                }));
        peers_ok && ports_ok
    }

    /// The IPv4 and IPv6 networks its `ipBlock` peers cover together (their `cidr`s, merged), when
    /// that is every address of a family: `Some` with the blocks involved.
    pub fn covers_every_address(&self) -> Vec<(Family, Vec<&Peer<'a>>)> {
        let mut out = Vec::new();
        for family in [Family::V4, Family::V6] {
            let blocks: Vec<(&Peer<'a>, IpNet)> = self
                .listed_peers()
                .iter()
                .filter_map(|p| match &p.kind {
                    PeerKind::IpBlock(b) => b.cidr.net.as_ref().ok().map(|net| (p, *net)),
                    _ => None,
                })
                .filter(|(_, net)| Family::of(net) == family)
                .collect();
            if blocks.is_empty() {
                continue;
            }
            let nets: Vec<IpNet> = blocks.iter().map(|(_, n)| *n).collect();
            if IpNet::aggregate(&nets).iter().any(|n| n.prefix_len() == 0) {
                out.push((family, blocks.into_iter().map(|(p, _)| p).collect()));
            }
        }
        out
    }
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// One entry of `from` or `to`.
pub struct Peer<'a> {
    pub node: &'a Node,
    pub kind: PeerKind<'a>,
}

/// What a peer admits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerKind<'a> {
    /// `{}` (or not a mapping): every source or destination.
    Everything,
    /// Addresses: `cidr` less `except`.
    IpBlock(IpBlock<'a>),
    /// Pods of some namespaces whose labels `pods` matches (an absent `podSelector` matches every pod).
    Pods {
        namespaces: Namespaces,
        pods: Selector,
        /// Whether a non-empty `podSelector` was written (for display).
        pods_written: bool,
    },
}

/// The namespaces a pod peer looks in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Namespaces {
    /// No `namespaceSelector`: the policy's own namespace.
    Own,
    /// The namespaces whose labels (the API server's name label included) the selector matches.
    Selected(Selector),
}

impl Namespaces {
    /// Whether a namespace with this name and labels (those of its Namespace object plus the name
    /// label) is one of them, for a policy in `own`.
    pub fn contains(&self, own: &str, name: &str, labels: &Labels) -> bool {
        match self {
            Namespaces::Own => name == own,
            Namespaces::Selected(sel) => sel.matches(labels),
        }
    }

    /// For a namespace the tree does not render (whose labels it cannot know beyond its name): `None`
    /// when the selector rules it out by name, else the terms left about its other labels (empty: it
    /// is selected whatever its labels).
    pub fn outside(&self, name: &str) -> Option<Selector> {
        match self {
            Namespaces::Own => None,
            Namespaces::Selected(sel) => sel
                .holds_for(NAMESPACE_NAME_LABEL, Some(name))
                .then(|| sel.without(NAMESPACE_NAME_LABEL)),
        }
    }

    fn within(&self, wide: &Namespaces) -> bool {
        match (self, wide) {
            (_, Namespaces::Selected(w)) if w.is_empty() => true,
            (Namespaces::Own, Namespaces::Own) => true,
            (Namespaces::Selected(n), Namespaces::Selected(w)) => n.implies(w),
            _ => false,
        }
    }
}

impl PeerKind<'_> {
    /// True when every source or destination `self` admits, `wide` admits too.
    pub fn within(&self, wide: &PeerKind<'_>) -> bool {
        match (self, wide) {
            (_, PeerKind::Everything) => true,
            (PeerKind::IpBlock(n), PeerKind::IpBlock(w)) => n.within(w),
            (
                PeerKind::Pods {
                    namespaces: nn,
                    pods: np,
                    ..
                },
                PeerKind::Pods {
                    namespaces: wn,
                    pods: wp,
                    ..
                },
            ) => nn.within(wn) && np.implies(wp),
            _ => false,
        }
    }
}

impl<'a> Peer<'a> {
    fn read(node: &'a Node) -> Peer<'a> {
        let kind = match node.as_map() {
            None => PeerKind::Everything,
            Some(m) if m.is_empty() => PeerKind::Everything,
            Some(_) => match node.get("ipBlock") {
                Some(b) => PeerKind::IpBlock(IpBlock::read(b)),
                None => {
                    let pods_node = node.get("podSelector");
                    let pods = Selector::label_selector(pods_node);
                    PeerKind::Pods {
                        namespaces: match node.get("namespaceSelector") {
                            None => Namespaces::Own,
                            Some(n) => Namespaces::Selected(Selector::label_selector(Some(n))),
                        },
                        pods_written: !pods.is_empty(),
                        pods,
                    }
                }
            },
        };
        Peer { node, kind }
    }

    pub fn namespace_selector_node(&self) -> Option<&'a Node> {
        self.node.get("namespaceSelector")
    }
    pub fn pod_selector_node(&self) -> Option<&'a Node> {
        self.node.get("podSelector")
    }
}

/// A CIDR as written, and as parsed.
#[derive(Clone, Debug)]
pub struct Cidr<'a> {
    pub node: Option<&'a Node>,
    /// As written, trimmed (empty when missing).
    pub text: String,
    /// The network (host bits cleared, as the network plugin reads it), or why it is not one.
    pub net: Result<IpNet, String>,
}

impl PartialEq for Cidr<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.net, &other.net) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.text == other.text,
        }
    }
}
impl Eq for Cidr<'_> {}

impl<'a> Cidr<'a> {
    fn read(node: Option<&'a Node>) -> Cidr<'a> {
        let text = node.and_then(Node::as_str).map(str::trim).unwrap_or("");
        let net = match node.map(|n| &n.value) {
            None => Err("an `ipBlock` needs a `cidr`".to_string()),
            Some(Value::Str(_)) => parse_cidr(text),
            Some(_) => Err("a CIDR is a string such as `10.0.0.0/8`".to_string()),
        };
        Cidr {
            node,
            text: text.to_string(),
            net,
        }
    }

    pub fn origin(&self) -> Option<Origin> {
        self.node.map(|n| n.origin)
    }
}

/// Parses `10.0.0.0/8` or `fd00::/8` (host bits are allowed and cleared, as Go's `net.ParseCIDR`
/// reads them); a bare address, a prefix too long for its family or anything else is an error.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    if !text.contains('/') {
        return Err(format!(
            "`{text}` is not a CIDR: write the prefix length too, such as `{text}/32`"
        ));
    }
    text.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("`{text}` is not a CIDR such as `10.0.0.0/8` or `fd00::/8`"))
}

/// An `ipBlock` peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpBlock<'a> {
    pub cidr: Cidr<'a>,
    pub except: Vec<Cidr<'a>>,
}

impl<'a> IpBlock<'a> {
    fn read(node: &'a Node) -> IpBlock<'a> {
        IpBlock {
            cidr: Cidr::read(node.get("cidr")),
            except: node
                .get("except")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .map(|n| Cidr::read(Some(n)))
                .collect(),
        }
    }

    /// The block as text: `10.0.0.0/8`, `0.0.0.0/0 except 10.0.0.0/8, 192.168.0.0/16` (as written).
    pub fn text(&self) -> String {
        if self.except.is_empty() {
            self.cidr.text.clone()
        } else {
            let except: Vec<&str> = self.except.iter().map(|c| c.text.as_str()).collect();
            format!("{} except {}", self.cidr.text, except.join(", "))
        }
    }

    /// Every CIDR of the block that does not parse.
    pub fn invalid(&self) -> impl Iterator<Item = (&Cidr<'a>, &str)> {
        std::iter::once(&self.cidr)
            .chain(self.except.iter())
            .filter_map(|c| c.net.as_ref().err().map(|e| (c, e.as_str())))
    }

    /// True when every address `self` admits, `wide` admits too.
    fn within(&self, wide: &IpBlock<'_>) -> bool {
        let (Ok(n), Ok(w)) = (&self.cidr.net, &wide.cidr.net) else {
            return self == wide;
        };
        // Each of `wide`'s holes must be outside `self`, or inside one of `self`'s own holes.
        w.contains(n)
            && wide.except.iter().all(|hole| match &hole.net {
                Ok(h) => {
                    !(n.contains(h) || h.contains(n))
                        || self
                            .except
                            .iter()
                            .any(|mine| mine.net.as_ref().is_ok_and(|m| m.contains(h)))
                }
                Err(_) => false,
            })
    }
}

/// One entry of a rule's `ports`.
pub struct PortRule<'a> {
    pub node: &'a Node,
    /// `TCP` unless written.
    pub protocol: String,
    pub port: PortSel,
    /// The `port` node, when written.
    pub port_node: Option<&'a Node>,
}

/// Which ports of a protocol an entry admits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortSel {
    /// `port`, or `port` to `endPort`.
    Number { from: i64, to: i64 },
    /// A named container port of the destination.
    Name(String),
    /// No `port` (or not a number or a name): every port.
    Every,
}

impl<'a> PortRule<'a> {
    fn read(node: &'a Node) -> PortRule<'a> {
        let protocol = node.str_at(&["protocol"]).unwrap_or("TCP").to_string();
        let port_node = node.get("port");
        let port = match port_node.map(|n| &n.value) {
            Some(Value::Int(n)) => PortSel::Number {
                from: *n,
                to: node.get("endPort").and_then(Node::as_i64).unwrap_or(*n),
            },
            Some(Value::Str(name)) => PortSel::Name(name.clone()),
            _ => PortSel::Every,
        };
        PortRule {
            node,
            protocol,
            port,
            port_node,
        }
    }
}

impl PortSel {
    /// True when every port `self` admits on protocol `mine`, `wide` admits on `theirs`.
    fn within(&self, wide: &PortSel, mine: &str, theirs: &str) -> bool {
        mine == theirs
            && match (self, wide) {
                (_, PortSel::Every) => true,
                (PortSel::Number { from, to }, PortSel::Number { from: f, to: t }) => {
                    f <= from && to.max(from) <= t.max(f)
                }
                (PortSel::Name(a), PortSel::Name(b)) => a == b,
                _ => false,
            }
    }
}

impl fmt::Display for PortSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSel::Number { from, to } if from == to => write!(f, "{from}"),
            PortSel::Number { from, to } => write!(f, "{from}-{to}"),
            PortSel::Name(n) => write!(f, "`{n}`"),
            PortSel::Every => f.write_str("every port"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::FileId;

    fn origin() -> Origin {
        Origin {
            file: FileId(0),
            start: 0,
            end: 0,
            line: 1,
            col: 1,
        }
    }

    fn resource(spec: serde_json::Value) -> Resource {
        Resource::new(Node::from_json(
            &serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "p", "namespace": "a"}, "spec": spec}),
            origin(),
        ))
    }

    fn dirs(spec: serde_json::Value) -> (bool, bool) {
        let r = resource(spec);
        let p = NetworkPolicy::read(&r).expect("a NetworkPolicy");
        (p.applies(Direction::Ingress), p.applies(Direction::Egress))
    }

    #[test]
    fn policy_types_default_as_the_api_server_does() {
        use serde_json::json;
        assert_eq!(dirs(json!({"podSelector": {}})), (true, false));
        assert_eq!(
            dirs(json!({"podSelector": {}, "egress": []})),
            (true, false)
        );
        assert_eq!(
            dirs(json!({"podSelector": {}, "egress": [{}]})),
            (true, true)
        );
        assert_eq!(dirs(json!({"policyTypes": []})), (true, false));
        assert_eq!(
            dirs(json!({"policyTypes": [], "egress": [{}]})),
            (true, true)
        );
        assert_eq!(
            dirs(json!({"policyTypes": ["Egress"], "ingress": [{}]})),
            (false, true)
        );
        assert_eq!(
            dirs(json!({"policyTypes": ["Ingress", "Egress"]})),
            (true, true)
        );
    }

    #[test]
    fn cidrs_are_addresses() {
        assert_eq!(
            parse_cidr("10.1.2.3/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert!(parse_cidr("0000::/0").is_ok_and(|n| n.prefix_len() == 0));
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("300.0.0.0/8").is_err());
        let r = resource(serde_json::json!({"egress": [{"to": [
            {"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}},
            {"ipBlock": {"cidr": "::/1"}}]}]}));
        let p = NetworkPolicy::read(&r).expect("a NetworkPolicy");
        let covered = p.egress_rules[0].covers_every_address();
        assert_eq!(covered.len(), 1);
        assert_eq!(covered[0].0, Family::V4);
        assert_eq!(covered[0].1.len(), 2);
    }

    #[test]
    fn rules_compare_by_what_they_admit() {
        let r = resource(serde_json::json!({"ingress": [
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": 80, "endPort": 90}]},
            {"from": [{"ipBlock": {"cidr": "10.2.0.0/16"}}], "ports": [{"port": 85}]},
            {"from": [{"ipBlock": {"cidr": "10.1.2.0/24"}}], "ports": [{"port": 85}]},
            {"from": [{"namespaceSelector": {"matchLabels": {"team": "x"}}, "podSelector": {"matchLabels": {"app": "a"}}}]},
            {"from": [{"namespaceSelector": {}}]}
        ]}));
        let p = NetworkPolicy::read(&r).expect("a NetworkPolicy");
        let rules = p.rules(Direction::Ingress);
        assert!(rules[1].within(&rules[0]));
        assert!(!rules[0].within(&rules[1]));
        assert!(
            !rules[2].within(&rules[0]),
            "10.1.2.0/24 is in a hole of rule 1"
        );
        assert!(rules[3].within(&rules[4]));
        assert!(!rules[4].within(&rules[3]));
    }

    #[test]
    fn namespace_selectors_keep_every_term() {
        let sel = Selector::label_selector(Some(&Node::from_json(
            &serde_json::json!({"matchLabels": {NAMESPACE_NAME_LABEL: "monitoring", "team": "x"},
                "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": ["kube-system"]}]}),
            origin(),
        )));
        let ns = Namespaces::Selected(sel);
        assert_eq!(ns.outside("kube-system"), None);
        let left = ns
            .outside("monitoring")
            .expect("monitoring is not ruled out");
        assert_eq!(left.text(), "team=x");
        let mut labels = Labels::new();
        labels.insert(NAMESPACE_NAME_LABEL.into(), "monitoring".into());
        assert!(!ns.contains("a", "monitoring", &labels));
        labels.insert("team".into(), "x".into());
        assert!(ns.contains("a", "monitoring", &labels));
    }
}
