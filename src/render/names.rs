//! The names a rendered path is built from (namespace, kind, group, name), validated before anything is
//! written: a name with `/`, `..`, a NUL or a control character would put a file outside `--out`. The
//! check stage reports the API server's full naming rules as findings; this is the floor the writer needs.

use crate::error::{Error, Result};
use crate::node::Origin;
use crate::resource::{is_cluster_scoped, Resource};

/// Every resource's name, namespace, kind and API group can be a path segment: an error at the line
/// that gives each bad one.
pub fn check_names(resources: &[Resource]) -> Result<()> {
    let mut errors = Vec::new();
    for r in resources {
        let id = r.id();
        let at = |path: &[&str]| -> Origin {
            r.node.path(path).map(|n| n.origin).unwrap_or(r.node.origin)
        };
        if let Err(why) = object_name(&id.name) {
            errors.push(bad("metadata.name", &id.name, &why, r.name_origin()));
        }
        if !is_cluster_scoped(&id.group, &id.kind) && !id.namespace.is_empty() {
            if let Err(why) = namespace(&id.namespace) {
                errors.push(bad(
                    "metadata.namespace",
                    &id.namespace,
                    &why,
                    at(&["metadata", "namespace"]),
                ));
            }
        }
        if let Err(why) = kind(&id.kind) {
            errors.push(bad("kind", &id.kind, &why, at(&["kind"])));
        }
        if let Err(why) = group(&id.group) {
            errors.push(bad("apiVersion", &id.group, &why, at(&["apiVersion"])));
        }
    }
    Error::collect(errors)
}

fn bad(field: &str, value: &str, why: &str, origin: Origin) -> Error {
    Error::at(origin, format!("`{field}` {} {why}", shown(value)))
        .label("here")
        .help("rendered files are named after these fields, so they must be Kubernetes names")
}

/// The value quoted with control characters escaped (a NUL must not reach a terminal).
fn shown(value: &str) -> String {
    format!("{:?}", value.chars().take(80).collect::<String>())
}

/// A path segment name, as the API server requires of every object name (`ValidatePathSegmentName`),
/// restricted to printable ASCII without `\` or `%`, at most 253 characters.
pub fn object_name(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 253 {
        return Err("is longer than 253 characters".into());
    }
    if s == "." || s == ".." {
        return Err("may not be `.` or `..`".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_graphic()) || matches!(c, '/' | '\\' | '%'))
    {
        return Err(format!("holds {c:?}, which a name may not hold"));
    }
    if s.starts_with('.') {
        return Err("may not start with `.`".into());
    }
    Ok(())
}

/// An RFC 1123 label: at most 63 of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
pub fn namespace(s: &str) -> std::result::Result<(), String> {
    label(s, 63)
}

fn label(s: &str, max: usize) -> std::result::Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("may hold only `a-z`, `0-9` and `-`".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// A kind: a letter, then letters and digits.
pub fn kind(s: &str) -> std::result::Result<(), String> {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        _ => return Err("must start with a letter".into()),
    }
    if s.len() > 63 || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return Err("may hold only letters and digits (at most 63)".into());
    }
    Ok(())
}

/// An API group: empty (the core group) or an RFC 1123 subdomain.
pub fn group(s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > 253 {
        return Err("is longer than 253 characters".into());
    }
    for part in s.split('.') {
        label(part, 63).map_err(|e| format!("is not a DNS subdomain: each part {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_output_folder_are_refused() {
        for bad in [
            "../../../../ESC",
            "a/b",
            "..",
            ".",
            "",
            "a\0b",
            "a\\b",
            ".hidden",
            "a b",
        ] {
            assert!(object_name(bad).is_err(), "{bad:?}");
        }
        for good in [
            "openim-api",
            "system:aggregate-to-admin",
            "v1.2",
            "a_b",
            "UPPER",
        ] {
            assert!(object_name(good).is_ok(), "{good:?}");
        }
        for bad in ["/anywhere", "..", "Dev", "-a", "a.b", ""] {
            assert!(namespace(bad).is_err(), "{bad:?}");
        }
        assert!(namespace("openim-dev").is_ok());
        for bad in ["../../x", "Deploy/x", "1Kind", ""] {
            assert!(kind(bad).is_err(), "{bad:?}");
        }
        assert!(kind("ServiceMonitor").is_ok());
        for bad in ["../x", "a/b", "A.io", "a..b"] {
            assert!(group(bad).is_err(), "{bad:?}");
        }
        assert!(group("monitoring.coreos.com").is_ok() && group("").is_ok());
    }
}
