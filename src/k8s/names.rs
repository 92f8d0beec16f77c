//! Names as the API server validates them: object names (RFC 1123 and 1035 labels and subdomains, path
//! segments), port names, label keys and values.

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

#[cfg(test)]
mod tests {
    use super::*;

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
