//! Stage 1, load: find the environments, read their files and parse them into [`Node`] trees that keep
//! every node's origin. Hands the overlay stage a [`Layer`] per environment file and component, and the
//! parsed resources they name.
//!
//! Files are read through [`Files`], so the same code loads a working tree or a git revision.

pub mod layer;
pub mod manifests;
pub mod yaml;

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::node::{FileId, FileRole, Node, Origin, Sources};
use crate::resource::{is_cluster_scoped, Resource};

pub use layer::{Layer, LayerKind};

/// Where files come from: the disk, or a git tree.
pub trait Files {
    /// The whole file as UTF-8.
    fn read(&self, path: &Path) -> io::Result<Arc<str>>;
    fn is_dir(&self, path: &Path) -> bool;
    fn is_file(&self, path: &Path) -> bool;
    /// Every file below `dir`, at any depth, sorted by path.
    fn walk(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// The folders directly inside `dir`, sorted.
    fn subdirs(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The working tree.
pub struct DiskFiles;

impl Files for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<Arc<str>> {
        let bytes = std::fs::read(path)?;
        String::from_utf8(bytes)
            .map(Arc::from)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8"))
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
    fn walk(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry.map_err(io::Error::other)?;
            if entry.file_type().is_file() {
                out.push(entry.into_path());
            }
        }
        Ok(out)
    }
    fn subdirs(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Resolves `.` and `..` without touching the file system (paths may name git objects).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Reads and parses files, each once per run however many environments name it.
pub struct Loader<'a> {
    pub files: &'a dyn Files,
    pub sources: &'a mut Sources,
    parsed: HashMap<PathBuf, Arc<Vec<yaml::Document>>>,
}

impl<'a> Loader<'a> {
    pub fn new(files: &'a dyn Files, sources: &'a mut Sources) -> Self {
        Loader {
            files,
            sources,
            parsed: HashMap::new(),
        }
    }

    /// Registers a file's text (once) and returns its id.
    pub fn source(&mut self, path: &Path, role: FileRole) -> Result<FileId> {
        if let Some(id) = self.sources.find(path) {
            return Ok(id);
        }
        let text = self.files.read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self.sources.add(path, text, role))
    }

    /// The parsed documents of a YAML file.
    pub fn documents(&mut self, path: &Path, role: FileRole) -> Result<Arc<Vec<yaml::Document>>> {
        if let Some(docs) = self.parsed.get(path) {
            return Ok(docs.clone());
        }
        let id = self.source(path, role)?;
        let docs = Arc::new(yaml::parse(id, self.sources.get(id))?);
        self.parsed.insert(path.to_path_buf(), docs.clone());
        Ok(docs)
    }

    /// The Kubernetes objects in a file or, for a folder, in every `*.yaml`/`*.yml` below it.
    /// `named_at` is the line that named the path, for the error when it does not exist.
    pub fn resources(&mut self, path: &Path, named_at: Origin) -> Result<Vec<Resource>> {
        let files = if self.files.is_dir(path) {
            let all = self.files.walk(path).map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
            all.into_iter().filter(|p| is_yaml(p)).collect()
        } else if self.files.is_file(path) {
            vec![path.to_path_buf()]
        } else {
            return Err(Error::at(
                named_at,
                format!("`{}` does not exist", crate::node::display_path(path)),
            )
            .label("named here"));
        };
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for file in files {
            match self.documents(&file, FileRole::Resource) {
                Ok(docs) => {
                    for doc in docs.iter() {
                        match check_object(&doc.root) {
                            Ok(()) => out.push(Resource::new(doc.root.clone())),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        Error::collect(errors)?;
        Ok(out)
    }
}

/// A document must be a Kubernetes object: a mapping with `apiVersion`, `kind` and `metadata.name`.
pub fn check_object(root: &Node) -> Result<()> {
    let Some(map) = root.as_map() else {
        return Err(Error::at(
            root.origin,
            format!(
                "a Kubernetes object must be a mapping, this document is a {}",
                root.type_name()
            ),
        )
        .label("this document"));
    };
    let _ = map;
    for field in ["apiVersion", "kind"] {
        match root.get(field) {
            Some(n) if n.as_str().is_some_and(|s| !s.is_empty()) => {}
            Some(n) => {
                return Err(
                    Error::at(n.origin, format!("`{field}` must be a non-empty string"))
                        .label("here"),
                )
            }
            None => {
                return Err(
                    Error::at(root.origin, format!("this document has no `{field}`"))
                        .label("the document starts here")
                        .help("every document of a resource file must be a Kubernetes object"),
                )
            }
        }
    }
    let name = root.path(&["metadata", "name"]);
    match name {
        Some(n) if n.as_str().is_some_and(|s| !s.is_empty()) => Ok(()),
        Some(n) => {
            Err(Error::at(n.origin, "`metadata.name` must be a non-empty string").label("here"))
        }
        None => {
            let at = root
                .get("metadata")
                .map(|m| m.origin)
                .unwrap_or(root.origin);
            Err(Error::at(at, "this object has no `metadata.name`")
                .label("here")
                .help("generateName is not supported: a GitOps tree needs stable names"))
        }
    }
}

/// Two objects with one identity cannot both be applied: an error naming both places.
pub fn check_unique(resources: &[Resource]) -> Result<()> {
    let mut seen: HashMap<crate::resource::ResId, Origin> = HashMap::new();
    let mut errors = Vec::new();
    for r in resources {
        let mut id = r.id();
        if is_cluster_scoped(&id.group, &id.kind) {
            id.namespace.clear();
        }
        let here = r.name_origin();
        if let Some(first) = seen.get(&id) {
            errors.push(
                Error::at(here, format!("{id} is defined twice"))
                    .label("defined again here")
                    .related(*first, "first defined here"),
            );
        } else {
            seen.insert(id, here);
        }
    }
    Error::collect(errors)
}

/// The environments under a root: every folder that holds an `env.yaml`, by name.
pub fn find_environments(files: &dyn Files, root: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !files.is_dir(root) {
        return Err(Error::usage(format!(
            "the environments folder `{}` does not exist",
            crate::node::display_path(root)
        ))
        .help("run from the repository root, or pass --root DIR"));
    }
    let dirs = files.subdirs(root).map_err(|source| Error::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for dir in dirs {
        let env_file = dir.join("env.yaml");
        if files.is_file(&env_file) {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((name, env_file));
        }
    }
    Ok(out)
}
