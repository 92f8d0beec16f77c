//! Codes are public API: this snapshots the full list (`tests/check_codes.txt`) and keeps
//! `docs/checks.md`, generated from each code's documentation (`openim_gitops::check::code`), up to
//! date. `UPDATE_SNAPSHOTS=1` rewrites both.

mod common;

use std::path::Path;

use openim_gitops::check::{rules, Code, Doc};

fn docs() -> Vec<&'static Doc> {
    Code::all().filter_map(Code::doc).collect()
}

#[test]
fn codes_are_unique_and_kebab_case() {
    let all = docs();
    assert_eq!(
        all.len(),
        Code::all().count(),
        "every built-in code is documented"
    );
    let mut seen = std::collections::BTreeSet::new();
    for r in &all {
        assert!(seen.insert(r.code), "`{}` is registered twice", r.code);
        let (family, name) = r.code.split_once('/').expect("family/name");
        for part in [family, name] {
            assert!(
                !part.is_empty()
                    && part.split('-').all(|w| !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "`{}` is not kebab-case family/name",
                r.code
            );
        }
        assert!(
            !r.summary.is_empty() && !r.summary.ends_with('.') && !r.summary.contains('\n'),
            "`{}`: a one-line summary without a full stop",
            r.code
        );
        for (field, text) in [
            ("what", r.what),
            ("why", r.why),
            ("bad", r.bad),
            ("good", r.good),
        ] {
            assert!(
                !text.trim().is_empty() && text.trim() == text,
                "`{}`: `{field}` is empty or has blank space around it",
                r.code
            );
        }
        assert!(
            r.bad.starts_with("Bad"),
            "`{}`: `bad` starts with its label",
            r.code
        );
        assert!(
            r.good.starts_with("Good"),
            "`{}`: `good` starts with its label",
            r.code
        );
    }
}

#[test]
fn every_rule_that_runs_has_a_built_in_code() {
    let codes: Vec<Code> = Code::all().collect();
    let mut seen = std::collections::BTreeSet::new();
    for r in rules() {
        assert!(codes.contains(&r.code), "`{}`", r.code);
        assert!(seen.insert(r.code), "`{}` runs twice", r.code);
    }
}

#[test]
fn the_list_of_codes_is_stable() {
    let text: String = docs()
        .iter()
        .map(|r| format!("{} {}\n", r.code, r.default_severity.as_str()))
        .collect();
    common::assert_snapshot(Path::new("tests/check_codes.txt"), &text);
}

#[test]
fn docs_checks_md_is_generated_from_the_registry() {
    let all = docs();
    let mut out = String::from(
        "# Checks\n\n\
         Every rule `openim-gitops check` runs, by family, with its stable code and default severity.\n\
         A policy (`docs/policy.md`) changes the severity per environment or turns a rule off, and waivers\n\
         accept single findings for a while. `openim-gitops rule <code>` prints one rule's documentation.\n\n\
         This file is generated from the documentation each code carries (`src/check/code/`) by\n\
         `tests/check_codes.rs`; run `UPDATE_SNAPSHOTS=1 cargo test --test check_codes` after changing a rule.\n\n\
         | code | default | summary |\n|---|---|---|\n",
    );
    for r in &all {
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            r.code,
            r.code.replace('/', ""),
            r.default_severity.as_str(),
            r.summary
        ));
    }
    let mut family = "";
    for r in &all {
        if r.family() != family {
            family = r.family();
            out.push_str(&format!("\n## `{family}/`\n"));
        }
        out.push_str(&format!("\n### `{}`\n\n", r.code));
        out.push_str(&r.markdown());
    }
    // The review of every finding on the real-world corpus, written by `bench/judge.py --markdown`.
    let review = std::fs::read_to_string("tests/fixtures/realworld/false-alarms.md")
        .expect("tests/fixtures/realworld/false-alarms.md");
    out.push('\n');
    out.push_str(&review);
    common::assert_snapshot(Path::new("docs/checks.md"), &out);
}
