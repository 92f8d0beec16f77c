//! What the rule families share about Kubernetes objects: label selectors as the API server evaluates
//! them, the pods a rendered tree will run (from pod templates, and from the operators' objects that
//! make pods), and the namespaces a tree uses. Look-ups by name and label are in [`crate::check::index`].

use std::collections::{BTreeMap, BTreeSet};

use crate::check::{Finding, Rule};
use crate::node::{format_float, Node, Origin, Value};
use crate::resource::Resource;

impl Rule {
    /// A finding of this rule at its default severity.
    pub fn finding(&self, origin: Origin, resource: Option<&Resource>, message: String) -> Finding {
        Finding {
            code: self.code,
            severity: self.default_severity,
            message,
            origin,
            resource: resource.map(Resource::id),
            related: Vec::new(),
            help: None,
        }
    }
}

/// Builder helpers for findings.
pub trait FindingExt {
    fn help(self, help: impl Into<String>) -> Self;
    fn related(self, origin: Origin, label: impl Into<String>) -> Self;
}

impl FindingExt for Finding {
    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    fn related(mut self, origin: Origin, label: impl Into<String>) -> Self {
        self.related.push((origin, label.into()));
        self
    }
}

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

pub type Labels = BTreeMap<String, String>;

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

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    /// An operator the API server rejects: the selector can match nothing.
    Invalid,
}

/// A label selector: `matchLabels` and `matchExpressions` (a `LabelSelector`), or a Service's plain map.
/// All requirements must hold; no requirement at all matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// A `LabelSelector` (`matchLabels`, `matchExpressions`); a missing or null one is empty.
    pub fn label_selector(node: Option<&Node>) -> Selector {
        let mut requirements = Vec::new();
        let Some(node) = node else {
            return Selector::default();
        };
        for (k, v) in labels(node.get("matchLabels")) {
            requirements.push(Requirement::Equals(k, v));
        }
        for e in node
            .get("matchExpressions")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let key = e.str_at(&["key"]).unwrap_or_default().to_string();
            let values: Vec<String> = e
                .get("values")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(scalar_text)
                .collect();
            requirements.push(match e.str_at(&["operator"]) {
                Some("In") => Requirement::In(key, values),
                Some("NotIn") => Requirement::NotIn(key, values),
                Some("Exists") => Requirement::Exists(key),
                Some("DoesNotExist") => Requirement::DoesNotExist(key),
                _ => Requirement::Invalid,
            });
        }
        Selector { requirements }
    }

    /// A Service's `selector`: a plain map of labels.
    pub fn from_map(node: Option<&Node>) -> Selector {
        Selector {
            requirements: labels(node)
                .into_iter()
                .map(|(k, v)| Requirement::Equals(k, v))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a requirement names a label whose value only the cluster knows
    /// ([`is_controller_made_label`]).
    pub fn names_controller_made_label(&self) -> bool {
        self.requirements.iter().any(|r| match r {
            Requirement::Equals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::DoesNotExist(k) => is_controller_made_label(k),
            Requirement::Invalid => false,
        })
    }

    /// The equality terms (`key=value`, `key in (...)`): a key and the values it accepts. A pod the
    /// selector matches carries one of the values of each.
    pub fn terms(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.requirements.iter().filter_map(|r| match r {
            Requirement::Equals(k, v) => Some((k.as_str(), std::slice::from_ref(v))),
            Requirement::In(k, vs) => Some((k.as_str(), vs.as_slice())),
            _ => None,
        })
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Invalid => false,
        })
    }

    /// The namespace names a `namespaceSelector` pins through the `kubernetes.io/metadata.name` label
    /// (which the API server sets on every namespace), when it pins them: `None` when the selector can
    /// match namespaces by other labels as well.
    pub fn pinned_namespaces(&self) -> Option<BTreeSet<String>> {
        let mut names: Option<BTreeSet<String>> = None;
        for r in &self.requirements {
            let these: BTreeSet<String> = match r {
                Requirement::Equals(k, v) if k == NAMESPACE_NAME_LABEL => [v.clone()].into(),
                Requirement::In(k, vs) if k == NAMESPACE_NAME_LABEL => vs.iter().cloned().collect(),
                _ => continue,
            };
            names = Some(match names {
                None => these,
                Some(prev) => prev.intersection(&these).cloned().collect(),
            });
        }
        names
    }
}

pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A port a container declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub number: i64,
    pub protocol: String,
}

/// Pods the tree will run: one per pod template, or per component of an operator's cluster object.
#[derive(Clone, Debug)]
pub struct Pods<'a> {
    pub owner: &'a Resource,
    pub namespace: &'a str,
    pub labels: Labels,
    /// The ports its containers declare; `None` when the tree does not say (pods an operator makes).
    pub ports: Option<Vec<ContainerPort>>,
    /// The pod template, for workloads.
    pub template: Option<&'a Node>,
}

/// Label keys KubeBlocks puts on the pods of a `Cluster` (apps.kubeblocks.io): the instance is the
/// cluster's name, the component name the `componentSpecs` entry's.
const KUBEBLOCKS_INSTANCE: &str = "app.kubernetes.io/instance";
const KUBEBLOCKS_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const KUBEBLOCKS_COMPONENT: &str = "apps.kubeblocks.io/component-name";

/// Labels the Job controller puts on its pods, with the Job's name as the value.
const JOB_NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];

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

/// Every set of pods the resources will run, in resource order.
pub fn pods(resources: &[Resource]) -> Vec<Pods<'_>> {
    let mut out = Vec::new();
    for r in resources {
        pods_of(r, &mut out);
    }
    out
}

/// The sets of pods one object runs: its pod template's, or one per component of an operator's object.
pub fn pods_of<'a>(r: &'a Resource, out: &mut Vec<Pods<'a>>) {
    if let Some(template) = r.pod_template() {
        let mut l = labels(template.path(&["metadata", "labels"]));
        if r.kind() == "Job" && r.group() == "batch" {
            // The Job controller labels its pods with the Job's name.
            for key in JOB_NAME_LABELS {
                l.entry(key.to_string())
                    .or_insert_with(|| r.name().to_string());
            }
        }
        out.push(Pods {
            owner: r,
            namespace: r.namespace(),
            labels: l,
            ports: Some(container_ports(template.get("spec"))),
            template: Some(template),
        });
    } else if r.group() == "apps.kubeblocks.io" && r.kind() == "Cluster" {
        for c in r
            .node
            .path(&["spec", "componentSpecs"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let mut l = Labels::new();
            l.insert(KUBEBLOCKS_INSTANCE.into(), r.name().into());
            l.insert(KUBEBLOCKS_MANAGED_BY.into(), "kubeblocks".into());
            if let Some(name) = c.str_at(&["name"]) {
                l.insert(KUBEBLOCKS_COMPONENT.into(), name.into());
            }
            out.push(Pods {
                owner: r,
                namespace: r.namespace(),
                labels: l,
                ports: None,
                template: None,
            });
        }
    }
}

/// The ports of every container (init containers too: a sidecar may serve).
fn container_ports(spec: Option<&Node>) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    let Some(spec) = spec else {
        return out;
    };
    for list in ["initContainers", "containers"] {
        for c in spec.get(list).and_then(Node::as_seq).unwrap_or(&[]) {
            for p in c.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
                if let Some(number) = p.get("containerPort").and_then(Node::as_i64) {
                    out.push(ContainerPort {
                        name: p.str_at(&["name"]).map(str::to_string),
                        number,
                        protocol: p.str_at(&["protocol"]).unwrap_or("TCP").to_string(),
                    });
                }
            }
        }
    }
    out
}

/// The containers of a pod spec, init and ephemeral ones included.
pub fn containers(spec: &Node) -> impl Iterator<Item = &Node> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |list| spec.get(list).and_then(Node::as_seq).unwrap_or(&[]))
}

/// The namespaces the tree puts anything in.
pub fn namespaces(resources: &[Resource]) -> BTreeSet<&str> {
    resources
        .iter()
        .map(|r| {
            if r.kind() == "Namespace" && r.group().is_empty() {
                r.name()
            } else {
                r.namespace()
            }
        })
        .collect()
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

    fn json(v: serde_json::Value) -> Node {
        Node::from_json(&v, origin())
    }

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors_follow_the_api_server() {
        let s = Selector::label_selector(Some(&json(serde_json::json!({
            "matchLabels": {"app": "api"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "rpc"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "team", "operator": "Exists"}
            ]
        }))));
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
        let bad = Selector::label_selector(Some(&json(serde_json::json!({
            "matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]
        }))));
        assert!(!bad.matches(&l(&[("a", "b")])));
    }

    #[test]
    fn pinned_namespaces() {
        let s = Selector::label_selector(Some(&json(serde_json::json!({
            "matchLabels": {NAMESPACE_NAME_LABEL: "a"}
        }))));
        assert_eq!(s.pinned_namespaces(), Some(["a".to_string()].into()));
        let s = Selector::label_selector(Some(&json(serde_json::json!({
            "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": ["a", "b"]}]
        }))));
        assert_eq!(
            s.pinned_namespaces(),
            Some(["a".to_string(), "b".to_string()].into())
        );
        let s = Selector::label_selector(Some(&json(
            serde_json::json!({"matchLabels": {"team": "x"}}),
        )));
        assert_eq!(s.pinned_namespaces(), None);
    }
}
