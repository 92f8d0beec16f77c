//! One fixture per rule, `tests/fixtures/check/<family>/<rule>/`. For `schema/`, `resources/` and
//! `policy/` the folder holds `input.yaml` (objects that must fire and objects that must not, each
//! commented), an optional `policy.yaml` (a policy file), and `expected.json`, the findings of that rule
//! (code, file, line, column, message) as a snapshot, checked here through the harness's `Check`
//! (`commands::check::collect`, as the command runs them), against the Kubernetes minor a
//! `kube-version` file names (default: the newest vendored). Today is 2026-06-15. The other families' fixtures run in
//! `tests/check_rules.rs`.

mod common;

use std::path::{Path, PathBuf};

use openim_gitops::check::Code;

use common::Check;

const FIXTURES: &str = "tests/fixtures/check";

/// The findings of `code` on its fixture, as the snapshot's JSON.
fn run_fixture(code: &str) -> String {
    let dir = Path::new(FIXTURES).join(code);
    let policy = dir.join("policy.yaml");
    let mut check = Check::paths([dir.join("input.yaml")]).root(dir.join("environments"));
    if policy.is_file() {
        check = check.policy(policy);
    }
    if let Ok(v) = std::fs::read_to_string(dir.join("kube-version")) {
        check = check.kube(v.trim());
    }
    let report = check
        .try_run()
        .unwrap_or_else(|e| panic!("{code}: the fixture does not load: {e}"));
    let findings: Vec<serde_json::Value> = report
        .of(code)
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "code": f.code,
                "file": f.file,
                "line": f.line,
                "column": f.column,
                "message": f.message,
            })
        })
        .collect();
    assert!(
        !findings.is_empty(),
        "{code}: the fixture must hold objects that fire"
    );
    let mut text = serde_json::to_string_pretty(&findings).expect("JSON");
    text.push('\n');
    text
}

#[test]
fn every_rule_fixture_matches_its_snapshot() {
    let mut failures = Vec::new();
    for code in Code::all() {
        let code = code.as_str();
        let dir = Path::new(FIXTURES).join(code);
        if !dir.is_dir() {
            failures.push(format!("{code}: no fixture folder {}", dir.display()));
            continue;
        }
        if !dir.join("input.yaml").is_file() {
            // A fixture of tests/check_rules.rs.
            continue;
        }
        let actual = run_fixture(code);
        let result = std::panic::catch_unwind(|| {
            common::assert_snapshot(&dir.join("expected.json"), &actual)
        });
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "snapshot mismatch".into());
            failures.push(msg);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_names_a_rule() {
    let codes: Vec<&str> = Code::all().map(Code::as_str).collect();
    for family in std::fs::read_dir(FIXTURES).expect("fixtures") {
        let family = family.expect("entry").path();
        if !family.is_dir() {
            continue;
        }
        for rule in std::fs::read_dir(&family).expect("family folder") {
            let rule: PathBuf = rule.expect("entry").path();
            let code = format!(
                "{}/{}",
                family.file_name().unwrap_or_default().to_string_lossy(),
                rule.file_name().unwrap_or_default().to_string_lossy()
            );
            assert!(
                codes.contains(&code.as_str()),
                "{} is a fixture of no rule",
                rule.display()
            );
        }
    }
}
