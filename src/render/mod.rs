//! Stage 4, render: turns an environment's resources into a [`Tree`] (stable path -> bytes), with a
//! metadata file, and writes a tree to disk as a whole or not at all. The git stage commits the same
//! [`Tree`].

pub mod emit;
pub mod hydrator;
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
        files.insert(path_of(r), emit::document(&r.node).into_bytes());
    }
    files.insert(
        METADATA_FILE.to_string(),
        metadata_json(meta, resources.len()).into_bytes(),
    );
    Tree { files }
}

/// The path of a resource's file in the rendered tree.
pub fn path_of(r: &Resource) -> String {
    let mut id = r.id();
    if is_cluster_scoped(&id.group, &id.kind) {
        id.namespace.clear();
    }
    rendered_path(&id)
}

fn metadata_json(meta: &Metadata, count: usize) -> String {
    hydrator::HydratorMetadata::new(meta, count).to_json()
}
