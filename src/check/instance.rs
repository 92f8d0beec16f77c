//! Objects as the schema validator reads them: jsonschema's representation traits implemented for our
//! [`Node`], so an object is validated where it lies instead of being copied into a `serde_json` value
//! first (the copy cost more than the validation of a valid object).
//!
//! Every answer is the one [`Node::to_json`] would give: an integer is a JSON integer, a finite float a
//! JSON number, a float JSON cannot hold (`.nan`, `.inf`) the string of its YAML spelling. (A key found
//! twice in a mapping, which the loader refuses, is looked up as its last value, as in the copy.)

use std::borrow::Cow;

use jsonschema::json::{Array, Json, Node as JsonNode, NodeIdentity, Object};
use jsonschema::types::JsonType;

use crate::node::{format_float, FileId, Map, Node, Origin, Value};

/// The representation: instances are `&Node`.
pub struct NodeJson;

impl Json for NodeJson {
    type Node<'a> = &'a Node;
    type PreparedKey = String;
    type StringBuffer = Option<Node>;

    /// A lookup scans the mapping's entries, as a members pass does: a pass is never dearer than the
    /// lookups it replaces (a bound, not a product that could overflow).
    const KEYS_PER_LOOKUP: usize = 64;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Option<Node>,
        string: &str,
        f: impl FnOnce(&Node) -> T,
    ) -> T {
        // The buffer's string is reused from one property name to the next.
        if let Some(node) = buffer {
            if let Value::Str(s) = &mut node.value {
                s.clear();
                s.push_str(string);
                return f(node);
            }
        }
        let nowhere = Origin {
            file: FileId(0),
            start: 0,
            end: 0,
            line: 0,
            col: 0,
        };
        f(buffer.insert(Node::str(string, nowhere)))
    }
}

impl<'a> JsonNode<'a, NodeJson> for &'a Node {
    type Object = &'a Map;
    type Array = &'a [Node];
    type Number = serde_json::Number;

    fn as_object(&self) -> Option<&'a Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&'a [Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match &self.value {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Float(f) if !f.is_finite() => Some(Cow::Owned(format_float(*f))),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<serde_json::Number> {
        match self.value {
            Value::Int(i) => Some(i.into()),
            Value::Float(f) => serde_json::Number::from_f64(f),
            _ => None,
        }
    }

    fn is_number(&self) -> bool {
        match self.value {
            Value::Int(_) => true,
            Value::Float(f) => f.is_finite(),
            _ => false,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    fn json_type(&self) -> JsonType {
        match &self.value {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Int(_) => JsonType::Number,
            Value::Float(f) if f.is_finite() => JsonType::Number,
            Value::Float(_) | Value::Str(_) => JsonType::String,
            Value::Seq(_) => JsonType::Array,
            Value::Map(_) => JsonType::Object,
        }
    }

    fn equals_value(&self, expected: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        // Scalars compare without a copy (`enum` lists are checked on many fields); containers are rare
        // in `const` and `enum` and compare as JSON.
        match (&self.value, expected) {
            (Value::Str(s), J::String(e)) => s == e,
            (Value::Str(_), _) => false,
            (Value::Bool(b), J::Bool(e)) => b == e,
            (Value::Bool(_), _) => false,
            (Value::Null, J::Null) => true,
            (Value::Null, _) => false,
            (Value::Int(_) | Value::Float(_), J::Number(e)) => match self.as_number() {
                Some(n) => jsonschema::json::cmp::equal_numbers(&n, e),
                None => false,
            },
            _ => jsonschema::json::cmp::equal(&self.to_json(), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, serde_json::Value> {
        Cow::Owned(self.to_json())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Node>(self) as usize))
    }
}

/// The members of a mapping, in order.
pub struct Members<'a>(std::slice::Iter<'a, (crate::node::Key, Node)>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k.name.as_str(), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a> Object<'a, NodeJson> for &'a Map {
    type Node = &'a Node;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get(&self, key: &String) -> Option<&'a Node> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.name == *key)
            .map(|(_, v)| v)
    }

    fn members(&self) -> Members<'a> {
        Members(self.entries.iter())
    }
}

impl<'a> Array<'a, NodeJson> for &'a [Node] {
    type Node = &'a Node;
    type ElementsIter = std::slice::Iter<'a, Node>;

    fn len(&self) -> usize {
        <[Node]>::len(self)
    }

    fn elements(&self) -> std::slice::Iter<'a, Node> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use jsonschema::json::{Json, SerdeJson};

    use super::NodeJson;

    use crate::check::vendored::{self, compile_for, KubeVersion};
    use crate::node::{FileRole, Node, Sources, Value};

    /// What a validator says of an instance: valid or not, and each error's place, rule and text.
    fn verdict<'i, F: Json>(
        v: &'i jsonschema::Validator<F>,
        instance: F::Node<'i>,
    ) -> (bool, Vec<String>) {
        let valid = v.is_valid(instance.clone());
        let errors = v
            .iter_errors(instance)
            .map(|e| {
                format!(
                    "{} | {} | {:?} | {e}",
                    e.instance_path().as_str(),
                    e.schema_path().as_str(),
                    e.kind()
                )
            })
            .collect();
        (valid, errors)
    }

    /// Changes of one scalar or mapping that make valid objects invalid in every way the schemas
    /// can tell: wrong types, numbers past their format, YAML's special floats, unknown fields.
    fn mutations(root: &Node) -> Vec<Node> {
        let mut paths = Vec::new();
        collect(root, &mut Vec::new(), &mut paths);
        let replacements = [
            Value::Str("x".into()),
            Value::Int(-1),
            Value::Int(i64::MAX),
            Value::Float(1.5),
            Value::Float(1.0e23),
            Value::Float(f64::NAN),
            Value::Float(f64::NEG_INFINITY),
            Value::Bool(true),
            Value::Null,
            Value::Seq(Vec::new()),
        ];
        let mut out = Vec::new();
        for (i, path) in paths.iter().enumerate().step_by(3) {
            let mut copy = root.clone();
            if let Some(n) = at(&mut copy, path) {
                match &mut n.value {
                    Value::Map(m) => {
                        let key = m.entries.first().map(|(k, _)| k.clone());
                        if let Some(mut k) = key {
                            k.name = "unknownField".into();
                            m.entries.push((k, Node::str("x", n.origin)));
                        }
                    }
                    _ => n.value = replacements[i % replacements.len()].clone(),
                }
                out.push(copy);
            }
        }
        out
    }

    fn collect(n: &Node, path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        out.push(path.clone());
        let children: Vec<&Node> = match &n.value {
            Value::Map(m) => m.entries.iter().map(|(_, v)| v).collect(),
            Value::Seq(items) => items.iter().collect(),
            _ => Vec::new(),
        };
        for (i, c) in children.into_iter().enumerate() {
            path.push(i);
            collect(c, path, out);
            path.pop();
        }
    }

    fn at<'n>(n: &'n mut Node, path: &[usize]) -> Option<&'n mut Node> {
        let Some((first, rest)) = path.split_first() else {
            return Some(n);
        };
        let child = match &mut n.value {
            Value::Map(m) => &mut m.entries.get_mut(*first)?.1,
            Value::Seq(items) => items.get_mut(*first)?,
            _ => return None,
        };
        at(child, rest)
    }

    /// Every object of this repository and its real-world corpora, and mutations of each, is judged
    /// the same whether the validator reads the parsed tree or its JSON copy.
    #[test]
    fn the_tree_is_validated_as_its_json_copy_is() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Sources::default();
        let mut objects = Vec::new();
        for dir in ["environments", "tests/fixtures", "examples"] {
            for entry in walkdir::WalkDir::new(root.join(dir))
                .sort_by_file_name()
                .into_iter()
                .flatten()
            {
                let p = entry.path();
                if !matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                ) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(p) else {
                    continue;
                };
                let id = sources.add(p, text.into(), FileRole::Resource);
                let Ok(docs) = crate::load::yaml::parse(id, sources.get(id)) else {
                    continue;
                };
                objects.extend(docs.into_iter().map(|d| d.root));
            }
        }
        let version = KubeVersion::default();
        let mut compiled: HashMap<String, Option<_>> = HashMap::new();
        let (mut checked, mut invalid) = (0, 0);
        for object in &objects {
            let (Some(api), Some(kind)) =
                (object.str_at(&["apiVersion"]), object.str_at(&["kind"]))
            else {
                continue;
            };
            let pair = compiled.entry(format!("{api}|{kind}")).or_insert_with(|| {
                let doc = vendored::document(version, api, kind)?.ok()?;
                Some((
                    compile_for::<NodeJson>(&doc).ok()?,
                    compile_for::<SerdeJson>(&doc).ok()?,
                ))
            });
            let Some((tree, copy)) = pair else {
                continue;
            };
            for instance in std::iter::once(object.clone()).chain(mutations(object)) {
                let json = instance.to_json();
                let a = verdict(tree, &instance);
                let b = verdict(copy, &json);
                assert_eq!(a, b, "{api} {kind}: {json}");
                checked += 1;
                invalid += usize::from(!a.0);
            }
        }
        assert!(checked > 5_000, "only {checked} instances checked");
        assert!(
            invalid > checked / 4,
            "only {invalid} of {checked} instances invalid: the mutations do not reach the schemas"
        );
    }

    /// Each accessor, against schemas made to read it: strings' length and pattern, `enum` and `const`
    /// against every kind of scalar, `uniqueItems`, `propertyNames`, `required`, the integer formats,
    /// with the values YAML gives that JSON has no literal for.
    #[test]
    fn every_accessor_answers_as_the_json_copy_does() {
        let schemas = [
            r#"{"type": "string", "minLength": 4, "maxLength": 4, "pattern": "^\\.n"}"#,
            r#"{"enum": ["a", 1, 1.5, true, null, ".nan", [1], {"a": 1}]}"#,
            r#"{"const": 1}"#,
            r#"{"const": ".inf"}"#,
            r#"{"type": "integer", "format": "int32"}"#,
            r#"{"type": "number", "minimum": 0, "maximum": 10, "multipleOf": 0.5}"#,
            r#"{"type": "array", "uniqueItems": true, "items": {"type": ["string", "integer"]}}"#,
            r#"{"type": "object", "propertyNames": {"maxLength": 2}, "required": ["a"],
                "additionalProperties": false, "properties": {"a": {"type": "boolean"}, "bb": {}}}"#,
        ];
        let origin = crate::node::Origin {
            file: crate::node::FileId(0),
            start: 0,
            end: 0,
            line: 0,
            col: 0,
        };
        let scalar = |v: Value| Node::new(v, origin);
        let mut values: Vec<Node> = [
            Value::Null,
            Value::Bool(true),
            Value::Int(1),
            Value::Int(-3),
            Value::Int(i64::MAX),
            Value::Int(3_000_000_000),
            Value::Float(1.0),
            Value::Float(1.5),
            Value::Float(2.25),
            Value::Float(1.0e23),
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Str(".nan".into()),
            Value::Str(".inf".into()),
            Value::Str("a".into()),
            Value::Str("abcd".into()),
        ]
        .into_iter()
        .map(scalar)
        .collect();
        let seq = |items: Vec<Value>| scalar(Value::Seq(items.into_iter().map(scalar).collect()));
        values.push(seq(vec![Value::Int(1), Value::Float(1.0)]));
        values.push(seq(vec![Value::Str("x".into()), Value::Int(1)]));
        values.push(seq(vec![Value::Float(f64::NAN), Value::Str(".nan".into())]));
        values.push(seq(vec![Value::Int(1)]));
        for keys in [&["a"][..], &["a", "bb"], &["a", "ccc"], &["bb"]] {
            let mut m = Node::map(origin);
            if let Value::Map(map) = &mut m.value {
                for k in keys {
                    map.entries.push((
                        crate::node::Key {
                            name: k.to_string(),
                            origin,
                        },
                        scalar(Value::Bool(true)),
                    ));
                }
            }
            values.push(m);
        }
        for text in schemas {
            let schema: serde_json::Value = serde_json::from_str(text).expect("schema");
            let tree = compile_for::<NodeJson>(&schema).expect("compiles");
            let copy = compile_for::<SerdeJson>(&schema).expect("compiles");
            let verdicts: Vec<bool> = values
                .iter()
                .map(|v| {
                    let json = v.to_json();
                    let a = verdict(&tree, v);
                    assert_eq!(a, verdict(&copy, &json), "{text} on {json}");
                    a.0
                })
                .collect();
            // Each schema admits some values and refuses others: it reads what it was made to read.
            assert!(
                verdicts.contains(&true) && verdicts.contains(&false),
                "{text}"
            );
        }
    }
}
