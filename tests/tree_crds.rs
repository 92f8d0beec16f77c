//! CustomResourceDefinitions in the checked tree validate their custom resources: each served
//! version's `openAPIV3Schema`, with `nullable`, `x-kubernetes-int-or-string`,
//! `x-kubernetes-preserve-unknown-fields` and `x-kubernetes-embedded-resource` read as the API server
//! reads them, and unknown fields rejected where the API server would prune them (as `kubectl apply`'s
//! strict field validation does). A CRD's schema is never read as objects or selectors.

mod common;

use std::path::Path;
use std::process::Command;

use openim_gitops::check::tree_crds::to_json_schema;

use common::{Check, Findings};

/// `check` on files of `tests/fixtures/tree-crds/`, as the command run in that folder checks them.
fn findings(files: &[&str]) -> Findings {
    Check::in_dir(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tree-crds"),
        files,
    )
    .run()
}

#[test]
fn custom_resources_are_checked_against_their_crd_in_the_tree_at_their_lines() {
    let found = findings(&["widgets.yaml"]);
    let invalid = found.messages("schema/invalid");
    assert_eq!(
        invalid,
        [
            (89, "`spec.size`: expected an integer, found a string"),
            (90, "`spec.port`: a number matches none of the forms the schema allows"),
            (91, "`spec.mode`: the value is not one of \"Fast\", \"Safe\" or null"),
            (92, "`spec`: unknown field `sise`"),
            (94, "`spec.config.level`: expected an integer, found a string"),
            (102, "`spec`: the required field `size` is missing"),
            (107, "`spec.template`: unknown field `extra`"),
            (114, "`spec.size`: the value is out of range: the API server reads this field as a 32-bit integer (-2147483648 to 2147483647)"),
        ],
        "{found:#?}"
    );
    let help = &found.first("schema/invalid").help;
    assert!(
        help.contains("CustomResourceDefinition `widgets.example.com`"),
        "{help}"
    );
    // A Widget of a served version is no longer an unknown kind; one of a version the CRD does not
    // serve still is.
    assert_eq!(
        found
            .messages("schema/unknown-kind")
            .iter()
            .map(|f| f.0)
            .collect::<Vec<_>>(),
        [118]
    );
    // The CRD's schema body is never read as labels or selectors.
    assert!(
        found.messages("schema/invalid-label").is_empty(),
        "{found:#?}"
    );
}

#[test]
fn the_related_place_is_the_crd_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tree-crds");
    let out = Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .current_dir(&dir)
        .args(["check", "--format", "sarif", "widgets.yaml"])
        .env("NO_COLOR", "1")
        .env("OPENIM_GITOPS_TODAY", "2026-06-15")
        .output()
        .expect("run openim-gitops");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF");
    let results = v["runs"][0]["results"].as_array().expect("results");
    let first = results
        .iter()
        .find(|r| r["ruleId"] == "schema/invalid")
        .expect("a schema/invalid result");
    let related = &first["relatedLocations"][0]["physicalLocation"];
    assert_eq!(related["region"]["startLine"], 16, "{first:#}");
}

#[test]
fn without_its_crd_a_custom_resource_is_an_unknown_kind() {
    let found = findings(&["widget-alone.yaml"]);
    assert_eq!(found.messages("schema/unknown-kind").len(), 1, "{found:#?}");
    assert!(found.messages("schema/invalid").is_empty());
}

#[test]
fn a_crd_in_the_tree_overrides_a_vendored_crd_schema() {
    // A ServiceMonitor whose field the vendored schema lacks, with the CRD (narrowed) in the tree.
    let found = findings(&["servicemonitor-crd.yaml"]);
    let invalid = found.messages("schema/invalid");
    assert_eq!(
        invalid,
        [(32, "`spec`: unknown field `endpoints`")],
        "{found:#?}"
    );
}

#[test]
fn vendored_crd_schemas_keep_working_without_a_crd_in_the_tree() {
    let found = findings(&["servicemonitor-alone.yaml"]);
    let invalid = found.messages("schema/invalid");
    assert_eq!(
        invalid,
        [(9, "`spec.endpoints`: expected a list, found a mapping")],
        "{found:#?}"
    );
}

#[test]
fn the_conversion_reads_structural_schemas_as_the_api_server_does() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "a": {"type": "string", "nullable": true, "description": "d", "x-kubernetes-validations": [{"rule": "true"}]},
            "b": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                  "properties": {"d": {"type": "object", "properties": {"e": {"type": "string"}}}}},
            "m": {"type": "object", "additionalProperties": {"type": "integer"}},
            "o": {"type": "object", "anyOf": [{"required": ["x"]}, {"properties": {"y": {"type": "object"}}}],
                  "properties": {"x": {"type": "string"}, "y": {"type": "object"}}}
        }
    });
    let v = jsonschema::validator_for(&to_json_schema(&schema)).expect("compiles");
    let ok = serde_json::json!({
        "apiVersion": "example.com/v1", "kind": "W", "metadata": {"name": "w", "labels": {"a": "b"}},
        "a": null, "b": 3, "c": {"free": 1, "d": {"e": "x"}}, "m": {"k": 1}, "o": {"x": "1"}
    });
    assert!(
        v.is_valid(&ok),
        "{:?}",
        v.iter_errors(&ok)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    for bad in [
        serde_json::json!({"b": 1.5}),
        serde_json::json!({"b": null}),
        serde_json::json!({"c": {"d": {"e": "x", "f": 1}}}),
        serde_json::json!({"m": {"k": "one"}}),
        serde_json::json!({"o": {"x": 1}}),
        serde_json::json!({"a": 1}),
        serde_json::json!({"unknown": 1}),
    ] {
        assert!(!v.is_valid(&bad), "{bad}");
    }
}
