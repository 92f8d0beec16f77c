//! `check PATHS` on public repositories' manifests as they ship (`tests/fixtures/realworld/<repo>/`,
//! each with its commit and licence in a README): no run stops, and the number of findings per code
//! is a snapshot (`tests/fixtures/realworld/counts.txt`), so a change in what the rules report on real
//! trees is a reviewable diff.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[test]
fn every_repository_is_checked_to_the_end_and_its_counts_are_stable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realworld");
    let mut repos: Vec<_> = std::fs::read_dir(&root)
        .expect("the corpus")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    repos.sort();
    assert!(repos.len() >= 4, "{repos:?}");
    let mut text = String::new();
    for repo in &repos {
        let out = Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
            .current_dir(&root)
            .args(["check", "--format", "json", repo])
            // The built-in policy: a --root of the corpus's own, so that the policy beside this
            // repository's environments (found from any subfolder) does not apply to it.
            .arg("--root")
            .arg(root.join("environments"))
            .env("NO_COLOR", "1")
            .env("OPENIM_GITOPS_TODAY", "2026-06-15")
            .output()
            .expect("run openim-gitops");
        // 0 or 1: findings, never a stop.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{repo}: exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for f in v["findings"].as_array().expect("findings") {
            *counts.entry(f["code"].as_str().unwrap_or("?")).or_default() += 1;
        }
        let s = &v["summary"][0];
        text.push_str(&format!(
            "{repo}: {} resources, skipped {}\n",
            s["resources"], s["skipped"]
        ));
        for (code, n) in counts {
            text.push_str(&format!("  {code} {n}\n"));
        }
    }
    common::assert_snapshot(&root.join("counts.txt"), &text);
}
