//! Family `secrets/`: credentials that would reach git in plain text. A finding says where a value is
//! (object, key, line) and why it was flagged (which pattern); it never contains the value, nor a part of
//! it, nor the name of the default password it equals.
//!
//! Positions: a ConfigMap value generated from a file has an origin spanning the whole file, so an offset
//! inside the value is the same offset in the file; a value written as a literal block scalar (`|`) maps
//! line by line to the manifest. Findings inside such values point at the exact line and column.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexSet};

use crate::check::code::{Code, Secrets};
use crate::check::FindingExt;
use crate::check::{Context, Finding, Rule};
use crate::k8s::{containers, scalar_text};
use crate::load::yaml;
use crate::node::{FileRole, Node, Origin, Sources, Value};
use crate::resource::Resource;

pub static RULES: &[Rule] = &[
    PLAINTEXT_SECRET,
    CONFIGMAP_CREDENTIAL,
    ENV_LITERAL,
    KNOWN_TOKEN,
    HIGH_ENTROPY,
    DEFAULT_PASSWORD,
    COMMAND_LINE_CREDENTIAL,
    METADATA_CREDENTIAL,
];

const PLAINTEXT_SECRET: Rule = Rule::new(Code::Secrets(Secrets::PlaintextSecret), plaintext_secret);
const CONFIGMAP_CREDENTIAL: Rule = Rule::new(
    Code::Secrets(Secrets::ConfigmapCredential),
    configmap_credential,
);
const ENV_LITERAL: Rule = Rule::new(Code::Secrets(Secrets::EnvLiteral), env_literal);
const KNOWN_TOKEN: Rule = Rule::new(Code::Secrets(Secrets::KnownToken), known_token);
const HIGH_ENTROPY: Rule = Rule::new(Code::Secrets(Secrets::HighEntropy), high_entropy);
const DEFAULT_PASSWORD: Rule = Rule::new(Code::Secrets(Secrets::DefaultPassword), default_password);

const COMMAND_LINE_CREDENTIAL: Rule = Rule::new(
    Code::Secrets(Secrets::CommandLineCredential),
    command_line_credential,
);
const METADATA_CREDENTIAL: Rule = Rule::new(
    Code::Secrets(Secrets::MetadataCredential),
    metadata_credential,
);

// ---------------------------------------------------------------------------------------------------------
// What is a credential, and what is only a placeholder

/// Splits a key into lower-case words: at `_`, `-`, `.`, spaces and camelCase boundaries.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Case-insensitive search for any of a few ASCII words (of three letters or more), the cheap test
/// before a finer one: a table of the words' first two letters lets nearly every byte of a text pass
/// with one look-up.
pub struct Stems {
    /// One bit for each pair of bytes a word begins with, in any case.
    pairs: [u64; 1024],
    lists: &'static [&'static [&'static [u8]]],
}

impl Stems {
    /// The words of all `lists`.
    pub const fn new(lists: &'static [&'static [&'static [u8]]]) -> Stems {
        let mut pairs = [0u64; 1024];
        let mut l = 0;
        while l < lists.len() {
            let mut i = 0;
            while i < lists[l].len() {
                let w = lists[l][i];
                assert!(w.len() >= 3, "a stem of three letters or more");
                let firsts = [w[0].to_ascii_lowercase(), w[0].to_ascii_uppercase()];
                let seconds = [w[1].to_ascii_lowercase(), w[1].to_ascii_uppercase()];
                let mut a = 0;
                while a < 2 {
                    let mut b = 0;
                    while b < 2 {
                        let at = (firsts[a] as usize) << 8 | seconds[b] as usize;
                        pairs[at >> 6] |= 1 << (at & 63);
                        b += 1;
                    }
                    a += 1;
                }
                i += 1;
            }
            l += 1;
        }
        Stems { pairs, lists }
    }

    /// Whether `text` holds one of the words, in any case.
    pub fn in_text(&self, text: &str) -> bool {
        let t = text.as_bytes();
        t.windows(2).enumerate().any(|(i, pair)| {
            let at = (pair[0] as usize) << 8 | pair[1] as usize;
            self.pairs[at >> 6] >> (at & 63) & 1 == 1
                && self.lists.iter().flat_map(|l| l.iter()).any(|w| {
                    t.get(i..i + w.len())
                        .is_some_and(|x| x.eq_ignore_ascii_case(w))
                })
        })
    }
}

/// Words one of which every key that [`is_credential_key`] accepts holds (in any case): each word of
/// [`CREDENTIAL_LAST`] and [`CREDENTIAL_ENDS`] holds one, and the other keys it accepts end in `key` or
/// `key-data`.
const CREDENTIAL_STEMS: Stems =
    Stems::new(&[&[b"pass", b"pwd", b"secret", b"token", b"credential", b"key"]]);

/// Last words that make a key a credential.
const CREDENTIAL_LAST: [&str; 10] = [
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "secrets",
    "token",
    "credentials",
    "credential",
    "passphrase",
];

/// Endings of a last word that make a key a credential.
const CREDENTIAL_ENDS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "credentials",
];

/// Whether a key (a config key, a ConfigMap key, an env variable name) names a credential: its last
/// word is (or ends with) password, passwd, pwd, pass, secret, token, credentials, apikey, accesskey,
/// secretkey, privatekey or passphrase; or it is `<something>_KEY` (`API_KEY`, `clientKey`, but not
/// `PUBLIC_KEY`, `cacheKey` and the like). `secretName`, `tokenTTL`, `accessKeyID` are not credentials.
pub fn is_credential_key(key: &str) -> bool {
    // Nearly every key names no credential: a scan for the stems rules that out without splitting it.
    if !CREDENTIAL_STEMS.in_text(key) {
        return false;
    }
    const NOT_BEFORE_KEY: [&str; 15] = [
        "public",
        "publishable",
        "cache",
        "primary",
        "partition",
        "sort",
        "foreign",
        "routing",
        "shard",
        "lookup",
        "hash",
        "group",
        "map",
        "object",
        "idempotency",
    ];
    // Words before `key` that make it the name of a key in a Secret (`adminPasswordKey: admin-password`).
    const NAMES_A_KEY: [&str; 5] = ["password", "passwd", "token", "user", "username"];
    let w = words(key);
    let Some(last) = w.last() else {
        return false;
    };
    // `existingSecret`, `existingPasswordSecret`: the name of a Secret that holds the value.
    if w.first().is_some_and(|f| f == "existing") {
        return false;
    }
    if CREDENTIAL_LAST.contains(&last.as_str()) || CREDENTIAL_ENDS.iter().any(|e| last.ends_with(e))
    {
        return true;
    }
    // A kubeconfig's `client-key-data`: a private key, base64 encoded.
    if last == "data" && w.len() >= 2 && w[w.len() - 2] == "key" {
        return w.len() < 3 || !NOT_BEFORE_KEY.contains(&w[w.len() - 3].as_str());
    }
    if last == "key" && w.len() >= 2 {
        let before = w[w.len() - 2].as_str();
        return !NOT_BEFORE_KEY.contains(&before) && !NAMES_A_KEY.contains(&before);
    }
    false
}

/// Passwords that ship as defaults (OpenIM's own, MinIO's, the usual ones). Compared case-insensitively.
const DEFAULT_PASSWORDS: [&str; 31] = [
    "openim123",
    "openim",
    "admin",
    "administrator",
    "admin123",
    "password",
    "password1",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "changeme",
    "changeit",
    "minioadmin",
    "root",
    "toor",
    "secret",
    "default",
    "guest",
    "test",
    "qwerty",
    "letmein",
    "mongo",
    "mongodb",
    "redis",
    "kafka",
    "postgres",
    "mysql",
];

/// Words a placeholder is made of, and the ones that make it one (`not-a-secret`, `your-password-here`,
/// `dummy`, `<redacted>`).
const PLACEHOLDER_WORDS: [&str; 44] = [
    "not",
    "a",
    "an",
    "the",
    "secret",
    "password",
    "passwd",
    "token",
    "key",
    "api",
    "access",
    "value",
    "dummy",
    "example",
    "placeholder",
    "redacted",
    "fake",
    "sample",
    "your",
    "my",
    "here",
    "replace",
    "me",
    "with",
    "real",
    "todo",
    "fixme",
    "tbd",
    "none",
    "null",
    "nil",
    "undefined",
    "unset",
    "empty",
    "insert",
    "enter",
    "put",
    "set",
    "changeme",
    "xxx",
    "foo",
    "bar",
    "mock",
    "test",
];
const PLACEHOLDER_MARKERS: [&str; 24] = [
    "not",
    "dummy",
    "example",
    "placeholder",
    "redacted",
    "fake",
    "sample",
    "your",
    "replace",
    "todo",
    "fixme",
    "tbd",
    "none",
    "null",
    "nil",
    "undefined",
    "unset",
    "empty",
    "insert",
    "enter",
    "xxx",
    "foo",
    "mock",
    "put",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Empty, a reference to something else (`${VAR}`, `$(VAR)`, `{{ .x }}`, `<path:...>`, a file path,
    /// a SOPS `ENC[...]`), a mask (`****`) or a placeholder phrase (`not-a-secret`).
    Placeholder,
    /// A well-known default password.
    Default,
    /// Anything else: a real-looking credential.
    Literal,
}

/// What a credential value is. Defaults are checked first: `changeme` and `password` are defaults, not
/// placeholders.
pub fn classify(value: &str) -> Class {
    let v = value.trim().trim_matches(['"', '\'']).trim();
    if v.is_empty() {
        return Class::Placeholder;
    }
    let lower = v.to_ascii_lowercase();
    if DEFAULT_PASSWORDS.contains(&lower.as_str()) {
        return Class::Default;
    }
    if is_reference(v) || is_nss_sources(v) {
        return Class::Placeholder;
    }
    // A switch (`MYSQL_RANDOM_ROOT_PASSWORD: "yes"`), not a password.
    if matches!(
        lower.as_str(),
        "yes" | "no" | "true" | "false" | "on" | "off"
    ) {
        return Class::Placeholder;
    }
    if v.chars()
        .all(|c| matches!(c, '*' | 'x' | 'X' | '.' | '#' | '-' | '_' | '•'))
    {
        return Class::Placeholder;
    }
    let w = words(v);
    if !w.is_empty()
        && w.iter()
            .all(|x| PLACEHOLDER_WORDS.contains(&x.as_str()) || x.chars().all(|c| c == 'x'))
        && w.iter().any(|x| {
            PLACEHOLDER_MARKERS.contains(&x.as_str())
                || (x.len() >= 3 && x.chars().all(|c| c == 'x'))
        })
    {
        return Class::Placeholder;
    }
    Class::Literal
}

/// The sources of an nsswitch.conf database line (`passwd: files systemd`): names of services, not a
/// password.
fn is_nss_sources(v: &str) -> bool {
    const SOURCES: [&str; 13] = [
        "files",
        "compat",
        "systemd",
        "dns",
        "db",
        "nis",
        "nisplus",
        "ldap",
        "sss",
        "winbind",
        "myhostname",
        "mymachines",
        "resolve",
    ];
    v.split_whitespace()
        .all(|w| SOURCES.contains(&w) || (w.starts_with('[') && w.ends_with(']')))
}

/// A value that points elsewhere instead of holding the secret.
fn is_reference(v: &str) -> bool {
    (v.starts_with("${") && v.ends_with('}'))
        || (v.starts_with("$(") && v.ends_with(')'))
        || (v.starts_with('$')
            && v.len() > 1
            && v[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'))
        || (v.starts_with("{{") && v.ends_with("}}"))
        || (v.starts_with('<') && v.ends_with('>'))
        || (v.starts_with("%(") && v.ends_with(")s"))
        || v.starts_with("ENC[")
        // Grafana's `$__file{/path}` and `$__env{VAR}`.
        || v.starts_with("$__")
        || v.starts_with("ref+")
        || v.starts_with("vault:")
        || v.starts_with("file://")
        || v.starts_with("secretref:")
        || (v.starts_with('/') && v[1..].contains('/') && !v.contains(char::is_whitespace))
}

// ---------------------------------------------------------------------------------------------------------
// From a position inside a string value to a line in the file the user edits

/// Maps byte ranges of a string value back to its source file.
enum Locator {
    /// The value's bytes are the file's bytes from this offset on (a whole config file, a plain or quoted
    /// scalar without escapes).
    Exact { base: usize },
    /// A literal block scalar: each value line starts at a known offset of the file.
    Lines {
        value_starts: Vec<usize>,
        source_starts: Vec<usize>,
    },
    /// Only the value's own origin is known.
    Whole,
}

impl Locator {
    fn new(sources: &Sources, node: &Node, value: &str) -> Locator {
        let text: &str = &sources.get(node.origin.file).text;
        let (start, end) = (node.origin.start as usize, node.origin.end as usize);
        let Some(slice) = text.get(start..end) else {
            return Locator::Whole;
        };
        if slice == value {
            return Locator::Exact { base: start };
        }
        if slice.len() >= 2
            && (slice.starts_with('"') || slice.starts_with('\''))
            && slice.get(1..slice.len() - 1) == Some(value)
        {
            return Locator::Exact { base: start + 1 };
        }
        Self::block(
            slice,
            start,
            node.origin.col.saturating_sub(1) as usize,
            value,
        )
        .unwrap_or(Locator::Whole)
    }

    /// A literal block scalar: the span starts at the first content character; every further line carries
    /// `indent` spaces of indentation before its content.
    fn block(slice: &str, start: usize, indent: usize, value: &str) -> Option<Locator> {
        let mut source_starts = Vec::new();
        let mut contents = Vec::new();
        let mut offset = start;
        for (i, line) in slice.split_inclusive('\n').enumerate() {
            let body = line.strip_suffix('\n').unwrap_or(line);
            let (skip, content) = if i == 0 {
                (0, body)
            } else if body.len() >= indent && body.as_bytes()[..indent].iter().all(|b| *b == b' ') {
                (indent, &body[indent..])
            } else if body.trim().is_empty() {
                (body.len(), "")
            } else {
                return None;
            };
            source_starts.push(offset + skip);
            contents.push(content);
            offset += line.len();
        }
        let joined = contents.join("\n");
        if joined.trim_end_matches('\n') != value.trim_end_matches('\n') {
            return None;
        }
        let mut value_starts = vec![0];
        value_starts.extend(value.match_indices('\n').map(|(i, _)| i + 1));
        value_starts.truncate(source_starts.len());
        source_starts.truncate(value_starts.len());
        Some(Locator::Lines {
            value_starts,
            source_starts,
        })
    }

    fn origin(&self, sources: &Sources, node: &Node, range: Range<usize>) -> Origin {
        let byte = match self {
            Locator::Exact { base } => base + range.start,
            Locator::Lines {
                value_starts,
                source_starts,
            } => {
                let i = value_starts
                    .partition_point(|s| *s <= range.start)
                    .saturating_sub(1);
                match (value_starts.get(i), source_starts.get(i)) {
                    (Some(v), Some(s)) => s + (range.start - v),
                    _ => return node.origin,
                }
            }
            Locator::Whole => return node.origin,
        };
        let file = sources.get(node.origin.file);
        let (line, col) = file.line_col(byte);
        Origin {
            file: node.origin.file,
            start: byte as u32,
            end: (byte + range.len()) as u32,
            line,
            col,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Config files embedded in ConfigMaps

/// A credential-named key inside an embedded config file: its dotted path and the byte range of its value.
struct Embedded {
    path: String,
    range: Range<usize>,
    value: String,
}

/// The credential-named keys of a config file held in a string: YAML or JSON (any number of documents),
/// else `key=value` / `key: value` lines (properties, .env, ini, TOML).
fn embedded_credentials(text: &str) -> Vec<Embedded> {
    let mut out = Vec::new();
    if !may_name_credential(text) {
        return out;
    }
    if let Some(docs) = parse_yaml(text) {
        for d in &docs {
            walk_yaml(&d.root, &mut String::new(), &mut out);
        }
        return out;
    }
    for (start, line) in lines(text) {
        if let Some((key, range)) = directive(line) {
            let range = start + range.start..start + range.end;
            out.push(Embedded {
                path: key.to_string(),
                value: text[range.clone()].to_string(),
                range,
            });
            continue;
        }
        if let Some((key, range)) = key_value(line) {
            if is_credential_key(key) {
                let range = start + range.start..start + range.end;
                out.push(Embedded {
                    path: key.to_string(),
                    value: text[range.clone()].to_string(),
                    range,
                });
            }
        }
    }
    out
}

/// A space-separated directive of Redis and Sentinel that sets a password (`requirepass V`,
/// `masterauth V`, `sentinel auth-pass <master> V`): its name and the value's range in the line.
fn directive(line: &str) -> Option<(&'static str, Range<usize>)> {
    let words: Vec<(usize, &str)> = line
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - line.as_ptr() as usize, w))
        .collect();
    let (name, value) = match words.as_slice() {
        [(_, "requirepass"), v] => ("requirepass", v),
        [(_, "masterauth"), v] => ("masterauth", v),
        [(_, "sentinel"), (_, "auth-pass"), _, v] => ("sentinel auth-pass", v),
        _ => return None,
    };
    let (at, text) = *value;
    let inner = text.trim_matches(['"', '\'']);
    let at = at + text.find(inner).unwrap_or(0);
    Some((name, at..at + inner.len()))
}

/// Words one of which a config file that names a credential holds: each word a credential key ends
/// with, and `auth` (`masterauth`, a Docker config's `auth`).
const CONFIG_WORDS: [&[u8]; 8] = [
    b"pass",
    b"auth",
    b"pwd",
    b"secret",
    b"token",
    b"key",
    b"credential",
    b"passphrase",
];

/// Whether a text holds any word a credential key ends with (case-insensitive): a cheap test before parsing.
fn may_name_credential(text: &str) -> bool {
    const STEMS: Stems = Stems::new(&[&CONFIG_WORDS]);
    STEMS.in_text(text)
}

/// The documents of a YAML text whose first document is a mapping or a list; `None` for anything else
/// (a properties file parses as one long plain scalar).
fn parse_yaml(text: &str) -> Option<Vec<yaml::Document>> {
    let mut sources = Sources::new();
    let id = sources.add(Path::new("embedded"), Arc::from(text), FileRole::Other);
    let docs = yaml::parse(id, sources.get(id)).ok()?;
    let structured = docs
        .first()
        .is_some_and(|d| matches!(d.root.value, Value::Map(_) | Value::Seq(_)));
    structured.then_some(docs)
}

/// A Docker config's `auth`: base64 of `user:password`.
fn is_basic_auth(key: &str, value: &Node) -> bool {
    key == "auth"
        && value
            .as_str()
            .and_then(base64_decode)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.split_once(':').map(|(_, p)| !p.is_empty()))
            .unwrap_or(false)
}

fn walk_yaml(node: &Node, path: &mut String, out: &mut Vec<Embedded>) {
    match &node.value {
        Value::Map(m) => {
            for (k, v) in m.iter() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.name);
                if (is_credential_key(&k.name) || is_basic_auth(&k.name, v))
                    && !matches!(v.value, Value::Map(_) | Value::Seq(_))
                {
                    if let (Some(value), false) =
                        (scalar_text(v), matches!(v.value, Value::Bool(_)))
                    {
                        out.push(Embedded {
                            path: path.clone(),
                            range: v.origin.start as usize..v.origin.end as usize,
                            value,
                        });
                    }
                } else {
                    walk_yaml(v, path, out);
                }
                path.truncate(len);
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk_yaml(v, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Each line of a text with its byte offset.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |l| {
        let start = offset;
        offset += l.len();
        (
            start,
            l.strip_suffix('\n').unwrap_or(l).trim_end_matches('\r'),
        )
    })
}

/// `key = value`, `key: value`, `export KEY=value`, `- key: value`, `--key=value`: the key, and the byte
/// range of the value in the line (quotes and a trailing `;` or `,` left out).
fn key_value(line: &str) -> Option<(&str, Range<usize>)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with(['#', ';', '[', '/']) {
        return None;
    }
    let mut start = line.len() - trimmed.len();
    let mut rest = trimmed;
    for prefix in ["- ", "export "] {
        if let Some(r) = rest.strip_prefix(prefix) {
            start += prefix.len();
            rest = r;
        }
    }
    let sep = rest.find([':', '='])?;
    let key = rest[..sep]
        .trim()
        .trim_matches(['"', '\''])
        .trim_start_matches('-');
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return None;
    }
    let after = &rest[sep + 1..];
    let lead = after.len() - after.trim_start().len();
    let mut v_start = start + sep + 1 + lead;
    let mut v = after.trim();
    v = v.strip_suffix([';', ',']).unwrap_or(v);
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v = &v[1..v.len() - 1];
        v_start += 1;
    }
    Some((key, v_start..v_start + v.len()))
}

// ---------------------------------------------------------------------------------------------------------
// base64

/// Decodes standard or URL-safe base64 (whitespace ignored, padding optional); `None` when it is not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = false;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(out)
}

/// The text of a `data` (Secret) or `binaryData` (ConfigMap) value, decoded; `None` when it is not
/// base64 of UTF-8 text.
fn decoded_text(node: &Node) -> Option<String> {
    String::from_utf8(base64_decode(node.as_str()?)?).ok()
}

// ---------------------------------------------------------------------------------------------------------
// Where credentials are

fn is_sops(r: &Resource) -> bool {
    r.node.get("sops").is_some_and(|s| s.as_map().is_some())
}

fn is_kind(r: &Resource, kind: &str) -> bool {
    r.kind() == kind && r.group().is_empty()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Holder {
    ConfigMap,
    Secret,
    Env,
}

/// A credential-named value somewhere in the tree.
struct Credential<'a> {
    r: &'a Resource,
    origin: Origin,
    /// Where, for the message: "`data.share.yml`, key `secret`".
    place: String,
    class: Class,
}

/// Every credential-named value: ConfigMap keys and the keys of config files embedded in ConfigMaps
/// (YAML, JSON, properties, .env, ini), plaintext Secret values (base64 decoded), and `env` literals.
fn credentials<'a>(ctx: &Context<'a>, holders: &[Holder]) -> Vec<Credential<'a>> {
    let mut out = Vec::new();
    for r in ctx.resources {
        if is_sops(r) {
            continue;
        }
        let holder = if is_kind(r, "ConfigMap") {
            Holder::ConfigMap
        } else if is_kind(r, "Secret") {
            Holder::Secret
        } else {
            if holders.contains(&Holder::Env) {
                env_credentials(r, &mut out);
            }
            continue;
        };
        if !holders.contains(&holder) {
            continue;
        }
        let fields: &[(&str, bool)] = match holder {
            Holder::ConfigMap => &[("data", false), ("binaryData", true)],
            _ => &[("data", true), ("stringData", false)],
        };
        for (field, encoded) in fields {
            let Some(map) = r.node.get(field).and_then(Node::as_map) else {
                continue;
            };
            for (k, v) in map.iter() {
                let (text, locator) = if *encoded {
                    match decoded_text(v) {
                        Some(t) => (t, Locator::Whole),
                        None => continue,
                    }
                } else {
                    let Some(t) = scalar_text(v) else { continue };
                    let loc = Locator::new(ctx.sources, v, &t);
                    (t, loc)
                };
                let decoded = if *encoded { " (base64-decoded)" } else { "" };
                if is_credential_key(&k.name) {
                    out.push(Credential {
                        r,
                        origin: locator.origin(ctx.sources, v, 0..text.len()),
                        place: format!("`{field}.{}`{decoded}", k.name),
                        class: classify(&text),
                    });
                    continue;
                }
                for e in embedded_credentials(&text) {
                    out.push(Credential {
                        r,
                        origin: locator.origin(ctx.sources, v, e.range.clone()),
                        place: format!("`{field}.{}`{decoded}, key `{}`", k.name, e.path),
                        class: classify(&e.value),
                    });
                }
            }
        }
    }
    out
}

fn env_credentials<'a>(r: &'a Resource, out: &mut Vec<Credential<'a>>) {
    let Some(spec) = r.pod_spec() else {
        return;
    };
    for c in containers(spec).into_iter().map(|c| c.node) {
        let container = c.str_at(&["name"]).unwrap_or("");
        for e in c.get("env").and_then(Node::as_seq).unwrap_or(&[]) {
            let (Some(name), Some(value)) = (e.str_at(&["name"]), e.get("value")) else {
                continue;
            };
            let Some(text) = scalar_text(value) else {
                continue;
            };
            if is_credential_key(name) {
                out.push(Credential {
                    r,
                    origin: value.origin,
                    place: format!("env `{name}` of container `{container}`"),
                    class: classify(&text),
                });
            }
        }
    }
}

fn object(r: &Resource) -> String {
    format!("{}/{}", r.kind(), r.name())
}

fn plaintext_secret(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if !is_kind(r, "Secret") || is_sops(r) {
            continue;
        }
        for (field, encoded) in [("data", true), ("stringData", false)] {
            let Some((key, value)) = r.node.as_map().and_then(|m| m.get_entry(field)) else {
                continue;
            };
            let Some(map) = value.as_map() else {
                continue;
            };
            let real: Vec<&str> = map
                .iter()
                .filter(|(_, v)| {
                    let text = if encoded {
                        decoded_text(v)
                    } else {
                        scalar_text(v)
                    };
                    // Not base64 or not text: a value all the same.
                    text.is_none_or(|t| classify(&t) != Class::Placeholder)
                })
                .map(|(k, _)| k.name.as_str())
                .collect();
            if real.is_empty() {
                continue;
            }
            out.push(
                PLAINTEXT_SECRET
                    .finding(
                        key.origin,
                        Some(r),
                        format!(
                            "Secret {} holds {} in plain text in `{field}` (keys: {})",
                            r.name(),
                            if real.len() == 1 { "a value".to_string() } else { format!("{} values", real.len()) },
                            real.join(", ")
                        ),
                    )
                    .help(
                        "keep secrets out of git: an ExternalSecret (as the base does), a SealedSecret, or a \
                         SOPS-encrypted file",
                    ),
            );
        }
    }
}

fn configmap_credential(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for c in credentials(ctx, &[Holder::ConfigMap]) {
        if c.class != Class::Literal {
            continue;
        }
        out.push(
            CONFIGMAP_CREDENTIAL
                .finding(
                    c.origin,
                    Some(c.r),
                    format!("{} {}: a credential in plain text", object(c.r), c.place),
                )
                .help(if ctx.env.is_some() {
                    // An environment of this repository: OpenIM's services read IMENV_* variables.
                    "leave it empty in the ConfigMap and inject it from a Secret (for OpenIM, an IMENV_* \
                     variable with `valueFrom.secretKeyRef`)"
                } else {
                    "leave it empty in the ConfigMap and inject it from a Secret (an environment \
                     variable with `valueFrom.secretKeyRef`, or a mounted Secret volume)"
                }),
        );
    }
}

fn env_literal(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for c in credentials(ctx, &[Holder::Env]) {
        if c.class != Class::Literal {
            continue;
        }
        out.push(
            ENV_LITERAL
                .finding(
                    c.origin,
                    Some(c.r),
                    format!(
                        "{} in {}: a credential set with a literal `value`",
                        c.place,
                        object(c.r)
                    ),
                )
                .help(
                    "use `valueFrom.secretKeyRef` and keep the value in a Secret made outside git",
                ),
        );
    }
}

fn default_password(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for c in credentials(ctx, &[Holder::ConfigMap, Holder::Secret, Holder::Env]) {
        if c.class != Class::Default {
            continue;
        }
        out.push(
            DEFAULT_PASSWORD
                .finding(
                    c.origin,
                    Some(c.r),
                    format!("{} {}: a well-known default password", object(c.r), c.place),
                )
                .help("generate a strong password, keep it in the secret store and inject it from a Secret"),
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Credentials on command lines and in metadata

/// Whether a value given to a credential option or key is a literal worth reporting: not empty, not a
/// placeholder or a reference (`$VAR`, `$(cat /run/secrets/x)`, a file path), not a switch (`true`,
/// `false`) or a number.
fn literal_credential(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    !v.is_empty()
        && !v.starts_with('$')
        && !v.contains("$(")
        && !v.contains("${")
        && !v.starts_with('`')
        && !matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "none" | "null"
        )
        && !v.bytes().all(|b| b.is_ascii_digit())
        && classify(v) != Class::Placeholder
}

/// The words of one command-line element with their byte ranges: the element itself, or, when it holds
/// whitespace (a `sh -c` script), each word of it (quotes around a word left out of its range).
fn command_words(text: &str) -> Vec<Range<usize>> {
    if !text.contains(char::is_whitespace) {
        return std::iter::once(0..text.len()).collect();
    }
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace() || c == ';', start) {
            (true, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// A value's range without the quotes around it.
fn unquoted(text: &str, range: Range<usize>) -> Range<usize> {
    let v = &text[range.clone()];
    let trimmed = v.trim_start_matches(['"', '\'']);
    let start = range.start + (v.len() - trimmed.len());
    let trimmed = trimmed.trim_end_matches(['"', '\'']);
    start..start + trimmed.len()
}

/// The credentials passed as literals in a command line (`args`, `command`, an exec probe's or hook's
/// `command`), each element a word or a shell script: `--password=V`, `-password=V`, `PASSWORD=V`,
/// `--password V` (the next word), for any option or variable named like a credential. Each is the
/// index of the element and the byte range of the value in it.
pub fn command_line_credentials(elements: &[&str]) -> Vec<(usize, Range<usize>)> {
    if !may_pass_credential(elements.iter().copied()) {
        return Vec::new();
    }
    search_command_line(elements)
}

/// [`command_line_credentials`] without its cheap test first.
fn search_command_line(elements: &[&str]) -> Vec<(usize, Range<usize>)> {
    let words: Vec<(usize, Range<usize>)> = elements
        .iter()
        .enumerate()
        .flat_map(|(i, text)| command_words(text).into_iter().map(move |r| (i, r)))
        .collect();
    let mut out = Vec::new();
    // The program the options belong to: its own short options name a password
    // (`mysql -p<pw>`, `redis-cli -a <pw>`, `curl -u user:<pw>`).
    let mut program = "";
    for (n, (i, range)) in words.iter().enumerate() {
        let text = elements[*i];
        let word = &text[range.clone()];
        let next = words.get(n + 1).map(|(j, r)| (*j, r.clone()));
        if !word.starts_with('-') && !word.contains('=') {
            let name = word.rsplit('/').next().unwrap_or(word);
            if PROGRAMS.contains(&name) {
                program = name;
            }
        }
        if let Some((j, range)) =
            short_option_password(program, word, range.clone(), next, elements)
        {
            out.push((if j == usize::MAX { *i } else { j }, range));
            continue;
        }
        let option = word.trim_start_matches('-');
        if option.is_empty() || !option.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            continue;
        }
        let dashes = word.len() - option.len();
        match option.split_once('=') {
            Some((key, value)) if is_credential_key(key) && literal_credential(value) => {
                let start = range.start + dashes + key.len() + 1;
                out.push((*i, unquoted(text, start..range.end)));
            }
            Some(_) => {}
            None if dashes > 0 && is_credential_key(option) => {
                let Some((j, next)) = words.get(n + 1) else {
                    continue;
                };
                let value = &elements[*j][next.clone()];
                if !value.starts_with('-') && literal_credential(value) {
                    out.push((*j, unquoted(elements[*j], next.clone())));
                }
            }
            None => {}
        }
    }
    out
}

/// Whether a command line may pass a credential, the cheap test before [`command_line_credentials`]:
/// each it finds is given by a word with `-` or `=` (an option, or `NAME=V`), and after an option or
/// variable whose name [`is_credential_key`] accepts (so it holds one of [`CREDENTIAL_STEMS`]) or an
/// option of one of the [`PROGRAMS`] (so the line names it).
fn may_pass_credential<'a>(elements: impl Iterator<Item = &'a str> + Clone) -> bool {
    elements.clone().any(|e| e.contains(['-', '=']))
        && elements
            .into_iter()
            .any(|e| CREDENTIAL_STEMS.in_text(e) || PROGRAM_STEMS.in_text(e))
}

/// Words one of which each of the [`PROGRAMS`] holds.
const PROGRAM_WORDS: [&[u8]; 4] = [b"mysql", b"mariadb", b"redis-cli", b"curl"];
const PROGRAM_STEMS: Stems = Stems::new(&[&PROGRAM_WORDS]);

/// The items of a list, read as a command line, that hold a credential (see
/// [`command_line_credentials`]; items that are not strings are empty words).
pub fn command_line_credential_items(items: &[Node]) -> Vec<usize> {
    if !may_pass_credential(items.iter().filter_map(Node::as_str)) {
        return Vec::new();
    }
    let texts: Vec<&str> = items.iter().map(|n| n.as_str().unwrap_or("")).collect();
    command_line_credentials(&texts)
        .into_iter()
        .map(|(i, _)| i)
        .collect()
}

/// Programs whose short options carry a password.
const PROGRAMS: [&str; 8] = [
    "mysql",
    "mysqladmin",
    "mysqldump",
    "mariadb",
    "mariadb-admin",
    "mariadb-dump",
    "redis-cli",
    "curl",
];

/// A password given with a program's short option: `-p<pw>` to MySQL's tools (attached: `-p pw` would
/// prompt), `-a <pw>` to redis-cli, `-u user:<pw>` / `--user user:<pw>` to curl. The element (`usize::MAX`
/// for the word's own) and the value's range.
fn short_option_password(
    program: &str,
    word: &str,
    range: Range<usize>,
    next: Option<(usize, Range<usize>)>,
    elements: &[&str],
) -> Option<(usize, Range<usize>)> {
    let unquote = |r: Range<usize>, text: &str| unquoted(text, r);
    match program {
        "mysql" | "mysqladmin" | "mysqldump" | "mariadb" | "mariadb-admin" | "mariadb-dump" => {
            let value = word.strip_prefix("-p")?;
            (!word.starts_with("--") && literal_credential(value))
                .then(|| (usize::MAX, range.start + 2..range.end))
        }
        "redis-cli" if word == "-a" => {
            let (j, r) = next?;
            let value = &elements[j][r.clone()];
            literal_credential(value).then(|| (j, unquote(r, elements[j])))
        }
        "curl" if word == "-u" || word == "--user" => {
            let (j, r) = next?;
            let value = &elements[j][r.clone()];
            let colon = value.find(':')?;
            let pw = &value[colon + 1..];
            literal_credential(pw).then(|| (j, unquote(r.start + colon + 1..r.end, elements[j])))
        }
        _ => None,
    }
}

/// The command lines of a container: `command`, `args`, and the exec `command` of its probes and
/// lifecycle hooks, each with the path a message names it by.
fn command_lines(c: &Node) -> Vec<(String, &[Node])> {
    let mut out = Vec::new();
    for field in ["command", "args"] {
        if let Some(items) = c.get(field).and_then(Node::as_seq) {
            out.push((field.to_string(), items));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(items) = c.path(&[probe, "exec", "command"]).and_then(Node::as_seq) {
            out.push((format!("{probe}.exec.command"), items));
        }
    }
    for hook in ["postStart", "preStop"] {
        if let Some(items) = c
            .path(&["lifecycle", hook, "exec", "command"])
            .and_then(Node::as_seq)
        {
            out.push((format!("lifecycle.{hook}.exec.command"), items));
        }
    }
    out
}

fn command_line_credential(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if is_sops(r) {
            continue;
        }
        let Some(spec) = r.pod_spec() else { continue };
        for c in containers(spec) {
            for (place, items) in command_lines(c.node) {
                let texts: Vec<&str> = items.iter().map(|n| n.as_str().unwrap_or("")).collect();
                for (i, range) in command_line_credentials(&texts) {
                    let node = &items[i];
                    let locator = Locator::new(ctx.sources, node, texts[i]);
                    out.push(
                        COMMAND_LINE_CREDENTIAL
                            .finding(
                                locator.origin(ctx.sources, node, range),
                                Some(r),
                                format!(
                                    "{} container `{}` {place}[{i}]: a credential passed on the command line as a literal",
                                    object(r),
                                    c.name
                                ),
                            )
                            .help("keep it in a Secret, inject it as an env variable from `secretKeyRef`, and pass `$(VAR)`"),
                    );
                }
            }
        }
    }
}

/// Whether a label or annotation key names a credential: as [`is_credential_key`], except keys that
/// only name a Secret (`...-secret`: a Secret's name, not its value) or a hash of one
/// (`checksum/secret`).
fn is_metadata_credential_key(key: &str) -> bool {
    if !is_credential_key(key) {
        return false;
    }
    let w = words(key);
    w.last().is_some_and(|l| l != "secret" && l != "secrets")
        && !w
            .iter()
            .any(|x| HASH_CONTEXT.iter().any(|h| x.ends_with(h)) && x != "id")
}

fn metadata_credential(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if is_sops(r) {
            continue;
        }
        let mut places = vec![
            (r.node.path(&["metadata", "annotations"]), "annotation"),
            (r.node.path(&["metadata", "labels"]), "label"),
        ];
        if let Some(t) = r.pod_template() {
            places.push((
                t.path(&["metadata", "annotations"]),
                "pod template annotation",
            ));
            places.push((t.path(&["metadata", "labels"]), "pod template label"));
        }
        for (map, what) in places {
            for (k, v) in map
                .and_then(Node::as_map)
                .map(|m| m.entries.as_slice())
                .unwrap_or(&[])
            {
                let Some(value) = v.as_str() else { continue };
                if !is_metadata_credential_key(&k.name) || !literal_credential(value) {
                    continue;
                }
                out.push(
                    METADATA_CREDENTIAL
                        .finding(
                            v.origin,
                            Some(r),
                            format!(
                                "{} {what} `{}`: a credential in metadata as a literal",
                                object(r),
                                k.name
                            ),
                        )
                        .help("keep it in a Secret made outside git; metadata is shown wherever the object is listed"),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Known token formats

/// The token formats: a name for the message, and the pattern.
const TOKEN_PATTERNS: [(&str, &str); 15] = [
    (
        "an AWS access key ID",
        r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?-u:\b)",
    ),
    (
        "a GitHub token",
        r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{36,255}(?-u:\b)",
    ),
    (
        "a GitHub fine-grained token",
        r"(?-u:\b)github_pat_[A-Za-z0-9_]{50,255}(?-u:\b)",
    ),
    ("a GitLab token", r"(?-u:\b)glpat-[A-Za-z0-9_-]{20,}"),
    ("a Slack token", r"(?-u:\b)xox[abprs]-[A-Za-z0-9-]{10,}"),
    (
        "a Slack webhook URL",
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
    ),
    (
        "a JSON Web Token",
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    ),
    (
        "a private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    ),
    ("a Google API key", r"(?-u:\b)AIza[0-9A-Za-z_-]{35}"),
    (
        "a Stripe live key",
        r"(?-u:\b)[rs]k_live_[0-9A-Za-z]{24,}(?-u:\b)",
    ),
    ("an npm token", r"(?-u:\b)npm_[A-Za-z0-9]{36}(?-u:\b)"),
    (
        "a SendGrid API key",
        r"(?-u:\b)SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
    ),
    (
        "an Alibaba Cloud AccessKey ID",
        r"(?-u:\b)LTAI[A-Za-z0-9]{12,20}(?-u:\b)",
    ),
    (
        "an Azure storage account key",
        r"AccountKey=[A-Za-z0-9+/]{86}==",
    ),
    // The password (group 1) is checked against the placeholders: `$(PASSWORD)` is fine.
    (
        "a URL with a password",
        r"(?-u:\b)[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\x22]*:([^\s/@'\x22]+)@",
    ),
];

fn token_patterns() -> &'static (RegexSet, Vec<Regex>) {
    static P: OnceLock<(RegexSet, Vec<Regex>)> = OnceLock::new();
    P.get_or_init(|| {
        let set = RegexSet::new(TOKEN_PATTERNS.iter().map(|(_, p)| p))
            .unwrap_or_else(|e| panic!("a built-in token pattern does not compile: {e}"));
        let each = TOKEN_PATTERNS
            .iter()
            .map(|(_, p)| {
                Regex::new(p)
                    .unwrap_or_else(|e| panic!("a built-in token pattern does not compile: {e}"))
            })
            .collect();
        (set, each)
    })
}

/// Literals of which every pattern of [`TOKEN_PATTERNS`] needs one: a text with none holds no token.
/// Searched for at once (a literal search), this spares the pattern set a pass over nearly every text.
const TOKEN_LITERALS: &str = r"AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|eyJ|-----BEGIN |AIza|k_live_|npm_|SG\.|LTAI|AccountKey=|://";

fn token_literals() -> &'static Regex {
    static P: OnceLock<Regex> = OnceLock::new();
    P.get_or_init(|| {
        Regex::new(TOKEN_LITERALS)
            .unwrap_or_else(|e| panic!("the token literals do not compile: {e}"))
    })
}

/// The known tokens in a text: which pattern, and where.
fn find_tokens(text: &str) -> Vec<(&'static str, Range<usize>)> {
    if !token_literals().is_match(text) {
        return Vec::new();
    }
    let (set, each) = token_patterns();
    // Nearly every text holds no token: one search that stops at the first match rules that out for
    // far less than the search for every pattern that matches (overlapping, over the whole text).
    if !set.is_match(text) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in set.matches(text).iter() {
        let (name, _) = TOKEN_PATTERNS[i];
        for caps in each[i].captures_iter(text) {
            let Some(m) = caps.get(0) else { continue };
            if let Some(password) = caps.get(1) {
                if classify(password.as_str()) == Class::Placeholder {
                    continue;
                }
            }
            out.push((name, m.range()));
        }
    }
    out.sort_by_key(|(_, r)| (r.start, r.end));
    out
}

/// A path in an object, for messages: `spec.template.spec.containers[0].env[1].value`.
fn push_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Calls `f` with every string in a subtree and its path (`path` is the subtree's; one buffer serves the
/// whole walk).
fn each_string<'n>(node: &'n Node, path: &mut String, f: &mut dyn FnMut(&'n Node, &str, &str)) {
    let len = path.len();
    match &node.value {
        Value::Str(s) => f(node, s, path),
        Value::Map(m) => {
            for (k, v) in m.iter() {
                if k.name == "kubectl.kubernetes.io/last-applied-configuration" {
                    continue;
                }
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.name);
                each_string(v, path, f);
                path.truncate(len);
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                let _ = write!(path, "[{i}]");
                each_string(v, path, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Whether a value of this path is base64 that should be decoded before it is searched.
fn is_encoded(r: &Resource, path: &str) -> bool {
    (is_kind(r, "Secret") && path.starts_with("data."))
        || (is_kind(r, "ConfigMap") && path.starts_with("binaryData."))
}

fn known_token(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut path = String::new();
    for r in ctx.resources {
        if is_sops(r) {
            continue;
        }
        path.clear();
        each_string(&r.node, &mut path, &mut |node, text, path| {
            // Decoded when it is base64 of text; searched as written when it is not.
            let decoded = if is_encoded(r, path) {
                decoded_text(node)
            } else {
                None
            };
            if let Some(decoded) = decoded {
                for (name, _) in find_tokens(&decoded) {
                    out.push(token_finding(
                        r,
                        node.origin,
                        path,
                        name,
                        " (base64-decoded)",
                    ));
                }
                return;
            }
            let found = find_tokens(text);
            if found.is_empty() {
                return;
            }
            let locator = Locator::new(ctx.sources, node, text);
            for (name, range) in found {
                out.push(token_finding(
                    r,
                    locator.origin(ctx.sources, node, range),
                    path,
                    name,
                    "",
                ));
            }
        });
    }
}

fn token_finding(r: &Resource, origin: Origin, path: &str, name: &str, decoded: &str) -> Finding {
    KNOWN_TOKEN
        .finding(
            origin,
            Some(r),
            format!("{} `{path}`{decoded}: {name}", object(r)),
        )
        .help("revoke it, then keep the new one in the secret store and inject it from a Secret")
}

// ---------------------------------------------------------------------------------------------------------
// High entropy

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Below this many characters nothing is judged random.
const MIN_BASE64_LEN: usize = 20;
const MIN_HEX_LEN: usize = 32;
/// The shorter of the two: a run of fewer characters is neither.
const MIN_RANDOM_LEN: usize = if MIN_BASE64_LEN < MIN_HEX_LEN {
    MIN_BASE64_LEN
} else {
    MIN_HEX_LEN
};
/// Random hex of 32+ characters scores 3.3-3.9; English-like hex words and repeated digits score lower.
const HEX_THRESHOLD: f64 = 3.0;

/// The entropy a base64 string of `len` characters must reach: 0.87 * log2(len), about the 5th
/// percentile of random base64 strings of that length (3.76 at 20, 4.35 at 32, 5.2 at 64), capped at 5.2.
pub fn base64_threshold(len: usize) -> f64 {
    (0.87 * (len as f64).log2()).min(5.2)
}

/// Key words that make a hex string an identifier rather than a secret.
const HASH_CONTEXT: [&str; 9] = [
    "commit",
    "sha",
    "hash",
    "digest",
    "checksum",
    "revision",
    "fingerprint",
    "uid",
    "id",
];

/// The random-looking tokens of a text: runs of base64 or hex characters long and random enough. Not
/// flagged: image digests and other hashes after `sha256:`/`sha1:`/`md5:` or `@`, UUIDs, hex under a key
/// that says hash (commit, sha, digest, checksum, ...), strings without both cases and a digit (paths,
/// names, identifiers).
fn random_tokens(text: &str, key: &str) -> Vec<(&'static str, Range<usize>)> {
    let mut out = Vec::new();
    if text.len() < MIN_RANDOM_LEN {
        return out;
    }
    let mut has_pem = None;
    let bytes = text.as_bytes();
    // `=` only as padding at the end of a run: `--seed=<value>` is a key and a value.
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-');
    let mut i = 0;
    while i < bytes.len() {
        if !is_b64(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_b64(bytes[i]) {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == b'=' && i - start > 0 && bytes[start..i].len() % 4 != 0
        {
            i += 1;
        }
        // Too short for either kind (a hex part and the run without padding lie within it).
        if i - start < MIN_RANDOM_LEN {
            continue;
        }
        let run = &text[start..i];
        let before = &text[..start];
        // Public by design: subresource-integrity hashes, publishable keys, PEM blocks of certificates
        // and public keys.
        if ["sha256-", "sha384-", "sha512-", "pk_live_", "pk_test_"]
            .iter()
            .any(|p| run.starts_with(p))
            || (*has_pem.get_or_insert_with(|| text.contains("-----BEGIN "))
                && in_public_block(text, start))
        {
            continue;
        }
        if before.ends_with("sha256:")
            || before.ends_with("sha512:")
            || before.ends_with("sha1:")
            || before.ends_with("md5:")
            || before.ends_with('@')
        {
            continue;
        }
        // Hex parts of the run (a UUID is hex groups between dashes, each too short).
        for (off, part) in split_keep(run, |c| !c.is_ascii_hexdigit()) {
            if part.len() >= MIN_HEX_LEN
                && part.bytes().any(|b| b.is_ascii_digit())
                && part.bytes().any(|b| b.is_ascii_alphabetic())
                && entropy(part) >= HEX_THRESHOLD
                && !hash_context(key)
            {
                out.push(("hex", start + off..start + off + part.len()));
            }
        }
        let trimmed = run.trim_end_matches('=');
        let looks_mixed = trimmed.bytes().any(|b| b.is_ascii_uppercase())
            && trimmed.bytes().any(|b| b.is_ascii_lowercase())
            && trimmed.bytes().any(|b| b.is_ascii_digit());
        if trimmed.len() >= MIN_BASE64_LEN
            && looks_mixed
            && !out.iter().any(|(_, r)| r.start >= start && r.end <= i)
            && entropy(trimmed) >= base64_threshold(trimmed.len())
        {
            out.push(("base64", start..start + trimmed.len()));
        }
    }
    out
}

fn hash_context(key: &str) -> bool {
    words(key).iter().any(|w| {
        HASH_CONTEXT.contains(&w.as_str())
            || ["sha", "md5"].iter().any(|p| w.starts_with(p))
            || w.ends_with("sum")
            || w.ends_with("hash")
            || w.ends_with("digest")
    })
}

/// The members of a JSON Web Key that are public (`n` and `e` of an RSA key, `x` and `y` of an EC key,
/// its certificate chain and thumbprints); the private ones (`d`, `p`, `q`, `k`, ...) are not here.
const PUBLIC_JWK_MEMBERS: [&str; 7] = ["n", "e", "x", "y", "x5c", "x5t", "x5t#S256"];

/// Whether `at` is inside a PEM block of public material: a certificate, a public key, a PGP public key.
fn in_public_block(text: &str, at: usize) -> bool {
    const PUBLIC: [&str; 6] = [
        "CERTIFICATE",
        "PUBLIC KEY",
        "RSA PUBLIC KEY",
        "PGP PUBLIC KEY BLOCK",
        "X509 CRL",
        "CERTIFICATE REQUEST",
    ];
    let Some(begin) = text[..at].rfind("-----BEGIN ") else {
        return false;
    };
    let label = &text[begin + 11..];
    let Some(label) = label.split("-----").next() else {
        return false;
    };
    if !PUBLIC.contains(&label) {
        return false;
    }
    // Inside when the block has not ended before `at`.
    !text[begin..at].contains("-----END ")
}

/// The parts of `s` between characters for which `sep` holds, with their offsets.
fn split_keep(s: &str, sep: impl Fn(char) -> bool) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (sep(c), start) {
            (true, Some(st)) => {
                out.push((st, &s[st..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, &s[st..]));
    }
    out
}

/// A string the entropy rule searches, the key it sits under, and whether credential-named lines in it
/// are left to another rule.
struct Searched<'a> {
    node: &'a Node,
    path: String,
    key: String,
    encoded: bool,
}

/// The strings that may hold secrets: ConfigMap and Secret values, `env` values, `args` and `command`,
/// annotations. Names, labels, selectors and images are identifiers, not secrets.
fn searched(r: &Resource) -> Vec<Searched<'_>> {
    fn add_map<'a>(node: Option<&'a Node>, path: &str, encoded: bool, out: &mut Vec<Searched<'a>>) {
        for (k, v) in node
            .and_then(Node::as_map)
            .map(|m| m.entries.as_slice())
            .unwrap_or(&[])
        {
            out.push(Searched {
                node: v,
                path: format!("`{}`", push_path(path, &k.name)),
                key: k.name.clone(),
                encoded,
            });
        }
    }
    let mut out = Vec::new();
    let r_node = &r.node;
    if is_kind(r, "ConfigMap") {
        add_map(r_node.get("data"), "data", false, &mut out);
        add_map(r_node.get("binaryData"), "binaryData", true, &mut out);
    } else if is_kind(r, "Secret") {
        add_map(r_node.get("data"), "data", true, &mut out);
        add_map(r_node.get("stringData"), "stringData", false, &mut out);
    }
    add_map(
        r_node.path(&["metadata", "annotations"]),
        "metadata.annotations",
        false,
        &mut out,
    );
    if let Some(t) = r.pod_template() {
        add_map(
            t.path(&["metadata", "annotations"]),
            "template.metadata.annotations",
            false,
            &mut out,
        );
    }
    if let Some(spec) = r.pod_spec() {
        for c in containers(spec).into_iter().map(|c| c.node) {
            let name = c.str_at(&["name"]).unwrap_or("");
            for e in c.get("env").and_then(Node::as_seq).unwrap_or(&[]) {
                if let (Some(n), Some(v)) = (e.str_at(&["name"]), e.get("value")) {
                    out.push(Searched {
                        node: v,
                        path: format!("container `{name}` env `{n}`"),
                        key: n.to_string(),
                        encoded: false,
                    });
                }
            }
            for field in ["args", "command"] {
                for (i, v) in c
                    .get(field)
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                    .iter()
                    .enumerate()
                {
                    out.push(Searched {
                        node: v,
                        path: format!("container `{name}` {field}[{i}]"),
                        key: String::new(),
                        encoded: false,
                    });
                }
            }
        }
    }
    out
}

fn high_entropy(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        if is_sops(r) {
            continue;
        }
        for s in searched(r) {
            let (text, locator) = if s.encoded {
                match decoded_text(s.node) {
                    Some(t) => (t, Locator::Whole),
                    None => continue,
                }
            } else {
                match s.node.as_str() {
                    Some(t) => (t.to_string(), Locator::new(ctx.sources, s.node, t)),
                    None => continue,
                }
            };
            // A credential-named env entry, ConfigMap or Secret key: another rule's business.
            if is_credential_key(&s.key) {
                continue;
            }
            let tokens = find_tokens(&text);
            for (kind, range) in random_tokens(&text, &s.key) {
                if tokens
                    .iter()
                    .any(|(_, t)| t.start < range.end && range.start < t.end)
                {
                    continue;
                }
                let line_start = text[..range.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
                let line_end = text[range.start..]
                    .find('\n')
                    .map(|i| range.start + i)
                    .unwrap_or(text.len());
                // A key only where the token lies in its value: a line that is the token itself
                // (`QVFB...==` reads as `key=value` at its padding) has none, and shows nothing.
                let line_key = key_value(&text[line_start..line_end])
                    .filter(|(_, v)| line_start + v.start <= range.start)
                    .map(|(k, _)| k)
                    .unwrap_or("");
                if is_credential_key(line_key)
                    || (kind == "hex" && hash_context(line_key))
                    || PUBLIC_JWK_MEMBERS.contains(&line_key)
                {
                    continue;
                }
                let decoded = if s.encoded { " (base64-decoded)" } else { "" };
                let inner = if line_key.is_empty() {
                    String::new()
                } else {
                    format!(", key `{line_key}`")
                };
                out.push(
                    HIGH_ENTROPY
                        .finding(
                            locator.origin(ctx.sources, s.node, range.clone()),
                            Some(r),
                            format!(
                                "{} {}{decoded}{inner}: a random-looking {kind} string of {} characters",
                                object(r),
                                s.path,
                                range.len()
                            ),
                        )
                        .help(
                            "if it is a secret, keep it in a Secret made outside git; if it is not, waive this \
                             finding with a reason",
                        ),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The questions `crate::check::redact` asks this family, so that what a check would flag is exactly what every
// output hides. Kept small and stable: the detectors above may change, these signatures do not.

/// Whether a rule of this family would flag `value` written under `key` (a map key, or the `name` of an
/// env entry): a credential key holding a literal or a default, a known token, a password in a URL, or
/// a random-looking token.
pub fn flags_value(key: &str, value: &str) -> bool {
    (is_credential_key(key) && classify(value) != Class::Placeholder)
        || !command_line_credentials(&[value]).is_empty()
        || !find_tokens(value).is_empty()
        || !random_tokens(value, key).is_empty()
}

/// Where the credentials of a config file held in a string are (a ConfigMap value): what
/// `secrets/configmap-credential` would flag in it, placeholders and references left out.
pub fn embedded_credential_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = embedded_credentials(text)
        .into_iter()
        .filter(|e| classify(&e.value) != Class::Placeholder)
        .map(|e| e.range)
        .filter(|r| {
            r.start < r.end
                && r.end <= text.len()
                && text.is_char_boundary(r.start)
                && text.is_char_boundary(r.end)
        })
        .collect();
    out.sort_by_key(|r| (r.start, r.end));
    out.dedup_by(|b, a| b.start < a.end);
    out
}

/// Whether a value read from `text` may be flagged at all, the cheap test before parsing it: every value
/// [`flags_value`], [`embedded_credential_ranges`] or [`command_line_credentials`] flags, and every key
/// [`is_credential_key`] accepts, holds one of these without white space in it (a word a credential's
/// name or a config file's key ends with, a program of [`PROGRAMS`], one of [`TOKEN_LITERALS`], or a
/// run a random token lies in), and a YAML or JSON value
/// without escapes holds its text as written, line by line. Not for a text with a backslash in it: an
/// escape can spell any word.
pub fn may_flag_in(text: &str) -> bool {
    // The words of a config file's credential hold those of [`CREDENTIAL_STEMS`].
    const TEXT_STEMS: Stems = Stems::new(&[&CONFIG_WORDS, &PROGRAM_WORDS]);
    TEXT_STEMS.in_text(text)
        || token_literals().is_match(text)
        // A plain scalar folded across lines: `-----BEGIN` at a line's end reads as `-----BEGIN `.
        || text.contains("-----BEGIN")
        || has_random_run(text)
}

/// Whether a text has a run of base64 characters in which [`random_tokens`] could find one: long enough,
/// and holding upper and lower case letters and a digit (a base64 token) or a long run of hex digits
/// (a hex token). A token in a value lies in such a run of the text the value was read from.
fn has_random_run(text: &str) -> bool {
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-');
    text.as_bytes().split(|b| !is_b64(b)).any(|run| {
        run.len() >= MIN_RANDOM_LEN
            && ((run.iter().any(u8::is_ascii_uppercase)
                && run.iter().any(u8::is_ascii_lowercase)
                && run.iter().any(u8::is_ascii_digit))
                || run
                    .split(|b| !b.is_ascii_hexdigit())
                    .any(|hex| hex.len() >= MIN_HEX_LEN))
    })
}

/// Where known tokens (and passwords in URLs) are in a text that is not parsed as objects, such as a
/// message or a configuration file.
pub fn token_ranges(text: &str) -> Vec<Range<usize>> {
    find_tokens(text).into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pattern, with the literal it needs replaced by a near miss, finds nothing; as written, it is
    /// found only where one of [`TOKEN_LITERALS`] is: the literals are a true precondition.
    #[test]
    fn every_token_pattern_needs_one_of_the_literals() {
        let samples = [
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS",
            "glpat-abcdefghij0123456789",
            "xoxb-1234567890-abcdefghij",
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc",
            "-----BEGIN RSA PRIVATE KEY-----",
            "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
            "sk_live_abcdefghijklmnopqrstuvwx",
            "npm_abcdefghijklmnopqrstuvwxyz0123456789",
            "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "LTAIabcdefghijkl",
            &format!("AccountKey={}==", "a".repeat(86)),
            "postgres://app:Zq8r2LxT@db:5432/app",
        ];
        let (set, _) = token_patterns();
        for (i, sample) in samples.iter().enumerate() {
            // Without the precondition, the sample is found by the pattern it was written for.
            assert!(
                set.matches(sample).matched(i),
                "sample {i} is not a {}",
                TOKEN_PATTERNS[i].0
            );
            assert!(token_literals().is_match(sample), "sample {i}");
            assert!(!find_tokens(sample).is_empty(), "sample {i}");
        }
        assert_eq!(samples.len(), TOKEN_PATTERNS.len());
        // The literals are literals of the patterns: each alternative occurs in some pattern's text.
        for lit in TOKEN_LITERALS.split('|') {
            let plain = lit.replace('\\', "");
            let head = plain.split('[').next().unwrap_or("");
            assert!(
                TOKEN_PATTERNS
                    .iter()
                    .any(|(_, p)| p.replace('\\', "").contains(head)),
                "`{lit}` is in no pattern"
            );
        }
    }

    /// The words the cheap tests look for are the words the detectors need: each credential key,
    /// directive, program and token literal holds one.
    #[test]
    fn every_precondition_holds_what_its_detector_needs() {
        for w in CREDENTIAL_LAST
            .iter()
            .chain(&CREDENTIAL_ENDS)
            .chain(&["key", "key-data"])
        {
            assert!(CREDENTIAL_STEMS.in_text(w), "{w}");
            assert!(may_flag_in(&w.to_uppercase()), "{w}");
        }
        for w in [
            "passphrase",
            "requirepass",
            "masterauth",
            "auth-pass",
            "auth",
            "credential",
        ] {
            assert!(may_name_credential(w) && may_flag_in(w), "{w}");
        }
        for p in PROGRAMS {
            assert!(PROGRAM_STEMS.in_text(p) && may_flag_in(p), "{p}");
        }
        for lit in TOKEN_LITERALS.split('|') {
            let plain = lit
                .replace('\\', "")
                .replace("[pousr]", "p")
                .replace("[abprs]", "b");
            assert!(may_flag_in(plain.trim_end()), "{lit}");
        }
        // Each token sample, and each found by the random-token search, passes.
        for t in [
            "Zq8r2LxT9mWk3pQv7YbN4cHdE1",
            "3f9a7c2e8b1d4f6a0c5e9b2d7a4f1c8e",
            "-----BEGIN\n  RSA PRIVATE KEY-----",
        ] {
            assert!(may_flag_in(t), "{t}");
        }
        // And nearly every word of a manifest does not.
        for t in [
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: openim-api-1803}\n",
            "image: ghcr.io/openimsdk/openim-server:release-v3.8.3",
            "app.kubernetes.io/managed-by",
            "name: app1803-config-268ac61d6e",
        ] {
            assert!(!may_flag_in(t), "{t}");
        }
    }

    /// The preconditions turn away only what the full searches would find nothing in.
    #[test]
    fn preconditions_change_no_answer() {
        let texts = [
            "--password=Zq8r2LxT9",
            "mysql -uroot -pZq8r2LxT9",
            "redis-cli -a Zq8r2LxT9 ping",
            "curl -u admin:Zq8r2LxT9 http://x",
            "DB_TOKEN=abc",
            "--level=info",
            "-v",
            "openim-api",
            "Zq8r2LxT9mWk3pQv7YbN4cHdE1",
            "zq8r2lxt9mwk3pqv7ybn4chde1",
            "3f9a7c2e8b1d4f6a0c5e9b2d7a4f1c8e",
            "sha256:3f9a7c2e8b1d4f6a0c5e9b2d7a4f1c8e",
            "0123456789012345678",
            "",
        ];
        for t in texts {
            assert_eq!(
                command_line_credentials(&[t]),
                search_command_line(&[t]),
                "{t}"
            );
            assert_eq!(
                command_line_credentials(&["sh", "-c", t]),
                search_command_line(&["sh", "-c", t]),
                "{t}"
            );
            if t.len() < MIN_RANDOM_LEN {
                assert!(random_tokens(t, "").is_empty(), "{t}");
            }
            if !may_flag_in(t) {
                assert!(
                    !flags_value("", t) && embedded_credential_ranges(t).is_empty(),
                    "{t}"
                );
            }
        }
        const { assert!(MIN_RANDOM_LEN <= MIN_BASE64_LEN && MIN_RANDOM_LEN <= MIN_HEX_LEN) };
    }

    #[test]
    fn command_lines() {
        let found = |args: &[&str]| -> Vec<(usize, String)> {
            command_line_credentials(args)
                .into_iter()
                .map(|(i, r)| (i, args[i][r].to_string()))
                .collect()
        };
        assert_eq!(found(&["--password=Zq8r2LxT"]), [(0, "Zq8r2LxT".into())]);
        assert_eq!(
            found(&["--db-password", "Zq8r2LxT", "--level", "info"]),
            [(1, "Zq8r2LxT".into())]
        );
        assert_eq!(
            found(&[
                "sh",
                "-c",
                "PGPASSWORD='Zq8r2LxT' psql; redis-cli --pass \"Yx7q\" ping"
            ]),
            [(2, "Zq8r2LxT".into()), (2, "Yx7q".into())]
        );
        for quiet in [
            &["--password=$(DB_PASSWORD)"][..],
            &["--password", "$DB_PASSWORD"],
            &["--password", "--next"],
            &["--use-service-account-credentials=true"],
            &["--password-file=/run/secrets/db"],
            &["--token-ttl=3600"],
            &["--secret-name=openim"],
            &["--password="],
            &["--password"],
            &[
                "sh",
                "-c",
                "mysqladmin ping --password=$(cat /run/secrets/pw)",
            ],
        ] {
            assert!(found(quiet).is_empty(), "{quiet:?}: {:?}", found(quiet));
        }
    }

    #[test]
    fn credential_keys() {
        for k in [
            "password",
            "DB_PASSWORD",
            "IMENV_MONGODB_PASSWORD",
            "passwd",
            "db_pass",
            "secret",
            "adminSecret",
            "masterSecret",
            "accessKeySecret",
            "token",
            "sessionToken",
            "GITHUB_TOKEN",
            "apiKey",
            "API_KEY",
            "accessKey",
            "secretAccessKey",
            "IMENV_MINIO_SECRETACCESSKEY",
            "privateKey",
            "credentials",
            "clientKeyPwd",
            "X_KEY",
            "appKey",
            "jwt-secret",
            "aws_secret_access_key",
        ] {
            assert!(is_credential_key(k), "{k}");
        }
        for k in [
            "secretName",
            "secretRef",
            "tokenPolicy",
            "tokenRefreshInterval",
            "accessKeyID",
            "secretID",
            "passwordFile",
            "key",
            "PUBLIC_KEY",
            "cacheKey",
            "keyPrefix",
            "username",
            "MY_POD_NAME",
            "monkey",
            "bypass",
            "compass",
        ] {
            assert!(!is_credential_key(k), "{k}");
        }
    }

    #[test]
    fn classes() {
        for v in [
            "",
            "  ",
            "${DB_PASSWORD}",
            "$(REDIS_PASSWORD)",
            "$PASS",
            "{{ .Values.pw }}",
            "<path:kv#pw>",
            "ENC[AES256_GCM,data:abc]",
            "****",
            "xxxxxx",
            "not-a-secret",
            "NOT_A_SECRET",
            "your-password-here",
            "dummy",
            "<redacted>",
            "/run/secrets/db-password",
            "placeholder",
            "example-token",
        ] {
            assert_eq!(classify(v), Class::Placeholder, "{v:?}");
        }
        for v in [
            "openIM123",
            "OPENIM123",
            "admin",
            "password",
            "123456",
            "changeme",
            "minioadmin",
            "root",
        ] {
            assert_eq!(classify(v), Class::Default, "{v:?}");
        }
        for v in ["hunter2-xyz", "9f8Qe2xLr4", "not-a-secret-7731", "s3cr3t"] {
            assert_eq!(classify(v), Class::Literal, "{v:?}");
        }
    }

    #[test]
    fn base64() {
        assert_eq!(
            base64_decode("b3BlbklNMTIz").as_deref(),
            Some(&b"openIM123"[..])
        );
        assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("a"), None);
        assert_eq!(base64_decode("a!b="), None);
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn key_values() {
        let line = "  export DB_PASSWORD=\"abc\";";
        let (k, r) = key_value(line).unwrap();
        assert_eq!((k, &line[r]), ("DB_PASSWORD", "abc"));
        let line = "password = 'x y'";
        let (k, r) = key_value(line).unwrap();
        assert_eq!((k, &line[r]), ("password", "x y"));
        let line = "- token: abc";
        let (k, r) = key_value(line).unwrap();
        assert_eq!((k, &line[r]), ("token", "abc"));
        assert!(key_value("# password: x").is_none());
        assert!(key_value("[section]").is_none());
    }

    #[test]
    fn entropy_is_tuned_for_secrets_not_ids() {
        let random = "q7Vt2LmZ9xR4bK8wN3cYpJ6h";
        assert_eq!(random_tokens(random, "").len(), 1);
        let hex = "9c1185a5c5e9fc54612808977ee8f548b2258d31";
        assert_eq!(random_tokens(hex, "value").len(), 1);
        // identifiers and hashes that are not secrets
        for (text, key) in [
            ("sha256:9c1185a5c5e9fc54612808977ee8f548b2258d319c1185a5c5e9fc54612808977ee8f548", ""),
            ("ghcr.io/openimsdk/openim-api@sha256:9c1185a5c5e9fc54612808977ee8f548b2258d319c1185a5c5e9fc5461280897", ""),
            ("123e4567-e89b-12d3-a456-426614174000", ""),
            ("9c1185a5c5e9fc54612808977ee8f548b2258d31", "openim.io/source-commit"),
            ("openim-config-4f2a9c81d7", ""),
            ("/openim-server/_output/bin/platforms", ""),
            ("HorizontalPodAutoscalerV2Beta1", ""),
            ("IMENV_MINIO_SECRETACCESSKEY", ""),
        ] {
            assert!(random_tokens(text, key).is_empty(), "{text}");
        }
    }

    #[test]
    fn tokens() {
        let t = format!(
            "a: {}\nb: {}",
            "AKIA".to_string() + "IOSFODNN7EXAMPLE",
            "xoxb-1234567890-abcdefghij"
        );
        let names: Vec<&str> = find_tokens(&t).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["an AWS access key ID", "a Slack token"]);
        assert!(find_tokens("mongodb://root:$(MONGO_PASSWORD)@db:27017").is_empty());
        assert_eq!(find_tokens("mongodb://root:Zq8r2LxT@db:27017").len(), 1);
    }
}
