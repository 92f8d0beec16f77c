//! Workloads: where each kind keeps its pod template, the containers of a pod spec, the pods a rendered
//! tree will run (from pod templates, and from the operators' objects that make pods), and the namespaces
//! a tree uses.

use std::collections::{BTreeMap, BTreeSet};

use crate::k8s::selector::{labels, Labels, NAMESPACE_NAME_LABEL};
use crate::node::{Node, Origin};
use crate::resource::Resource;

pub use crate::resource::pod_template_path;

/// Kinds whose pods run until stopped (as opposed to Jobs, CronJobs and bare Pods).
pub fn is_long_running(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController"
    )
}

/// Kinds whose `spec.replicas` sets how many pods run (one when unset).
pub fn has_replicas(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController"
    )
}

/// The labels of a workload's pod template.
pub fn template_labels(r: &Resource) -> Option<&Node> {
    r.pod_template()?.path(&["metadata", "labels"])
}

/// The lists of a pod spec that hold containers, in the order [`containers`] reads them.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// A container of a pod spec.
pub struct Container<'a> {
    pub node: &'a Node,
    pub name: &'a str,
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    /// An init container that keeps running beside the others (`restartPolicy: Always`).
    pub sidecar: bool,
}

impl Container<'_> {
    /// Where the container is defined: its `name`, else the list item.
    pub fn origin(&self) -> Origin {
        self.node
            .get("name")
            .map(|n| n.origin)
            .unwrap_or(self.node.origin)
    }
    pub fn is_init(&self) -> bool {
        self.list == "initContainers"
    }
    pub fn is_ephemeral(&self) -> bool {
        self.list == "ephemeralContainers"
    }
}

/// The containers of a pod spec: `containers`, then `initContainers`, then `ephemeralContainers`.
pub fn containers(pod_spec: &Node) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for list in CONTAINER_LISTS {
        for c in pod_spec.get(list).and_then(Node::as_seq).unwrap_or(&[]) {
            out.push(Container {
                node: c,
                name: c.str_at(&["name"]).unwrap_or(""),
                list,
                sidecar: list == "initContainers" && c.str_at(&["restartPolicy"]) == Some("Always"),
            });
        }
    }
    out
}

/// A port a container declares.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

/// The labels of every namespace the tree renders: a Namespace object's own, plus the name label the API
/// server sets on every namespace.
pub fn namespace_labels(resources: &[Resource]) -> BTreeMap<String, Labels> {
    let mut out: BTreeMap<String, Labels> = BTreeMap::new();
    for ns in namespaces(resources) {
        let mut l = Labels::new();
        l.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
        out.insert(ns.to_string(), l);
    }
    for r in resources {
        if r.kind() == "Namespace" && r.group().is_empty() {
            let l = out.entry(r.name().to_string()).or_default();
            for (k, v) in labels(r.node.path(&["metadata", "labels"])) {
                l.insert(k, v);
            }
            l.insert(NAMESPACE_NAME_LABEL.to_string(), r.name().to_string());
        }
    }
    out
}
