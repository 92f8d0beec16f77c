//! A commit names its sources truly: `render --commit` builds from HEAD's objects (or `--rev`'s), never
//! from the working tree, so a dirty tree's content never reaches a commit whose `Source-Commit` and
//! `drySha` name HEAD.

use crate::common::{files_of, read_tree, tip};
use crate::support::{both, Target, DEPLOYMENT};

/// A value only the working tree holds: it must reach no commit.
const DIRTY_PLANT: &str = "dirty-only-5c1e";

/// Changes the working tree three ways: a tracked file modified, one staged, a file left untracked.
fn dirty(t: &Target) {
    t.write(
        "environments/base/api.yaml",
        &DEPLOYMENT.replace(
            "  name: api\n",
            &format!("  name: api\n  annotations:\n    note: {DIRTY_PLANT}\n"),
        ),
    );
    t.write(
        "environments/base/extra.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  note: {DIRTY_PLANT}\n"
        ),
    );
    let mut index = t.repo.index().unwrap();
    index
        .add_path(std::path::Path::new("environments/base/extra.yaml"))
        .unwrap();
    index.write().unwrap();
    t.write("untracked.txt", "mine\n");
}

#[test]
fn a_dirty_tree_commits_heads_render() {
    let t = Target::new();
    let head = t.repo.head().unwrap().target().unwrap().to_string();
    dirty(&t);
    let before = std::fs::read(t.path().join("environments/base/api.yaml")).unwrap();

    let o = t.run(&["render", "--env", "dev", "--commit", "--allow-findings"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("3 uncommitted change(s)") && out.contains("rendered from HEAD's objects"),
        "the dirty tree is named: {}",
        both(&o)
    );

    let commit = tip(&t.repo, "environments/dev").expect("a commit");
    let committed = files_of(&t.repo, commit);
    for (path, bytes) in &committed {
        assert!(
            !String::from_utf8_lossy(bytes).contains(DIRTY_PLANT),
            "{path} holds the working tree's content"
        );
    }
    let message = t.repo.find_commit(commit).unwrap();
    let message = message.message().unwrap();
    assert!(
        message.contains(&format!("Source-Commit: {head}")),
        "{message}"
    );
    let meta: serde_json::Value = serde_json::from_slice(&committed["hydrator.metadata"]).unwrap();
    assert_eq!(meta["drySha"].as_str(), Some(head.as_str()));

    // The commit is exactly what HEAD renders to.
    let out_dir = tempfile::tempdir().unwrap();
    let rendered = out_dir.path().join("rendered");
    let o = t.run(&[
        "render",
        "--env",
        "dev",
        "--rev",
        "HEAD",
        "--out",
        rendered.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    // (The commit adds a README and a .gitattributes of its own.)
    let mut committed = committed;
    committed.remove("README.md");
    committed.remove(".gitattributes");
    assert_eq!(read_tree(&rendered.join("dev")), committed);

    // The working tree is as it was.
    assert_eq!(
        std::fs::read(t.path().join("environments/base/api.yaml")).unwrap(),
        before
    );
    assert!(t.path().join("untracked.txt").exists());
}

#[test]
fn a_dirty_tree_is_named_in_json_too() {
    let t = Target::new();
    let head = t.repo.head().unwrap().target().unwrap().to_string();
    dirty(&t);
    let o = t.run(&[
        "render",
        "--env",
        "dev",
        "--commit",
        "--allow-findings",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let note = lines
        .iter()
        .find(|l| l["status"] == "note")
        .unwrap_or_else(|| panic!("no note: {}", both(&o)));
    assert_eq!(note["uncommittedChanges"], 3);
    assert_eq!(note["renderedFrom"].as_str(), Some(head.as_str()));
    assert!(lines.iter().any(|l| l["status"] == "committed"));
}

#[test]
fn a_clean_tree_commits_without_a_note() {
    let t = Target::new();
    let o = t.run(&["render", "--env", "dev", "--commit", "--allow-findings"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(!both(&o).contains("uncommitted"), "{}", both(&o));
}

#[test]
fn the_commit_gate_checks_heads_content_not_the_working_tree() {
    // An error-level finding only in the working tree neither refuses nor reaches the commit; the same
    // finding committed is refused.
    let t = Target::new();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  token: Dirty-Gate-Value-9\n";
    let policy = "apiVersion: gitops.openim.io/v1\nkind: Policy\ndefaults:\n  rules:\n    netpol/*: off\n    resources/*: off\n    policy/*: off\n";
    t.write("policies/policy.yaml", policy);
    t.commit("policy");
    t.write("environments/base/leak.yaml", secret);
    let o = t.run(&["render", "--env", "dev", "--commit"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let commit = tip(&t.repo, "environments/dev").expect("a commit");
    assert!(!files_of(&t.repo, commit)
        .keys()
        .any(|k| k.contains("secret/leak")));

    t.commit("leak");
    let o = t.run(&["render", "--env", "dev", "--commit"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(
        both(&o).contains("secrets/plaintext-secret"),
        "{}",
        both(&o)
    );
    assert!(!both(&o).contains("Dirty-Gate-Value-9"));
    assert_eq!(tip(&t.repo, "environments/dev"), Some(commit));
}

#[test]
fn a_repository_without_a_commit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    git2::Repository::init(dir.path()).unwrap();
    for (rel, text) in [
        ("environments/base/api.yaml", DEPLOYMENT),
        ("environments/dev/env.yaml", crate::support::CLEAN_ENV),
    ] {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .args(["render", "--env", "dev", "--commit"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(both(&o).contains("HEAD has no commit yet"), "{}", both(&o));
    let repo = git2::Repository::open(dir.path()).unwrap();
    assert!(repo
        .find_branch("environments/dev", git2::BranchType::Local)
        .is_err());
}
