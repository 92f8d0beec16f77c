//! The reviewer's diff on this repository's own `environments/` (and `policies/`), in a real git
//! repository in a temporary folder: each case commits the sources as they are, makes one change a
//! pull request would make, commits it, and runs `openim-gitops diff --all` between the two commits.
//! The Markdown and text outputs are goldens under `tests/fixtures/diff-review/` (commit ids masked);
//! `UPDATE_SNAPSHOTS=1` rewrites them (needed when `environments/` itself changes).
//!
//! Also: the Markdown parses as GitHub renders it (CommonMark with GFM tables, checked with
//! pulldown-cmark) and fits one comment for a 10,000-resource change; `--exit-code`; redaction of
//! every value the diff adds (fields, risks, JSON); the Action's secret gate passes the real output.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use git2::{Repository, RepositoryInitOptions};
use openim_gitops::diff::compare;
use openim_gitops::diff::format::{self, Sides, GITHUB_COMMENT_LIMIT};
use openim_gitops::render::Tree;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn goldens() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff-review")
}

/// This repository's environments and policies, committed once on `main`.
fn repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init_opts(
        dir.path(),
        RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in ["environments", "policies"] {
        copy_dir(&top.join(d), &dir.path().join(d));
    }
    let r = Repo { dir, repo };
    commit_all(&r, "the sources as they are", 1_600_000_000);
    r
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

const TAGS: [&str; 4] = ["--rc", "3", "--release-version", "3.8.3"];

/// `diff --all` between the last two commits in a format, with its exit code.
fn diff(r: &Repo, format: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "diff", "--all", "--base", "HEAD~1", "--head", "HEAD", "--format", format,
    ];
    args.extend(TAGS);
    args.extend(extra);
    let o = run(r.path(), &args);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        common::text(&o)
    );
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// Commit ids follow the content: the goldens should not churn with them. `HEAD~1 (0123456789ab)`:
/// twelve hex digits in parentheses after a revision.
fn mask_ids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(" (") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let hex = rest.len() >= 13
            && rest.as_bytes()[12] == b')'
            && rest[..12].bytes().all(|b| b.is_ascii_hexdigit());
        if hex {
            out.push_str("<commit>");
            rest = &rest[12..];
        }
    }
    out.push_str(rest);
    out
}

struct Case {
    md: String,
    txt: String,
    json: serde_json::Value,
}

fn case(name: &str, change: impl Fn(&Path)) -> Case {
    let r = repo();
    change(r.path());
    commit_all(&r, name, 1_600_000_100);
    let (code, md) = diff(&r, "markdown", &["--exit-code"]);
    assert_eq!(code, Some(1), "--exit-code: a change exits 1");
    let (code, txt) = diff(&r, "human", &[]);
    assert_eq!(
        code,
        Some(0),
        "without --exit-code a change is not a failure"
    );
    let (_, json) = diff(&r, "json", &[]);
    let (md, txt) = (mask_ids(&md), mask_ids(&txt));
    assert_snapshot(&goldens().join(format!("{name}.md")), &md);
    assert_snapshot(&goldens().join(format!("{name}.txt")), &txt);
    valid_markdown(&md);
    secret_gate_passes(&md);
    Case {
        md,
        txt,
        json: serde_json::from_str(&json).unwrap(),
    }
}

/// The `<details>` sections a Markdown text opens, by their summary line.
fn sections<'a>(md: &'a str, needle: &str) -> Vec<&'a str> {
    md.lines()
        .filter(|l| l.starts_with("<details><summary>") && l.contains(needle))
        .collect()
}

#[test]
fn a_base_network_policy_change_is_said_once_in_words_with_its_effect() {
    let c = case("base_netpol", |root| {
        edit(
            root,
            "environments/base/network-policies/30-data-stores.yaml",
            "                  - openim-chat-rpc\n",
            "                  - openim-chat-rpc\n                  - openim-crontask\n",
        )
    });
    // Once, with the three environments listed.
    assert_eq!(
        sections(&c.md, "NetworkPolicy/openim-mongodb").len(),
        1,
        "{}",
        c.md
    );
    assert!(c.md.contains("### `dev`, `test`, `release`\n"), "{}", c.md);
    // In words, not JSON.
    assert!(
        c.md.contains(
            "`NetworkPolicy/openim-mongodb`: ingress from openim-crontask added (27017/TCP)"
        ),
        "{}",
        c.md
    );
    assert!(!c.md.contains("{\"from\""), "{}", c.md);
    // No effective path, and why: crontask's own egress does not allow MongoDB.
    assert!(
        c.md.contains("no effective path openim-crontask -> openim-mongodb/mongodb: openim-crontask's egress still allows no traffic to it (NetworkPolicies "),
        "{}",
        c.md
    );
    assert!(c.md.contains("openim-crontask-egress)"), "{}", c.md);
    assert!(
        c.md.contains("**Network paths**: 0 gained, 0 lost"),
        "{}",
        c.md
    );
    // Traced to the base line that added the value, as a link relative to the repository.
    assert!(
        c.md.contains("added: `openim-crontask`, set at [environments/base/network-policies/30-data-stores.yaml:25](environments/base/network-policies/30-data-stores.yaml#L25)"),
        "{}",
        c.md
    );
    assert!(c.txt.contains("== dev, test, release =="), "{}", c.txt);
    let group = &c.json["groups"][0];
    assert_eq!(
        group["environments"],
        serde_json::json!(["dev", "test", "release"])
    );
    assert_eq!(group["changes"][0]["kind"], "NetworkPolicy");
    assert_eq!(
        group["changes"][0]["fields"][0]["set_at"],
        serde_json::json!({"file": "environments/base/network-policies/30-data-stores.yaml", "line": 25})
    );
    assert_eq!(
        c.json["summary"]["environments_changed"],
        serde_json::json!(["dev", "test", "release"])
    );
    assert_eq!(c.json["summary"]["paths_gained"], 0);
}

#[test]
fn an_environment_only_replica_change_stays_under_its_environment() {
    let c = case("release_replicas", |root| {
        edit(
            root,
            "environments/release/env.yaml",
            "  - name: openim-push\n    count: 3",
            "  - name: openim-push\n    count: 2",
        )
    });
    assert!(c.md.contains("### `release`\n"), "{}", c.md);
    assert!(!c.md.contains("### `dev`"), "{}", c.md);
    assert!(
        c.md.contains("`Deployment/openim-push (openim-release)`: replicas reduced: 3 -> 2"),
        "{}",
        c.md
    );
    assert!(
        c.md.contains("- `spec.replicas`: `3` → `2`, set at [environments/release/env.yaml:23](environments/release/env.yaml#L23)"),
        "{}",
        c.md
    );
    assert_eq!(
        c.json["summary"]["environments_changed"],
        serde_json::json!(["release"])
    );
    assert_eq!(c.json["summary"]["risky"], 1);
}

/// `--link-base` with `{rev}`: each side's links name that side's commit (the Action's links to the
/// server, which a relative link in a comment would not reach).
#[test]
fn link_base_names_each_sides_commit() {
    let r = repo();
    let before = r
        .repo
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    // A value that moves: release sets openim-push's replicas on another line than before.
    edit(
        r.path(),
        "environments/release/env.yaml",
        "  - name: openim-push\n    count: 3\n",
        "",
    );
    edit(
        r.path(),
        "environments/release/env.yaml",
        "  - name: openim-admin-rpc\n    count: 3\n",
        "  - name: openim-admin-rpc\n    count: 3\n  - name: openim-push\n    count: 2\n",
    );
    let after = commit_all(&r, "moved", 1_600_000_100).to_string();
    let (_, md) = diff(
        &r,
        "markdown",
        &["--link-base", "https://example.com/o/r/blob/{rev}/"],
    );
    let new = format!("(https://example.com/o/r/blob/{after}/environments/release/env.yaml#L");
    let old = format!("(https://example.com/o/r/blob/{before}/environments/release/env.yaml#L23)");
    assert!(
        md.contains("- `spec.replicas`: `3` → `2`, set at [environments/release/env.yaml:"),
        "{md}"
    );
    assert!(md.contains(&new), "{md}");
    assert!(
        md.contains(&format!("(before: [environments/release/env.yaml:23]{old}")),
        "{md}"
    );
    valid_markdown(&md);
    // Commit ids in links are no secret to the Action's gate.
    secret_gate_passes(&md);
}

/// The effect on paths read from both ends: the same base change with crontask's egress opened too
/// opens the path; a value taken out of the list loses one.
#[test]
fn a_path_opened_by_both_ends_and_one_lost() {
    let r = repo();
    let policies = "environments/base/network-policies";
    edit(
        r.path(),
        &format!("{policies}/30-data-stores.yaml"),
        "                  - openim-chat-rpc\n",
        "                  - openim-chat-rpc\n                  - openim-crontask\n",
    );
    edit(
        r.path(),
        &format!("{policies}/30-data-stores.yaml"),
        "                  - openim-push\n",
        "",
    );
    edit(
        r.path(),
        &format!("{policies}/20-workloads-egress.yaml"),
        "      app.kubernetes.io/name: openim-crontask\n  policyTypes: [Egress]\n  egress:\n",
        "      app.kubernetes.io/name: openim-crontask\n  policyTypes: [Egress]\n  egress:\n    - to:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/instance: openim-mongodb\n      ports:\n        - port: 27017\n          protocol: TCP\n",
    );
    commit_all(&r, "crontask reads MongoDB", 1_600_000_100);
    let (_, md) = diff(&r, "markdown", &[]);
    assert!(
        md.contains("ingress from openim-crontask added (27017/TCP)"),
        "{md}"
    );
    assert!(
        md.contains("ingress from openim-push removed (was 27017/TCP)"),
        "{md}"
    );
    assert!(
        md.contains("`NetworkPolicy/openim-mongodb`: opens the path openim-crontask -> openim-mongodb/mongodb (27017/TCP)"),
        "{md}"
    );
    assert!(
        md.contains("egress to openim-mongodb/mongodb added (27017/TCP)"),
        "{md}"
    );
    assert!(
        md.contains("**Network paths**: 3 gained, 3 lost"),
        "one gained and one lost per environment: {md}"
    );
    valid_markdown(&md);
}

#[test]
fn an_image_tag_change_names_old_and_new_and_the_tags_each_environment_runs() {
    let c = case("image_tag", |root| {
        edit(
            root,
            "environments/base/infrastructure/minio.yaml",
            "minio:RELEASE.2024-12-18T13-15-44Z",
            "minio:RELEASE.2025-01-20T14-49-07Z",
        )
    });
    assert_eq!(
        sections(&c.md, "StatefulSet/openim-minio").len(),
        1,
        "{}",
        c.md
    );
    assert!(
        c.md.contains("image changed in container minio: quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z -> quay.io/minio/minio:RELEASE.2025-01-20T14-49-07Z"),
        "{}",
        c.md
    );
    assert!(
        c.md.contains("| `quay.io/minio/minio` | `RELEASE.2024-12-18T13-15-44Z` → `RELEASE.2025-01-20T14-49-07Z` |"),
        "{}",
        c.md
    );
    // Each environment's own tag for the images it owns.
    assert!(
        c.md.contains("| `openim/openim-api` | `main` | `rc3` | `release-v3.8.3` |"),
        "{}",
        c.md
    );
    let images = &c.json["summary"]["images"];
    assert_eq!(
        images["test"]["quay.io/minio/minio"],
        serde_json::json!({"base": "RELEASE.2024-12-18T13-15-44Z", "head": "RELEASE.2025-01-20T14-49-07Z"})
    );
    assert_eq!(
        images["release"]["openim/openim-api"]["head"],
        "release-v3.8.3"
    );
}

#[test]
fn a_generated_config_map_renamed_by_its_content_is_one_change_and_its_rollout() {
    let c = case("configmap_rename", |root| {
        edit(
            root,
            "environments/config/openim-server/log.yml",
            "remainRotationCount: 2",
            "remainRotationCount: 4",
        )
    });
    let cm = sections(&c.md, "ConfigMap/openim-server-config-");
    assert_eq!(cm.len(), 1, "{}", c.md);
    assert!(cm[0].contains("changed"), "{}", cm[0]);
    assert!(!c.md.contains("removed <code>ConfigMap"), "{}", c.md);
    assert!(!c.md.contains("added <code>ConfigMap"), "{}", c.md);
    assert!(
        c.md.contains("-    remainRotationCount: 2\n+    remainRotationCount: 4\n"),
        "{}",
        c.md
    );
    assert!(
        c.md.contains("Content change: the generated name follows the content"),
        "{}",
        c.md
    );
    assert!(
        c.md.contains("rolls out `Deployment/openim-api`, `Deployment/openim-crontask`"),
        "{}",
        c.md
    );
    // The workloads whose only change is the new name are the rollout, not sections of their own.
    assert!(sections(&c.md, "Deployment/").is_empty(), "{}", c.md);
    assert!(
        c.md.contains("set at [environments/config/openim-server/log.yml:1](environments/config/openim-server/log.yml#L1)"),
        "{}",
        c.md
    );
    let change = &c.json["groups"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "ConfigMap")
        .unwrap()
        .clone();
    assert_eq!(change["change"], "changed");
    assert!(change["renamed_from"]
        .as_str()
        .unwrap()
        .starts_with("openim-server-config-"));
    assert!(change["rollout"].as_array().unwrap().len() >= 10);
    // Still counted as changed resources in the table.
    assert!(
        c.txt
            .contains("content change: renamed openim-server-config-"),
        "{}",
        c.txt
    );
}

#[test]
fn no_change_exits_zero_with_exit_code() {
    let r = repo();
    let mut args = vec![
        "diff",
        "--all",
        "--base",
        "HEAD",
        "--head",
        "HEAD",
        "--exit-code",
    ];
    args.extend(TAGS);
    let o = run(r.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("environments changed: none"));
}

/// A credential the change adds shows only as its redacted form, in every format and every part
/// the diff adds (fields, risks, JSON).
#[test]
fn values_the_redaction_rule_hides_stay_hidden_in_fields_and_json() {
    let secret = "s3cr3t-Pa55w0rd-9f8e7d";
    let r = repo();
    edit(
        r.path(),
        "environments/base/openim-server/openim-api.yaml",
        "          env:\n",
        &format!(
            "          env:\n            - name: DB_PASSWORD\n              value: {secret}\n"
        ),
    );
    commit_all(&r, "a credential", 1_600_000_100);
    for f in ["markdown", "human", "json"] {
        let (_, out) = diff(&r, f, &[]);
        assert!(!out.contains(secret), "{f}:\n{out}");
        assert!(!out.contains("Pa55w0rd"), "{f}:\n{out}");
        assert!(out.contains("<redacted"), "{f}:\n{out}");
    }
    let (_, md) = diff(&r, "markdown", &[]);
    assert!(md.contains("DB_PASSWORD"), "{md}");
    valid_markdown(&md);
    secret_gate_passes(&md);
}

/// Checks a comment as GitHub's renderer reads it (CommonMark + GFM tables): every table parses as a
/// table with the header's column count in each row, every `<details>` is closed, and every fence
/// closes so that no section swallows the next one.
fn valid_markdown(md: &str) {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    let mut open_code = 0usize;
    let mut tables = 0usize;
    let mut html = String::new();
    let mut in_code = false;
    let mut code_text = String::new();
    for event in Parser::new_ext(md, opts) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => {
                open_code += 1;
                in_code = true;
            }
            Event::End(TagEnd::CodeBlock) => {
                open_code -= 1;
                in_code = false;
            }
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Html(h) | Event::InlineHtml(h) => html.push_str(&h),
            Event::Text(t) if in_code => code_text.push_str(&t),
            _ => {}
        }
    }
    assert_eq!(open_code, 0, "a code block is not closed:\n{md}");
    let expected_tables = md.lines().filter(|l| l.starts_with("|---")).count();
    assert_eq!(tables, expected_tables, "every table parses as one:\n{md}");
    assert_eq!(
        html.matches("<details>").count(),
        html.matches("</details>").count(),
        "every <details> closes:\n{md}"
    );
    assert_eq!(
        html.matches("<details>").count(),
        md.matches("<details>").count(),
        "no <details> is swallowed by a code block:\n{md}"
    );
    assert!(!code_text.contains("<details>"), "{md}");
}

/// The Action's gate over the diff text (the step in action.yml, run as the runner runs it).
fn secret_gate_passes(md: &str) {
    let action: serde_json::Value = {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
                .unwrap();
        let mut sources = openim_gitops::node::Sources::new();
        let id = sources.add(
            Path::new("action.yml"),
            text.into(),
            openim_gitops::node::FileRole::Other,
        );
        let docs = openim_gitops::load::yaml::parse(id, sources.get(id)).unwrap();
        docs[0].root.to_json()
    };
    let script = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Check the diff text"))
        })
        .unwrap()["run"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.md");
    std::fs::write(&file, md).unwrap();
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env("OPENIM_GITOPS", env!("CARGO_BIN_EXE_openim-gitops"))
        .env("BODY_FILE", &file)
        .env("RUNNER_TEMP", dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the gate refuses the diff text:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tree of `n` Deployments; `v` is the image tag of every one.
fn big_tree(n: usize, v: &str) -> Tree {
    let files = (0..n)
        .map(|i| {
            (
                format!("ns/deployment/app-{i:05}.yaml"),
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i:05}\n  namespace: ns\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: app\n          image: app:{v}\n"
                )
                .into_bytes(),
            )
        })
        .collect();
    Tree { files }
}

#[test]
fn a_ten_thousand_resource_change_fits_one_comment_and_still_parses() {
    let base = big_tree(10_000, "v1");
    let head = big_tree(10_000, "v2");
    let mut dev = compare("dev", &base, &head);
    // As many images as resources, each with a new tag: the summary's table is capped too.
    for i in 0..10_000 {
        dev.images.insert(
            format!("registry.example/app-{i:05}"),
            [Some("v1".into()), Some("v2".into())],
        );
    }
    let mut test = dev.clone();
    test.environment = "test".into();
    let diffs = vec![dev, test];
    assert_eq!(diffs[0].changes.len(), 10_000);
    let sides = Sides {
        base: "a".into(),
        head: "b".into(),
    };
    let md = format::markdown(&diffs, &sides, GITHUB_COMMENT_LIMIT);
    assert!(md.chars().count() <= GITHUB_COMMENT_LIMIT, "{}", md.len());
    // Room for the Action's hidden marker, so that it never cuts the text itself.
    assert!(md.len() + 100 <= GITHUB_COMMENT_LIMIT, "{}", md.len());
    // Said once for both environments, cut with a note.
    assert!(md.contains("### `dev`, `test`\n"), "{}", &md[..2000]);
    assert!(md.contains("more resource diff(s) of `dev, test` not shown"));
    assert!(md.contains("comment limit of 65536 characters"));
    assert!(md.contains("- … and 9950 more"));
    assert!(md.contains("_… and 9940 more image(s): `--format json` lists them all._"));
    valid_markdown(&md);
}

#[test]
fn a_policy_change_alike_for_many_workloads_is_one_line() {
    // MongoDB's ingress moves its users' port: twelve workloads, the same change, one line.
    let c = case("netpol_many_peers", |root| {
        edit(
            root,
            "environments/base/network-policies/30-data-stores.yaml",
            "                  - openim-rpc-user\n      ports:\n        - port: 27017\n",
            "                  - openim-rpc-user\n      ports:\n        - port: 27018\n",
        )
    });
    assert!(
        c.md.contains("ingress from openim-admin-rpc (+11 more): ports 27017/TCP -> 27018/TCP"),
        "{}",
        c.md
    );
    assert!(!c.md.contains("ingress from openim-api: ports"), "{}", c.md);
    // The paths are per class: these twelve differ in their own policies, so each keeps its line.
    assert!(
        c.txt.contains("network paths: 0 added, 12 lost (dev, test, release):\n  - openim-admin-rpc -> openim-mongodb/mongodb: 27017/TCP\n"),
        "{}",
        c.txt
    );
}
