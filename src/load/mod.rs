//! Stage 1, load: find the environments, read their files and parse them into [`Node`] trees that keep
//! every node's origin. Hands the overlay stage a [`Layer`] per environment file and component, and the
//! parsed resources they name.
//!
//! Files are read through [`Files`], so the same code loads a working tree or a git revision.

pub mod commit;
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
    /// The root of the repository that holds an environment file: every path its inputs name must stay
    /// inside it.
    fn repository_root(&self, env_file: &Path) -> PathBuf;
    /// Whether `path` stays inside `root`: not outside it (after `..` and symbolic links), not in `.git/`.
    fn confine(&self, root: &Path, path: &Path) -> std::result::Result<(), Escape>;
}

/// Why a path an input names may not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// An absolute path: inputs name files relative to the file that names them.
    Absolute,
    /// Outside the repository, with `..` past its root.
    Outside,
    /// Through a symbolic link that leads out of the repository.
    Symlink,
    /// Into the repository's `.git/` folder (its configuration holds credentials).
    GitDir,
}

impl Escape {
    pub fn describe(self) -> &'static str {
        match self {
            Escape::Absolute => "is an absolute path",
            Escape::Outside => "leads outside the repository",
            Escape::Symlink => "goes through a symbolic link that leads outside the repository",
            Escape::GitDir => "leads into the repository's `.git` folder",
        }
    }
}

/// True when a path, taken relative to the repository root, enters `.git`.
pub(crate) fn enters_git_dir(rel: &Path) -> bool {
    rel.components()
        .any(|c| matches!(c, Component::Normal(n) if n.eq_ignore_ascii_case(".git")))
}

/// `path` made absolute against the working directory and normalized, without touching the disk.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        normalize(&cwd.join(path))
    }
}

/// The working tree.
pub struct DiskFiles;

impl Files for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<Arc<str>> {
        // Only regular files, and not past the parser's limit: a FIFO or a device would block or never end.
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        if meta.len() > yaml::MAX_FILE_BYTES as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the file is larger than the {} MiB a file may have",
                    yaml::MAX_FILE_BYTES / (1024 * 1024)
                ),
            ));
        }
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
    /// The nearest folder above the environment file that holds `.git`; without one, the parent of the
    /// environments folder (`<parent>/<root>/<env>/env.yaml`).
    fn repository_root(&self, env_file: &Path) -> PathBuf {
        // The folder is resolved, not the file: a linked env.yaml must not move the root.
        let file = absolute(env_file);
        let file = match (file.parent(), file.file_name()) {
            (Some(dir), Some(name)) => dir.canonicalize().map_or(file.clone(), |d| d.join(name)),
            _ => file,
        };
        let mut dir = file.parent();
        while let Some(d) = dir {
            if d.join(".git").exists() {
                return d.to_path_buf();
            }
            dir = d.parent();
        }
        file.ancestors()
            .nth(3)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"))
    }
    fn confine(&self, root: &Path, path: &Path) -> std::result::Result<(), Escape> {
        // The nearest existing prefix resolved on disk (a link anywhere along the path could lead out),
        // and the rest as written.
        let abs = absolute(path);
        let real = abs
            .ancestors()
            .find_map(|prefix| {
                let real = prefix.canonicalize().ok()?;
                Some(real.join(abs.strip_prefix(prefix).ok()?))
            })
            .unwrap_or_else(|| abs.clone());
        match real.strip_prefix(root) {
            Ok(rel) if enters_git_dir(rel) => Err(Escape::GitDir),
            Ok(_) => Ok(()),
            Err(_) if abs.starts_with(root) => Err(Escape::Symlink),
            Err(_) => Err(Escape::Outside),
        }
    }
}

pub use crate::node::normalize;

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
    /// The repository root of the environment being loaded: every path its files name stays inside.
    root: Option<PathBuf>,
}

impl<'a> Loader<'a> {
    pub fn new(files: &'a dyn Files, sources: &'a mut Sources) -> Self {
        Loader {
            files,
            sources,
            parsed: HashMap::new(),
            root: None,
        }
    }

    /// Starts loading an environment: the paths its files name are confined to its repository.
    pub fn enter_environment(&mut self, env_file: &Path) -> Result<()> {
        let root = self.files.repository_root(env_file);
        if let Err(e) = self.files.confine(&root, env_file) {
            return Err(Error::usage(format!(
                "the environment file `{}` {}",
                crate::node::display_path(env_file),
                e.describe()
            ))
            .help("inputs are read only from inside the repository (docs/security.md)"));
        }
        self.root = Some(root);
        Ok(())
    }

    /// Refuses a path named at `named_at` (as `written`) that leaves the repository. The error names the
    /// path as written and never reads the file.
    pub fn confine(&self, path: &Path, written: &str, named_at: Origin) -> Result<()> {
        let escape = if Path::new(written).is_absolute() || written.starts_with(['/', '\\']) {
            Some(Escape::Absolute)
        } else {
            let root = match &self.root {
                Some(r) => r.clone(),
                None => self.files.repository_root(path),
            };
            self.files.confine(&root, path).err()
        };
        match escape {
            None => Ok(()),
            Some(e) => Err(Error::at(named_at, format!("`{written}` {}", e.describe()))
                .label("named here")
                .help("inputs are read only from inside the repository, never from `.git` or through a link out of it (docs/security.md)")),
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

    /// The parsed documents of a file read once (the manifests of `check PATHS`): owned, so that the
    /// caller keeps the trees without copying them, and not kept for a later call.
    pub fn documents_once(&mut self, path: &Path, role: FileRole) -> Result<Vec<yaml::Document>> {
        if let Some(docs) = self.parsed.get(path) {
            return Ok(docs.iter().map(yaml::Document::clone).collect());
        }
        let id = self.source(path, role)?;
        yaml::parse(id, self.sources.get(id))
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
    // Keyed by borrowed names, sized once: a tree of 10,000 objects is checked twice per compile.
    let mut seen: HashMap<(&str, &str, &str, std::borrow::Cow<'_, str>), Origin> =
        HashMap::with_capacity(resources.len());
    let mut errors = Vec::new();
    for r in resources {
        let (group, kind) = (r.group(), r.kind());
        let namespace = if is_cluster_scoped(group, kind) {
            ""
        } else {
            r.namespace()
        };
        // As [`Resource::id`] names it: a `generateName` prefix with a `*`.
        let name = match r.node.str_at(&["metadata", "name"]) {
            Some(n) => n.into(),
            None => match r.node.str_at(&["metadata", "generateName"]) {
                Some(prefix) if !prefix.is_empty() => format!("{prefix}*").into(),
                _ => "".into(),
            },
        };
        let here = r.name_origin();
        match seen.entry((group, kind, namespace, name)) {
            std::collections::hash_map::Entry::Occupied(first) => {
                let mut id = r.id();
                if is_cluster_scoped(&id.group, &id.kind) {
                    id.namespace.clear();
                }
                errors.push(
                    Error::at(here, format!("{id} is defined twice"))
                        .label("defined again here")
                        .related(*first.get(), "first defined here"),
                );
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(here);
            }
        }
    }
    Error::collect(errors)
}

/// The environments under a root: every folder that holds an `env.yaml`, by name.
pub fn find_environments(files: &dyn Files, root: &Path) -> Result<Vec<(String, PathBuf)>> {
    if !files.is_dir(root) {
        let looked = std::env::current_dir()
            .map(|cwd| cwd.join(root))
            .unwrap_or_else(|_| root.to_path_buf());
        return Err(Error::usage(format!(
            "the environments folder `{}` does not exist: looked for {}",
            crate::node::display_path(root),
            looked.display()
        ))
        .help("run inside the repository (a folder below its git work tree, or below a folder holding environments/), or pass --root DIR"));
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
