//! The hydrator contract GitOps Promoter and Argo CD read from a rendered branch, on real repositories:
//! `hydrator.metadata` carries every field of the contract, taken from the DRY commit, and is valid
//! against `schemas/openim-gitops/hydrator-metadata.schema.json`; the schema rejects what the contract
//! forbids.

mod common;

use common::*;
use serde_json::{json, Value};

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas/openim-gitops/hydrator-metadata.schema.json"),
    )
    .unwrap();
    jsonschema::options()
        .build(&serde_json::from_str(&text).unwrap())
        .unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// A source repository with a remote whose URL carries a token, and a DRY commit with a body.
fn dry_repo() -> (Repo, git2::Oid) {
    let r = source_repo();
    r.repo
        .remote(
            "origin",
            "https://x-access-token:ghs_hidden@example.com/org/openim-gitops.git",
        )
        .unwrap();
    std::fs::write(r.path().join("NOTES.txt"), "x\n").unwrap();
    let sig = git2::Signature::new(
        "Jane Developer",
        "jane@example.com",
        &git2::Time::new(1_700_000_000, 120),
    )
    .unwrap();
    let mut index = r.repo.index().unwrap();
    index.add_path(std::path::Path::new("NOTES.txt")).unwrap();
    index.write().unwrap();
    let tree = r.repo.find_tree(index.write_tree().unwrap()).unwrap();
    let parent = r.repo.head().unwrap().peel_to_commit().unwrap();
    let dry = r
        .repo
        .commit(
            Some("HEAD"),
            &sig,
            &sig,
            "feat: scale the api\n\nBecause traffic doubled.\n\nSigned-off-by: Jane Developer\n",
            &tree,
            &[&parent],
        )
        .unwrap();
    drop((tree, parent));
    (r, dry)
}

#[test]
fn the_metadata_of_a_commit_has_every_contract_field_from_the_dry_commit() {
    let (r, dry) = dry_repo();
    let o = run(
        r.path(),
        &["render", "--env", "dev", "--commit", "--tag", "t1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let tip = tip(&r.repo, "environments/dev").unwrap();
    let files = files_of(&r.repo, tip);
    let meta: Value = serde_json::from_slice(&files["hydrator.metadata"]).unwrap();
    assert_eq!(errors(&schema(), &meta), Vec::<String>::new(), "{meta:#}");
    assert_eq!(meta["drySha"], json!(dry.to_string()));
    assert_eq!(
        meta["repoURL"],
        json!("https://example.com/org/openim-gitops.git")
    );
    assert_eq!(meta["author"], json!("Jane Developer <jane@example.com>"));
    assert_eq!(meta["date"], json!("2023-11-15T00:13:20+02:00"));
    assert_eq!(meta["subject"], json!("feat: scale the api"));
    assert_eq!(
        meta["body"],
        json!("Because traffic doubled.\n\nSigned-off-by: Jane Developer")
    );
    assert_eq!(meta["references"], json!([]));
    assert_eq!(
        meta["commands"],
        json!(["cargo run --release --locked -- render --env dev --tag t1 --out rendered"])
    );
    let all = String::from_utf8_lossy(&files["hydrator.metadata"]).into_owned();
    assert!(!all.contains("ghs_hidden"), "the token leaked: {all}");
}

#[test]
fn the_schema_rejects_what_the_contract_forbids() {
    let v = schema();
    let good = json!({
        "drySha": "0123456789abcdef0123456789abcdef01234567",
        "repoURL": "https://github.com/org/repo",
        "author": "Jane Developer <jane@example.com>",
        "date": "2024-01-15T10:30:00Z",
        "subject": "feat: add new feature",
        "body": "",
        "references": [{"commit": {"sha": "fedcba9876543210fedcba9876543210fedcba98", "subject": "x"}}],
        "commands": ["cargo run --release --locked -- render --env dev --out rendered"],
        "environment": "dev",
        "resources": 1,
        "tags": {},
        "tagSource": null,
        "tool": "openim-gitops 0.1.0"
    });
    assert_eq!(errors(&v, &good), Vec::<String>::new());
    type Mutation = (&'static str, fn(&mut Value));
    let mutations: [Mutation; 6] = [
        ("no drySha", |d| {
            d.as_object_mut().unwrap().remove("drySha");
        }),
        ("a short drySha", |d| d["drySha"] = json!("0123456")),
        ("drySha null", |d| d["drySha"] = Value::Null),
        ("credentials in repoURL", |d| {
            d["repoURL"] = json!("https://user:token@github.com/org/repo")
        }),
        ("an author without email", |d| d["author"] = json!("Jane")),
        ("a date that is not ISO 8601", |d| {
            d["date"] = json!("Mon Jan 15 10:30:00 2024")
        }),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        assert!(!errors(&v, &doc).is_empty(), "the schema accepts {what}");
    }
}

/// The note on a commit, as `git notes --ref=hydrator.metadata show` prints it, parsed.
fn note(repo: &git2::Repository, commit: git2::Oid) -> Option<Value> {
    let note = repo
        .find_note(Some("refs/notes/hydrator.metadata"), commit)
        .ok()?;
    serde_json::from_slice(note.message_bytes()).ok()
}

/// A commit on HEAD that changes nothing the environments read.
fn unrelated_commit(r: &Repo, n: u32) -> git2::Oid {
    std::fs::write(r.path().join("NOTES.txt"), format!("{n}\n")).unwrap();
    commit_all(r, &format!("docs: note {n}"), 1_700_000_100 + i64::from(n))
}

#[test]
fn the_note_equals_the_metadata_and_an_unchanged_render_moves_only_the_note() {
    let (r, dry) = dry_repo();
    let o = run(
        r.path(),
        &["render", "--env", "dev", "--commit", "--tag", "t1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = tip(&r.repo, "environments/dev").unwrap();
    let meta: Value =
        serde_json::from_slice(&files_of(&r.repo, first)["hydrator.metadata"]).unwrap();
    assert_eq!(
        note(&r.repo, first),
        Some(json!({"drySha": meta["drySha"]}))
    );
    assert_eq!(meta["drySha"], json!(dry.to_string()));

    // A new DRY commit that changes nothing rendered: no commit, the note names it.
    let newer = unrelated_commit(&r, 1);
    let notes_before = r
        .repo
        .refname_to_id("refs/notes/hydrator.metadata")
        .unwrap();
    let o = run(
        r.path(),
        &["render", "--env", "dev", "--commit", "--tag", "t1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no commit"), "{}", text(&o));
    assert_eq!(tip(&r.repo, "environments/dev"), Some(first));
    assert_eq!(
        note(&r.repo, first),
        Some(json!({"drySha": newer.to_string()}))
    );
    assert_ne!(
        r.repo
            .refname_to_id("refs/notes/hydrator.metadata")
            .unwrap(),
        notes_before
    );
}

#[test]
fn proposed_renders_go_to_the_next_branch_and_never_to_the_active_one() {
    let (r, _) = dry_repo();
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--commit",
            "--proposed",
            "--tag",
            "t1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("environments/dev-next"), "{}", text(&o));
    let next = tip(&r.repo, "environments/dev-next").expect("the proposed branch");
    assert_eq!(tip(&r.repo, "environments/dev"), None);
    // A second render with another tag adds a commit on -next, still nothing on the active branch.
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--commit",
            "--proposed",
            "--tag",
            "t2",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = tip(&r.repo, "environments/dev-next").unwrap();
    assert_eq!(parent(&r.repo, second), next);
    assert_eq!(tip(&r.repo, "environments/dev"), None);
    let files = files_of(&r.repo, second);
    for generated in ["hydrator.metadata", "README.md", ".gitattributes"] {
        assert!(files.contains_key(generated), "{generated} missing");
    }
    let attributes = String::from_utf8_lossy(&files[".gitattributes"]).into_owned();
    assert!(attributes.contains("\nhydrator.metadata linguist-generated=true\n"));
    assert!(attributes.contains("\nREADME.md linguist-generated=true\n"));
}

/// The README says exactly how to reproduce the tree, and following it does.
#[test]
fn the_readme_commands_reproduce_the_branch() {
    let (r, dry) = dry_repo();
    let o = run(
        r.path(),
        &["render", "--env", "dev", "--commit", "--tag", "t1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = files_of(&r.repo, tip(&r.repo, "environments/dev").unwrap());
    let readme = String::from_utf8_lossy(&files["README.md"]).into_owned();
    let block = readme
        .split_once("```shell\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(b, _)| b)
        .expect("a shell block");
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(
        lines,
        [
            "git clone https://example.com/org/openim-gitops.git openim-gitops",
            "cd openim-gitops",
            &format!("git checkout {dry}"),
            "cargo run --release --locked -- render --env dev --tag t1 --out rendered",
        ]
    );
    // Run the render line (the binary stands for `cargo run`) in the checkout of the DRY commit.
    let rendered = rendered_to_disk(&r, "dev", "t1");
    let mut on_branch = files.clone();
    on_branch.remove("README.md");
    on_branch.remove(".gitattributes");
    assert_eq!(rendered, on_branch);
}

/// What `render --env ENV --tag TAG --out DIR` writes into `DIR/ENV`.
fn rendered_to_disk(r: &Repo, env: &str, tag: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let o = run(
        r.path(),
        &["render", "--env", env, "--tag", tag, "--out", dir],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    read_tree(&out.path().join(env))
}

/// Reads a remote the way GitOps Promoter does: fetch the proposed branch and the notes by their refs,
/// then `hydrator.metadata` at the root (or at `<activePath>/`) and the note on the tip.
fn promoter_view(
    remote: &std::path::Path,
    branch: &str,
    active_path: Option<&str>,
) -> (String, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(dir.path()).unwrap();
    let mut origin = repo
        .remote_anonymous(&format!("file://{}", remote.display()))
        .unwrap();
    origin
        .fetch(
            &[
                format!("+refs/heads/{branch}:refs/heads/{branch}").as_str(),
                "+refs/notes/hydrator.metadata:refs/notes/hydrator.metadata",
            ],
            None,
            None,
        )
        .unwrap();
    let tip = tip(&repo, branch).expect("the promoter finds the branch");
    let path = match active_path {
        Some(p) => format!("{p}/hydrator.metadata"),
        None => "hydrator.metadata".to_string(),
    };
    let files = files_of(&repo, tip);
    let meta: Value = serde_json::from_slice(&files[&path]).unwrap();
    let dry = meta["drySha"].as_str().unwrap().to_string();
    let noted = note(&repo, tip).and_then(|n| n["drySha"].as_str().map(str::to_string));
    (dry, noted)
}

#[test]
fn pushed_with_the_branch_read_as_the_promoter_reads_it_and_retried_against_a_concurrent_writer() {
    let (r, dry) = dry_repo();
    let (_remote_dir, remote_path, remote) = bare_origin(&r);
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--commit",
            "--proposed",
            "--push",
            "--tag",
            "t1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (meta_sha, note_sha) = promoter_view(&remote_path, "environments/dev-next", None);
    assert_eq!(meta_sha, dry.to_string());
    assert_eq!(note_sha.as_deref(), Some(dry.to_string().as_str()));
    assert!(
        tip(&remote, "environments/dev").is_none(),
        "the active branch was pushed"
    );

    // Unchanged manifests from a newer DRY commit: no new commit, the pushed note moves.
    let hydrated = tip(&remote, "environments/dev-next").unwrap();
    let newer = unrelated_commit(&r, 2);
    let o = run(
        r.path(),
        &[
            "render",
            "--env",
            "dev",
            "--commit",
            "--proposed",
            "--push",
            "--tag",
            "t1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(tip(&remote, "environments/dev-next"), Some(hydrated));
    let (meta_sha, note_sha) = promoter_view(&remote_path, "environments/dev-next", None);
    assert_eq!(
        meta_sha,
        dry.to_string(),
        "the file stays: nothing was committed"
    );
    assert_eq!(note_sha, Some(newer.to_string()));

    // Another writer (another environment's pipeline) pushes a note between our fetch and our push:
    // ours is written again on top of theirs, and both survive.
    let other_env = {
        let sig = git2::Signature::new("o", "o@example.com", &git2::Time::new(0, 0)).unwrap();
        let tree = remote
            .find_tree(remote.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let c = remote
            .commit(None, &sig, &sig, "other", &tree, &[])
            .unwrap();
        remote
            .reference("refs/heads/environments/test-next", c, true, "other")
            .unwrap();
        c
    };
    let competitor = remote_path.clone();
    let identity = openim_gitops::git::commit::Identity::resolve(
        &r.repo,
        &FIXED
            .iter()
            .fold(openim_gitops::git::GitEnv::default(), |e, (k, v)| {
                e.with(k, v)
            }),
    )
    .unwrap();
    let mut settings = openim_gitops::git::push::PushSettings::new("origin", &Default::default());
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = calls.clone();
    settings.before_note_push = Some(Box::new(move |attempt| {
        seen.set(seen.get() + 1);
        if attempt == 0 {
            let remote = git2::Repository::open_bare(&competitor).unwrap();
            let sig = git2::Signature::new("o", "o@example.com", &git2::Time::new(1, 0)).unwrap();
            remote
                .note(
                    &sig,
                    &sig,
                    Some("refs/notes/hydrator.metadata"),
                    other_env,
                    "{\"drySha\":\"1111111111111111111111111111111111111111\"}\n",
                    true,
                )
                .unwrap();
        }
    }));
    let newest = unrelated_commit(&r, 3);
    let meta = openim_gitops::render::Metadata {
        environment: "dev".into(),
        source_commit: Some(newest.to_string()),
        ..Default::default()
    };
    let provenance = openim_gitops::git::commit::Provenance::new(&meta);
    openim_gitops::git::push::push_note(&r.repo, hydrated, &provenance, &identity, &settings)
        .unwrap();
    assert_eq!(
        calls.get(),
        2,
        "the first push was refused and retried once"
    );
    let (_, note_sha) = promoter_view(&remote_path, "environments/dev-next", None);
    assert_eq!(note_sha, Some(newest.to_string()));
    assert_eq!(
        note(&remote, other_env),
        Some(json!({"drySha": "1111111111111111111111111111111111111111"})),
        "the other writer's note was lost"
    );
}

// Path mode: environments sharing one branch, each in its own folder (GitOps Promoter's `activePath`,
// Argo CD's `syncSource.path`).

/// `dry_repo` with a second environment, `test`, a copy of `dev`.
fn two_env_repo() -> Repo {
    let (r, _) = dry_repo();
    copy_dir(
        &r.path().join("environments/dev"),
        &r.path().join("environments/test"),
    );
    let file = r.path().join("environments/test/env.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("name: dev\n", "name: test\n")).unwrap();
    commit_all(&r, "test: a second environment", 1_700_000_050);
    r
}

/// A bare repository on disk, made `r`'s `origin`: its folder (kept alive), path and repository.
fn bare_origin(r: &Repo) -> (tempfile::TempDir, std::path::PathBuf, git2::Repository) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remote.git");
    let remote = git2::Repository::init_bare(&path).unwrap();
    r.repo
        .remote_set_url("origin", &format!("file://{}", path.display()))
        .unwrap();
    (dir, path, remote)
}

/// A commit's first parent.
fn parent(repo: &git2::Repository, commit: git2::Oid) -> git2::Oid {
    repo.find_commit(commit).unwrap().parent_id(0).unwrap()
}

/// The id of the tree or blob at `path` in a commit.
fn id_at(repo: &git2::Repository, commit: git2::Oid, path: &str) -> Option<git2::Oid> {
    let tree = repo.find_commit(commit).unwrap().tree().unwrap();
    tree.get_path(std::path::Path::new(path))
        .ok()
        .map(|e| e.id())
}

fn render_into(r: &Repo, env: &str, tag: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["render", "--env", env, "--commit", "--tag", tag];
    args.extend_from_slice(extra);
    run(r.path(), &args)
}

/// Appends a `commit:` block to an environment's env.yaml and commits it.
fn set_commit_block(r: &Repo, env: &str, block: &str, time: i64) -> git2::Oid {
    let file = r.path().join(format!("environments/{env}/env.yaml"));
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(block);
    std::fs::write(&file, text).unwrap();
    commit_all(r, &format!("ci: commit {env} per its env.yaml"), time)
}

#[test]
fn path_mode_writes_one_folder_and_leaves_every_other_byte_identical() {
    let r = two_env_repo();
    const SHARED: &str = "environments/shared";
    // The branch already holds a folder and a file nobody renders: they stay as they are.
    let keep = {
        let sig = git2::Signature::new("o", "o@example.com", &git2::Time::new(0, 0)).unwrap();
        let files = std::collections::BTreeMap::from([
            ("docs/keep.txt", b"kept\n".as_slice()),
            ("KEEP.md", b"# kept\n".as_slice()),
        ]);
        let tree = openim_gitops::git::commit::write_tree(&r.repo, &files).unwrap();
        let tree = r.repo.find_tree(tree).unwrap();
        let c = r
            .repo
            .commit(None, &sig, &sig, "by hand", &tree, &[])
            .unwrap();
        r.repo
            .reference(&format!("refs/heads/{SHARED}"), c, false, "test")
            .unwrap();
        c
    };

    let o = render_into(&r, "dev", "t1", &["--branch", SHARED, "--path", "apps/dev"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("(folder apps/dev/)"), "{}", text(&o));
    let first = tip(&r.repo, SHARED).unwrap();
    assert_eq!(parent(&r.repo, first), keep);
    for kept in ["docs", "KEEP.md"] {
        assert_eq!(
            id_at(&r.repo, first, kept),
            id_at(&r.repo, keep, kept),
            "{kept}"
        );
    }
    let files = files_of(&r.repo, first);
    assert!(
        !files.contains_key("hydrator.metadata"),
        "nothing at the root"
    );
    assert!(!files.contains_key("README.md"));
    for generated in ["hydrator.metadata", "README.md", ".gitattributes"] {
        assert!(
            files.contains_key(&format!("apps/dev/{generated}")),
            "{generated}"
        );
    }
    let readme = String::from_utf8_lossy(&files["apps/dev/README.md"]).into_owned();
    assert!(
        readme.contains(
            "render --env dev --tag t1 --commit --branch environments/shared --path apps/dev\n"
        ),
        "{readme}"
    );
    let meta: Value = serde_json::from_slice(&files["apps/dev/hydrator.metadata"]).unwrap();
    assert_eq!(
        note(&r.repo, first),
        Some(json!({"drySha": meta["drySha"]}))
    );
    // The folder holds what a render to --out gives, README.md and .gitattributes aside.
    let in_folder: std::collections::BTreeMap<String, Vec<u8>> = files
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("apps/dev/")?.to_string(), v.clone())))
        .filter(|(k, _)| k != "README.md" && k != ".gitattributes")
        .collect();
    assert_eq!(in_folder, rendered_to_disk(&r, "dev", "t1"));

    // The second environment, one commit later: the first one's folder keeps its tree id.
    let o = render_into(
        &r,
        "test",
        "t1",
        &["--branch", SHARED, "--path", "apps/test"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = tip(&r.repo, SHARED).unwrap();
    assert_eq!(parent(&r.repo, second), first);
    for kept in ["apps/dev", "docs", "KEEP.md"] {
        assert_eq!(
            id_at(&r.repo, second, kept),
            id_at(&r.repo, first, kept),
            "{kept}"
        );
    }
    assert!(id_at(&r.repo, second, "apps/test/hydrator.metadata").is_some());

    // Unchanged manifests from a newer DRY commit: no commit, but the note names it.
    let newer = unrelated_commit(&r, 7);
    let o = render_into(&r, "dev", "t1", &["--branch", SHARED, "--path", "apps/dev"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no commit"), "{}", text(&o));
    assert_eq!(tip(&r.repo, SHARED), Some(second));
    assert_eq!(
        note(&r.repo, second),
        Some(json!({"drySha": newer.to_string()}))
    );

    // A change to dev rewrites apps/dev only.
    let o = render_into(&r, "dev", "t2", &["--branch", SHARED, "--path", "apps/dev"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let third = tip(&r.repo, SHARED).unwrap();
    assert_ne!(third, second);
    assert_ne!(
        id_at(&r.repo, third, "apps/dev"),
        id_at(&r.repo, second, "apps/dev")
    );
    for kept in ["apps/test", "docs", "KEEP.md"] {
        assert_eq!(
            id_at(&r.repo, third, kept),
            id_at(&r.repo, second, kept),
            "{kept}"
        );
    }
    assert_eq!(
        note(&r.repo, third),
        Some(json!({"drySha": newer.to_string()}))
    );
}

#[test]
fn environments_that_would_overwrite_each_other_on_a_branch_are_refused() {
    let r = two_env_repo();
    const SHARED: &str = "environments/shared";
    let o = render_into(&r, "dev", "t1", &["--branch", SHARED, "--path", "apps"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = tip(&r.repo, SHARED).unwrap();
    let notes = r
        .repo
        .refname_to_id("refs/notes/hydrator.metadata")
        .unwrap();
    // Inside another render's folder, around it, or over the whole branch: refused, nothing written.
    for (env, extra, says) in [
        (
            "test",
            vec!["--path", "apps/test"],
            "`apps` of the branch holds another render",
        ),
        ("test", vec![], "a whole-branch render"),
    ] {
        let mut args = vec!["--branch", SHARED];
        args.extend(extra);
        let o = render_into(&r, env, "t1", &args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(says), "{}", text(&o));
    }
    assert_eq!(tip(&r.repo, SHARED), Some(before));
    assert_eq!(
        r.repo
            .refname_to_id("refs/notes/hydrator.metadata")
            .unwrap(),
        notes,
        "a refused render moved the notes"
    );
    // A render below a folder about to be written; a folder written into a whole-branch render.
    let cases: [(&str, &str, &[&str], &str); 2] = [
        (
            "environments/other",
            "a/b",
            &["--path", "a"],
            "`a/b` of the branch holds another render",
        ),
        (
            "environments/dev",
            "",
            &["--path", "test"],
            "whole-branch render",
        ),
    ];
    for (branch, first_path, then, says) in cases {
        let mut first = vec!["--branch", branch];
        if !first_path.is_empty() {
            first.extend(["--path", first_path]);
        }
        let o = render_into(&r, "dev", "t1", &first);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let before = tip(&r.repo, branch);
        let mut args = vec!["--branch", branch];
        args.extend_from_slice(then);
        let o = render_into(&r, "test", "t1", &args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(says), "{}", text(&o));
        assert_eq!(tip(&r.repo, branch), before);
    }

    // Two environments set to the same folder in their env.yaml, rendered together.
    for env in ["dev", "test"] {
        set_commit_block(
            &r,
            env,
            "commit:\n  branch: environments/together\n  path: same\n",
            1_700_000_300,
        );
    }
    let o = run(r.path(), &["render", "--all", "--commit", "--tag", "t1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("dev and test would both be written to environments/together"),
        "{}",
        text(&o)
    );
    assert_eq!(tip(&r.repo, "environments/together"), None);
}

#[test]
fn bad_paths_are_refused_and_nothing_is_committed() {
    let r = two_env_repo();
    for bad in [
        "../x", "/abs", "a/../b", ".git", "a/.git/b", "A/.GIT", "a//b", "a/", "./a", "a/./b", "",
        "a\\b", "a b", "-rf", ".hidden", "x.lock", "C:/x", "a\nb",
    ] {
        let flag = format!("--path={bad}");
        let o = render_into(&r, "dev", "t1", &[&flag]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            err.contains(&format!("--path `{}`", bad.escape_debug())),
            "{bad:?} is not named: {err}"
        );
    }
    let branches: Vec<_> = r
        .repo
        .branches(None)
        .unwrap()
        .map(|b| b.unwrap().0.name().unwrap().unwrap().to_string())
        .collect();
    assert_eq!(branches, ["main"]);
    assert!(r
        .repo
        .find_reference("refs/notes/hydrator.metadata")
        .is_err());
    // The clean spelling is offered where there is one.
    let o = render_into(&r, "dev", "t1", &["--path", "./apps//dev/"]);
    assert!(text(&o).contains("write it as `apps/dev`"), "{}", text(&o));
    // --path speaks of one environment.
    let o = run(
        r.path(),
        &[
            "render", "--all", "--commit", "--tag", "t1", "--path", "dev",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--path names one folder"), "{}", text(&o));

    // The same folder in env.yaml: an error at its line.
    set_commit_block(&r, "dev", "commit:\n  path: ../../outside\n", 1_700_000_400);
    let o = render_into(&r, "dev", "t1", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("commit.path `../../outside`"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("env.yaml"), "{}", text(&o));
    assert_eq!(r.repo.branches(None).unwrap().count(), 1);
    // A branch the README's commands could not hold safely: refused at its line too.
    set_commit_block(&r, "test", "commit:\n  branch: env/$(id)\n", 1_700_000_401);
    let o = render_into(&r, "test", "t1", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("commit.branch"), "{}", text(&o));
    assert_eq!(r.repo.branches(None).unwrap().count(), 1);
}

#[test]
fn an_environment_set_to_proposed_commits_to_next_and_never_to_the_active_branch() {
    let r = two_env_repo();
    set_commit_block(&r, "dev", "commit:\n  proposed: true\n", 1_700_000_200);
    set_commit_block(
        &r,
        "test",
        "commit:\n  branch: environments/shared\n  path: apps/test\n  proposed: true\n",
        1_700_000_201,
    );
    let o = run(r.path(), &["render", "--all", "--commit", "--tag", "t1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        tip(&r.repo, "environments/dev-next").is_some(),
        "{}",
        text(&o)
    );
    assert_eq!(tip(&r.repo, "environments/dev"), None);
    let next =
        tip(&r.repo, "environments/shared-next/apps/test").expect("the folder's proposed branch");
    assert_eq!(tip(&r.repo, "environments/shared"), None);
    let files = files_of(&r.repo, next);
    assert!(files.contains_key("apps/test/hydrator.metadata"));
    assert!(
        files.keys().all(|k| k.starts_with("apps/test/")),
        "{:?}",
        files.keys()
    );
    // A second render after a change: one more commit on each -next branch, none on the active ones.
    let o = run(r.path(), &["render", "--all", "--commit", "--tag", "t2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let again = tip(&r.repo, "environments/shared-next/apps/test").unwrap();
    assert_eq!(parent(&r.repo, again), next);
    assert_eq!(tip(&r.repo, "environments/dev"), None);
    assert_eq!(tip(&r.repo, "environments/shared"), None);
    // The command line still chooses: --branch overrides the file's branch, its folder stays.
    let o = render_into(&r, "test", "t3", &["--branch", "environments/elsewhere"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        tip(&r.repo, "environments/elsewhere-next/apps/test").is_some(),
        "{}",
        text(&o)
    );
}

#[test]
fn a_shared_branch_pushed_is_read_as_the_promoter_reads_an_active_path() {
    let r = two_env_repo();
    let (_remote_dir, remote_path, remote) = bare_origin(&r);
    let dry = r.repo.head().unwrap().target().unwrap();

    // The active branch, shared by both environments in path mode and pushed: each folder is read at
    // its activePath, and the second push kept the first folder.
    for env in ["dev", "test"] {
        let o = render_into(
            &r,
            env,
            "t1",
            &["--branch", "environments/live", "--path", env, "--push"],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    for env in ["dev", "test"] {
        let (meta_sha, note_sha) = promoter_view(&remote_path, "environments/live", Some(env));
        assert_eq!(meta_sha, dry.to_string(), "{env}");
        assert_eq!(note_sha, Some(dry.to_string()), "{env}");
    }
    // A newer DRY commit that changes nothing: the branch is not pushed, the pushed note names it.
    let live = tip(&remote, "environments/live").unwrap();
    let newer = unrelated_commit(&r, 9);
    let o = render_into(
        &r,
        "dev",
        "t1",
        &["--branch", "environments/live", "--path", "dev", "--push"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(tip(&remote, "environments/live"), Some(live));
    let (meta_sha, note_sha) = promoter_view(&remote_path, "environments/live", Some("dev"));
    assert_eq!(meta_sha, dry.to_string());
    assert_eq!(note_sha, Some(newer.to_string()));

    // Set per environment: the proposed branch of the folder, <branch>-next/<path>, gets the commit.
    let dry = set_commit_block(
        &r,
        "dev",
        "commit:\n  branch: environments/shared\n  path: apps/dev\n  proposed: true\n",
        1_700_000_500,
    );
    let o = run(
        r.path(),
        &[
            "render", "--env", "dev", "--commit", "--push", "--tag", "t1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let proposed = "environments/shared-next/apps/dev";
    let (meta_sha, note_sha) = promoter_view(&remote_path, proposed, Some("apps/dev"));
    assert_eq!(meta_sha, dry.to_string());
    assert_eq!(note_sha, Some(dry.to_string()));
    assert!(
        tip(&remote, "environments/shared").is_none(),
        "the active branch was pushed"
    );
}
