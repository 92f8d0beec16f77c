//! A Kubernetes object as the pipeline carries it: its node tree plus what the pipeline knows about it.

use std::fmt;

use crate::node::{Node, Origin};

/// What makes an object unique in a cluster: group, kind, namespace and name (the version is not part of
/// it: `apps/v1` and `apps/v1beta1` Deployments are the same object).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)?;
        if !self.namespace.is_empty() {
            write!(f, " in namespace {}", self.namespace)?;
        }
        Ok(())
    }
}

/// Set on ConfigMaps the environment generates.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The name before the content hash is appended.
    pub base_name: String,
    pub hash_suffix: bool,
    /// The generator entry that made it.
    pub origin: Origin,
}

/// A field an overlay step removed (a patch's `null`, `$patch: delete`, a JSON patch `remove`), and
/// the line that removed it: `explain` says so when asked for a field the object no longer has.
#[derive(Clone, Debug, PartialEq)]
pub struct Removed {
    /// The field's path, one step each: a key (`replicas`), a named list item (`[name=api]`).
    pub path: Vec<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub node: Node,
    pub generated: Option<Generated>,
    /// What the overlay removed from it, in order.
    pub removed: Vec<Removed>,
}

impl Resource {
    pub fn new(node: Node) -> Self {
        Resource {
            node,
            generated: None,
            removed: Vec::new(),
        }
    }

    pub fn api_version(&self) -> &str {
        self.node.str_at(&["apiVersion"]).unwrap_or("")
    }
    pub fn kind(&self) -> &str {
        self.node.str_at(&["kind"]).unwrap_or("")
    }
    /// `metadata.name`; for an object named by the API server on creation, its `generateName` prefix
    /// (which ends in `-` or is otherwise no valid name, so no reference ever matches it).
    pub fn name(&self) -> &str {
        match self.node.str_at(&["metadata", "name"]) {
            Some(n) => n,
            None => self
                .node
                .str_at(&["metadata", "generateName"])
                .unwrap_or(""),
        }
    }
    pub fn namespace(&self) -> &str {
        self.node.str_at(&["metadata", "namespace"]).unwrap_or("")
    }
    pub fn group(&self) -> &str {
        group_of(self.api_version())
    }
    pub fn version(&self) -> &str {
        let av = self.api_version();
        av.rsplit_once('/').map(|(_, v)| v).unwrap_or(av)
    }
    pub fn id(&self) -> ResId {
        let name = match self.node.str_at(&["metadata", "name"]) {
            Some(n) => n.to_string(),
            // An object named by the API server on creation: shown by its prefix.
            None => match self.node.str_at(&["metadata", "generateName"]) {
                Some(prefix) if !prefix.is_empty() => format!("{prefix}*"),
                _ => String::new(),
            },
        };
        ResId {
            group: self.group().to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().to_string(),
            name,
        }
    }

    /// The origin of `metadata.name` (where the object is defined), else the document's.
    pub fn name_origin(&self) -> Origin {
        self.node
            .path(&["metadata", "name"])
            .map(|n| n.origin)
            .unwrap_or(self.node.origin)
    }

    /// The pod template of a workload, for the kinds that have one.
    pub fn pod_template(&self) -> Option<&Node> {
        self.node.path(pod_template_path(self.kind())?)
    }

    pub fn pod_template_mut(&mut self) -> Option<&mut Node> {
        let path = pod_template_path(self.kind())?;
        self.node.path_mut(path)
    }

    /// The pod spec of a workload.
    pub fn pod_spec(&self) -> Option<&Node> {
        self.pod_template()?.get("spec")
    }
    pub fn pod_spec_mut(&mut self) -> Option<&mut Node> {
        self.pod_template_mut()?.get_mut("spec")
    }
}

/// Where a kind keeps its pod template (`[]`: the object is the pod), for the kinds that have one.
pub fn pod_template_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &["spec", "template"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template"],
        "Pod" => &[],
        _ => return None,
    })
}

pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

/// Kinds that live outside namespaces (the built-in ones and the CRDs this project uses).
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "Namespace")
            | ("", "Node")
            | ("", "PersistentVolume")
            | ("rbac.authorization.k8s.io", "ClusterRole")
            | ("rbac.authorization.k8s.io", "ClusterRoleBinding")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("storage.k8s.io", "StorageClass")
            | ("storage.k8s.io", "CSIDriver")
            | ("networking.k8s.io", "IngressClass")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("admissionregistration.k8s.io", _)
            | ("apiregistration.k8s.io", "APIService")
            | ("external-secrets.io", "ClusterSecretStore")
            | ("external-secrets.io", "ClusterExternalSecret")
            | ("cert-manager.io", "ClusterIssuer")
    )
}

/// Groups of the Kubernetes API itself: their kinds are unique, so rendered paths leave the group out.
pub fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "networking.k8s.io"
            | "rbac.authorization.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "apiextensions.k8s.io"
            | "admissionregistration.k8s.io"
            | "apiregistration.k8s.io"
            | "coordination.k8s.io"
            | "discovery.k8s.io"
            | "node.k8s.io"
            | "certificates.k8s.io"
    )
}

/// The stable path of a resource in a rendered tree:
/// `<namespace or _cluster>/<kind>[.<group>]/<name>.yaml`, lower-case kind, group only for non built-ins.
pub fn rendered_path(id: &ResId) -> String {
    let ns = if id.namespace.is_empty() {
        "_cluster"
    } else {
        &id.namespace
    };
    let kind = id.kind.to_ascii_lowercase();
    if is_builtin_group(&id.group) {
        format!("{ns}/{kind}/{}.yaml", id.name)
    } else {
        format!("{ns}/{kind}.{}/{}.yaml", id.group, id.name)
    }
}
