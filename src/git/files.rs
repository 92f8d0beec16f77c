//! A commit's tree read as [`Files`]: the load stage reads a revision exactly as it reads the working
//! tree, with no checkout. Paths are taken as the working tree would have them (relative to the process's
//! working directory, or absolute) and mapped to paths inside the repository.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{ObjectType, Oid, Repository, Tree};

use crate::error::{Error, Result};
use crate::load::{enters_git_dir, normalize, Escape, Files};

use super::git_error;

/// The files of one commit.
pub struct GitFiles {
    repo: Repository,
    commit: Oid,
    tree: Oid,
    /// The repository's working directory and the process's, both canonical, to map paths.
    workdir: PathBuf,
    cwd: PathBuf,
}

/// Opens the repository that holds `start` (or the working directory, when `start` does not exist on
/// disk, as a folder deleted since the revision would not).
pub fn discover(start: &Path) -> Result<Repository> {
    let from = if start.exists() {
        start.to_path_buf()
    } else {
        PathBuf::from(".")
    };
    Repository::discover(&from).map_err(|e| {
        Error::usage(format!(
            "no git repository at or above `{}`: {}",
            crate::node::display_path(&from),
            e.message()
        ))
        .help("run inside the repository that holds the environments")
    })
}

/// The commit a revision names (`HEAD`, a branch, a tag, `origin/main`, `HEAD~2`, a commit id).
pub fn resolve(repo: &Repository, rev: &str) -> Result<Oid> {
    let object = repo.revparse_single(rev).map_err(|e| {
        Error::usage(format!("`{rev}` names no revision here: {}", e.message()))
            .help("give a branch, a tag or a commit id; fetch first if it is a remote branch")
    })?;
    let commit = object
        .peel_to_commit()
        .map_err(|e| Error::usage(format!("`{rev}` names no commit: {}", e.message())))?;
    Ok(commit.id())
}

impl GitFiles {
    /// The files of `rev` in the repository that holds `start`.
    pub fn open(start: &Path, rev: &str) -> Result<GitFiles> {
        let repo = discover(start)?;
        let commit = resolve(&repo, rev)?;
        GitFiles::at(repo, commit)
    }

    /// The files of `commit` in `repo`.
    pub fn at(repo: Repository, commit: Oid) -> Result<GitFiles> {
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|e| git_error("cannot read the commit's tree", e))?
            .id();
        let workdir = repo.workdir().map(Path::to_path_buf).ok_or_else(|| {
            Error::usage("the repository is bare: it has no working directory to map paths from")
        })?;
        let workdir = workdir.canonicalize().unwrap_or(workdir);
        let cwd = std::env::current_dir().map_err(|source| Error::Read {
            path: PathBuf::from("."),
            source,
        })?;
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        Ok(GitFiles {
            repo,
            commit,
            tree,
            workdir,
            cwd,
        })
    }

    /// The files of `rev` in an already open repository (opened again: a `GitFiles` owns its handle).
    pub fn open_rev(repo: &Repository, rev: &str) -> Result<GitFiles> {
        let commit = resolve(repo, rev)?;
        let handle = Repository::open(repo.path())
            .map_err(|e| git_error("cannot open the repository again", e))?;
        GitFiles::at(handle, commit)
    }

    /// Another handle on the repository read, to write to it.
    pub fn reopen(&self) -> Result<Repository> {
        Repository::open(self.repo.path())
            .map_err(|e| git_error("cannot open the repository again", e))
    }

    /// The full id of the commit read.
    pub fn commit_id(&self) -> String {
        self.commit.to_string()
    }

    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    /// The path inside the repository, or `None` for a path outside it.
    fn inside(&self, path: &Path) -> Option<PathBuf> {
        let abs = normalize(&self.cwd.join(path));
        abs.strip_prefix(&self.workdir).ok().map(Path::to_path_buf)
    }

    fn root(&self) -> io::Result<Tree<'_>> {
        self.repo.find_tree(self.tree).map_err(io_error)
    }

    /// Whether the commit `other` holds the same object as the commit read at each of `paths` (or
    /// lacks it as this one does). A path outside the repository is never the same.
    pub fn same_entries_at(&self, other: Oid, paths: &[&Path]) -> Result<bool> {
        let other = self
            .repo
            .find_commit(other)
            .and_then(|c| c.tree())
            .map_err(|e| git_error("cannot read a commit's tree", e))?;
        for path in paths {
            let Some(rel) = self.inside(path) else {
                return Ok(false);
            };
            let theirs = if rel.as_os_str().is_empty() {
                Some(other.id())
            } else {
                other.get_path(&rel).ok().map(|e| e.id())
            };
            if self.object(path).map(|(_, id, _)| id) != theirs {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The object at a path: its type and id. The repository's root is its root tree.
    fn object(&self, path: &Path) -> Option<(ObjectType, Oid, i32)> {
        let rel = self.inside(path)?;
        if enters_git_dir(&rel) {
            return None;
        }
        let root = self.root().ok()?;
        if rel.as_os_str().is_empty() {
            return Some((ObjectType::Tree, root.id(), 0o040000));
        }
        let entry = root.get_path(&rel).ok()?;
        Some((entry.kind()?, entry.id(), entry.filemode()))
    }

    fn subtree(&self, dir: &Path) -> io::Result<Tree<'_>> {
        match self.object(dir) {
            Some((ObjectType::Tree, id, _)) => self.repo.find_tree(id).map_err(io_error),
            _ => Err(not_found(dir, self.commit)),
        }
    }

    fn walk_into(&self, tree: &Tree<'_>, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        // Sorted by name at each level, as `DiskFiles` walks (git orders folders as if named `dir/`).
        let mut entries: Vec<_> = tree.iter().collect();
        entries.sort_by(|a, b| a.name_bytes().cmp(b.name_bytes()));
        for entry in entries {
            let path = dir.join(String::from_utf8_lossy(entry.name_bytes()).as_ref());
            match entry.kind() {
                Some(ObjectType::Blob) if is_regular(entry.filemode()) => out.push(path),
                Some(ObjectType::Tree) => {
                    let sub = self.repo.find_tree(entry.id()).map_err(io_error)?;
                    self.walk_into(&sub, &path, out)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// How many paths of the working tree differ from HEAD (modified, staged, deleted, or new and not
/// ignored): what a render from the working tree would hold that HEAD does not.
pub fn uncommitted_changes(repo: &Repository) -> Result<usize> {
    if repo.is_bare() {
        return Ok(0);
    }
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut options))
        .map_err(|e| git_error("cannot read the working tree's status", e))?;
    Ok(statuses.len())
}

/// A regular file, executable or not (symbolic links and submodules are not followed).
fn is_regular(mode: i32) -> bool {
    mode == 0o100644 || mode == 0o100755
}

fn io_error(e: git2::Error) -> io::Error {
    io::Error::other(e.message().to_string())
}

fn not_found(path: &Path, commit: Oid) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "`{}` is not in commit {}",
            crate::node::display_path(path),
            &commit.to_string()[..12]
        ),
    )
}

impl Files for GitFiles {
    fn read(&self, path: &Path) -> io::Result<Arc<str>> {
        let Some((ObjectType::Blob, id, mode)) = self.object(path) else {
            return Err(not_found(path, self.commit));
        };
        if !is_regular(mode) {
            return Err(not_found(path, self.commit));
        }
        let blob = self.repo.find_blob(id).map_err(io_error)?;
        std::str::from_utf8(blob.content())
            .map(Arc::from)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8"))
    }

    fn is_dir(&self, path: &Path) -> bool {
        matches!(self.object(path), Some((ObjectType::Tree, _, _)))
    }

    fn is_file(&self, path: &Path) -> bool {
        matches!(self.object(path), Some((ObjectType::Blob, _, mode)) if is_regular(mode))
    }

    fn walk(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let tree = self.subtree(dir)?;
        let mut out = Vec::new();
        self.walk_into(&tree, dir, &mut out)?;
        Ok(out)
    }

    fn subdirs(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let tree = self.subtree(dir)?;
        let mut out: Vec<PathBuf> = tree
            .iter()
            .filter(|e| e.kind() == Some(ObjectType::Tree))
            .map(|e| dir.join(String::from_utf8_lossy(e.name_bytes()).as_ref()))
            .collect();
        out.sort();
        Ok(out)
    }

    fn repository_root(&self, _env_file: &Path) -> PathBuf {
        self.workdir.clone()
    }

    /// A commit's tree has no `..` and no `.git`; a symbolic link in it is a blob that is never followed,
    /// but naming one is refused as the working tree refuses a link out.
    fn confine(&self, _root: &Path, path: &Path) -> std::result::Result<(), Escape> {
        let rel = self.inside(path).ok_or(Escape::Outside)?;
        if enters_git_dir(&rel) {
            return Err(Escape::GitDir);
        }
        let Ok(root) = self.root() else {
            return Ok(());
        };
        let mut prefix = PathBuf::new();
        for c in rel.components() {
            prefix.push(c);
            match root.get_path(&prefix) {
                Ok(entry) if entry.filemode() == 0o120000 => return Err(Escape::Symlink),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }
}
