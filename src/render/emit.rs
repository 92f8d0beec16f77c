//! The YAML writer: stable key order, two-space indentation, multi-line strings as literal block scalars,
//! and every string quoted wherever a YAML 1.1 reader (Kubernetes' is one) or a YAML 1.2 reader could
//! take it for anything but a string. The same tree always gives the same bytes.

use std::sync::OnceLock;

use regex::RegexSet;

use crate::node::{format_float, Map, Node, Value};

/// Keys written first, in this order, wherever they appear; all others follow sorted by byte value.
const FIRST_KEYS: [&str; 5] = ["apiVersion", "kind", "metadata", "name", "namespace"];

/// One document, without a `---` marker, ending in a newline.
pub fn document(node: &Node) -> String {
    let mut out = String::with_capacity(1024);
    match &node.value {
        Value::Map(m) if !m.is_empty() => write_map(&mut out, m, 0, false),
        Value::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        _ => {
            write_inline(&mut out, node, 0);
            out.push('\n');
        }
    }
    out
}

/// A map's entries in the order they are written.
pub fn sorted(m: &Map) -> Vec<(&str, &Node)> {
    let mut entries: Vec<(&str, &Node)> = m.iter().map(|(k, v)| (k.name.as_str(), v)).collect();
    entries.sort_by(|(a, _), (b, _)| {
        let ra = FIRST_KEYS
            .iter()
            .position(|k| k == a)
            .unwrap_or(FIRST_KEYS.len());
        let rb = FIRST_KEYS
            .iter()
            .position(|k| k == b)
            .unwrap_or(FIRST_KEYS.len());
        ra.cmp(&rb).then_with(|| a.cmp(b))
    });
    entries
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// Writes a non-empty map's entries at `indent`. With `inline_first`, the first entry continues the current
/// line (after a `- `).
fn write_map(out: &mut String, m: &Map, indent: usize, inline_first: bool) {
    for (i, (key, value)) in sorted(m).into_iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        write_scalar_str(out, key);
        out.push(':');
        write_after_key(out, value, indent);
    }
}

fn write_seq(out: &mut String, items: &[Node], indent: usize, inline_first: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline_first {
            pad(out, indent);
        }
        out.push('-');
        match &item.value {
            Value::Map(m) if !m.is_empty() => {
                out.push(' ');
                write_map(out, m, indent + 2, true);
            }
            Value::Seq(s) if !s.is_empty() => {
                out.push(' ');
                write_seq(out, s, indent + 2, true);
            }
            _ => {
                out.push(' ');
                write_inline(out, item, indent);
                out.push('\n');
            }
        }
    }
}

fn write_after_key(out: &mut String, value: &Node, indent: usize) {
    match &value.value {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2, false);
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2, false);
        }
        _ => {
            out.push(' ');
            write_inline(out, value, indent);
            out.push('\n');
        }
    }
}

/// A scalar, or an empty collection, on the current line. Block scalars continue on the lines below,
/// indented two more than `indent`.
fn write_inline(out: &mut String, node: &Node, indent: usize) {
    match &node.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float_text(*f)),
        Value::Str(s) => {
            if block_safe(s) {
                write_block(out, s, indent + 2);
            } else {
                write_scalar_str(out, s);
            }
        }
        Value::Seq(_) => out.push_str("[]"),
        Value::Map(_) => out.push_str("{}"),
    }
}

/// A float that both YAML 1.1 and 1.2 readers take for a float: a `.` in the mantissa and a signed
/// exponent.
fn float_text(f: f64) -> String {
    let s = format_float(f);
    if !f.is_finite() {
        return s;
    }
    match s.split_once('e') {
        Some((mant, exp)) => {
            let mant = if mant.contains('.') {
                mant.to_string()
            } else {
                format!("{mant}.0")
            };
            let exp = if exp.starts_with('-') {
                exp.to_string()
            } else {
                format!("+{exp}")
            };
            format!("{mant}e{exp}")
        }
        None if s.contains('.') => s,
        None => format!("{s}.0"),
    }
}

fn write_block(out: &mut String, s: &str, content_indent: usize) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push('|');
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, content_indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    // The caller adds the newline that ends the value; a block already ended its last line.
    out.pop();
}

/// A multi-line string that a literal block keeps exactly.
fn block_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && s.chars().all(|c| {
            c == '\n' || c == '\t' || (!c.is_control() && !is_special_break(c) && c != '\u{feff}')
        })
        && s.split('\n').all(|l| !l.ends_with([' ', '\t']))
        && !s.trim_end_matches('\n').is_empty()
}

fn is_special_break(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn write_scalar_str(out: &mut String, s: &str) {
    if plain_safe(s) {
        out.push_str(s);
    } else {
        write_double_quoted(out, s);
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            '\u{feff}' => out.push_str("\\ufeff"),
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Every plain scalar that some YAML 1.1 or 1.2 resolver reads as something other than a string.
fn non_string_patterns() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new([
            // null (1.1, 1.2)
            r"^(~|null|Null|NULL)$",
            // booleans (1.1 includes y/n/yes/no/on/off)
            r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
            // 1.1 integers: binary, octal, decimal with `_`, hex, sexagesimal
            r"^[-+]?0b[0-1_]+$",
            r"^[-+]?0[0-7_]+$",
            r"^[-+]?(0|[1-9][0-9_]*)$",
            r"^[-+]?0x[0-9a-fA-F_]+$",
            r"^[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+$",
            // 1.1 floats (the spec's regex, and the one PyYAML uses)
            r"^[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?$",
            r"^[-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)?$",
            r"^\.[0-9][0-9_]*([eE][-+][0-9]+)?$",
            r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*$",
            r"^[-+]?\.(inf|Inf|INF)$",
            r"^\.(nan|NaN|NAN)$",
            // 1.1 timestamps
            r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?([ \t]*Z|[ \t]*[-+][0-9]{1,2}(:[0-9]{2})?)?)?$",
            // 1.1 merge and value keys
            r"^(<<|=)$",
            // 1.2 core and JSON schema numbers
            r"^[-+]?[0-9]+$",
            r"^0o[0-7]+$",
            r"^0x[0-9a-fA-F]+$",
            r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$",
        ])
        .unwrap_or_else(|e| panic!("built-in patterns: {e}"))
    })
}

/// True when `s` can be written without quotes and every reader reads it back as this same string.
pub fn plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with([' ', '\t']) || s.ends_with([' ', '\t', ':']) {
        return false;
    }
    // Indicators that start something else.
    match first {
        '?' | ':' | ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\''
        | '"' | '%' | '@' | '`' => return false,
        '-' if s.len() == 1 || s.starts_with("- ") || s.starts_with("---") => return false,
        _ => {}
    }
    if s.contains(": ") || s.contains(" #") || s.contains(":\t") || s.contains("\t#") {
        return false;
    }
    if s.chars()
        .any(|c| c.is_control() || is_special_break(c) || c == '\u{feff}')
    {
        return false;
    }
    !non_string_patterns().is_match(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_readers_would_misread() {
        for s in [
            "yes",
            "on",
            "y",
            "NO",
            "Off",
            "0755",
            "1_000",
            "12:30",
            "2024-01-01",
            "0x1F",
            "0b101",
            "1e3",
            "3.8.3",
            ".5",
            "-1",
            "+1",
            "null",
            "~",
            "",
            " x",
            "x ",
            "a: b",
            "a #b",
            "*x",
            "&a",
            "!tag",
            "|",
            ">",
            "%x",
            "@x",
            "`x",
            "-",
            "- x",
            "---",
            "key:",
            "=",
            "<<",
            ".inf",
            ".NaN",
            "1.",
            "[x]",
            "{x}",
            "#x",
            "'x",
            "\"x",
            "a\tb",
        ] {
            assert!(!plain_safe(s), "{s:?} must be quoted");
        }
        for s in [
            "openim",
            "100m",
            "512Mi",
            "openim/openim-api:v3.8.3",
            "/config",
            "a-b",
            "-Xmx512m",
            "http://x:8080/path",
            "true-ish",
            "10.0.0.0/8",
            "v1",
            "a:b",
            "a#b",
            "RollingUpdate",
        ] {
            assert!(plain_safe(s), "{s:?} can stay plain");
        }
    }

    #[test]
    fn floats_read_back_as_floats() {
        assert_eq!(float_text(0.5), "0.5");
        assert_eq!(float_text(3.0), "3.0");
        assert_eq!(float_text(1e300), "1.0e+300");
        assert_eq!(float_text(1.5e-7), "1.5e-7");
        assert_eq!(float_text(f64::INFINITY), ".inf");
    }
}
