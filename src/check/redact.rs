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

/// Replaces every value of a Kubernetes object that may not be shown with [`hidden`] of it (origins
/// kept). Returns how many were hidden.
pub fn object(root: &mut Node) -> usize {
    let is_secret = root.str_at(&["kind"]) == Some("Secret");
    let mut count = 0;
    match &mut root.value {
        Value::Map(m) => {
            for (k, v) in &mut m.entries {
                if is_secret && !SECRET_IDENTITY.contains(&k.name.as_str()) {
                    count += hide_all(v);
                } else {
                    count += walk(v, &k.name);
                }
            }
        }
        _ => count += walk(root, ""),
    }
    count
}

/// Hides what [`object`] would hide in one field outside a Secret's content, judged under its key
/// (an object's `metadata.namespace` under `namespace`): for a reader that reads only that field.
pub fn field(node: &mut Node, key: &str) -> usize {
    walk(node, key)
}

/// Hides every scalar below `node` (the content of a Secret).
fn hide_all(node: &mut Node) -> usize {
    match &mut node.value {
        Value::Map(m) => m.entries.iter_mut().map(|(_, v)| hide_all(v)).sum(),
        Value::Seq(items) => items.iter_mut().map(hide_all).sum(),
        Value::Null => 0,
        _ => {
            let text = scalar(node);
            *node = Node::str(hidden(&text), node.origin);
            1
        }
    }
}

/// Hides the values the `secrets/` rules would flag, each judged under its key (or, in an env entry
/// `{name: X, value: V}`, under `X`).
fn walk(node: &mut Node, key: &str) -> usize {
    match &mut node.value {
        Value::Map(m) => {
            let env_name = m
                .get("name")
                .and_then(Node::as_str)
                .filter(|_| m.contains("value"))
                .map(str::to_string);
            m.entries
                .iter_mut()
                .map(|(k, v)| match (&env_name, k.name.as_str()) {
                    (Some(name), "value") => walk(v, name),
                    _ => walk(v, &k.name),
                })
                .sum()
        }
        Value::Seq(items) => {
            // A command line: the word after `--password` is flagged by its place, not its text.
            let flagged: Vec<usize> = {
                let texts: Vec<&str> = items.iter().map(|n| n.as_str().unwrap_or("")).collect();
                secrets::command_line_credentials(&texts)
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect()
            };
            items
                .iter_mut()
                .enumerate()
                .map(|(i, n)| match &n.value {
                    Value::Str(s) if flagged.contains(&i) => {
                        n.value = Value::Str(hidden(s));
                        1
                    }
                    _ => walk(n, key),
                })
                .sum()
        }
        Value::Str(s) if secrets::flags_value(key, s) => {
            let h = hidden(s);
            node.value = Value::Str(h);
            1
        }
        // A config file held in a value: its credentials hidden in place, the rest still readable.
        Value::Str(s) => {
            let ranges = secrets::embedded_credential_ranges(s);
            if ranges.is_empty() {
                return 0;
            }
            let mut out = String::with_capacity(s.len());
            let mut at = 0;
            for r in &ranges {
                out.push_str(&s[at..r.start]);
                out.push_str(&hidden(&s[r.clone()]));
                at = r.end;
            }
            out.push_str(&s[at..]);
            node.value = Value::Str(out);
            ranges.len()
        }
        _ => 0,
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
            for d in docs {
                let mut hidden_copy = d.root.clone();
                object(&mut hidden_copy);
                mask_changed(&d.root, &hidden_copy, file, &mut mask);
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

/// Masks the source span of every scalar that [`object`] replaced.
fn mask_changed(orig: &Node, hid: &Node, file: FileId, mask: &mut dyn FnMut(usize, usize)) {
    match (&orig.value, &hid.value) {
        (Value::Map(a), Value::Map(b)) => {
            for ((_, x), (_, y)) in a.entries.iter().zip(b.entries.iter()) {
                mask_changed(x, y, file, mask);
            }
        }
        (Value::Seq(a), Value::Seq(b)) => {
            for (x, y) in a.iter().zip(b.iter()) {
                mask_changed(x, y, file, mask);
            }
        }
        (Value::Map(_) | Value::Seq(_), _) => {}
        _ => {
            if orig.value != hid.value && orig.origin.file == file {
                mask(orig.origin.start as usize, orig.origin.end as usize);
            }
        }
    }
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
