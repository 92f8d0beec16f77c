//! `check PATHS` on the files real repositories hold: nothing stops the run, every file that cannot
//! be read is a `load/` finding at its line, the rest is still checked, and what a folder walk passes
//! over is counted.

mod common;

use std::path::{Path, PathBuf};

use common::{check_cli as check, CheckCli as Run};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check-load")
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// `code severity file:line message` per finding, then the summary's counts.
fn digest(v: &serde_json::Value) -> String {
    let mut out = String::new();
    for f in v["findings"].as_array().expect("findings") {
        out.push_str(&format!(
            "{} {} {}:{}:{} {}\n",
            f["code"].as_str().unwrap_or("?"),
            f["severity"].as_str().unwrap_or("?"),
            f["file"].as_str().unwrap_or("?"),
            f["line"],
            f["column"],
            f["message"].as_str().unwrap_or("?"),
        ));
    }
    let s = &v["summary"][0];
    out.push_str(&format!(
        "resources {} skipped {}\n",
        s["resources"], s["skipped"]
    ));
    out
}

#[test]
fn a_tree_with_every_kind_of_file_is_checked_to_the_end() {
    let run = check(&fixture(), &["--format", "json", "tree"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = json(&run);
    common::assert_snapshot(&fixture().join("expected.txt"), &digest(&v));
}

#[test]
fn what_the_walk_passed_over_is_a_note_in_human_output() {
    let run = check(&fixture(), &["tree"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "note: skipped 7 files: 1 in hidden folders, 2 kustomizations or the patches they name, \
             2 Helm Chart.yaml or values files, 1 Helm templates"
        ) && run.stdout.contains("1 with no Kubernetes object"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_named_file_with_no_object_is_a_finding_not_a_skip() {
    let run = check(
        &fixture(),
        &["--format", "json", "tree/app/docker-compose.yml"],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = json(&run);
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["load/not-an-object"], "{v:#}");
}

#[test]
fn a_named_helm_template_says_so() {
    let run = check(
        &fixture(),
        &["--format", "json", "tree/chart/templates/cm.yaml"],
    );
    let v = json(&run);
    let f = &v["findings"][0];
    assert_eq!(f["code"], "load/helm-template", "{v:#}");
    assert!(
        f["help"].as_str().unwrap_or("").contains("helm template"),
        "{v:#}"
    );
    // A warning alone does not fail the run.
    assert_eq!(run.code, 0, "{v:#}");
}

#[test]
fn hidden_folders_are_read_when_named() {
    let run = check(&fixture(), &["--format", "json", "tree/.github"]);
    let v = json(&run);
    // The workflow has no Kubernetes object: passed over, not reported.
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(0), "{v:#}");
    assert_eq!(v["summary"][0]["skipped"]["not_kubernetes"], 1, "{v:#}");
}

#[test]
fn a_clean_tree_beside_broken_files_still_exits_zero_without_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("cm.yaml"),
        "---\n---\n~\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [cm.yaml]\n",
    )
    .expect("write");
    let run = check(dir.path(), &["--format", "json", "."]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let v = json(&run);
    assert_eq!(v["summary"][0]["resources"], 1, "{v:#}");
    // A path that does not exist stays a usage error.
    assert_eq!(check(dir.path(), &["missing.yaml"]).code, 2);
}

#[test]
fn list_items_lacking_kind_take_it_from_the_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("list.yaml"),
        "apiVersion: v1\nkind: ServiceList\nitems:\n- metadata: {name: web}\n  spec:\n    ports: [{port: 70000}]\n",
    )
    .expect("write");
    let v = json(&check(dir.path(), &["--format", "json", "list.yaml"]));
    let f = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "schema/port-out-of-range")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(
        (f["line"].as_u64(), f["resource"]["kind"].as_str()),
        (Some(6), Some("Service"))
    );
}
