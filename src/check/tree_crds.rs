//! The schemas of the CustomResourceDefinitions in the checked tree: each served version's
//! `openAPIV3Schema`, turned into a JSON Schema the `schema/` rules validate that version's custom
//! resources against, as the API server would once the CRD is applied.
//!
//! How the API server reads a structural schema, and how it is read here:
//! - `nullable: true` admits `null` (an `enum` too); `x-kubernetes-int-or-string: true` admits an integer or a string;
//!   `x-kubernetes-embedded-resource: true` admits `apiVersion`, `kind` and `metadata` besides the
//!   declared fields; the root admits `apiVersion`, `kind` and any `metadata` (checked by the other rules).
//! - Unknown fields: the API server prunes them silently, unless a field or an ancestor says
//!   `x-kubernetes-preserve-unknown-fields: true`; `kubectl apply` (whose field validation is strict by
//!   default, as is Argo CD's sync) reports them as errors instead. A misspelt field of a custom resource
//!   is lost either way, so here, as for built-in kinds, an unknown field where the schema would prune
//!   it is an error. `additionalProperties` (a map) and preserved fields admit any key.
//! - `allOf`/`anyOf`/`oneOf`/`not` only constrain values (a structural schema may not declare fields in
//!   them), so their branches never reject unknown fields.
//! - A `$ref` (or any `$` keyword) and a `pattern` that is no RE2 expression make the API server refuse
//!   the CRD; here the version's schema is then not compiled, and its custom resources get a finding
//!   that says why. Nothing a schema names is ever fetched or read.
//! - `x-kubernetes-validations` (CEL) are evaluated by the user-policy stage, not here; other
//!   `x-kubernetes-*` keywords, `description`, `example` and `externalDocs` are annotations.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::k8s::crd::Crd;
use crate::node::Origin;
use crate::resource::Resource;

/// One served version of a CRD of the tree.
pub struct TreeSchema {
    /// `widgets.example.com` (the CRD's name), for messages.
    pub crd: String,
    /// Where the version's `openAPIV3Schema` is written.
    pub origin: Origin,
    pub validator: Result<crate::check::vendored::Validator, String>,
}

/// The schemas of the tree's CRDs by `"<group>/<version>|<Kind>"`, compiled for the kinds some object
/// of the tree has (a CRD nobody instantiates costs nothing).
pub fn schemas(resources: &[Resource]) -> BTreeMap<String, TreeSchema> {
    let mut wanted: BTreeMap<String, ()> = BTreeMap::new();
    for r in resources {
        wanted.insert(format!("{}|{}", r.api_version(), r.kind()), ());
    }
    let mut out = BTreeMap::new();
    for r in resources {
        if r.version() != "v1" {
            continue;
        }
        let Some(crd) = Crd::read(r) else { continue };
        for v in crd.versions.iter().filter(|v| v.served) {
            let key = format!("{}|{}", crd.api_version(v), crd.kind);
            if !wanted.contains_key(&key) || out.contains_key(&key) {
                continue;
            }
            let (origin, validator) = match v.schema {
                Some(schema) => (schema.origin, compile(&schema.to_json())),
                // No schema: the API server accepts anything (v1 requires one; a tree may omit it).
                None => (v.node.origin, compile(&json!({"type": "object"}))),
            };
            out.insert(
                key,
                TreeSchema {
                    crd: r.name().to_string(),
                    origin,
                    validator,
                },
            );
        }
    }
    out
}

fn compile(openapi: &Value) -> Result<crate::check::vendored::Validator, String> {
    refused(openapi, "openAPIV3Schema")?;
    crate::check::vendored::compile_value(&to_json_schema(openapi))
}

/// The largest program a CRD's `pattern` may compile to (bytes); the API server's patterns are small.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// What the API server refuses in a CRD's schema and the validator must never be handed: a `$ref`
/// or any other `$` keyword (the validator would resolve references, and one from the tree may name
/// any place), and a `pattern` that is no RE2 expression (backreferences, lookaround: Kubernetes
/// compiles patterns with Go's RE2 engine, whose matching time is linear) or compiles too large.
/// Only schema positions are read: `enum`, `default` and `example` values are data.
fn refused(schema: &Value, at: &str) -> Result<(), String> {
    let Value::Object(m) = schema else {
        return Ok(());
    };
    for (k, v) in m {
        let here = format!("{at}.{k}");
        match k.as_str() {
            "$schema" => {}
            _ if k.starts_with('$') => {
                return Err(format!(
                    "`{here}`: the API server refuses a CRD schema that uses `{k}`"
                ))
            }
            "pattern" => {
                if let Some(p) = v.as_str() {
                    regex::RegexBuilder::new(p)
                        .size_limit(PATTERN_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            format!(
                                "`{here}` is not a pattern the API server accepts (RE2 syntax, no backreferences or lookaround, at most {} KiB compiled): {e}",
                                PATTERN_SIZE_LIMIT / 1024
                            )
                        })?;
                }
            }
            "properties" | "patternProperties" | "definitions" | "dependencies" => {
                for (name, sub) in v.as_object().into_iter().flatten() {
                    refused(sub, &format!("{here}.{name}"))?;
                }
            }
            "items" | "additionalItems" | "additionalProperties" | "not" => match v {
                Value::Array(list) => {
                    for (i, sub) in list.iter().enumerate() {
                        refused(sub, &format!("{here}[{i}]"))?;
                    }
                }
                sub => refused(sub, &here)?,
            },
            "allOf" | "anyOf" | "oneOf" => {
                for (i, sub) in v.as_array().into_iter().flatten().enumerate() {
                    refused(sub, &format!("{here}[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The JSON Schema (2020-12) that validates what a CRD's `openAPIV3Schema` admits (see the module docs).
pub fn to_json_schema(openapi: &Value) -> Value {
    let mut root = convert(openapi, Context::Field);
    if let Value::Object(m) = &mut root {
        let props = m
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(p) = props {
            p.insert("apiVersion".into(), json!({"type": "string"}));
            p.insert("kind".into(), json!({"type": "string"}));
            // ObjectMeta: what the other rules check; a CRD may only narrow name and generateName.
            p.insert("metadata".into(), json!({"type": "object"}));
        }
        m.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
    }
    root
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    /// A field's own schema: unknown fields are rejected where the API server would prune them.
    Field,
    /// Inside `allOf`/`anyOf`/`oneOf`/`not`: value constraints only.
    Logic,
    /// Under `x-kubernetes-preserve-unknown-fields: true`: unknown fields are kept.
    Preserved,
}

fn convert(node: &Value, ctx: Context) -> Value {
    let Value::Object(m) = node else {
        return node.clone();
    };
    let flag = |k: &str| m.get(k).and_then(Value::as_bool) == Some(true);
    let preserve = flag("x-kubernetes-preserve-unknown-fields");
    let inner = if preserve { Context::Preserved } else { ctx };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "properties" | "patternProperties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(name, s)| (name.clone(), convert(s, field_ctx(inner))))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "not" => {
                let c = if k == "not" {
                    Context::Logic
                } else {
                    field_ctx(inner)
                };
                out.insert(k.clone(), convert(v, c));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let branches = v
                    .as_array()
                    .map(|a| a.iter().map(|b| convert(b, Context::Logic)).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Array(branches));
            }
            "nullable" | "description" | "example" | "externalDocs" | "default" | "$schema"
            | "id" => {}
            _ if k.starts_with("x-kubernetes-") => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if flag("x-kubernetes-int-or-string") {
        out.remove("type");
        let mut forms = vec![json!({"type": "integer"}), json!({"type": "string"})];
        if flag("nullable") {
            forms.push(json!({"type": "null"}));
        }
        out.insert("anyOf".into(), Value::Array(forms));
    } else if flag("nullable") {
        if let Some(Value::String(t)) = out.get("type") {
            let both = json!([t, "null"]);
            out.insert("type".into(), both);
        }
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            if !values.contains(&Value::Null) {
                values.push(Value::Null);
            }
        }
    }
    if flag("x-kubernetes-embedded-resource") {
        let props = out
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(p) = props {
            for (name, schema) in [
                ("apiVersion", json!({"type": "string"})),
                ("kind", json!({"type": "string"})),
                ("metadata", json!({"type": "object"})),
            ] {
                p.entry(name).or_insert(schema);
            }
        }
    }
    let is_object = out.get("type").is_some_and(|t| {
        t == "object"
            || t.as_array()
                .is_some_and(|a| a.iter().any(|x| x == "object"))
    });
    if ctx == Context::Field && !preserve && is_object && !out.contains_key("additionalProperties")
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

/// The context of a field's own schema below one in `ctx`.
fn field_ctx(ctx: Context) -> Context {
    match ctx {
        // A field inside a value-only branch is itself declared in the main schema; its own
        // branch copy only constrains values.
        Context::Logic => Context::Logic,
        // Preserving applies to the object that says so; its declared fields are pruned again
        // unless they say so too (the API server's rule).
        Context::Preserved | Context::Field => Context::Field,
    }
}
