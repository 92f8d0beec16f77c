//! `ValidatingAdmissionPolicy` and `ValidatingAdmissionPolicyBinding` evaluated offline, as the API
//! server evaluates them when the rendered objects are created: the binding's and the policy's
//! match rules (resource rules, namespace and object selectors), `matchConditions`, `variables`, the
//! params a binding names, then every `validation`. What only a live cluster knows (`authorizer`, the
//! user of the request, the old object of an update) is reported as not evaluated, never guessed.

use std::collections::BTreeMap;

use cel::Value;

use crate::check::custom::cel::{as_text, field_read, map_of, value_of, Expression, Scope};
use crate::check::custom::{strings, Hit, Objects};
use crate::check::Severity;
use crate::k8s::Selector;
use crate::node::{Node, Origin};
use crate::resource::{group_of, is_cluster_scoped, Resource};

pub const POLICY_KIND: &str = "ValidatingAdmissionPolicy";
pub const BINDING_KIND: &str = "ValidatingAdmissionPolicyBinding";
const GROUP: &str = "admissionregistration.k8s.io";

/// Whether an object is a policy or a binding (the API versions `v1`, `v1beta1`, `v1alpha1`).
pub fn is_admission(r: &Resource) -> bool {
    r.group() == GROUP && matches!(r.kind(), POLICY_KIND | BINDING_KIND)
}

/// One `resourceRules` entry.
#[derive(Debug, Default)]
struct ResourceRule {
    groups: Vec<String>,
    versions: Vec<String>,
    operations: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
    scope: String,
}

fn any(list: &[String], v: &str) -> bool {
    list.iter().any(|x| x == "*" || x == v)
}

impl ResourceRule {
    fn read(n: &Node) -> ResourceRule {
        ResourceRule {
            groups: strings(n.get("apiGroups")),
            versions: strings(n.get("apiVersions")),
            operations: strings(n.get("operations")),
            resources: strings(n.get("resources")),
            names: strings(n.get("resourceNames")),
            scope: n.str_at(&["scope"]).unwrap_or("*").to_string(),
        }
    }

    /// Whether the rule covers creating `r` (the only operation an offline check sees).
    fn covers(&self, r: &Resource, plural: &str, create: bool) -> bool {
        let cluster = is_cluster_scoped(r.group(), r.kind());
        (!create || any(&self.operations, "CREATE"))
            && any(&self.groups, r.group())
            && any(&self.versions, r.version())
            && self
                .resources
                .iter()
                .any(|x| x == "*" || x == plural || x == "*/*")
            && (self.names.is_empty() || self.names.iter().any(|n| n == r.name()))
            && match self.scope.as_str() {
                "Cluster" => cluster,
                "Namespaced" => !cluster,
                _ => true,
            }
    }
}

/// `matchConstraints` or a binding's `matchResources`.
#[derive(Debug, Default)]
struct Match {
    rules: Vec<ResourceRule>,
    exclude: Vec<ResourceRule>,
    namespaces: Option<Selector>,
    objects: Option<Selector>,
}

impl Match {
    fn read(n: Option<&Node>) -> Option<Match> {
        let n = n?;
        let rules = |k: &str| {
            n.get(k)
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .map(ResourceRule::read)
                .collect()
        };
        Some(Match {
            rules: rules("resourceRules"),
            exclude: rules("excludeResourceRules"),
            namespaces: n
                .get("namespaceSelector")
                .and_then(Selector::from_label_selector),
            objects: n
                .get("objectSelector")
                .and_then(Selector::from_label_selector),
        })
    }

    /// Whether `r` matches; `require_rules`: an empty rule list matches nothing (a policy's
    /// constraints) rather than everything (a binding narrowing its policy).
    fn matches(&self, r: &Resource, plural: &str, ns: Option<&Node>, require_rules: bool) -> bool {
        if self.rules.is_empty() && require_rules {
            return false;
        }
        if !self.rules.is_empty() && !self.rules.iter().any(|x| x.covers(r, plural, true)) {
            return false;
        }
        if self.exclude.iter().any(|x| x.covers(r, plural, false)) {
            return false;
        }
        // A namespace selector matches cluster-scoped objects only when it is empty.
        if let Some(sel) = &self.namespaces {
            if is_cluster_scoped(r.group(), r.kind()) {
                if !sel.is_empty() {
                    return false;
                }
            } else if !sel.matches_node(ns) {
                return false;
            }
        }
        if let Some(sel) = &self.objects {
            if !sel.matches_node(r.node.path(&["metadata", "labels"])) {
                return false;
            }
        }
        true
    }

    /// Whether the rules cover `r` for some operation, but not for CREATE (an UPDATE- or
    /// DELETE-only policy).
    fn covers_other_operation(&self, r: &Resource, plural: &str) -> bool {
        !self.rules.iter().any(|x| x.covers(r, plural, true))
            && self.rules.iter().any(|x| x.covers(r, plural, false))
    }
}

/// A CEL expression read from a policy, with where it is written.
#[derive(Debug)]
struct Written {
    name: String,
    expr: Result<Expression, String>,
    origin: Origin,
}

fn written(n: &Node, key: &str) -> Option<Written> {
    let e = n.get(key)?;
    Some(Written {
        name: n.str_at(&["name"]).unwrap_or_default().to_string(),
        expr: Expression::compile(e.as_str().unwrap_or_default()),
        origin: e.origin,
    })
}

#[derive(Debug)]
struct Validation {
    check: Written,
    message: Option<String>,
    message_expression: Option<Written>,
    field_path: Option<String>,
}

/// A `ValidatingAdmissionPolicy`.
#[derive(Debug)]
pub struct Policy {
    pub name: String,
    pub origin: Origin,
    fail_closed: bool,
    param_kind: Option<(String, String)>,
    constraints: Match,
    conditions: Vec<Written>,
    variables: Vec<Written>,
    validations: Vec<Validation>,
}

/// A `ValidatingAdmissionPolicyBinding`.
#[derive(Debug)]
pub struct Binding {
    pub name: String,
    pub policy: String,
    pub origin: Origin,
    actions: Vec<String>,
    param_ref: Option<ParamRef>,
    resources: Option<Match>,
}

#[derive(Debug)]
struct ParamRef {
    name: Option<String>,
    namespace: Option<String>,
    selector: Option<Selector>,
    deny_when_missing: bool,
}

impl Policy {
    pub fn read(r: &Resource) -> Option<Policy> {
        if r.kind() != POLICY_KIND {
            return None;
        }
        let spec = r.node.get("spec")?;
        let list = |k: &str| spec.get(k).and_then(Node::as_seq).unwrap_or(&[]);
        Some(Policy {
            name: r.name().to_string(),
            origin: r.name_origin(),
            fail_closed: spec.str_at(&["failurePolicy"]) != Some("Ignore"),
            param_kind: spec.get("paramKind").map(|p| {
                (
                    p.str_at(&["apiVersion"]).unwrap_or_default().to_string(),
                    p.str_at(&["kind"]).unwrap_or_default().to_string(),
                )
            }),
            constraints: Match::read(spec.get("matchConstraints")).unwrap_or_default(),
            conditions: list("matchConditions")
                .iter()
                .filter_map(|n| written(n, "expression"))
                .collect(),
            variables: list("variables")
                .iter()
                .filter_map(|n| written(n, "expression"))
                .collect(),
            validations: list("validations")
                .iter()
                .filter_map(|n| {
                    Some(Validation {
                        check: written(n, "expression")?,
                        message: n.str_at(&["message"]).map(str::to_string),
                        message_expression: written(n, "messageExpression"),
                        field_path: n.str_at(&["fieldPath"]).map(str::to_string),
                    })
                })
                .collect(),
        })
    }

    /// Every expression of the policy, to report those that do not compile.
    fn expressions(&self) -> impl Iterator<Item = &Written> {
        self.conditions.iter().chain(&self.variables).chain(
            self.validations
                .iter()
                .flat_map(|v| std::iter::once(&v.check).chain(v.message_expression.as_ref())),
        )
    }
}

impl Binding {
    pub fn read(r: &Resource) -> Option<Binding> {
        if r.kind() != BINDING_KIND {
            return None;
        }
        let spec = r.node.get("spec")?;
        Some(Binding {
            name: r.name().to_string(),
            policy: spec.str_at(&["policyName"]).unwrap_or_default().to_string(),
            origin: r.name_origin(),
            actions: strings(spec.get("validationActions")),
            param_ref: spec.get("paramRef").map(|p| ParamRef {
                name: p.str_at(&["name"]).map(str::to_string),
                namespace: p.str_at(&["namespace"]).map(str::to_string),
                selector: p.get("selector").and_then(Selector::from_label_selector),
                deny_when_missing: p.str_at(&["parameterNotFoundAction"]) != Some("Allow"),
            }),
            resources: Match::read(spec.get("matchResources")),
        })
    }

    /// The severity of what the binding reports: `Deny` fails the run, `Warn` warns, `Audit` only
    /// records.
    pub fn severity(&self) -> Option<Severity> {
        let has = |a: &str| self.actions.iter().any(|x| x == a);
        if has("Deny") {
            Some(Severity::Error)
        } else if has("Warn") {
            Some(Severity::Warning)
        } else if has("Audit") {
            Some(Severity::Info)
        } else {
            None
        }
    }
}

/// The params a binding gives a policy for one object: `None` inside when the policy takes none.
fn params<'a>(
    policy: &Policy,
    binding: &Binding,
    r: &Resource,
    objects: &'a Objects<'_>,
) -> Result<Vec<Option<&'a Resource>>, String> {
    let Some((api_version, kind)) = &policy.param_kind else {
        return Ok(vec![None]);
    };
    let Some(pr) = &binding.param_ref else {
        return Err(format!(
            "the policy takes params of kind {kind} and the binding names none (paramRef)"
        ));
    };
    let cluster = is_cluster_scoped(group_of(api_version), kind);
    let namespace = match &pr.namespace {
        Some(ns) => ns.as_str(),
        None if cluster => "",
        None => r.namespace(),
    };
    let found: Vec<Option<&Resource>> = objects
        .all()
        .filter(|p| p.api_version() == api_version && p.kind() == kind)
        .filter(|p| cluster || p.namespace() == namespace)
        .filter(|p| match (&pr.name, &pr.selector) {
            (Some(n), _) => p.name() == n,
            (None, Some(sel)) => sel.matches_node(p.node.path(&["metadata", "labels"])),
            (None, None) => false,
        })
        .map(Some)
        .collect();
    if found.is_empty() {
        if pr.deny_when_missing {
            let what = pr.name.as_deref().unwrap_or("matching the selector");
            return Err(format!("no params found for policy binding with `Deny` parameterNotFoundAction ({kind} {what})"));
        }
        return Ok(Vec::new());
    }
    Ok(found)
}

/// The namespace object of `r`, as the API server hands it to CEL: the Namespace in the tree, or
/// one with only the `kubernetes.io/metadata.name` label the API server sets on every namespace.
fn namespace_labels(r: &Resource, objects: &Objects<'_>) -> Option<Node> {
    if r.namespace().is_empty() {
        return None;
    }
    let mut labels = objects
        .namespace(r.namespace())
        .and_then(|n| n.node.path(&["metadata", "labels"]).cloned())
        .unwrap_or_else(|| Node::map(r.node.origin));
    if let Some(m) = labels.as_map_mut() {
        if !m.contains("kubernetes.io/metadata.name") {
            m.insert(
                crate::node::Key {
                    name: "kubernetes.io/metadata.name".into(),
                    origin: r.node.origin,
                },
                Node::str(r.namespace(), r.node.origin),
            );
        }
    }
    Some(labels)
}

fn request(r: &Resource, plural: &str) -> Value {
    let text = |s: &str| Value::String(std::sync::Arc::new(s.to_string()));
    let gvk = map_of(vec![
        ("group", text(r.group())),
        ("version", text(r.version())),
        ("kind", text(r.kind())),
    ]);
    let gvr = map_of(vec![
        ("group", text(r.group())),
        ("version", text(r.version())),
        ("resource", text(plural)),
    ]);
    map_of(vec![
        ("operation", text("CREATE")),
        ("kind", gvk.clone()),
        ("requestKind", gvk),
        ("resource", gvr.clone()),
        ("requestResource", gvr),
        ("name", text(r.name())),
        ("namespace", text(r.namespace())),
        ("dryRun", Value::Bool(false)),
    ])
}

/// Why an expression cannot be evaluated offline, if it cannot.
fn offline_gap(e: &Expression) -> Option<&'static str> {
    if e.uses("authorizer") {
        return Some("it asks the authorizer, which only the cluster knows");
    }
    if e.paths_below("request")
        .iter()
        .any(|p| p.first().is_some_and(|k| k == "userInfo"))
    {
        return Some("it reads the user of the request, which only the cluster knows");
    }
    None
}

/// Evaluates every binding over the objects it matches.
pub fn run(policies: &[&Policy], bindings: &[&Binding], objects: &Objects<'_>, out: &mut Vec<Hit>) {
    let by_name: BTreeMap<&str, &Policy> = policies.iter().map(|p| (p.name.as_str(), *p)).collect();
    for p in policies {
        for w in p.expressions() {
            if let Err(e) = &w.expr {
                out.push(Hit::broken(
                    &p.name,
                    w.origin,
                    format!("the expression does not compile: {e}"),
                ));
            }
        }
    }
    for b in bindings {
        let Some(policy) = by_name.get(b.policy.as_str()) else {
            out.push(Hit::not_evaluated(
                &b.name,
                b.origin,
                format!("the binding names the ValidatingAdmissionPolicy `{}`, which is neither in the tree nor in the policies", b.policy),
            ));
            continue;
        };
        let Some(severity) = b.severity() else {
            continue;
        };
        let mut update_only = false;
        for (i, r) in objects.resources.iter().enumerate() {
            if is_admission(r) {
                continue;
            }
            let plural = objects.plural(r);
            let ns = namespace_labels(r, objects);
            let matched = policy.constraints.matches(r, &plural, ns.as_ref(), true)
                && b.resources
                    .as_ref()
                    .is_none_or(|m| m.matches(r, &plural, ns.as_ref(), false));
            if !matched {
                update_only |= policy.constraints.covers_other_operation(r, &plural);
                continue;
            }
            let hits = evaluate(policy, b, r, i, &plural, objects);
            out.extend(hits.into_iter().map(|mut h| {
                h.severity = severity;
                h
            }));
        }
        if update_only {
            out.push(Hit::not_evaluated(
                &policy.name,
                policy.origin,
                "the policy matches objects of the tree only on UPDATE or DELETE, which an offline check does not see".into(),
            ));
        }
    }
}

fn evaluate(
    policy: &Policy,
    b: &Binding,
    r: &Resource,
    index: usize,
    plural: &str,
    objects: &Objects<'_>,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    let denied = |m: String| {
        format!(
            "ValidatingAdmissionPolicy '{}' with binding '{}' denied request: {m}",
            policy.name, b.name
        )
    };
    let params = match params(policy, b, r, objects) {
        Ok(p) => p,
        Err(e) => {
            hits.push(Hit::at(
                &policy.name,
                r,
                r.node.origin,
                denied(e),
                b.origin,
                "the binding",
            ));
            return hits;
        }
    };
    let object = objects.prepared(index);
    let ns_value = objects.namespace_prepared(r.namespace());
    let req = request(r, plural);
    let failed = |w: &Written, e: String, hits: &mut Vec<Hit>| {
        if policy.fail_closed {
            hits.push(Hit::at(
                &policy.name,
                r,
                r.node.origin,
                denied(format!(
                    "expression '{}' resulted in error: {e}",
                    w.expr.as_ref().map(|x| x.source.as_str()).unwrap_or("")
                )),
                w.origin,
                "this expression",
            ));
        }
    };
    'params: for param in params {
        let param_value = param.map(|p| value_of(&p.node)).unwrap_or(Value::Null);
        let mut vars: BTreeMap<String, Value> = BTreeMap::new();
        let scope = |vars_value: &Value, f: &dyn Fn(&Scope<'_>) -> Result<Value, String>| {
            let mut s = Scope::default();
            s.bind_prepared("object", object)
                .bind("oldObject", &Value::Null)
                .bind("params", &param_value)
                .bind("request", &req)
                .bind_prepared("namespaceObject", ns_value)
                .bind("variables", vars_value);
            f(&s)
        };
        for c in &policy.conditions {
            let Ok(e) = &c.expr else { continue 'params };
            if let Some(why) = offline_gap(e) {
                hits.push(Hit::not_evaluated(
                    &policy.name,
                    c.origin,
                    format!("the match condition `{}` is not evaluated: {why}", c.name),
                ));
                continue 'params;
            }
            let vv = value_map(&vars);
            match scope(&vv, &|s| e.eval(s)) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => continue 'params,
                Ok(_) => {
                    failed(c, "the match condition is not a bool".into(), &mut hits);
                    continue 'params;
                }
                Err(err) => {
                    failed(c, err, &mut hits);
                    continue 'params;
                }
            }
        }
        for v in &policy.variables {
            let Ok(e) = &v.expr else { continue };
            let vv = value_map(&vars);
            // A variable that fails is left out: a validation that reads it fails in turn, as in
            // the API server, where variables are evaluated when first read.
            if let Ok(x) = scope(&vv, &|s| e.eval(s)) {
                vars.insert(v.name.clone(), x);
            }
        }
        let vv = value_map(&vars);
        for val in &policy.validations {
            let Ok(e) = &val.check.expr else { continue };
            if let Some(why) = offline_gap(e) {
                hits.push(Hit::not_evaluated(
                    &policy.name,
                    val.check.origin,
                    format!("a validation is not evaluated: {why}"),
                ));
                continue;
            }
            match scope(&vv, &|s| e.eval(s)) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    let from_expression = val
                        .message_expression
                        .as_ref()
                        .and_then(|m| m.expr.as_ref().ok())
                        .and_then(|m| scope(&vv, &|s| m.eval(s)).ok())
                        .and_then(|v| as_text(&v))
                        .filter(|t| !t.trim().is_empty() && !t.contains('\n'));
                    let message = from_expression
                        .or_else(|| val.message.clone())
                        .unwrap_or_else(|| format!("failed expression: {}", e.source));
                    let at = field_at(r, val.field_path.as_deref())
                        .or_else(|| field_read(&r.node, &e.paths_below("object")))
                        .map(|n| n.origin)
                        .unwrap_or(r.node.origin);
                    hits.push(Hit::at(
                        &policy.name,
                        r,
                        at,
                        denied(message),
                        val.check.origin,
                        "the validation that failed",
                    ));
                }
                Ok(_) => failed(&val.check, "the validation is not a bool".into(), &mut hits),
                Err(err) => failed(&val.check, err, &mut hits),
            }
        }
    }
    hits
}

fn value_map(vars: &BTreeMap<String, Value>) -> Value {
    map_of(vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect())
}

/// The node a validation's `fieldPath` (`spec.replicas`, `.spec.containers[0].image`) names.
fn field_at<'a>(r: &'a Resource, path: Option<&str>) -> Option<&'a Node> {
    let path = path?;
    let mut n = &r.node;
    for part in path.trim_start_matches('.').split('.') {
        let (key, idx) = match part.split_once('[') {
            Some((k, rest)) => (
                k,
                rest.trim_end_matches(']')
                    .trim_matches('\'')
                    .parse::<usize>()
                    .ok(),
            ),
            None => (part, None),
        };
        n = n.get(key)?;
        if let Some(i) = idx {
            n = n.as_seq()?.get(i)?;
        }
    }
    Some(n)
}
