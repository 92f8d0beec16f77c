//! What `promote` reads from the rendered branches: which DRY commit an environment was tested at (the
//! note on its tip, else its `hydrator.metadata`), every DRY commit it was ever rendered at, the DRY
//! commits between two renders, and a branch's files as a [`Tree`]. An environment in a folder of a
//! shared branch (path mode) is read from that folder, its `hydrator.metadata` only.

use std::collections::BTreeSet;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::error::{Error, Result};
use crate::load::commit::BranchPath;
use crate::render::hydrator::HydratorMetadata;
use crate::render::{Tree, METADATA_FILE};

use super::commit::local_tip;
use super::{git_error, notes};

/// An environment's newest render: its hydrated commit and the DRY commit it was rendered at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub hydrated: Oid,
    pub dry: String,
    pub metadata: Option<HydratorMetadata>,
}

/// Where on a rendered branch an environment is: the whole branch, or one folder of it (path mode).
pub type Folder<'a> = Option<&'a BranchPath>;

fn in_folder(folder: Folder<'_>, name: &str) -> String {
    match folder {
        Some(f) => format!("{f}/{name}"),
        None => name.to_string(),
    }
}

/// The metadata file at the root of a commit (or of its folder), read.
pub fn metadata_at(
    repo: &Repository,
    commit: Oid,
    folder: Folder<'_>,
) -> Result<Option<HydratorMetadata>> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| git_error("cannot read a rendered commit", e))?;
    let Ok(entry) = tree.get_path(std::path::Path::new(&in_folder(folder, METADATA_FILE))) else {
        return Ok(None);
    };
    let blob = repo
        .find_blob(entry.id())
        .map_err(|e| git_error("cannot read hydrator.metadata", e))?;
    Ok(HydratorMetadata::parse(blob.content()))
}

/// The DRY commit a hydrated commit stands for: its note (the newest DRY commit rendered to it), else
/// the `drySha` of its metadata. In a folder of a shared branch only the folder's metadata counts: the
/// note on a commit there may have been moved by another environment's render.
pub fn dry_of(repo: &Repository, hydrated: Oid, folder: Folder<'_>) -> Result<Option<String>> {
    if folder.is_none() {
        if let Some(sha) = notes::read(repo, hydrated)? {
            return Ok(Some(sha));
        }
    }
    Ok(metadata_at(repo, hydrated, folder)?.and_then(|m| m.dry_sha))
}

/// The newest render on `branch` (in `folder`); `None` when the branch does not exist, or the folder
/// is not on it.
pub fn newest(repo: &Repository, branch: &str, folder: Folder<'_>) -> Result<Option<Rendered>> {
    let Some(tip) = local_tip(repo, branch)? else {
        return Ok(None);
    };
    let Some(dry) = dry_of(repo, tip, folder)? else {
        if let Some(f) = folder {
            if !has_path(repo, tip, f.as_str())? {
                return Ok(None);
            }
        }
        return Err(Error::Git(format!(
            "{branch} at {} names no DRY commit: it has neither a hydrator note nor a drySha in {}",
            &tip.to_string()[..12],
            in_folder(folder, METADATA_FILE)
        )));
    };
    Ok(Some(Rendered {
        hydrated: tip,
        dry,
        metadata: metadata_at(repo, tip, folder)?,
    }))
}

fn has_path(repo: &Repository, commit: Oid, path: &str) -> Result<bool> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| git_error("cannot read a rendered commit", e))?;
    Ok(tree.get_path(std::path::Path::new(path)).is_ok())
}

/// Every DRY commit `branch` (its `folder`) was rendered at, from the metadata and the notes of its
/// whole history (the folder's metadata only, in path mode).
pub fn rendered_dry_commits(
    repo: &Repository,
    branch: &str,
    folder: Folder<'_>,
) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let Some(tip) = local_tip(repo, branch)? else {
        return Ok(out);
    };
    let mut walk = repo
        .revwalk()
        .map_err(|e| git_error("cannot walk the history", e))?;
    walk.push(tip)
        .map_err(|e| git_error("cannot walk the history", e))?;
    for id in walk {
        let id = id.map_err(|e| git_error("cannot walk the history", e))?;
        if folder.is_none() {
            if let Some(sha) = notes::read(repo, id)? {
                out.insert(sha);
            }
        }
        if let Some(sha) = metadata_at(repo, id, folder)?.and_then(|m| m.dry_sha) {
            out.insert(sha);
        }
    }
    Ok(out)
}

/// A DRY commit, as a pull request lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryEntry {
    pub sha: String,
    pub subject: String,
    pub author: String,
}

/// The DRY commits in `to` and not in `from` (all of `to`'s history without `from`), newest first.
pub fn dry_commits_between(
    repo: &Repository,
    from: Option<&str>,
    to: &str,
) -> Result<Vec<DryEntry>> {
    let walk_err = |e| git_error("cannot walk the DRY history", e);
    let mut walk = repo.revwalk().map_err(walk_err)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .map_err(walk_err)?;
    walk.push(Oid::from_str(to).map_err(walk_err)?)
        .map_err(walk_err)?;
    if let Some(from) = from {
        if let Ok(id) = Oid::from_str(from) {
            // A DRY commit the repository does not hold (another clone's) hides nothing.
            if repo.find_commit(id).is_ok() {
                walk.hide(id).map_err(walk_err)?;
            }
        }
    }
    let mut out = Vec::new();
    for id in walk {
        let id = id.map_err(walk_err)?;
        let c = repo.find_commit(id).map_err(walk_err)?;
        let author = c.author();
        out.push(DryEntry {
            sha: id.to_string(),
            subject: String::from_utf8_lossy(c.summary_bytes().unwrap_or_default()).into_owned(),
            author: format!(
                "{} <{}>",
                String::from_utf8_lossy(author.name_bytes()),
                String::from_utf8_lossy(author.email_bytes())
            ),
        });
    }
    Ok(out)
}

/// The files of a commit (of its `folder`, paths relative to it) as a rendered [`Tree`] (paths with
/// `/`); empty when the folder is not there.
pub fn tree_at(repo: &Repository, commit: Oid, folder: Folder<'_>) -> Result<Tree> {
    let mut tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| git_error("cannot read a rendered commit", e))?;
    let mut out = Tree::default();
    if let Some(f) = folder {
        match tree.get_path(std::path::Path::new(f.as_str())) {
            Ok(e) if e.kind() == Some(ObjectType::Tree) => {
                tree = repo
                    .find_tree(e.id())
                    .map_err(|e| git_error("cannot read a rendered tree", e))?;
            }
            _ => return Ok(out),
        }
    }
    let mut failed = None;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            match repo.find_blob(entry.id()) {
                Ok(blob) => {
                    let name = String::from_utf8_lossy(entry.name_bytes());
                    out.files
                        .insert(format!("{dir}{name}"), blob.content().to_vec());
                }
                Err(e) => {
                    failed = Some(e);
                    return TreeWalkResult::Abort;
                }
            }
        }
        TreeWalkResult::Ok
    })
    .map_err(|e| git_error("cannot read a rendered tree", e))?;
    match failed {
        Some(e) => Err(git_error("cannot read a rendered file", e)),
        None => Ok(out),
    }
}
