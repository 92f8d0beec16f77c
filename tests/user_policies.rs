//! User policies (`policies/`): Kubernetes' own ValidatingAdmissionPolicy examples, CRD
//! `x-kubernetes-validations` rules, CEL rules of a policy file and conftest's Rego policies, run by
//! `openim-gitops check` as a user runs it, with the findings the API server (or conftest) would give.

mod common;

use std::path::{Path, PathBuf};

use common::{check_cli as check, CheckCli as Run};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/user-policies")
        .join(name)
}

/// `(code, file, line, message)` of every finding of a user policy, in report order.
fn user_findings(run: &Run) -> Vec<(String, String, u64, String)> {
    run.findings()
        .iter()
        .filter(|f| f.code.starts_with("policy/"))
        .map(|f| (f.code.clone(), f.file.clone(), f.line, f.message.clone()))
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
        &["--format", "json", "--policy", "policies", "manifests"],
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
    let run = check(&dir, &["--format", "json", "crd.yaml", "crontabs.yaml"]);
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

fn copy_dir(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).expect("read dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
}

/// A violation planted in a base file is reported at that file's line, by every output format, with
/// the policy's line as the second place.
#[test]
fn a_planted_violation_in_a_base_file_is_reported_at_its_line_in_every_format() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check-env"),
        root,
    );
    let base = root.join("environments/base/api.yaml");
    let text = std::fs::read_to_string(&base).expect("read");
    // The worker Deployment's `replicas: 2` becomes 9.
    let planted = text.replacen("  replicas: 2\n", "  replicas: 9\n", 1);
    assert_ne!(planted, text);
    std::fs::write(&base, planted).expect("write");
    let line = line_of(&base, 0, "replicas: 9");
    std::fs::write(
        root.join("policies/limits.yaml"),
        "apiVersion: gitops.openim.io/v1\nkind: Policy\ncustom:\n  - name: replica-ceiling\n    expression: \"object.spec.replicas <= 5\"\n    message: at most 5 replicas\n    match: {kinds: [Deployment]}\n",
    )
    .expect("write policy");
    let file = "environments/base/api.yaml";

    let json = check(root, &["--format", "json", "--env", "release"]);
    let found: Vec<_> = user_findings(&json)
        .into_iter()
        .filter(|f| f.0 == "policy/replica-ceiling")
        .collect();
    assert_eq!(
        found,
        vec![(
            "policy/replica-ceiling".to_string(),
            file.to_string(),
            line,
            "Deployment worker: at most 5 replicas".to_string()
        )],
        "{}",
        json.stderr
    );
    assert_eq!(json.code, 1);

    let human = check(root, &["--format", "human", "--env", "release"]);
    assert!(
        human.stdout.contains("policy/replica-ceiling")
            && human.stdout.contains(&format!("{file}:{line}:"))
            && human.stdout.contains("replicas: 9")
            && human.stdout.contains("policies/limits.yaml"),
        "{}",
        human.stdout
    );

    let sarif = check(root, &["--format", "sarif", "--env", "release"]);
    let v: serde_json::Value = serde_json::from_str(&sarif.stdout).expect("sarif is JSON");
    let result = v["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "policy/replica-ceiling")
        .unwrap_or_else(|| panic!("no SARIF result: {}", sarif.stdout));
    let loc = &result["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], file);
    assert_eq!(loc["region"]["startLine"], line);

    let github = check(root, &["--format", "github", "--env", "release"]);
    assert!(
        github.stdout.lines().any(|l| l.starts_with("::error ")
            && l.contains(&format!("file={file},line={line}"))
            && l.contains("policy/replica-ceiling")),
        "{}",
        github.stdout
    );
}

/// A message built from the object's values never shows a value the redaction rule hides.
#[test]
fn a_policy_message_that_quotes_a_credential_is_redacted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::create_dir_all(root.join("policies")).expect("mkdir");
    std::fs::write(
        root.join("policies/quote.yaml"),
        "apiVersion: gitops.openim.io/v1\nkind: Policy\ncustom:\n  - name: no-literal-env\n    expression: \"!object.spec.template.spec.containers.exists(c, has(c.env) && c.env.exists(e, has(e.value)))\"\n    messageExpression: \"'literal env: ' + object.spec.template.spec.containers[0].env.map(e, e.name + '=' + e.value).join(', ')\"\n    match: {kinds: [Deployment]}\n",
    )
    .expect("write policy");
    std::fs::write(
        root.join("app.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: app}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers:\n        - name: api\n          image: registry.example.com/api:1.0.0\n          env:\n            - {name: MODE, value: fast}\n            - {name: DB_PASSWORD, value: Zq8-rT4v-Lp2x-Wm7k}\n",
    )
    .expect("write manifest");
    for format in ["json", "human", "sarif", "github"] {
        let run = check(
            root,
            &["--format", format, "--policy", "policies", "app.yaml"],
        );
        assert!(
            run.stdout.contains("policy/no-literal-env"),
            "{format}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("MODE=fast"), "{format}: {}", run.stdout);
        assert!(
            !run.stdout.contains("Zq8-rT4v-Lp2x-Wm7k")
                && !run.stderr.contains("Zq8-rT4v-Lp2x-Wm7k"),
            "{format} shows the password: {}",
            run.stdout
        );
    }
}
