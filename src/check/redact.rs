//! The one rule that decides what any output may show. A value is shown only if no `secrets/` rule
//! would flag it and it is not inside a Secret; the decision is made on parsed objects, not on text
//! lines. A hidden value is printed as [`MARKER`] plus a short hash of it, so a reviewer still sees that
//! a value changed (and that two places hold the same one) without seeing it.
//!
//! Every output goes through here: `diff` (all formats) and `explain` hide values in objects
//! ([`object`]); error and finding snippets quote a file with its hidden values masked byte for byte
//! ([`quotable`]); messages and git or network errors lose URL credentials and known tokens
//! ([`message`]).

use std::borrow::Cow;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::check::secrets;
use crate::node::{FileId, FileRole, Node, Sources, Value};

/// What a hidden value is replaced with, before its short hash.
pub const MARKER: &str = "<redacted";

/// A hidden value as outputs print it: `<redacted 1a2b3c>`. Six hex digits of SHA-256: enough to see a
/// change, too few to confirm a guess of the value with any confidence.
pub fn hidden(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    format!(
        "{MARKER} {:02x}{:02x}{:02x}>",
        digest[0], digest[1], digest[2]
    )
}

/// Top-level fields of a Secret that are not its content.
const SECRET_IDENTITY: [&str; 4] = ["apiVersion", "kind", "metadata", "type"];

/// How much of one scalar may not be shown.
enum Hide {
    /// All of it.
    Whole,
    /// These byte ranges of a string: the credentials of a config file held in it.
    Parts(Vec<std::ops::Range<usize>>),
}

/// A scalar the rule hides: where it is (the index of each map entry or list item on the way from the
/// root) and how much of it.
type Decide<'f> = dyn FnMut(&[usize], &Node, Hide) + 'f;

/// The rule itself, on a Kubernetes object: calls `hide` with every scalar that may not be shown.
/// [`object`] replaces those values and [`quotable`] masks their spans; both follow this one walk, so
/// what a snippet shows is exactly what a rendered object shows.
fn decide(root: &Node, hide: &mut Decide<'_>) {
    let mut at = Vec::new();
    match &root.value {
        Value::Map(m) => {
            let is_secret = root.str_at(&["kind"]) == Some("Secret");
            for (i, (k, v)) in m.entries.iter().enumerate() {
                at.push(i);
                if is_secret && !SECRET_IDENTITY.contains(&k.name.as_str()) {
                    hide_all(v, &mut at, hide);
                } else {
                    walk(v, &k.name, &mut at, hide);
                }
                at.pop();
            }
        }
        _ => walk(root, "", &mut at, hide),
    }
}

/// Every scalar below `node` (the content of a Secret).
fn hide_all(node: &Node, at: &mut Vec<usize>, hide: &mut Decide<'_>) {
    match &node.value {
        Value::Map(m) => {
            for (i, (_, v)) in m.entries.iter().enumerate() {
                at.push(i);
                hide_all(v, at, hide);
                at.pop();
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(i);
                hide_all(v, at, hide);
                at.pop();
            }
        }
        Value::Null => {}
        _ => hide(at, node, Hide::Whole),
    }
}

/// The values the `secrets/` rules would flag, each judged under its key (or, in an env entry
/// `{name: X, value: V}`, under `X`).
fn walk(node: &Node, key: &str, at: &mut Vec<usize>, hide: &mut Decide<'_>) {
    match &node.value {
        Value::Map(m) => {
            let env_name = m
                .get("name")
                .and_then(Node::as_str)
                .filter(|_| m.contains("value"));
            for (i, (k, v)) in m.entries.iter().enumerate() {
                let key = match (env_name, k.name.as_str()) {
                    (Some(name), "value") => name,
                    _ => k.name.as_str(),
                };
                at.push(i);
                walk(v, key, at, hide);
                at.pop();
            }
        }
        Value::Seq(items) => {
            // A command line: the word after `--password` is flagged by its place, not its text.
            let flagged = secrets::command_line_credential_items(items);
            for (i, n) in items.iter().enumerate() {
                at.push(i);
                match &n.value {
                    Value::Str(_) if flagged.contains(&i) => hide(at, n, Hide::Whole),
                    _ => walk(n, key, at, hide),
                }
                at.pop();
            }
        }
        Value::Str(s) if secrets::flags_value(key, s) => hide(at, node, Hide::Whole),
        // A config file held in a value: its credentials hidden in place, the rest still readable.
        Value::Str(s) => {
            let ranges = secrets::embedded_credential_ranges(s);
            if !ranges.is_empty() {
                hide(at, node, Hide::Parts(ranges));
            }
        }
        _ => {}
    }
}

/// Replaces every value of a Kubernetes object that may not be shown with [`hidden`] of it (origins
/// kept). Returns how many were hidden.
pub fn object(root: &mut Node) -> usize {
    let mut found = Vec::new();
    decide(root, &mut |at, _, how| found.push((at.to_vec(), how)));
    found
        .into_iter()
        .map(|(at, how)| apply(root, &at, how))
        .sum()
}

/// Hides what [`object`] would hide in one field outside a Secret's content, judged under its key
/// (an object's `metadata.namespace` under `namespace`): for a reader that reads only that field.
pub fn field(node: &mut Node, key: &str) -> usize {
    let mut found = Vec::new();
    walk(node, key, &mut Vec::new(), &mut |at, _, how| {
        found.push((at.to_vec(), how))
    });
    found
        .into_iter()
        .map(|(at, how)| apply(node, &at, how))
        .sum()
}

/// Replaces the scalar at `at` below `root` as [`decide`] said; returns how many values that hid.
fn apply(root: &mut Node, at: &[usize], how: Hide) -> usize {
    let mut node = root;
    for &i in at {
        node = match &mut node.value {
            Value::Map(m) => &mut m.entries[i].1,
            Value::Seq(items) => &mut items[i],
            _ => unreachable!("a path that `decide` walked"),
        };
    }
    match how {
        Hide::Whole => {
            node.value = Value::Str(hidden(&scalar(node)));
            1
        }
        Hide::Parts(ranges) => {
            let Value::Str(s) = &node.value else {
                unreachable!("`decide` hides parts of strings only")
            };
            let mut out = String::with_capacity(s.len());
            let mut start = 0;
            for r in &ranges {
                out.push_str(&s[start..r.start]);
                out.push_str(&hidden(&s[r.clone()]));
                start = r.end;
            }
            out.push_str(&s[start..]);
            node.value = Value::Str(out);
            ranges.len()
        }
    }
}

fn scalar(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Float(f) => crate::node::format_float(*f),
        _ => String::new(),
    }
}

/// A file's text as a report may quote it: every value [`object`] would hide is masked with `*` byte
/// for byte, so spans still line up. A YAML file is judged on its parsed objects; a file that does not
/// parse, or is not YAML (a generator's configuration file), on its lines: the value of every line
/// whose key names a credential, and every known token.
pub fn quotable(sources: &Sources, file: FileId) -> String {
    let f = sources.get(file);
    let text: &str = &f.text;
    // Nothing in it can be hidden (no escape, which could spell any word, and nothing a detector
    // needs): quoted as it is, without parsing it. Most files of a plain manifest tree.
    if !text.contains('\\') && !secrets::may_flag_in(text) {
        return text.to_string();
    }
    let parsed = match f.role {
        FileRole::ConfigSource => None,
        _ => crate::load::yaml::parse(file, f).ok(),
    };
    let mut bytes = text.as_bytes().to_vec();
    let mut mask = |start: usize, end: usize| {
        let end = end.min(bytes.len());
        for b in bytes.get_mut(start.min(end)..end).into_iter().flatten() {
            if !b.is_ascii_whitespace() {
                *b = b'*';
            }
        }
    };
    match parsed {
        Some(docs) => {
            for d in &docs {
                decide(&d.root, &mut |_, node, _| {
                    if node.origin.file == file {
                        mask(node.origin.start as usize, node.origin.end as usize);
                    }
                });
            }
            for r in secrets::token_ranges(text) {
                mask(r.start, r.end);
            }
        }
        None => {
            for (start, end) in credential_lines(text) {
                mask(start, end);
            }
            for r in secrets::token_ranges(text) {
                mask(r.start, r.end);
            }
        }
    }
    // Only whole UTF-8 characters were masked (spans are character boundaries); if not, mask by char.
    String::from_utf8(bytes).unwrap_or_else(|e| {
        e.into_bytes()
            .into_iter()
            .map(|b| if b.is_ascii() { b as char } else { '*' })
            .collect()
    })
}

/// Byte ranges of the values of `key: value` / `key=value` lines whose key names a credential.
fn credential_lines(text: &str) -> Vec<(usize, usize)> {
    static LINE: OnceLock<regex::Regex> = OnceLock::new();
    static FLOW: OnceLock<regex::Regex> = OnceLock::new();
    let line = LINE.get_or_init(|| {
        regex::Regex::new(r#"(?m)^[ \t]*(?:-[ \t]*)?["']?([\w.-]+)["']?[ \t]*[:=][ \t]*(\S.*)$"#)
            .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
    });
    // Pairs inside flow collections and one-line JSON, anywhere on a line: `{"password": "v", ...}`.
    let flow = FLOW.get_or_init(|| {
        regex::Regex::new(
            r#"[{,]\s*["']?([\w.-]+)["']?\s*:\s*("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s,{}\[\]]+)"#,
        )
        .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
    });
    let mut out: Vec<(usize, usize)> = [line, flow]
        .into_iter()
        .flat_map(|re| re.captures_iter(text))
        .filter_map(|c| {
            let key = c.get(1)?.as_str();
            let v = c.get(2)?;
            (secrets::is_credential_key(key)
                && secrets::classify(v.as_str()) != secrets::Class::Placeholder)
                .then_some((v.start(), v.end()))
        })
        .collect();
    // Overlapping ranges (a line both patterns read) become one.
    out.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(out.len());
    for (start, end) in out {
        match merged.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Free text that may quote any value of an object (a user policy's message): the value of every
/// `key: value` / `key=value` whose key names a credential, every known token and every URL credential
/// hidden.
pub fn free_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut ranges: Vec<(usize, usize)> = credential_lines(text);
    ranges.extend(
        secrets::token_ranges(text)
            .into_iter()
            .map(|r| (r.start, r.end)),
    );
    ranges.sort_unstable();
    for (start, end) in ranges {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&hidden(&text[start..end]));
        at = end;
    }
    out.push_str(&text[at..]);
    message(&out).into_owned()
}

/// A message as it may be printed: credentials in URLs (`https://user:pass@host`) and known tokens
/// removed. For git and network errors, and any message that may quote input.
pub fn message(text: &str) -> Cow<'_, str> {
    static URL: OnceLock<regex::Regex> = OnceLock::new();
    let re = URL.get_or_init(|| {
        regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
            .unwrap_or_else(|e| panic!("built-in pattern: {e}"))
    });
    let text = re.replace_all(text, "${1}***@");
    let tokens = secrets::token_ranges(&text);
    if tokens.is_empty() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in tokens {
        if r.start < at {
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push_str(&hidden(&text[r.clone()]));
        at = r.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> (Sources, Node) {
        let mut sources = Sources::new();
        let id = sources.add(Path::new("x.yaml"), text.into(), FileRole::Resource);
        let docs = crate::load::yaml::parse(id, sources.get(id)).unwrap();
        let root = docs[0].root.clone();
        (sources, root)
    }

    #[test]
    fn a_hidden_value_shows_a_change_but_not_the_value() {
        assert_eq!(hidden("hunter2"), hidden("hunter2"));
        assert_ne!(hidden("hunter2"), hidden("hunter3"));
        assert!(
            hidden("hunter2").starts_with("<redacted ") && !hidden("hunter2").contains("hunter")
        );
    }

    #[test]
    fn secrets_and_flagged_values_are_hidden_in_objects() {
        let (_, mut root) = parse(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\nstringData: {a: hunter2, b: 42}\n",
        );
        assert_eq!(object(&mut root), 2);
        let text = root.to_json().to_string();
        assert!(!text.contains("hunter2") && !text.contains(":42") && text.contains("Opaque"));

        let (_, mut root) = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  db_password: Zq8r2LxT9\n  level: info\n  key: AKIAIOSFODNN7EXAMPLE\n  url: mongodb://root:Zq8r2LxT@db:27017\n",
        );
        assert_eq!(object(&mut root), 3);
        let text = root.to_json().to_string();
        for v in ["Zq8r2LxT9", "AKIAIOSFODNN7EXAMPLE", "Zq8r2LxT@"] {
            assert!(!text.contains(v), "{v} in {text}");
        }
        assert!(text.contains("info"));
    }

    #[test]
    fn env_values_are_judged_under_their_name() {
        let (_, mut root) = parse(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      env:\n        - {name: DB_PASSWORD, value: Zq8r2LxT9}\n        - {name: LEVEL, value: info}\n",
        );
        assert_eq!(object(&mut root), 1);
        assert!(!root.to_json().to_string().contains("Zq8r2LxT9"));
    }

    #[test]
    fn command_line_credentials_are_hidden_with_their_option() {
        let (_, mut root) = parse(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {db-password: Zq8r2LxT1}}\nspec:\n  containers:\n    - name: a\n      args: [--password=Zq8r2LxT2, --db-password, Zq8r2LxT3, --level, info]\n",
        );
        assert_eq!(object(&mut root), 3);
        let text = root.to_json().to_string();
        for v in ["Zq8r2LxT1", "Zq8r2LxT2", "Zq8r2LxT3"] {
            assert!(!text.contains(v), "{v} in {text}");
        }
        assert!(text.contains("--db-password") && text.contains("info"));
    }

    #[test]
    fn credentials_inside_config_files_are_hidden_in_place() {
        let (_, mut root) = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  app.yaml: |\n    level: info\n    password: Zq8r2LxT9\n  redis.conf: |\n    port 6379\n    requirepass Zq8r2LxT8\n",
        );
        assert_eq!(object(&mut root), 2);
        let text = root.to_json().to_string();
        assert!(
            !text.contains("Zq8r2LxT9") && !text.contains("Zq8r2LxT8"),
            "{text}"
        );
        assert!(
            text.contains("level: info") && text.contains("port 6379"),
            "{text}"
        );
    }

    #[test]
    fn a_file_that_does_not_parse_is_masked_in_flow_pairs_too() {
        // A duplicate key: the file is judged on its text, one-line JSON included.
        let text = "{\"kind\": \"ConfigMap\", \"data\": {\"db_password\": \"Zq8r2LxT9\", \"a\": \"x\", \"a\": \"y\"}}\nplain_token: Zq8r2LxT8 and more\n";
        let mut sources = Sources::new();
        let id = sources.add(Path::new("x.yaml"), text.into(), FileRole::Resource);
        let q = quotable(&sources, id);
        assert_eq!(q.len(), text.len());
        assert!(!q.contains("Zq8r2LxT9") && !q.contains("Zq8r2LxT8"), "{q}");
        assert!(!q.contains("and more"), "a line's whole value: {q}");
        assert!(q.contains("\"a\": \"x\""), "{q}");
    }

    #[test]
    fn snippets_mask_hidden_values_byte_for_byte() {
        let text = "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"s\"}, \"data\": {\"a\": \"aHVudGVyMg==\"}}\n";
        let (sources, _) = parse(text);
        let q = quotable(&sources, FileId(0));
        assert_eq!(q.len(), text.len());
        assert!(!q.contains("aHVudGVyMg"), "{q}");
        assert!(q.contains("\"kind\": \"Secret\""));

        let text = "apiVersion: v1\nkind: Secret # a comment\nmetadata: {name: s}\nstringData:\n  password: hunter2\n";
        let (sources, _) = parse(text);
        let q = quotable(&sources, FileId(0));
        assert!(
            !q.contains("hunter2") && q.contains("password: *******"),
            "{q}"
        );
    }

    #[test]
    fn config_files_are_masked_by_line() {
        let mut sources = Sources::new();
        let id = sources.add(
            Path::new("app.conf"),
            "level=info\ndb_password=Zq8r2LxT9\n".into(),
            FileRole::ConfigSource,
        );
        let q = quotable(&sources, id);
        assert!(q.contains("level=info") && !q.contains("Zq8r2LxT9"), "{q}");

        let text = "redis:\n  password: hunter2\n  username: openim\napiKey = \"abc123\"\nsecret: \"\"\ntoken: ghp_0123456789abcdefghijklmnopqrstuvwxyz\nnote: uses AKIAIOSFODNN7EXAMPLE here\npassword: 密码密码\n";
        let id = sources.add(Path::new("b.conf"), text.into(), FileRole::ConfigSource);
        let out = quotable(&sources, id);
        assert_eq!(out.len(), text.len());
        for planted in [
            "hunter2",
            "abc123",
            "ghp_0123",
            "AKIAIOSFODNN7EXAMPLE",
            "密码",
        ] {
            assert!(!out.contains(planted), "{planted} survived:\n{out}");
        }
        assert!(out.contains("username: openim"), "{out}");
        assert!(
            out.contains("secret: \"\""),
            "empty values stay as they are:\n{out}"
        );
        assert_eq!(out.lines().count(), text.lines().count());
    }

    /// [`quotable`] as it was first written: each document copied, [`object`] applied to the copy, and
    /// the span of every scalar the copy changed masked.
    fn clone_and_compare(sources: &Sources, file: FileId) -> String {
        fn mask_changed(orig: &Node, hid: &Node, mask: &mut dyn FnMut(usize, usize)) {
            match (&orig.value, &hid.value) {
                (Value::Map(a), Value::Map(b)) => {
                    for ((_, x), (_, y)) in a.entries.iter().zip(b.entries.iter()) {
                        mask_changed(x, y, mask);
                    }
                }
                (Value::Seq(a), Value::Seq(b)) => {
                    for (x, y) in a.iter().zip(b.iter()) {
                        mask_changed(x, y, mask);
                    }
                }
                (Value::Map(_) | Value::Seq(_), _) => {}
                _ => {
                    if orig.value != hid.value {
                        mask(orig.origin.start as usize, orig.origin.end as usize);
                    }
                }
            }
        }
        let f = sources.get(file);
        let text: &str = &f.text;
        let mut bytes = text.as_bytes().to_vec();
        let mut mask = |start: usize, end: usize| {
            let end = end.min(bytes.len());
            for b in bytes.get_mut(start.min(end)..end).into_iter().flatten() {
                if !b.is_ascii_whitespace() {
                    *b = b'*';
                }
            }
        };
        match crate::load::yaml::parse(file, f) {
            Ok(docs) => {
                for d in docs {
                    let mut copy = d.root.clone();
                    object(&mut copy);
                    mask_changed(&d.root, &copy, &mut mask);
                }
            }
            Err(_) => {
                for (start, end) in credential_lines(text) {
                    mask(start, end);
                }
            }
        }
        for r in secrets::token_ranges(text) {
            mask(r.start, r.end);
        }
        String::from_utf8(bytes).unwrap_or_else(|e| {
            e.into_bytes()
                .into_iter()
                .map(|b| if b.is_ascii() { b as char } else { '*' })
                .collect()
        })
    }

    /// Every YAML and JSON file of the repository a report may quote: its environments, policies and
    /// test data (the fixtures, the real-world and labelled corpora, the hostile inputs); not the
    /// vendored JSON schemas.
    fn repository_files() -> Vec<(std::path::PathBuf, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                !matches!(e.file_name().to_str(), Some("target" | ".git" | "schemas"))
            })
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_type().is_file()
                    && e.path()
                        .extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
            })
            .filter_map(|e| {
                Some((
                    e.path().to_path_buf(),
                    std::fs::read_to_string(e.path()).ok()?,
                ))
            })
            .collect()
    }

    /// The file with secrets planted in it: every third plain scalar (from the `phase`-th on) replaced
    /// by `value`, or, when `value` is `None`, every third key renamed to a credential's name.
    fn planted(text: &str, phase: usize, value: Option<&str>) -> Option<String> {
        let mut sources = Sources::new();
        let id = sources.add(Path::new("x.yaml"), text.into(), FileRole::Resource);
        let docs = crate::load::yaml::parse(id, sources.get(id)).ok()?;
        fn spans(node: &Node, text: &str, keys: bool, out: &mut Vec<(usize, usize)>) {
            let exact = |o: crate::node::Origin, v: &str| {
                let (a, b) = (o.start as usize, o.end as usize);
                (!v.is_empty() && !v.contains('\n') && text.get(a..b) == Some(v)).then_some((a, b))
            };
            match &node.value {
                Value::Map(m) => {
                    for (k, v) in &m.entries {
                        if keys {
                            out.extend(exact(k.origin, &k.name));
                        }
                        spans(v, text, keys, out);
                    }
                }
                Value::Seq(items) => items.iter().for_each(|v| spans(v, text, keys, out)),
                Value::Str(s) if !keys => out.extend(exact(node.origin, s)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        for d in &docs {
            spans(&d.root, text, value.is_none(), &mut found);
        }
        found.sort_unstable();
        found.dedup_by(|b, a| b.0 < a.1);
        let mut out = text.to_string();
        for (a, b) in found.into_iter().skip(phase).step_by(3).rev() {
            out.replace_range(a..b, value.unwrap_or("db_password"));
        }
        Some(out)
    }

    /// The walk that decides is the one that masks: on every YAML file of the repository, and on each
    /// with secrets planted in it, [`quotable`] masks exactly what copying the objects, hiding their
    /// values with [`object`] and comparing them masks.
    #[test]
    fn quotable_masks_exactly_what_object_hides() {
        let planted_values: [Option<&str>; 10] = [
            Some("AKIAIOSFODNN7EXAMPLE"),
            Some("Zq8r2LxT9mWk3pQv7YbN4cHdE1"),
            Some("--db-password=Zq8r2LxT9"),
            Some("postgres://app:Zq8r2LxT@db:5432/app"),
            Some("ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
            Some("3f9a7c2e8b1d4f6a0c5e9b2d7a4f1c8e6b3d0a9f"),
            // Escapes spell what a precondition looks for.
            Some("\"Zq8r\\u0032LxT9mWk3pQv7YbN4cHdE1\""),
            Some("\"\\x2d\\x2d\\x2d\\x2d\\x2dBEGIN RSA PRIVATE KEY-----\""),
            Some("\"--db-p\\u0061ssword=Zq8r2LxT9\""),
            None,
        ];
        let files = repository_files();
        assert!(files.len() > 500, "{} files", files.len());
        let (mut compared, mut masked) = (0, 0);
        for (path, text) in &files {
            let mut texts = vec![text.clone()];
            for (i, v) in planted_values.iter().enumerate() {
                texts.extend(planted(text, i % 3, *v));
            }
            for t in texts {
                let mut sources = Sources::new();
                let id = sources.add(path, t.as_str().into(), FileRole::Resource);
                let new = quotable(&sources, id);
                assert_eq!(
                    new,
                    clone_and_compare(&sources, id),
                    "{}:\n{t}",
                    path.display()
                );
                compared += 1;
                masked += usize::from(new != t);
            }
        }
        assert!(
            compared > 4 * files.len() && masked > files.len(),
            "{compared} {masked}"
        );
    }

    /// A file is quoted unparsed only when nothing in it can be hidden: an escape or a folded line can
    /// spell what a detector looks for.
    #[test]
    fn escapes_and_folded_lines_do_not_pass_for_harmless_text() {
        for (text, secret) in [
            (
                "{\"kind\": \"ConfigMap\", \"data\": {\"db_p\\u0061ssword\": \"Zq8r2LxT\"}}\n",
                "Zq8r2LxT",
            ),
            ("kind: \"Secr\\x65t\"\ndata: {a: aHVudGVy}\n", "aHVudGVy"),
            (
                "kind: ConfigMap\ndata:\n  a: -----BEGIN\n    RSA PRIVATE KEY----- MIIEow\n",
                "MIIEow",
            ),
        ] {
            let (sources, _) = parse(text);
            let q = quotable(&sources, FileId(0));
            assert!(!q.contains(secret), "{q}");
            assert_eq!(q, clone_and_compare(&sources, FileId(0)));
        }
        let text =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-1803}\ndata: {level: info}\n";
        let (sources, _) = parse(text);
        assert_eq!(quotable(&sources, FileId(0)), text);
    }

    /// The one place the comparison differed from the rule: a `.nan` compares unequal to itself, so the
    /// copy seemed changed and it was masked though no rule hides it. Now shown, like any number.
    #[test]
    fn a_nan_is_shown_like_any_number() {
        let text =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nspec: {ratio: .nan, n: 1.5}\n";
        let (sources, _) = parse(text);
        assert_eq!(quotable(&sources, FileId(0)), text);
        assert_ne!(clone_and_compare(&sources, FileId(0)), text);
    }

    #[test]
    fn free_text_hides_credentials_it_quotes() {
        let t = free_text(
            "password: hunter2 at https://u:pw@h/x, key AKIAIOSFODNN7EXAMPLE, level: info",
        );
        for v in ["hunter2", "u:pw", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!t.contains(v), "{v} in {t}");
        }
        assert!(t.starts_with("password: <redacted "), "{t}");
    }

    #[test]
    fn messages_lose_url_credentials_and_tokens() {
        let m = message("cannot reach https://user:PASSWORD@example.com/repo.git: refused");
        assert!(!m.contains("PASSWORD") && !m.contains("user:"), "{m}");
        assert!(m.contains("https://***@example.com/repo.git"));
        let m = message("token AKIAIOSFODNN7EXAMPLE here");
        assert!(!m.contains("AKIAIOSFODNN7EXAMPLE"), "{m}");
        assert_eq!(message("nothing here"), "nothing here");
    }
}
