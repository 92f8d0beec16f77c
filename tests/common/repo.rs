//! Helpers shared by the git tests: real repositories in temporary folders, built with git2, and the
//! binary run with a clean, fixed environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{IndexAddOption, Oid, Repository, RepositoryInitOptions, Signature, Time};
use tempfile::TempDir;

pub const FIXTURE: &str = "tests/fixtures/render/basic/input";

/// A fixed identity and time for render commits.
pub const FIXED: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "Render Bot"),
    ("GIT_AUTHOR_EMAIL", "render-bot@example.com"),
    ("GIT_AUTHOR_DATE", "@1700000000 +0000"),
    ("GIT_COMMITTER_NAME", "Render Bot"),
    ("GIT_COMMITTER_EMAIL", "render-bot@example.com"),
    ("GIT_COMMITTER_DATE", "@1700000000 +0000"),
];

pub const GIT_TEST_POLICY: &str = "apiVersion: gitops.openim.io/v1
kind: Policy
defaults:
  rules:
    netpol/*: off
    resources/*: off
";

pub struct Repo {
    pub dir: TempDir,
    pub repo: Repository,
}

impl Repo {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A source repository on branch `main` whose `environments/` is the render fixture, committed once.
pub fn source_repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init_opts(
        dir.path(),
        RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE),
        &dir.path().join("environments"),
    );
    // The render fixture has no NetworkPolicies or probes; the commit tests are about git, so the
    // policy turns those families off (the refusal test removes it).
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/policy.yaml"), GIT_TEST_POLICY).unwrap();
    let r = Repo { dir, repo };
    commit_all(&r, "initial", 1_600_000_000);
    r
}

/// A new repository on branch `main` holding a copy of this repository's `environments/`, `policies/`
/// and `schemas/`, nothing committed yet.
pub fn repository_copy() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["environments", "policies", "schemas"] {
        copy_dir(&here.join(folder), &dir.path().join(folder));
    }
    let repo = Repository::init_opts(
        dir.path(),
        RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    Repo { dir, repo }
}

/// The `run:` script of the step of `action.yml` whose name starts with `name`.
pub fn action_step(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sources = openim_gitops::node::Sources::new();
    let id = sources.add(
        &path,
        std::sync::Arc::from(text.as_str()),
        openim_gitops::node::FileRole::Other,
    );
    let action = openim_gitops::load::yaml::parse(id, sources.get(id)).unwrap()[0]
        .root
        .to_json();
    action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("no step `{name}` in action.yml"))["run"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Stages everything and commits it on HEAD (test setup only: the tool itself never does this).
pub fn commit_all(r: &Repo, message: &str, time: i64) -> Oid {
    let mut index = r.repo.index().unwrap();
    index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
    index.update_all(["*"], None).unwrap();
    index.write().unwrap();
    let tree = r.repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::new("Dev", "dev@example.com", &Time::new(time, 0)).unwrap();
    let parent = r.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    r.repo
        .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

/// The binary, in `dir`, with no git identity, token or CI variable from the outside, and a home of
/// its own (so no global git configuration is read).
pub fn bin(dir: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openim-gitops"));
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("GIT_")
            || k.starts_with("GITHUB_")
            || k.starts_with("GITLAB")
            || k.starts_with("CI")
            || k == "GH_TOKEN"
            || k == "OPENIM_GITOPS_TOKEN"
            || k == "SOURCE_DATE_EPOCH"
        {
            c.env_remove(k);
        }
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("NO_COLOR", "1");
    c
}

/// Runs the binary with the fixed identity.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = bin(dir, home.path());
    c.envs(FIXED).args(args);
    c.output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The commit a branch points at.
pub fn tip(repo: &Repository, branch: &str) -> Option<Oid> {
    repo.find_reference(&format!("refs/heads/{branch}"))
        .ok()
        .and_then(|r| r.target())
}

/// Every file of a commit's tree: path -> bytes.
pub fn files_of(repo: &Repository, commit: Oid) -> std::collections::BTreeMap<String, Vec<u8>> {
    let tree = repo.find_commit(commit).unwrap().tree().unwrap();
    let mut out = std::collections::BTreeMap::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) {
            let blob = repo.find_blob(entry.id()).unwrap();
            out.insert(
                format!("{dir}{}", entry.name().unwrap()),
                blob.content().to_vec(),
            );
        }
        git2::TreeWalkResult::Ok
    })
    .unwrap();
    out
}

/// Every file under a folder except `.git`: relative path -> bytes.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
        if rel.starts_with(".git") || !e.file_type().is_file() {
            continue;
        }
        out.push((rel, std::fs::read(e.path()).unwrap()));
    }
    out
}
