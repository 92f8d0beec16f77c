//! What `promote` reads from the rendered branches: which DRY commit an environment was tested at (the
//! note on its tip, else its `hydrator.metadata`), every DRY commit it was ever rendered at, the DRY
//! commits between two renders, and a branch's files as a [`Tree`].

use std::collections::BTreeSet;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use crate::error::{Error, Result};
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

/// The metadata file at the root of a commit, read.
pub fn metadata_at(repo: &Repository, commit: Oid) -> Result<Option<HydratorMetadata>> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| git_error("cannot read a rendered commit", e))?;
    let Ok(entry) = tree.get_path(std::path::Path::new(METADATA_FILE)) else {
        return Ok(None);
    };
    let blob = repo
        .find_blob(entry.id())
        .map_err(|e| git_error("cannot read hydrator.metadata", e))?;
    Ok(HydratorMetadata::parse(blob.content()))
}

/// The DRY commit a hydrated commit stands for: its note (the newest DRY commit rendered to it), else
/// the `drySha` of its metadata.
pub fn dry_of(repo: &Repository, hydrated: Oid) -> Result<Option<String>> {
    if let Some(sha) = notes::read(repo, hydrated)? {
        return Ok(Some(sha));
    }
    Ok(metadata_at(repo, hydrated)?.and_then(|m| m.dry_sha))
}

/// The newest render on `branch`; `None` when the branch does not exist.
pub fn newest(repo: &Repository, branch: &str) -> Result<Option<Rendered>> {
    let Some(tip) = local_tip(repo, branch)? else {
        return Ok(None);
    };
    let Some(dry) = dry_of(repo, tip)? else {
        return Err(Error::Git(format!(
            "{branch} at {} names no DRY commit: it has neither a hydrator note nor a drySha in hydrator.metadata",
            &tip.to_string()[..12]
        )));
    };
    Ok(Some(Rendered {
        hydrated: tip,
        dry,
        metadata: metadata_at(repo, tip)?,
    }))
}

/// Every DRY commit `branch` was rendered at, from the metadata and the notes of its whole history.
pub fn rendered_dry_commits(repo: &Repository, branch: &str) -> Result<BTreeSet<String>> {
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
        if let Some(sha) = notes::read(repo, id)? {
            out.insert(sha);
        }
        if let Some(sha) = metadata_at(repo, id)?.and_then(|m| m.dry_sha) {
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

/// The files of a commit as a rendered [`Tree`] (paths with `/`).
pub fn tree_at(repo: &Repository, commit: Oid) -> Result<Tree> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| git_error("cannot read a rendered commit", e))?;
    let mut out = Tree::default();
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
