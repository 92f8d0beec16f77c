//! The `schema/` family: every object against its vendored Kubernetes or CRD schema, and what those
//! schemas cannot say: quantities, port ranges, name and label syntax, selectors that miss their own pod
//! template, named target ports that no container declares, duplicate container names and ports.
//!
//! Messages never quote a value from a Secret: schema errors are reported by shape ("expected a string,
//! found a mapping"), never by content.

use std::collections::BTreeSet;

use jsonschema::error::{TypeKind, ValidationErrorKind};

use crate::check::{vendored, Context, Finding, Rule, Severity};
use crate::k8s::names;
use crate::k8s::workload::{containers, template_labels};
use crate::k8s::{quantity::quantity, scalar_text, Selector};
use crate::load::layer::pointer_to_path;
use crate::node::{Node, Origin, Value};
use crate::resource::Resource;

pub static RULES: &[Rule] = &[
    Rule {
        code: "schema/invalid",
        default_severity: Severity::Error,
        summary: "The object does not match the vendored Kubernetes or CRD schema of its kind",
        run: invalid,
    },
    Rule {
        code: "schema/unknown-kind",
        default_severity: Severity::Error,
        summary: "No schema is vendored for the object's apiVersion and kind, and the policy does not allow it",
        run: unknown_kind,
    },
    Rule {
        code: "schema/removed-api",
        default_severity: Severity::Error,
        summary: "The object's apiVersion is one the target Kubernetes version no longer serves (--kube-version)",
        run: removed_api,
    },
    Rule {
        code: "schema/deprecated-api",
        default_severity: Severity::Warning,
        summary: "The object's apiVersion is served by the target Kubernetes version but removed in a later one",
        run: deprecated_api,
    },
    Rule {
        code: "schema/invalid-quantity",
        default_severity: Severity::Error,
        summary: "A resource quantity (cpu, memory, storage, quota) is not a Kubernetes quantity, or is negative",
        run: invalid_quantity,
    },
    Rule {
        code: "schema/port-out-of-range",
        default_severity: Severity::Error,
        summary: "A port number is outside 1-65535 (or a NetworkPolicy endPort is below its port)",
        run: port_out_of_range,
    },
    Rule {
        code: "schema/invalid-name",
        default_severity: Severity::Error,
        summary: "An object, namespace, container, volume or port name breaks the DNS-1123/IANA syntax Kubernetes requires",
        run: invalid_name,
    },
    Rule {
        code: "schema/invalid-label",
        default_severity: Severity::Error,
        summary: "A label key or value, annotation key or selector term breaks the Kubernetes label syntax",
        run: invalid_label,
    },
    Rule {
        code: "schema/selector-mismatch",
        default_severity: Severity::Error,
        summary: "A workload's selector does not match its own pod template's labels, or is empty",
        run: selector_mismatch,
    },
    Rule {
        code: "schema/unknown-target-port",
        default_severity: Severity::Error,
        summary: "A Service's named targetPort is declared by no container of the pods it selects",
        run: unknown_target_port,
    },
    Rule {
        code: "schema/duplicate-container-name",
        default_severity: Severity::Error,
        summary: "Two containers (init and ephemeral included) of one pod share a name",
        run: duplicate_container_name,
    },
    Rule {
        code: "schema/duplicate-port",
        default_severity: Severity::Error,
        summary: "A pod or Service declares the same port number and protocol, or the same port name, twice",
        run: duplicate_port,
    },
];

fn finding(r: &Resource, origin: Origin, message: String) -> Finding {
    Finding {
        code: "",
        severity: Severity::Error,
        message,
        origin,
        resource: Some(r.id()),
        related: Vec::new(),
        help: None,
    }
}

fn with_help(mut f: Finding, help: impl Into<String>) -> Finding {
    f.help = Some(help.into());
    f
}

fn types_text(kind: &TypeKind) -> String {
    let names: Vec<String> = match kind {
        TypeKind::Single(t) => vec![t.to_string()],
        TypeKind::Multiple(set) => set
            .into_iter()
            .map(|t| t.to_string())
            .filter(|t| t != "null")
            .collect(),
    };
    let names: Vec<String> = names
        .into_iter()
        .map(|n| match n.as_str() {
            "object" => "a mapping".to_string(),
            "array" => "a list".to_string(),
            "integer" => "an integer".to_string(),
            other => format!("a {other}"),
        })
        .collect();
    names.join(" or ")
}

fn article(node: &Node) -> String {
    match node.type_name() {
        "integer" => "an integer".into(),
        "null" => "null".into(),
        t => format!("a {t}"),
    }
}

/// The message and place of one schema error, without the value.
fn schema_problem(root: &Node, e: &jsonschema::ValidationError<'_>) -> (Origin, String) {
    let pointer = e.instance_path().as_str().to_string();
    let node = root.pointer(&pointer).unwrap_or(root);
    let at = if pointer.is_empty() {
        "the object".to_string()
    } else {
        format!("`{}`", pointer_to_path(&pointer))
    };
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let key = unexpected.first().cloned().unwrap_or_default();
            let origin = node
                .as_map()
                .and_then(|m| m.get_entry(&key))
                .map(|(k, _)| k.origin)
                .unwrap_or(node.origin);
            let more = if unexpected.len() > 1 {
                format!(
                    " (and {})",
                    unexpected[1..]
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            };
            (origin, format!("{at}: unknown field `{key}`{more}"))
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| property.to_string());
            (
                node.origin,
                format!("{at}: the required field `{name}` is missing"),
            )
        }
        ValidationErrorKind::Type { kind } => (
            node.origin,
            format!(
                "{at}: expected {}, found {}",
                types_text(kind),
                article(node)
            ),
        ),
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. }
            if node.is_null() =>
        {
            (
                node.origin,
                format!("{at}: an explicit null is not allowed here; remove the field"),
            )
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => (
            node.origin,
            format!(
                "{at}: {} matches none of the forms the schema allows",
                article(node)
            ),
        ),
        _ => (node.origin, format!("{at}: {}", e.masked_with("the value"))),
    }
}

/// Validates every object against the schema of its `apiVersion` and `kind`: the built-in kinds of the
/// target Kubernetes minor (`--kube-version`, default the newest vendored; `schemas/kubernetes/`), else
/// the `openAPIV3Schema` of a served version of a CustomResourceDefinition among the checked objects,
/// else a vendored CRD schema (`schemas/crds/`): wrong types, missing required fields, unknown
/// (misspelt) fields, values outside an enum the schema declares.
///
/// A CRD's schema is read as the API server reads a structural schema: `nullable`,
/// `x-kubernetes-int-or-string`, `x-kubernetes-embedded-resource` and
/// `x-kubernetes-preserve-unknown-fields` are honoured. Where the API server would prune an unknown
/// field silently, it is an error here, as `kubectl apply`'s strict field validation (its default, and
/// Argo CD's) reports it: the field is lost either way. A finding about a custom resource names the CRD
/// and points at its schema too.
///
/// Why: the API server rejects such an object at sync time, after the commit; a misspelt field such as
/// `resource:` is silently dropped by client-side tools and the container runs without limits.
///
/// Bad:
/// ```yaml
/// spec:
///   replicas: "3"                        # a string
///   template:
///     spec:
///       containers:
///         - image: openim/openim-api     # no name
///           ports: [{containerPort: "10002"}]
///           resource: {}                 # misspelt `resources`
/// ```
/// Good:
/// ```yaml
/// spec:
///   replicas: 3
///   template:
///     spec:
///       containers:
///         - name: openim-api
///           image: openim/openim-api
///           ports: [{containerPort: 10002}]
///           resources: {}
/// ```
pub fn invalid(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let Some(schema) = schema_of(ctx, r.api_version(), r.kind()) else {
            continue;
        };
        let (validator, help, related) = match schema {
            SchemaOf::Vendored(s) => (
                &s.validator,
                format!("checked against {}", s.source),
                None,
            ),
            SchemaOf::Tree(s) => (
                &s.validator,
                format!(
                    "checked against the schema of the CustomResourceDefinition `{}` in the checked files",
                    s.crd
                ),
                Some((s.origin, "the CRD's schema".to_string())),
            ),
        };
        let validator = match validator {
            Ok(v) => v,
            Err(e) => {
                let mut f = finding(
                    r,
                    r.node
                        .get("kind")
                        .map(|n| n.origin)
                        .unwrap_or(r.node.origin),
                    format!(
                        "the schema of {} {} does not compile: {e}",
                        r.api_version(),
                        r.kind()
                    ),
                );
                f.related.extend(related);
                out.push(with_help(f, help));
                continue;
            }
        };
        let json = r.node.to_json();
        let mut seen: Vec<(Origin, String)> = Vec::new();
        for e in validator.iter_errors(&json) {
            let (origin, message) = schema_problem(&r.node, &e);
            if seen.iter().any(|(o, m)| *o == origin && *m == message) {
                continue;
            }
            seen.push((origin, message.clone()));
            let mut f = with_help(finding(r, origin, message), help.clone());
            f.related.extend(related.clone());
            out.push(f);
        }
    }
}

/// Where the schema of an object's kind comes from.
enum SchemaOf<'a> {
    /// A built-in kind of the target minor, or a vendored CRD.
    Vendored(&'static vendored::Schema),
    /// A CRD in the checked tree.
    Tree(&'a crate::check::tree_crds::TreeSchema),
}

/// The schema of `apiVersion`/`kind`: a built-in kind the target minor serves, else a CRD of the
/// checked tree (what will be applied), else a vendored CRD schema.
fn schema_of<'a>(ctx: &'a Context<'_>, api: &str, kind: &str) -> Option<SchemaOf<'a>> {
    if !vendored::serves(ctx.kube, api, kind) {
        if let Some(s) = ctx.tree_schema(api, kind) {
            return Some(SchemaOf::Tree(s));
        }
    }
    vendored::schema(ctx.kube, api, kind).map(SchemaOf::Vendored)
}

/// Reports objects whose `apiVersion` and `kind` have no schema for the target Kubernetes minor
/// (`--kube-version`): not a built-in kind it serves, not a vendored CRD, not a custom resource whose CRD
/// is in the checked tree; unless the policy allows the kind (`allow.kinds`). An apiVersion Kubernetes
/// removed is `schema/removed-api` instead.
///
/// Why: a typo in `kind` or `apiVersion` is refused by the cluster, and an object nothing can validate
/// hides every other mistake in it.
///
/// Bad:
/// ```yaml
/// apiVersion: apps/v1
/// kind: Deploymnet
/// ```
/// Good:
/// ```yaml
/// apiVersion: apps/v1
/// kind: Deployment
/// ```
pub fn unknown_kind(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let (api, kind) = (r.api_version(), r.kind());
        if schema_of(ctx, api, kind).is_some()
            || ctx.policy.allows_kind(api, kind)
            || removed_for(ctx, api, kind).is_some()
        {
            continue;
        }
        let versions = vendored::versions_of(ctx.kube, kind);
        // A kind a newer vendored minor serves: the target is too old for it.
        let from = vendored::KubeVersion::all().find(|v| vendored::serves(*v, api, kind));
        let (origin, message) = if let Some(from) = from.filter(|v| *v > ctx.kube) {
            (
                api_version_origin(r),
                format!(
                    "Kubernetes {} (the target) does not serve `{kind}` in apiVersion `{api}`; it is served from {from} on",
                    ctx.kube
                ),
            )
        } else if versions.is_empty() {
            (
                r.node
                    .get("kind")
                    .map(|n| n.origin)
                    .unwrap_or(r.node.origin),
                format!("no schema is vendored for kind `{kind}` (apiVersion `{api}`)"),
            )
        } else {
            (
                api_version_origin(r),
                format!(
                    "`{kind}` has no vendored schema for apiVersion `{api}`; vendored: {}",
                    versions.join(", ")
                ),
            )
        };
        out.push(with_help(
            finding(r, origin, message),
            format!(
                "fix the apiVersion or kind (or --kube-version); for a real custom resource, keep its CRD in the \
                 checked tree, vendor its schema (schemas/refresh.py) or allow it in policies/: \
                 `allow: {{kinds: [{{apiVersion: {api}, kind: {kind}}}]}}`"
            ),
        ));
    }
}

fn api_version_origin(r: &Resource) -> Origin {
    r.node
        .get("apiVersion")
        .map(|n| n.origin)
        .unwrap_or(r.node.origin)
}

/// The removal of an object's apiVersion that applies to the target minor: removed in it or before,
/// and not served by it.
fn removed_for(ctx: &Context<'_>, api: &str, kind: &str) -> Option<&'static vendored::Removal> {
    vendored::removal(api, kind).filter(|rm| {
        rm.removed_minor() <= ctx.kube.minor() && !vendored::serves(ctx.kube, api, kind)
    })
}

fn replacement_help(rm: &vendored::Removal) -> String {
    let mut help = match &rm.replacement {
        Some(to) => format!("use apiVersion `{to}`"),
        None => format!("{} has no replacement", rm.kind),
    };
    if let Some(note) = &rm.note {
        help.push_str(&format!(" ({note})"));
    }
    help.push_str("; see Kubernetes' Deprecated API Migration Guide");
    help
}

/// Reports an object whose `apiVersion` the target Kubernetes minor (`--kube-version`, default the
/// newest vendored) no longer serves, with the minor that removed it and the apiVersion to use instead,
/// as pluto and kubent do. The table is `schemas/kubernetes/removed-apis.json` (from Kubernetes'
/// Deprecated API Migration Guide). Such an object gets this finding instead of `schema/unknown-kind`.
///
/// Why: the API server refuses the object, so the sync fails after the commit; and an upgrade of the
/// cluster breaks manifests that applied fine the day before.
///
/// Bad:
/// ```yaml
/// apiVersion: extensions/v1beta1   # removed in Kubernetes 1.22
/// kind: Ingress
/// ```
/// Good:
/// ```yaml
/// apiVersion: networking.k8s.io/v1
/// kind: Ingress
/// ```
pub fn removed_api(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let (api, kind) = (r.api_version(), r.kind());
        let Some(rm) = removed_for(ctx, api, kind) else {
            continue;
        };
        out.push(with_help(
            finding(
                r,
                api_version_origin(r),
                format!(
                    "`{api}` {kind} is no longer served: Kubernetes removed it in {} (checked against {})",
                    rm.removed_in, ctx.kube
                ),
            ),
            replacement_help(rm),
        ));
    }
}

/// Reports an object whose `apiVersion` the target Kubernetes minor still serves but a later minor
/// removes, with that minor and the apiVersion to use instead (`schemas/kubernetes/removed-apis.json`).
///
/// Why: the manifests work today and break on the cluster's next upgrade; moving before it is cheap.
///
/// Bad (with `--kube-version 1.25`):
/// ```yaml
/// apiVersion: autoscaling/v2beta2   # removed in Kubernetes 1.26
/// kind: HorizontalPodAutoscaler
/// ```
/// Good:
/// ```yaml
/// apiVersion: autoscaling/v2
/// kind: HorizontalPodAutoscaler
/// ```
pub fn deprecated_api(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let (api, kind) = (r.api_version(), r.kind());
        let Some(rm) = vendored::removal(api, kind) else {
            continue;
        };
        // Removed already (`schema/removed-api`), or not served yet (`schema/unknown-kind` says from when).
        if !vendored::serves(ctx.kube, api, kind) {
            continue;
        }
        out.push(with_help(
            finding(
                r,
                api_version_origin(r),
                format!(
                    "`{api}` {kind} is removed in Kubernetes {}; the target {} still serves it",
                    rm.removed_in, ctx.kube
                ),
            ),
            replacement_help(rm),
        ));
    }
}

fn add<'a>(out: &mut Vec<(&'a Node, String)>, n: Option<&'a Node>, label: String) {
    if let Some(n) = n {
        out.push((n, label));
    }
}

fn add_claim<'a>(out: &mut Vec<(&'a Node, String)>, claim: &'a Node) {
    for w in ["requests", "limits"] {
        add(
            out,
            claim.path(&["spec", "resources", w]),
            format!("volume claim resources.{w}"),
        );
    }
}

/// Quantity maps of an object, with a label for messages.
fn quantity_maps(r: &Resource) -> Vec<(&Node, String)> {
    let mut out = Vec::new();
    if let Some(spec) = r.pod_spec() {
        for c in containers(spec) {
            for which in ["requests", "limits"] {
                add(
                    &mut out,
                    c.node.path(&["resources", which]),
                    format!("resources.{which} of container `{}`", c.name),
                );
            }
        }
        for which in ["requests", "limits"] {
            add(
                &mut out,
                spec.path(&["resources", which]),
                format!("pod resources.{which}"),
            );
        }
    }
    let list = |key: &str| -> &[Node] {
        r.node
            .path(&["spec", key])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
    };
    match r.kind() {
        "PersistentVolumeClaim" => {
            for which in ["requests", "limits"] {
                add(
                    &mut out,
                    r.node.path(&["spec", "resources", which]),
                    format!("spec.resources.{which}"),
                );
            }
        }
        "StatefulSet" => {
            for t in list("volumeClaimTemplates") {
                add_claim(&mut out, t);
            }
        }
        "ResourceQuota" => add(&mut out, r.node.path(&["spec", "hard"]), "spec.hard".into()),
        "LimitRange" => {
            for l in list("limits") {
                for key in [
                    "max",
                    "min",
                    "default",
                    "defaultRequest",
                    "maxLimitRequestRatio",
                ] {
                    add(&mut out, l.get(key), format!("spec.limits[].{key}"));
                }
            }
        }
        "Cluster" if r.group() == "apps.kubeblocks.io" => {
            for c in list("componentSpecs") {
                let name = c.str_at(&["name"]).unwrap_or("");
                for which in ["requests", "limits"] {
                    add(
                        &mut out,
                        c.path(&["resources", which]),
                        format!("resources.{which} of component `{name}`"),
                    );
                }
                for t in c
                    .get("volumeClaimTemplates")
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                {
                    add_claim(&mut out, t);
                }
            }
        }
        _ => {}
    }
    out
}

/// Checks that every resource quantity (container and pod `requests`/`limits`, volume claims,
/// `emptyDir.sizeLimit`, ResourceQuota `hard`, LimitRange limits, KubeBlocks component resources) is a
/// Kubernetes quantity and not negative.
///
/// Why: the vendored schemas accept any string for a quantity; the API server refuses `lots` or `1GB`
/// and the sync fails after the commit.
///
/// Bad:
/// ```yaml
/// resources:
///   requests: {cpu: lots, memory: 1GB}
/// ```
/// Good:
/// ```yaml
/// resources:
///   requests: {cpu: 250m, memory: 1Gi}
/// ```
pub fn invalid_quantity(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let mut values: Vec<(&Node, String)> = Vec::new();
        for (map, label) in quantity_maps(r) {
            for (k, v) in map
                .as_map()
                .map(|m| m.iter().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                values.push((v, format!("`{}` in {label}", k.name)));
            }
        }
        if let Some(spec) = r.pod_spec() {
            for v in spec.get("volumes").and_then(Node::as_seq).unwrap_or(&[]) {
                if let Some(limit) = v.path(&["emptyDir", "sizeLimit"]) {
                    let name = v.str_at(&["name"]).unwrap_or("");
                    values.push((limit, format!("emptyDir.sizeLimit of volume `{name}`")));
                }
            }
        }
        for (v, what) in values {
            if v.is_null() {
                continue;
            }
            match quantity(v) {
                Ok(q) if q < 0.0 => out.push(finding(r, v.origin, format!("{what} is negative"))),
                Ok(_) => {}
                Err(reason) => {
                    let shown = match &v.value {
                        Value::Str(s) => format!(" (`{s}`)"),
                        _ => String::new(),
                    };
                    out.push(with_help(
                        finding(r, v.origin, format!("{what} is not a quantity{shown}: {reason}")),
                        "write cpu as cores or millicores (`0.5`, `500m`) and memory or storage in bytes with a unit (`512Mi`, `2Gi`)",
                    ));
                }
            }
        }
    }
}

/// A port number to check: the node, what it is, and whether 0 (unset) is allowed.
fn port_numbers(r: &Resource) -> Vec<(&Node, String, bool)> {
    let mut out = Vec::new();
    if let Some(spec) = r.pod_spec() {
        for c in containers(spec) {
            for p in c.node.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
                if let Some(n) = p.get("containerPort") {
                    out.push((n, format!("containerPort of container `{}`", c.name), false));
                }
                if let Some(n) = p.get("hostPort") {
                    out.push((n, format!("hostPort of container `{}`", c.name), true));
                }
            }
            let hooks = [
                vec!["livenessProbe"],
                vec!["readinessProbe"],
                vec!["startupProbe"],
                vec!["lifecycle", "postStart"],
                vec!["lifecycle", "preStop"],
            ];
            for hook in hooks {
                let Some(h) = c.node.path(&hook) else {
                    continue;
                };
                for action in ["httpGet", "tcpSocket", "grpc"] {
                    if let Some(n) = h.path(&[action, "port"]) {
                        out.push((
                            n,
                            format!("{}.{action}.port of container `{}`", hook.join("."), c.name),
                            false,
                        ));
                    }
                }
            }
        }
    }
    let spec = r.node.get("spec");
    match r.kind() {
        "Service" => {
            for p in spec
                .and_then(|s| s.get("ports"))
                .and_then(Node::as_seq)
                .unwrap_or(&[])
            {
                for (key, zero) in [("port", false), ("targetPort", true), ("nodePort", true)] {
                    if let Some(n) = p.get(key) {
                        out.push((n, format!("Service {key}"), zero));
                    }
                }
            }
        }
        "NetworkPolicy" => {
            for dir in ["ingress", "egress"] {
                for rule in spec
                    .and_then(|s| s.get(dir))
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                {
                    for p in rule.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
                        for key in ["port", "endPort"] {
                            if let Some(n) = p.get(key) {
                                out.push((n, format!("{dir} {key}"), false));
                            }
                        }
                    }
                }
            }
        }
        "Ingress" => {
            if let Some(n) =
                spec.and_then(|s| s.path(&["defaultBackend", "service", "port", "number"]))
            {
                out.push((n, "defaultBackend port".into(), false));
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
                    if let Some(n) = p.path(&["backend", "service", "port", "number"]) {
                        out.push((n, "backend service port".into(), false));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// Checks port numbers: container, host and probe ports, Service `port`/`targetPort`/`nodePort`,
/// NetworkPolicy `port`/`endPort`, Ingress backend ports must lie in 1-65535 (0 means "unset" where
/// Kubernetes allows it), and a NetworkPolicy `endPort` must not be below its `port`.
///
/// Why: the vendored schemas only say "integer"; `port: 70000` passes them and fails at sync time.
///
/// Bad:
/// ```yaml
/// ports:
///   - port: 70000
/// ```
/// Good:
/// ```yaml
/// ports:
///   - port: 7000
/// ```
pub fn port_out_of_range(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        for (n, what, zero_ok) in port_numbers(r) {
            let Some(p) = n.as_i64() else { continue };
            if (p == 0 && zero_ok) || (1..=65535).contains(&p) {
                continue;
            }
            out.push(finding(
                r,
                n.origin,
                format!("{what} {p} is out of range: ports are 1 to 65535"),
            ));
        }
        if r.kind() == "NetworkPolicy" {
            for dir in ["ingress", "egress"] {
                for rule in r
                    .node
                    .path(&["spec", dir])
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                {
                    for p in rule.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
                        let (Some(port), Some(end)) = (p.get("port"), p.get("endPort")) else {
                            continue;
                        };
                        if let (Some(a), Some(b)) = (port.as_i64(), end.as_i64()) {
                            if b < a {
                                let mut f = finding(
                                    r,
                                    end.origin,
                                    format!("{dir} endPort {b} is below its port {a}"),
                                );
                                f.related.push((port.origin, "the port".into()));
                                out.push(f);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How Kubernetes validates `metadata.name` of a kind.
/// A syntax check: `Err` says what is wrong.
type NameCheck = fn(&str) -> Result<(), String>;

fn name_rule(kind: &str) -> (NameCheck, &'static str) {
    match kind {
        "Service" => (names::dns1035_label, "an RFC 1035 label"),
        "Namespace" => (names::dns1123_label, "an RFC 1123 label"),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            (names::path_segment, "a path segment")
        }
        _ => (names::dns1123_subdomain, "an RFC 1123 subdomain"),
    }
}

/// Checks names Kubernetes constrains: `metadata.name` by kind (a label for Services and Namespaces, a
/// subdomain for most kinds, at most 52 characters for CronJobs), `metadata.namespace`, container and
/// volume names (RFC 1123 labels), named container ports and named `targetPort`s (IANA service names),
/// Service port names, and names on every port of a Service with several ports.
///
/// Why: the schemas say "string"; the API server refuses `OpenIM_API` or a port named `grpc-gateway-port`
/// (over 15 characters) at sync time.
///
/// Bad:
/// ```yaml
/// metadata: {name: OpenIM_API}
/// ports: [{name: grpc-gateway-port, containerPort: 10170}]
/// ```
/// Good:
/// ```yaml
/// metadata: {name: openim-api}
/// ports: [{name: grpc-gateway, containerPort: 10170}]
/// ```
pub fn invalid_name(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let bad = |n: &Node,
                   what: &str,
                   check: fn(&str) -> Result<(), String>,
                   out: &mut Vec<Finding>| {
            let Some(s) = n.as_str() else { return };
            if let Err(e) = check(s) {
                out.push(finding(
                    r,
                    n.origin,
                    format!("{what} `{s}` is invalid: it {e}"),
                ));
            }
        };
        if let Some(n) = r.node.path(&["metadata", "name"]) {
            let (check, rule) = name_rule(r.kind());
            if let (Some(s), Err(e)) = (n.as_str(), n.as_str().map(check).unwrap_or(Ok(()))) {
                out.push(finding(
                    r,
                    n.origin,
                    format!(
                        "the name `{s}` is invalid: it {e} (a {} name is {rule})",
                        r.kind()
                    ),
                ));
            }
            if r.kind() == "CronJob" && n.as_str().is_some_and(|s| s.len() > 52) {
                out.push(finding(
                    r,
                    n.origin,
                    "a CronJob name must be at most 52 characters (its Jobs append 11)".into(),
                ));
            }
        }
        if let Some(n) = r.node.path(&["metadata", "namespace"]) {
            bad(n, "the namespace", names::dns1123_label, out);
        }
        if let Some(spec) = r.pod_spec() {
            for c in containers(spec) {
                if let Some(n) = c.node.get("name") {
                    bad(n, "the container name", names::dns1123_label, out);
                }
                for p in c.node.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
                    if let Some(n) = p.get("name") {
                        bad(n, "the port name", names::iana_svc_name, out);
                    }
                }
                for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                    for action in ["httpGet", "tcpSocket"] {
                        if let Some(n) = c.node.path(&[probe, action, "port"]) {
                            bad(n, "the probe port name", names::iana_svc_name, out);
                        }
                    }
                }
            }
            for v in spec.get("volumes").and_then(Node::as_seq).unwrap_or(&[]) {
                if let Some(n) = v.get("name") {
                    bad(n, "the volume name", names::dns1123_label, out);
                }
            }
        }
        if r.kind() == "Service" {
            let ports = r
                .node
                .path(&["spec", "ports"])
                .and_then(Node::as_seq)
                .unwrap_or(&[]);
            for p in ports {
                match p.get("name") {
                    Some(n) => bad(n, "the Service port name", names::dns1123_label, out),
                    None if ports.len() > 1 => out.push(finding(
                        r,
                        p.origin,
                        "this Service has several ports, so each needs a `name`".into(),
                    )),
                    None => {}
                }
                if let Some(n) = p.get("targetPort") {
                    bad(n, "the targetPort name", names::iana_svc_name, out);
                }
            }
        }
    }
}

/// ` `value`` for a message, or nothing for a Secret: nothing from a Secret is quoted, not even a label.
fn quoted(r: &Resource, text: &str) -> String {
    if r.kind() == "Secret" {
        String::new()
    } else {
        format!(" `{text}`")
    }
}

fn check_label_map(r: &Resource, map: &Node, what: &str, values: bool, out: &mut Vec<Finding>) {
    for (k, v) in map
        .as_map()
        .map(|m| m.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if let Err(e) = names::qualified_name(&k.name) {
            out.push(finding(
                r,
                k.origin,
                format!("the {what} key `{}` is invalid: {e}", k.name),
            ));
        }
        if values {
            if let Some(text) = scalar_text(v) {
                if let Err(e) = names::label_value(&text) {
                    out.push(finding(
                        r,
                        v.origin,
                        format!(
                            "the {what} value{} of `{}` is invalid: it {e}",
                            quoted(r, &text),
                            k.name
                        ),
                    ));
                }
            }
        }
    }
}

fn walk_labels(r: &Resource, node: &Node, parent: Option<&str>, out: &mut Vec<Finding>) {
    match &node.value {
        Value::Map(m) => {
            for (k, v) in m.iter() {
                match (parent, k.name.as_str()) {
                    (Some("metadata"), "labels") => check_label_map(r, v, "label", true, out),
                    (Some("metadata"), "annotations") => {
                        check_label_map(r, v, "annotation", false, out)
                    }
                    (_, "matchLabels") => check_label_map(r, v, "selector", true, out),
                    (_, "matchExpressions") => {
                        for e in v.as_seq().unwrap_or(&[]) {
                            if let Some(key) = e.get("key") {
                                if let Some(s) = key.as_str() {
                                    if let Err(err) = names::qualified_name(s) {
                                        out.push(finding(
                                            r,
                                            key.origin,
                                            format!("the selector key `{s}` is invalid: {err}"),
                                        ));
                                    }
                                }
                            }
                            for val in e.get("values").and_then(Node::as_seq).unwrap_or(&[]) {
                                if let Some(text) = scalar_text(val) {
                                    if let Err(err) = names::label_value(&text) {
                                        out.push(finding(
                                            r,
                                            val.origin,
                                            format!(
                                                "the selector value{} is invalid: it {err}",
                                                quoted(r, &text)
                                            ),
                                        ));
                                    }
                                }
                            }
                        }
                    }
                    _ => walk_labels(r, v, Some(&k.name), out),
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| walk_labels(r, i, None, out)),
        _ => {}
    }
}

/// Checks label syntax wherever labels appear: `metadata.labels` (objects and templates), annotation
/// keys, `matchLabels` and `matchExpressions` of every selector, and a Service's `spec.selector`.
///
/// Why: keys and values have a strict syntax (at most 63 characters, an optional DNS prefix); the
/// schemas accept any string and the API server refuses the object.
///
/// Bad:
/// ```yaml
/// labels:
///   app.kubernetes.io/version: v3.8.3+build.1   # `+` is not allowed
///   team/: im                                   # empty name after the prefix
/// ```
/// Good:
/// ```yaml
/// labels:
///   app.kubernetes.io/version: v3.8.3-build.1
///   openim.io/team: im
/// ```
pub fn invalid_label(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        // Data keys of ConfigMaps and Secrets are not labels, whatever they are called.
        for (k, v) in r
            .node
            .as_map()
            .map(|m| m.iter().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            // A CRD's spec is a schema: its `matchLabels` are property names, not selectors.
            let crd_spec = r.kind() == "CustomResourceDefinition" && k.name == "spec";
            if !crd_spec && !matches!(k.name.as_str(), "data" | "stringData" | "binaryData") {
                walk_labels(r, v, Some(&k.name), out);
            }
        }
        if r.kind() == "Service" {
            if let Some(sel) = r.node.path(&["spec", "selector"]) {
                check_label_map(r, sel, "selector", true, out);
            }
        }
    }
}

/// Checks that the `spec.selector` of a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job selects
/// the pods of its own template: every `matchLabels` entry and `matchExpressions` term must hold for
/// the template's labels, and the selector must not be empty.
///
/// Why: the API server refuses a workload whose selector misses its template ("selector does not match
/// template labels"), and the selector is immutable afterwards; an overlay that changes a template label
/// breaks it without touching the selector.
///
/// Bad:
/// ```yaml
/// selector: {matchLabels: {app: openim-api}}
/// template:
///   metadata: {labels: {app: openim-apis}}
/// ```
/// Good:
/// ```yaml
/// selector: {matchLabels: {app: openim-api}}
/// template:
///   metadata: {labels: {app: openim-api}}
/// ```
pub fn selector_mismatch(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if !matches!(
            r.kind(),
            "Deployment"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicaSet"
                | "ReplicationController"
                | "Job"
        ) {
            continue;
        }
        let Some(sel_node) = r.node.path(&["spec", "selector"]) else {
            continue;
        };
        // A ReplicationController's selector is a plain map of labels.
        let sel = if r.kind() == "ReplicationController" {
            Some(Selector::from_map(Some(sel_node)))
        } else {
            Selector::from_label_selector(sel_node)
        };
        let Some(sel) = sel else {
            continue;
        };
        if sel.is_empty() {
            out.push(finding(
                r,
                sel_node.origin,
                format!("the selector of {} {} is empty", r.kind(), r.name()),
            ));
            continue;
        }
        let labels = template_labels(r);
        let labels_origin = labels
            .map(|l| l.origin)
            .or_else(|| r.pod_template().map(|t| t.origin))
            .unwrap_or(r.node.origin);
        for req in sel.unmet(&crate::k8s::labels(labels)) {
            let have = labels.and_then(|l| l.as_map()?.get_entry(&req.key));
            let (message, related) = match have {
                Some((_, v)) => (
                    format!(
                        "the selector requires `{}` but the pod template's label is `{}={}`",
                        req.describe(),
                        req.key,
                        scalar_text(v).unwrap_or_default()
                    ),
                    (v.origin, "the pod template's label".to_string()),
                ),
                None => (
                    format!(
                        "the selector requires `{}` but the pod template has no label `{}`",
                        req.describe(),
                        req.key
                    ),
                    (labels_origin, "the pod template's labels".to_string()),
                ),
            };
            let mut f = with_help(
                finding(r, req.origin, message),
                "make the template's labels satisfy the selector (selectors are immutable once applied)",
            );
            f.related.push(related);
            out.push(f);
        }
    }
}

/// Checks that a Service's named `targetPort` is declared (as a named container port) by some container
/// of the pods the Service selects. Services that select no pod are left to `refs/`.
///
/// Why: a named target port that no container declares makes the Service's endpoints empty: traffic
/// fails although every pod is ready.
///
/// Bad:
/// ```yaml
/// # Service
/// ports: [{name: http, port: 80, targetPort: web}]
/// # its pods
/// ports: [{name: http, containerPort: 10002}]
/// ```
/// Good:
/// ```yaml
/// ports: [{name: http, port: 80, targetPort: http}]
/// ```
pub fn unknown_target_port(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for svc in ctx.resources.iter().filter(|r| r.kind() == "Service") {
        let Some(sel_node) = svc.node.path(&["spec", "selector"]) else {
            continue;
        };
        let sel = Selector::from_map(Some(sel_node));
        if sel.is_empty() {
            continue;
        }
        // The workloads of the Service's namespace whose pod templates the selector matches.
        let mut pods = ctx
            .index()
            .selected_workloads(svc.namespace(), &sel)
            .map(|i| &ctx.resources[i])
            .peekable();
        let Some(first) = pods.peek().copied() else {
            continue;
        };
        let mut declared = BTreeSet::new();
        for w in pods {
            for c in w.pod_spec().map(containers).unwrap_or_default() {
                for p in c.node.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
                    if let Some(name) = p.str_at(&["name"]) {
                        declared.insert(name);
                    }
                }
            }
        }
        for p in svc
            .node
            .path(&["spec", "ports"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let Some(tp) = p.get("targetPort") else {
                continue;
            };
            let Some(name) = tp.as_str() else { continue };
            if declared.contains(name) {
                continue;
            }
            let names = if declared.is_empty() {
                "no named ports".to_string()
            } else {
                format!(
                    "ports {}",
                    declared
                        .iter()
                        .map(|d| format!("`{d}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let mut f = finding(
                svc,
                tp.origin,
                format!("the targetPort `{name}` is declared by no container of the selected pods"),
            );
            f.related.push((
                first.name_origin(),
                format!(
                    "selects the pods of {} {}, which declare {names}",
                    first.kind(),
                    first.name()
                ),
            ));
            f.help = Some("name the container port the same, or target it by number".into());
            out.push(f);
        }
    }
}

/// Checks that the containers, init containers and ephemeral containers of a pod have distinct names.
///
/// Why: Kubernetes refuses the pod; and a strategic merge patch (which merges containers by name) would
/// patch only one of them, so an overlay can silently miss a container.
///
/// Bad:
/// ```yaml
/// initContainers: [{name: api, image: busybox}]
/// containers: [{name: api, image: openim/openim-api}]
/// ```
/// Good:
/// ```yaml
/// initContainers: [{name: wait-for-db, image: busybox}]
/// containers: [{name: api, image: openim/openim-api}]
/// ```
pub fn duplicate_container_name(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let Some(spec) = r.pod_spec() else { continue };
        let mut seen: Vec<(&str, Origin)> = Vec::new();
        for c in containers(spec) {
            if c.name.is_empty() {
                continue;
            }
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == c.name) {
                let mut f = finding(
                    r,
                    c.origin(),
                    format!("two containers are named `{}`", c.name),
                );
                f.related.push((*first, "first named here".into()));
                out.push(f);
            } else {
                seen.push((c.name, c.origin()));
            }
        }
    }
}

fn protocol(port: &Node) -> &str {
    port.str_at(&["protocol"]).unwrap_or("TCP")
}

/// Checks for ports declared twice: the same port name within a container or a Service, the same
/// `containerPort`/protocol in two places of one pod, the same Service `port`/protocol twice.
///
/// Why: Kubernetes refuses duplicate Service ports and container port names; a duplicate container port
/// makes named ports and strategic merge patches (which merge ports by `containerPort`) ambiguous.
///
/// Bad:
/// ```yaml
/// ports:
///   - {name: http, containerPort: 10002}
///   - {name: metrics, containerPort: 10002}
/// ```
/// Good:
/// ```yaml
/// ports:
///   - {name: http, containerPort: 10002}
///   - {name: metrics, containerPort: 12002}
/// ```
pub fn duplicate_port(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if let Some(spec) = r.pod_spec() {
            let mut numbers: Vec<((i64, String), Origin, String)> = Vec::new();
            for c in containers(spec) {
                if c.list == "ephemeralContainers" {
                    continue;
                }
                let mut names: Vec<(&str, Origin)> = Vec::new();
                for p in c.node.get("ports").and_then(Node::as_seq).unwrap_or(&[]) {
                    if let Some(n) = p.get("name") {
                        if let Some(s) = n.as_str() {
                            if let Some((_, first)) = names.iter().find(|(x, _)| *x == s) {
                                let mut f = finding(
                                    r,
                                    n.origin,
                                    format!(
                                        "container `{}` declares the port name `{s}` twice",
                                        c.name
                                    ),
                                );
                                f.related.push((*first, "first declared here".into()));
                                out.push(f);
                            } else {
                                names.push((s, n.origin));
                            }
                        }
                    }
                    if let Some(num) = p.get("containerPort") {
                        if let Some(v) = num.as_i64() {
                            let key = (v, protocol(p).to_string());
                            if let Some((_, first, owner)) =
                                numbers.iter().find(|(k, _, _)| *k == key)
                            {
                                let mut f = finding(
                                    r,
                                    num.origin,
                                    format!(
                                        "port {}/{} of container `{}` is already declared by container `{owner}`",
                                        key.0, key.1, c.name
                                    ),
                                );
                                f.related.push((*first, "first declared here".into()));
                                out.push(f);
                            } else {
                                numbers.push((key, num.origin, c.name.to_string()));
                            }
                        }
                    }
                }
            }
        }
        if r.kind() == "Service" {
            let mut names: Vec<(&str, Origin)> = Vec::new();
            let mut numbers: Vec<((i64, String), Origin)> = Vec::new();
            for p in r
                .node
                .path(&["spec", "ports"])
                .and_then(Node::as_seq)
                .unwrap_or(&[])
            {
                if let Some(n) = p.get("name") {
                    if let Some(s) = n.as_str() {
                        if let Some((_, first)) = names.iter().find(|(x, _)| *x == s) {
                            let mut f = finding(
                                r,
                                n.origin,
                                format!("the Service port name `{s}` is used twice"),
                            );
                            f.related.push((*first, "first used here".into()));
                            out.push(f);
                        } else {
                            names.push((s, n.origin));
                        }
                    }
                }
                if let Some(num) = p.get("port") {
                    if let Some(v) = num.as_i64() {
                        let key = (v, protocol(p).to_string());
                        if let Some((_, first)) = numbers.iter().find(|(k, _)| *k == key) {
                            let mut f = finding(
                                r,
                                num.origin,
                                format!("the Service port {}/{} is declared twice", key.0, key.1),
                            );
                            f.related.push((*first, "first declared here".into()));
                            out.push(f);
                        } else {
                            numbers.push((key, num.origin));
                        }
                    }
                }
            }
        }
    }
}
