//! `render --commit` and `render --rev` on real repositories in temporary folders.

mod common;

use common::*;

const DEPLOYMENT: &str = "openim-dev/deployment/api.yaml";

fn commit_dev(r: &Repo) -> std::process::Output {
    run(
        r.path(),
        &["render", "--env", "dev", "--commit", "--tag", "t1"],
    )
}

#[test]
fn first_commit_on_a_new_branch() {
    let r = source_repo();
    let source = r.repo.head().unwrap().target().unwrap();
    let o = commit_dev(&r);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("first commit of the branch"),
        "{}",
        text(&o)
    );

    let tip = tip(&r.repo, "environments/dev").expect("the branch exists");
    let commit = r.repo.find_commit(tip).unwrap();
    assert_eq!(commit.parent_count(), 0);
    let message = commit.message().unwrap();
    assert!(
        message.contains(&format!("Source-Commit: {source}")),
        "{message}"
    );
    assert!(message.contains("\nEnvironment: dev\n"), "{message}");
    assert!(
        message.contains("\nImage-Tags: openim/openim-api=t1\n"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "\nTool-Version: openim-gitops {}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{message}"
    );
    assert_eq!(commit.author().name().ok(), Some("Render Bot"));
    assert_eq!(commit.time().seconds(), 1_700_000_000);

    let files = files_of(&r.repo, tip);
    let readme = String::from_utf8(files["README.md"].clone()).unwrap();
    assert!(
        readme.contains("Do not edit")
            && readme.contains(&source.to_string())
            && readme.contains("`dev`")
    );
    let meta = String::from_utf8(files["hydrator.metadata"].clone()).unwrap();
    assert!(meta.contains(&source.to_string()), "{meta}");
    assert!(String::from_utf8_lossy(&files[DEPLOYMENT]).contains("openim/openim-api:t1"));
    // Exactly what `render` writes to disk, plus the README and .gitattributes.
    let out = tempfile::tempdir().unwrap();
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--tag",
            "t1",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut on_disk: Vec<_> = snapshot(&out.path().join("dev"))
        .into_iter()
        .map(|(p, b)| (p.to_string_lossy().into_owned(), b))
        .collect();
    on_disk.push(("README.md".to_string(), files["README.md"].clone()));
    on_disk.push((
        ".gitattributes".to_string(),
        files[".gitattributes"].clone(),
    ));
    on_disk.sort();
    assert_eq!(files.into_iter().collect::<Vec<_>>(), on_disk);
}

#[test]
fn an_unchanged_render_makes_no_commit() {
    let r = source_repo();
    assert_eq!(commit_dev(&r).status.code(), Some(0));
    let first = tip(&r.repo, "environments/dev").unwrap();
    let o = commit_dev(&r);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("unchanged dev"),
        "{}",
        text(&o)
    );
    assert_eq!(tip(&r.repo, "environments/dev"), Some(first));

    // A new source commit that changes no manifest makes no commit either.
    std::fs::write(r.path().join("NOTES.md"), "unrelated\n").unwrap();
    commit_all(&r, "notes", 1_600_000_100);
    let o = commit_dev(&r);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("unchanged dev"),
        "{}",
        text(&o)
    );
    assert_eq!(tip(&r.repo, "environments/dev"), Some(first));

    // A changed tag does.
    let o = run(
        r.path(),
        &["render", "--env", "dev", "--commit", "--tag", "t2"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = tip(&r.repo, "environments/dev").unwrap();
    assert_ne!(second, first);
    assert_eq!(
        r.repo.find_commit(second).unwrap().parent_id(0).unwrap(),
        first
    );
}

#[test]
fn files_of_a_removed_resource_disappear() {
    let r = source_repo();
    assert_eq!(commit_dev(&r).status.code(), Some(0));
    let first = tip(&r.repo, "environments/dev").unwrap();
    assert!(files_of(&r.repo, first).contains_key("openim-dev/role/discovery.yaml"));
    std::fs::remove_file(r.path().join("environments/base/rbac.yaml")).unwrap();
    commit_all(&r, "no rbac", 1_600_000_100);
    let o = commit_dev(&r);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = tip(&r.repo, "environments/dev").unwrap();
    let files = files_of(&r.repo, second);
    assert!(
        !files.contains_key("openim-dev/role/discovery.yaml"),
        "{:?}",
        files.keys()
    );
    assert!(!files.contains_key("openim-dev/rolebinding/api.yaml"));
    assert!(files.contains_key(DEPLOYMENT));
    assert_eq!(
        r.repo.find_commit(second).unwrap().parent_id(0).unwrap(),
        first
    );
}

#[test]
fn the_working_tree_index_and_head_are_untouched() {
    let r = source_repo();
    // A dirty working tree and a staged change, to see that neither is touched.
    std::fs::write(r.path().join("untracked.txt"), "mine\n").unwrap();
    std::fs::write(r.path().join("staged.txt"), "staged\n").unwrap();
    let mut index = r.repo.index().unwrap();
    index.add_path(std::path::Path::new("staged.txt")).unwrap();
    index.write().unwrap();
    let head_before = std::fs::read(r.path().join(".git/HEAD")).unwrap();
    let head_commit = r.repo.head().unwrap().target();
    let index_before = std::fs::read(r.path().join(".git/index")).unwrap();
    let files_before = snapshot(r.path());

    let o = commit_dev(&r);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(tip(&r.repo, "environments/dev").is_some());

    assert_eq!(
        std::fs::read(r.path().join(".git/HEAD")).unwrap(),
        head_before
    );
    assert_eq!(r.repo.head().unwrap().target(), head_commit);
    assert_eq!(
        std::fs::read(r.path().join(".git/index")).unwrap(),
        index_before
    );
    assert_eq!(snapshot(r.path()), files_before);
    assert!(!r.path().join("rendered").exists());
}

#[test]
fn identical_inputs_give_identical_commit_ids() {
    let a = source_repo();
    let b = source_repo();
    assert_eq!(
        a.repo.head().unwrap().target(),
        b.repo.head().unwrap().target()
    );
    assert_eq!(commit_dev(&a).status.code(), Some(0));
    assert_eq!(commit_dev(&b).status.code(), Some(0));
    let (ta, tb) = (
        tip(&a.repo, "environments/dev"),
        tip(&b.repo, "environments/dev"),
    );
    assert!(ta.is_some());
    assert_eq!(ta, tb);

    // SOURCE_DATE_EPOCH alone fixes the dates too.
    let c = source_repo();
    let d = source_repo();
    for r in [&c, &d] {
        let home = tempfile::tempdir().unwrap();
        let o = bin(r.path(), home.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["render", "--env", "dev", "--commit", "--tag", "t1"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let tc = tip(&c.repo, "environments/dev").unwrap();
    assert_eq!(Some(tc), tip(&d.repo, "environments/dev"));
    let commit = c.repo.find_commit(tc).unwrap();
    assert_eq!(commit.committer().when().seconds(), 1_700_000_000);
    assert_eq!(commit.author().name().ok(), Some("openim-gitops"));
}

#[test]
fn rev_renders_an_older_revision_without_a_checkout() {
    let r = source_repo();
    let old = r.repo.head().unwrap().target().unwrap();
    let api = r.path().join("environments/dev/env.yaml");
    let text_before = std::fs::read_to_string(&api).unwrap();
    std::fs::write(&api, text_before.replace("count: 2", "count: 5")).unwrap();
    let new = commit_all(&r, "five replicas", 1_600_000_200);
    let files_before = snapshot(r.path());

    let out = tempfile::tempdir().unwrap();
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--tag",
            "t1",
            "--rev",
            "HEAD~1",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let deployment = std::fs::read_to_string(out.path().join("dev").join(DEPLOYMENT)).unwrap();
    assert!(deployment.contains("replicas: 2"), "{deployment}");
    let meta = std::fs::read_to_string(out.path().join("dev/hydrator.metadata")).unwrap();
    assert!(meta.contains(&old.to_string()), "{meta}");
    // HEAD renders the new count; the working tree was never checked out.
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--tag",
            "t1",
            "--rev",
            &new.to_string(),
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let deployment = std::fs::read_to_string(out.path().join("dev").join(DEPLOYMENT)).unwrap();
    assert!(deployment.contains("replicas: 5"), "{deployment}");
    assert_eq!(snapshot(r.path()), files_before);

    // And --rev with --commit records that revision as the source.
    let o = run(
        r.path(),
        &[
            "render", "--env", "dev", "--tag", "t1", "--rev", "HEAD~1", "--commit",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let tip = tip(&r.repo, "environments/dev").unwrap();
    let message = r
        .repo
        .find_commit(tip)
        .unwrap()
        .message()
        .unwrap()
        .to_string();
    assert!(
        message.contains(&format!("Source-Commit: {old}")),
        "{message}"
    );
}

#[test]
fn a_missing_revision_is_a_usage_error() {
    let r = source_repo();
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--tag",
            "t1",
            "--rev",
            "no-such-branch",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-such-branch"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_checked_out_branch_is_refused() {
    let r = source_repo();
    let o = run(
        r.path(),
        &[
            "render", "--env", "dev", "--tag", "t1", "--commit", "--branch", "main",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("checked out"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_custom_branch_and_json_output() {
    let r = source_repo();
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--tag",
            "t1",
            "--commit",
            "--branch",
            "deploy/dev",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tip = tip(&r.repo, "deploy/dev").unwrap();
    assert_eq!(v["status"], "committed");
    assert_eq!(v["commit"], tip.to_string());
    assert_eq!(v["branch"], "deploy/dev");
}

#[test]
fn commit_flags_need_commit() {
    let r = source_repo();
    for flags in [&["--push"][..], &["--allow-findings"], &["--branch", "x"]] {
        let mut args = vec!["render", "--env", "dev", "--tag", "t1"];
        args.extend_from_slice(flags);
        let o = run(r.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", text(&o));
    }
}

#[test]
fn a_revision_renders_exactly_as_its_checkout() {
    let r = source_repo();
    let (disk, git) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, extra) in [(&disk, None), (&git, Some("HEAD"))] {
        let mut args = vec![
            "render",
            "--all",
            "--tag",
            "t1",
            "--out",
            dir.path().to_str().unwrap(),
        ];
        if let Some(rev) = extra {
            args.extend(["--rev", rev]);
        }
        let o = run(r.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let (a, b) = (snapshot(disk.path()), snapshot(git.path()));
    assert!(a.len() > 5);
    assert_eq!(a, b);
}

#[test]
fn error_findings_refuse_the_commit() {
    let r = source_repo();
    // Without the test policy, the fixture breaks netpol/ and resources/ rules at error level.
    std::fs::remove_file(r.path().join("policies/policy.yaml")).unwrap();
    commit_all(&r, "no policy", 1_600_000_100);
    let before = snapshot(r.path());
    let out = commit_dev(&r);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("refused") && t.contains("nothing committed"),
        "{t}"
    );
    assert!(
        t.contains("netpol/no-default-deny"),
        "the findings are shown: {t}"
    );
    assert!(
        tip(&r.repo, "environments/dev").is_none(),
        "no branch was made"
    );
    assert_eq!(
        snapshot(r.path()),
        before,
        "nothing in the working tree changed"
    );
    // --allow-findings commits anyway, and says so.
    let out = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--tag",
            "t1",
            "--commit",
            "--allow-findings",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("although checks report errors"));
    assert!(tip(&r.repo, "environments/dev").is_some());
}

/// Every file under `.git/objects`: loose objects (`xx/…`) and packs, with their sizes.
fn object_files(r: &Repo) -> Vec<(String, u64)> {
    let root = r.path().join(".git/objects");
    let mut out: Vec<(String, u64)> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(&root).unwrap();
            (
                rel.to_string_lossy().replace('\\', "/"),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    out.sort();
    out
}

fn packs(files: &[(String, u64)]) -> Vec<&str> {
    files
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| p.starts_with("pack/") && p.ends_with(".pack"))
        .collect()
}

fn loose(files: &[(String, u64)]) -> usize {
    files
        .iter()
        .filter(|(p, _)| p.len() == 41 && p.as_bytes()[2] == b'/')
        .count()
}

fn git_fsck(r: &Repo) {
    let o = std::process::Command::new("git")
        .args(["fsck", "--full", "--strict", "--no-dangling"])
        .current_dir(r.path())
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git fsck: {}", text(&o));
}

#[test]
fn a_commit_is_one_pack_and_an_unchanged_render_writes_nothing() {
    let r = source_repo();
    let before = object_files(&r);
    assert!(packs(&before).is_empty());
    assert_eq!(commit_dev(&r).status.code(), Some(0));
    let first = tip(&r.repo, "environments/dev").unwrap();
    let after = object_files(&r);
    // The source commit's own objects stay as they were; the render adds one pack, and the only loose
    // objects are the hydrator note's own three (its blob, tree and notes commit, written by libgit2).
    assert_eq!(loose(&after), loose(&before) + 3);
    assert_eq!(packs(&after).len(), 1, "{after:?}");
    let files = files_of(&r.repo, first);
    assert!(files.contains_key(DEPLOYMENT), "{:?}", files.keys());
    git_fsck(&r);
    // git reads the commit and every file in it.
    let o = std::process::Command::new("git")
        .args(["ls-tree", "-r", "--name-only", "environments/dev"])
        .current_dir(r.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let listed: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(listed, files.keys().cloned().collect::<Vec<_>>());

    // Unchanged manifests: not one byte is written under .git/objects.
    let o = commit_dev(&r);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("unchanged dev"),
        "{}",
        text(&o)
    );
    assert_eq!(object_files(&r), after);

    // One changed resource: one more pack, holding only what the repository lacked (the changed file,
    // the folders above it, the new README and metadata file, the root and the commit).
    let deployment = r.path().join("environments/base/api.yaml");
    let text_before = std::fs::read_to_string(&deployment).unwrap();
    let changed = text_before.replacen(
        r#"args: ["--port", "10002"]"#,
        r#"args: ["--port", "10002", "--v"]"#,
        1,
    );
    assert_ne!(changed, text_before);
    std::fs::write(&deployment, changed).unwrap();
    commit_all(&r, "more replicas", 1_600_000_200);
    let source_objects = object_files(&r);
    let o = commit_dev(&r);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = tip(&r.repo, "environments/dev").unwrap();
    assert_ne!(second, first);
    let last = object_files(&r);
    assert_eq!(
        loose(&last),
        loose(&source_objects) + 3,
        "only the note's objects are loose"
    );
    let new_packs: Vec<&str> = packs(&last)
        .into_iter()
        .filter(|p| !packs(&after).contains(p))
        .collect();
    assert_eq!(new_packs.len(), 1, "{last:?}");
    let diff = r
        .repo
        .diff_tree_to_tree(
            Some(&r.repo.find_commit(first).unwrap().tree().unwrap()),
            Some(&r.repo.find_commit(second).unwrap().tree().unwrap()),
            None,
        )
        .unwrap();
    let changed_files = diff.deltas().count();
    let idx = r
        .path()
        .join(".git/objects")
        .join(new_packs[0].replace(".pack", ".idx"));
    let o = std::process::Command::new("git")
        .args(["verify-pack", "-v"])
        .arg(&idx)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let objects = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.len() > 41 && l.as_bytes()[40] == b' ')
        .count();
    // Changed files (the deployment, the README, the metadata file) plus at most the root, the
    // namespace and kind folders, and the commit.
    assert!(changed_files >= 2, "{changed_files}");
    assert!(
        objects <= changed_files + 4 && objects >= changed_files + 2,
        "{objects} objects for {changed_files} changed files:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    git_fsck(&r);
}

#[test]
fn the_gate_speaks_json_under_format_json() {
    let r = source_repo();
    std::fs::remove_file(r.path().join("policies/policy.yaml")).unwrap();
    commit_all(&r, "no policy", 1_600_000_100);
    let out = run(
        r.path(),
        &[
            "render", "--env", "dev", "--tag", "t1", "--commit", "--format", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // One JSON object per line, and nothing else: the findings as `check --format json` gives them,
    // then the refusal.
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["status"], "findings");
    let findings = lines[0]["checks"]["findings"]
        .as_array()
        .expect("a list of findings");
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "netpol/no-default-deny"),
        "{stdout}"
    );
    assert_eq!(lines[1]["status"], "refused");
    assert_eq!(lines[1]["environments"], serde_json::json!(["dev"]));
    assert!(
        tip(&r.repo, "environments/dev").is_none(),
        "no branch was made"
    );
}

/// The note's `drySha` on a commit.
fn note_of(r: &Repo, commit: git2::Oid) -> Option<String> {
    let note = r
        .repo
        .find_note(Some("refs/notes/hydrator.metadata"), commit)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(note.message_bytes()).ok()?;
    v["drySha"].as_str().map(str::to_string)
}

fn commit_dev_on(r: &Repo, today: &str, extra: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = bin(r.path(), home.path());
    c.envs(FIXED)
        .env("OPENIM_GITOPS_TODAY", today)
        .args(["render", "--env", "dev", "--commit", "--tag", "t1"])
        .args(extra);
    c.output().unwrap()
}

/// An unchanged render is not checked again while its verdict cannot have changed (the manifests
/// were accepted under the same policy and environment, by this tool version): manifests let through
/// with --allow-findings stay unchanged without --allow-findings. A policy change, a change to the
/// environment's folder that leaves the manifests alone, or a waiver expiring since, run the gate
/// again, which refuses although nothing would be committed, and the note stays on the DRY commit
/// last accepted.
#[test]
fn an_unchanged_render_is_checked_again_only_when_its_verdict_may_have_changed() {
    let r = source_repo();
    let today = "2026-01-01";
    let o = commit_dev_on(&r, today, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = tip(&r.repo, "environments/dev").unwrap();

    // The policy tightens (no policy: every rule at its default), manifests unchanged: refused.
    std::fs::remove_file(r.path().join("policies/policy.yaml")).unwrap();
    let strict = commit_all(&r, "no policy", 1_600_000_100);
    let o = commit_dev_on(&r, today, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("netpol/no-default-deny"), "{}", text(&o));
    assert_ne!(
        note_of(&r, first).as_deref(),
        Some(strict.to_string().as_str()),
        "the note stays on the DRY commit last accepted"
    );
    // Again, for the same source: still refused (the verdict was never accepted).
    assert_eq!(commit_dev_on(&r, today, &[]).status.code(), Some(1));

    // Accepted with --allow-findings: the note moves, nothing is committed.
    let o = commit_dev_on(&r, today, &["--allow-findings"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("unchanged dev"), "{}", text(&o));
    assert_eq!(tip(&r.repo, "environments/dev"), Some(first));
    assert_eq!(note_of(&r, first), Some(strict.to_string()));

    // A source commit that changes nothing the verdict reads: unchanged, and no check ran (it would
    // refuse these manifests under this policy).
    std::fs::write(r.path().join("NOTES.md"), "unrelated\n").unwrap();
    let unrelated = commit_all(&r, "notes", 1_600_000_200);
    let o = commit_dev_on(&r, today, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("unchanged dev"), "{t}");
    assert!(!t.contains("netpol/") && !t.contains("refused"), "{t}");
    assert_eq!(note_of(&r, first), Some(unrelated.to_string()));

    // The environment's folder changes but not its manifests (a comment in env.yaml): checked again.
    let env_file = r.path().join("environments/dev/env.yaml");
    let mut text_env = std::fs::read_to_string(&env_file).unwrap();
    text_env.push_str("# reviewed\n");
    std::fs::write(&env_file, text_env).unwrap();
    let commented = commit_all(&r, "comment", 1_600_000_300);
    let o = commit_dev_on(&r, today, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("refused"), "{}", text(&o));
    assert_eq!(note_of(&r, first), Some(unrelated.to_string()));
    assert_ne!(note_of(&r, first), Some(commented.to_string()));
    assert_eq!(tip(&r.repo, "environments/dev"), Some(first));
}

/// A waiver that expires between the DRY commit last accepted and today runs the gate again: the
/// findings it waived come back and the unchanged render is refused.
#[test]
fn an_unchanged_render_is_checked_again_when_a_waiver_expired_since() {
    let r = source_repo();
    std::fs::write(
        r.path().join("policies/policy.yaml"),
        "apiVersion: gitops.openim.io/v1
kind: Policy
defaults:
  rules:
    resources/*: off
    netpol/workload-not-selected: off
waivers:
  - rule: netpol/no-default-deny
    target: {kind: Deployment, name: api}
    reason: the default deny comes with the network work
    until: 2027-06-30
",
    )
    .unwrap();
    let accepted = commit_all(&r, "a waiver", 1_600_000_100);
    let o = commit_dev_on(&r, "2027-01-01", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = tip(&r.repo, "environments/dev").unwrap();
    assert_eq!(note_of(&r, first), Some(accepted.to_string()));
    // Before the waiver's last day: unchanged, not checked.
    let o = commit_dev_on(&r, "2027-06-30", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("unchanged dev"), "{}", text(&o));
    // After it: checked, and the expired waiver is an error.
    let o = commit_dev_on(&r, "2027-07-01", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("policy/expired-waiver")
            && t.contains("netpol/no-default-deny")
            && t.contains("refused"),
        "{t}"
    );
    assert_eq!(tip(&r.repo, "environments/dev"), Some(first));
    assert_eq!(note_of(&r, first), Some(accepted.to_string()));
}

/// A finding about the waivers themselves refuses the commit as it fails `check`: an expired waiver
/// whose rule is turned off waives nothing, and is still an error of the run.
#[test]
fn an_expired_waiver_alone_refuses_the_commit() {
    let r = source_repo();
    std::fs::write(
        r.path().join("policies/policy.yaml"),
        "apiVersion: gitops.openim.io/v1
kind: Policy
defaults:
  rules:
    resources/*: off
    netpol/*: off
waivers:
  - rule: netpol/no-default-deny
    target: {kind: Deployment, name: api}
    reason: the default deny comes with the network work
    until: 2027-06-30
",
    )
    .unwrap();
    commit_all(&r, "a waiver", 1_600_000_100);
    // Before the waiver's last day: nothing stands, committed.
    let o = commit_dev_on(&r, "2027-06-30", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = tip(&r.repo, "environments/dev").expect("committed");
    // After it (the gate runs again, see above): the expired waiver is the only error, and it
    // refuses.
    let o = commit_dev_on(&r, "2027-07-01", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("policy/expired-waiver") && t.contains("refused"),
        "{t}"
    );
    assert!(!t.contains("netpol/no-default-deny:"), "{t}");
    assert_eq!(
        tip(&r.repo, "environments/dev"),
        Some(first),
        "nothing committed"
    );
    // With --allow-findings it is let through.
    let o = commit_dev_on(&r, "2027-07-01", &["--allow-findings"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("unchanged dev"), "{}", text(&o));
}
