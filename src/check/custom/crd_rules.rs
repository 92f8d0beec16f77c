//! The CEL rules of CRD schemas (`x-kubernetes-validations`), evaluated for every custom resource of
//! the CRD's kinds as the API server evaluates them on creation: `self` is the value at the schema
//! node that carries the rule, transition rules (those reading `oldSelf`) do not apply to a new object
//! unless `optionalOldSelf` is set (then `oldSelf` is `optional.none()`).

use std::collections::BTreeMap;
use std::sync::Arc;

use ::cel::objects::OptionalValue;
use ::cel::Value;

use crate::check::custom::cel::{self, as_text, field_read, value_of, Expression, Scope};
use crate::check::custom::{Hit, Objects};
use crate::k8s::crd;
use crate::node::{Node, Origin};
use crate::resource::Resource;

/// One rule as the CRD writes it.
struct CrdRule {
    expr: Result<Expression, String>,
    origin: Origin,
    message: Option<String>,
    message_expression: Option<Expression>,
    optional_old_self: bool,
}

/// The rules of a schema, by where they apply.
#[derive(Default)]
struct Rules {
    here: Vec<CrdRule>,
    properties: BTreeMap<String, Rules>,
    items: Option<Box<Rules>>,
    additional: Option<Box<Rules>>,
}

impl Rules {
    fn read(schema: &Node) -> Option<Rules> {
        let mut r = Rules::default();
        for v in crd::validations(schema) {
            r.here.push(CrdRule {
                expr: Expression::compile(v.rule.as_str().unwrap_or_default()),
                origin: v.rule.origin,
                message: v.message.map(str::to_string),
                message_expression: v
                    .message_expression
                    .and_then(|m| Expression::compile(m).ok()),
                optional_old_self: v.optional_old_self,
            });
        }
        if let Some(props) = schema.get("properties").and_then(Node::as_map) {
            for (k, v) in props.iter() {
                if let Some(sub) = Rules::read(v) {
                    r.properties.insert(k.name.clone(), sub);
                }
            }
        }
        r.items = schema.get("items").and_then(Rules::read).map(Box::new);
        r.additional = schema
            .get("additionalProperties")
            .and_then(Rules::read)
            .map(Box::new);
        let empty = r.here.is_empty()
            && r.properties.is_empty()
            && r.items.is_none()
            && r.additional.is_none();
        (!empty).then_some(r)
    }
}

/// The rules of one version of one CRD.
struct Crd {
    api_version: String,
    kind: String,
    rules: Rules,
}

fn read_crds(objects: &Objects<'_>) -> Vec<Crd> {
    let mut out = Vec::new();
    for r in objects.all() {
        let Some(crd) = crd::Crd::read(r) else {
            continue;
        };
        for v in &crd.versions {
            let Some(rules) = v.schema.and_then(Rules::read) else {
                continue;
            };
            out.push(Crd {
                api_version: crd.api_version(v),
                kind: crd.kind.to_string(),
                rules,
            });
        }
    }
    out
}

/// Evaluates the rules of every CRD the objects hold over the custom resources of the tree.
pub fn run(objects: &Objects<'_>, out: &mut Vec<Hit>) {
    let crds = read_crds(objects);
    if crds.is_empty() {
        return;
    }
    for crd in &crds {
        report_broken(&crd.rules, out);
    }
    for r in objects.resources {
        for crd in crds
            .iter()
            .filter(|c| c.api_version == r.api_version() && c.kind == r.kind())
        {
            walk(&crd.rules, &r.node, "", r, out);
        }
    }
}

fn report_broken(rules: &Rules, out: &mut Vec<Hit>) {
    for rule in &rules.here {
        if let Err(e) = &rule.expr {
            out.push(Hit::broken(
                "",
                rule.origin,
                format!("the CRD rule does not compile: {e}"),
            ));
        }
    }
    for sub in rules
        .properties
        .values()
        .chain(rules.items.as_deref())
        .chain(rules.additional.as_deref())
    {
        report_broken(sub, out);
    }
}

fn walk(rules: &Rules, node: &Node, path: &str, r: &Resource, out: &mut Vec<Hit>) {
    if !rules.here.is_empty() {
        let value = value_of(node);
        for rule in &rules.here {
            check(rule, node, &value, path, r, out);
        }
    }
    if let Some(map) = node.as_map() {
        for (k, sub) in &rules.properties {
            if let Some(child) = map.get(k) {
                walk(sub, child, &format!("{path}.{k}"), r, out);
            }
        }
        if let Some(sub) = &rules.additional {
            for (k, child) in map.iter() {
                walk(sub, child, &format!("{path}[{:?}]", k.name), r, out);
            }
        }
    }
    if let (Some(items), Some(sub)) = (node.as_seq(), &rules.items) {
        for (i, child) in items.iter().enumerate() {
            walk(sub, child, &format!("{path}[{i}]"), r, out);
        }
    }
}

fn check(rule: &CrdRule, node: &Node, value: &Value, path: &str, r: &Resource, out: &mut Vec<Hit>) {
    let Ok(e) = &rule.expr else { return };
    let old_self = if e.uses("oldSelf") {
        if !rule.optional_old_self {
            // A transition rule: it applies to updates only.
            return;
        }
        Value::Opaque(Arc::new(OptionalValue::none()))
    } else {
        Value::Null
    };
    let field = if path.is_empty() {
        "<root>".to_string()
    } else {
        path.trim_start_matches('.').to_string()
    };
    // A rule from the tree may nest loops over long lists: what it would cost is bounded before it
    // runs (the API server, too, cancels a rule past its budget).
    let widths = if e.loops() {
        cel::widths(node)
    } else {
        cel::Widths::default()
    };
    if let Some(why) = e.too_costly(widths) {
        out.push(Hit::crd_rule(
            r,
            node.origin,
            format!("{} {}: {field}: {why}", r.kind(), r.name()),
            rule.origin,
        ));
        return;
    }
    let mut scope = Scope::default();
    scope.bind("self", value).bind("oldSelf", &old_self);
    match e.eval(&scope) {
        Ok(Value::Bool(true)) => {}
        Ok(Value::Bool(false)) => {
            let message = rule
                .message_expression
                .as_ref()
                .filter(|m| m.too_costly(widths).is_none())
                .and_then(|m| m.eval(&scope).ok())
                .and_then(|v| as_text(&v))
                .filter(|t| !t.trim().is_empty())
                .or_else(|| rule.message.clone())
                .unwrap_or_else(|| format!("failed rule: {}", e.source));
            let at = field_read(node, &e.paths_below("self"))
                .unwrap_or(node)
                .origin;
            out.push(Hit::crd_rule(
                r,
                at,
                format!(
                    "{} {}: {field}: Invalid value: {message}",
                    r.kind(),
                    r.name()
                ),
                rule.origin,
            ));
        }
        Ok(_) => out.push(Hit::broken(
            "",
            rule.origin,
            "the CRD rule does not give a bool".into(),
        )),
        Err(err) => out.push(Hit::crd_rule(
            r,
            node.origin,
            format!(
                "{} {}: {field}: the rule `{}` fails: {err}",
                r.kind(),
                r.name(),
                e.source
            ),
            rule.origin,
        )),
    }
}
