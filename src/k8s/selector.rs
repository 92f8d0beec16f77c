//! Labels and label selectors as the API server evaluates them: `matchLabels` and `matchExpressions`
//! (`In`, `NotIn`, `Exists`, `DoesNotExist`), and a Service's plain map. Each term keeps the place that
//! wrote it, for messages that point at the failing one.

use std::collections::{BTreeMap, BTreeSet};

use crate::node::{format_float, Node, Origin, Value};

/// The label the API server sets on every namespace, holding its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub type Labels = BTreeMap<String, String>;

/// The text of a scalar as Kubernetes reads it into a string field (`version: 1` is the label `"1"`).
pub fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Float(f) => Some(format_float(*f)),
        _ => None,
    }
}

/// The labels of a `labels` map (missing or not a map: none).
pub fn labels(node: Option<&Node>) -> Labels {
    let mut out = Labels::new();
    if let Some(m) = node.and_then(Node::as_map) {
        for (k, v) in m.iter() {
            if let Some(text) = scalar_text(v) {
                out.insert(k.name.clone(), text);
            }
        }
    }
    out
}

/// Labels controllers put on the pods they make, with values that only the cluster knows (a uid, a hash
/// of the template, the name or index of one pod of a StatefulSet). A selector that names one of them
/// cannot be judged from the manifests.
pub fn is_controller_made_label(key: &str) -> bool {
    matches!(
        key,
        "controller-uid"
            | "batch.kubernetes.io/controller-uid"
            | "batch.kubernetes.io/job-completion-index"
            | "pod-template-hash"
            | "controller-revision-hash"
            | "pod-template-generation"
            | "statefulset.kubernetes.io/pod-name"
            | "apps.kubernetes.io/pod-index"
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `matchLabels` entries are `In` with one value.
    In,
    NotIn,
    Exists,
    DoesNotExist,
    /// An operator the API server rejects (or none): the term matches nothing.
    Unknown,
}

/// One term of a label selector, with the place that wrote it.
#[derive(Clone, Debug)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    /// As written (a set, as the API server reads it: compare with [`Requirement::value_set`]).
    pub values: Vec<String>,
    /// A `matchLabels` entry rather than an expression.
    pub from_match_labels: bool,
    /// The operator as written, when it is not one the API server knows.
    pub unknown_op: Option<String>,
    pub origin: Origin,
}

/// Two terms are the same when they say the same thing, wherever they were written.
impl PartialEq for Requirement {
    fn eq(&self, other: &Self) -> bool {
        (&self.key, self.op, self.value_set()) == (&other.key, other.op, other.value_set())
    }
}
impl Eq for Requirement {}

impl Requirement {
    fn new(key: String, op: Op, values: Vec<String>, origin: Origin) -> Requirement {
        Requirement {
            key,
            op,
            values,
            from_match_labels: false,
            unknown_op: None,
            origin,
        }
    }

    /// The values as a set.
    pub fn value_set(&self) -> BTreeSet<&str> {
        self.values.iter().map(String::as_str).collect()
    }

    /// Whether labels whose value for this key is `value` (`None`: no such label) satisfy the term.
    pub fn holds(&self, value: Option<&str>) -> bool {
        match self.op {
            Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Unknown => false,
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.holds(labels.get(&self.key).map(String::as_str))
    }

    /// True when every set of labels that satisfies `self` satisfies `wide` too.
    pub fn implies(&self, wide: &Requirement) -> bool {
        if self.key != wide.key {
            return false;
        }
        let subset = |a: &[String], b: &[String]| a.iter().all(|x| b.contains(x));
        match (self.op, wide.op) {
            (Op::Unknown, _) => true,
            (Op::In, Op::In) => subset(&self.values, &wide.values),
            (Op::In, Op::NotIn) => self.values.iter().all(|v| !wide.values.contains(v)),
            (Op::In | Op::Exists, Op::Exists) => true,
            (Op::NotIn, Op::NotIn) => subset(&wide.values, &self.values),
            (Op::DoesNotExist, Op::DoesNotExist | Op::NotIn) => true,
            _ => false,
        }
    }

    /// The term as Kubernetes writes it: `app=api`, `tier in (a,b)`, `!canary`.
    pub fn describe(&self) -> String {
        match self.op {
            Op::In if self.values.len() == 1 => format!("{}={}", self.key, self.values[0]),
            Op::In => format!("{} in ({})", self.key, self.values.join(",")),
            Op::NotIn => format!("{} notin ({})", self.key, self.values.join(",")),
            Op::Exists => self.key.clone(),
            Op::DoesNotExist => format!("!{}", self.key),
            Op::Unknown => format!("{} ?", self.key),
        }
    }
}

/// A label selector: all of its requirements must hold; no requirement at all matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// A `LabelSelector` (`matchLabels`, `matchExpressions`); a missing or null one is empty. A term with
    /// an unknown operator matches nothing (the schema family reports it).
    pub fn label_selector(node: Option<&Node>) -> Selector {
        let Some(node) = node else {
            return Selector::default();
        };
        let mut requirements = Vec::new();
        if let Some(m) = node.get("matchLabels").and_then(Node::as_map) {
            for (k, v) in m.iter() {
                let op = if scalar_text(v).is_some() {
                    Op::In
                } else {
                    Op::Unknown
                };
                let mut r = Requirement::new(
                    k.name.clone(),
                    op,
                    scalar_text(v).into_iter().collect(),
                    k.origin,
                );
                r.from_match_labels = true;
                requirements.push(r);
            }
        }
        for e in node
            .get("matchExpressions")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let op = match e.str_at(&["operator"]) {
                Some("In") => Op::In,
                Some("NotIn") => Op::NotIn,
                Some("Exists") => Op::Exists,
                Some("DoesNotExist") => Op::DoesNotExist,
                _ => Op::Unknown,
            };
            let op = if e.str_at(&["key"]).is_none() {
                Op::Unknown
            } else {
                op
            };
            let values: Vec<String> = e
                .get("values")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(scalar_text)
                .collect();
            let key = e.str_at(&["key"]).unwrap_or_default().to_string();
            let mut r = Requirement::new(key, op, values, e.origin);
            if op == Op::Unknown {
                r.unknown_op = Some(e.str_at(&["operator"]).unwrap_or_default().to_string());
            }
            requirements.push(r);
        }
        Selector { requirements }
    }

    /// A `LabelSelector` the API server accepts: `None` when a term has an unknown operator or no key.
    pub fn from_label_selector(node: &Node) -> Option<Selector> {
        let s = Selector::label_selector(Some(node));
        s.requirements
            .iter()
            .all(|r| r.op != Op::Unknown)
            .then_some(s)
    }

    /// A Service's `selector`: a plain map of labels.
    pub fn from_map(node: Option<&Node>) -> Selector {
        let requirements = node
            .and_then(Node::as_map)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let mut r = Requirement::new(
                            k.name.clone(),
                            Op::In,
                            vec![scalar_text(v)?],
                            k.origin,
                        );
                        r.from_match_labels = true;
                        Some(r)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Selector { requirements }
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a requirement names a label whose value only the cluster knows
    /// ([`is_controller_made_label`]).
    pub fn names_controller_made_label(&self) -> bool {
        self.requirements
            .iter()
            .any(|r| is_controller_made_label(&r.key))
    }

    /// The equality terms (`key=value`, `key in (...)`): a key and the values it accepts. Labels the
    /// selector matches hold one of the values of each.
    pub fn terms(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.requirements
            .iter()
            .filter(|r| r.op == Op::In)
            .map(|r| (r.key.as_str(), r.values.as_slice()))
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the labels of a `labels` map node (missing: none) satisfy the selector.
    pub fn matches_node(&self, labels_node: Option<&Node>) -> bool {
        self.matches(&labels(labels_node))
    }

    /// The requirements `labels` fails.
    pub fn unmet<'a>(&'a self, labels: &Labels) -> Vec<&'a Requirement> {
        self.requirements
            .iter()
            .filter(|r| !r.matches(labels))
            .collect()
    }

    /// True when every set of labels `self` matches, `wide` matches too (so `self` selects no more).
    /// Decided term by term: each of `wide`'s terms must follow from one of `self`'s.
    pub fn implies(&self, wide: &Selector) -> bool {
        wide.requirements
            .iter()
            .all(|w| self.requirements.iter().any(|n| n.implies(w)))
    }

    /// The same terms, in a canonical order without repeats (for comparing two selectors).
    pub fn canonical(&self) -> Vec<&Requirement> {
        let mut out: Vec<&Requirement> = self.requirements.iter().collect();
        out.sort_by(|a, b| (&a.key, a.op, a.value_set()).cmp(&(&b.key, b.op, b.value_set())));
        out.dedup();
        out
    }

    /// The selector as `kubectl` writes it, terms in the order written: `matchLabels` entries as
    /// `app=api`, then `tier in (a,b)`, `tier notin (a)`, `canary`, `!canary`; empty for an empty one.
    pub fn text(&self) -> String {
        self.requirements
            .iter()
            .map(|r| match (r.from_match_labels, r.op) {
                (true, _) => format!("{}={}", r.key, r.values.join(",")),
                (false, Op::In) => format!("{} in ({})", r.key, r.values.join(",")),
                (false, Op::Unknown) => format!(
                    "{} {} ({})",
                    r.key,
                    r.unknown_op.as_deref().unwrap_or_default(),
                    r.values.join(",")
                ),
                _ => r.describe(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The terms about `key` alone, given that key's value (`None`: absent): `Some(false)` when one of
    /// them fails.
    pub fn holds_for(&self, key: &str, value: Option<&str>) -> bool {
        self.requirements
            .iter()
            .filter(|r| r.key == key)
            .all(|r| r.holds(value))
    }

    /// The terms about other keys than `key`.
    pub fn without(&self, key: &str) -> Selector {
        Selector {
            requirements: self
                .requirements
                .iter()
                .filter(|r| r.key != key)
                .cloned()
                .collect(),
        }
    }

    /// The namespace names a `namespaceSelector` pins through [`NAMESPACE_NAME_LABEL`], when it pins
    /// them (`In` or a `matchLabels` entry on that label): `None` when the selector can match namespaces
    /// of any name. Other terms are not looked at: see [`Selector::holds_for`] and [`Selector::without`].
    pub fn pinned_namespaces(&self) -> Option<BTreeSet<String>> {
        let mut names: Option<BTreeSet<String>> = None;
        for r in &self.requirements {
            if r.key != NAMESPACE_NAME_LABEL || r.op != Op::In {
                continue;
            }
            let these: BTreeSet<String> = r.values.iter().cloned().collect();
            names = Some(match names {
                None => these,
                Some(prev) => prev.intersection(&these).cloned().collect(),
            });
        }
        names
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

    fn sel(v: serde_json::Value) -> Selector {
        Selector::label_selector(Some(&Node::from_json(&v, origin())))
    }

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors_follow_the_api_server() {
        let s = sel(serde_json::json!({
            "matchLabels": {"app": "api"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "rpc"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "team", "operator": "Exists"}
            ]
        }));
        assert!(s.matches(&l(&[("app", "api"), ("tier", "rpc"), ("team", "x")])));
        assert!(s.matches(&l(&[
            ("app", "api"),
            ("tier", "rpc"),
            ("team", "x"),
            ("zone", "a")
        ])));
        assert!(!s.matches(&l(&[
            ("app", "api"),
            ("tier", "rpc"),
            ("team", "x"),
            ("zone", "b")
        ])));
        assert!(!s.matches(&l(&[("app", "api"), ("tier", "db"), ("team", "x")])));
        assert!(!s.matches(&l(&[
            ("app", "api"),
            ("tier", "rpc"),
            ("team", "x"),
            ("canary", "1")
        ])));
        assert!(!s.matches(&l(&[("app", "api"), ("tier", "rpc")])));
        assert!(Selector::label_selector(Some(&Node::map(origin()))).matches(&Labels::new()));
        assert!(Selector::label_selector(None).is_empty());
        let bad = sel(serde_json::json!({
            "matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]
        }));
        assert!(!bad.matches(&l(&[("a", "b")])));
        let bad_node = Node::from_json(
            &serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Equals"}]}),
            origin(),
        );
        assert!(Selector::from_label_selector(&bad_node).is_none());
        assert_eq!(
            s.text(),
            "app=api,tier in (web,rpc),!canary,zone notin (b),team"
        );
    }

    #[test]
    fn pinned_namespaces() {
        let s = sel(serde_json::json!({"matchLabels": {NAMESPACE_NAME_LABEL: "a"}}));
        assert_eq!(s.pinned_namespaces(), Some(["a".to_string()].into()));
        let s = sel(serde_json::json!({
            "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": ["a", "b"]}]
        }));
        assert_eq!(
            s.pinned_namespaces(),
            Some(["a".to_string(), "b".to_string()].into())
        );
        let s = sel(serde_json::json!({"matchLabels": {"team": "x"}}));
        assert_eq!(s.pinned_namespaces(), None);
    }

    #[test]
    fn implication_is_term_by_term() {
        let wide = sel(serde_json::json!({"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["api", "push"]}]}));
        let narrow = sel(serde_json::json!({"matchLabels": {"app": "api", "tier": "x"}}));
        assert!(narrow.implies(&wide));
        assert!(!wide.implies(&narrow));
        assert!(wide.implies(&Selector::default()));
        let not_in = sel(serde_json::json!({"matchExpressions": [
            {"key": "app", "operator": "NotIn", "values": ["a"]}]}));
        let not_in_more = sel(serde_json::json!({"matchExpressions": [
            {"key": "app", "operator": "NotIn", "values": ["a", "b"]}]}));
        assert!(not_in_more.implies(&not_in));
        assert!(!not_in.implies(&not_in_more));
    }
}
