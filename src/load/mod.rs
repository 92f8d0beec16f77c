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

/// Files up to this size are read through a buffer kept between reads.
const KEPT_READ_BUFFER: usize = 1024 * 1024;

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the file is larger than the {} MiB a file may have",
            yaml::MAX_FILE_BYTES / (1024 * 1024)
        ),
    )
}

/// Opens a file for reading, and its size, refusing anything but a regular file before a byte is read:
/// a FIFO or a device would block or never end. On Linux the path is looked up once: the file is opened
/// without waiting (a FIFO's `open` would wait for a writer) and without becoming a controlling
/// terminal, and its type is asked of the open file.
fn open_regular(path: &Path) -> io::Result<(std::fs::File, u64)> {
    #[cfg(target_os = "linux")]
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?
    };
    #[cfg(not(target_os = "linux"))]
    let file = {
        if !std::fs::metadata(path)?.is_file() {
            return Err(not_regular());
        }
        std::fs::File::open(path)?
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    Ok((file, meta.len()))
}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// Appends a regular file's bytes to `buf`: the `len` bytes its metadata gave (a file that grows
/// meanwhile is read as it was, and never past the limit), or, for a file that reports no size (the
/// kernel's own files), up to the limit and one byte more, so that a longer one is refused.
fn read_regular(file: &mut std::fs::File, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read;
    if len == 0 {
        let limit = yaml::MAX_FILE_BYTES as u64 + 1;
        file.take(limit).read_to_end(buf)?;
        if buf.len() > yaml::MAX_FILE_BYTES {
            return Err(too_large());
        }
        return Ok(());
    }
    let len = len as usize;
    buf.resize(len, 0);
    let mut filled = 0;
    while filled < len {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(())
}

/// The regular files (`false`) and folders (`true`) directly inside `dir`, sorted by name. Sorted by
/// the names alone: comparing whole paths parses them into components at every comparison.
fn listing(dir: &Path) -> io::Result<Vec<(PathBuf, bool)>> {
    let failed = |path: &Path, e: io::Error| {
        io::Error::other(format!("IO error for operation on {}: {e}", path.display()))
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| failed(dir, e))? {
        let entry = entry.map_err(io::Error::other)?;
        let kind = entry.file_type().map_err(|e| failed(&entry.path(), e))?;
        if kind.is_file() || kind.is_dir() {
            entries.push((entry.file_name(), kind.is_dir()));
        }
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(entries
        .into_iter()
        .map(|(name, is_dir)| (dir.join(name), is_dir))
        .collect())
}

/// The working tree.
pub struct DiskFiles;

impl Files for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<Arc<str>> {
        let (mut file, len) = open_regular(path)?;
        if len > yaml::MAX_FILE_BYTES as u64 {
            return Err(too_large());
        }
        // Read into a buffer the thread keeps (one allocation per file, for the text itself, and no
        // fresh pages per file), then copied once into the shared text.
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            read_regular(&mut file, len, &mut buf)?;
            let text = std::str::from_utf8(&buf)
                .map(Arc::from)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8"));
            // A big file's buffer is not kept for the rest of the run.
            if buf.capacity() > KEPT_READ_BUFFER {
                *buf = Vec::new();
            }
            text
        })
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }
    fn walk(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        // Depth first, each folder's entries by name: the order of walkdir's `sort_by_file_name`.
        // The types come from the folder listings (no metadata call per file); symbolic links are
        // neither followed nor listed.
        let mut out = Vec::new();
        let mut stack = vec![listing(dir)?.into_iter()];
        while let Some(top) = stack.last_mut() {
            match top.next() {
                None => {
                    stack.pop();
                }
                Some((path, true)) => stack.push(listing(&path)?.into_iter()),
                Some((path, false)) => out.push(path),
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
        let files = self.files;
        self.sources.find_or_add(path, role, || {
            files.read(path).map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })
        })
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

    /// The parsed documents of a file read once (the manifests of `check PATHS`), already read as `id`
    /// by [`Loader::source`]: owned, so that the caller keeps the trees without copying them, and not
    /// kept for a later call.
    pub fn documents_once(&mut self, path: &Path, id: FileId) -> Result<Vec<yaml::Document>> {
        if let Some(docs) = self.parsed.get(path) {
            return Ok(docs.iter().map(yaml::Document::clone).collect());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_walk_lists_files_in_walkdirs_sorted_order_without_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        for f in [
            "b.yaml",
            "A.yaml",
            "a/z.yaml",
            "a/b/c.yaml",
            "a-b/x.yaml",
            "a.b/y.yaml",
            "ab.yaml",
            "Z/deep/er/most.yaml",
            ".hidden/h.yaml",
        ] {
            write(&root.join(f), b"x: 1\n");
        }
        std::fs::create_dir_all(root.join("empty")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("b.yaml"), root.join("link.yaml")).unwrap();
            std::os::unix::fs::symlink(root.join("a"), root.join("linked-dir")).unwrap();
        }
        let walked = DiskFiles.walk(&root).unwrap();
        let expected: Vec<PathBuf> = walkdir::WalkDir::new(&root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect();
        assert_eq!(walked, expected);
        assert_eq!(walked.len(), 9);
        assert!(!walked
            .iter()
            .any(|p| p.starts_with(root.join("linked-dir"))));
        assert!(!walked.contains(&root.join("link.yaml")));
    }

    #[test]
    fn the_walk_of_a_folder_that_cannot_be_listed_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let err = DiskFiles.walk(&missing).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "IO error for operation on {}: ",
                missing.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn reading_gives_each_files_own_text_whatever_was_read_before() {
        let dir = tempfile::tempdir().unwrap();
        let (long, short, empty) = (
            dir.path().join("long.yaml"),
            dir.path().join("short.yaml"),
            dir.path().join("empty.yaml"),
        );
        write(&long, "k: ".repeat(5000).as_bytes());
        write(&short, "a: é\n".as_bytes());
        write(&empty, b"");
        assert_eq!(&*DiskFiles.read(&long).unwrap(), "k: ".repeat(5000));
        assert_eq!(&*DiskFiles.read(&short).unwrap(), "a: é\n");
        assert_eq!(&*DiskFiles.read(&empty).unwrap(), "");
        assert_eq!(&*DiskFiles.read(&short).unwrap(), "a: é\n");
    }

    #[test]
    fn reading_refuses_what_is_no_regular_utf8_file_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let err = DiskFiles.read(dir.path()).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string().as_str()),
            (io::ErrorKind::InvalidInput, "not a regular file")
        );
        let err = DiskFiles
            .read(&dir.path().join("missing.yaml"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let latin1 = dir.path().join("latin1.yaml");
        write(&latin1, b"a: \xe9\n");
        let err = DiskFiles.read(&latin1).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string().as_str()),
            (io::ErrorKind::InvalidData, "the file is not UTF-8")
        );
        // A sparse file one byte past the limit: refused before a byte is read.
        let big = dir.path().join("big.yaml");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(yaml::MAX_FILE_BYTES as u64 + 1)
            .unwrap();
        let err = DiskFiles.read(&big).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("larger than the 256 MiB"), "{err}");
    }

    /// A FIFO would block a reader until something writes to it: it is refused at once.
    #[cfg(unix)]
    #[test]
    fn reading_a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("no mkfifo here: skipped");
            return;
        }
        let (done, wait) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = done.send(DiskFiles.read(&path).map_err(|e| e.to_string()));
        });
        let got = wait
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("reading a FIFO returned");
        assert_eq!(got, Err("not a regular file".to_string()));
    }

    #[test]
    fn a_file_is_read_once_and_keeps_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        write(&file, b"a: 1\n");
        let mut sources = Sources::new();
        let mut loader = Loader::new(&DiskFiles, &mut sources);
        let first = loader.source(&file, FileRole::Resource).unwrap();
        std::fs::remove_file(&file).unwrap();
        // Known already: not read again (it is gone), the same id.
        let again = loader.source(&file, FileRole::Resource).unwrap();
        assert_eq!(first, again);
        let other = dir.path().join("b.yaml");
        assert!(matches!(
            loader.source(&other, FileRole::Resource),
            Err(Error::Read { .. })
        ));
        // A file that could not be read is not registered.
        assert_eq!(sources.find(&other), None);
        assert_eq!(&*sources.get(first).text, "a: 1\n");
    }
}
