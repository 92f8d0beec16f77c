//! `promote` on a real repository: test's tested render goes to release's proposed branch with
//! release's rule, the pull-request body has its sections (golden), and a release whose tag names a
//! commit test never rendered is refused.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use git2::{Oid, Repository, RepositoryInitOptions};

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels:
    app.kubernetes.io/name: api
spec:
  replicas: REPLICAS
  selector:
    matchLabels:
      app.kubernetes.io/name: api
  template:
    metadata:
      labels:
        app.kubernetes.io/name: api
    spec:
      containers:
        - name: api
          image: openim/openim-api:v0
          ports:
            - name: http
              containerPort: 10002
";

fn env_file(name: &str, rule: &str) -> String {
    format!(
        "apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: {name}
namespace: openim-{name}
resources:
  - ../base
tags:
  rule: {rule}
  images:
    - openim/openim-api
"
    )
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/promote/{name}"))
}

fn write(r: &Repo, rel: &str, text: &str) {
    let p = r.path().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn fixture() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init_opts(
        dir.path(),
        RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    let r = Repo { dir, repo };
    write(
        &r,
        "environments/base/api.yaml",
        &DEPLOYMENT.replace("REPLICAS", "3"),
    );
    write(&r, "environments/test/env.yaml", &env_file("test", "rc"));
    write(
        &r,
        "environments/release/env.yaml",
        &env_file("release", "release"),
    );
    write(&r, "policies/policy.yaml", GIT_TEST_POLICY);
    commit_all(&r, "feat: the api", 1_600_000_000);
    r
}

fn tag(r: &Repo, name: &str) {
    let head = r.repo.head().unwrap().peel_to_commit().unwrap();
    r.repo
        .tag_lightweight(name, head.as_object(), false)
        .unwrap();
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn promotes_the_tested_commit_to_the_proposed_branch_and_describes_it() {
    let r = fixture();
    let first = r.repo.head().unwrap().target().unwrap();
    let o = run(
        r.path(),
        &["render", "--env", "test", "--rc", "0", "--commit"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    tag(&r, "v1.0.0");

    let o = promote_release(&r, "1.0.0", "markdown");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_snapshot(&golden("first.md"), &stdout(&o));
    let proposed = tip(&r.repo, "environments/release-next").expect("the proposed branch");
    assert_eq!(
        tip(&r.repo, "environments/release"),
        None,
        "the active branch moved"
    );
    let files = files_of(&r.repo, proposed);
    let meta: serde_json::Value = serde_json::from_slice(&files["hydrator.metadata"]).unwrap();
    assert_eq!(meta["drySha"], serde_json::json!(first.to_string()));
    assert_eq!(meta["tags"]["openim/openim-api"], "release-v1.0.0");
    let test_tip = tip(&r.repo, "environments/test").unwrap();
    assert_eq!(
        meta["references"][0]["commit"]["sha"],
        serde_json::json!(test_tip.to_string())
    );

    // The pull request is merged: release's active branch takes the proposed commit.
    r.repo
        .reference("refs/heads/environments/release", proposed, true, "merged")
        .unwrap();

    // A change test renders and passes, promoted with the next version: a risky replica cut, one DRY
    // commit, the image tag moving.
    write(
        &r,
        "environments/base/api.yaml",
        &DEPLOYMENT.replace("REPLICAS", "1"),
    );
    commit_all(&r, "perf: one api replica is enough", 1_600_000_100);
    let o = run(
        r.path(),
        &["render", "--env", "test", "--rc", "1", "--commit"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(
        r.path(),
        &[
            "promote",
            "--from",
            "test",
            "--to",
            "release",
            "--release-version",
            "1.1.0",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let body = stdout(&o);
    assert_snapshot(&golden("second.md"), &body);
    for section in [
        "# Promote `test` to `release`",
        "## Rendered manifests diff",
        "## DRY commits",
        "## Images",
    ] {
        assert!(body.contains(section), "no {section:?} in:\n{body}");
    }
    let risky = body
        .find("replicas")
        .expect("the replica cut is called out");
    assert!(risky < body.find("## DRY commits").unwrap());
    assert!(
        body.contains("| `openim/openim-api` | `release-v1.0.0` | `release-v1.1.0` :arrow_up: |")
    );
    assert!(body.contains("perf: one api replica is enough"));
    assert!(
        !body.contains("feat: the api"),
        "a commit release already runs is listed"
    );
    assert_eq!(tip(&r.repo, "environments/release"), Some(proposed));
}

/// `promote --from test --to release --release-version VERSION --format FORMAT`.
fn promote_release(r: &Repo, version: &str, format: &str) -> std::process::Output {
    let args = ["promote", "--from", "test", "--to", "release"];
    let mut args = args.to_vec();
    args.extend(["--release-version", version, "--format", format]);
    run(r.path(), &args)
}

/// Commits a change test never rendered, tags it v2.0.0 and promotes it to release (refused).
fn promote_untested(r: &Repo) -> (Oid, std::process::Output) {
    write(
        r,
        "environments/base/api.yaml",
        &DEPLOYMENT.replace("REPLICAS", "2"),
    );
    let untested: Oid = commit_all(r, "feat: untested", 1_600_000_200);
    tag(r, "v2.0.0");
    let o = promote_release(r, "2.0.0", "human");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    (untested, o)
}

#[test]
fn refuses_a_release_whose_commit_test_never_rendered() {
    let r = fixture();
    let o = run(
        r.path(),
        &["render", "--env", "test", "--rc", "0", "--commit"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (untested, o) = promote_untested(&r);
    let out = stdout(&o);
    assert!(
        out.contains("refused: release 2.0.0 is tag v2.0.0 on commit"),
        "{out}"
    );
    assert!(out.contains(&untested.to_string()[..12]), "{out}");
    assert!(out.contains("which test never rendered"), "{out}");
    assert_eq!(tip(&r.repo, "environments/release-next"), None);

    // A source environment that was never rendered at all: refused too.
    let o = run(
        r.path(),
        &["promote", "--from", "release", "--to", "test", "--rc", "3"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("release was never rendered"),
        "{}",
        text(&o)
    );
    assert_eq!(tip(&r.repo, "environments/test-next"), None);
}

/// Both environments in folders of one shared branch (their `commit:` blocks): test's folder is read for
/// the tested commit, release's render goes to its folder's proposed branch, and test's folder is kept.
#[test]
fn promotes_between_folders_of_a_shared_branch() {
    let r = fixture();
    for (env, rule) in [("test", "rc"), ("release", "release")] {
        let block = format!("commit:\n  branch: environments/live\n  path: apps/{env}\n");
        write(
            &r,
            &format!("environments/{env}/env.yaml"),
            &(env_file(env, rule) + &block),
        );
    }
    let tested = commit_all(&r, "ci: a shared branch", 1_600_000_100);
    let o = run(
        r.path(),
        &["render", "--env", "test", "--rc", "0", "--commit"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let live = tip(&r.repo, "environments/live").expect("the shared branch");
    tag(&r, "v1.0.0");

    let o = promote_release(&r, "1.0.0", "json");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let body: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(body["drySha"], serde_json::json!(tested.to_string()));
    assert_eq!(
        body["branch"],
        serde_json::json!("environments/live-next/apps/release")
    );
    let proposed =
        tip(&r.repo, "environments/live-next/apps/release").expect("the folder's proposed branch");
    assert_eq!(
        tip(&r.repo, "environments/live"),
        Some(live),
        "the active branch moved"
    );
    let files = files_of(&r.repo, proposed);
    assert!(files.contains_key("apps/release/hydrator.metadata"));
    assert!(
        files.keys().all(|k| k.starts_with("apps/release/")),
        "{:?}",
        files.keys()
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&files["apps/release/hydrator.metadata"]).unwrap();
    assert_eq!(meta["drySha"], serde_json::json!(tested.to_string()));
    assert_eq!(
        meta["tags"]["openim/openim-api"],
        serde_json::json!("release-v1.0.0")
    );

    // A release test's folder never rendered: refused, naming the folder.
    let (_, o) = promote_untested(&r);
    assert!(
        stdout(&o).contains("(apps/test/ of environments/live was rendered at 1 commit(s)"),
        "{}",
        text(&o)
    );
    assert_eq!(
        tip(&r.repo, "environments/live-next/apps/release"),
        Some(proposed)
    );
}
