//! `openim-gitops check` as a user runs it: exit codes, every output format, the SARIF schema, waivers,
//! and no secret value in any output.

mod common;

use std::path::Path;

use common::{check_cli as check, CheckCli as Run};

fn env_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check-env")
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

const CLEAN: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  LOG_LEVEL: info
";

const BAD_PORT: &str = "apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  ports:
    - name: http
      port: 70000
";

#[test]
fn environments_are_checked_in_memory_with_a_summary_per_environment() {
    let r = check(&env_fixture(), &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("dev: no findings in 4 resources"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("release: 2 errors, 1 warning in 1 of 4 resources (1 waived)"),
        "{}",
        r.stdout
    );
    // The primary label is the base line that produced the value, the second the policy line.
    assert!(
        r.stdout.contains("at environments/base/api.yaml:6:13"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("at policies/policy.yaml:18:23"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("the policy asks for high availability here"));
    assert!(r.stdout.contains("resources/too-few-replicas"));
}

#[test]
fn human_output_is_what_a_user_sees() {
    let r = check(&env_fixture(), &[]);
    common::assert_snapshot(&env_fixture().join("expected-human.txt"), &r.stdout);
}

#[test]
fn one_environment_can_be_checked_and_its_policy_applies() {
    let r = check(&env_fixture(), &["--env", "dev"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("dev: no findings"), "{}", r.stdout);
    assert!(!r.stdout.contains("release:"));
    // In dev alone the annotation waiver (readiness, off in dev) waives nothing: a warning, exit 0.
    assert!(r.stdout.contains("policy/unused-waiver"), "{}", r.stdout);
}

#[test]
fn json_lists_findings_with_places_and_a_summary() {
    let r = check(&env_fixture(), &["--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let findings = v["findings"].as_array().expect("findings");
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(codes.contains(&"resources/too-few-replicas"), "{codes:?}");
    assert!(codes.contains(&"resources/missing-limits"));
    for f in findings {
        assert!(
            f["file"].is_string() && f["line"].is_u64() && f["column"].is_u64(),
            "{f}"
        );
    }
    let limits = findings
        .iter()
        .find(|f| f["code"] == "resources/missing-limits")
        .expect("missing-limits");
    assert_eq!(limits["environment"], "release");
    assert_eq!(limits["file"], "environments/base/api.yaml");
    assert_eq!(limits["line"], 21);
    assert_eq!(limits["related"][0]["file"], "policies/policy.yaml");
    assert_eq!(limits["related"][0]["line"], 12);
    let waived = v["waived"].as_array().expect("waived");
    assert_eq!(waived.len(), 1);
    assert_eq!(waived[0]["code"], "resources/missing-readiness-probe");
    assert_eq!(
        waived[0]["waiver"]["reason"],
        "the worker serves no traffic"
    );
    assert_eq!(v["summary"].as_array().map(Vec::len), Some(2));
}

fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/sarif/sarif-2.1.0.json"),
    )
    .expect("the vendored SARIF schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    jsonschema::options()
        .build(&schema)
        .expect("the SARIF schema compiles")
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let r = check(&env_fixture(), &["--format", "sarif"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let log: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let validator = sarif_validator();
    // The validator is not vacuous: a wrong version and an unknown field are refused.
    let wrong = serde_json::json!({"version": "2.0.0", "runs": [], "extra": 1});
    assert!(validator.iter_errors(&wrong).count() >= 2);
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path().as_str()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(
        rules.len(),
        openim_gitops::check::Code::all().count(),
        "one rule entry per code"
    );
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for res in results {
        let uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .expect("uri");
        assert!(
            !uri.starts_with('/') && !uri.contains('\\') && !uri.contains(':'),
            "{uri}"
        );
        let i = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], res["ruleId"]);
        assert!(res["partialFingerprints"]["openimGitops/v1"].is_string());
    }
    let suppressed: Vec<_> = results
        .iter()
        .filter(|r| r["suppressions"].is_array())
        .collect();
    assert_eq!(
        suppressed.len(),
        1,
        "the waived finding is a suppressed result"
    );
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "inSource");
}

#[test]
fn sarif_fingerprints_are_stable_across_runs_and_line_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "svc.yaml", BAD_PORT);
    let fingerprints = |r: &Run| -> Vec<String> {
        let log: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
        log["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                r["partialFingerprints"]["openimGitops/v1"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    let first = fingerprints(&check(dir.path(), &["--format", "sarif", "svc.yaml"]));
    let again = fingerprints(&check(dir.path(), &["--format", "sarif", "svc.yaml"]));
    assert_eq!(first, again);
    // A comment above moves the line; the fingerprint stays.
    write(
        dir.path(),
        "svc.yaml",
        &format!("# moved down\n\n{BAD_PORT}"),
    );
    let moved = fingerprints(&check(dir.path(), &["--format", "sarif", "svc.yaml"]));
    assert_eq!(first, moved);
    assert_eq!(first.len(), 1);
}

#[test]
fn github_format_prints_workflow_commands() {
    let r = check(&env_fixture(), &["--format", "github"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert!(
        lines.iter().any(|l| l.starts_with(
            "::error file=environments/base/api.yaml,line=6,col=13,endLine=6,endColumn=14,title=resources/too-few-replicas::"
        )),
        "{}",
        r.stdout
    );
    assert!(lines.iter().any(|l| l.starts_with("::warning file=")));
    // Messages are one line: newlines are escaped.
    assert!(lines.iter().all(|l| !l.contains('\n')));
    assert!(r.stdout.contains("release: 2 errors"));
}

#[test]
fn exit_codes_are_0_clean_1_findings_2_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "clean.yaml", CLEAN);
    write(dir.path(), "bad.yaml", BAD_PORT);
    let clean = check(dir.path(), &["clean.yaml"]);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(clean.stdout.contains("files: no findings in 1 resource"));
    let bad = check(dir.path(), &["bad.yaml"]);
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    assert!(bad.stdout.contains("schema/port-out-of-range"));
    let missing = check(dir.path(), &["nothing-here.yaml"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("`nothing-here.yaml` does not exist"),
        "{}",
        missing.stderr
    );
    let no_envs = check(dir.path(), &[]);
    assert_eq!(no_envs.code, 2, "{}", no_envs.stderr);
    let bad_date = check(dir.path(), &["--today", "2026-13-01", "clean.yaml"]);
    assert_eq!(bad_date.code, 2);
    assert!(bad_date.stderr.contains("is not a date"));
}

#[test]
fn a_bad_policy_file_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "clean.yaml", CLEAN);
    write(
        dir.path(),
        "policies/policy.yaml",
        "apiVersion: gitops.openim.io/v1
kind: Policy
defaults:
  rules:
    resources/missing-limit: off
  highAvailibility: true
waivers:
  - rule: schema/invalid
    target: {kind: ConfigMap}
    until: 2026-12-31
",
    );
    let r = check(dir.path(), &["clean.yaml"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("unknown field `highAvailibility`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("policies/policy.yaml:6:3"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("\"reason\" is a required property"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("policies/policy.yaml:8:5"),
        "{}",
        r.stderr
    );
}

#[test]
fn waivers_valid_expired_unused_and_without_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "svc.yaml", BAD_PORT);
    let policy = |until: &str, name: &str, reason: &str| {
        format!(
            "apiVersion: gitops.openim.io/v1
kind: Policy
waivers:
  - rule: schema/port-out-of-range
    target: {{kind: Service, name: {name}}}
    reason: \"{reason}\"
    until: {until}
"
        )
    };
    // Valid: the finding is waived, the run is clean.
    write(
        dir.path(),
        "policies/policy.yaml",
        &policy("2026-06-30", "api", "the port moves in 3.9"),
    );
    let r = check(dir.path(), &["svc.yaml"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("files: no findings in 1 resource (1 waived)"),
        "{}",
        r.stdout
    );

    // Expired: an error at the until line, and the finding is back.
    write(
        dir.path(),
        "policies/policy.yaml",
        &policy("2026-06-14", "api", "the port moves in 3.9"),
    );
    let r = check(dir.path(), &["svc.yaml", "--format", "json"]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["schema/port-out-of-range", "policy/expired-waiver"]);
    assert_eq!(v["findings"][1]["line"], 7);
    assert_eq!(v["findings"][1]["severity"], "error");

    // Unused: a warning; the finding it meant to waive (wrong name) stands.
    write(
        dir.path(),
        "policies/policy.yaml",
        &policy("2026-06-30", "apii", "the port moves in 3.9"),
    );
    let r = check(dir.path(), &["svc.yaml", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let unused = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "policy/unused-waiver")
        .cloned()
        .expect("unused");
    assert_eq!(unused["severity"], "warning");
    assert_eq!(unused["line"], 4);

    // Without a reason: the policy is refused (exit 2) at the reason's line.
    write(
        dir.path(),
        "policies/policy.yaml",
        &policy("2026-06-30", "api", "  "),
    );
    let r = check(dir.path(), &["svc.yaml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("a waiver needs a reason"), "{}", r.stderr);
    assert!(
        r.stderr.contains("policies/policy.yaml:6:13"),
        "{}",
        r.stderr
    );
}

#[test]
fn severities_per_environment_and_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "svc.yaml", BAD_PORT);
    write(
        dir.path(),
        "policies/policy.yaml",
        "apiVersion: gitops.openim.io/v1
kind: Policy
defaults:
  rules:
    schema/*: warning
environments:
  strict:
    rules:
      schema/port-out-of-range: error
  lax:
    rules:
      schema/port-out-of-range: off
",
    );
    let r = check(dir.path(), &["svc.yaml"]);
    assert_eq!(
        r.code, 0,
        "a family set to warning does not fail: {}",
        r.stdout
    );
    assert!(
        r.stdout.contains("files: 0 errors, 1 warning"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("made warning by the policy"),
        "{}",
        r.stdout
    );
    let r = check(dir.path(), &["--env", "strict", "svc.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let r = check(dir.path(), &["--env", "lax", "svc.yaml"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("lax: no findings"), "{}", r.stdout);
}

#[test]
fn no_secret_value_appears_in_any_output() {
    const PLANTED: &str = "PLANTED-s3cr3t-V4lue";
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "secret.yaml",
        &format!(
            "apiVersion: v1
kind: Secret
metadata:
  name: credentials
  labels:
    app: {PLANTED}+x
type: Opaque
stringData:
  password: {PLANTED}
  nested: {{value: {PLANTED}}}
data:
  token: 12345
  listed: [{PLANTED}]
passwrod: {PLANTED}
"
        ),
    );
    for format in ["human", "json", "sarif", "github"] {
        let r = check(dir.path(), &["--format", format, "secret.yaml"]);
        assert_eq!(r.code, 1, "{format}: the object has schema errors");
        assert!(
            !r.stdout.contains("PLANTED") && !r.stderr.contains("PLANTED"),
            "{format} shows the secret:\n{}{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn an_environment_whose_tag_cannot_be_decided_is_checked_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "environments/base/cm.yaml", CLEAN);
    write(
        dir.path(),
        "environments/release/env.yaml",
        "apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: release
namespace: openim
resources:
  - ../base
tags:
  rule: release
  images:
    - openim/openim-api
",
    );
    // No git repository, no version tag: the pre-commit case. The check still runs.
    let r = check(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("release: no findings in 1 resource"),
        "{}",
        r.stdout
    );
    // A tag given on the command line must hold.
    let r = check(dir.path(), &["--tag", "latest"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
}
