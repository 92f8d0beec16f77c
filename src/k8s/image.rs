//! Image references: `registry/repo/name:tag@sha256:...` split into their parts, and the full name a
//! container runtime pulls.

/// `registry/repo/name:tag@sha256:...` split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(text: &str) -> ImageRef {
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (text, None),
        };
        let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (
                rest[..slash + i].to_string(),
                Some(rest[slash + i + 1..].to_string()),
            ),
            None => (rest.to_string(), None),
        };
        ImageRef { name, tag, digest }
    }

    pub fn to_text(&self) -> String {
        let mut s = self.name.clone();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// True when `name` names this image: exactly, or as its path below a registry
    /// (`openim/openim-api` names `ghcr.io/openim/openim-api`).
    pub fn is_named(&self, name: &str) -> bool {
        self.name == name
            || (self.name.len() > name.len()
                && self.name.ends_with(name)
                && self.name.as_bytes()[self.name.len() - name.len() - 1] == b'/')
    }
}

/// `docker.io/library/redis` for `redis`, `docker.io/bitnami/kafka` for `bitnami/kafka`; names with a
/// registry host (a `.` or `:` in the first part, or `localhost`) unchanged, `index.docker.io` read as
/// `docker.io`.
pub fn full_name(name: &str) -> String {
    match name.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => {
            if matches!(host, "index.docker.io" | "registry-1.docker.io") {
                format!("docker.io/{rest}")
            } else {
                name.to_string()
            }
        }
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = ImageRef::parse("localhost:5000/openim/api:v1@sha256:abc");
        assert_eq!(r.name, "localhost:5000/openim/api");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        let r = ImageRef::parse("localhost:5000/openim/api");
        assert_eq!(r.name, "localhost:5000/openim/api");
        assert_eq!(r.tag, None);
        assert_eq!(ImageRef::parse("redis:7.2").to_text(), "redis:7.2");
        assert!(ImageRef::parse("ghcr.io/openim/openim-api:x").is_named("openim/openim-api"));
        assert!(!ImageRef::parse("ghcr.io/xopenim/openim-api:x").is_named("openim/openim-api"));
    }
}
