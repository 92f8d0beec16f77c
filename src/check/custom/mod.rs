//! User policies: rules a repository writes itself, evaluated offline over the rendered objects of an
//! environment as the API server or conftest would evaluate them, and reported as ordinary findings.
//!
//! - `admission`: `ValidatingAdmissionPolicy` + `ValidatingAdmissionPolicyBinding` (in `policies/` or in
//!   the tree), evaluated as at admission;
//! - `crd_rules`: the `x-kubernetes-validations` rules of CRDs (in the tree or in `policies/`), for
//!   every custom resource of their kinds;
//! - `expressions`: short CEL rules written in a policy file (`custom:`);
//! - `rego`: conftest-style Rego policies (`policies/*.rego`: `deny`, `violation`, `warn`).
//!
//! A violation of a user policy has the code `policy/<name>` (the policy's, the rule's or the Rego
//! file's name), the severity the policy gives it (changed per environment like any rule's), and
//! points at the source line that set the field the rule read (or at the object), with a second
//! label on the policy's line. Waivers cover these codes like any other.

pub mod admission;
pub mod cel;
pub mod crd_rules;
pub mod direct;
pub mod expressions;
pub mod rego;

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::check::code::{Code, Policy as PolicyCode};
use crate::check::{Context, Finding, Severity};
use crate::k8s::crd::Crd;
use crate::node::Origin;
use crate::resource::{ResId, Resource};

pub use expressions::CustomRule;
pub use rego::RegoFiles;

/// The user policies of `policies/`, read once per run.
#[derive(Debug, Default)]
pub struct UserPolicies {
    /// Kubernetes objects in `policies/`: admission policies and bindings, their params, CRDs.
    pub objects: Vec<Resource>,
    /// Rules written in policy files.
    pub rules: Vec<CustomRule>,
    pub rego: RegoFiles,
}

impl UserPolicies {
    /// The codes of the user policies `policies/` defines (those of admission policies in the tree
    /// are known only once an environment is rendered).
    pub fn codes(&self) -> Vec<Code> {
        let mut out: BTreeSet<Code> = BTreeSet::new();
        for r in &self.objects {
            if let Some(p) = admission::Policy::read(r) {
                out.insert(Code::user(&p.name));
            }
        }
        out.extend(self.rules.iter().map(|r| Code::user(&r.name)));
        out.extend(self.rego.names().map(Code::user));
        out.into_iter().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.rules.is_empty() && self.rego.is_empty()
    }
}

/// The strings of a list (`[apps, batch]`); anything else is none.
pub(crate) fn strings(n: Option<&crate::node::Node>) -> Vec<String> {
    n.and_then(crate::node::Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// What a policy found, before it becomes a [`Finding`].
#[derive(Debug)]
pub struct Hit {
    kind: HitKind,
    /// The policy's name (`policy/<name>` for violations).
    name: String,
    pub severity: Severity,
    message: String,
    origin: Origin,
    resource: Option<ResId>,
    related: Vec<(Origin, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HitKind {
    Violation,
    CrdRule,
    NotEvaluated,
    Broken,
}

impl Hit {
    /// A violation of the policy `name` by `r`, found at `origin`; `policy` is the policy's line.
    pub fn at(
        name: &str,
        r: &Resource,
        origin: Origin,
        message: String,
        policy: Origin,
        label: &str,
    ) -> Hit {
        Hit {
            kind: HitKind::Violation,
            name: name.to_string(),
            severity: Severity::Error,
            message: shown(r, &message),
            origin,
            resource: Some(r.id()),
            related: vec![(policy, label.to_string())],
        }
    }

    pub fn crd_rule(r: &Resource, origin: Origin, message: String, rule: Origin) -> Hit {
        Hit {
            kind: HitKind::CrdRule,
            related: vec![(rule, "the CRD's rule".into())],
            ..Hit::at("", r, origin, message, rule, "")
        }
    }

    pub fn not_evaluated(name: &str, origin: Origin, message: String) -> Hit {
        Hit {
            kind: HitKind::NotEvaluated,
            name: name.to_string(),
            severity: Severity::Info,
            message,
            origin,
            resource: None,
            related: Vec::new(),
        }
    }

    pub fn broken(name: &str, origin: Origin, message: String) -> Hit {
        Hit {
            kind: HitKind::Broken,
            severity: Severity::Error,
            ..Hit::not_evaluated(name, origin, message)
        }
    }
}

/// What a user policy says about `r`, as it may be printed: a message may quote any value of the
/// object (`messageExpression`, Rego's `sprintf`), so every value the redaction rule hides in `r` is
/// hidden in the message too.
fn shown(r: &Resource, message: &str) -> String {
    let mut copy = r.node.clone();
    if crate::check::redact::object(&mut copy) == 0 {
        return message.to_string();
    }
    let mut pairs = Vec::new();
    hidden_pairs(&r.node, &copy, &mut pairs);
    // Longer values first, so that a value that contains another is hidden whole.
    pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    let mut out = message.to_string();
    for (value, hidden) in pairs {
        if !value.is_empty() {
            out = out.replace(&value, &hidden);
        }
    }
    out
}

/// The (value, hidden form) of every scalar the redaction changed.
fn hidden_pairs(
    orig: &crate::node::Node,
    red: &crate::node::Node,
    out: &mut Vec<(String, String)>,
) {
    use crate::node::Value as V;
    match (&orig.value, &red.value) {
        (V::Map(a), V::Map(b)) => {
            for ((_, x), (_, y)) in a.entries.iter().zip(&b.entries) {
                hidden_pairs(x, y, out);
            }
        }
        (V::Seq(a), V::Seq(b)) => {
            for (x, y) in a.iter().zip(b) {
                hidden_pairs(x, y, out);
            }
        }
        (V::Str(a), V::Str(b)) if a != b => out.push((a.clone(), b.clone())),
        (V::Int(i), V::Str(b)) => out.push((i.to_string(), b.clone())),
        (V::Float(f), V::Str(b)) => out.push((crate::node::format_float(*f), b.clone())),
        (V::Bool(x), V::Str(b)) => out.push((x.to_string(), b.clone())),
        _ => {}
    }
}

/// The objects a policy sees: the environment's tree, and the objects of `policies/` (params).
pub struct Objects<'a> {
    pub resources: &'a [Resource],
    pub extra: &'a [Resource],
    values: Vec<OnceCell<::cel::Value>>,
    /// The same in the interpreter's own form, bound by reference (see [`cel::prepare`]).
    prepared: Vec<OnceCell<Box<dyn ::cel::common::value::Val>>>,
    namespaces: BTreeMap<&'a str, &'a Resource>,
    /// The CEL value of each Namespace object, made on first use (many objects share one).
    namespace_values: BTreeMap<&'a str, OnceCell<Box<dyn ::cel::common::value::Val>>>,
    plurals: BTreeMap<(String, String), String>,
}

impl<'a> Objects<'a> {
    pub fn new(resources: &'a [Resource], extra: &'a [Resource]) -> Objects<'a> {
        let mut namespaces = BTreeMap::new();
        let mut plurals = BTreeMap::new();
        for r in resources.iter().chain(extra) {
            if (r.group(), r.kind()) == ("", "Namespace") {
                namespaces.entry(r.name()).or_insert(r);
            } else if let Some(crd) = Crd::read(r) {
                if let Some(plural) = crd.plural {
                    plurals.insert(
                        (crd.group.to_string(), crd.kind.to_string()),
                        plural.to_string(),
                    );
                }
            }
        }
        Objects {
            resources,
            extra,
            values: resources.iter().map(|_| OnceCell::new()).collect(),
            prepared: resources.iter().map(|_| OnceCell::new()).collect(),
            namespace_values: namespaces.keys().map(|k| (*k, OnceCell::new())).collect(),
            namespaces,
            plurals,
        }
    }

    /// Every object: the tree, then `policies/`.
    pub fn all(&self) -> impl Iterator<Item = &'a Resource> {
        self.resources.iter().chain(self.extra)
    }

    /// The CEL value of the `i`-th object of the tree, made on first use.
    pub fn value(&self, i: usize) -> &::cel::Value {
        self.values[i].get_or_init(|| cel::value_of(&self.resources[i].node))
    }

    /// The `i`-th object of the tree in the interpreter's own form, made on first use and shared by
    /// every rule that reads it.
    pub fn prepared(&self, i: usize) -> &dyn ::cel::common::value::Val {
        self.prepared[i]
            .get_or_init(|| cel::prepare(self.value(i)))
            .as_ref()
    }

    /// The Namespace object named `name` in the interpreter's own form (`null` when the tree has
    /// none), made on first use.
    pub fn namespace_prepared(&self, name: &str) -> &dyn ::cel::common::value::Val {
        static NULL: std::sync::OnceLock<Box<dyn ::cel::common::value::Val>> =
            std::sync::OnceLock::new();
        match (self.namespace_values.get(name), self.namespace(name)) {
            (Some(cell), Some(n)) => cell
                .get_or_init(|| cel::prepare(&cel::value_of(&n.node)))
                .as_ref(),
            _ => NULL
                .get_or_init(|| cel::prepare(&::cel::Value::Null))
                .as_ref(),
        }
    }

    pub fn namespace(&self, name: &str) -> Option<&'a Resource> {
        self.namespaces.get(name).copied()
    }

    /// The resource name of a kind (`deployments`), as admission rules name it.
    pub fn plural(&self, r: &Resource) -> String {
        if let Some(p) = self
            .plurals
            .get(&(r.group().to_string(), r.kind().to_string()))
        {
            return p.clone();
        }
        plural(r.kind())
    }
}

/// The lower-case plural Kubernetes gives a kind.
pub fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    match k.as_str() {
        "endpoints" => k,
        _ if k.ends_with("ss") || k.ends_with('x') || k.ends_with("ch") || k.ends_with("sh") => {
            format!("{k}es")
        }
        _ if k.ends_with('s') => format!("{k}es"),
        _ if k.ends_with('y') && !k.ends_with("ay") && !k.ends_with("ey") && !k.ends_with("oy") => {
            format!("{}ies", &k[..k.len() - 1])
        }
        _ => format!("{k}s"),
    }
}

/// Runs every user policy over the environment and adds their findings, each with its code and the
/// severity the policy gives it.
pub fn run(ctx: &Context<'_>, findings: &mut Vec<Finding>) {
    let user = &ctx.policy.user;
    let objects = Objects::new(ctx.resources, &user.objects);
    let mut hits = Vec::new();

    let from_tree: Vec<&Resource> = ctx
        .resources
        .iter()
        .filter(|r| admission::is_admission(r))
        .collect();
    let policies: Vec<admission::Policy> = user
        .objects
        .iter()
        .chain(from_tree.iter().copied())
        .filter_map(admission::Policy::read)
        .collect();
    let bindings: Vec<admission::Binding> = user
        .objects
        .iter()
        .chain(from_tree.iter().copied())
        .filter_map(admission::Binding::read)
        .collect();
    if !bindings.is_empty() || !policies.is_empty() {
        let p: Vec<&admission::Policy> = policies.iter().collect();
        let b: Vec<&admission::Binding> = bindings.iter().collect();
        admission::run(&p, &b, &objects, &mut hits);
    }
    crd_rules::run(&objects, &mut hits);
    expressions::run(&user.rules, ctx.env, &objects, &mut hits);
    rego::run(&user.rego, &objects, &mut hits);

    // Not-evaluated and broken-policy notes once per place and message.
    let mut seen = BTreeSet::new();
    for h in hits {
        let code = match h.kind {
            HitKind::Violation => Code::user(&h.name),
            HitKind::CrdRule => PolicyCode::CrdValidationRule.into(),
            HitKind::NotEvaluated => PolicyCode::NotEvaluated.into(),
            HitKind::Broken => PolicyCode::BrokenPolicy.into(),
        };
        if matches!(h.kind, HitKind::NotEvaluated | HitKind::Broken)
            && !seen.insert((h.origin.file.0, h.origin.start, h.message.clone()))
        {
            continue;
        }
        let default = match h.kind {
            HitKind::Violation => h.severity,
            _ => code.default_severity().unwrap_or(h.severity),
        };
        let Some(severity) = ctx.policy.severity(code, default) else {
            continue;
        };
        let mut related = h.related;
        if let Some((_, Some(o))) = ctx.policy.severities.get(&code) {
            if severity != default {
                related.push((*o, format!("made {} by the policy", severity.as_str())));
            }
        }
        // Violations were redacted against their object; every message loses URL credentials and
        // known tokens.
        let mut f = Finding::new(
            code,
            severity,
            h.origin,
            crate::check::redact::message(&h.message).into_owned(),
        )
        .about(h.resource);
        f.related = related;
        findings.push(f);
    }
}
