//! All git2 use lives here; every other module sees plain types.
//!
//! For the tags stage: [`repo_facts`] reads what the tag rules need (HEAD, its branch, the tags on it
//! and the tags reachable from it) and hands it to [`crate::tags::resolve`] as a [`RepoFacts`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use git2::{ErrorCode, ObjectType, Oid, Repository};
use thiserror::Error;

pub use crate::tags::RepoFacts;

/// A failure to read the repository (exit 2).
#[derive(Debug, Error)]
pub enum GitError {
    #[error("no git repository at or above {}: {message}", .path.display())]
    NoRepository { path: PathBuf, message: String },
    #[error("cannot read {what} of the git repository at {}: {message}", .path.display())]
    Read {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
}

impl GitError {
    pub fn hint(&self) -> &'static str {
        match self {
            GitError::NoRepository { .. } => {
                "run inside the repository, or pass the tag explicitly (--tag, --rc, --release-version)"
            }
            GitError::Read { .. } => "check the repository with `git fsck`",
        }
    }

    /// Never: a repository that cannot be read is a tool failure.
    pub fn is_policy(&self) -> bool {
        false
    }
}

/// The top folder of the git work tree that holds `start`, if any (a bare repository has none).
pub fn work_tree(start: &Path) -> Option<PathBuf> {
    let repo = Repository::discover(start).ok()?;
    repo.workdir().map(Path::to_path_buf)
}

/// Read the [`RepoFacts`] of the repository at or above `path`.
///
/// Tags are read once and peeled to commits (tags of trees or blobs are skipped); HEAD's ancestry is
/// walked once, breadth first, and the walk stops as soon as every tagged commit has been found.
/// Parents missing from a shallow clone end the walk on that side.
pub fn repo_facts(path: &Path) -> Result<RepoFacts, GitError> {
    let repo = Repository::discover(path).map_err(|e| GitError::NoRepository {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })?;
    let root = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let read = |what: &'static str| {
        let path = root.clone();
        move |e: git2::Error| GitError::Read {
            path,
            what,
            message: e.message().to_string(),
        }
    };

    let (branch, head) = head_of(&repo).map_err(read("HEAD"))?;
    facts_of(&repo, branch, head, &root)
}

/// The [`RepoFacts`] of a revision instead of HEAD (`render --rev`): its commit, the tags on and behind
/// it, and its branch: the local branch it names, else the one local branch whose tip it is. `HEAD`
/// itself, or a revision at HEAD's commit, reads as HEAD does (its branch, or the CI's variables).
pub fn repo_facts_at(path: &Path, rev: &str) -> Result<RepoFacts, GitError> {
    let repo = Repository::discover(path).map_err(|e| GitError::NoRepository {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })?;
    let root = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let (object, reference) = repo.revparse_ext(rev).map_err(|e| GitError::Read {
        path: root.clone(),
        what: "the revision",
        message: e.message().to_string(),
    })?;
    let commit = object.peel_to_commit().map_err(|e| GitError::Read {
        path: root.clone(),
        what: "the revision",
        message: e.message().to_string(),
    })?;
    let (head_branch, head) = head_of(&repo).map_err(|e| GitError::Read {
        path: root.clone(),
        what: "HEAD",
        message: e.message().to_string(),
    })?;
    let named = reference
        .as_ref()
        .filter(|r| r.is_branch())
        .and_then(|r| r.name_bytes().strip_prefix(b"refs/heads/").map(lossy));
    if named.is_none() && head == Some(commit.id()) {
        return facts_of(&repo, head_branch, head, &root);
    }
    let (branch, branches_at_rev) = match named {
        Some(b) => (Some(b), Vec::new()),
        None => {
            let at = branches_at(&repo, commit.id()).map_err(|e| GitError::Read {
                path: root.clone(),
                what: "the branches",
                message: e.message().to_string(),
            })?;
            match at.as_slice() {
                [one] => (Some(one.clone()), Vec::new()),
                _ => (None, at),
            }
        }
    };
    let mut facts = facts_of(&repo, branch, Some(commit.id()), &root)?;
    facts.rev = Some(rev.to_string());
    facts.branches_at_rev = branches_at_rev;
    Ok(facts)
}

/// The local branches whose tip is `commit`, sorted.
fn branches_at(repo: &Repository, commit: Oid) -> Result<Vec<String>, git2::Error> {
    let mut out = Vec::new();
    for branch in repo.branches(Some(git2::BranchType::Local))? {
        let (branch, _) = branch?;
        let reference = branch.get();
        if reference.peel_to_commit().map(|c| c.id()).ok() == Some(commit) {
            if let Some(name) = reference.name_bytes().strip_prefix(b"refs/heads/") {
                out.push(lossy(name));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn facts_of(
    repo: &Repository,
    branch: Option<String>,
    head: Option<Oid>,
    root: &Path,
) -> Result<RepoFacts, GitError> {
    let read = |what: &'static str| {
        let path = root.to_path_buf();
        move |e: git2::Error| GitError::Read {
            path,
            what,
            message: e.message().to_string(),
        }
    };
    let mut facts = RepoFacts {
        head_commit: head.map(|oid| oid.to_string()),
        branch,
        remote_url: super::remote::remote_url(repo, super::remote::DEFAULT_REMOTE),
        ..RepoFacts::default()
    };
    let Some(head) = head else {
        return Ok(facts);
    };
    facts.dry = Some(dry_commit(repo, head).map_err(read("the commit"))?);
    let tagged = tagged_commits(repo).map_err(read("the tags"))?;
    facts.reachable_tags = reachable(repo, head, &tagged).map_err(read("the history"))?;
    facts.tags_on_head = facts
        .reachable_tags
        .iter()
        .filter(|(_, _, distance)| *distance == 0)
        .map(|(name, _, _)| name.clone())
        .collect();
    Ok(facts)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The branch HEAD is on (if any) and the commit it points at (if any).
fn head_of(repo: &Repository) -> Result<(Option<String>, Option<Oid>), git2::Error> {
    match repo.head() {
        Ok(head) => {
            let branch = head
                .is_branch()
                .then(|| head.name_bytes().strip_prefix(b"refs/heads/").map(lossy))
                .flatten();
            Ok((branch, Some(head.peel_to_commit()?.id())))
        }
        Err(e) if e.code() == ErrorCode::UnbornBranch => {
            let head = repo.find_reference("HEAD")?;
            let branch = head
                .symbolic_target_bytes()
                .and_then(|target| target.strip_prefix(b"refs/heads/"))
                .map(lossy);
            Ok((branch, None))
        }
        Err(e) => Err(e),
    }
}

/// What `hydrator.metadata` records of a commit: as `git show --format='%an <%ae>|%aI|%s|%b'` prints it.
pub fn dry_commit(
    repo: &Repository,
    id: Oid,
) -> Result<crate::render::hydrator::DryCommit, git2::Error> {
    let commit = repo.find_commit(id)?;
    let author = commit.author();
    let when = author.when();
    Ok(crate::render::hydrator::DryCommit {
        author: format!(
            "{} <{}>",
            String::from_utf8_lossy(author.name_bytes()),
            String::from_utf8_lossy(author.email_bytes())
        ),
        date: crate::render::hydrator::iso8601(when.seconds(), when.offset_minutes()),
        subject: lossy(commit.summary_bytes().unwrap_or_default()),
        body: lossy(commit.body_bytes().unwrap_or_default())
            .trim_end()
            .to_string(),
    })
}

/// Every tag's commit, with the names of the tags that lead to it.
fn tagged_commits(repo: &Repository) -> Result<HashMap<Oid, Vec<String>>, git2::Error> {
    let mut tagged: HashMap<Oid, Vec<String>> = HashMap::new();
    for reference in repo.references_glob("refs/tags/*")? {
        let reference = reference?;
        let Some(name) = reference.name_bytes().strip_prefix(b"refs/tags/") else {
            continue;
        };
        // A tag of a tree or a blob names no commit: not a version of anything.
        let Ok(commit) = reference.peel(ObjectType::Commit) else {
            continue;
        };
        tagged.entry(commit.id()).or_default().push(lossy(name));
    }
    Ok(tagged)
}

/// The tags reachable from `head`, with their fewest parent steps from it.
fn reachable(
    repo: &Repository,
    head: Oid,
    tagged: &HashMap<Oid, Vec<String>>,
) -> Result<Vec<(String, String, usize)>, git2::Error> {
    let mut found = Vec::new();
    let mut remaining = tagged.len();
    let mut seen = HashSet::from([head]);
    let mut queue = VecDeque::from([(head, 0usize)]);
    while remaining > 0 {
        let Some((oid, distance)) = queue.pop_front() else {
            break;
        };
        if let Some(names) = tagged.get(&oid) {
            let id = oid.to_string();
            found.extend(
                names
                    .iter()
                    .map(|name| (name.clone(), id.clone(), distance)),
            );
            remaining -= 1;
        }
        let commit = match repo.find_commit(oid) {
            Ok(commit) => commit,
            Err(e) if e.code() == ErrorCode::NotFound && distance > 0 => continue,
            Err(e) => return Err(e),
        };
        for parent in commit.parent_ids() {
            if seen.insert(parent) {
                queue.push_back((parent, distance + 1));
            }
        }
    }
    found.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::{RepositoryInitOptions, Signature, Time};
    use tempfile::TempDir;

    struct TestRepo {
        dir: TempDir,
        repo: Repository,
    }

    impl TestRepo {
        fn new() -> TestRepo {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repository::init_opts(
                dir.path(),
                RepositoryInitOptions::new().initial_head("main"),
            )
            .unwrap();
            TestRepo { dir, repo }
        }

        fn sig(&self) -> Signature<'static> {
            Signature::new("t", "t@example.com", &Time::new(1_700_000_000, 0)).unwrap()
        }

        /// A commit on `branch` (created or moved), with the given parents.
        fn commit(&self, branch: &str, parents: &[Oid], message: &str) -> Oid {
            let tree = self
                .repo
                .find_tree(self.repo.treebuilder(None).unwrap().write().unwrap())
                .unwrap();
            let parents: Vec<_> = parents
                .iter()
                .map(|p| self.repo.find_commit(*p).unwrap())
                .collect();
            let parents: Vec<_> = parents.iter().collect();
            let id = self
                .repo
                .commit(None, &self.sig(), &self.sig(), message, &tree, &parents)
                .unwrap();
            self.repo
                .reference(&format!("refs/heads/{branch}"), id, true, "test")
                .unwrap();
            id
        }

        fn tag(&self, name: &str, target: Oid, annotated: bool) {
            let object = self.repo.find_object(target, None).unwrap();
            if annotated {
                self.repo
                    .tag(name, &object, &self.sig(), name, false)
                    .unwrap();
            } else {
                self.repo.tag_lightweight(name, &object, false).unwrap();
            }
        }

        fn facts(&self) -> RepoFacts {
            repo_facts(self.dir.path()).unwrap()
        }
    }

    #[test]
    fn unborn_branch_has_no_commit() {
        let t = TestRepo::new();
        let facts = t.facts();
        assert_eq!(
            facts,
            RepoFacts {
                branch: Some("main".into()),
                ..RepoFacts::default()
            }
        );
    }

    #[test]
    fn branch_and_head_are_found_from_a_subdirectory() {
        let t = TestRepo::new();
        let a = t.commit("main", &[], "a");
        let b = t.commit("feature/Login_v2", &[a], "b");
        t.repo.set_head("refs/heads/feature/Login_v2").unwrap();
        let sub = t.dir.path().join("environments/dev");
        std::fs::create_dir_all(&sub).unwrap();
        let facts = repo_facts(&sub).unwrap();
        assert_eq!(facts.branch.as_deref(), Some("feature/Login_v2"));
        assert_eq!(facts.head_commit, Some(b.to_string()));
        assert!(facts.tags_on_head.is_empty() && facts.reachable_tags.is_empty());
    }

    #[test]
    fn detached_head_has_no_branch() {
        let t = TestRepo::new();
        let a = t.commit("main", &[], "a");
        t.repo.set_head_detached(a).unwrap();
        let facts = t.facts();
        assert_eq!(facts.branch, None);
        assert_eq!(facts.head_commit, Some(a.to_string()));
    }

    #[test]
    fn tags_are_peeled_and_measured_from_head() {
        let t = TestRepo::new();
        // a - b - c - m (HEAD, main)
        //  \         /
        //   side ----      and `unmerged` off b, never merged
        let a = t.commit("main", &[], "a");
        let b = t.commit("main", &[a], "b");
        let side = t.commit("side", &[a], "side");
        let c = t.commit("main", &[b], "c");
        let m = t.commit("main", &[c, side], "m");
        let unmerged = t.commit("unmerged", &[b], "unmerged");
        t.tag("v1.0.0", m, true);
        t.tag("v1.0.0-rc.1", m, false);
        t.tag("v0.9.0-rc.1", b, true);
        t.tag("release/old", a, false);
        t.tag("side-tag", side, true);
        t.tag("v9.0.0-rc.1", unmerged, true);
        // A tag of a tag leads to the same commit; a tag of a tree leads to none.
        let annotated = t.repo.refname_to_id("refs/tags/v0.9.0-rc.1").unwrap();
        t.tag("nested", annotated, true);
        let tree = t.repo.find_commit(a).unwrap().tree_id();
        t.tag("a-tree", tree, true);

        let facts = t.facts();
        assert_eq!(facts.branch.as_deref(), Some("main"));
        assert_eq!(facts.tags_on_head, ["v1.0.0", "v1.0.0-rc.1"]);
        let expected: Vec<(String, String, usize)> = [
            ("v1.0.0", m, 0),
            ("v1.0.0-rc.1", m, 0),
            ("side-tag", side, 1),
            ("nested", b, 2),
            ("release/old", a, 2),
            ("v0.9.0-rc.1", b, 2),
        ]
        .iter()
        .map(|(name, id, d)| (name.to_string(), id.to_string(), *d))
        .collect();
        assert_eq!(facts.reachable_tags, expected);
    }

    #[test]
    fn the_walk_covers_long_histories() {
        let t = TestRepo::new();
        let first = t.commit("main", &[], "0");
        let tree = t.repo.find_commit(first).unwrap().tree().unwrap();
        let sig = t.sig();
        let mut parent = t.repo.find_commit(first).unwrap();
        for i in 1..2000 {
            let id = t
                .repo
                .commit(None, &sig, &sig, &i.to_string(), &tree, &[&parent])
                .unwrap();
            parent = t.repo.find_commit(id).unwrap();
            if i % 100 == 0 {
                t.tag(&format!("v0.{i}.0"), id, i % 200 == 0);
            }
        }
        t.repo
            .reference("refs/heads/main", parent.id(), true, "test")
            .unwrap();
        t.tag("root", first, false);
        let facts = t.facts();
        assert_eq!(facts.reachable_tags.len(), 20);
        assert_eq!(
            facts.reachable_tags[0],
            (
                "v0.1900.0".to_string(),
                facts.reachable_tags[0].1.clone(),
                99
            )
        );
        assert_eq!(
            facts.reachable_tags[19],
            ("root".to_string(), first.to_string(), 1999)
        );
    }

    #[test]
    fn no_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = repo_facts(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, GitError::NoRepository { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("no git repository at or above "),
            "{err}"
        );
        assert!(!err.is_policy());
        assert!(err.hint().contains("--tag"));
    }
}
