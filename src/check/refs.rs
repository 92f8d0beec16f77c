//! Family `refs/`: references between objects. A reference to an object (or a key of one) that the tree
//! does not render fails at run time: a pod stuck in `CreateContainerConfigError`, an Ingress answering 503,
//! an HPA that scales nothing. An object made outside the tree is declared in the policy file
//! (`Policy.external`), and a reference marked `optional: true` may point at nothing.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::check::code::{Code, Refs};
use crate::check::policy::External;
use crate::check::FindingExt;
use crate::check::{Context, Finding, Rule};
use crate::k8s::{containers, Selector};
use crate::node::{Node, Value};
use crate::resource::{group_of, Resource};

pub static RULES: &[Rule] = &[
    SERVICE_SELECTS_NOTHING,
    INGRESS_BACKEND,
    MISSING_SECRET,
    MISSING_CONFIGMAP,
    MISSING_PVC,
    MISSING_SERVICE_ACCOUNT,
    MISSING_ROLE,
    MISSING_SCALE_TARGET,
    PDB_SELECTS_NOTHING,
];

const SERVICE_SELECTS_NOTHING: Rule = Rule::new(
    Code::Refs(Refs::ServiceSelectsNothing),
    service_selects_nothing,
);
const INGRESS_BACKEND: Rule = Rule::new(Code::Refs(Refs::IngressBackend), ingress_backend);
const MISSING_SECRET: Rule = Rule::new(Code::Refs(Refs::MissingSecret), missing_secret);
const MISSING_CONFIGMAP: Rule = Rule::new(Code::Refs(Refs::MissingConfigmap), missing_configmap);
const MISSING_PVC: Rule = Rule::new(Code::Refs(Refs::MissingPvc), missing_pvc);
const MISSING_SERVICE_ACCOUNT: Rule = Rule::new(
    Code::Refs(Refs::MissingServiceAccount),
    missing_service_account,
);
const MISSING_ROLE: Rule = Rule::new(Code::Refs(Refs::MissingRole), missing_role);
const MISSING_SCALE_TARGET: Rule =
    Rule::new(Code::Refs(Refs::MissingScaleTarget), missing_scale_target);
const PDB_SELECTS_NOTHING: Rule =
    Rule::new(Code::Refs(Refs::PdbSelectsNothing), pdb_selects_nothing);

const HELP_EXTERNAL: &str =
    "render it, or declare it in the policy file's `external` list when something outside the tree makes it";

/// The object the policy declares external, if any.
fn external<'p>(
    ctx: &Context<'p>,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Option<&'p External> {
    ctx.policy.external.iter().find(|e| {
        e.kind == kind && e.name == name && (e.namespace.is_empty() || e.namespace == namespace)
    })
}

fn object(r: &Resource) -> String {
    format!("{}/{}", r.kind(), r.name())
}

fn ns_text(ns: &str) -> String {
    if ns.is_empty() {
        "the namespace of objects that set none".to_string()
    } else {
        format!("namespace `{ns}`")
    }
}

/// Keys a Secret or ConfigMap will have; `None` when the tree cannot tell (any key is accepted).
type Keys<'a> = Option<BTreeSet<&'a str>>;

/// The name and keys of the Secret or ConfigMap an object makes, if it makes one.
type Makes = for<'a> fn(&'a Resource) -> Option<(&'a str, Keys<'a>)>;

/// The Secrets or ConfigMaps the tree makes in one namespace.
#[derive(Default)]
struct Made<'a> {
    /// Name, keys and the object that makes it, in order.
    list: Vec<(&'a str, Keys<'a>, &'a Resource)>,
    /// The first made under each name.
    by_name: HashMap<&'a str, usize>,
    /// The first made by an object of each name.
    by_maker: HashMap<&'a str, usize>,
}

impl<'a> Made<'a> {
    fn named(&self, name: &str) -> Option<&(&'a str, Keys<'a>, &'a Resource)> {
        self.by_name.get(name).map(|i| &self.list[*i])
    }
    fn made_by(&self, name: &str) -> Option<&(&'a str, Keys<'a>, &'a Resource)> {
        self.by_maker.get(name).map(|i| &self.list[*i])
    }
}

/// What each namespace makes, in one pass over the resources.
fn made_by_namespace(resources: &[Resource], makes: Makes) -> HashMap<&str, Made<'_>> {
    let mut out: HashMap<&str, Made<'_>> = HashMap::new();
    for r in resources {
        let Some((name, keys)) = makes(r) else {
            continue;
        };
        let made = out.entry(r.namespace()).or_default();
        let i = made.list.len();
        made.by_name.entry(name).or_insert(i);
        made.by_maker.entry(r.name()).or_insert(i);
        made.list.push((name, keys, r));
    }
    out
}

fn map_keys<'a>(r: &'a Resource, fields: &[&[&str]]) -> BTreeSet<&'a str> {
    let mut keys = BTreeSet::new();
    for path in fields {
        if let Some(m) = r.node.path(path).and_then(Node::as_map) {
            keys.extend(m.iter().map(|(k, _)| k.name.as_str()));
        }
    }
    keys
}

fn known(keys: BTreeSet<&str>) -> Keys<'_> {
    (!keys.is_empty()).then_some(keys)
}

/// The Secret an object makes: a Secret, the target of an ExternalSecret (`spec.data[].secretKey` and
/// `spec.target.template.data` keys; `dataFrom` makes the keys unknown), of a SealedSecret
/// (`spec.encryptedData` and template keys) or of a cert-manager Certificate (`spec.secretName`).
fn secret(r: &Resource) -> Option<(&str, Keys<'_>)> {
    match (r.group(), r.kind()) {
        ("", "Secret") => Some((r.name(), known(map_keys(r, &[&["data"], &["stringData"]])))),
        ("external-secrets.io", "ExternalSecret") => {
            let name = r
                .node
                .str_at(&["spec", "target", "name"])
                .unwrap_or(r.name());
            let mut keys: BTreeSet<&str> = r
                .node
                .path(&["spec", "data"])
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(|d| d.str_at(&["secretKey"]))
                .collect();
            keys.extend(map_keys(r, &[&["spec", "target", "template", "data"]]));
            let from = r.node.path(&["spec", "dataFrom"]).is_some();
            Some((name, if from { None } else { known(keys) }))
        }
        ("bitnami.com", "SealedSecret") => {
            let name = r
                .node
                .str_at(&["spec", "template", "metadata", "name"])
                .unwrap_or(r.name());
            let keys = map_keys(
                r,
                &[&["spec", "encryptedData"], &["spec", "template", "data"]],
            );
            Some((name, known(keys)))
        }
        // cert-manager writes the certificate into `spec.secretName` (tls.crt, tls.key, ca.crt, and
        // keystores when asked: the keys are left open).
        ("cert-manager.io", "Certificate") => r
            .node
            .str_at(&["spec", "secretName"])
            .map(|name| (name, None)),
        _ => None,
    }
}

fn configmap(r: &Resource) -> Option<(&str, Keys<'_>)> {
    (r.group().is_empty() && r.kind() == "ConfigMap")
        .then(|| (r.name(), known(map_keys(r, &[&["data"], &["binaryData"]]))))
}

/// Where a pod spec refers to a Secret or ConfigMap, for messages.
enum Via<'a> {
    Env { var: &'a str, container: &'a str },
    EnvFrom { container: &'a str },
    Volume(&'a str),
    ProjectedVolume(&'a str),
}

impl fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Env { var, container } => write!(f, "env `{var}` of container `{container}`"),
            Via::EnvFrom { container } => write!(f, "envFrom of container `{container}`"),
            Via::Volume(name) => write!(f, "volume `{name}`"),
            Via::ProjectedVolume(name) => write!(f, "projected volume `{name}`"),
        }
    }
}

/// A reference from a pod spec to a Secret or ConfigMap, and the keys it needs.
struct KeyedRef<'a> {
    name: &'a Node,
    /// The `key` of a key reference.
    key: Option<&'a Node>,
    /// The `items` of a volume, whose `key`s it needs.
    items: &'a [Node],
    optional: bool,
    what: Via<'a>,
}

impl<'a> KeyedRef<'a> {
    fn keys(&self) -> impl Iterator<Item = &'a Node> {
        self.key
            .into_iter()
            .chain(self.items.iter().filter_map(|i| i.get("key")))
    }
}

fn optional(n: &Node) -> bool {
    n.get("optional").and_then(Node::as_bool) == Some(true)
}

fn items(n: &Node) -> &[Node] {
    n.get("items").and_then(Node::as_seq).unwrap_or(&[])
}

/// The references of a pod spec to objects of `kind` (`Secret` or `ConfigMap`): `env[].valueFrom`,
/// `envFrom`, volumes and projected volume sources.
fn keyed_refs<'a>(spec: &'a Node, kind: &str) -> Vec<KeyedRef<'a>> {
    let (key_ref, from_ref, volume, volume_name) = match kind {
        "Secret" => ("secretKeyRef", "secretRef", "secret", "secretName"),
        _ => ("configMapKeyRef", "configMapRef", "configMap", "name"),
    };
    let mut out = Vec::new();
    for c in containers(spec).into_iter().map(|c| c.node) {
        let container = c.str_at(&["name"]).unwrap_or("");
        for e in c.get("env").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(r) = e.path(&["valueFrom", key_ref]) else {
                continue;
            };
            if let Some(name) = r.get("name") {
                out.push(KeyedRef {
                    name,
                    key: r.get("key"),
                    items: &[],
                    optional: optional(r),
                    what: Via::Env {
                        var: e.str_at(&["name"]).unwrap_or(""),
                        container,
                    },
                });
            }
        }
        for e in c.get("envFrom").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(r) = e.get(from_ref) else { continue };
            if let Some(name) = r.get("name") {
                out.push(KeyedRef {
                    name,
                    key: None,
                    items: &[],
                    optional: optional(r),
                    what: Via::EnvFrom { container },
                });
            }
        }
    }
    for v in spec.get("volumes").and_then(Node::as_seq).unwrap_or(&[]) {
        let vname = v.str_at(&["name"]).unwrap_or("");
        if let Some(r) = v.get(volume) {
            if let Some(name) = r.get(volume_name) {
                out.push(KeyedRef {
                    name,
                    key: None,
                    items: items(r),
                    optional: optional(r),
                    what: Via::Volume(vname),
                });
            }
        }
        for s in v
            .path(&["projected", "sources"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let Some(r) = s.get(volume) else { continue };
            if let Some(name) = r.get("name") {
                out.push(KeyedRef {
                    name,
                    key: None,
                    items: items(r),
                    optional: optional(r),
                    what: Via::ProjectedVolume(vname),
                });
            }
        }
    }
    out
}

/// Shared by `missing-secret` and `missing-configmap`.
fn missing_keyed(ctx: &Context<'_>, out: &mut Vec<Finding>, rule: &Rule, kind: &str, makes: Makes) {
    let made = made_by_namespace(ctx.resources, makes);
    let nothing = Made::default();
    for r in ctx.resources {
        let Some(spec) = r.pod_spec() else { continue };
        let ns = r.namespace();
        let objects = made.get(ns).unwrap_or(&nothing);
        for re in keyed_refs(spec, kind) {
            if re.optional {
                continue;
            }
            let Some(name) = re.name.as_str() else {
                continue;
            };
            let found = objects.named(name);
            let declared: Keys<'_>;
            let keys = match found {
                Some((_, keys, _)) => keys.as_ref(),
                None => match external(ctx, kind, ns, name) {
                    Some(e) => {
                        declared = known(e.keys.iter().map(String::as_str).collect());
                        declared.as_ref()
                    }
                    // Kubernetes puts this one in every namespace.
                    None if kind == "ConfigMap" && name == "kube-root-ca.crt" => {
                        declared = Some(["ca.crt"].into());
                        declared.as_ref()
                    }
                    None => {
                        let mut f = rule
                            .finding(
                                re.name.origin,
                                Some(r),
                                format!(
                                    "{}: {} names the {kind} `{name}`, which is not in {}",
                                    object(r),
                                    re.what,
                                    ns_text(ns)
                                ),
                            )
                            .help(format!(
                                "{HELP_EXTERNAL}, or mark the reference `optional: true`"
                            ));
                        // An ExternalSecret or SealedSecret of that name that makes a Secret of another
                        // name.
                        if let Some((made, _, by)) = objects.made_by(name) {
                            f = f.related(
                                by.name_origin(),
                                format!("{} makes the {kind} `{made}`", object(by)),
                            );
                        }
                        out.push(f);
                        continue;
                    }
                },
            };
            let Some(keys) = keys else { continue };
            for k in re.keys() {
                let Some(key) = k.as_str() else { continue };
                if keys.contains(key) {
                    continue;
                }
                // A generated ConfigMap: the name the user wrote, not the hashed one.
                let shown = match found.and_then(|(_, _, by)| by.generated.as_ref()) {
                    Some(g) if g.base_name != name => {
                        format!("`{}` (generated as `{name}`)", g.base_name)
                    }
                    _ => format!("`{name}`"),
                };
                let mut f = rule
                    .finding(
                        k.origin,
                        Some(r),
                        format!(
                            "{}: {} needs the key `{key}` of {kind} {shown}, which has no such key (it has: {})",
                            object(r),
                            re.what,
                            keys.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .help("use one of its keys, or add the key where the object is made");
                if let Some((_, _, made_by)) = found {
                    f = f.related(
                        made_by.name_origin(),
                        format!("{} is made here", object(made_by)),
                    );
                }
                out.push(f);
            }
        }
    }
}

fn missing_secret(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    missing_keyed(ctx, out, &MISSING_SECRET, "Secret", secret);
}

fn missing_configmap(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    missing_keyed(ctx, out, &MISSING_CONFIGMAP, "ConfigMap", configmap);
}

/// Whether a StatefulSet makes a claim of this name for each pod (`volumeClaimTemplates`).
fn claim_template(r: &Resource, name: &str) -> bool {
    r.kind() == "StatefulSet"
        && r.node
            .path(&["spec", "volumeClaimTemplates"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .any(|t| t.str_at(&["metadata", "name"]) == Some(name))
}

fn missing_pvc(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    for r in ctx.resources {
        let Some(spec) = r.pod_spec() else { continue };
        let ns = r.namespace();
        for v in spec.get("volumes").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(claim) = v.path(&["persistentVolumeClaim", "claimName"]) else {
                continue;
            };
            let Some(name) = claim.as_str() else { continue };
            if claim_template(r, name)
                || index.get("", "PersistentVolumeClaim", ns, name).is_some()
                || external(ctx, "PersistentVolumeClaim", ns, name).is_some()
            {
                continue;
            }
            out.push(
                MISSING_PVC
                    .finding(
                        claim.origin,
                        Some(r),
                        format!(
                            "{}: volume `{}` names the PersistentVolumeClaim `{name}`, which is not in {}",
                            object(r),
                            v.str_at(&["name"]).unwrap_or(""),
                            ns_text(ns)
                        ),
                    )
                    .help(HELP_EXTERNAL),
            );
        }
    }
}

fn missing_service_account(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    let in_tree = index.namespaces();
    let exists = |ns: &str, name: &str| {
        index.get("", "ServiceAccount", ns, name).is_some()
            || builtin("ServiceAccount", ns, name)
            || external(ctx, "ServiceAccount", ns, name).is_some()
    };
    for r in ctx.resources {
        let ns = r.namespace();
        if let Some(spec) = r.pod_spec() {
            let node = spec
                .get("serviceAccountName")
                .or_else(|| spec.get("serviceAccount"));
            if let Some(n) = node {
                if let Some(name) = n.as_str().filter(|s| *s != "default") {
                    if !exists(ns, name) {
                        out.push(
                            MISSING_SERVICE_ACCOUNT
                                .finding(
                                    n.origin,
                                    Some(r),
                                    format!(
                                        "{} runs as the ServiceAccount `{name}`, which is not in {}",
                                        object(r),
                                        ns_text(ns)
                                    ),
                                )
                                .help(HELP_EXTERNAL),
                        );
                    }
                }
            }
        }
        if r.group() != "rbac.authorization.k8s.io"
            || !matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding")
        {
            continue;
        }
        for s in r.node.get("subjects").and_then(Node::as_seq).unwrap_or(&[]) {
            if s.str_at(&["kind"]) != Some("ServiceAccount") {
                continue;
            }
            let (Some(name_node), Some(name)) = (s.get("name"), s.str_at(&["name"])) else {
                continue;
            };
            let sns = s.str_at(&["namespace"]).unwrap_or(ns);
            if !in_tree.contains(sns) || exists(sns, name) {
                continue;
            }
            out.push(
                MISSING_SERVICE_ACCOUNT
                    .finding(
                        name_node.origin,
                        Some(r),
                        format!(
                            "{} binds the ServiceAccount `{name}`, which is not in {}",
                            object(r),
                            ns_text(sns)
                        ),
                    )
                    .help(HELP_EXTERNAL),
            );
        }
    }
}

/// ClusterRoles every cluster has.
fn builtin_cluster_role(name: &str) -> bool {
    matches!(name, "cluster-admin" | "admin" | "edit" | "view") || name.starts_with("system:")
}

/// Objects every cluster has, which no tree defines: the `default` ServiceAccount and the
/// `kube-root-ca.crt` ConfigMap of every namespace, and what the control plane keeps in `kube-system`
/// (the Roles of its bootstrap RBAC, the ConfigMap of the API server's client CA).
fn builtin(kind: &str, namespace: &str, name: &str) -> bool {
    match (kind, namespace) {
        ("ServiceAccount", _) => name == "default",
        ("ConfigMap", "kube-system") => {
            matches!(
                name,
                "kube-root-ca.crt" | "extension-apiserver-authentication"
            )
        }
        ("ConfigMap", _) => name == "kube-root-ca.crt",
        ("Role", "kube-system") => {
            name == "extension-apiserver-authentication-reader" || name.starts_with("system:")
        }
        ("Role", "kube-public") => name.starts_with("system:"),
        ("ClusterRole", _) => builtin_cluster_role(name),
        _ => false,
    }
}

fn missing_role(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    for r in ctx.resources {
        if r.group() != "rbac.authorization.k8s.io"
            || !matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding")
        {
            continue;
        }
        let Some(role_ref) = r.node.get("roleRef") else {
            continue;
        };
        let (Some(kind), Some(name_node)) = (role_ref.str_at(&["kind"]), role_ref.get("name"))
        else {
            continue;
        };
        let Some(name) = name_node.as_str() else {
            continue;
        };
        let ns = if kind == "Role" { r.namespace() } else { "" };
        // A ClusterRole is cluster-scoped: a `metadata.namespace` written on it is ignored by the API
        // server, so it is found by name alone.
        let cluster_role = kind == "ClusterRole"
            && index
                .of_kind("ClusterRole")
                .any(|c| c.group() == "rbac.authorization.k8s.io" && c.name() == name);
        if cluster_role
            || index
                .get("rbac.authorization.k8s.io", kind, ns, name)
                .is_some()
            || builtin(kind, ns, name)
            || external(ctx, kind, ns, name).is_some()
        {
            continue;
        }
        let place = if kind == "Role" {
            format!(" in {}", ns_text(ns))
        } else {
            String::new()
        };
        out.push(
            MISSING_ROLE
                .finding(
                    name_node.origin,
                    Some(r),
                    format!(
                        "{} refers to the {kind} `{name}`, which does not exist{place}",
                        object(r)
                    ),
                )
                .help(HELP_EXTERNAL),
        );
    }
}

fn missing_scale_target(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if r.group() != "autoscaling" || r.kind() != "HorizontalPodAutoscaler" {
            continue;
        }
        let Some(target) = r.node.path(&["spec", "scaleTargetRef"]) else {
            continue;
        };
        let (Some(kind), Some(name_node)) = (target.str_at(&["kind"]), target.get("name")) else {
            continue;
        };
        let Some(name) = name_node.as_str() else {
            continue;
        };
        let group = target.str_at(&["apiVersion"]).map(group_of);
        let ns = r.namespace();
        let index = ctx.index();
        let found = match group {
            Some(g) => index.get(g, kind, ns, name).is_some(),
            None => index.named(ns, kind, name).is_some(),
        };
        if found || external(ctx, kind, ns, name).is_some() {
            continue;
        }
        out.push(
            MISSING_SCALE_TARGET
                .finding(
                    name_node.origin,
                    Some(r),
                    format!(
                        "{} scales the {kind} `{name}`, which is not in {}",
                        object(r),
                        ns_text(ns)
                    ),
                )
                .help(HELP_EXTERNAL),
        );
    }
}

/// Whether a selector matches no pod of its namespace (an empty one matches them all).
/// A selector on a label only the cluster sets a value for (a pod's uid or template hash) is not judged.
fn selects_nothing(ctx: &Context<'_>, ns: &str, selector: &Selector) -> bool {
    !selector.is_empty()
        && !selector.names_controller_made_label()
        && !ctx.policy.selects_external_pods(ns, selector)
        && ctx.index().selected(ns, selector).next().is_none()
}

fn service_selects_nothing(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if !r.group().is_empty() || r.kind() != "Service" {
            continue;
        }
        let Some(sel) = r.node.path(&["spec", "selector"]) else {
            continue;
        };
        if r.node.str_at(&["spec", "type"]) == Some("ExternalName") {
            continue;
        }
        if selects_nothing(ctx, r.namespace(), &Selector::from_map(Some(sel))) {
            out.push(
                SERVICE_SELECTS_NOTHING
                    .finding(
                        sel.origin,
                        Some(r),
                        format!(
                            "the selector of Service {} matches no pod in {}",
                            r.name(),
                            ns_text(r.namespace())
                        ),
                    )
                    .help("compare it with the labels of the pod template it is meant for"),
            );
        }
    }
}

fn pdb_selects_nothing(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if r.group() != "policy" || r.kind() != "PodDisruptionBudget" {
            continue;
        }
        let Some(sel) = r.node.path(&["spec", "selector"]) else {
            continue;
        };
        if selects_nothing(ctx, r.namespace(), &Selector::label_selector(Some(sel))) {
            out.push(
                PDB_SELECTS_NOTHING
                    .finding(
                        sel.origin,
                        Some(r),
                        format!(
                            "the selector of PodDisruptionBudget {} matches no pod in {}",
                            r.name(),
                            ns_text(r.namespace())
                        ),
                    )
                    .help("compare it with the labels of the pod template it is meant for"),
            );
        }
    }
}

/// An Ingress backend: the Service name node and the port node (`port.name`/`port.number`, or the old
/// `servicePort`).
fn backends(r: &Resource) -> Vec<(&Node, Option<&Node>)> {
    fn add<'a>(b: &'a Node, out: &mut Vec<(&'a Node, Option<&'a Node>)>) {
        if let Some(s) = b.get("service") {
            if let Some(name) = s.get("name") {
                out.push((
                    name,
                    s.path(&["port", "name"])
                        .or_else(|| s.path(&["port", "number"])),
                ));
            }
        } else if let Some(name) = b.get("serviceName") {
            out.push((name, b.get("servicePort")));
        }
    }
    let mut out = Vec::new();
    let spec = r.node.get("spec");
    if let Some(b) = spec.and_then(|s| s.get("defaultBackend").or_else(|| s.get("backend"))) {
        add(b, &mut out);
    }
    for rule in spec
        .and_then(|s| s.get("rules"))
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        for p in rule
            .path(&["http", "paths"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            if let Some(b) = p.get("backend") {
                add(b, &mut out);
            }
        }
    }
    out
}

fn ingress_backend(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    for r in ctx.resources {
        if r.kind() != "Ingress" || !matches!(r.group(), "networking.k8s.io" | "extensions") {
            continue;
        }
        let ns = r.namespace();
        for (name_node, port) in backends(r) {
            let Some(name) = name_node.as_str() else {
                continue;
            };
            let Some(service) = index.get("", "Service", ns, name) else {
                if external(ctx, "Service", ns, name).is_none() {
                    out.push(
                        INGRESS_BACKEND
                            .finding(
                                name_node.origin,
                                Some(r),
                                format!(
                                    "Ingress {}: the backend Service `{name}` is not in {}",
                                    r.name(),
                                    ns_text(ns)
                                ),
                            )
                            .help(HELP_EXTERNAL),
                    );
                }
                continue;
            };
            let Some(port) = port else { continue };
            let ports = service
                .node
                .path(&["spec", "ports"])
                .and_then(Node::as_seq)
                .unwrap_or(&[]);
            let (found, wanted) = match &port.value {
                Value::Int(n) => (
                    ports
                        .iter()
                        .any(|p| p.get("port").and_then(Node::as_i64) == Some(*n)),
                    n.to_string(),
                ),
                Value::Str(s) => (
                    ports
                        .iter()
                        .any(|p| p.str_at(&["name"]) == Some(s.as_str())),
                    format!("`{s}`"),
                ),
                _ => continue,
            };
            if found {
                continue;
            }
            let has: Vec<String> = ports
                .iter()
                .map(
                    |p| match (p.str_at(&["name"]), p.get("port").and_then(Node::as_i64)) {
                        (Some(n), Some(num)) => format!("{n} ({num})"),
                        (None, Some(num)) => num.to_string(),
                        (Some(n), None) => n.to_string(),
                        (None, None) => "?".to_string(),
                    },
                )
                .collect();
            out.push(
                INGRESS_BACKEND
                    .finding(
                        port.origin,
                        Some(r),
                        format!(
                            "Ingress {}: Service `{name}` has no port {wanted} (it has: {})",
                            r.name(),
                            has.join(", ")
                        ),
                    )
                    .related(service.name_origin(), format!("Service {name} is defined here"))
                    .help("name one of the Service's ports, by its name or its `port` number (not the targetPort)"),
            );
        }
    }
}
