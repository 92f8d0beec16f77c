//! The `schema/` family: every object against its vendored Kubernetes or CRD schema, and what those
//! schemas cannot say: quantities, port ranges, name and label syntax, selectors that miss their own pod
//! template, named target ports that no container declares, duplicate container names and ports.
//!
//! Messages never quote a value from a Secret: schema errors are reported by shape ("expected a string,
//! found a mapping"), never by content.

use std::collections::BTreeSet;

use jsonschema::error::{TypeKind, ValidationErrorKind};

use crate::check::code::{Code, Schema};
use crate::check::{vendored, Context, Finding, Rule};
use crate::k8s::names;
use crate::k8s::workload::{containers, template_labels};
use crate::k8s::{quantity::quantity, scalar_text, Selector};
use crate::load::layer::pointer_to_path;
use crate::node::{Node, Origin, Value};
use crate::resource::Resource;

pub static RULES: &[Rule] = &[
    Rule::new(Code::Schema(Schema::Invalid), invalid),
    Rule::new(Code::Schema(Schema::UnknownKind), unknown_kind),
    Rule::new(Code::Schema(Schema::RemovedApi), removed_api),
    Rule::new(Code::Schema(Schema::DeprecatedApi), deprecated_api),
    Rule::new(Code::Schema(Schema::InvalidQuantity), invalid_quantity),
    Rule::new(Code::Schema(Schema::PortOutOfRange), port_out_of_range),
    Rule::new(Code::Schema(Schema::InvalidName), invalid_name),
    Rule::new(Code::Schema(Schema::InvalidLabel), invalid_label),
    Rule::new(Code::Schema(Schema::SelectorMismatch), selector_mismatch),
    Rule::new(Code::Schema(Schema::UnknownTargetPort), unknown_target_port),
    Rule::new(
        Code::Schema(Schema::DuplicateContainerName),
        duplicate_container_name,
    ),
    Rule::new(Code::Schema(Schema::DuplicatePort), duplicate_port),
];

fn finding(code: Schema, r: &Resource, origin: Origin, message: String) -> Finding {
    Finding::of(code, origin, message).about(Some(r.id()))
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
                    Schema::Invalid,
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
        // Most objects are valid: the yes-or-no check stops at the first error and builds none.
        if validator.is_valid(&r.node) {
            continue;
        }
        let mut seen: Vec<(Origin, String)> = Vec::new();
        for e in validator.iter_errors(&r.node) {
            let (origin, message) = schema_problem(&r.node, &e);
            if seen.iter().any(|(o, m)| *o == origin && *m == message) {
                continue;
            }
            seen.push((origin, message.clone()));
            let mut f = with_help(finding(Schema::Invalid, r, origin, message), help.clone());
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
            finding(Schema::UnknownKind, r, origin, message),
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

pub fn removed_api(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let (api, kind) = (r.api_version(), r.kind());
        let Some(rm) = removed_for(ctx, api, kind) else {
            continue;
        };
        out.push(with_help(
            finding(Schema::RemovedApi,
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
                Schema::DeprecatedApi,
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
                Ok(q) if q < 0.0 => out.push(finding(
                    Schema::InvalidQuantity,
                    r,
                    v.origin,
                    format!("{what} is negative"),
                )),
                Ok(_) => {}
                Err(reason) => {
                    let shown = match &v.value {
                        Value::Str(s) => format!(" (`{s}`)"),
                        _ => String::new(),
                    };
                    out.push(with_help(
                        finding(Schema::InvalidQuantity, r, v.origin, format!("{what} is not a quantity{shown}: {reason}")),
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

pub fn port_out_of_range(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        for (n, what, zero_ok) in port_numbers(r) {
            let Some(p) = n.as_i64() else { continue };
            if (p == 0 && zero_ok) || (1..=65535).contains(&p) {
                continue;
            }
            out.push(finding(
                Schema::PortOutOfRange,
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
                                    Schema::PortOutOfRange,
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

pub fn invalid_name(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let bad = |n: &Node,
                   what: &str,
                   check: fn(&str) -> Result<(), String>,
                   out: &mut Vec<Finding>| {
            let Some(s) = n.as_str() else { return };
            if let Err(e) = check(s) {
                out.push(finding(
                    Schema::InvalidName,
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
                    Schema::InvalidName,
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
                    Schema::InvalidName,
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
                        Schema::InvalidName,
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
                Schema::InvalidLabel,
                r,
                k.origin,
                format!("the {what} key `{}` is invalid: {e}", k.name),
            ));
        }
        if values {
            if let Some(text) = scalar_text(v) {
                if let Err(e) = names::label_value(&text) {
                    out.push(finding(
                        Schema::InvalidLabel,
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
                                            Schema::InvalidLabel,
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
                                            Schema::InvalidLabel,
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
                Schema::SelectorMismatch,
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
                finding(Schema::SelectorMismatch, r, req.origin, message),
                "make the template's labels satisfy the selector (selectors are immutable once applied)",
            );
            f.related.push(related);
            out.push(f);
        }
    }
}

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
                Schema::UnknownTargetPort,
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
                    Schema::DuplicateContainerName,
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
                                    Schema::DuplicatePort,
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
                                let mut f = finding(Schema::DuplicatePort,
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
                                Schema::DuplicatePort,
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
                                Schema::DuplicatePort,
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
