//! Every use of git2 lives under this module; the rest of the program sees plain types.
//!
//! - [`facts`]: what the tag rules need to know about HEAD (the tags stage).
//! - [`files`]: a commit's tree as [`crate::load::Files`], so any revision compiles without a checkout.
//! - [`commit`]: a rendered [`crate::render::Tree`] written as a commit on an environment branch.
//! - [`pack`]: objects hashed in memory and written as one pack.
//! - [`tls`]: libgit2's CA bundle loaded only before a network operation.
//! - [`push`]: that branch pushed to a remote, rebuilt on the remote's tip when it moved.
//! - [`notes`]: the note `refs/notes/hydrator.metadata` GitOps Promoter reads on a hydrated commit.
//! - [`promotion`]: what `promote` reads from rendered branches (tested commits, DRY history).
//! - [`remote`]: a remote's URL without credentials, for the Argo CD objects and `hydrator.metadata`.

pub mod commit;
mod facts;
pub mod files;
pub mod notes;
pub mod pack;
pub mod promotion;
pub mod push;
pub mod remote;
pub mod tls;

pub use facts::*;

/// The process environment variables the git stage reads, gathered by the command line layer so the
/// library never reads the process environment itself (tests pass their own).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitEnv {
    pub vars: std::collections::BTreeMap<String, String>,
}

impl GitEnv {
    /// The variables that steer commit identity, dates and push credentials.
    pub const NAMES: &'static [&'static str] = &[
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "SOURCE_DATE_EPOCH",
        "OPENIM_GITOPS_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
    ];

    pub fn from_process() -> GitEnv {
        GitEnv {
            vars: Self::NAMES
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                .collect(),
        }
    }

    /// A variable's value, with empty values counted as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn with(mut self, name: &str, value: &str) -> GitEnv {
        self.vars.insert(name.to_string(), value.to_string());
        self
    }
}

/// A git2 error as this program reports it.
pub(crate) fn git_error(what: &str, e: git2::Error) -> crate::error::Error {
    crate::error::Error::Git(
        crate::check::redact::message(&format!("{what}: {}", e.message())).into_owned(),
    )
}

/// Lets libgit2 keep trees of any size (up to 64 MiB each) in its object cache. By default it caches
/// trees of up to 4 KiB only, and reading a commit's files one path at a time looks every folder on
/// the way up again: a folder of 2,000 files, read file by file, was inflated and hashed 2,000 times
/// (most of `render --commit`'s time at 10,000 resources). Call it before any other thread starts.
pub fn cache_large_trees() {
    // SAFETY: git2 marks this unsafe because it sets a libgit2 global without a lock; the binary calls
    // it first thing, before any other thread exists.
    unsafe {
        let _ = git2::opts::set_cache_object_limit(git2::ObjectType::Tree, 64 << 20);
    }
}
