//! What the Kubernetes API server itself would say about a value, for the `schema/` and `resources/`
//! rules: quantities, name and label syntax, label selectors that keep the place of each term (for
//! messages that point at the failing one), and the containers of a pod spec.

use crate::node::{Node, Origin, Value};
use crate::resource::Resource;

/// The value of a Kubernetes quantity (`100m`, `512Mi`, `1.5`, `2e3`), in base units.
pub fn parse_quantity(text: &str) -> Result<f64, String> {
    let s = text.trim();
    if s != text || s.is_empty() {
        return Err("a quantity has no spaces and is not empty".into());
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits_end);
    let dots = number.matches('.').count();
    if number.is_empty() || number == "." || dots > 1 {
        return Err("a quantity starts with a number, such as `100m`, `512Mi` or `1.5`".into());
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let e = &exp[1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{suffix}` is not a unit"));
            }
            let e: i32 = e.parse().map_err(|_| format!("`{suffix}` is out of range"))?;
            10f64.powi(e)
        }
        _ => {
            return Err(format!(
                "`{suffix}` is not a unit: use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent"
            ))
        }
    };
    let v = value * factor;
    Ok(if negative { -v } else { v })
}

/// The quantity a node holds: a YAML number or a quantity string. `Err` with the reason otherwise.
pub fn quantity(node: &Node) -> Result<f64, String> {
    match &node.value {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) if f.is_finite() => Ok(*f),
        Value::Str(s) => parse_quantity(s),
        _ => Err(format!(
            "a quantity is a number or a string, not a {}",
            node.type_name()
        )),
    }
}

pub use crate::check::k8s::scalar_text;

fn label_chars(s: &str, extra: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.as_bytes().contains(&b))
}

/// RFC 1123 label: at most 63 of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    if !label_chars(s, "-") {
        return Err("may hold only lower-case letters, digits and `-`".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or a digit".into());
    }
    Ok(())
}

/// RFC 1035 label (Service names): an RFC 1123 label that starts with a letter.
pub fn dns1035_label(s: &str) -> Result<(), String> {
    dns1123_label(s)?;
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lower-case letter".into());
    }
    Ok(())
}

/// RFC 1123 subdomain: at most 253 characters, dot-separated RFC 1123 labels.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err("must be 1 to 253 characters".into());
    }
    if !label_chars(s, "-.") {
        return Err("may hold only lower-case letters, digits, `-` and `.`".into());
    }
    for part in s.split('.') {
        if part.is_empty() || part.starts_with('-') || part.ends_with('-') {
            return Err(
                "each dot-separated part must start and end with a letter or a digit".into(),
            );
        }
    }
    Ok(())
}

/// A name that is one path segment (RBAC objects): anything but `.`, `..` and names with `/` or `%`.
pub fn path_segment(s: &str) -> Result<(), String> {
    if s.is_empty() || s == "." || s == ".." || s.contains(['/', '%']) {
        return Err("must not be `.` or `..` or contain `/` or `%`".into());
    }
    Ok(())
}

/// IANA service name (named container ports): at most 15 of `a-z`, `0-9`, `-`, with a letter, no `--`.
pub fn iana_svc_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 15 {
        return Err("must be 1 to 15 characters".into());
    }
    if !label_chars(s, "-") {
        return Err("may hold only lower-case letters, digits and `-`".into());
    }
    if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
        return Err("must not start or end with `-` or hold `--`".into());
    }
    if !s.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err("must hold at least one letter (a number would be a port, not a name)".into());
    }
    Ok(())
}

fn qualified_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name of at most 63
/// characters of `A-Za-z0-9-_.` that starts and ends with a letter or digit.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        dns1123_subdomain(p).map_err(|e| format!("its prefix `{p}` {e}"))?;
    }
    if !qualified_part(name) {
        return Err("the part after the prefix must be 1 to 63 characters of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit".into());
    }
    Ok(())
}

/// A label value: empty, or at most 63 characters of `A-Za-z0-9-_.` starting and ending alphanumeric.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || qualified_part(s) {
        Ok(())
    } else {
        Err("must be at most 63 characters of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit".into())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One term of a label selector, with the place that wrote it.
#[derive(Clone, Debug)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
    pub origin: Origin,
}

impl Requirement {
    pub fn matches(&self, labels: Option<&Node>) -> bool {
        let value = labels.and_then(|l| l.get(&self.key)).and_then(scalar_text);
        match self.op {
            Op::In => value.is_some_and(|v| self.values.contains(&v)),
            Op::NotIn => value.is_none_or(|v| !self.values.contains(&v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
        }
    }

    /// The term as Kubernetes writes it: `app=api`, `tier in (a,b)`, `!canary`.
    pub fn describe(&self) -> String {
        match self.op {
            Op::In if self.values.len() == 1 => format!("{}={}", self.key, self.values[0]),
            Op::In => format!("{} in ({})", self.key, self.values.join(",")),
            Op::NotIn => format!("{} notin ({})", self.key, self.values.join(",")),
            Op::Exists => self.key.clone(),
            Op::DoesNotExist => format!("!{}", self.key),
        }
    }
}

/// A label selector: all of its requirements must hold.
#[derive(Clone, Debug)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
    pub origin: Origin,
}

impl Selector {
    /// A `LabelSelector` (`matchLabels` and `matchExpressions`). `None` when an operator is unknown
    /// (the schema reports it).
    pub fn from_label_selector(node: &Node) -> Option<Selector> {
        let mut requirements = Vec::new();
        if let Some(m) = node.get("matchLabels").and_then(Node::as_map) {
            for (k, v) in m.iter() {
                requirements.push(Requirement {
                    key: k.name.clone(),
                    op: Op::In,
                    values: scalar_text(v).into_iter().collect(),
                    origin: k.origin,
                });
            }
        }
        for e in node
            .get("matchExpressions")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let op = match e.str_at(&["operator"])? {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                _ => return None,
            };
            requirements.push(Requirement {
                key: e.str_at(&["key"])?.to_string(),
                op,
                values: e
                    .get("values")
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(scalar_text)
                    .collect(),
                origin: e.origin,
            });
        }
        Some(Selector {
            requirements,
            origin: node.origin,
        })
    }

    /// A plain map selector (`Service.spec.selector`).
    pub fn from_map(node: &Node) -> Selector {
        let requirements = node
            .as_map()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| Requirement {
                        key: k.name.clone(),
                        op: Op::In,
                        values: scalar_text(v).into_iter().collect(),
                        origin: k.origin,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Selector {
            requirements,
            origin: node.origin,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The equality terms (`key=value`, `key in (...)`): a key and the values it accepts. Labels the
    /// selector matches hold one of the values of each.
    pub fn terms(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.requirements
            .iter()
            .filter(|r| r.op == Op::In)
            .map(|r| (r.key.as_str(), r.values.as_slice()))
    }

    pub fn matches(&self, labels: Option<&Node>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The requirements `labels` fails.
    pub fn unmet<'a>(&'a self, labels: Option<&Node>) -> Vec<&'a Requirement> {
        self.requirements
            .iter()
            .filter(|r| !r.matches(labels))
            .collect()
    }
}

/// A container of a pod spec.
pub struct Container<'a> {
    pub node: &'a Node,
    pub name: &'a str,
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    /// An init container that keeps running beside the others (`restartPolicy: Always`).
    pub sidecar: bool,
}

impl Container<'_> {
    /// Where the container is defined: its `name`, else the list item.
    pub fn origin(&self) -> Origin {
        self.node
            .get("name")
            .map(|n| n.origin)
            .unwrap_or(self.node.origin)
    }
    pub fn is_init(&self) -> bool {
        self.list == "initContainers"
    }
}

/// The containers of a pod spec: `containers`, then `initContainers`, then `ephemeralContainers`.
pub fn containers(pod_spec: &Node) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in pod_spec.get(list).and_then(Node::as_seq).unwrap_or(&[]) {
            out.push(Container {
                node: c,
                name: c.str_at(&["name"]).unwrap_or(""),
                list,
                sidecar: list == "initContainers" && c.str_at(&["restartPolicy"]) == Some("Always"),
            });
        }
    }
    out
}

/// Kinds whose pods run until stopped (as opposed to Jobs and CronJobs).
pub fn is_long_running(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController"
    )
}

/// The labels of a workload's pod template.
pub fn template_labels(r: &Resource) -> Option<&Node> {
    r.pod_template()?.path(&["metadata", "labels"])
}

/// `a.b[0].c` for a path of keys and indices, for messages.
pub fn field_path(parts: &[&str]) -> String {
    let mut out = String::new();
    for p in parts {
        if p.starts_with('[') {
            out.push_str(p);
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("100m"), Ok(0.1));
        assert_eq!(parse_quantity("512Mi"), Ok(512.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("1.5"), Ok(1.5));
        assert_eq!(parse_quantity("2e3"), Ok(2000.0));
        assert_eq!(parse_quantity("1G"), Ok(1e9));
        assert_eq!(parse_quantity(".5"), Ok(0.5));
        assert_eq!(parse_quantity("-1"), Ok(-1.0));
        for bad in [
            "lots", "", " 1", "1 Gi", "1gi", "1.2.3", "Mi", "1e", "1KiB", ".",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn names() {
        assert!(dns1123_label("openim-api").is_ok());
        assert!(dns1123_label("OpenIM").is_err());
        assert!(dns1123_label("-a").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(dns1035_label("1abc").is_err());
        assert!(dns1123_subdomain("a.b-c.d").is_ok());
        assert!(dns1123_subdomain("a..b").is_err());
        assert!(iana_svc_name("http").is_ok());
        assert!(iana_svc_name("8080").is_err());
        assert!(iana_svc_name("a--b").is_err());
        assert!(iana_svc_name("abcdefghijklmnop").is_err());
        assert!(qualified_name("app.kubernetes.io/name").is_ok());
        assert!(qualified_name("app.kubernetes.io/").is_err());
        assert!(qualified_name("Bad_Prefix/x").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_3-x").is_ok());
        assert!(label_value("-x").is_err());
        assert!(path_segment("system:controller").is_ok());
        assert!(path_segment("a/b").is_err());
    }
}
