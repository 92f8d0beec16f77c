//! Stage 4, render: turns an environment's resources into a [`Tree`] (stable path -> bytes), with a
//! metadata file, and writes a tree to disk as a whole or not at all. The git stage commits the same
//! [`Tree`].

pub mod emit;
pub mod names;
pub mod write;

use std::collections::BTreeMap;

pub use names::check_names;
pub use write::{write_tree, OutDir};

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
