//! Short CEL rules written in a policy file, under `custom:`:
//!
//! ```yaml
//! custom:
//!   - name: release-replicas
//!     expression: "object.spec.replicas >= 2"
//!     message: a release workload runs at least two replicas
//!     severity: error
//!     match: {kinds: [Deployment, StatefulSet], environments: [release]}
//! ```
//!
//! The expression sees `object` (the rendered object), `namespaceObject` (its Namespace in the tree,
//! else null) and `environment` (the environment's name, `''` for plain files); it must give `true`
//! for a good object. `messageExpression` may build the message from them.

use ::cel::Value;

use crate::check::custom::cel::{self, as_text, field_read, Bound, Expression, Scope};
use crate::check::custom::{strings, Hit, Objects};
use crate::check::Severity;
use crate::node::{Node, Origin};

/// A rule of a policy file's `custom:` list.
#[derive(Debug)]
pub struct CustomRule {
    pub name: String,
    pub origin: Origin,
    expr: Result<Expression, String>,
    expr_origin: Origin,
    message: Option<String>,
    message_expression: Option<Result<Expression, String>>,
    severity: Severity,
    kinds: Vec<String>,
    namespaces: Vec<String>,
    environments: Vec<String>,
}

impl CustomRule {
    /// Reads one entry (its shape is checked by the policy schema first).
    pub fn read(n: &Node) -> Option<CustomRule> {
        let name = n.str_at(&["name"])?.to_string();
        let e = n.get("expression")?;
        let m = n.get("match");
        Some(CustomRule {
            name,
            origin: n.origin,
            expr: Expression::compile(e.as_str().unwrap_or_default()),
            expr_origin: e.origin,
            message: n.str_at(&["message"]).map(str::to_string),
            message_expression: n.str_at(&["messageExpression"]).map(Expression::compile),
            severity: match n.str_at(&["severity"]) {
                Some("warning") => Severity::Warning,
                Some("info") => Severity::Info,
                _ => Severity::Error,
            },
            kinds: strings(m.and_then(|m| m.get("kinds"))),
            namespaces: strings(m.and_then(|m| m.get("namespaces"))),
            environments: strings(m.and_then(|m| m.get("environments"))),
        })
    }
}

fn admits(list: &[String], v: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == v)
}

/// Evaluates the rules over the objects of one environment (`env`: `None` for plain files).
pub fn run(rules: &[CustomRule], env: Option<&str>, objects: &Objects<'_>, out: &mut Vec<Hit>) {
    let environment = Value::String(std::sync::Arc::new(env.unwrap_or_default().to_string()));
    // The widths of each object (with its namespace's) and the widest of all, measured once, when a
    // rule first loops.
    let widths: std::cell::OnceCell<(Vec<cel::Widths>, cel::Widths)> = std::cell::OnceCell::new();
    let widths = || {
        widths.get_or_init(|| {
            let each: Vec<cel::Widths> = objects
                .resources
                .iter()
                .map(|r| {
                    let ns = objects
                        .namespace(r.namespace())
                        .map_or_else(cel::Widths::default, |n| cel::widths(&n.node));
                    cel::widths(&r.node).max(ns)
                })
                .collect();
            let widest = each.iter().fold(cel::Widths::default(), |a, &b| a.max(b));
            (each, widest)
        })
    };
    for rule in rules {
        let exprs = std::iter::once(&rule.expr).chain(rule.message_expression.as_ref());
        if let Some(e) = exprs.filter_map(|e| e.as_ref().err()).next() {
            out.push(Hit::broken(
                &rule.name,
                rule.expr_origin,
                format!("the expression does not compile: {e}"),
            ));
            continue;
        }
        let Ok(expr) = &rule.expr else { continue };
        if !rule.environments.is_empty() && !env.is_some_and(|e| admits(&rule.environments, e)) {
            continue;
        }
        let paths = expr.paths_below("object");
        let costly = |w: cel::Widths| {
            std::iter::once(expr)
                .chain(
                    rule.message_expression
                        .as_ref()
                        .and_then(|m| m.as_ref().ok()),
                )
                .find_map(|e| e.too_costly(w))
        };
        // The cost bound only grows with the widths: a rule within budget over the widest object is
        // within it over every object, and is not bounded again object by object.
        let loops = (expr.loops()
            || rule
                .message_expression
                .as_ref()
                .is_some_and(|m| m.as_ref().is_ok_and(|m| m.loops())))
            && costly(widths().1).is_some();
        for (i, r) in objects.resources.iter().enumerate() {
            if !admits(&rule.kinds, r.kind()) || !admits(&rule.namespaces, r.namespace()) {
                continue;
            }
            // A rule from the repository may nest loops over long lists: what it would cost over
            // this object is bounded before it runs.
            if loops {
                if let Some(why) = costly(widths().0[i]) {
                    out.push(Hit::not_evaluated(
                        &rule.name,
                        rule.expr_origin,
                        format!("{} {}: {why}", r.kind(), r.name()),
                    ));
                    continue;
                }
            }
            let scope = || {
                let mut scope = Scope::default();
                scope
                    .bind_prepared("object", objects.prepared(i))
                    .bind_prepared("namespaceObject", objects.namespace_prepared(r.namespace()))
                    .bind("environment", &environment);
                scope
            };
            let namespace = match objects.namespace(r.namespace()) {
                Some(n) => Bound::Node(&n.node),
                None => Bound::Null,
            };
            let decided = expr.decide(&[
                ("object", Bound::Node(&r.node)),
                ("namespaceObject", namespace),
                ("environment", Bound::Str(env.unwrap_or_default())),
            ]);
            let result = match decided {
                Some(b) => Ok(Value::Bool(b)),
                None => expr.eval(&scope()),
            };
            match result {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    let message = rule
                        .message_expression
                        .as_ref()
                        .and_then(|m| m.as_ref().ok())
                        .and_then(|m| m.eval(&scope()).ok())
                        .and_then(|v| as_text(&v))
                        .filter(|t| !t.trim().is_empty())
                        .or_else(|| rule.message.clone())
                        .unwrap_or_else(|| format!("failed expression: {}", expr.source));
                    let at = field_read(&r.node, &paths).unwrap_or(&r.node).origin;
                    let mut h = Hit::at(
                        &rule.name,
                        r,
                        at,
                        format!("{} {}: {message}", r.kind(), r.name()),
                        rule.expr_origin,
                        "the rule",
                    );
                    h.severity = rule.severity;
                    out.push(h);
                }
                Ok(_) => out.push(Hit::broken(
                    &rule.name,
                    rule.expr_origin,
                    "the expression does not give a bool".into(),
                )),
                Err(e) => {
                    let mut h = Hit::at(
                        &rule.name,
                        r,
                        r.node.origin,
                        format!("{} {}: the expression fails: {e}", r.kind(), r.name()),
                        rule.expr_origin,
                        "the rule",
                    );
                    h.severity = rule.severity;
                    out.push(h);
                }
            }
        }
    }
}
