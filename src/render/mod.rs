//! Stage 4, render: turns an environment's resources into a [`Tree`] (stable path -> bytes), with a
//! metadata file, and writes a tree to disk as a whole or not at all. The git stage commits the same
//! [`Tree`].

pub mod emit;
pub mod hydrator;

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
    /// The DRY commit's author, date and message, when it is known.
    pub dry: Option<hydrator::DryCommit>,
    /// The repository's URL without credentials (the remote the push goes to, else `origin`).
    pub repo_url: Option<String>,
    /// Other commits the render depends on (`promote`: the tested commit of the source environment).
    pub references: Vec<hydrator::Reference>,
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
    hydrator::HydratorMetadata::new(meta, count).to_json()
}

/// Replaces `dir` with `tree` as a whole: the tree is written to a sibling temporary folder, which then
/// takes the old folder's place. A failure (or a kill) before the swap leaves the old tree untouched; the
/// next run removes any leftover temporary folder. Files of resources that no longer exist disappear.
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
    let result = (|| {
        fs::create_dir_all(&staging).map_err(|source| Error::Write {
            path: staging.clone(),
            source,
        })?;
        write_files(tree, &staging)
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

/// Writes every file of a tree below `dir`: the folders first, then the files from a few threads, since
/// creating many small files is bound by the file system's latency rather than by the CPU.
fn write_files(tree: &Tree, dir: &Path) -> Result<()> {
    let folders: std::collections::BTreeSet<PathBuf> = tree
        .files
        .keys()
        .filter_map(|rel| Path::new(rel).parent().map(|p| dir.join(p)))
        .collect();
    for f in &folders {
        fs::create_dir_all(f).map_err(|source| Error::Write {
            path: f.clone(),
            source,
        })?;
    }
    let files: Vec<(&String, &Vec<u8>)> = tree.files.iter().collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(4)
        .clamp(1, 16);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<()> {
                    for (rel, bytes) in part {
                        let path = dir.join(rel);
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
