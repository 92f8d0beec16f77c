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
    let write = |path: &Path, bytes: &[u8]| -> Result<()> {
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(|source| Error::Write {
                path: p.to_path_buf(),
                source,
            })?;
        }
        fs::write(path, bytes).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    let result = (|| {
        fs::create_dir_all(&staging).map_err(|source| Error::Write {
            path: staging.clone(),
            source,
        })?;
        for (rel, bytes) in &tree.files {
            write(&staging.join(rel), bytes)?;
        }
        Ok(())
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
