//! CRD schemas converted from upstream CRDs (`schemas/crds/upstream/`) by the same reading of
//! `openAPIV3Schema` that checks a CRD found in the checked tree (`check::tree_crds`): the converted file
//! in `schemas/crds/` is what the conversion gives today (`UPDATE_SNAPSHOTS=1` rewrites it), and it
//! validates real objects.

mod common;

use std::path::{Path, PathBuf};

use openim_gitops::check::tree_crds::to_json_schema;
use openim_gitops::load::{manifests, DiskFiles, Loader};
use openim_gitops::node::Sources;
use serde_json::{json, Value};

use common::Check;

const ID_BASE: &str = "https://openim-gitops.local/schemas/";

/// `(upstream file below schemas/crds/upstream/, served version, converted file below schemas/crds/,
/// where upstream keeps it)`.
const CONVERTED: &[(&str, &str, &str, &str)] = &[(
    "verticalpodautoscalers.autoscaling.k8s.io.yaml",
    "v1",
    "verticalpodautoscaler-autoscaling.k8s.io-v1.json",
    "kubernetes/autoscaler 55c37cd5eb550756c5ccc5a89e9068d77797e575",
)];

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn converted(upstream: &str, version: &str, file: &str, source: &str) -> String {
    let path = PathBuf::from("schemas/crds/upstream").join(upstream);
    let mut sources = Sources::new();
    let mut loader = Loader::new(&DiskFiles, &mut sources);
    let loaded = manifests::load(&mut loader, std::slice::from_ref(&path)).expect("the CRD loads");
    let crd = loaded
        .resources
        .iter()
        .find(|r| r.kind() == "CustomResourceDefinition")
        .expect("a CRD");
    let group = crd.node.str_at(&["spec", "group"]).expect("group");
    let kind = crd.node.str_at(&["spec", "names", "kind"]).expect("kind");
    let v = crd
        .node
        .path(&["spec", "versions"])
        .and_then(|n| n.as_seq())
        .and_then(|vs| vs.iter().find(|v| v.str_at(&["name"]) == Some(version)))
        .expect("the version");
    let mut schema = to_json_schema(
        &v.path(&["schema", "openAPIV3Schema"])
            .expect("a schema")
            .to_json(),
    );
    let m = schema.as_object_mut().expect("an object");
    m.insert(
        "$comment".into(),
        format!(
            "GENERATED-FROM-CRD by tests/vendored_crds.rs from crds/upstream/{upstream} ({source}); do not edit."
        )
        .into(),
    );
    m.insert("$id".into(), format!("{ID_BASE}crds/{file}").into());
    m.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([{"group": group, "kind": kind, "version": version}]),
    );
    let mut text = serde_json::to_string_pretty(&sorted(schema)).expect("JSON");
    text.push('\n');
    text
}

#[test]
fn converted_crd_schemas_are_up_to_date_and_indexed() {
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/crds/index.json").expect("index"))
            .expect("JSON");
    for (upstream, version, file, source) in CONVERTED {
        let text = converted(upstream, version, file, source);
        common::assert_snapshot(&Path::new("schemas/crds").join(file), &text);
        let listed: Vec<&str> = index
            .as_object()
            .expect("object")
            .iter()
            .filter(|(_, f)| f.as_str() == Some(file))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(listed.len(), 1, "{file} is listed once in crds/index.json");
    }
}

#[test]
fn the_vpa_schema_validates_real_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("vpa.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata:
  name: web
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  updatePolicy:
    updateMode: "Off"
  resourcePolicy:
    containerPolicies:
      - containerName: "*"
        controlledResources: [cpu, memory]
        minAllowed: {cpu: 100m, memory: 128Mi}
---
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata:
  name: bad
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  updatePolicy:
    updateMode: Sometimes
  resourcePolicy:
    containerPolicies:
      - containerName: "*"
        minAllowed: {cpu: lots}
        controledResources: [cpu]
"#,
    )
    .expect("write");
    let found: Vec<(String, u64, String)> = Check::paths([&file])
        .run()
        .iter()
        .filter(|f| f.code.starts_with("schema/"))
        .map(|f| (f.code.clone(), f.line, f.message.clone()))
        .collect();
    let lines: Vec<u64> = found.iter().map(|f| f.1).collect();
    assert_eq!(lines, [22, 26, 27], "{found:#?}");
    assert!(found.iter().all(|f| f.0 == "schema/invalid"), "{found:#?}");
    assert!(
        found[2].2.contains("unknown field `controledResources`"),
        "{found:#?}"
    );
}
