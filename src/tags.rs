//! Stage 3, tags: which image tag an environment's rule asks for, and why.
//!
//! Pure rules, no I/O. [`resolve`] takes the flags, the CI variables (passed in, never read from the
//! process) and the [`RepoFacts`] that the `git` module reads, and returns a [`TagDecision`]
//! for the step that retags the images the environment owns. [`check_tag`] is the rule itself, for a tag
//! from a flag or from a manifest. The naming is documented in `docs/tags.md`.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// The longest legal OCI tag.
pub const MAX_TAG_LEN: usize = 128;

/// Hex characters of the SHA-256 of a branch name appended when its tag is not the name itself.
const HASH_LEN: usize = 8;

/// The CI variables [`resolve`] may read from [`TagInputs::ci_env`], so a caller can collect just these.
pub const CI_VARIABLES: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_HEAD_REF",
    "GITHUB_REF_TYPE",
    "GITHUB_REF_NAME",
    "GITHUB_REF",
    "GITLAB_CI",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_TAG",
];

/// An environment's image-tag rule (`tags.rule` in `env.yaml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TagRule {
    /// dev: the branch name made a legal OCI tag.
    Branch,
    /// test: `rcN`.
    Rc,
    /// release: `release-vX.Y.Z`.
    Release,
}

impl TagRule {
    pub const ALL: [TagRule; 3] = [TagRule::Branch, TagRule::Rc, TagRule::Release];

    pub fn as_str(self) -> &'static str {
        match self {
            TagRule::Branch => "branch",
            TagRule::Rc => "rc",
            TagRule::Release => "release",
        }
    }

    /// What a tag under this rule looks like, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            TagRule::Branch => "a branch name made a legal OCI tag",
            TagRule::Rc => "rcN",
            TagRule::Release => "release-vX.Y.Z",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            TagRule::Branch => {
                "dev tags come from the branch: drop --tag, or pass one that is neither rcN nor release-vX.Y.Z"
            }
            TagRule::Rc => "pass --rc N, or --tag rcN (rc0, rc1, ...)",
            TagRule::Release => "pass --release-version X.Y.Z, or --tag release-vX.Y.Z",
        }
    }
}

impl FromStr for TagRule {
    type Err = TagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TagRule::ALL
            .into_iter()
            .find(|rule| rule.as_str() == s)
            .ok_or_else(|| TagError::UnknownRule {
                name: s.to_string(),
            })
    }
}

impl fmt::Display for TagRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A release version `X.Y.Z`; ordered numerically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// The `--release-version` flag: `X.Y.Z` or `vX.Y.Z`, numbers without leading zeros.
    pub fn parse(value: &str) -> Result<Version, TagError> {
        parse_triple(value.strip_prefix('v').unwrap_or(value)).ok_or_else(|| {
            TagError::InvalidVersion {
                value: value.to_string(),
            }
        })
    }

    /// The git tag that marks this release: `vX.Y.Z`.
    pub fn git_tag(&self) -> String {
        format!("v{self}")
    }

    /// The image tag of this release: `release-vX.Y.Z`.
    pub fn release_tag(&self) -> String {
        format!("release-v{self}")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A release-candidate git tag. Ordered by version, then number; a plain `rcN` has no version and
/// ranks below every versioned one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RcTag {
    pub version: Option<Version>,
    pub number: u32,
}

impl RcTag {
    /// The image tag: `rcN`.
    pub fn image_tag(&self) -> String {
        rc_tag(self.number)
    }
}

/// A canonical decimal number: digits only, no sign, no leading zero (except `0` itself).
fn parse_number<T: FromStr>(s: &str) -> Option<T> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_triple(s: &str) -> Option<Version> {
    let mut parts = s.split('.');
    let version = Version {
        major: parse_number(parts.next()?)?,
        minor: parse_number(parts.next()?)?,
        patch: parse_number(parts.next()?)?,
    };
    parts.next().is_none().then_some(version)
}

/// A release git tag `vX.Y.Z` (the `v` is required, so date-like tags such as `2024.01.05` never count).
pub fn parse_version_tag(git_tag: &str) -> Option<Version> {
    parse_triple(git_tag.strip_prefix('v')?)
}

/// A release-candidate git tag: `vX.Y.Z-rc.N`, `vX.Y.Z-rcN` or plain `rcN` (N fits 32 bits).
pub fn parse_rc_git_tag(git_tag: &str) -> Option<RcTag> {
    if let Some(number) = git_tag.strip_prefix("rc") {
        return Some(RcTag {
            version: None,
            number: parse_number(number)?,
        });
    }
    let (version, number) = git_tag.strip_prefix('v')?.split_once("-rc")?;
    Some(RcTag {
        version: Some(parse_triple(version)?),
        number: parse_number(number.strip_prefix('.').unwrap_or(number))?,
    })
}

/// The image tag of release candidate `n`: `rcN`.
pub fn rc_tag(n: u32) -> String {
    format!("rc{n}")
}

/// The number of an rc image tag `rcN`.
pub fn parse_rc_image_tag(tag: &str) -> Option<u32> {
    parse_number(tag.strip_prefix("rc")?)
}

/// The version of a release image tag `release-vX.Y.Z`.
pub fn parse_release_image_tag(tag: &str) -> Option<Version> {
    parse_triple(tag.strip_prefix("release-v")?)
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, the OCI distribution spec's tag grammar.
pub fn is_legal_oci_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    let legal = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-';
    tag.len() <= MAX_TAG_LEN
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bytes.all(legal)
}

/// Whether a tag could be taken for a test or release tag: `rc` and digits, or `release-v` and a
/// dotted number, in any case. A dev tag must never look like one.
pub fn looks_like_stage_tag(tag: &str) -> bool {
    let lower = tag.to_ascii_lowercase();
    let rc = lower
        .strip_prefix("rc")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let release = lower.strip_prefix("release-v").is_some_and(|v| {
        v.starts_with(|c: char| c.is_ascii_digit())
            && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    });
    rc || release
}

fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(HASH_LEN);
    hex
}

/// A branch name made a legal, stable, readable OCI tag.
///
/// ASCII letters are lowercased; `a-z 0-9 _ . -` are kept; every other character becomes `-`, a run of
/// such replacements one `-`; leading `.` and `-` are dropped. When that changed anything, or the result
/// is too long, empty, `latest`, or looks like a test or release tag, the tag is the readable part cut to
/// 119 characters, `-`, and the first 8 hex characters of the SHA-256 of the branch name, so
/// `feature/a` and `feature-a` never share a tag: `feature/Login_v2` -> `feature-login_v2-<hash>`, while
/// `fix-login` stays `fix-login`.
pub fn branch_to_tag(branch: &str) -> Result<String, TagError> {
    if branch.trim().is_empty() {
        return Err(TagError::EmptyBranch);
    }
    if branch == "HEAD" {
        return Err(TagError::HeadIsNotABranch);
    }
    let mut base = String::with_capacity(branch.len());
    let mut lossy = false;
    for c in branch.chars() {
        match c {
            'a'..='z' | '0'..='9' | '_' | '.' | '-' => base.push(c),
            'A'..='Z' => {
                lossy = true;
                base.push(c.to_ascii_lowercase());
            }
            _ => {
                lossy = true;
                if !base.ends_with('-') {
                    base.push('-');
                }
            }
        }
    }
    let start = base.len() - base.trim_start_matches(['.', '-']).len();
    if start > 0 {
        lossy = true;
        base.drain(..start);
    }
    lossy |= base.is_empty()
        || base.len() > MAX_TAG_LEN
        || base == "latest"
        || looks_like_stage_tag(&base);
    if !lossy {
        return Ok(base);
    }
    // `base` is ASCII, so any byte index is a character boundary.
    base.truncate(MAX_TAG_LEN - HASH_LEN - 1);
    let readable = base.trim_end_matches(['.', '-']);
    let hash = short_hash(branch);
    Ok(if readable.is_empty() {
        format!("branch-{hash}")
    } else {
        format!("{readable}-{hash}")
    })
}

/// Enforce an environment's rule on a tag. `latest` is an error under every rule.
///
/// - branch: a legal OCI tag, not `HEAD`, and not shaped like a test or release tag;
/// - rc: `rc(0|[1-9][0-9]*)`;
/// - release: `release-v(0|[1-9][0-9]*).(0|[1-9][0-9]*).(0|[1-9][0-9]*)`.
pub fn check_tag(rule: TagRule, tag: &str) -> Result<(), TagError> {
    if tag.eq_ignore_ascii_case("latest") {
        return Err(TagError::Latest {
            tag: tag.to_string(),
        });
    }
    if !is_legal_oci_tag(tag) {
        return Err(TagError::IllegalTag {
            tag: tag.to_string(),
        });
    }
    let broken = match rule {
        TagRule::Branch if tag == "HEAD" => Some("a detached HEAD is not a branch"),
        TagRule::Branch if looks_like_stage_tag(tag) => Some("it looks like a test or release tag"),
        TagRule::Branch => None,
        TagRule::Rc => parse_rc_image_tag(tag)
            .is_none()
            .then_some("expected rcN (rc0, rc1, ...)"),
        TagRule::Release => parse_release_image_tag(tag)
            .is_none()
            .then_some("expected release-vX.Y.Z"),
    };
    match broken {
        None => Ok(()),
        Some(reason) => Err(TagError::BreaksRule {
            tag: tag.to_string(),
            rule,
            reason,
        }),
    }
}

/// What [`resolve`] works from besides the repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagInputs {
    /// `--tag`: used as given, checked against the rule.
    pub explicit_tag: Option<String>,
    /// `--release-version`: `X.Y.Z` or `vX.Y.Z`, release rule only.
    pub version: Option<String>,
    /// `--rc N`, rc rule only.
    pub rc: Option<u32>,
    /// The CI's variables (see [`CI_VARIABLES`]); the library never reads the process environment.
    pub ci_env: BTreeMap<String, String>,
    /// Policy: a release version must carry an rc tag `vX.Y.Z-rc.N` on the same commit.
    pub require_tested_release: bool,
}

/// Why a tag was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagSource {
    /// `--tag`.
    ExplicitTag,
    /// `--rc N`.
    ExplicitRc,
    /// `--release-version`.
    ExplicitVersion { version: Version },
    /// The branch HEAD is on, or (`rev`) the branch `--rev` named or whose tip the revision is.
    Branch { branch: String, rev: Option<String> },
    /// HEAD is detached (or there is no repository): the branch a CI variable names.
    CiVariable { variable: String, branch: String },
    /// The newest release-candidate tag reachable from HEAD (or from the revision `rev`).
    RcTag {
        tag: String,
        commit: String,
        distance: usize,
        rev: Option<String>,
    },
    /// The version tag on HEAD (or on the revision `rev`).
    ReleaseTag {
        tag: String,
        commit: String,
        rev: Option<String>,
    },
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// The commit a rule read: HEAD, or the revision `render --rev` named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// The full commit id; `None` before the first commit.
    pub commit: Option<String>,
    /// The revision as it was named, when it is not HEAD.
    pub rev: Option<String>,
}

impl Subject {
    pub fn head(commit: Option<String>) -> Subject {
        Subject { commit, rev: None }
    }

    /// `HEAD`, or the revision in backquotes.
    fn name(&self) -> String {
        rev_name(&self.rev)
    }
}

fn rev_name(rev: &Option<String>) -> String {
    match rev {
        Some(rev) => format!("`{rev}`"),
        None => "HEAD".to_string(),
    }
}

impl fmt::Display for Subject {
    /// `HEAD 1a2b3c4`, `HEAD (no commits yet)` or `` `v3.8.2` (1a2b3c4) ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rev, &self.commit) {
            (None, Some(commit)) => write!(f, "HEAD {}", short(commit)),
            (None, None) => f.write_str("HEAD (no commits yet)"),
            (Some(rev), Some(commit)) => write!(f, "`{rev}` ({})", short(commit)),
            (Some(rev), None) => write!(f, "`{rev}`"),
        }
    }
}

impl fmt::Display for TagSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagSource::ExplicitTag => f.write_str("the --tag flag"),
            TagSource::ExplicitRc => f.write_str("the --rc flag"),
            TagSource::ExplicitVersion { version } => {
                write!(f, "the --release-version flag ({version})")
            }
            TagSource::Branch { branch, rev: None } => write!(f, "branch {branch}"),
            TagSource::Branch {
                branch,
                rev: Some(rev),
            } if rev == branch => write!(f, "branch {branch}"),
            TagSource::Branch {
                branch,
                rev: Some(rev),
            } => write!(f, "branch {branch}, whose tip is `{rev}`"),
            TagSource::CiVariable { variable, branch } => {
                write!(f, "branch {branch} in CI variable {variable}")
            }
            TagSource::RcTag {
                tag,
                commit,
                distance: 0,
                rev,
            } => write!(f, "git tag {tag} on {} {}", rev_name(rev), short(commit)),
            TagSource::RcTag {
                tag,
                commit,
                distance,
                rev,
            } => {
                let s = if *distance == 1 { "" } else { "s" };
                write!(
                    f,
                    "git tag {tag} on {}, {distance} commit{s} before {}",
                    short(commit),
                    rev_name(rev)
                )
            }
            TagSource::ReleaseTag { tag, commit, rev } => {
                write!(f, "git tag {tag} on {} {}", rev_name(rev), short(commit))
            }
        }
    }
}

/// What the pipeline needs to know about a repository, as plain data (`git` reads it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoFacts {
    /// The full id of the commit HEAD points at; `None` before the first commit.
    pub head_commit: Option<String>,
    /// The branch HEAD is on (`feature/login`, without `refs/heads/`); `None` when detached.
    pub branch: Option<String>,
    /// Every tag that leads to HEAD's commit (annotated or lightweight), sorted by name.
    pub tags_on_head: Vec<String>,
    /// Every tag whose commit is HEAD or an ancestor of it: (tag name, commit id, fewest parent steps
    /// from HEAD, 0 = on HEAD), sorted by distance, then name.
    pub reachable_tags: Vec<(String, String, usize)>,
    /// The URL of the remote `origin`, credentials removed; `None` without one. Not for the tag rules:
    /// the Argo CD objects name the repository with it.
    pub remote_url: Option<String>,
    /// HEAD's (or the revision's) author, date and message, for `hydrator.metadata`.
    pub dry: Option<crate::render::hydrator::DryCommit>,
    /// The revision `render --rev` named, when it is not HEAD's commit: the facts are about it, and the
    /// CI variables (which describe HEAD) do not count.
    pub rev: Option<String>,
    /// For such a revision that is no branch itself: the local branches whose tip it is (`branch` is
    /// set when there is exactly one).
    pub branches_at_rev: Vec<String>,
}

impl RepoFacts {
    /// The commit the facts are about, as messages name it.
    pub fn subject(&self) -> Subject {
        Subject {
            commit: self.head_commit.clone(),
            rev: self.rev.clone(),
        }
    }
}

/// The tag an environment gets, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagDecision {
    pub tag: String,
    pub rule: TagRule,
    pub source: TagSource,
}

impl fmt::Display for TagDecision {
    /// One line: `release-v3.8.3 from git tag v3.8.3 on HEAD 1a2b3c4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from {}", self.tag, self.source)
    }
}

/// Why no tag could be decided, or why a tag breaks a rule. Usage errors (exit 2): the tool cannot
/// tell what was meant. Policy errors (exit 1): the tag, or the state of the repository, breaks the
/// environment's rule.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TagError {
    #[error("unknown tag rule `{name}`: expected branch, rc or release")]
    UnknownRule { name: String },
    #[error("the branch name is empty")]
    EmptyBranch,
    #[error("`HEAD` is not a branch name: HEAD is detached")]
    HeadIsNotABranch,
    #[error("{} is detached and no CI variable names the branch", Subject::head(.commit.clone()))]
    DetachedHead { commit: Option<String> },
    #[error("{at} is not a branch, and {}", match .branches.as_slice() {
        [] => "no branch has it as its tip".to_string(),
        several => format!("several branches have it as their tip: {}", several.join(", ")),
    })]
    NotABranch { at: Subject, branches: Vec<String> },
    #[error("no git repository to take the {} from", match .rule {
        TagRule::Branch => "branch name",
        TagRule::Rc => "release-candidate tag",
        TagRule::Release => "version tag",
    })]
    NoRepository { rule: TagRule },
    #[error("the CI build is for git tag `{tag}` ({variable}), not for a branch")]
    CiTagBuild { variable: String, tag: String },
    #[error("`{value}` is not a version X.Y.Z or vX.Y.Z")]
    InvalidVersion { value: String },
    #[error("{flag} does not apply to the {rule} rule")]
    FlagNotForRule { flag: &'static str, rule: TagRule },
    #[error("{first} and {second} both set the tag")]
    ConflictingFlags {
        first: &'static str,
        second: &'static str,
    },

    #[error("the tag `{tag}` is never allowed")]
    Latest { tag: String },
    #[error("`{tag}` is not a legal OCI tag")]
    IllegalTag { tag: String },
    #[error("tag `{tag}` breaks the {rule} rule: {reason}")]
    BreaksRule {
        tag: String,
        rule: TagRule,
        reason: &'static str,
    },
    #[error("no release-candidate tag is reachable from {head}")]
    NoRcTag { head: Subject },
    #[error("{head} has no version tag vX.Y.Z, and release renders only tagged commits")]
    NoVersionTag { head: Subject },
    #[error("{head} has several version tags: {}", .tags.join(", "))]
    SeveralVersionTags { head: Subject, tags: Vec<String> },
    #[error("version {given} disagrees with the version tag {} on {}", .tags.join(", "), .head.name())]
    VersionMismatch {
        given: Version,
        tags: Vec<String>,
        head: Subject,
    },
    #[error("v{version} was never a tested candidate: {head} has no tag v{version}-rc.N")]
    UntestedRelease { version: Version, head: Subject },
    #[error("cannot check that v{version} was a tested candidate without a git repository")]
    CannotVerifyTested { version: Version },
}

impl TagError {
    /// What to do about it, in one line.
    pub fn hint(&self) -> String {
        match self {
            TagError::UnknownRule { .. } => {
                "set tags.rule to branch (dev), rc (test) or release (release)".to_string()
            }
            TagError::NotABranch { branches, .. } if !branches.is_empty() => {
                "name one of those branches with --rev, or pass --tag".to_string()
            }
            TagError::NotABranch { .. } => {
                "give --rev a branch (or a revision some branch has as its tip), or pass --tag".to_string()
            }
            TagError::EmptyBranch | TagError::HeadIsNotABranch | TagError::DetachedHead { .. } => {
                "check out a branch, run in CI (GITHUB_HEAD_REF or GITHUB_REF_NAME when GITHUB_ACTIONS=true), or pass --tag".to_string()
            }
            TagError::NoRepository { rule } => format!(
                "run inside the repository, or pass {}",
                match rule {
                    TagRule::Branch => "--tag",
                    TagRule::Rc => "--rc N",
                    TagRule::Release => "--release-version X.Y.Z",
                }
            ),
            TagError::CiTagBuild { .. } => {
                "render dev from a branch build, or pass --tag".to_string()
            }
            TagError::InvalidVersion { .. } => {
                "pass --release-version like 3.8.3 or v3.8.3 (numbers without leading zeros)".to_string()
            }
            TagError::FlagNotForRule { rule, .. } => format!(
                "the {rule} rule takes {}",
                match rule {
                    TagRule::Branch => "--tag only",
                    TagRule::Rc => "--rc N or --tag rcN",
                    TagRule::Release => "--release-version X.Y.Z or --tag release-vX.Y.Z",
                }
            ),
            TagError::ConflictingFlags { .. } => {
                "pass only one of --tag, --rc, --release-version".to_string()
            }
            TagError::Latest { .. } => {
                "use the environment's rule: a branch tag (dev), rcN (test) or release-vX.Y.Z (release)"
                    .to_string()
            }
            TagError::IllegalTag { .. } => {
                "a tag is 1 to 128 of A-Z a-z 0-9 _ . - and starts with a letter, digit or _"
                    .to_string()
            }
            TagError::BreaksRule { rule, .. } => rule.hint().to_string(),
            TagError::NoRcTag { .. } => {
                "tag a commit vX.Y.Z-rc.N (or rcN), or pass --rc N".to_string()
            }
            TagError::NoVersionTag { .. } => {
                "tag the commit with vX.Y.Z or pass --release-version".to_string()
            }
            TagError::SeveralVersionTags { .. } => {
                "delete the wrong tag, or pass --release-version to choose".to_string()
            }
            TagError::VersionMismatch { given, .. } => format!(
                "drop --release-version/--tag to use the tag on HEAD, or render the commit tagged v{given}"
            ),
            TagError::UntestedRelease { version, .. } => format!(
                "tag this commit v{version}-rc.N and render test from it before release"
            ),
            TagError::CannotVerifyTested { .. } => {
                "run inside the repository so its rc tags can be read".to_string()
            }
        }
    }

    /// Policy errors exit 1, usage errors 2.
    pub fn is_policy(&self) -> bool {
        matches!(
            self,
            TagError::Latest { .. }
                | TagError::IllegalTag { .. }
                | TagError::BreaksRule { .. }
                | TagError::NoRcTag { .. }
                | TagError::NoVersionTag { .. }
                | TagError::SeveralVersionTags { .. }
                | TagError::VersionMismatch { .. }
                | TagError::UntestedRelease { .. }
                | TagError::CannotVerifyTested { .. }
        )
    }

    /// The repository's state leaves the rule without a tag here (no branch, no rc or version tag, a CI
    /// build of a tag): nothing the flags got wrong. A working-copy render skips such an environment.
    pub fn is_undecided(&self) -> bool {
        matches!(
            self,
            TagError::EmptyBranch
                | TagError::HeadIsNotABranch
                | TagError::DetachedHead { .. }
                | TagError::NotABranch { .. }
                | TagError::NoRepository { .. }
                | TagError::CiTagBuild { .. }
                | TagError::NoRcTag { .. }
                | TagError::NoVersionTag { .. }
                | TagError::SeveralVersionTags { .. }
        )
    }

    /// The process exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        if self.is_policy() {
            1
        } else {
            2
        }
    }
}

/// Decide the tag for `rule`. Flags win over the repository; see `docs/tags.md` for the rules.
pub fn resolve(
    rule: TagRule,
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<TagDecision, TagError> {
    check_flags(rule, inputs)?;
    let (tag, source) = match rule {
        TagRule::Branch => resolve_branch(inputs, facts)?,
        TagRule::Rc => resolve_rc(inputs, facts)?,
        TagRule::Release => resolve_release(inputs, facts)?,
    };
    Ok(TagDecision { tag, rule, source })
}

fn check_flags(rule: TagRule, inputs: &TagInputs) -> Result<(), TagError> {
    let set: Vec<&'static str> = [
        ("--tag", inputs.explicit_tag.is_some()),
        ("--rc", inputs.rc.is_some()),
        ("--release-version", inputs.version.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, given)| given.then_some(flag))
    .collect();
    if let [first, second, ..] = set[..] {
        return Err(TagError::ConflictingFlags { first, second });
    }
    if inputs.rc.is_some() && rule != TagRule::Rc {
        return Err(TagError::FlagNotForRule { flag: "--rc", rule });
    }
    if inputs.version.is_some() && rule != TagRule::Release {
        return Err(TagError::FlagNotForRule {
            flag: "--release-version",
            rule,
        });
    }
    Ok(())
}

fn resolve_branch(
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<(String, TagSource), TagError> {
    if let Some(tag) = &inputs.explicit_tag {
        check_tag(TagRule::Branch, tag)?;
        return Ok((tag.clone(), TagSource::ExplicitTag));
    }
    if let Some(f) = facts {
        if let Some(branch) = &f.branch {
            let source = TagSource::Branch {
                branch: branch.clone(),
                rev: f.rev.clone(),
            };
            return Ok((branch_to_tag(branch)?, source));
        }
        // The CI variables name the branch of HEAD's build, not of another revision.
        if f.rev.is_some() {
            return Err(TagError::NotABranch {
                at: f.subject(),
                branches: f.branches_at_rev.clone(),
            });
        }
    }
    match ci_branch(&inputs.ci_env)? {
        Some((variable, branch)) => {
            let tag = branch_to_tag(&branch)?;
            let variable = variable.to_string();
            Ok((tag, TagSource::CiVariable { variable, branch }))
        }
        None => Err(match facts {
            Some(facts) => TagError::DetachedHead {
                commit: facts.head_commit.clone(),
            },
            None => TagError::NoRepository {
                rule: TagRule::Branch,
            },
        }),
    }
}

/// The branch the CI built, from its own variables. GitHub's are read only when `GITHUB_ACTIONS=true`
/// and GitLab's only when `GITLAB_CI=true`, so stale variables in a shell never count.
fn ci_branch(env: &BTreeMap<String, String>) -> Result<Option<(&'static str, String)>, TagError> {
    let get = |name: &str| {
        env.get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    };
    let found = |variable: &'static str, branch: &str| Ok(Some((variable, branch.to_string())));
    let tag_build = |variable: &str, tag: &str| {
        Err(TagError::CiTagBuild {
            variable: variable.to_string(),
            tag: tag.to_string(),
        })
    };
    if get("GITHUB_ACTIONS") == Some("true") {
        // Pull requests: GITHUB_REF_NAME is `<number>/merge`, the head branch is GITHUB_HEAD_REF.
        if let Some(branch) = get("GITHUB_HEAD_REF") {
            return found("GITHUB_HEAD_REF", branch);
        }
        let github_ref = get("GITHUB_REF");
        if let Some(tag) = github_ref.and_then(|r| r.strip_prefix("refs/tags/")) {
            return tag_build("GITHUB_REF", tag);
        }
        if get("GITHUB_REF_TYPE") == Some("tag") {
            return tag_build(
                "GITHUB_REF_NAME",
                get("GITHUB_REF_NAME").unwrap_or_default(),
            );
        }
        if let Some(branch) = get("GITHUB_REF_NAME") {
            return found("GITHUB_REF_NAME", branch);
        }
        if let Some(branch) = github_ref.and_then(|r| r.strip_prefix("refs/heads/")) {
            return found("GITHUB_REF", branch);
        }
    }
    if get("GITLAB_CI") == Some("true") {
        if let Some(branch) = get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") {
            return found("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", branch);
        }
        if let Some(branch) = get("CI_COMMIT_BRANCH") {
            return found("CI_COMMIT_BRANCH", branch);
        }
        if let Some(tag) = get("CI_COMMIT_TAG") {
            return tag_build("CI_COMMIT_TAG", tag);
        }
    }
    Ok(None)
}

fn resolve_rc(
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<(String, TagSource), TagError> {
    if let Some(tag) = &inputs.explicit_tag {
        check_tag(TagRule::Rc, tag)?;
        return Ok((tag.clone(), TagSource::ExplicitTag));
    }
    if let Some(n) = inputs.rc {
        return Ok((rc_tag(n), TagSource::ExplicitRc));
    }
    let facts = facts.ok_or(TagError::NoRepository { rule: TagRule::Rc })?;
    // Newest = highest (version, N); among equals the closest to HEAD, then the first name.
    let newest = facts
        .reachable_tags
        .iter()
        .filter_map(|(name, commit, distance)| {
            parse_rc_git_tag(name).map(|rc| (rc, name, commit, *distance))
        })
        .max_by_key(|(rc, name, _, distance)| (*rc, Reverse(*distance), Reverse(*name)));
    match newest {
        Some((rc, name, commit, distance)) => Ok((
            rc.image_tag(),
            TagSource::RcTag {
                tag: name.clone(),
                commit: commit.clone(),
                distance,
                rev: facts.rev.clone(),
            },
        )),
        None => Err(TagError::NoRcTag {
            head: facts.subject(),
        }),
    }
}

fn resolve_release(
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<(String, TagSource), TagError> {
    let mut on_head: Vec<(Version, &String)> = facts
        .map(|f| {
            f.tags_on_head
                .iter()
                .filter_map(|tag| parse_version_tag(tag).map(|v| (v, tag)))
                .collect()
        })
        .unwrap_or_default();
    on_head.sort();
    let head = facts.map(RepoFacts::subject).unwrap_or_default();
    let explicit = |given: Version| {
        if on_head.is_empty() || on_head.iter().any(|(v, _)| *v == given) {
            Ok(given)
        } else {
            Err(TagError::VersionMismatch {
                given,
                tags: on_head.iter().map(|(_, t)| t.to_string()).collect(),
                head: head.clone(),
            })
        }
    };
    let (version, source) = if let Some(tag) = &inputs.explicit_tag {
        check_tag(TagRule::Release, tag)?;
        let version = parse_release_image_tag(tag)
            .ok_or_else(|| TagError::IllegalTag { tag: tag.clone() })?;
        (explicit(version)?, TagSource::ExplicitTag)
    } else if let Some(value) = &inputs.version {
        let version = explicit(Version::parse(value)?)?;
        (version, TagSource::ExplicitVersion { version })
    } else {
        if facts.is_none() {
            return Err(TagError::NoRepository {
                rule: TagRule::Release,
            });
        }
        match on_head.as_slice() {
            [] => return Err(TagError::NoVersionTag { head }),
            [(version, tag)] => (
                *version,
                TagSource::ReleaseTag {
                    tag: tag.to_string(),
                    commit: head.commit.clone().unwrap_or_default(),
                    rev: head.rev.clone(),
                },
            ),
            several => {
                return Err(TagError::SeveralVersionTags {
                    head,
                    tags: several.iter().map(|(_, t)| t.to_string()).collect(),
                })
            }
        }
    };
    if inputs.require_tested_release {
        let facts = facts.ok_or(TagError::CannotVerifyTested { version })?;
        let tested = facts
            .tags_on_head
            .iter()
            .filter_map(|tag| parse_rc_git_tag(tag))
            .any(|rc| rc.version == Some(version));
        if !tested {
            return Err(TagError::UntestedRelease { version, head });
        }
    }
    Ok((version.release_tag(), source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(s: &str) -> String {
        short_hash(s)
    }

    #[test]
    fn rule_parses_and_displays() {
        for rule in TagRule::ALL {
            assert_eq!(rule.as_str().parse::<TagRule>(), Ok(rule));
            assert_eq!(rule.to_string(), rule.as_str());
        }
        let err = "Release".parse::<TagRule>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown tag rule `Release`: expected branch, rc or release"
        );
        assert!(!err.is_policy());
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn branch_names_that_are_tags_stay_as_they_are() {
        for branch in [
            "main",
            "fix-login",
            "v3.8",
            "feature_x.2",
            "0day",
            "_x",
            "a--b",
            "head",
        ] {
            assert_eq!(branch_to_tag(branch).unwrap(), branch);
        }
    }

    #[test]
    fn lossy_branch_names_get_a_hash() {
        let cases = [
            ("feature/Login_v2", "feature-login_v2"),
            ("feature/a", "feature-a"),
            ("Main", "main"),
            ("user/über cool", "user-ber-cool"),
            ("fix: a  b", "fix-a-b"),
            ("-lead", "lead"),
            (".hidden/x", "hidden-x"),
            ("a/", "a"),
            ("///", "branch"),
            ("日本", "branch"),
            ("latest", "latest"),
            ("rc1", "rc1"),
            ("release-v3.8", "release-v3.8"),
            ("RELEASE-V3.8.3", "release-v3.8.3"),
        ];
        for (branch, readable) in cases {
            assert_eq!(
                branch_to_tag(branch).unwrap(),
                format!("{readable}-{}", hash(branch)),
                "{branch}"
            );
        }
        assert_ne!(
            branch_to_tag("feature/a").unwrap(),
            branch_to_tag("feature-a").unwrap()
        );
        assert_eq!(hash("feature/Login_v2").len(), 8);
    }

    #[test]
    fn long_branch_names_are_cut_to_128() {
        let exact = "a".repeat(128);
        assert_eq!(branch_to_tag(&exact).unwrap(), exact);
        let long = format!("{}-{}", "a".repeat(118), "b".repeat(40));
        let tag = branch_to_tag(&long).unwrap();
        // The cut lands after the `-`, which is dropped rather than doubled.
        assert_eq!(tag, format!("{}-{}", "a".repeat(118), hash(&long)));
        assert!(is_legal_oci_tag(&tag));
        let long = "b".repeat(129);
        let tag = branch_to_tag(&long).unwrap();
        assert_eq!(tag, format!("{}-{}", "b".repeat(119), hash(&long)));
        assert_eq!(tag.len(), 128);
    }

    #[test]
    fn branch_errors() {
        let empty = branch_to_tag("").unwrap_err();
        assert_eq!(empty, TagError::EmptyBranch);
        assert_eq!(empty.to_string(), "the branch name is empty");
        assert!(!empty.is_policy());
        assert_eq!(branch_to_tag("  ").unwrap_err(), TagError::EmptyBranch);
        let head = branch_to_tag("HEAD").unwrap_err();
        assert_eq!(
            head.to_string(),
            "`HEAD` is not a branch name: HEAD is detached"
        );
        assert!(!head.is_policy());
        assert!(head.hint().contains("--tag"));
    }

    #[test]
    fn versions_parse_strictly() {
        let v = Version::parse("v3.8.3").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (3, 8, 3));
        assert_eq!(Version::parse("3.8.3").unwrap(), v);
        assert_eq!(v.git_tag(), "v3.8.3");
        assert_eq!(v.release_tag(), "release-v3.8.3");
        for bad in [
            "3.8", "3.8.3.1", "03.8.3", "v3.8.x", "", "v", "3..3", "+3.8.3", "vv3.8.3", " 3.8.3",
        ] {
            let err = Version::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("`{bad}` is not a version X.Y.Z or vX.Y.Z")
            );
            assert!(!err.is_policy());
        }
        assert!(Version::parse("0.0.0").is_ok());
        assert!(Version::parse("3.10.0").unwrap() > Version::parse("3.9.12").unwrap());
    }

    #[test]
    fn git_tags_parse() {
        assert_eq!(parse_version_tag("v3.8.3"), Version::parse("3.8.3").ok());
        assert_eq!(parse_version_tag("3.8.3"), None);
        assert_eq!(parse_version_tag("v3.8.3-rc.1"), None);
        let v = Version::parse("3.8.3").ok();
        let rc = |version, number| Some(RcTag { version, number });
        assert_eq!(parse_rc_git_tag("v3.8.3-rc.2"), rc(v, 2));
        assert_eq!(parse_rc_git_tag("v3.8.3-rc2"), rc(v, 2));
        assert_eq!(parse_rc_git_tag("rc0"), rc(None, 0));
        for not_rc in [
            "v3.8.3",
            "v3.8.3-rc",
            "v3.8.3-rc.",
            "v3.8.3-rc.01",
            "v3.8.3-beta.1",
            "rc",
            "rc01",
            "3.8.3-rc.1",
            "v3.8.3-rc.1.1",
            "rc99999999999",
        ] {
            assert_eq!(parse_rc_git_tag(not_rc), None, "{not_rc}");
        }
        assert_eq!(parse_rc_git_tag("v3.8.3-rc.2").unwrap().image_tag(), "rc2");
    }

    #[test]
    fn rc_ordering_is_version_then_number() {
        let mut tags: Vec<RcTag> = [
            "v3.8.3-rc.10",
            "rc99",
            "v3.9.0-rc.0",
            "v3.8.3-rc.2",
            "v3.10.0-rc.1",
        ]
        .iter()
        .filter_map(|t| parse_rc_git_tag(t))
        .collect();
        tags.sort();
        let names: Vec<String> = tags
            .iter()
            .map(|t| format!("{:?}/{}", t.version.map(|v| v.to_string()), t.number))
            .collect();
        assert_eq!(
            names,
            [
                "None/99",
                "Some(\"3.8.3\")/2",
                "Some(\"3.8.3\")/10",
                "Some(\"3.9.0\")/0",
                "Some(\"3.10.0\")/1"
            ]
        );
    }

    #[test]
    fn oci_tag_grammar() {
        assert!(is_legal_oci_tag("a"));
        assert!(is_legal_oci_tag("_a.B-9"));
        assert!(is_legal_oci_tag(&"x".repeat(128)));
        assert!(!is_legal_oci_tag(&"x".repeat(129)));
        for bad in ["", ".a", "-a", "a/b", "a:b", "a b", "ü"] {
            assert!(!is_legal_oci_tag(bad), "{bad}");
        }
    }

    #[test]
    fn check_tag_accepts_each_rule_shape() {
        for (rule, tag) in [
            (TagRule::Branch, "feature-login"),
            (TagRule::Branch, "v3.8.3"),
            (TagRule::Branch, "release-v3.8-x"),
            (TagRule::Branch, "rc-1"),
            (TagRule::Rc, "rc0"),
            (TagRule::Rc, "rc12"),
            (TagRule::Release, "release-v3.8.3"),
            (TagRule::Release, "release-v0.10.0"),
        ] {
            assert_eq!(check_tag(rule, tag), Ok(()), "{rule} {tag}");
        }
    }

    #[test]
    fn check_tag_rejects_latest_everywhere() {
        for rule in TagRule::ALL {
            for latest in ["latest", "LATEST", "Latest"] {
                let err = check_tag(rule, latest).unwrap_err();
                assert_eq!(
                    err.to_string(),
                    format!("the tag `{latest}` is never allowed")
                );
                assert!(err.is_policy());
                assert_eq!(err.exit_code(), 1);
            }
        }
    }

    #[test]
    fn check_tag_rejects_what_breaks_the_rule() {
        let cases = [
            (
                TagRule::Branch,
                "rc3",
                "tag `rc3` breaks the branch rule: it looks like a test or release tag",
            ),
            (
                TagRule::Branch,
                "RC3",
                "tag `RC3` breaks the branch rule: it looks like a test or release tag",
            ),
            (
                TagRule::Branch,
                "release-v3.8.3",
                "tag `release-v3.8.3` breaks the branch rule: it looks like a test or release tag",
            ),
            (
                TagRule::Branch,
                "release-v3.8",
                "tag `release-v3.8` breaks the branch rule: it looks like a test or release tag",
            ),
            (
                TagRule::Branch,
                "HEAD",
                "tag `HEAD` breaks the branch rule: a detached HEAD is not a branch",
            ),
            (
                TagRule::Rc,
                "rc01",
                "tag `rc01` breaks the rc rule: expected rcN (rc0, rc1, ...)",
            ),
            (
                TagRule::Rc,
                "rc",
                "tag `rc` breaks the rc rule: expected rcN (rc0, rc1, ...)",
            ),
            (
                TagRule::Rc,
                "v3.8.3-rc.1",
                "tag `v3.8.3-rc.1` breaks the rc rule: expected rcN (rc0, rc1, ...)",
            ),
            (
                TagRule::Rc,
                "main",
                "tag `main` breaks the rc rule: expected rcN (rc0, rc1, ...)",
            ),
            (
                TagRule::Release,
                "v3.8.3",
                "tag `v3.8.3` breaks the release rule: expected release-vX.Y.Z",
            ),
            (
                TagRule::Release,
                "release-3.8.3",
                "tag `release-3.8.3` breaks the release rule: expected release-vX.Y.Z",
            ),
            (
                TagRule::Release,
                "release-v3.8",
                "tag `release-v3.8` breaks the release rule: expected release-vX.Y.Z",
            ),
            (
                TagRule::Release,
                "release-v3.08.3",
                "tag `release-v3.08.3` breaks the release rule: expected release-vX.Y.Z",
            ),
            (
                TagRule::Release,
                "rc1",
                "tag `rc1` breaks the release rule: expected release-vX.Y.Z",
            ),
        ];
        for (rule, tag, message) in cases {
            let err = check_tag(rule, tag).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert!(err.is_policy(), "{message}");
            assert_eq!(err.hint(), rule.hint());
        }
        let err = check_tag(TagRule::Rc, "rc/1").unwrap_err();
        assert_eq!(err.to_string(), "`rc/1` is not a legal OCI tag");
        assert!(err.is_policy());
        assert!(check_tag(TagRule::Branch, "").is_err());
    }

    fn facts(
        branch: Option<&str>,
        on_head: &[&str],
        reachable: &[(&str, &str, usize)],
    ) -> RepoFacts {
        let mut all: Vec<(String, String, usize)> = on_head
            .iter()
            .map(|t| (t.to_string(), HEAD.to_string(), 0))
            .chain(
                reachable
                    .iter()
                    .map(|(t, c, d)| (t.to_string(), c.to_string(), *d)),
            )
            .collect();
        all.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        RepoFacts {
            head_commit: Some(HEAD.to_string()),
            branch: branch.map(str::to_string),
            tags_on_head: on_head.iter().map(|t| t.to_string()).collect(),
            reachable_tags: all,
            remote_url: None,
            dry: None,
            rev: None,
            branches_at_rev: Vec::new(),
        }
    }

    const HEAD: &str = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";

    fn ci(pairs: &[(&str, &str)]) -> TagInputs {
        TagInputs {
            ci_env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..TagInputs::default()
        }
    }

    #[test]
    fn branch_rule_uses_the_branch_first() {
        let f = facts(Some("feature/Login_v2"), &[], &[]);
        let inputs = ci(&[("GITHUB_ACTIONS", "true"), ("GITHUB_HEAD_REF", "other")]);
        let d = resolve(TagRule::Branch, &inputs, Some(&f)).unwrap();
        assert_eq!(d.tag, branch_to_tag("feature/Login_v2").unwrap());
        assert_eq!(
            d.to_string(),
            format!("{} from branch feature/Login_v2", d.tag)
        );
    }

    #[test]
    fn detached_head_reads_ci_variables_in_order() {
        let f = facts(None, &[], &[]);
        type Env<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Env, &str, &str); 7] = [
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_HEAD_REF", "feat/x"),
                    ("GITHUB_REF_NAME", "12/merge"),
                ],
                "GITHUB_HEAD_REF",
                "feat/x",
            ),
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_HEAD_REF", ""),
                    ("GITHUB_REF_NAME", "main"),
                    ("GITHUB_REF_TYPE", "branch"),
                ],
                "GITHUB_REF_NAME",
                "main",
            ),
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_REF", "refs/heads/dev/a"),
                ],
                "GITHUB_REF",
                "dev/a",
            ),
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_REF", "refs/pull/12/merge"),
                    ("GITHUB_REF_NAME", "12/merge"),
                ],
                "GITHUB_REF_NAME",
                "12/merge",
            ),
            (
                &[
                    ("GITLAB_CI", "true"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "mr"),
                    ("CI_COMMIT_BRANCH", "x"),
                ],
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
                "mr",
            ),
            (
                &[("GITLAB_CI", "true"), ("CI_COMMIT_BRANCH", "x")],
                "CI_COMMIT_BRANCH",
                "x",
            ),
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_REF_NAME", "gh"),
                    ("GITLAB_CI", "true"),
                    ("CI_COMMIT_BRANCH", "gl"),
                ],
                "GITHUB_REF_NAME",
                "gh",
            ),
        ];
        for (env, variable, branch) in cases {
            let d = resolve(TagRule::Branch, &ci(env), Some(&f)).unwrap();
            assert_eq!(d.tag, branch_to_tag(branch).unwrap());
            assert_eq!(
                d.source,
                TagSource::CiVariable {
                    variable: variable.to_string(),
                    branch: branch.to_string()
                }
            );
            assert_eq!(
                d.to_string(),
                format!("{} from branch {branch} in CI variable {variable}", d.tag)
            );
        }
        // Without a repository the CI variables still name the branch.
        let d = resolve(
            TagRule::Branch,
            &ci(&[("GITHUB_ACTIONS", "true"), ("GITHUB_REF_NAME", "main")]),
            None,
        )
        .unwrap();
        assert_eq!(d.tag, "main");
    }

    #[test]
    fn detached_head_without_ci_is_a_usage_error() {
        let f = facts(None, &[], &[]);
        // Variables of a CI that is not running do not count.
        for env in [
            &[][..],
            &[("GITHUB_REF_NAME", "main")][..],
            &[("GITHUB_ACTIONS", "false"), ("GITHUB_HEAD_REF", "x")][..],
        ] {
            let err = resolve(TagRule::Branch, &ci(env), Some(&f)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "HEAD 1a2b3c4 is detached and no CI variable names the branch"
            );
            assert!(!err.is_policy());
            assert!(err.hint().contains("GITHUB_HEAD_REF"));
        }
        let err = resolve(TagRule::Branch, &ci(&[]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no git repository to take the branch name from"
        );
        assert_eq!(err.hint(), "run inside the repository, or pass --tag");
        assert!(!err.is_policy());
    }

    #[test]
    fn ci_tag_builds_have_no_branch() {
        let f = facts(None, &[], &[]);
        let cases: [(&[(&str, &str)], &str); 3] = [
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_REF", "refs/tags/v3.8.3"),
                    ("GITHUB_REF_NAME", "v3.8.3"),
                ],
                "the CI build is for git tag `v3.8.3` (GITHUB_REF), not for a branch",
            ),
            (
                &[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_REF_TYPE", "tag"),
                    ("GITHUB_REF_NAME", "v3.8.3"),
                ],
                "the CI build is for git tag `v3.8.3` (GITHUB_REF_NAME), not for a branch",
            ),
            (
                &[("GITLAB_CI", "true"), ("CI_COMMIT_TAG", "v1.0.0")],
                "the CI build is for git tag `v1.0.0` (CI_COMMIT_TAG), not for a branch",
            ),
        ];
        for (env, message) in cases {
            let err = resolve(TagRule::Branch, &ci(env), Some(&f)).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert!(!err.is_policy());
        }
    }

    #[test]
    fn ci_branch_named_head_is_refused() {
        let err = resolve(
            TagRule::Branch,
            &ci(&[("GITHUB_ACTIONS", "true"), ("GITHUB_REF_NAME", "HEAD")]),
            None,
        )
        .unwrap_err();
        assert_eq!(err, TagError::HeadIsNotABranch);
    }

    #[test]
    fn explicit_tag_is_checked_against_the_rule() {
        let tag = |t: &str| TagInputs {
            explicit_tag: Some(t.to_string()),
            ..TagInputs::default()
        };
        let d = resolve(TagRule::Branch, &tag("my-build"), None).unwrap();
        assert_eq!(d.to_string(), "my-build from the --tag flag");
        let d = resolve(TagRule::Rc, &tag("rc4"), None).unwrap();
        assert_eq!(
            (d.tag.as_str(), &d.source),
            ("rc4", &TagSource::ExplicitTag)
        );
        let d = resolve(TagRule::Release, &tag("release-v1.2.3"), None).unwrap();
        assert_eq!(d.tag, "release-v1.2.3");
        for (rule, t) in [
            (TagRule::Branch, "latest"),
            (TagRule::Rc, "main"),
            (TagRule::Release, "rc1"),
            (TagRule::Branch, "rc1"),
        ] {
            let err = resolve(rule, &tag(t), None).unwrap_err();
            assert_eq!(err, check_tag(rule, t).unwrap_err());
            assert!(err.is_policy());
        }
    }

    #[test]
    fn flags_are_checked() {
        let both = TagInputs {
            explicit_tag: Some("rc1".into()),
            rc: Some(1),
            ..TagInputs::default()
        };
        let err = resolve(TagRule::Rc, &both, None).unwrap_err();
        assert_eq!(err.to_string(), "--tag and --rc both set the tag");
        assert_eq!(
            err.hint(),
            "pass only one of --tag, --rc, --release-version"
        );
        assert!(!err.is_policy());
        let rc = TagInputs {
            rc: Some(1),
            ..TagInputs::default()
        };
        let err = resolve(TagRule::Release, &rc, None).unwrap_err();
        assert_eq!(err.to_string(), "--rc does not apply to the release rule");
        assert_eq!(
            err.hint(),
            "the release rule takes --release-version X.Y.Z or --tag release-vX.Y.Z"
        );
        assert!(!err.is_policy());
        let version = TagInputs {
            version: Some("1.2.3".into()),
            ..TagInputs::default()
        };
        let err = resolve(TagRule::Branch, &version, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--release-version does not apply to the branch rule"
        );
        assert!(!err.is_policy());
    }

    #[test]
    fn rc_rule_takes_the_newest_reachable_candidate() {
        let d = resolve(
            TagRule::Rc,
            &TagInputs {
                rc: Some(7),
                ..TagInputs::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(d.to_string(), "rc7 from the --rc flag");

        let f = facts(
            Some("main"),
            &["v3.8.3-rc.1"],
            &[
                ("v3.8.3-rc.2", "bbbbbbbbbb", 3),
                ("v3.8.2-rc.9", "cccccccccc", 5),
                ("rc50", "dddddddddd", 1),
                ("v3.8.3", "eeeeeeeeee", 2),
            ],
        );
        let d = resolve(TagRule::Rc, &TagInputs::default(), Some(&f)).unwrap();
        assert_eq!(d.tag, "rc2");
        assert_eq!(
            d.to_string(),
            "rc2 from git tag v3.8.3-rc.2 on bbbbbbb, 3 commits before HEAD"
        );

        // Equal candidates: the closest wins, then the first name.
        let f = facts(
            None,
            &[],
            &[("v1.0.0-rc1", "far", 4), ("v1.0.0-rc.1", "near", 1)],
        );
        let d = resolve(TagRule::Rc, &TagInputs::default(), Some(&f)).unwrap();
        assert_eq!(
            d.to_string(),
            "rc1 from git tag v1.0.0-rc.1 on near, 1 commit before HEAD"
        );
        let f = facts(None, &["v1.0.0-rc1", "v1.0.0-rc.1"], &[]);
        let d = resolve(TagRule::Rc, &TagInputs::default(), Some(&f)).unwrap();
        assert_eq!(
            d.to_string(),
            "rc1 from git tag v1.0.0-rc.1 on HEAD 1a2b3c4"
        );
    }

    #[test]
    fn rc_rule_errors() {
        let f = facts(Some("main"), &["v3.8.3"], &[("v3.8.3-beta.1", "x", 1)]);
        let err = resolve(TagRule::Rc, &TagInputs::default(), Some(&f)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no release-candidate tag is reachable from HEAD 1a2b3c4"
        );
        assert_eq!(
            err.hint(),
            "tag a commit vX.Y.Z-rc.N (or rcN), or pass --rc N"
        );
        assert!(err.is_policy());
        let err = resolve(TagRule::Rc, &TagInputs::default(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no git repository to take the release-candidate tag from"
        );
        assert_eq!(err.hint(), "run inside the repository, or pass --rc N");
        assert!(!err.is_policy());
        let unborn = RepoFacts {
            branch: Some("main".into()),
            ..RepoFacts::default()
        };
        let err = resolve(TagRule::Rc, &TagInputs::default(), Some(&unborn)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no release-candidate tag is reachable from HEAD (no commits yet)"
        );
    }

    #[test]
    fn release_rule_takes_the_version_tag_on_head() {
        let f = facts(
            Some("main"),
            &["v3.8.3", "v3.8.3-rc.2", "deploy-1"],
            &[("v3.8.2", "old", 9)],
        );
        let d = resolve(TagRule::Release, &TagInputs::default(), Some(&f)).unwrap();
        assert_eq!(d.tag, "release-v3.8.3");
        assert_eq!(
            d.to_string(),
            "release-v3.8.3 from git tag v3.8.3 on HEAD 1a2b3c4"
        );
    }

    #[test]
    fn release_rule_errors() {
        let none = facts(Some("main"), &["v3.8.3-rc.1"], &[("v3.8.2", "old", 1)]);
        let err = resolve(TagRule::Release, &TagInputs::default(), Some(&none)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HEAD 1a2b3c4 has no version tag vX.Y.Z, and release renders only tagged commits"
        );
        assert_eq!(
            err.hint(),
            "tag the commit with vX.Y.Z or pass --release-version"
        );
        assert!(err.is_policy());

        let two = facts(Some("main"), &["v3.9.0", "v3.8.3"], &[]);
        let err = resolve(TagRule::Release, &TagInputs::default(), Some(&two)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HEAD 1a2b3c4 has several version tags: v3.8.3, v3.9.0"
        );
        assert!(err.is_policy());

        let err = resolve(TagRule::Release, &TagInputs::default(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no git repository to take the version tag from"
        );
        assert!(!err.is_policy());
    }

    #[test]
    fn explicit_version_must_agree_with_the_tag_on_head() {
        let version = |v: &str| TagInputs {
            version: Some(v.to_string()),
            ..TagInputs::default()
        };
        let untagged = facts(Some("main"), &[], &[]);
        let d = resolve(TagRule::Release, &version("3.8.4"), Some(&untagged)).unwrap();
        assert_eq!(
            d.to_string(),
            "release-v3.8.4 from the --release-version flag (3.8.4)"
        );
        let d = resolve(TagRule::Release, &version("v3.8.4"), None).unwrap();
        assert_eq!(d.tag, "release-v3.8.4");

        let two = facts(Some("main"), &["v3.9.0", "v3.8.3"], &[]);
        let d = resolve(TagRule::Release, &version("3.9.0"), Some(&two)).unwrap();
        assert_eq!(d.tag, "release-v3.9.0");

        let tagged = facts(Some("main"), &["v3.8.3"], &[]);
        let err = resolve(TagRule::Release, &version("3.8.4"), Some(&tagged)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "version 3.8.4 disagrees with the version tag v3.8.3 on HEAD"
        );
        assert!(err.is_policy());
        let explicit = TagInputs {
            explicit_tag: Some("release-v3.8.4".into()),
            ..TagInputs::default()
        };
        let err = resolve(TagRule::Release, &explicit, Some(&tagged)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "version 3.8.4 disagrees with the version tag v3.8.3 on HEAD"
        );

        let err = resolve(TagRule::Release, &version("3.8"), Some(&tagged)).unwrap_err();
        assert_eq!(err.to_string(), "`3.8` is not a version X.Y.Z or vX.Y.Z");
        assert!(!err.is_policy());
    }

    #[test]
    fn tested_release_needs_a_candidate_tag_on_the_same_commit() {
        let tested = |inputs: TagInputs| TagInputs {
            require_tested_release: true,
            ..inputs
        };
        let ok = facts(Some("main"), &["v3.8.3", "v3.8.3-rc.2"], &[]);
        let d = resolve(TagRule::Release, &tested(TagInputs::default()), Some(&ok)).unwrap();
        assert_eq!(d.tag, "release-v3.8.3");
        let ok = facts(Some("main"), &["v3.8.3", "v3.8.3-rc4"], &[]);
        assert!(resolve(TagRule::Release, &tested(TagInputs::default()), Some(&ok)).is_ok());

        for untested in [
            facts(Some("main"), &["v3.8.3"], &[("v3.8.3-rc.1", "parent", 1)]),
            facts(Some("main"), &["v3.8.3", "v3.8.2-rc.1", "rc1"], &[]),
        ] {
            let err = resolve(
                TagRule::Release,
                &tested(TagInputs::default()),
                Some(&untested),
            )
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                "v3.8.3 was never a tested candidate: HEAD 1a2b3c4 has no tag v3.8.3-rc.N"
            );
            assert_eq!(
                err.hint(),
                "tag this commit v3.8.3-rc.N and render test from it before release"
            );
            assert!(err.is_policy());
        }

        let by_flag = tested(TagInputs {
            version: Some("3.8.3".into()),
            ..TagInputs::default()
        });
        let err = resolve(TagRule::Release, &by_flag, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot check that v3.8.3 was a tested candidate without a git repository"
        );
        assert!(err.is_policy());
        let candidate = facts(None, &["v3.8.3-rc.0"], &[]);
        assert!(resolve(TagRule::Release, &by_flag, Some(&candidate)).is_ok());
    }

    #[test]
    fn a_revision_is_named_as_given_never_as_head() {
        let mut at_rev = facts(None, &["v3.8.2"], &[("v3.8.2-rc.1", HEAD, 0)]);
        at_rev.rev = Some("v3.8.2".into());
        let d = resolve(TagRule::Release, &TagInputs::default(), Some(&at_rev)).unwrap();
        assert_eq!(
            d.to_string(),
            "release-v3.8.2 from git tag v3.8.2 on `v3.8.2` 1a2b3c4"
        );
        let d = resolve(TagRule::Rc, &TagInputs::default(), Some(&at_rev)).unwrap();
        assert_eq!(
            d.to_string(),
            "rc1 from git tag v3.8.2-rc.1 on `v3.8.2` 1a2b3c4"
        );

        // No branch there: the dev rule names the revision, and ignores the CI's branch (it is HEAD's).
        let github = ci(&[("GITHUB_ACTIONS", "true"), ("GITHUB_REF_NAME", "main")]);
        let err = resolve(TagRule::Branch, &github, Some(&at_rev)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`v3.8.2` (1a2b3c4) is not a branch, and no branch has it as its tip"
        );
        assert!(!err.to_string().contains("HEAD"), "{err}");
        assert!(err.is_undecided() && !err.is_policy());
        at_rev.branches_at_rev = vec!["a".into(), "b".into()];
        let err = resolve(TagRule::Branch, &TagInputs::default(), Some(&at_rev)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`v3.8.2` (1a2b3c4) is not a branch, and several branches have it as their tip: a, b"
        );
        assert_eq!(
            err.hint(),
            "name one of those branches with --rev, or pass --tag"
        );

        // The one branch whose tip it is gives the tag.
        at_rev.branch = Some("release/3.8".into());
        let d = resolve(TagRule::Branch, &TagInputs::default(), Some(&at_rev)).unwrap();
        assert_eq!(
            d.to_string(),
            format!(
                "release-3.8-{} from branch release/3.8, whose tip is `v3.8.2`",
                hash("release/3.8")
            )
        );

        let given = TagInputs {
            version: Some("3.8.3".into()),
            ..TagInputs::default()
        };
        let err = resolve(TagRule::Release, &given, Some(&at_rev)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "version 3.8.3 disagrees with the version tag v3.8.2 on `v3.8.2`"
        );
        at_rev.tags_on_head.clear();
        let err = resolve(TagRule::Release, &TagInputs::default(), Some(&at_rev)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`v3.8.2` (1a2b3c4) has no version tag vX.Y.Z, and release renders only tagged commits"
        );
    }

    #[test]
    fn every_error_has_a_hint() {
        let errors = [
            TagError::UnknownRule { name: "x".into() },
            TagError::EmptyBranch,
            TagError::HeadIsNotABranch,
            TagError::DetachedHead { commit: None },
            TagError::NoRepository {
                rule: TagRule::Branch,
            },
            TagError::CiTagBuild {
                variable: "V".into(),
                tag: "t".into(),
            },
            TagError::InvalidVersion { value: "x".into() },
            TagError::FlagNotForRule {
                flag: "--rc",
                rule: TagRule::Branch,
            },
            TagError::ConflictingFlags {
                first: "--tag",
                second: "--rc",
            },
            TagError::Latest {
                tag: "latest".into(),
            },
            TagError::IllegalTag { tag: "/".into() },
            TagError::BreaksRule {
                tag: "x".into(),
                rule: TagRule::Rc,
                reason: "r",
            },
            TagError::NotABranch {
                at: Subject {
                    commit: None,
                    rev: Some("v1.0.0".into()),
                },
                branches: vec![],
            },
            TagError::NotABranch {
                at: Subject::default(),
                branches: vec!["a".into(), "b".into()],
            },
            TagError::NoRcTag {
                head: Subject::default(),
            },
            TagError::NoVersionTag {
                head: Subject::default(),
            },
            TagError::SeveralVersionTags {
                head: Subject::default(),
                tags: vec![],
            },
            TagError::VersionMismatch {
                given: Version {
                    major: 1,
                    minor: 0,
                    patch: 0,
                },
                tags: vec![],
                head: Subject::default(),
            },
            TagError::UntestedRelease {
                version: Version {
                    major: 1,
                    minor: 0,
                    patch: 0,
                },
                head: Subject::default(),
            },
            TagError::CannotVerifyTested {
                version: Version {
                    major: 1,
                    minor: 0,
                    patch: 0,
                },
            },
        ];
        for err in errors {
            let (message, hint) = (err.to_string(), err.hint());
            assert!(!message.is_empty() && !message.contains('\n'), "{message}");
            assert!(!hint.is_empty() && !hint.contains('\n'), "{hint}");
            assert_eq!(err.exit_code(), if err.is_policy() { 1 } else { 2 });
        }
    }
}
