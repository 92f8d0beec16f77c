//! Stage 4, render: turns an environment's resources into a [`Tree`] (stable path -> bytes), with a
//! metadata file, and writes a tree to disk as a whole or not at all. The git stage commits the same
//! [`Tree`].

pub mod emit;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::resource::{is_cluster_scoped, rendered_path, Resource};

/// The name of the metadata file at the top of a rendered tree. It has no `.yaml` or `.json` ending so
/// that Argo CD's directory source never takes it for a manifest (the name Argo CD's hydrator uses).
pub const METADATA_FILE: &str = "hydrator.metadata";

/// A rendered environment: repository-relative paths (with `/`) to file contents, in path order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, Vec<u8>>,
}

/// What the metadata file records.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    pub environment: String,
    pub source_commit: Option<String>,
    /// Image -> tag, for the images the environment owns.
    pub tags: BTreeMap<String, String>,
    pub tag_source: Option<String>,
}

/// Renders every resource to its own file, plus the metadata file.
pub fn render(resources: &[Resource], meta: &Metadata) -> Tree {
    let mut files = BTreeMap::new();
    for r in resources {
        let mut id = r.id();
        if is_cluster_scoped(&id.group, &id.kind) {
            id.namespace.clear();
        }
        files.insert(rendered_path(&id), emit::document(&r.node).into_bytes());
    }
    files.insert(
        METADATA_FILE.to_string(),
        metadata_json(meta, resources.len()).into_bytes(),
    );
    Tree { files }
}

fn metadata_json(meta: &Metadata, count: usize) -> String {
    let value = serde_json::json!({
        "environment": meta.environment,
        "drySha": meta.source_commit,
        "resources": count,
        "tags": meta.tags,
        "tagSource": meta.tag_source,
        "tool": format!("openim-gitops {}", env!("CARGO_PKG_VERSION")),
    });
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}

/// Replaces `dir` with `tree` as a whole: the tree is written to a sibling temporary folder, which then
/// takes the old folder's place. A failure (or a kill) before the swap leaves the old tree untouched; the
/// next run removes any leftover temporary folder. Files of resources that no longer exist disappear.
///
/// Incremental: when `dir` already holds exactly `tree`, nothing is written at all; otherwise a file
/// whose bytes are unchanged is a hard link to the old one (same inode, same modification time), and
/// only changed or new files are written.
pub fn write_tree(tree: &Tree, dir: &Path) -> Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::usage(format!("`{}` is not a folder name", dir.display())))?;
    fs::create_dir_all(&parent).map_err(|source| Error::Write {
        path: parent.clone(),
        source,
    })?;
    let staging = parent.join(format!(".{name}.openim-gitops-new"));
    let retired = parent.join(format!(".{name}.openim-gitops-old"));
    for leftover in [&staging, &retired] {
        if leftover.exists() {
            fs::remove_dir_all(leftover).map_err(|source| Error::Write {
                path: leftover.to_path_buf(),
                source,
            })?;
        }
    }
    let same = unchanged_files(tree, dir);
    if same.iter().all(|s| *s) && holds_only(dir, tree) {
        return Ok(());
    }
    let result = (|| {
        fs::create_dir_all(&staging).map_err(|source| Error::Write {
            path: staging.clone(),
            source,
        })?;
        write_files(tree, &staging, dir, &same)
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    let had_old = dir.exists();
    if had_old {
        fs::rename(dir, &retired).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    if let Err(source) = fs::rename(&staging, dir) {
        if had_old {
            let _ = fs::rename(&retired, dir);
        }
        let _ = fs::remove_dir_all(&staging);
        return Err(Error::Write {
            path: dir.to_path_buf(),
            source,
        });
    }
    if had_old {
        let _ = fs::remove_dir_all(&retired);
    }
    Ok(())
}

/// How many threads touch files: creating, linking and reading small files is bound by the file
/// system's latency rather than by the CPU.
fn file_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(4)
        .clamp(1, 16)
}

/// For each file of `tree`, in order: whether `dir` holds it as a regular file with the same bytes.
fn unchanged_files(tree: &Tree, dir: &Path) -> Vec<bool> {
    let files: Vec<(&String, &Vec<u8>)> = tree.files.iter().collect();
    if !dir.is_dir() {
        return vec![false; files.len()];
    }
    let chunk = files.len().div_ceil(file_threads()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(rel, bytes)| {
                            let path = dir.join(rel);
                            // A link is never taken for a file: only what a render wrote counts.
                            fs::symlink_metadata(&path)
                                .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
                                && fs::read(&path).is_ok_and(|old| old == **bytes)
                        })
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        let mut same = Vec::with_capacity(files.len());
        for h in handles {
            match h.join() {
                Ok(part) => same.extend(part),
                // Unknown: write every file.
                Err(_) => return vec![false; files.len()],
            }
        }
        same
    })
}

/// Whether `dir` holds no file (or link, or anything but folders) outside `tree`.
fn holds_only(dir: &Path, tree: &Tree) -> bool {
    let mut count = 0usize;
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let Ok(entry) = entry else {
            return false;
        };
        if entry.file_type().is_dir() {
            continue;
        }
        count += 1;
        if count > tree.files.len() {
            return false;
        }
    }
    // Every tree file was found in `dir`, so equal counts mean nothing else is there.
    count == tree.files.len()
}

/// Writes every file of a tree below `staging`: the folders first, then the files from a few threads.
/// A file marked unchanged is a hard link to its copy in `old` (written again where linking fails).
fn write_files(tree: &Tree, staging: &Path, old: &Path, same: &[bool]) -> Result<()> {
    let folders: std::collections::BTreeSet<PathBuf> = tree
        .files
        .keys()
        .filter_map(|rel| Path::new(rel).parent().map(|p| staging.join(p)))
        .collect();
    for f in &folders {
        fs::create_dir_all(f).map_err(|source| Error::Write {
            path: f.clone(),
            source,
        })?;
    }
    let files: Vec<((&String, &Vec<u8>), bool)> =
        tree.files.iter().zip(same.iter().copied()).collect();
    let chunk = files.len().div_ceil(file_threads()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<()> {
                    for ((rel, bytes), same) in part {
                        let path = staging.join(rel);
                        if *same && fs::hard_link(old.join(rel), &path).is_ok() {
                            continue;
                        }
                        fs::write(&path, bytes).map_err(|source| Error::Write { path, source })?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| Error::usage("a thread writing the rendered tree failed"))??;
        }
        Ok(())
    })
}
