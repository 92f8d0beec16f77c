//! Attribution: the fields of a resource that changed, each with the source line that set its new
//! value (and the old one when that moved), as paths relative to the repository's top so that a
//! Markdown link to them resolves in the repository. The objects compared are redacted first: a value
//! shown here went through [`crate::check::redact`].

use std::path::{Component, Path, PathBuf};

use super::{normalize, FieldChange, Place};
use crate::node::{Node, Origin, Sources, Value};

/// At most this many fields are listed per resource; a note counts the rest.
pub const MAX_FIELDS: usize = 200;

/// Where the files of one side were read, to name them relative to the repository's top.
pub struct Origins<'a> {
    pub sources: &'a Sources,
    /// The repository's top folder (absolute).
    pub top: &'a Path,
    /// What links start with; none: relative to the repository's top.
    pub link_base: Option<&'a str>,
}

impl Origins<'_> {
    pub fn place(&self, origin: Origin) -> Option<Place> {
        let f = self.sources.try_get(origin.file)?;
        let file = relative(self.top, &f.path)?;
        let url = format!(
            "{}{}#L{}",
            self.link_base.unwrap_or(""),
            encode(&file),
            origin.line
        );
        Some(Place {
            file,
            line: origin.line,
            url,
        })
    }
}

/// A repository path as a URL path: unreserved characters and `/` kept, the rest percent-encoded (a
/// file name is repository content: nothing in it may end the link or open another).
pub fn encode(path: &str) -> String {
    let mut url = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

/// `path` relative to `top`, with `/`: `None` for a file outside it.
pub fn relative(top: &Path, path: &Path) -> Option<String> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let abs = lexical(&abs);
    let top_real = top.canonicalize().unwrap_or_else(|_| top.to_path_buf());
    // The file may be gone from the disk (a git side): resolve its folder, where one exists.
    let real = abs
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .and_then(|p| abs.file_name().map(|n| p.join(n)))
        .unwrap_or_else(|| abs.clone());
    let rel = real
        .strip_prefix(&top_real)
        .or_else(|_| abs.strip_prefix(top))
        .ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The fields that differ between two revisions of a resource (both redacted), list items matched by
/// their `name` where they have one.
pub fn fields(
    old: &Node,
    new: &Node,
    base: &Origins<'_>,
    head: &Origins<'_>,
    environment: &str,
    namespace: &str,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut walker = Walker {
        base,
        head,
        environment,
        namespace,
        out: &mut out,
    };
    walker.walk(String::new(), Some(old), Some(new));
    out
}

struct Walker<'w, 'a> {
    base: &'w Origins<'a>,
    head: &'w Origins<'a>,
    environment: &'w str,
    namespace: &'w str,
    out: &'w mut Vec<FieldChange>,
}

fn key_step(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[\"{key}\"]"),
    }
}

/// A value in one line: a scalar as written, a mapping or list as compact JSON.
pub fn one_line(node: &Node) -> String {
    match &node.value {
        // A block of text: its first line and its length (the hunk shows the lines that changed).
        Value::Str(s) if s.trim_end().contains('\n') => {
            let first: String = s.lines().next().unwrap_or("").chars().take(60).collect();
            format!("{first}… ({} lines)", s.lines().count())
        }
        Value::Str(s) => s.clone(),
        Value::Null => "null".to_string(),
        _ => {
            let s = node.to_json().to_string();
            if s.chars().count() > 120 {
                format!("{}…", s.chars().take(120).collect::<String>())
            } else {
                s
            }
        }
    }
}

impl Walker<'_, '_> {
    fn walk(&mut self, path: String, old: Option<&Node>, new: Option<&Node>) {
        if self.out.len() > MAX_FIELDS {
            return;
        }
        match (old.map(|n| &n.value), new.map(|n| &n.value)) {
            (Some(Value::Map(o)), Some(Value::Map(n))) => {
                for (k, v) in n.iter() {
                    self.walk(key_step(&path, &k.name), o.get(&k.name), Some(v));
                }
                for (k, v) in o.iter() {
                    if !n.contains(&k.name) {
                        self.walk(key_step(&path, &k.name), Some(v), None);
                    }
                }
            }
            (Some(Value::Seq(o)), Some(Value::Seq(n))) => {
                let scalar = |i: &Node| !matches!(i.value, Value::Map(_) | Value::Seq(_));
                if o.iter().chain(n.iter()).all(scalar) {
                    // A list of values (`values`, `args`, `policyTypes`): what was added and removed.
                    let text = |i: &Node| i.to_json();
                    for item in n {
                        if !o.iter().any(|x| text(x) == text(item)) {
                            self.walk(format!("{path}[]"), None, Some(item));
                        }
                    }
                    for item in o {
                        if !n.iter().any(|x| text(x) == text(item)) {
                            self.walk(format!("{path}[]"), Some(item), None);
                        }
                    }
                    return;
                }
                let name = |i: &Node| i.get("name").and_then(Node::as_str).map(str::to_string);
                let named = o.iter().chain(n.iter()).all(|i| name(i).is_some());
                if named {
                    for item in n {
                        let nm = name(item).unwrap_or_default();
                        let before = o.iter().find(|x| name(x).as_deref() == Some(nm.as_str()));
                        self.walk(format!("{path}[name={nm}]"), before, Some(item));
                    }
                    for item in o {
                        let nm = name(item).unwrap_or_default();
                        if !n.iter().any(|x| name(x).as_deref() == Some(nm.as_str())) {
                            self.walk(format!("{path}[name={nm}]"), Some(item), None);
                        }
                    }
                } else {
                    // Items equal on both sides are no change wherever they moved; the others pair
                    // up in order, and what is left over was added or removed.
                    let json_o: Vec<serde_json::Value> = o.iter().map(Node::to_json).collect();
                    let mut taken = vec![false; o.len()];
                    let mut fresh = Vec::new();
                    for (i, item) in n.iter().enumerate() {
                        let j = item.to_json();
                        match (0..o.len()).find(|k| !taken[*k] && json_o[*k] == j) {
                            Some(k) => taken[k] = true,
                            None => fresh.push(i),
                        }
                    }
                    let mut gone = (0..o.len()).filter(|k| !taken[*k]);
                    for i in fresh {
                        match gone.next() {
                            Some(k) => self.walk(format!("{path}[{i}]"), Some(&o[k]), Some(&n[i])),
                            None => self.walk(format!("{path}[{i}]"), None, Some(&n[i])),
                        }
                    }
                    for k in gone {
                        self.walk(format!("{path}[{k}]"), Some(&o[k]), None);
                    }
                }
            }
            _ => {
                if let (Some(o), Some(n)) = (old, new) {
                    if o.to_json() == n.to_json() {
                        return;
                    }
                }
                let old_text = old.map(one_line);
                let new_text = new.map(one_line);
                let new_at = new.and_then(|n| self.head.place(n.origin));
                let old_at = old.and_then(|n| self.base.place(n.origin));
                let key = |v: &Option<String>, at: &Option<Place>| {
                    format!(
                        "{}@{}",
                        v.as_deref()
                            .map(|v| normalize(v, self.environment, self.namespace))
                            .unwrap_or_default(),
                        at.as_ref()
                            .map(|p| format!("{}:{}", p.file, p.line))
                            .unwrap_or_default()
                    )
                };
                self.out.push(FieldChange {
                    key_old: key(&old_text, &old_at),
                    key_new: key(&new_text, &new_at),
                    path,
                    old: old_text,
                    new: new_text,
                    new_at,
                    old_at,
                });
            }
        }
    }
}
