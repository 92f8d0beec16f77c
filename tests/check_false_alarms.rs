//! False alarms found by checking public repositories' manifests with `check PATHS`, one test each:
//! the shape that raised the alarm no longer does, and the mistake the rule is for still fires.

mod common;

use std::path::Path;

use common::{Check, Findings};

/// The findings of `check PATHS` on one file holding `yaml`.
fn findings(yaml: &str) -> Findings {
    Check::files(&[("input.yaml", yaml)]).run()
}

/// [`findings`], with a policy file.
fn findings_with(yaml: &str, policy: &str) -> Findings {
    Check::files(&[("input.yaml", yaml)])
        .policy_text(policy)
        .run()
}

const NONE: [u64; 0] = [];

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
    assert_eq!(found.lines("schema/invalid-label"), [6], "{found:#?}");
}

#[test]
fn objects_without_a_namespace_are_in_default() {
    let found = findings(&fixture("default-namespace.yaml"));
    assert_eq!(found.lines("refs/ingress-backend"), [60], "{found:#?}");
    assert_eq!(
        found.lines("refs/service-selects-nothing"),
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
        found.lines("refs/service-selects-nothing"),
        [47],
        "{found:#?}"
    );
}

#[test]
fn replication_controllers_run_pods_for_every_rule() {
    let found = findings(&fixture("replication-controller.yaml"));
    assert_eq!(found.lines("resources/missing-limits"), [15], "{found:#?}");
    assert_eq!(found.lines("images/latest-or-untagged"), [17], "{found:#?}");
    assert_eq!(
        found.lines("refs/service-selects-nothing"),
        NONE,
        "{found:#?}"
    );
    assert_eq!(found.lines("schema/selector-mismatch"), NONE, "{found:#?}");
}

#[test]
fn objects_every_cluster_has_are_not_missing() {
    let found = findings(&fixture("builtin-objects.yaml"));
    assert_eq!(found.lines("refs/missing-role"), [39], "{found:#?}");
    assert_eq!(
        found.lines("refs/missing-service-account"),
        NONE,
        "{found:#?}"
    );
    assert_eq!(found.lines("refs/missing-configmap"), NONE, "{found:#?}");
}

#[test]
fn a_volume_claim_template_provides_its_claim() {
    let found = findings(&fixture("claim-template.yaml"));
    assert_eq!(found.lines("refs/missing-pvc"), [28], "{found:#?}");
}

#[test]
fn nsswitch_passwd_is_no_credential_and_help_does_not_assume_openim() {
    let found = findings(&fixture("nsswitch.yaml"));
    assert_eq!(
        found.lines("secrets/configmap-credential"),
        [14],
        "{found:#?}"
    );
    let help = &found.first("secrets/configmap-credential").help;
    assert!(!help.contains("IMENV") && help.contains("Secret"), "{help}");
}

#[test]
fn kinds_kubernetes_serves_have_a_schema() {
    let found = findings(&fixture("served-kinds.yaml"));
    // The one kind no vendored Kubernetes serves is an API version Kubernetes removed: said so.
    assert_eq!(found.lines("schema/unknown-kind"), NONE, "{found:#?}");
    assert_eq!(found.lines("schema/removed-api"), [59], "{found:#?}");
}

#[test]
fn the_served_kinds_are_valid_as_written() {
    let found = findings(&fixture("served-kinds.yaml"));
    assert_eq!(found.lines("schema/invalid"), NONE, "{found:#?}");
}

#[test]
fn the_policy_declares_pods_an_operator_makes() {
    let yaml = fixture("operator-pods.yaml");
    let without = findings(&yaml);
    assert_eq!(
        without.lines("refs/service-selects-nothing"),
        [8, 32],
        "{without:#?}"
    );
    assert_eq!(
        without.lines("netpol/policy-selects-nothing"),
        [18],
        "{without:#?}"
    );
    assert_eq!(
        without.lines("netpol/peer-selects-nothing"),
        [23],
        "{without:#?}"
    );
    let with = findings_with(&yaml, &fixture("operator-pods-policy.yaml"));
    assert_eq!(
        with.lines("refs/service-selects-nothing"),
        [32],
        "{with:#?}"
    );
    assert_eq!(
        with.lines("netpol/policy-selects-nothing"),
        NONE,
        "{with:#?}"
    );
    assert_eq!(with.lines("netpol/peer-selects-nothing"), NONE, "{with:#?}");
}

#[test]
fn a_limit_without_a_request_is_the_request() {
    let found = findings(&fixture("limit-defaults-request.yaml"));
    let requests = found.messages("resources/missing-requests");
    // The hub's limits are its requests; the sidecar limits memory only, so only its cpu is missing.
    assert_eq!(
        requests,
        [(
            24,
            "container `sidecar` of Deployment hub sets no cpu request"
        )],
        "{found:#?}"
    );
    // The limits themselves are still required where they are missing.
    assert_eq!(found.lines("resources/missing-limits"), [25], "{found:#?}");
}

#[test]
fn a_random_looking_value_is_never_shown_as_a_key() {
    let found = findings(&fixture("limit-defaults-request.yaml"));
    let entropy = found.of("secrets/high-entropy");
    assert_eq!(entropy.len(), 1, "{found:#?}");
    for f in &found {
        for part in ["AQAMgXhV", "QVFBTWdY", "DvQ"] {
            assert!(!f.message.contains(part) && !f.help.contains(part), "{f:?}");
        }
    }
}

#[test]
fn other_tools_files_are_passed_over_in_a_folder() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/false-alarms");
    let report = Check::in_dir(&dir, &["tool-files"])
        .root(dir.join("no-environments"))
        .run();
    let v = &report.json;
    let found: Vec<(&str, &str)> = report
        .iter()
        .map(|f| (f.code.as_str(), f.file.as_str()))
        .collect();
    // The broken manifest is reported; Grafana's file and the kube-scheduler's policy file are counted
    // as not Kubernetes, never reported.
    assert_eq!(
        found,
        [("load/not-an-object", "tool-files/broken.yaml")],
        "{v:#}"
    );
    assert_eq!(v["summary"][0]["skipped"]["not_kubernetes"], 2, "{v:#}");
}

#[test]
fn a_cluster_role_written_with_a_namespace_is_still_found() {
    let found = findings(&fixture("cluster-role-namespace.yaml"));
    // Only the binding to a ClusterRole that does not exist.
    assert_eq!(found.lines("refs/missing-role"), [33], "{found:#?}");
}

#[test]
fn prometheus_operator_pods_are_known() {
    let found = findings(&fixture("prometheus-operator.yaml"));
    for code in [
        "netpol/peer-selects-nothing",
        "netpol/policy-selects-nothing",
        "refs/pdb-selects-nothing",
    ] {
        assert_eq!(found.lines(code), NONE, "{code}: {found:#?}");
    }
    // Only the Service with a misspelt name selects nothing.
    assert_eq!(
        found.lines("refs/service-selects-nothing"),
        [82],
        "{found:#?}"
    );
}

#[test]
fn a_certificate_makes_its_secret() {
    let found = findings(&fixture("certificate-secret.yaml"));
    // The misspelt Secret is still missing; the Certificate's is not.
    assert_eq!(found.lines("refs/missing-secret"), [28], "{found:#?}");
}

#[test]
fn what_kustomize_and_skaffold_make_is_known_in_a_folder() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/false-alarms");
    let report = Check::in_dir(&dir, &["tool-made"])
        .root(dir.join("no-environments"))
        .run();
    let v = &report.json;
    let found: Vec<(&str, &str, u64)> = report
        .iter()
        .filter(|f| {
            matches!(
                f.code.as_str(),
                "refs/missing-configmap" | "images/latest-or-untagged"
            )
        })
        .map(|f| (f.code.as_str(), f.file.as_str(), f.line))
        .collect();
    // The generated ConfigMap and the skaffold artifact are known; a misspelt ConfigMap and an untagged
    // image skaffold does not build are still reported.
    assert_eq!(
        found,
        [
            ("images/latest-or-untagged", "tool-made/app/web.yaml", 16),
            ("refs/missing-configmap", "tool-made/base/cronjob.yaml", 23),
        ],
        "{v:#}"
    );
}
