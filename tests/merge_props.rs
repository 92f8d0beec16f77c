//! Properties of the strategic merge and of the writer, on generated trees: an empty patch is the
//! identity, a patch applied twice equals it applied once, keys the patch does not name survive, and
//! render -> load -> render is stable.

use openim_gitops::node::{FileId, FileRole, Node, Origin, Sources};
use openim_gitops::overlay::merge::merge;
use openim_gitops::render::emit;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const ORIGIN: Origin = Origin {
    file: FileId(0),
    start: 0,
    end: 0,
    line: 1,
    col: 1,
};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(|i| json!(i)),
        any::<bool>().prop_map(|b| json!(b)),
        prop::sample::select(vec![
            "x",
            "yes",
            "on",
            "0755",
            "1_000",
            "12:30",
            "a: b",
            "",
            "multi\nline\n",
            "100m"
        ])
        .prop_map(|s| json!(s)),
        Just(Value::Null),
    ]
}

/// A list whose items merge by `key` (unique values), like containers or ports.
fn keyed_list(key: &'static str, inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(vec!["p", "q", "r"]), inner, 0..3).prop_map(
        move |m| {
            Value::Array(
                m.into_iter()
                    .map(|(k, v)| {
                        let mut item = match v {
                            Value::Object(o) => o,
                            other => {
                                let mut o = Map::new();
                                o.insert("value".into(), other);
                                o
                            }
                        };
                        let id = if key == "containerPort" {
                            json!(k.as_bytes()[0] as i64)
                        } else {
                            json!(k)
                        };
                        item.insert(key.into(), id);
                        Value::Object(item)
                    })
                    .collect(),
            )
        },
    )
}

fn tree(allow_null: bool) -> BoxedStrategy<Value> {
    let leaf = scalar()
        .prop_filter("no null", move |v| allow_null || !v.is_null())
        .boxed();
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::btree_map(
                prop::sample::select(vec!["a", "b", "c", "spec", "data"]),
                inner.clone(),
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            keyed_list("name", inner.clone()).prop_map(|l| json!({ "containers": l })),
            keyed_list("containerPort", inner.clone()).prop_map(|l| json!({ "ports": l })),
        ]
    })
    .prop_map(|v| match v {
        Value::Object(_) => v,
        other => json!({ "root": other }),
    })
    .boxed()
}

fn node(v: &Value) -> Node {
    Node::from_json(v, ORIGIN)
}

fn merged(target: &Value, patch: &Value) -> Value {
    let mut t = node(target);
    merge(&mut t, &node(patch)).expect("merge");
    t.to_json()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn an_empty_patch_is_the_identity(t in tree(true)) {
        prop_assert_eq!(merged(&t, &json!({})), t);
    }

    #[test]
    fn applying_a_patch_twice_equals_applying_it_once(t in tree(true), p in tree(true)) {
        let once = merged(&t, &p);
        let twice = merged(&once, &p);
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn keys_the_patch_does_not_name_survive(t in tree(true), p in tree(true)) {
        let out = merged(&t, &p);
        let (Value::Object(tm), Value::Object(pm), Value::Object(om)) = (&t, &p, &out) else {
            return Ok(());
        };
        for (k, v) in tm {
            if !pm.contains_key(k) {
                prop_assert_eq!(om.get(k), Some(v), "key {} was touched", k);
            }
        }
    }

    #[test]
    fn render_load_render_is_stable(t in tree(true)) {
        let first = emit::document(&node(&t));
        let mut sources = Sources::new();
        let id = sources.add(std::path::Path::new("mem.yaml"), first.clone().into(), FileRole::Other);
        let docs = openim_gitops::load::yaml::parse(id, sources.get(id)).expect("our own output parses");
        prop_assert_eq!(docs.len(), 1);
        prop_assert_eq!(&docs[0].root.to_json(), &t, "the written tree reads back as itself:\n{}", first);
        let second = emit::document(&docs[0].root);
        prop_assert_eq!(second, first);
    }
}
