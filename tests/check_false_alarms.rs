//! False alarms found by checking public repositories' manifests with `check PATHS`, one test each:
//! the shape that raised the alarm no longer does, and the mistake the rule is for still fires.

use std::path::Path;
use std::process::Command;

/// The findings (code, line, message, help) of `check PATHS` on one file holding `yaml`.
fn findings(yaml: &str) -> Vec<(String, u64, String, String)> {
    findings_with(yaml, None)
}

/// [`findings`], with a policy file.
fn findings_with(yaml: &str, policy: Option<&str>) -> Vec<(String, u64, String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("input.yaml"), yaml).expect("write");
    let mut args = vec!["check", "--format", "json", "input.yaml"];
    if let Some(p) = policy {
        std::fs::write(dir.path().join("policy.yaml"), p).expect("write");
        args.extend(["--policy", "policy.yaml"]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .current_dir(dir.path())
        .args(&args)
        .env("NO_COLOR", "1")
        .env("OPENIM_GITOPS_TODAY", "2026-06-15")
        .output()
        .expect("run openim-gitops");
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["message"].as_str().unwrap_or("").to_string(),
                f["help"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

const NONE: [u64; 0] = [];

/// The lines at which `code` fired.
fn lines(found: &[(String, u64, String, String)], code: &str) -> Vec<u64> {
    found.iter().filter(|f| f.0 == code).map(|f| f.1).collect()
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/false-alarms")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_crd_schema_body_is_not_read_as_selectors() {
    let found = findings(&fixture("crd-schema.yaml"));
    // Only the CRD's own bad label (line 6), never the `matchLabels` property of its schema.
    assert_eq!(lines(&found, "schema/invalid-label"), [6], "{found:#?}");
}

#[test]
fn objects_without_a_namespace_are_in_default() {
    let found = findings(&fixture("default-namespace.yaml"));
    assert_eq!(lines(&found, "refs/ingress-backend"), [60], "{found:#?}");
    assert_eq!(
        lines(&found, "refs/service-selects-nothing"),
        NONE,
        "{found:#?}"
    );
}

#[test]
fn labels_controllers_add_to_pods_are_known() {
    let found = findings(&fixture("controller-labels.yaml"));
    // The Service on the Job's `job-name` and the one on `pod-template-hash` select pods; the one on a
    // Job that does not exist does not.
    assert_eq!(
        lines(&found, "refs/service-selects-nothing"),
        [47],
        "{found:#?}"
    );
}

#[test]
fn replication_controllers_run_pods_for_every_rule() {
    let found = findings(&fixture("replication-controller.yaml"));
    assert_eq!(
        lines(&found, "resources/missing-limits"),
        [15],
        "{found:#?}"
    );
    assert_eq!(
        lines(&found, "images/latest-or-untagged"),
        [17],
        "{found:#?}"
    );
    assert_eq!(
        lines(&found, "refs/service-selects-nothing"),
        NONE,
        "{found:#?}"
    );
    assert_eq!(
        lines(&found, "schema/selector-mismatch"),
        NONE,
        "{found:#?}"
    );
}

#[test]
fn objects_every_cluster_has_are_not_missing() {
    let found = findings(&fixture("builtin-objects.yaml"));
    assert_eq!(lines(&found, "refs/missing-role"), [39], "{found:#?}");
    assert_eq!(
        lines(&found, "refs/missing-service-account"),
        NONE,
        "{found:#?}"
    );
    assert_eq!(lines(&found, "refs/missing-configmap"), NONE, "{found:#?}");
}

#[test]
fn a_volume_claim_template_provides_its_claim() {
    let found = findings(&fixture("claim-template.yaml"));
    assert_eq!(lines(&found, "refs/missing-pvc"), [28], "{found:#?}");
}

#[test]
fn nsswitch_passwd_is_no_credential_and_help_does_not_assume_openim() {
    let found = findings(&fixture("nsswitch.yaml"));
    assert_eq!(
        lines(&found, "secrets/configmap-credential"),
        [14],
        "{found:#?}"
    );
    let help = &found
        .iter()
        .find(|f| f.0 == "secrets/configmap-credential")
        .expect("the real credential fires")
        .3;
    assert!(!help.contains("IMENV") && help.contains("Secret"), "{help}");
}

#[test]
fn kinds_kubernetes_serves_have_a_schema() {
    let found = findings(&fixture("served-kinds.yaml"));
    // The one kind no vendored Kubernetes serves is an API version Kubernetes removed: said so.
    assert_eq!(lines(&found, "schema/unknown-kind"), NONE, "{found:#?}");
    assert_eq!(lines(&found, "schema/removed-api"), [59], "{found:#?}");
}

#[test]
fn the_served_kinds_are_valid_as_written() {
    let found = findings(&fixture("served-kinds.yaml"));
    assert_eq!(lines(&found, "schema/invalid"), NONE, "{found:#?}");
}

#[test]
fn the_policy_declares_pods_an_operator_makes() {
    let yaml = fixture("operator-pods.yaml");
    let without = findings(&yaml);
    assert_eq!(
        lines(&without, "refs/service-selects-nothing"),
        [8, 32],
        "{without:#?}"
    );
    assert_eq!(
        lines(&without, "netpol/policy-selects-nothing"),
        [18],
        "{without:#?}"
    );
    assert_eq!(
        lines(&without, "netpol/peer-selects-nothing"),
        [23],
        "{without:#?}"
    );
    let with = findings_with(&yaml, Some(&fixture("operator-pods-policy.yaml")));
    assert_eq!(
        lines(&with, "refs/service-selects-nothing"),
        [32],
        "{with:#?}"
    );
    assert_eq!(
        lines(&with, "netpol/policy-selects-nothing"),
        NONE,
        "{with:#?}"
    );
    assert_eq!(
        lines(&with, "netpol/peer-selects-nothing"),
        NONE,
        "{with:#?}"
    );
}
