//! The git stage's second half: the environment branch pushed to a remote, never forced.
//!
//! The commit is built on the remote branch's tip (fetched first). When another pipeline pushed in
//! between, the push is refused as a non-fast-forward; the remote tip is fetched again and the same tree
//! is committed on it, a bounded number of times. The local branch ends at what was pushed, or where it
//! was before when the push fails.
//!
//! Credentials, in the order the remote asks for them: the ssh agent (ssh URLs); a token from the
//! environment sent as `x-access-token:<token>` (HTTPS, or plain HTTP to this machine only); git's
//! credential helpers. Each is tried once, so a bad credential fails at once instead of looping.

use std::cell::RefCell;

use git2::{
    Cred, CredentialType, ErrorClass, ErrorCode, FetchOptions, Oid, PushOptions, Remote,
    RemoteCallbacks, Repository,
};

use crate::error::{Error, Result};
use crate::render::Tree;

use super::commit::{
    self, branch_ref, local_tip, prepare, refuse_checked_out, Identity, Prepared, Provenance,
};
use super::{notes, GitEnv};

/// The environment variables a token is read from, in order.
pub const TOKEN_VARIABLES: [&str; 3] = ["OPENIM_GITOPS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"];

/// Called with the attempt number (0 first) after the remote tip was fetched and before the push.
pub type BeforePush = Box<dyn Fn(u32)>;

/// How to push.
pub struct PushSettings {
    /// A remote's name (`origin`) or a URL.
    pub remote: String,
    /// How many times the commit is rebuilt on a remote tip that moved before giving up.
    pub retries: u32,
    /// (variable, token) pairs, in the order they are tried.
    pub tokens: Vec<(String, String)>,
    /// A test seam: lets a test push to the remote between our fetch and our push, as a concurrent
    /// pipeline would.
    pub before_push: Option<BeforePush>,
    /// How many times the note is written again on a notes reference that another writer moved.
    pub note_retries: u32,
    /// The same seam for the notes reference: called after it was fetched and the note written.
    pub before_note_push: Option<BeforePush>,
}

impl PushSettings {
    pub fn new(remote: &str, env: &GitEnv) -> PushSettings {
        PushSettings {
            remote: remote.to_string(),
            retries: 3,
            tokens: TOKEN_VARIABLES
                .iter()
                .filter_map(|v| env.get(v).map(|t| (v.to_string(), t.trim().to_string())))
                .collect(),
            before_push: None,
            note_retries: 8,
            before_note_push: None,
        }
    }
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// A new commit, now the remote branch's tip. `rebuilt` counts the times the remote had moved.
    Created {
        commit: Oid,
        parent: Option<Oid>,
        rebuilt: u32,
    },
    /// No new commit was needed, but the local branch held commits the remote lacked: they were pushed.
    Existing { commit: Oid },
    /// The remote branch already holds these manifests: nothing committed or pushed.
    UpToDate { tip: Oid },
}

/// Commits the rendered tree on `branch` and pushes it, then writes the hydrator note on the pushed
/// tip (a new commit, or the old tip when the manifests did not change) and pushes the notes too.
pub fn commit_and_push(
    repo: &Repository,
    branch: &str,
    tree: &Tree,
    provenance: &Provenance<'_>,
    identity: &Identity,
    settings: &PushSettings,
) -> Result<Pushed> {
    let pushed = push_branch(repo, branch, tree, provenance, identity, settings)?;
    let commit = match &pushed {
        Pushed::Created { commit, .. } | Pushed::Existing { commit } => *commit,
        Pushed::UpToDate { tip } => *tip,
    };
    push_note(repo, commit, provenance, identity, settings)?;
    Ok(pushed)
}

/// Writes the note on `commit` and pushes `refs/notes/hydrator.metadata`, never forced: when another
/// writer moved the remote notes (a note on another environment's commit), they are fetched again, the
/// note is written on top, and the push is tried again, a bounded number of times.
pub fn push_note(
    repo: &Repository,
    commit: Oid,
    provenance: &Provenance<'_>,
    identity: &Identity,
    settings: &PushSettings,
) -> Result<()> {
    if provenance.meta.source_commit.is_none() {
        return Ok(());
    }
    let mut remote = open_remote(repo, &settings.remote)?;
    let url = remote.url().unwrap_or(&settings.remote).to_string();
    let refname = notes::NOTES_REF;
    let mut attempt = 0;
    loop {
        let auth = RefCell::new(Auth::new(repo, settings));
        let fetched = {
            let mut callbacks = RemoteCallbacks::new();
            callbacks
                .credentials(|u, user, allowed| auth.borrow_mut().credentials(u, user, allowed));
            let mut options = FetchOptions::new();
            options.remote_callbacks(callbacks);
            let spec = format!("+{refname}:{refname}");
            remote.fetch(&[spec.as_str()], Some(&mut options), None)
        };
        if let Err(e) = fetched {
            return Err(classify(e, &auth.borrow()).into_error(refname, &settings.remote, &url, 0));
        }
        commit::note_on(repo, commit, provenance, identity)?;
        if let Some(hook) = &settings.before_note_push {
            hook(attempt);
        }
        match push_once(repo, &mut remote, refname, settings) {
            Ok(()) => return Ok(()),
            Err(Failure::Moved) if attempt < settings.note_retries => attempt += 1,
            Err(failure) => {
                return Err(failure.into_error(refname, &settings.remote, &url, attempt))
            }
        }
    }
}

/// Commits the rendered tree on `branch` and pushes it.
fn push_branch(
    repo: &Repository,
    branch: &str,
    tree: &Tree,
    provenance: &Provenance<'_>,
    identity: &Identity,
    settings: &PushSettings,
) -> Result<Pushed> {
    refuse_checked_out(repo, branch)?;
    let refname = branch_ref(branch)?;
    let before = local_tip(repo, branch)?;
    let readme = provenance.readme();
    let prepared = prepare(tree, &readme, provenance, identity)?;
    let mut remote = open_remote(repo, &settings.remote)?;
    let url = remote.url().unwrap_or(&settings.remote).to_string();
    let mut rebuilt = 0;
    loop {
        let remote_tip = fetch_tip(repo, &mut remote, branch, settings, &url)?;
        let step = next_commit(repo, &prepared, before, remote_tip)?;
        let (commit, parent, created) = match step {
            Step::UpToDate(tip) => {
                // The local branch follows the remote (it may have been behind, or absent).
                if before != Some(tip) {
                    commit::restore_branch(repo, branch, Some(tip))?;
                }
                return Ok(Pushed::UpToDate { tip });
            }
            Step::Push {
                commit,
                parent,
                created,
            } => (commit, parent, created),
        };
        repo.reference(
            &refname,
            commit,
            true,
            &format!("openim-gitops: render {}", provenance.meta.environment),
        )
        .map_err(|e| super::git_error(&format!("cannot move branch {branch}"), e))?;
        if let Some(hook) = &settings.before_push {
            hook(rebuilt);
        }
        match push_once(repo, &mut remote, &refname, settings) {
            Ok(()) => {
                return Ok(if created {
                    Pushed::Created {
                        commit,
                        parent,
                        rebuilt,
                    }
                } else {
                    Pushed::Existing { commit }
                })
            }
            Err(Failure::Moved) if rebuilt < settings.retries => rebuilt += 1,
            Err(failure) => {
                commit::restore_branch(repo, branch, before)?;
                return Err(failure.into_error(branch, &settings.remote, &url, rebuilt));
            }
        }
    }
}

enum Step {
    UpToDate(Oid),
    Push {
        commit: Oid,
        parent: Option<Oid>,
        created: bool,
    },
}

/// Where the new commit goes: on the remote tip, or on the local branch when it is ahead of the remote
/// (earlier renders committed without pushing). A local branch that diverged from the remote is
/// rebuilt on the remote: the remote's history always stays.
fn next_commit(
    repo: &Repository,
    prepared: &Prepared<'_>,
    local: Option<Oid>,
    remote: Option<Oid>,
) -> Result<Step> {
    let base = match (local, remote) {
        (l, None) => l,
        (Some(l), Some(r)) if l != r && descends(repo, l, r)? => Some(l),
        (_, Some(r)) => Some(r),
    };
    if let Some(b) = base {
        if prepared.same_as(repo, b)? {
            if Some(b) == remote {
                return Ok(Step::UpToDate(b));
            }
            return Ok(Step::Push {
                commit: b,
                parent: None,
                created: false,
            });
        }
    }
    Ok(Step::Push {
        commit: prepared.commit_on(repo, base)?,
        parent: base,
        created: true,
    })
}

fn descends(repo: &Repository, a: Oid, b: Oid) -> Result<bool> {
    repo.graph_descendant_of(a, b)
        .map_err(|e| super::git_error("cannot compare the local and remote branches", e))
}

/// A remote by name, or an anonymous one for a URL.
fn open_remote<'r>(repo: &'r Repository, name: &str) -> Result<Remote<'r>> {
    super::tls::before_network()?;
    let is_url = name.contains("://") || name.starts_with('/') || name.contains('@');
    if is_url {
        return repo.remote_anonymous(name).map_err(|e| {
            Error::usage(
                crate::check::redact::message(&format!(
                    "`{name}` is not a usable remote URL: {}",
                    e.message()
                ))
                .into_owned(),
            )
        });
    }
    repo.find_remote(name).map_err(|e| {
        let known: Vec<String> = repo
            .remotes()
            .map(|r| r.iter().flatten().flatten().map(str::to_string).collect())
            .unwrap_or_default();
        let help = if known.is_empty() {
            "this repository has no remote: add one with `git remote add`, or give a URL to --push"
                .to_string()
        } else {
            format!("remotes here: {}", known.join(", "))
        };
        Error::usage(format!("there is no remote `{name}`: {}", e.message())).help(help)
    })
}

/// The remote branch's tip, its objects fetched; `None` when the remote has no such branch.
fn fetch_tip(
    repo: &Repository,
    remote: &mut Remote<'_>,
    branch: &str,
    settings: &PushSettings,
    url: &str,
) -> Result<Option<Oid>> {
    let refname = branch_ref(branch)?;
    let auth = RefCell::new(Auth::new(repo, settings));
    let result = {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(|u, user, allowed| auth.borrow_mut().credentials(u, user, allowed));
        let mut options = FetchOptions::new();
        options.remote_callbacks(callbacks);
        // Named remotes keep their tracking branch up to date, as `git fetch` would.
        let spec = match remote.name().ok().flatten() {
            Some(name) => format!("+{refname}:refs/remotes/{name}/{branch}"),
            None => refname.clone(),
        };
        remote.fetch(&[spec.as_str()], Some(&mut options), None)
    };
    if let Err(e) = result {
        return Err(classify(e, &auth.borrow()).into_error(branch, &settings.remote, url, 0));
    }
    let heads = remote
        .list()
        .map_err(|e| super::git_error("cannot list the remote's branches", e))?;
    let tip = heads.iter().find(|h| h.name() == refname).map(|h| h.oid());
    if let Some(tip) = tip {
        // A remote that advertises the branch but sent nothing for it is not one we can build on.
        repo.find_commit(tip)
            .map_err(|e| super::git_error(&format!("the fetched tip of {branch} is missing"), e))?;
    }
    Ok(tip)
}

/// Why a push failed.
enum Failure {
    /// The remote branch moved since it was fetched (non-fast-forward).
    Moved,
    Auth {
        tried: Vec<String>,
    },
    Network(String),
    Rejected(String),
    Other(String),
}

impl Failure {
    fn into_error(self, branch: &str, remote: &str, url: &str, rebuilt: u32) -> Error {
        let (message, help) = match self {
            Failure::Moved => (
                format!(
                    "pushing {branch} to {remote} failed: the remote branch moved {} times while rebuilding the commit on it",
                    rebuilt + 1
                ),
                "other pipelines keep pushing to this branch; run again (the render is rebuilt on the newest tip)".to_string(),
            ),
            Failure::Auth { tried } => (
                format!(
                    "authentication to {url} failed{}",
                    if tried.is_empty() {
                        ": no credentials to offer".to_string()
                    } else {
                        format!(" after trying {}", tried.join(", "))
                    }
                ),
                format!(
                    "for HTTPS set {} to a token allowed to push to {branch}; for ssh load a key into ssh-agent; or configure a git credential helper",
                    TOKEN_VARIABLES.join(", ")
                ),
            ),
            Failure::Network(m) => (
                format!("cannot reach {url}: {m}"),
                format!("check the network and the URL of remote `{remote}`"),
            ),
            Failure::Rejected(m) => (
                format!("{remote} refused the push to {branch}: {m}"),
                "the branch may be protected: let this identity push to it, or commit to another branch with --branch".to_string(),
            ),
            Failure::Other(m) => (
                format!("pushing {branch} to {remote} failed: {m}"),
                "nothing was changed on the remote".to_string(),
            ),
        };
        Error::Git(crate::check::redact::message(&format!("{message}\nhelp: {help}")).into_owned())
    }
}

fn is_moved(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("non-fast-forward") || m.contains("fetch first") || m.contains("stale info")
}

fn classify(e: git2::Error, auth: &Auth<'_>) -> Failure {
    let message = e.message().to_string();
    let lower = message.to_ascii_lowercase();
    if e.code() == ErrorCode::NotFastForward || is_moved(&message) {
        return Failure::Moved;
    }
    if auth.exhausted
        || e.code() == ErrorCode::Auth
        || lower.contains("status code: 401")
        || lower.contains("status code: 403")
        || lower.contains("authentication")
    {
        return Failure::Auth {
            tried: auth.tried.clone(),
        };
    }
    match e.class() {
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Http | ErrorClass::Ssl | ErrorClass::Ssh => {
            Failure::Network(message)
        }
        _ => Failure::Other(message),
    }
}

fn push_once(
    repo: &Repository,
    remote: &mut Remote<'_>,
    refname: &str,
    settings: &PushSettings,
) -> std::result::Result<(), Failure> {
    let auth = RefCell::new(Auth::new(repo, settings));
    let status: RefCell<Option<String>> = RefCell::new(None);
    let result = {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(|u, user, allowed| auth.borrow_mut().credentials(u, user, allowed));
        callbacks.push_update_reference(|_name, message| {
            if let Some(m) = message {
                *status.borrow_mut() = Some(m.to_string());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        // No `+`: never forced.
        let spec = format!("{refname}:{refname}");
        remote.push(&[spec.as_str()], Some(&mut options))
    };
    if let Err(e) = result {
        return Err(classify(e, &auth.borrow()));
    }
    match status.into_inner() {
        None => Ok(()),
        Some(m) if is_moved(&m) => Err(Failure::Moved),
        Some(m) => Err(Failure::Rejected(m)),
    }
}

/// One operation's credential state: each kind is offered once.
struct Auth<'a> {
    settings: &'a PushSettings,
    config: Option<git2::Config>,
    next_token: usize,
    agent_tried: bool,
    username_given: bool,
    helper_tried: bool,
    default_tried: bool,
    tried: Vec<String>,
    exhausted: bool,
}

impl<'a> Auth<'a> {
    fn new(repo: &Repository, settings: &'a PushSettings) -> Auth<'a> {
        Auth {
            settings,
            config: repo.config().ok(),
            next_token: 0,
            agent_tried: false,
            username_given: false,
            helper_tried: false,
            default_tried: false,
            tried: Vec::new(),
            exhausted: false,
        }
    }

    fn credentials(
        &mut self,
        url: &str,
        username: Option<&str>,
        allowed: CredentialType,
    ) -> std::result::Result<Cred, git2::Error> {
        let user = username.unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME) && !self.username_given {
            self.username_given = true;
            return Cred::username(user);
        }
        if allowed.contains(CredentialType::SSH_KEY) && !self.agent_tried {
            self.agent_tried = true;
            self.tried.push("the ssh agent".to_string());
            return Cred::ssh_key_from_agent(user);
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if token_may_go_to(url) {
                if let Some((var, token)) = self.settings.tokens.get(self.next_token) {
                    self.next_token += 1;
                    self.tried.push(format!("the token in {var}"));
                    return Cred::userpass_plaintext("x-access-token", token);
                }
            }
            if !self.helper_tried {
                self.helper_tried = true;
                if let Some(config) = &self.config {
                    if let Ok(cred) = Cred::credential_helper(config, url, username) {
                        self.tried.push("git's credential helper".to_string());
                        return Ok(cred);
                    }
                }
            }
        }
        if allowed.contains(CredentialType::DEFAULT) && !self.default_tried {
            self.default_tried = true;
            return Cred::default();
        }
        self.exhausted = true;
        Err(git2::Error::from_str(
            "authentication failed: no more credentials to try",
        ))
    }
}

/// Tokens go over HTTPS, or over plain HTTP only to this machine (a test server, a local proxy).
fn token_may_go_to(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_only_over_https_or_to_this_machine() {
        assert!(token_may_go_to("https://github.com/o/r.git"));
        assert!(token_may_go_to("http://127.0.0.1:8080/r.git"));
        assert!(token_may_go_to("http://user@localhost/r.git"));
        assert!(token_may_go_to("http://[::1]:9/r.git"));
        assert!(!token_may_go_to("http://example.com/r.git"));
        assert!(!token_may_go_to("http://127.0.0.1.example.com/r.git"));
        assert!(!token_may_go_to("git://127.0.0.1/r.git"));
    }

    #[test]
    fn rejections_that_mean_the_branch_moved() {
        assert!(is_moved("cannot push non-fast-forward reference"));
        assert!(is_moved("[rejected] (fetch first)"));
        assert!(!is_moved("protected branch hook declined"));
    }
}
