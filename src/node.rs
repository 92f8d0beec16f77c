//! The document model every stage shares: a YAML value tree in which every node remembers where it came
//! from. The load stage builds it, the overlay stage rewrites it (keeping or replacing origins), the render
//! stage prints it, and `explain` and the checks read origins back.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// Where a node came from: a file, a byte range in it, and the 1-based line and column of its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
    pub line: u32,
    pub col: u32,
}

impl Origin {
    pub fn len(&self) -> usize {
        (self.end.saturating_sub(self.start)) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What role a source file plays; `explain` prints it next to each origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRole {
    /// A resource file named by `resources`.
    Resource,
    /// An `env.yaml`.
    Environment,
    /// A `component.yaml`.
    Component,
    /// A patch file named by `patches`.
    Patch,
    /// A file a ConfigMap is generated from.
    ConfigSource,
    /// A policy file.
    Policy,
    /// Anything else given on the command line.
    Other,
}

impl FileRole {
    pub fn as_str(self) -> &'static str {
        match self {
            FileRole::Resource => "resource",
            FileRole::Environment => "environment",
            FileRole::Component => "component",
            FileRole::Patch => "patch",
            FileRole::ConfigSource => "config file",
            FileRole::Policy => "policy",
            FileRole::Other => "file",
        }
    }
}

pub struct SourceFile {
    /// The path as the user should see it: relative to the working directory where possible.
    pub display: String,
    /// The path used to read the file.
    pub path: PathBuf,
    pub text: Arc<str>,
    pub role: FileRole,
    /// Byte offset of each character, only for files that are not pure ASCII (the parser counts characters).
    char_offsets: Option<Vec<u32>>,
    /// Byte offset of the start of each line, made on first use: every finding asks for the line and
    /// column of its end, and counting from the top of the file each time is quadratic in a big file.
    line_starts: OnceLock<Vec<u32>>,
}

impl SourceFile {
    fn new(path: &Path, text: Arc<str>, role: FileRole) -> Self {
        let char_offsets = if text.is_ascii() {
            None
        } else {
            let mut table: Vec<u32> = text.char_indices().map(|(b, _)| b as u32).collect();
            table.push(text.len() as u32);
            Some(table)
        };
        SourceFile {
            display: display_path(path),
            path: path.to_path_buf(),
            text,
            role,
            char_offsets,
            line_starts: OnceLock::new(),
        }
    }

    /// Byte offset of the character with index `ci`.
    pub fn byte_of_char(&self, ci: usize) -> usize {
        match &self.char_offsets {
            None => ci.min(self.text.len()),
            Some(table) => table
                .get(ci)
                .map(|b| *b as usize)
                .unwrap_or(self.text.len()),
        }
    }

    /// The 1-based line and column of a byte offset.
    pub fn line_col(&self, byte: usize) -> (u32, u32) {
        let byte = byte.min(self.text.len());
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i as u32 + 1))
                .collect()
        });
        // Lines that start at or before `byte`: the first always does.
        let line = starts.partition_point(|s| *s as usize <= byte);
        let line_start = starts[line - 1] as usize;
        let col = self.text[line_start..byte].chars().count() + 1;
        (line as u32, col as u32)
    }
}

/// Every file read during one run, so that origins can be turned back into paths, lines and snippets.
#[derive(Default)]
pub struct Sources {
    files: Vec<SourceFile>,
    by_path: std::collections::HashMap<PathBuf, FileId>,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: &Path, text: Arc<str>, role: FileRole) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.by_path.entry(path.to_path_buf()).or_insert(id);
        self.files.push(SourceFile::new(path, text, role));
        id
    }

    /// The id of the file at `path`, read with `read` and added the first time it is asked for (the
    /// path is hashed once either way).
    pub fn find_or_add<E>(
        &mut self,
        path: &Path,
        role: FileRole,
        read: impl FnOnce() -> Result<Arc<str>, E>,
    ) -> Result<FileId, E> {
        match self.by_path.entry(path.to_path_buf()) {
            std::collections::hash_map::Entry::Occupied(found) => Ok(*found.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let text = read()?;
                let id = FileId(self.files.len() as u32);
                slot.insert(id);
                self.files.push(SourceFile::new(path, text, role));
                Ok(id)
            }
        }
    }

    /// Room for `more` files, when a caller knows how many it will read.
    pub fn reserve(&mut self, more: usize) {
        self.files.reserve(more);
        self.by_path.reserve(more);
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// The file of an origin that may come from another run's sources.
    pub fn try_get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    /// An origin covering a whole file's first line: for values a file produces as a whole.
    pub fn file_origin(&self, id: FileId) -> Origin {
        let f = self.get(id);
        let end = f.text.find('\n').unwrap_or(f.text.len());
        Origin {
            file: id,
            start: 0,
            end: end as u32,
            line: 1,
            col: 1,
        }
    }
}

/// Resolves `.` and `..` without touching the file system (paths may name git objects).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            // `..` past the start is kept (`../../x` stays outside), and `..` at the root stays there.
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The repository root, when a command runs in one of its subfolders (set once, by `main`).
static DISPLAY_ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Files outside the working directory but below `root` are shown relative to `root`.
pub fn set_display_root(root: &Path) {
    let _ = DISPLAY_ROOT.set(root.to_path_buf());
}

/// A path relative to the working directory when it lies below it, with `/` separators on every platform.
pub fn display_path(path: &Path) -> String {
    // The working directory is absolute: only an absolute path can lie below it (and asking for it is
    // a system call, once per file read).
    let cwd = if path.is_absolute() {
        std::env::current_dir().ok()
    } else {
        None
    };
    // A relative path is the shell's, shown as given; an absolute one outside `cwd`, from the root.
    let from_root = || {
        let root = DISPLAY_ROOT.get().filter(|_| path.is_absolute())?;
        normalize(path)
            .strip_prefix(root)
            .ok()
            .map(Path::to_path_buf)
    };
    let rel = cwd
        .as_ref()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .or_else(from_root)
        .unwrap_or_else(|| path.to_path_buf());
    let mut out = String::new();
    for (i, c) in rel.components().enumerate() {
        if i > 0 && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(&c.as_os_str().to_string_lossy());
    }
    if out.is_empty() {
        ".".to_string()
    } else {
        out
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub origin: Origin,
}

/// A mapping key: always a string in Kubernetes objects.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub origin: Origin,
}

/// An insertion-ordered mapping. Kubernetes objects have small maps, so a vector beats a hash map here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    pub entries: Vec<(Key, Node)>,
}

impl Map {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }
    pub fn get_entry(&self, key: &str) -> Option<(&Key, &Node)> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, v)| (k, v))
    }
    pub fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.name == key)
    }
    /// Sets `key`, keeping its position if it exists; returns the old value.
    pub fn insert(&mut self, key: Key, value: Node) -> Option<Node> {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| k.name == key.name) {
            slot.0 = key;
            return Some(std::mem::replace(&mut slot.1, value));
        }
        self.entries.push((key, value));
        None
    }
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let i = self.entries.iter().position(|(k, _)| k.name == key)?;
        Some(self.entries.remove(i).1)
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Node)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl Node {
    /// Whether the tree nests deeper than `max_depth` or holds more than `max_nodes` nodes, found
    /// without recursion (so it is safe on any tree, and stops early).
    pub fn exceeds(&self, max_depth: usize, max_nodes: usize) -> bool {
        let mut stack: Vec<(&Node, usize)> = vec![(self, 1)];
        let mut count = 0usize;
        while let Some((n, depth)) = stack.pop() {
            count += 1;
            if depth > max_depth || count > max_nodes {
                return true;
            }
            match &n.value {
                Value::Seq(items) => stack.extend(items.iter().map(|c| (c, depth + 1))),
                Value::Map(m) => stack.extend(m.entries.iter().map(|(_, c)| (c, depth + 1))),
                _ => {}
            }
        }
        false
    }

    pub fn new(value: Value, origin: Origin) -> Self {
        Node { value, origin }
    }
    pub fn str(s: impl Into<String>, origin: Origin) -> Self {
        Node::new(Value::Str(s.into()), origin)
    }
    pub fn map(origin: Origin) -> Self {
        Node::new(Value::Map(Map::new()), origin)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The child at `key` when this is a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.get(key)
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut()?.get_mut(key)
    }
    /// Follows a path of map keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }
    pub fn path_mut(&mut self, keys: &[&str]) -> Option<&mut Node> {
        let mut n = self;
        for k in keys {
            n = n.get_mut(k)?;
        }
        Some(n)
    }
    /// The string at a path of map keys.
    pub fn str_at(&self, keys: &[&str]) -> Option<&str> {
        self.path(keys)?.as_str()
    }

    /// The map at `key`, created (with `origin`) if missing or null. `None` if a non-map is in the way.
    pub fn ensure_map(&mut self, key: &str, origin: Origin) -> Option<&mut Map> {
        let map = self.as_map_mut()?;
        let missing = map.get(key).is_none_or(Node::is_null);
        if missing {
            map.insert(
                Key {
                    name: key.to_string(),
                    origin,
                },
                Node::map(origin),
            );
        }
        map.get_mut(key)?.as_map_mut()
    }

    /// Sets every origin in this subtree, keys included.
    pub fn set_origin_deep(&mut self, origin: Origin) {
        self.origin = origin;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_origin_deep(origin)),
            Value::Map(m) => {
                for (k, v) in &mut m.entries {
                    k.origin = origin;
                    v.set_origin_deep(origin);
                }
            }
            _ => {}
        }
    }

    /// The name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }

    /// Converts to JSON, for schema validation and hashing. Map order is kept.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(format_float(*f))),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(
                m.entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds a node from JSON, every node getting `origin`.
    pub fn from_json(value: &serde_json::Value, origin: Origin) -> Node {
        use serde_json::Value as J;
        let v = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => {
                Value::Seq(items.iter().map(|i| Node::from_json(i, origin)).collect())
            }
            J::Object(m) => Value::Map(Map {
                entries: m
                    .iter()
                    .map(|(k, v)| {
                        (
                            Key {
                                name: k.clone(),
                                origin,
                            },
                            Node::from_json(v, origin),
                        )
                    })
                    .collect(),
            }),
        };
        Node::new(v, origin)
    }

    /// The node at a JSON pointer (`/spec/template/0`), for mapping schema errors back to lines.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let mut n = self;
        for raw in pointer.strip_prefix('/')?.split('/') {
            let token = raw.replace("~1", "/").replace("~0", "~");
            n = match &n.value {
                Value::Map(m) => m.get(&token)?,
                Value::Seq(items) => items.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(n)
    }

    /// Like [`Node::pointer`] but returns the key's origin when the last step is a map key.
    pub fn pointer_key_origin(&self, pointer: &str) -> Option<Origin> {
        let (parent, last) = pointer.rsplit_once('/')?;
        let token = last.replace("~1", "/").replace("~0", "~");
        let parent = self.pointer(parent)?;
        parent.as_map()?.get_entry(&token).map(|(k, _)| k.origin)
    }
}

/// The canonical text of a float: shortest round-trip form, YAML spellings for the special values.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".to_string()
        } else {
            "-.inf".to_string()
        }
    } else {
        let s = format!("{f:?}");
        s
    }
}

impl fmt::Display for Value {
    /// A one-line form for messages (`explain` prints scalars with it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&format_float(*x)),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Seq(items) => write!(f, "[{} items]", items.len()),
            Value::Map(m) => write!(f, "{{{} keys}}", m.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let mut sources = Sources::new();
        let text = "a: 1\n\nkey: \"héllo\"\nlast";
        let id = sources.add(Path::new("f.yaml"), Arc::from(text), FileRole::Other);
        let f = sources.get(id);
        // Against counting from the top, at every character boundary.
        for byte in 0..=text.len() + 3 {
            let b = byte.min(text.len());
            if !text.is_char_boundary(b) {
                continue;
            }
            let before = &text[..b];
            let line = before.matches('\n').count() as u32 + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            let col = text[start..b].chars().count() as u32 + 1;
            assert_eq!(f.line_col(byte), (line, col), "at byte {byte}");
        }
        assert_eq!(f.line_col(5), (2, 1));
        assert_eq!(f.line_col(text.len()), (4, 5));
    }
}
