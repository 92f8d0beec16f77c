//! User policies (`policies/`): Kubernetes' own ValidatingAdmissionPolicy examples, CRD
//! `x-kubernetes-validations` rules, CEL rules of a policy file and conftest's Rego policies, run by
//! `openim-gitops check` as a user runs it, with the findings the API server (or conftest) would give.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/user-policies")
        .join(name)
}

fn check(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .current_dir(dir)
        .args(args)
        .env("OPENIM_GITOPS_TODAY", "2026-06-15")
        .env("NO_COLOR", "1")
        .output()
        .expect("run openim-gitops");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `(code, file, line, message)` of every finding of a user policy, in report order.
fn user_findings(run: &Run) -> Vec<(String, String, u64, String)> {
    let v: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("json: {e}\n{}\n{}", run.stdout, run.stderr));
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"].as_str().is_some_and(|c| c.starts_with("policy/")))
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_string(),
                f["file"].as_str().unwrap_or_default().to_string(),
                f["line"].as_u64().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The line of `needle` (its first occurrence after line `after`) in a fixture file.
fn line_of(path: &Path, after: usize, needle: &str) -> u64 {
    let text = std::fs::read_to_string(path).expect("read");
    text.lines()
        .enumerate()
        .skip(after)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i as u64 + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in {}", path.display()))
}

#[test]
fn kubernetes_documentation_examples_deny_what_the_api_server_denies() {
    let dir = fixture("kubernetes-docs");
    let run = check(
        &dir,
        &[
            "check",
            "--format",
            "json",
            "--policy",
            "policies",
            "manifests",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let found = user_findings(&run);
    let deployments = dir.join("manifests/deployments.yaml");
    // The documents of deployments.yaml: team-test web-3, web-4, web-6, then team-prod's.
    let doc = |i: usize| {
        let text = std::fs::read_to_string(&deployments).expect("read");
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("apiVersion:"))
            .nth(i)
            .map(|(n, _)| n)
            .expect("document")
    };
    let replicas = |i: usize| line_of(&deployments, doc(i), "replicas:");
    let demo = "ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas <= 5";
    let limit = "ValidatingAdmissionPolicy 'replicalimit-policy.example.com' with binding 'replicalimit-binding-test.example.com' denied request: failed expression: object.spec.replicas <= params.maxReplicas";
    let file = "manifests/deployments.yaml";
    let mut expected = vec![
        // team-test: at most 5 (demo) and at most 3 (the param of the test binding).
        (
            "policy/replicalimit-policy.example.com",
            file,
            replicas(1),
            limit.to_string(),
        ),
        (
            "policy/demo-policy.example.com",
            file,
            replicas(2),
            demo.to_string(),
        ),
        (
            "policy/replicalimit-policy.example.com",
            file,
            replicas(2),
            limit.to_string(),
        ),
    ];
    // team-prod: the prod binding names a param that does not exist, and denies when it is missing.
    for i in 3..6 {
        expected.push((
            "policy/replicalimit-policy.example.com",
            file,
            doc(i) as u64 + 1,
            "ValidatingAdmissionPolicy 'replicalimit-policy.example.com' with binding 'replicalimit-binding-nontest' denied request: no params found for policy binding with `Deny` parameterNotFoundAction (ReplicaLimit replica-limit-prod.example.com)".to_string(),
        ));
    }
    let pods = dir.join("manifests/pods.yaml");
    expected.push((
        "policy/example-require-labels.static.k8s.io",
        "manifests/pods.yaml",
        line_of(&pods, 0, "name: unlabelled"),
        "ValidatingAdmissionPolicy 'example-require-labels.static.k8s.io' with binding 'example-require-labels-binding.static.k8s.io' denied request: All pods must have the 'app.kubernetes.io/name' label".to_string(),
    ));
    let expected: Vec<(String, String, u64, String)> = expected
        .into_iter()
        .map(|(c, f, l, m)| (c.to_string(), f.to_string(), l, m))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_crd_with_validation_rules_rejects_a_bad_custom_resource() {
    let dir = fixture("crd-rules");
    let run = check(
        &dir,
        &["check", "--format", "json", "crd.yaml", "crontabs.yaml"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let found = user_findings(&run);
    let crs = dir.join("crontabs.yaml");
    let bad = line_of(&crs, 0, "name: my-new-cron-object");
    let at = |needle: &str| line_of(&crs, bad as usize, needle);
    let code = "policy/crd-validation-rule".to_string();
    let file = "crontabs.yaml".to_string();
    // A rule that reads two fields points at the node that carries it (`spec`); a rule that reads
    // its node points at the value.
    let expected = vec![
        (code.clone(), file.clone(), at("cronSpec:"), "CronTab my-new-cron-object: spec: Invalid value: replicas should be greater than or equal to minReplicas.".to_string()),
        (code.clone(), file.clone(), at("memory: 4Gi"), "CronTab my-new-cron-object: spec.memory: Invalid value: memory 4Gi is not below 2Gi".to_string()),
        (code.clone(), file.clone(), at("schedules:"), "CronTab my-new-cron-object: spec.schedules: Invalid value: schedules must be sorted".to_string()),
        (code.clone(), file.clone(), at("owner: Team_A"), "CronTab my-new-cron-object: spec.owner: Invalid value: owner must be a DNS label".to_string()),
    ];
    assert_eq!(
        found, expected,
        "the good CronTab passes; the transition rule does not apply on create"
    );
}

#[test]
fn a_conftest_policy_runs_unchanged_and_fails_what_conftest_fails() {
    let dir = fixture("conftest");
    let run = check(
        &dir,
        &[
            "check",
            "--format",
            "json",
            "--policy",
            "policy",
            "deployment+service.yaml",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let found = user_findings(&run);
    let file = "deployment+service.yaml".to_string();
    // conftest: `FAIL - deployment+service.yaml - main - <message>`, twice, both for the Deployment
    // (the document starting at line 1); the Service passes.
    assert_eq!(
        found,
        vec![
            (
                "policy/main".to_string(),
                file.clone(),
                1,
                "Containers must not run as root in Deployment hello-kubernetes".to_string()
            ),
            (
                "policy/main".to_string(),
                file,
                1,
                "Deployment hello-kubernetes must provide app/release labels for pod selectors"
                    .to_string()
            ),
        ]
    );
    // The second label is the rule's line in the policy.
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let related = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "policy/main")
        .map(|f| f["related"].clone())
        .expect("a finding of policy/main");
    assert!(related.to_string().contains("deny.rego"), "{related}");
}
