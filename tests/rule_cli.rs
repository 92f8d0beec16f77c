//! `openim-gitops rule`: every built-in code prints its documentation (the same text as docs/checks.md),
//! `--format json` has one shape, `--all` lists every code, and an unknown code is a usage error that
//! names the nearest one.

use std::process::Command;

use openim_gitops::check::Code;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn every_code_prints_the_section_docs_checks_md_has() {
    let checks = std::fs::read_to_string("docs/checks.md").expect("docs/checks.md");
    for code in Code::all() {
        let r = run(&["rule", code.as_str()]);
        assert_eq!(r.code, Some(0), "{code}: {}", r.stderr);
        let doc = code.doc().expect("a built-in code is documented");
        assert!(
            r.stdout.starts_with(&format!(
                "# {code}\n\n{}. Default severity: {}.\n",
                doc.summary,
                doc.default_severity.as_str()
            )),
            "{code}:\n{}",
            r.stdout
        );
        for part in [doc.what, doc.why, doc.bad, doc.good] {
            assert!(r.stdout.contains(part), "{code}: `{part}` is missing");
        }
        // The same text as the code's section of docs/checks.md.
        let section = r.stdout.split_once("\n\n").expect("a heading").1;
        assert!(
            checks.contains(&format!("### `{code}`\n\n{section}")),
            "{code}: docs/checks.md has another text"
        );
    }
}

#[test]
fn json_has_one_shape() {
    let r = run(&["rule", "netpol/allow-all", "--format", "json"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let keys: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "code",
            "family",
            "default_severity",
            "summary",
            "what",
            "why",
            "bad",
            "good"
        ]
    );
    assert_eq!(v["code"], "netpol/allow-all");
    assert_eq!(v["family"], "netpol");
    assert_eq!(v["default_severity"], "error");
    assert!(v["bad"].as_str().is_some_and(|b| b.starts_with("Bad")));

    let all = run(&["rule", "--all", "--format", "json"]);
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    let list: serde_json::Value = serde_json::from_str(&all.stdout).expect("JSON");
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), Code::all().count());
    for (item, code) in list.iter().zip(Code::all()) {
        assert_eq!(item["code"], code.as_str());
        assert_eq!(item.as_object().map(|o| o.len()), Some(8), "{item}");
    }
}

#[test]
fn all_lists_every_code_a_line_each() {
    let r = run(&["rule", "--all"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), Code::all().count());
    for (line, code) in lines.iter().zip(Code::all()) {
        let doc = code.doc().expect("documented");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], code.as_str(), "{line}");
        assert_eq!(words[1], doc.default_severity.as_str(), "{line}");
        assert!(line.ends_with(doc.summary), "{line}");
    }
}

#[test]
fn an_unknown_code_is_a_usage_error_naming_the_nearest() {
    let r = run(&["rule", "netpol/allow-al"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("`netpol/allow-al` is not a rule code"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("did you mean `netpol/allow-all`?"),
        "{}",
        r.stderr
    );

    // Nothing near: the list is named instead.
    let r = run(&["rule", "zzz"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("`zzz` is not a rule code"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("openim-gitops rule --all"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("did you mean"), "{}", r.stderr);

    // A user policy's code is documented by its policy.
    let r = run(&["rule", "policy/replica-cap"]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("documented by the policy that defines it"),
        "{}",
        r.stderr
    );

    // Under --format json the error is JSON too.
    let r = run(&["rule", "netpol/allow-al", "--format", "json"]);
    assert_eq!(r.code, Some(2));
    let v: serde_json::Value = serde_json::from_str(&r.stderr).expect("a JSON error");
    assert!(v.to_string().contains("is not a rule code"), "{v}");
}

#[test]
fn a_code_or_all_is_required_not_both() {
    let r = run(&["rule"]);
    assert_eq!(r.code, Some(2));
    let r = run(&["rule", "netpol/allow-all", "--all"]);
    assert_eq!(r.code, Some(2));
}

#[test]
fn sarif_rule_entries_carry_the_same_documentation() {
    let r = run(&["check", "--env", "dev", "--format", "sarif"]);
    assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    let log: serde_json::Value = serde_json::from_str(&r.stdout).expect("SARIF is JSON");
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert_eq!(rules.len(), Code::all().count());
    for (entry, code) in rules.iter().zip(Code::all()) {
        let doc = code.doc().expect("documented");
        assert_eq!(entry["id"], code.as_str());
        assert_eq!(entry["shortDescription"]["text"], doc.summary);
        assert_eq!(entry["fullDescription"]["text"], doc.what);
        for form in ["text", "markdown"] {
            let help = entry["help"][form].as_str().expect("help");
            assert!(help.starts_with(&doc.markdown()), "{code} {form}: {help}");
        }
    }
}

/// `check` in `dir` with `policies/` beside it: (exit code, standard error).
fn check_in(dir: &std::path::Path, policy: &str) -> (Option<i32>, String) {
    std::fs::create_dir_all(dir.join("policies")).expect("mkdir");
    std::fs::write(dir.join("policies/policy.yaml"), policy).expect("write");
    std::fs::write(
        dir.join("clean.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .current_dir(dir)
        .args(["check", "clean.yaml"])
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_policy_file_names_codes_it_knows_and_is_refused_at_the_line_of_one_it_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A user policy's code, a family and a built-in code are known.
    let (code, err) = check_in(
        dir.path(),
        "apiVersion: gitops.openim.io/v1
kind: Policy
custom:
  - name: settings-named
    expression: \"object.metadata.name != ''\"
    message: named
defaults:
  rules:
    policy/settings-named: warning
    secrets/*: warning
    netpol/allow-all: off
waivers:
  - rule: policy/settings-named
    target: {kind: ConfigMap}
    reason: a test
    until: 2099-12-31
",
    );
    assert_eq!(code, Some(0), "{err}");

    let (code, err) = check_in(
        dir.path(),
        "apiVersion: gitops.openim.io/v1
kind: Policy
defaults:
  rules:
    resources/missing-limit: off
    nosuch/*: warning
    policy/not-defined-here: warning
waivers:
  - rule: netpol/allow-al
    target: {kind: ConfigMap}
    reason: a test
    until: 2099-12-31
",
    );
    assert_eq!(code, Some(2), "{err}");
    for (message, place) in [
        (
            "`resources/missing-limit` is not a rule code or `family/*`",
            "policies/policy.yaml:5:5",
        ),
        (
            "`nosuch/*` is not a rule code or `family/*`",
            "policies/policy.yaml:6:5",
        ),
        (
            "`policy/not-defined-here` is not a rule code or `family/*`",
            "policies/policy.yaml:7:5",
        ),
        (
            "`netpol/allow-al` is not a rule code",
            "policies/policy.yaml:9:11",
        ),
    ] {
        assert!(err.contains(message), "{message}:\n{err}");
        assert!(err.contains(place), "{place}:\n{err}");
    }
    // The help lists the codes of the family named.
    assert!(
        err.contains(
            "codes of `resources/`: resources/blocking-pdb, resources/limit-below-request"
        ),
        "{err}"
    );
}
