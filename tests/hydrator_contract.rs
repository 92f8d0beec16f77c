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
    assert_eq!(
        r.repo.find_commit(second).unwrap().parent_id(0).unwrap(),
        next
    );
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
    let rendered = read_tree(&out.path().join("dev"));
    let mut on_branch = files.clone();
    on_branch.remove("README.md");
    on_branch.remove(".gitattributes");
    assert_eq!(rendered, on_branch);
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
    let remote_dir = tempfile::tempdir().unwrap();
    let remote_path = remote_dir.path().join("remote.git");
    let remote = git2::Repository::init_bare(&remote_path).unwrap();
    r.repo
        .remote_set_url("origin", &format!("file://{}", remote_path.display()))
        .unwrap();
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
