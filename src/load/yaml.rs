//! YAML text to [`Node`] trees, keeping every node's origin. Built on the event parser of `saphyr-parser`
//! so that nothing is lost on the way: spans, duplicate keys (an error here, not a silent overwrite),
//! anchors and aliases (the alias gets a copy of the anchored node, origins included), merge keys (`<<`).
//!
//! Plain scalars are resolved with the YAML 1.2 core schema; quoted and block scalars are strings.
//!
//! Input is untrusted, so parsing is bounded, each bound an error at a line rather than an abort:
//! - [`MAX_FILE_BYTES`] per file;
//! - [`MAX_DEPTH`] levels of nesting: every later stage (merge, emit, JSON conversion, even dropping a
//!   tree) recurses over nodes, and this bound, checked here before a collection opens, keeps all of them
//!   far from the stack's end;
//! - aliases expand to at most [`ALIAS_NODE_FLOOR`] plus one node per input byte in a file, as serde_yaml
//!   and PyYAML's C loader bound repetition, so a 615-byte "billion laughs" stops at once;
//! - duplicate keys are found through a hash set per big mapping, so loading is linear in its keys.

mod block;

use std::borrow::Cow;
use std::collections::HashSet;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::error::{Error, Result};
use crate::node::{FileId, Key, Map, Node, Origin, SourceFile, Value};

/// One document of a multi-document file: its root node and where the document starts.
#[derive(Clone)]
pub struct Document {
    pub root: Node,
    pub start: Origin,
}

/// The largest file read: far above any real manifest file, far below what exhausts a runner.
pub const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;
/// The deepest nesting of lists and mappings (Kubernetes objects, CRDs included, stay under 40).
pub const MAX_DEPTH: usize = 128;
/// Nodes aliases may produce in a file beyond one per input byte (a scalar weighs one node per 8 bytes
/// of its text, so aliases to a long string are bounded too).
pub const ALIAS_NODE_FLOOR: usize = 100_000;
/// Mappings up to this size find duplicate keys by scanning; bigger ones keep a hash set.
const SCAN_KEYS: usize = 32;

/// Parses every document of a file. An empty document (only comments, or `---` alone) is skipped.
pub fn parse(file: FileId, source: &SourceFile) -> Result<Vec<Document>> {
    if source.text.len() > MAX_FILE_BYTES {
        return Err(Error::at(
            Origin {
                file,
                start: 0,
                end: 0,
                line: 1,
                col: 1,
            },
            format!(
                "this file is {} MiB, more than the {} MiB a file may have",
                source.text.len() / (1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
        .label("this file")
        .help("split it into several files"));
    }
    let mut builder = Builder {
        file,
        source,
        stack: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
        anchors: Vec::new(),
        docs: Vec::new(),
        doc_start: None,
        alias_budget: ALIAS_NODE_FLOOR.saturating_add(source.text.len()),
    };
    // Plain block YAML is read by the fast reader, which yields the full parser's events exactly.
    if let Some(events) = block::events(&source.text) {
        for (event, span) in events {
            builder.event(event, span)?;
        }
        return Ok(builder.docs);
    }
    let mut parser = Parser::new_from_str(&source.text);
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => builder.event(event, span)?,
            Err(e) => {
                let m = e.marker();
                let origin = builder.point(m.index(), m.line(), m.col());
                return Err(Error::at(origin, format!("invalid YAML: {}", e.info()))
                    .label("here")
                    .help("check the indentation and quoting around this line"));
            }
        }
    }
    Ok(builder.docs)
}

/// A collection being built. Its children wait on the builder's shared stacks (`items`, `entries`)
/// from `start` on, and move into a vector of exactly their number when it closes: grown by doubling
/// inside each collection, the spare room of every list and mapping would be a fifth of a big tree.
enum Frame {
    Seq {
        start: usize,
        origin: Origin,
        anchor: usize,
        /// Nodes in this collection, itself included (what an alias to it would copy).
        size: usize,
    },
    Map {
        start: usize,
        origin: Origin,
        anchor: usize,
        pending_key: Option<Key>,
        /// Entries from `<<` merge keys, applied under the map's own keys when it closes.
        merged: Vec<Map>,
        size: usize,
        /// The keys, once the map is too big to scan for duplicates.
        keys: Option<HashSet<String>>,
    },
}

impl Frame {
    fn size_mut(&mut self) -> &mut usize {
        match self {
            Frame::Seq { size, .. } | Frame::Map { size, .. } => size,
        }
    }
}

struct Builder<'a> {
    file: FileId,
    source: &'a SourceFile,
    stack: Vec<Frame>,
    /// The items of the open lists, innermost last.
    items: Vec<Node>,
    /// The entries of the open mappings, innermost last.
    entries: Vec<(Key, Node)>,
    /// Anchor id, the anchored node, and its size in nodes.
    anchors: Vec<(usize, Node, usize)>,
    docs: Vec<Document>,
    doc_start: Option<Origin>,
    /// Nodes aliases may still produce in this file.
    alias_budget: usize,
}

impl Builder<'_> {
    fn point(&self, char_index: usize, line: usize, col: usize) -> Origin {
        let b = self.source.byte_of_char(char_index) as u32;
        Origin {
            file: self.file,
            start: b,
            end: b,
            line: line as u32,
            col: col as u32 + 1,
        }
    }

    fn origin(&self, span: Span) -> Origin {
        let start = self.source.byte_of_char(span.start.index()) as u32;
        let end = (self.source.byte_of_char(span.end.index()) as u32).max(start);
        Origin {
            file: self.file,
            start,
            end,
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<()> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                self.doc_start = Some(self.origin(span));
                self.anchors.clear();
            }
            Event::DocumentEnd => {}
            Event::Alias(id) => {
                let origin = self.origin(span);
                let (node, size) = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _, _)| *a == id)
                    .map(|(_, n, size)| (n, *size))
                    .ok_or_else(|| Error::at(origin, "alias to an unknown anchor"))?;
                if size > self.alias_budget {
                    return Err(Error::at(
                        origin,
                        "aliases in this file expand to too many nodes (more than one per byte of the file)",
                    )
                    .label("this alias")
                    .help("an alias copies its anchor's whole value; nested aliases multiply (a \"billion laughs\" bomb)"));
                }
                self.alias_budget -= size;
                let node = node.clone();
                self.push_value(node, size)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let origin = self.origin(span);
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                // A long string weighs more: an alias to it copies every byte.
                let size = 1 + text.len() / 8;
                let value = resolve_scalar(text, style, tag.as_deref())
                    .map_err(|m| Error::at(origin, m).label("this value"))?;
                let node = Node::new(value, origin);
                if anchor > 0 {
                    self.anchors.push((anchor, node.clone(), size));
                }
                self.push_value(node, size)?;
            }
            Event::SequenceStart(anchor, _) => {
                let origin = self.origin(span);
                self.check_depth(origin)?;
                self.stack.push(Frame::Seq {
                    start: self.items.len(),
                    origin,
                    anchor,
                    size: 1,
                })
            }
            Event::MappingStart(anchor, _) => {
                let origin = self.origin(span);
                self.check_depth(origin)?;
                self.stack.push(Frame::Map {
                    start: self.entries.len(),
                    origin,
                    anchor,
                    pending_key: None,
                    merged: Vec::new(),
                    size: 1,
                    keys: None,
                })
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    start,
                    mut origin,
                    anchor,
                    size,
                }) = self.stack.pop()
                {
                    origin.end = self.origin(span).end.max(origin.start);
                    let items: Vec<Node> = self.items.drain(start..).collect();
                    let node = Node::new(Value::Seq(items), origin);
                    if anchor > 0 {
                        self.anchors.push((anchor, node.clone(), size));
                    }
                    self.push_value(node, size)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    start,
                    mut origin,
                    anchor,
                    merged,
                    size,
                    keys,
                    ..
                }) = self.stack.pop()
                {
                    origin.end = self.origin(span).end.max(origin.start);
                    if !merged.is_empty() {
                        let mut keys = keys.unwrap_or_else(|| {
                            self.entries[start..]
                                .iter()
                                .map(|(k, _)| k.name.clone())
                                .collect()
                        });
                        for m in merged {
                            for (k, v) in m.entries {
                                if keys.insert(k.name.clone()) {
                                    self.entries.push((k, v));
                                }
                            }
                        }
                    }
                    let map = Map {
                        entries: self.entries.drain(start..).collect(),
                    };
                    let node = Node::new(Value::Map(map), origin);
                    if anchor > 0 {
                        self.anchors.push((anchor, node.clone(), size));
                    }
                    self.push_value(node, size)?;
                }
            }
        }
        Ok(())
    }

    /// Refuses to open a collection past [`MAX_DEPTH`].
    fn check_depth(&self, origin: Origin) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::at(
                origin,
                format!("lists and mappings are nested more than {MAX_DEPTH} deep here"),
            )
            .label("too deep")
            .help("Kubernetes objects nest a few dozen levels at most"));
        }
        Ok(())
    }

    /// Adds a finished node (of `size` nodes) to the collection being built, or as a document.
    fn push_value(&mut self, node: Node, size: usize) -> Result<()> {
        if let Some(frame) = self.stack.last_mut() {
            let total = frame.size_mut();
            *total = total.saturating_add(size);
        }
        match self.stack.last_mut() {
            None => {
                let start = self.doc_start.take().unwrap_or(node.origin);
                // A document of only comments comes through as a null scalar.
                if !(node.is_null() && node.origin.is_empty()) {
                    self.docs.push(Document { root: node, start });
                }
            }
            Some(Frame::Seq { .. }) => self.items.push(node),
            Some(Frame::Map {
                start,
                pending_key,
                merged,
                keys,
                ..
            }) => match pending_key.take() {
                None => {
                    let name = match node.value {
                        Value::Str(s) => s,
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => crate::node::format_float(f),
                        Value::Null => "null".to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(Error::at(
                                node.origin,
                                "a mapping key must be a scalar, not a list or mapping",
                            )
                            .label("this key"))
                        }
                    };
                    *pending_key = Some(Key {
                        name,
                        origin: node.origin,
                    });
                }
                Some(key) => {
                    if key.name == "<<" && !matches!(node.value, Value::Str(_)) {
                        match node.value {
                            Value::Map(m) => merged.push(m),
                            Value::Seq(items) => {
                                for item in items {
                                    match item.value {
                                        Value::Map(m) => merged.push(m),
                                        _ => {
                                            return Err(Error::at(
                                                item.origin,
                                                "a merge key (<<) takes a mapping or a list of mappings",
                                            ))
                                        }
                                    }
                                }
                            }
                            _ => {
                                return Err(Error::at(
                                    node.origin,
                                    "a merge key (<<) takes a mapping or a list of mappings",
                                ))
                            }
                        }
                        return Ok(());
                    }
                    let open = &self.entries[*start..];
                    let duplicate = match keys {
                        Some(set) => !set.insert(key.name.clone()),
                        None => {
                            let seen = open.iter().any(|(k, _)| k.name == key.name);
                            if !seen && open.len() >= SCAN_KEYS {
                                let mut set: HashSet<String> =
                                    open.iter().map(|(k, _)| k.name.clone()).collect();
                                set.insert(key.name.clone());
                                *keys = Some(set);
                            }
                            seen
                        }
                    };
                    if duplicate {
                        let first = open
                            .iter()
                            .find(|(k, _)| k.name == key.name)
                            .map(|(k, _)| k.origin)
                            .unwrap_or(key.origin);
                        return Err(Error::at(
                            key.origin,
                            format!("duplicate key `{}`", key.name),
                        )
                        .label("defined again here")
                        .related(first, "first defined here")
                        .help("YAML readers disagree on which of two equal keys wins; keep one"));
                    }
                    self.entries.push((key, node));
                }
            },
        }
        Ok(())
    }
}

/// The scalar's text as a string of its own size. The scanner grows the strings it builds by
/// doubling; kept as they come, their spare room would add up to a fifth of a large tree's memory.
fn exact(text: Cow<'_, str>) -> String {
    match text {
        Cow::Owned(mut s) => {
            s.shrink_to_fit();
            s
        }
        Cow::Borrowed(b) => b.to_owned(),
    }
}

/// Resolves a scalar to a value: explicit tags first, then the YAML 1.2 core schema for plain scalars.
fn resolve_scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&str>,
) -> Result<Value, String> {
    if let Some(tag) = tag {
        return match tag {
            "!!str" | "tag:yaml.org,2002:str" | "!!binary" | "!" => Ok(Value::Str(exact(text))),
            "!!int" | "tag:yaml.org,2002:int" => parse_int(&text)
                .map(Value::Int)
                .ok_or_else(|| format!("`{text}` is tagged !!int but is not an integer")),
            "!!float" | "tag:yaml.org,2002:float" => parse_float(&text)
                .or_else(|| parse_int(&text).map(|i| i as f64))
                .map(Value::Float)
                .ok_or_else(|| format!("`{text}` is tagged !!float but is not a number")),
            "!!bool" | "tag:yaml.org,2002:bool" => parse_bool(&text)
                .map(Value::Bool)
                .ok_or_else(|| format!("`{text}` is tagged !!bool but is not true or false")),
            "!!null" | "tag:yaml.org,2002:null" => Ok(Value::Null),
            // Unknown local tags (`!Ref`, `!vault`) have no meaning for Kubernetes: keep the text.
            _ if style != ScalarStyle::Plain => Ok(Value::Str(exact(text))),
            _ => Ok(resolve_plain(text)),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(exact(text)));
    }
    Ok(resolve_plain(text))
}

fn resolve_plain(text: Cow<'_, str>) -> Value {
    if let Some(v) = resolve_plain_special(&text) {
        return v;
    }
    Value::Str(exact(text))
}

/// A plain scalar's value when it is not a string.
fn resolve_plain_special(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        _ => {}
    }
    if let Some(b) = parse_bool(text) {
        return Some(Value::Bool(b));
    }
    if let Some(i) = parse_int(text) {
        return Some(Value::Int(i));
    }
    parse_float(text).map(Value::Float)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// YAML 1.2 core integers: decimal with optional sign, `0o` octal, `0x` hex.
fn parse_int(text: &str) -> Option<i64> {
    if let Some(h) = text.strip_prefix("0x") {
        if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return i64::from_str_radix(h, 16).ok();
        }
        return None;
    }
    if let Some(o) = text.strip_prefix("0o") {
        if !o.is_empty() && o.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return i64::from_str_radix(o, 8).ok();
        }
        return None;
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()
}

/// YAML 1.2 core floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `.inf`, `.nan`.
fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    match unsigned {
        ".inf" | ".Inf" | ".INF" => {
            return Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    let b = unsigned.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Value {
        resolve_plain(Cow::Borrowed(text))
    }

    #[test]
    fn core_schema_resolution() {
        assert_eq!(resolve("true"), Value::Bool(true));
        assert_eq!(resolve("yes"), Value::Str("yes".into()));
        assert_eq!(resolve("on"), Value::Str("on".into()));
        assert_eq!(resolve("~"), Value::Null);
        assert_eq!(resolve("42"), Value::Int(42));
        assert_eq!(resolve("-7"), Value::Int(-7));
        assert_eq!(resolve("0x1F"), Value::Int(31));
        assert_eq!(resolve("0o17"), Value::Int(15));
        assert_eq!(resolve("0755"), Value::Int(755));
        assert_eq!(resolve("1_000"), Value::Str("1_000".into()));
        assert_eq!(resolve("12:30"), Value::Str("12:30".into()));
        assert_eq!(resolve("0.5"), Value::Float(0.5));
        assert_eq!(resolve("1e3"), Value::Float(1000.0));
        assert_eq!(resolve(".5"), Value::Float(0.5));
        assert_eq!(resolve("1."), Value::Float(1.0));
        assert_eq!(resolve("-.inf"), Value::Float(f64::NEG_INFINITY));
        assert_eq!(resolve("100m"), Value::Str("100m".into()));
        assert_eq!(resolve("2024-01-01"), Value::Str("2024-01-01".into()));
        assert_eq!(resolve("."), Value::Str(".".into()));
        assert_eq!(resolve("1e"), Value::Str("1e".into()));
        // Past i64 an integer is kept as the nearest float rather than failing the load.
        assert_eq!(resolve("99999999999999999999"), Value::Float(1e20));
    }
}
