//! The changes a reviewer must not miss, read from both sides of a resource (as JSON):
//!
//! - a NetworkPolicy removed, or loosened: a direction no longer restricted, a pod selector that may
//!   select fewer pods, a rule that allows what no earlier rule allowed;
//! - replicas reduced; CPU, memory or ephemeral-storage requests or limits reduced or removed;
//! - a container image changed (tag or digest);
//! - new exposure: a Service becoming `LoadBalancer` or `NodePort`, a new Ingress or HTTPRoute host;
//! - anything about secrets (Secret, ExternalSecret, SealedSecret, secret stores).

use serde_json::Value;

use super::ChangeKind;
use crate::k8s::netpol::{Direction, Namespaces, NetworkPolicy, PeerKind, Peers, PortSel, Rule};
use crate::k8s::quantity::quantity;
use crate::k8s::selector::{Op, Selector};
use crate::k8s::workload::{containers, has_replicas, pod_template_path};
use crate::node::{Key, Node};
use crate::resource::Resource;

/// The risks of one changed resource file, in a stable order. The objects are read through
/// [`crate::k8s`], as `check` and `netmap` read them.
pub fn assess(
    kind: &str,
    change: ChangeKind,
    old: Option<&Node>,
    new: Option<&Node>,
) -> Vec<String> {
    let mut out = Vec::new();
    if kind.contains("Secret") {
        out.push(format!(
            "{kind} {}: review who can read it and where its values come from",
            change.as_str()
        ));
    }
    match (kind, old, new) {
        ("NetworkPolicy", Some(_), None) => {
            out.push("NetworkPolicy removed: the pods it selected lose this isolation".to_string())
        }
        ("NetworkPolicy", Some(o), Some(n)) => out.extend(netpol_loosened(o, n)),
        _ => {}
    }
    if let (Some(o), Some(n)) = (old, new) {
        workload(kind, o, n, &mut out);
    }
    if let Some(n) = new {
        let old_json = old.map(Node::to_json);
        exposure(kind, old_json.as_ref(), &n.to_json(), &mut out);
    }
    out
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 100 {
        format!("{}…", s.chars().take(100).collect::<String>())
    } else {
        s
    }
}

/// Compares two revisions of a NetworkPolicy (both read as Kubernetes reads them, whatever their kind
/// says: the caller knows they are NetworkPolicies).
fn netpol_loosened(old: &Node, new: &Node) -> Vec<String> {
    let (old_r, new_r) = (as_policy(old), as_policy(new));
    let (Some(old), Some(new)) = (NetworkPolicy::read(&old_r), NetworkPolicy::read(&new_r)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dir in Direction::BOTH {
        if old.applies(dir) && !new.applies(dir) {
            out.push(format!(
                "NetworkPolicy loosened: no longer restricts {} traffic",
                dir.policy_type()
            ));
        }
    }
    if old.pod_selector != new.pod_selector {
        // More terms select fewer pods; a selector the old one implies selects at least those pods.
        if !old.pod_selector.implies(&new.pod_selector) {
            out.push(format!(
                "NetworkPolicy loosened: podSelector changed to {}: pods it selected before may no longer be isolated",
                new.pod_selector_node
                    .map(|n| compact(&n.to_json()))
                    .unwrap_or_else(|| "{}".to_string())
            ));
        }
    }
    for dir in Direction::BOTH {
        if !old.applies(dir) || !new.applies(dir) {
            continue;
        }
        for rule in new.rules(dir) {
            if !old.rules(dir).iter().any(|o| rule.within(o)) {
                out.push(format!(
                    "NetworkPolicy loosened: {}",
                    rule_gain(rule, old.rules(dir))
                ));
            }
        }
    }
    out
}

/// A peer in words: `pods app.kubernetes.io/name=openim-api`, `namespace kb-system`, `ipBlock
/// 10.0.0.0/8`, `anywhere`.
pub fn peer_words(kind: &PeerKind<'_>) -> String {
    match kind {
        PeerKind::Everything => "anywhere".to_string(),
        PeerKind::IpBlock(b) => format!("ipBlock {}", b.text()),
        PeerKind::Pods {
            namespaces, pods, ..
        } => {
            let pods_text = if pods.is_empty() {
                "every pod".to_string()
            } else {
                format!("pods {}", pods.text())
            };
            match namespaces {
                Namespaces::Own => pods_text,
                Namespaces::Selected(sel) => {
                    let ns = match sel.pinned_namespaces() {
                        Some(names) if names.len() == 1 => {
                            format!("namespace {}", names.iter().next().map_or("", |n| n))
                        }
                        Some(names) => format!(
                            "namespaces {}",
                            names.into_iter().collect::<Vec<_>>().join(", ")
                        ),
                        None if sel.is_empty() => "every namespace".to_string(),
                        None => format!("namespaces {}", sel.text()),
                    };
                    format!("{pods_text} of {ns}")
                }
            }
        }
    }
}

/// The ports of a rule in words: `any port`, `27017/TCP`, `10002/TCP, http/TCP`.
pub fn ports_words(rule: &Rule<'_>) -> String {
    if rule.ports.is_empty() {
        return "any port".to_string();
    }
    rule.ports
        .iter()
        .map(|p| match &p.port {
            PortSel::Number { from, to } if from == to => format!("{from}/{}", p.protocol),
            PortSel::Number { from, to } => format!("{from}-{to}/{}", p.protocol),
            PortSel::Name(n) => format!("{n}/{}", p.protocol),
            PortSel::Every => format!("every {} port", p.protocol),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// When `new` is `old` with values added to one `In` term of its pod selector: those values, in words
/// (`pods app.kubernetes.io/name=openim-crontask`).
fn widened(new: &PeerKind<'_>, old: &PeerKind<'_>) -> Option<String> {
    let (
        PeerKind::Pods {
            namespaces: nn,
            pods: np,
            ..
        },
        PeerKind::Pods {
            namespaces: on,
            pods: op,
            ..
        },
    ) = (new, old)
    else {
        return None;
    };
    if nn != on || np.requirements.len() != op.requirements.len() {
        return None;
    }
    let mut added: Option<(String, Vec<String>)> = None;
    for n in &np.requirements {
        if op.requirements.iter().any(|o| o == n) {
            continue;
        }
        let o = op.requirements.iter().find(|o| {
            o.key == n.key
                && o.op == Op::In
                && n.op == Op::In
                && o.value_set().is_subset(&n.value_set())
        })?;
        if added.is_some() {
            return None;
        }
        let values = n
            .values
            .iter()
            .filter(|v| !o.values.contains(v))
            .cloned()
            .collect();
        added = Some((n.key.clone(), values));
    }
    let (key, values) = added?;
    let mut sel = Selector::default();
    sel.requirements.push(crate::k8s::selector::Requirement {
        key,
        op: Op::In,
        from_match_labels: values.len() == 1,
        values,
        unknown_op: None,
        origin: np.requirements[0].origin,
    });
    Some(peer_words(&PeerKind::Pods {
        namespaces: nn.clone(),
        pods_written: true,
        pods: sel,
    }))
}

/// What a rule admits that no rule of `old` did, in words: the peers it adds, or the ports it widens.
fn rule_gain(rule: &Rule<'_>, old: &[Rule<'_>]) -> String {
    let dir = rule.direction;
    let word = match dir {
        Direction::Ingress => "ingress from",
        Direction::Egress => "egress to",
    };
    let peers: Vec<String> = match &rule.peers {
        Peers::Any { .. } => vec!["anywhere".to_string()],
        Peers::Listed(list) => list
            .iter()
            .filter(|p| {
                !old.iter().any(|o| match &o.peers {
                    Peers::Any { .. } => true,
                    Peers::Listed(l) => l.iter().any(|q| p.kind.within(&q.kind)),
                })
            })
            .map(|p| {
                // The same peer with values added to one `In` term: name only what was added.
                old.iter()
                    .flat_map(|o| o.listed_peers())
                    .find_map(|q| widened(&p.kind, &q.kind))
                    .unwrap_or_else(|| peer_words(&p.kind))
            })
            .collect(),
    };
    if peers.is_empty() {
        format!(
            "{} rule {} admits more ports than before: {}",
            dir.key(),
            rule.index + 1,
            ports_words(rule)
        )
    } else {
        format!("{word} {} added ({})", peers.join(", "), ports_words(rule))
    }
}

/// A NetworkPolicy object around `node`, for reading it: the rendered file may lack `apiVersion`.
fn as_policy(node: &Node) -> Resource {
    let mut node = node.clone();
    let origin = node.origin;
    if let Some(m) = node.as_map_mut() {
        for (key, value) in [
            ("apiVersion", "networking.k8s.io/v1"),
            ("kind", "NetworkPolicy"),
        ] {
            m.insert(
                Key {
                    name: key.to_string(),
                    origin,
                },
                Node::str(value, origin),
            );
        }
    }
    Resource::new(node)
}

/// A value as text: a scalar as Kubernetes reads it, anything else as JSON.
fn text(v: &Node) -> String {
    match &v.value {
        crate::node::Value::Str(s) => s.clone(),
        _ => v.to_json().to_string(),
    }
}

fn workload(kind: &str, old: &Node, new: &Node, out: &mut Vec<String>) {
    if has_replicas(kind) {
        // An unset count is one replica (with an autoscaler it is left to it: not a reduction).
        let count = |v: &Node| v.path(&["spec", "replicas"]).and_then(Node::as_i64);
        let (o, n) = (count(old), count(new));
        if let (Some(o), n) = (o, n) {
            let n_value = n.unwrap_or(1);
            if n_value < o {
                out.push(format!(
                    "replicas reduced: {o} -> {}",
                    n.map(|n| n.to_string())
                        .unwrap_or_else(|| "unset (1)".into())
                ));
            }
        }
    }
    fn spec<'n>(kind: &str, v: &'n Node) -> Option<&'n Node> {
        v.path(pod_template_path(kind)?)?.get("spec")
    }
    let spec = |v| spec(kind, v);
    let (Some(os), Some(ns)) = (spec(old), spec(new)) else {
        return;
    };
    let old_containers = containers(os);
    for nc in containers(ns) {
        let name = nc.name;
        let Some(oc) = old_containers.iter().find(|c| c.name == name) else {
            continue;
        };
        let (oc, nc) = (oc.node, nc.node);
        if let (Some(oi), Some(ni)) = (oc.get("image"), nc.get("image")) {
            if oi.to_json() != ni.to_json() {
                out.push(format!(
                    "image changed in container {name}: {} -> {}",
                    text(oi),
                    text(ni)
                ));
            }
        }
        for class in ["requests", "limits"] {
            for resource in ["cpu", "memory", "ephemeral-storage"] {
                let path = ["resources", class, resource];
                let (o, n) = (oc.path(&path), nc.path(&path));
                match (o, n) {
                    (Some(o), None) => out.push(format!(
                        "{class}.{resource} removed from container {name} (was {})",
                        text(o)
                    )),
                    (Some(o), Some(n)) => {
                        if let (Ok(a), Ok(b)) = (quantity(o), quantity(n)) {
                            if b < a {
                                out.push(format!(
                                    "{class}.{resource} reduced in container {name}: {} -> {}",
                                    text(o),
                                    text(n)
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

fn hosts(kind: &str, v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match kind {
        "Ingress" => list(v, &["spec", "rules"])
            .iter()
            .map(|r| {
                r.get("host")
                    .and_then(Value::as_str)
                    .unwrap_or("*")
                    .to_string()
            })
            .chain(
                list(v, &["spec", "tls"])
                    .iter()
                    .flat_map(|t| list(t, &["hosts"]))
                    .filter_map(Value::as_str)
                    .map(str::to_string),
            )
            .collect(),
        "HTTPRoute" | "GRPCRoute" | "TLSRoute" => list(v, &["spec", "hostnames"])
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    out
}

fn exposure(kind: &str, old: Option<&Value>, new: &Value, out: &mut Vec<String>) {
    if kind == "Service" {
        let ty = |v: &Value| {
            get(v, &["spec", "type"])
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP")
                .to_string()
        };
        let n = ty(new);
        let o = old.map(ty);
        if (n == "LoadBalancer" || n == "NodePort") && o.as_deref() != Some(n.as_str()) {
            out.push(format!(
                "new public exposure: Service type {n}{}",
                o.map(|o| format!(" (was {o})")).unwrap_or_default()
            ));
        }
    }
    let before = old.map(|o| hosts(kind, o)).unwrap_or_default();
    for h in hosts(kind, new) {
        if !before.contains(&h) {
            out.push(format!("new public exposure: {kind} host {h}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{FileId, Origin};
    use serde_json::json;

    fn node(v: &Value) -> Node {
        let origin = Origin {
            file: FileId(0),
            start: 0,
            end: 0,
            line: 1,
            col: 1,
        };
        Node::from_json(v, origin)
    }

    fn loosened(old: &Value, new: &Value) -> Vec<String> {
        netpol_loosened(&node(old), &node(new))
    }

    fn assess(
        kind: &str,
        change: ChangeKind,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> Vec<String> {
        let (old, new) = (old.map(node), new.map(node));
        super::assess(kind, change, old.as_ref(), new.as_ref())
    }

    fn np(spec: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "x"}, "spec": spec})
    }

    #[test]
    fn removing_a_value_from_an_in_peer_is_not_loosening() {
        let policy = |values: serde_json::Value| {
            serde_json::json!({"spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [
                {"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": values}]}}
            ]}]}})
        };
        let wide = policy(serde_json::json!(["api", "push"]));
        let narrow = policy(serde_json::json!(["api"]));
        assert!(loosened(&wide, &narrow).is_empty());
        assert_eq!(loosened(&narrow, &wide).len(), 1);
    }

    #[test]
    fn what_a_rule_gains_is_said_in_words() {
        let ingress = |from: Value| {
            np(
                json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": from, "ports": [{"port": 27017}]}]}),
            )
        };
        let in_list = |values: Value| json!([{"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": values}]}}]);
        // Values added to an `In` list: only the new ones named.
        assert_eq!(
            loosened(
                &ingress(in_list(json!(["a", "b"]))),
                &ingress(in_list(json!(["a", "b", "c"])))
            ),
            ["NetworkPolicy loosened: ingress from pods app=c added (27017/TCP)"]
        );
        let ns = json!([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kb-system"}}}]);
        assert_eq!(
            loosened(&ingress(in_list(json!(["a"]))), &ingress(ns)),
            ["NetworkPolicy loosened: ingress from every pod of namespace kb-system added (27017/TCP)"]
        );
        let egress = |to: Value| {
            np(
                json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": to, "ports": [{"port": 443, "protocol": "TCP"}]}]}),
            )
        };
        assert_eq!(
            loosened(
                &egress(json!([{"ipBlock": {"cidr": "10.0.0.0/8"}}])),
                &egress(json!([{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]))
            ),
            ["NetworkPolicy loosened: egress to ipBlock 0.0.0.0/0 except 10.0.0.0/8 added (443/TCP)"]
        );
        // The same peers on more ports.
        let wide = np(
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": in_list(json!(["a"])), "ports": [{"port": 27017}, {"port": 27018}]}]}),
        );
        assert_eq!(
            loosened(&ingress(in_list(json!(["a"]))), &wide),
            ["NetworkPolicy loosened: ingress rule 1 admits more ports than before: 27017/TCP, 27018/TCP"]
        );
    }

    #[test]
    fn a_narrower_policy_is_not_loosened() {
        let old = np(
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"a": "1"}}}, {"podSelector": {"matchLabels": {"b": "1"}}}],
             "ports": [{"port": 80}, {"port": 443}]}]}),
        );
        let new = np(
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"a": "1"}}}], "ports": [{"port": 443}]}]}),
        );
        assert!(loosened(&old, &new).is_empty());
        assert_eq!(loosened(&new, &old).len(), 1);
    }

    #[test]
    fn dropping_a_direction_or_a_peer_list_loosens() {
        let old = np(
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}], "egress": []}),
        );
        let new = np(json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}));
        let r = loosened(&old, &new);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("Egress"));
    }

    #[test]
    fn an_empty_egress_list_restricts_nothing() {
        // Kubernetes defaults `policyTypes` to [Ingress] for both: dropping `egress: []` changes nothing.
        let old = np(
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}], "egress": []}),
        );
        let new = np(json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}));
        assert!(loosened(&old, &new).is_empty());
        // `policyTypes: []` is defaulted the same way.
        let typed = np(
            json!({"podSelector": {}, "policyTypes": [], "ingress": [{"from": [{"podSelector": {}}]}]}),
        );
        assert!(loosened(&old, &typed).is_empty());
        let egress = np(
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}], "egress": [{"to": [{"podSelector": {}}]}]}),
        );
        assert_eq!(loosened(&egress, &old).len(), 1);
    }

    #[test]
    fn a_selector_with_more_labels_may_select_fewer_pods() {
        let old = np(json!({"podSelector": {"matchLabels": {"app": "api"}}}));
        let wider = np(json!({"podSelector": {}}));
        let narrower = np(json!({"podSelector": {"matchLabels": {"app": "api", "tier": "x"}}}));
        assert!(loosened(&old, &wider).is_empty());
        assert_eq!(loosened(&old, &narrower).len(), 1);
    }

    #[test]
    fn workload_risks() {
        let d = |replicas: i64, image: &str, mem: &str| {
            json!({"kind": "Deployment", "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "api", "image": image, "resources": {"limits": {"memory": mem}}}]}}}})
        };
        let r = assess(
            "Deployment",
            ChangeKind::Changed,
            Some(&d(3, "a:1", "1Gi")),
            Some(&d(2, "a:2", "512Mi")),
        );
        assert_eq!(r.len(), 3, "{r:?}");
        let r = assess(
            "Deployment",
            ChangeKind::Changed,
            Some(&d(2, "a:1", "512Mi")),
            Some(&d(3, "a:1", "1Gi")),
        );
        assert!(r.is_empty(), "{r:?}");
    }

    #[test]
    fn exposure_and_secrets() {
        let svc = |t: &str| json!({"kind": "Service", "spec": {"type": t}});
        assert_eq!(
            assess(
                "Service",
                ChangeKind::Changed,
                Some(&svc("ClusterIP")),
                Some(&svc("NodePort"))
            )
            .len(),
            1
        );
        assert!(assess(
            "Service",
            ChangeKind::Changed,
            Some(&svc("NodePort")),
            Some(&svc("NodePort"))
        )
        .is_empty());
        let ing = |h: &str| json!({"kind": "Ingress", "spec": {"rules": [{"host": h}]}});
        assert_eq!(
            assess(
                "Ingress",
                ChangeKind::Changed,
                Some(&ing("a.example")),
                Some(&ing("b.example"))
            )
            .len(),
            1
        );
        assert_eq!(
            assess("ExternalSecret", ChangeKind::Added, None, Some(&json!({}))).len(),
            1
        );
    }
}
