//! CustomResourceDefinitions: the kind a CRD declares, its scope, and each version with its
//! `openAPIV3Schema` and the CEL rules (`x-kubernetes-validations`) that schema carries. The schema
//! rules (`check::tree_crds`), the CRD rules (`check::custom::crd_rules`), the user policies' plural
//! names and the loader's default namespaces all read a CRD here.

use crate::node::Node;
use crate::resource::Resource;

/// A CustomResourceDefinition of any `apiextensions.k8s.io` version, as far as it names a kind.
pub struct Crd<'a> {
    /// `spec.group`.
    pub group: &'a str,
    /// `spec.names.kind`.
    pub kind: &'a str,
    /// `spec.names.plural`.
    pub plural: Option<&'a str>,
    /// `spec.scope: Cluster`.
    pub cluster_scoped: bool,
    /// `spec.versions`, in order; entries without a `name` are left out.
    pub versions: Vec<CrdVersion<'a>>,
}

/// One entry of `spec.versions`.
pub struct CrdVersion<'a> {
    /// `v1`, `v1beta1`, ...
    pub name: &'a str,
    /// False only where the version says `served: false`.
    pub served: bool,
    /// The whole entry (where a version without a schema is written).
    pub node: &'a Node,
    /// `schema.openAPIV3Schema`, when written.
    pub schema: Option<&'a Node>,
}

impl Crd<'_> {
    /// The CRD `r` is, or `None` when `r` is no CRD or names no group or kind.
    pub fn read(r: &Resource) -> Option<Crd<'_>> {
        if !is_crd(r) {
            return None;
        }
        let spec = r.node.get("spec")?;
        let group = spec.str_at(&["group"])?;
        let kind = spec.str_at(&["names", "kind"])?;
        let versions = spec
            .get("versions")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| {
                Some(CrdVersion {
                    name: v.str_at(&["name"])?,
                    served: v.get("served").and_then(Node::as_bool) != Some(false),
                    node: v,
                    schema: v.path(&["schema", "openAPIV3Schema"]),
                })
            })
            .collect();
        Some(Crd {
            group,
            kind,
            plural: spec.str_at(&["names", "plural"]),
            cluster_scoped: spec.str_at(&["scope"]) == Some("Cluster"),
            versions,
        })
    }

    /// The `apiVersion` of this CRD's custom resources in `version`: `<group>/<version>`.
    pub fn api_version(&self, version: &CrdVersion<'_>) -> String {
        format!("{}/{}", self.group, version.name)
    }
}

/// Whether `r` is a CustomResourceDefinition.
pub fn is_crd(r: &Resource) -> bool {
    (r.group(), r.kind()) == ("apiextensions.k8s.io", "CustomResourceDefinition")
}

/// One `x-kubernetes-validations` entry of a schema node.
pub struct Validation<'a> {
    /// The `rule` (a CEL expression), with its place.
    pub rule: &'a Node,
    pub message: Option<&'a str>,
    pub message_expression: Option<&'a str>,
    pub optional_old_self: bool,
}

/// The `x-kubernetes-validations` written on one schema node (not below it); entries without a
/// `rule` are left out.
pub fn validations(schema: &Node) -> impl Iterator<Item = Validation<'_>> {
    schema
        .get("x-kubernetes-validations")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| {
            Some(Validation {
                rule: v.get("rule")?,
                message: v.str_at(&["message"]),
                message_expression: v.str_at(&["messageExpression"]),
                optional_old_self: v.get("optionalOldSelf").and_then(Node::as_bool) == Some(true),
            })
        })
}
