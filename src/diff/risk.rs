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

/// The risks of one changed resource file, in a stable order.
pub fn assess(
    kind: &str,
    change: ChangeKind,
    old: Option<&Value>,
    new: Option<&Value>,
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
        exposure(kind, old, n, &mut out);
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

/// The directions a policy restricts: `policyTypes`, or as Kubernetes defaults it (Ingress always,
/// Egress when the policy has egress rules).
fn policy_types(v: &Value) -> Vec<String> {
    match get(v, &["spec", "policyTypes"]).and_then(Value::as_array) {
        Some(types) => types
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        None => {
            let mut t = vec!["Ingress".to_string()];
            if get(v, &["spec", "egress"]).is_some() {
                t.push("Egress".to_string());
            }
            t
        }
    }
}

/// True when `wide` allows every peer (or port) `narrow` allows: an empty or missing list allows all.
fn covers(wide: Option<&Value>, narrow: Option<&Value>) -> bool {
    let wide = wide.and_then(Value::as_array).filter(|a| !a.is_empty());
    let narrow = narrow.and_then(Value::as_array).filter(|a| !a.is_empty());
    match (wide, narrow) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(n)) => n.iter().all(|x| w.iter().any(|y| narrows(y, x))),
    }
}

/// True when `narrow` allows no more than `wide`: equal, or equal but for `In` expressions whose values
/// are a subset of the wide one's (removing a value from an `In` list tightens a peer).
fn narrows(wide: &Value, narrow: &Value) -> bool {
    if wide == narrow {
        return true;
    }
    match (wide, narrow) {
        (Value::Object(w), Value::Object(n)) => {
            w.len() == n.len()
                && w.iter().all(|(k, wv)| {
                    n.get(k).is_some_and(|nv| {
                        if k == "matchExpressions" {
                            expressions_narrow(wv, nv)
                        } else {
                            narrows(wv, nv)
                        }
                    })
                })
        }
        _ => false,
    }
}

fn expressions_narrow(wide: &Value, narrow: &Value) -> bool {
    let (Some(w), Some(n)) = (wide.as_array(), narrow.as_array()) else {
        return wide == narrow;
    };
    w.len() == n.len()
        && w.iter().zip(n).all(|(we, ne)| {
            let same_term =
                we.get("key") == ne.get("key") && we.get("operator") == ne.get("operator");
            let values = |e: &Value| {
                e.get("values")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            same_term
                && match we.get("operator").and_then(Value::as_str) {
                    Some("In") => values(ne).iter().all(|v| values(we).contains(v)),
                    _ => we == ne,
                }
        })
}

fn netpol_loosened(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let old_types = policy_types(old);
    let new_types = policy_types(new);
    for t in &old_types {
        if !new_types.contains(t) {
            out.push(format!(
                "NetworkPolicy loosened: no longer restricts {t} traffic"
            ));
        }
    }
    let old_sel = get(old, &["spec", "podSelector"]);
    let new_sel = get(new, &["spec", "podSelector"]);
    if old_sel != new_sel {
        // Fewer label constraints select more pods (tighter); anything else may select fewer.
        let labels = |s: Option<&Value>| {
            s.and_then(|s| s.get("matchLabels"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let exprs = |s: Option<&Value>| s.and_then(|s| s.get("matchExpressions")).cloned();
        let (ol, nl) = (labels(old_sel), labels(new_sel));
        let wider =
            exprs(old_sel) == exprs(new_sel) && nl.iter().all(|(k, v)| ol.get(k) == Some(v));
        if !wider {
            out.push(format!(
                "NetworkPolicy loosened: podSelector changed to {}: pods it selected before may no longer be isolated",
                new_sel.map(compact).unwrap_or_else(|| "{}".to_string())
            ));
        }
    }
    for (dir, rules, peers) in [("Ingress", "ingress", "from"), ("Egress", "egress", "to")] {
        if !old_types.iter().any(|t| t == dir) || !new_types.iter().any(|t| t == dir) {
            continue;
        }
        let old_rules = list(old, &["spec", rules]);
        for rule in list(new, &["spec", rules]) {
            let allowed_before = old_rules.iter().any(|o| {
                covers(o.get(peers), rule.get(peers)) && covers(o.get("ports"), rule.get("ports"))
            });
            if !allowed_before {
                out.push(format!(
                    "NetworkPolicy loosened: {rules} rule allows more than before: {}",
                    compact(rule)
                ));
            }
        }
    }
    out
}

/// A Kubernetes quantity (`500m`, `1.5`, `512Mi`, `1G`, `1e3`) as a number.
pub fn quantity(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(num) = s.strip_suffix(suffix) {
            return num.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    for (suffix, factor) in [("P", 1e15), ("E", 1e18)] {
        if let Some(num) = s.strip_suffix(suffix) {
            return num.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    s.parse().ok()
}

fn pod_spec<'a>(kind: &str, v: &'a Value) -> Option<&'a Value> {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            get(v, &["spec", "template", "spec"])
        }
        "CronJob" => get(v, &["spec", "jobTemplate", "spec", "template", "spec"]),
        "Pod" => get(v, &["spec"]),
        _ => None,
    }
}

fn containers(spec: &Value) -> Vec<(&str, &Value)> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| list(spec, &[k]))
        .filter_map(|c| Some((c.get("name")?.as_str()?, c)))
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

fn workload(kind: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    if matches!(kind, "Deployment" | "StatefulSet" | "ReplicaSet") {
        // An unset count is one replica (with an autoscaler it is left to it: not a reduction).
        let count = |v: &Value| get(v, &["spec", "replicas"]).and_then(Value::as_i64);
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
    let (Some(os), Some(ns)) = (pod_spec(kind, old), pod_spec(kind, new)) else {
        return;
    };
    let old_containers = containers(os);
    for (name, nc) in containers(ns) {
        let Some((_, oc)) = old_containers.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if let (Some(oi), Some(ni)) = (oc.get("image"), nc.get("image")) {
            if oi != ni {
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
                let (o, n) = (get(oc, &path), get(nc, &path));
                match (o, n) {
                    (Some(o), None) => out.push(format!(
                        "{class}.{resource} removed from container {name} (was {})",
                        text(o)
                    )),
                    (Some(o), Some(n)) => {
                        if let (Some(a), Some(b)) = (quantity(o), quantity(n)) {
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
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(quantity(&json!("500m")), Some(0.5));
        assert_eq!(quantity(&json!("1Gi")), Some(1_073_741_824.0));
        assert_eq!(quantity(&json!("1G")), Some(1e9));
        assert_eq!(quantity(&json!(2)), Some(2.0));
        assert_eq!(quantity(&json!("1.5")), Some(1.5));
        assert_eq!(quantity(&json!("lots")), None);
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
        assert!(netpol_loosened(&wide, &narrow).is_empty());
        assert_eq!(netpol_loosened(&narrow, &wide).len(), 1);
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
        assert!(netpol_loosened(&old, &new).is_empty());
        assert_eq!(netpol_loosened(&new, &old).len(), 1);
    }

    #[test]
    fn dropping_a_direction_or_a_peer_list_loosens() {
        let old = np(
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}], "egress": []}),
        );
        let new = np(json!({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}));
        let r = netpol_loosened(&old, &new);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("Egress"));
    }

    #[test]
    fn a_selector_with_more_labels_may_select_fewer_pods() {
        let old = np(json!({"podSelector": {"matchLabels": {"app": "api"}}}));
        let wider = np(json!({"podSelector": {}}));
        let narrower = np(json!({"podSelector": {"matchLabels": {"app": "api", "tier": "x"}}}));
        assert!(netpol_loosened(&old, &wider).is_empty());
        assert_eq!(netpol_loosened(&old, &narrower).len(), 1);
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
