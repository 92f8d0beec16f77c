//! Codes are public API: this snapshots the full list (`tests/check_codes.txt`) and keeps
//! `docs/checks.md`, generated from the registry and the rules' doc comments, up to date.
//! `UPDATE_SNAPSHOTS=1` rewrites both.

mod common;

use std::path::Path;

use openim_gitops::check::{rules, Severity};

#[test]
fn codes_are_unique_and_kebab_case() {
    let all = rules();
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
            !r.summary.is_empty() && !r.summary.ends_with('.'),
            "`{}`: a one-line summary without a full stop",
            r.code
        );
    }
}

#[test]
fn the_list_of_codes_is_stable() {
    let text: String = rules()
        .iter()
        .map(|r| format!("{} {}\n", r.code, r.default_severity.as_str()))
        .collect();
    common::assert_snapshot(Path::new("tests/check_codes.txt"), &text);
}

/// The doc comment of the function that runs `code`, from its family's source file.
fn rule_doc(code: &str) -> Option<String> {
    let family = code.split('/').next()?;
    // A family's rules are in `src/check/<family>.rs`; the `policy/` codes of user policies are in
    // `src/check/custom/mod.rs`.
    let src = [
        format!("src/check/{family}.rs"),
        "src/check/custom/mod.rs".into(),
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find(|s| s.contains(&format!("code: \"{code}\"")))?;
    let at = src.find(&format!("code: \"{code}\""))?;
    let run = src[at..].find("run: ")? + at + "run: ".len();
    let name: String = src[run..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let def = src
        .find(&format!("pub fn {name}("))
        .or_else(|| src.find(&format!("\nfn {name}(")).map(|i| i + 1))?;
    let before: Vec<&str> = src[..def].lines().collect();
    let mut doc: Vec<&str> = before
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with("///"))
        .map(|l| {
            let t = l.trim_start().trim_start_matches("///");
            t.strip_prefix(' ').unwrap_or(t)
        })
        .collect();
    doc.reverse();
    (!doc.is_empty()).then(|| doc.join("\n"))
}

#[test]
fn docs_checks_md_is_generated_from_the_registry() {
    let all = rules();
    let mut out = String::from(
        "# Checks\n\n\
         Every rule `openim-gitops check` runs, by family, with its stable code and default severity.\n\
         A policy (`docs/policy.md`) changes the severity per environment or turns a rule off, and waivers\n\
         accept single findings for a while.\n\n\
         This file is generated from the rule registry and the rules' doc comments by\n\
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
        let f = r.code.split('/').next().unwrap_or("");
        if f != family {
            family = f;
            out.push_str(&format!("\n## `{family}/`\n"));
        }
        out.push_str(&format!("\n### `{}`\n\n", r.code));
        let sev = match r.default_severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        out.push_str(&format!("{}. Default severity: {sev}.\n", r.summary));
        if let Some(doc) = rule_doc(r.code) {
            out.push('\n');
            out.push_str(&doc);
            out.push('\n');
        }
    }
    // The review of every finding on the real-world corpus, written by `bench/judge.py --markdown`.
    let review = std::fs::read_to_string("tests/fixtures/realworld/false-alarms.md")
        .expect("tests/fixtures/realworld/false-alarms.md");
    out.push('\n');
    out.push_str(&review);
    common::assert_snapshot(Path::new("docs/checks.md"), &out);
}
