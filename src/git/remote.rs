//! The URL of a remote as others may see it: the repository's own address for Argo CD objects and for
//! `hydrator.metadata`, never the credentials a CI wrote into it.

use git2::Repository;

/// The remote whose URL names the repository when no push remote is given.
pub const DEFAULT_REMOTE: &str = "origin";

/// The URL of the remote `name` (or `name` itself when it is a URL), credentials removed; `None` when
/// the repository has no such remote.
pub fn remote_url(repo: &Repository, name: &str) -> Option<String> {
    if name.contains("://") || (name.contains('@') && name.contains(':')) {
        return Some(without_credentials(name));
    }
    let remote = repo.find_remote(name).ok()?;
    let url = match remote.pushurl() {
        Ok(Some(push)) => push,
        _ => remote.url().ok()?,
    };
    Some(without_credentials(url))
}

/// A URL with any user name and password removed from `scheme://user:password@host/...`; an ssh URL
/// keeps its user (`ssh://git@host/...`, `git@host:org/repo`), which is not a secret, but loses a
/// password. Anything that is not a URL comes back as it is.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let (userinfo, host) = (&authority[..at], &authority[at + 1..]);
    let keep_user = scheme.eq_ignore_ascii_case("ssh") || scheme.eq_ignore_ascii_case("git+ssh");
    match userinfo.split_once(':') {
        _ if !keep_user => format!("{scheme}://{host}{path}"),
        Some((user, _)) => format!("{scheme}://{user}@{host}{path}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed() {
        for (given, want) in [
            (
                "https://x-access-token:ghs_abc@github.com/o/r.git",
                "https://github.com/o/r.git",
            ),
            ("https://user@example.com/o/r", "https://example.com/o/r"),
            (
                "http://a:b@127.0.0.1:8080/r.git",
                "http://127.0.0.1:8080/r.git",
            ),
            ("https://github.com/o/r.git", "https://github.com/o/r.git"),
            (
                "ssh://git:pw@github.com/o/r.git",
                "ssh://git@github.com/o/r.git",
            ),
            (
                "ssh://git@github.com/o/r.git",
                "ssh://git@github.com/o/r.git",
            ),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            ("/srv/git/r.git", "/srv/git/r.git"),
            ("https://example.com/a@b", "https://example.com/a@b"),
        ] {
            assert_eq!(without_credentials(given), want, "{given}");
        }
    }

    #[test]
    fn the_push_url_wins_and_a_missing_remote_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        assert_eq!(remote_url(&repo, "origin"), None);
        repo.remote("origin", "https://tok:en@example.com/fetch.git")
            .unwrap();
        assert_eq!(
            remote_url(&repo, "origin").as_deref(),
            Some("https://example.com/fetch.git")
        );
        repo.remote_set_pushurl("origin", Some("https://example.com/push.git"))
            .unwrap();
        assert_eq!(
            remote_url(&repo, "origin").as_deref(),
            Some("https://example.com/push.git")
        );
        assert_eq!(
            remote_url(&repo, "https://u:p@example.com/x.git").as_deref(),
            Some("https://example.com/x.git")
        );
    }
}
