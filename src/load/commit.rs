//! [`BranchPath`]: the one reading of a folder of a rendered branch, which both the `commit.path` of an
//! `env.yaml` (see [`super::layer::CommitSpec`]) and `render --commit --path` go through. The folder
//! comes from untrusted input (the repository, the command line), so only a clean relative path is
//! accepted.

use std::fmt;

/// The longest folder accepted, in bytes, and the longest part of it.
const MAX_LEN: usize = 1024;
const MAX_PART: usize = 255;

/// A folder of a rendered branch, as written in a git tree: relative, `/`-separated, each part made of
/// ASCII letters, digits, `.`, `_` and `-` and starting with neither `.` nor `-` (so no `.`, `..` or
/// `.git` part), no leading, trailing or doubled `/`. Such a folder is also a valid tail of a branch
/// name (the proposed branch `<branch>-next/<path>`) and safe to paste into a shell command.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BranchPath(String);

impl BranchPath {
    /// Checks `text`; the error says what is wrong and, where there is one, the clean spelling.
    pub fn parse(text: &str) -> Result<BranchPath, PathError> {
        let err = |why: &str| PathError {
            path: text.to_string(),
            why: why.to_string(),
            clean: clean_form(text),
        };
        if text.is_empty() {
            return Err(err("it is empty"));
        }
        if text.len() > MAX_LEN {
            return Err(err(&format!("it is longer than {MAX_LEN} bytes")));
        }
        if text.chars().any(char::is_control) {
            return Err(err("it holds a control character"));
        }
        if text.contains('\\') {
            return Err(err("it holds a backslash (folders are separated by `/`)"));
        }
        if text.starts_with('/')
            || (text.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
                && text.as_bytes().get(1) == Some(&b':'))
        {
            return Err(err(
                "it is absolute: it must be a folder relative to the branch's root",
            ));
        }
        for part in text.split('/') {
            match part {
                "" => return Err(err("it has an empty part (`//`, or a `/` at either end)")),
                "." => return Err(err("it has a `.` part")),
                ".." => return Err(err("it climbs out with `..`")),
                p if p.eq_ignore_ascii_case(".git") => return Err(err("it names a `.git` folder")),
                p if p.len() > MAX_PART => {
                    return Err(err(&format!("a part is longer than {MAX_PART} bytes")))
                }
                p if p.starts_with(['.', '-']) => {
                    return Err(err(&format!("`{p}` starts with `{}`", &p[..1])))
                }
                p if p.ends_with(".lock") => {
                    return Err(err(&format!(
                        "`{p}` ends in `.lock`, which git refuses in a branch name"
                    )))
                }
                p => {
                    if let Some(c) = p
                        .chars()
                        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
                    {
                        return Err(err(&format!(
                            "it holds `{}`: a folder here is made of letters, digits, `.`, `_` and `-`",
                            c.escape_debug()
                        )));
                    }
                }
            }
        }
        Ok(BranchPath(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parts, root first.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Whether `self` is `other` or a folder inside it.
    pub fn within(&self, other: &BranchPath) -> bool {
        self.0 == other.0
            || self
                .0
                .strip_prefix(&other.0)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl fmt::Display for BranchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a folder was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    pub path: String,
    pub why: String,
    /// The same folder written cleanly, when it stays inside the branch.
    pub clean: Option<String>,
}

impl PathError {
    pub fn message(&self, what: &str) -> String {
        format!(
            "{what} `{}` is not a folder of the branch: {}",
            self.path.escape_debug(),
            self.why
        )
    }

    pub fn help(&self) -> String {
        match &self.clean {
            Some(clean) if clean != &self.path => format!(
                "write it as `{clean}`: a relative folder such as `apps/dev`, without `.`, `..`, `.git` or a `/` at either end"
            ),
            _ => "give a relative folder such as `apps/dev`, without `.`, `..`, `.git` or a `/` at either end".to_string(),
        }
    }
}

/// The clean spelling of a folder that differs only by `.` parts, repeated or outer slashes; `None`
/// when it climbs out, names `.git` or cannot be a folder at all.
fn clean_form(text: &str) -> Option<String> {
    if text.starts_with('/') || text.contains('\\') || text.chars().any(char::is_control) {
        return None;
    }
    let parts: Vec<&str> = text
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty()
        || parts
            .iter()
            .any(|p| *p == ".." || p.eq_ignore_ascii_case(".git"))
    {
        return None;
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_relative_folders_only() {
        for good in ["dev", "apps/dev", "a.b/c_d-e", "x/y/z/2024.1"] {
            assert_eq!(
                BranchPath::parse(good).map(|p| p.to_string()),
                Ok(good.to_string())
            );
        }
        for bad in [
            "", "/dev", "C:/dev", "dev/", "./dev", "a//b", "a/./b", "..", "a/../b", "../a", ".git",
            "a/.GIT/b", ".hidden", "-rf", "a\\b", "a b", "a\nb", "x.lock", "a*b", "a:b", "a~1",
        ] {
            assert!(BranchPath::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(BranchPath::parse(&"a".repeat(256)).is_err());
        assert!(BranchPath::parse(&["a"; 600].join("/")).is_err());
    }

    #[test]
    fn the_clean_spelling_is_offered_only_inside_the_branch() {
        let clean = |s: &str| BranchPath::parse(s).unwrap_err().clean;
        assert_eq!(clean("./apps//dev/"), Some("apps/dev".to_string()));
        assert_eq!(clean("apps/./dev"), Some("apps/dev".to_string()));
        assert_eq!(clean("../apps"), None);
        assert_eq!(clean("/apps"), None);
        assert_eq!(clean("a/.git"), None);
        let e = BranchPath::parse("dev/").unwrap_err();
        assert!(e.help().contains("write it as `dev`"), "{}", e.help());
        assert!(e
            .message("--path")
            .starts_with("--path `dev/` is not a folder"));
    }

    #[test]
    fn within_compares_whole_parts() {
        let p = |s: &str| BranchPath::parse(s).unwrap();
        assert!(p("apps/dev").within(&p("apps")));
        assert!(p("apps").within(&p("apps")));
        assert!(!p("apps-old").within(&p("apps")));
        assert!(!p("apps").within(&p("apps/dev")));
    }
}
