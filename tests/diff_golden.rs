//! The diff stage: golden text and Markdown for typical changes to `tests/fixtures/diff/input` (three
//! environments over one base), the comment-size limit, and `openim-gitops diff` on a real repository.
//!
//! Each case copies the input, edits the copy as described, renders both and compares them. Set
//! `UPDATE_GOLDEN=1` to rewrite the expected files under `tests/fixtures/diff/`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use openim_gitops::diff::format::{self, Sides, GITHUB_COMMENT_LIMIT};
use openim_gitops::diff::{compare, EnvDiff};
use openim_gitops::load::{DiskFiles, Loader};
use openim_gitops::node::Sources;
use openim_gitops::pipeline;
use openim_gitops::render::Tree;
use openim_gitops::tags::TagInputs;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff")
}

fn render_all(root: &Path) -> BTreeMap<String, Tree> {
    let mut sources = Sources::new();
    let envs = pipeline::select_envs(&DiskFiles, root, &[], true).unwrap();
    let mut loader = Loader::new(&DiskFiles, &mut sources);
    envs.iter()
        .map(|(name, file)| {
            let c = pipeline::compile(&mut loader, name, file, &TagInputs::default(), None)
                .and_then(|c| c.tagged())
                .unwrap();
            (name.clone(), c.render())
        })
        .collect()
}

/// Renders the input and an edited copy of it, and diffs every environment.
fn diff_case(edit: impl Fn(&Path)) -> Vec<EnvDiff> {
    let input = fixtures().join("input");
    let head = tempfile::tempdir().unwrap();
    copy_dir(&input, head.path());
    edit(head.path());
    let (b, h) = (render_all(&input), render_all(head.path()));
    b.keys()
        .map(|env| {
            compare(
                env,
                &b[env],
                h.get(env).cloned().as_ref().unwrap_or(&Tree::default()),
            )
        })
        .collect()
}

fn replace(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn golden(case: &str, diffs: &[EnvDiff]) {
    let sides = Sides {
        base: "base".to_string(),
        head: "head".to_string(),
    };
    for (ext, actual) in [
        ("txt", format::text(diffs, &sides)),
        ("md", format::markdown(diffs, &sides, GITHUB_COMMENT_LIMIT)),
    ] {
        let path = fixtures().join(format!("{case}.{ext}"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
        assert_eq!(
            actual,
            expected,
            "{} differs (UPDATE_GOLDEN=1 rewrites it)",
            path.display()
        );
    }
}

#[test]
fn one_field_in_one_environment() {
    let diffs = diff_case(|root| replace(&root.join("release/env.yaml"), "count: 3", "count: 5"));
    assert_eq!(
        diffs.iter().map(|d| d.changes.len()).collect::<Vec<_>>(),
        [0, 1, 0]
    );
    assert!(
        diffs[1].changes[0].risks.is_empty(),
        "more replicas are not a risk"
    );
    golden("one_field_one_env", &diffs);
}

#[test]
fn a_base_change_touches_all_three() {
    let diffs = diff_case(|root| {
        replace(
            &root.join("base/api.yaml"),
            "openim-api:v3.8.0",
            "openim-api:v3.8.1",
        );
        replace(
            &root.join("base/api.yaml"),
            "memory: 512Mi",
            "memory: 384Mi",
        );
    });
    for d in &diffs {
        assert_eq!(d.changes.len(), 1, "{}", d.environment);
        assert_eq!(d.changes[0].risks.len(), 2, "{:?}", d.changes[0].risks);
    }
    golden("all_three", &diffs);
}

#[test]
fn a_removed_resource() {
    let diffs = diff_case(|root| std::fs::remove_file(root.join("base/service.yaml")).unwrap());
    for d in &diffs {
        assert_eq!(d.count(openim_gitops::diff::ChangeKind::Removed), 1);
    }
    golden("removed_resource", &diffs);
}

#[test]
fn a_loosened_network_policy_is_risky() {
    let diffs = diff_case(|root| {
        // Any pod in any namespace, on any port.
        replace(
            &root.join("base/netpol.yaml"),
            "    - from:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: openim-gateway\n      ports:\n        - protocol: TCP\n          port: 10002\n",
            "    - from:\n        - namespaceSelector: {}\n",
        )
    });
    for d in &diffs {
        let risky: Vec<_> = d.risky().collect();
        assert_eq!(risky.len(), 1);
        assert!(
            risky[0].risks[0].contains("NetworkPolicy loosened"),
            "{:?}",
            risky[0].risks
        );
    }
    golden("netpol_loosened", &diffs);
}

#[test]
fn an_empty_diff() {
    let diffs = diff_case(|_| {});
    assert!(diffs
        .iter()
        .all(|d| d.changes.is_empty() && d.unchanged == 3));
    golden("empty", &diffs);
}

/// A tree of `n` Deployments; `bump` changes the image of every `bump`-th one.
fn big_tree(n: usize, big: usize, bump: Option<usize>) -> Tree {
    let padding = "x".repeat(big);
    let files = (0..n)
        .map(|i| {
            let tag = match bump {
                Some(k) if i % k == 0 => "v2",
                _ => "v1",
            };
            (
                format!("ns/deployment/app-{i:05}.yaml"),
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i:05}\n  annotations:\n    note: {padding}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: app:{tag}\n"
                )
                .into_bytes(),
            )
        })
        .collect();
    Tree { files }
}

#[test]
fn markdown_stays_under_the_comment_limit_and_says_what_it_left_out() {
    let d = compare(
        "dev",
        &big_tree(400, 400, None),
        &big_tree(400, 400, Some(1)),
    );
    assert_eq!(d.changes.len(), 400);
    let sides = Sides {
        base: "a".to_string(),
        head: "b".to_string(),
    };
    let full = format::text(std::slice::from_ref(&d), &sides);
    assert!(full.len() > GITHUB_COMMENT_LIMIT);
    let md = format::markdown(std::slice::from_ref(&d), &sides, GITHUB_COMMENT_LIMIT);
    assert!(md.chars().count() <= GITHUB_COMMENT_LIMIT, "{}", md.len());
    assert!(md.contains("comment limit of 65536 characters"));
    assert!(md.contains("more resource diff(s) of `dev` not shown"));
    assert!(
        md.contains("<details>"),
        "as many sections as fit are shown"
    );
    // The summary and the risky list come first, whole up to their own cap.
    assert!(md.contains("| `dev` | 400 | 0 | 0 | 0 | 400 |"), "{md}");
    assert!(md.contains("… and 350 more"));
}

#[test]
fn secret_values_never_appear() {
    let secret = |v: &str| {
        Tree {
        files: BTreeMap::from([(
            "ns/secret/db.yaml".to_string(),
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {v}\n  user: admin\n").into_bytes(),
        )]),
    }
    };
    let d = compare("dev", &secret("hunter2"), &secret("correct-horse"));
    let c = &d.changes[0];
    assert!(
        !c.diff.contains("hunter2")
            && !c.diff.contains("correct-horse")
            && !c.diff.contains("admin"),
        "{}",
        c.diff
    );
    // Each side shows a marker with a short hash of its value: the change is visible, the values not;
    // the unchanged `user` is no change at all.
    let line = |prefix: &str| {
        c.diff
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_default()
            .to_string()
    };
    let (old, new) = (line("-  password: "), line("+  password: "));
    assert!(
        old.contains("<redacted ") && new.contains("<redacted "),
        "{}",
        c.diff
    );
    assert_ne!(old[1..], new[1..], "{}", c.diff);
    assert!(
        line("-  user").is_empty() && line("+  user").is_empty(),
        "{}",
        c.diff
    );
    assert!(!c.risks.is_empty());
}

#[test]
fn diff_on_a_real_repository() {
    let r = source_repo();
    let env = r.path().join("environments/dev/env.yaml");
    replace(&env, "count: 2", "count: 1");
    // The working tree against HEAD (the defaults).
    let o = run(r.path(), &["diff", "--env", "dev", "--tag", "t1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("replicas reduced: 2 -> 1"), "{out}");
    assert!(out.contains("-  replicas: 2\n+  replicas: 1"), "{out}");

    // Two revisions, as JSON; the working tree is not read.
    commit_all(&r, "one replica", 1_600_000_300);
    std::fs::write(&env, "not: an environment\n").unwrap();
    let o = run(
        r.path(),
        &[
            "diff", "--env", "dev", "--tag", "t1", "--base", "HEAD~1", "--head", "HEAD",
            "--format", "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let dev = &v["environments"][0];
    assert_eq!(dev["changed"], 1);
    assert_eq!(dev["changes"][0]["kind"], "Deployment");
    assert!(v["base"].as_str().unwrap().starts_with("HEAD~1 ("));

    // Markdown, and the same tag on both sides: without --tag the branch rule reads branch `main`.
    let o = run(
        r.path(),
        &[
            "diff", "--all", "--base", "HEAD~1", "--head", "HEAD", "--format", "markdown",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("| `dev` | 1 | 0 | 0 |"), "{md}");
    assert!(md.contains("### `dev`\n"), "{md}");
    assert!(!md.contains("image changed"), "{md}");

    // markdown is for diff only.
    let o = run(
        r.path(),
        &[
            "render", "--env", "dev", "--tag", "t1", "--format", "markdown",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
