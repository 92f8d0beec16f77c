//! The git stage's first half: a rendered [`Tree`] written as a commit on an environment branch, from
//! objects only. The working tree, the index and HEAD are never read or written; the tree is built fresh
//! from the rendered files, so files of removed resources disappear.
//!
//! A commit is deterministic: the same tree, parent, message, identity and dates give the same id. The
//! identity and dates come from `GIT_AUTHOR_*`/`GIT_COMMITTER_*` and `SOURCE_DATE_EPOCH` when set (see
//! [`Identity`]), else from the repository's `user.name`/`user.email` and the clock.

use std::collections::BTreeMap;

use std::borrow::Cow;

use git2::{ObjectType, Oid, Repository, Signature, Time};

use crate::error::{Error, Result};
use crate::load::commit::BranchPath;
use crate::render::{Metadata, Tree, METADATA_FILE};

use super::pack::{self, MemTree, Object};
use super::{git_error, GitEnv};

/// The README written beside every hydrated tree: how to reproduce it.
pub const README_FILE: &str = "README.md";

/// Marks the generated files, so code hosts collapse them in diffs.
pub const GITATTRIBUTES_FILE: &str = ".gitattributes";

/// What `.gitattributes` says.
pub const GITATTRIBUTES: &str =
    "# Written by openim-gitops: these files are generated (GitHub collapses them in diffs).\n\
     hydrator.metadata linguist-generated=true\n\
     README.md linguist-generated=true\n";

/// Files beside the manifests that record where they came from. A render whose manifests equal the
/// branch tip's is not committed even when these differ (a new source commit that changes nothing in the
/// environment makes no commit for Argo CD to sync; the note on the tip records the new source commit).
pub const PROVENANCE_FILES: [&str; 3] = [METADATA_FILE, README_FILE, GITATTRIBUTES_FILE];

/// The default branch of an environment: the layout Argo CD's source hydrator uses.
pub fn default_branch(env: &str) -> String {
    format!("environments/{env}")
}

/// The proposed branch of an active branch: `<active>-next`, the name GitOps Promoter (and Argo CD's
/// `hydrateTo`) expects; the suffix is fixed by the promoter.
pub fn proposed_branch(active: &str) -> String {
    format!("{active}-next")
}

/// Where a render is committed: the active branch, the folder of it (`None`: the whole branch) and
/// whether it goes to the proposed branch instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub branch: String,
    pub path: Option<BranchPath>,
    pub proposed: bool,
}

impl Place {
    /// The branch the commit goes to: the active branch; or its proposed branch, `<branch>-next`, and
    /// with a folder `<branch>-next/<path>` (GitOps Promoter's proposed branch for an `activePath`:
    /// one per folder, so the note on each of its commits names one environment's DRY commit).
    pub fn target(&self) -> String {
        match (self.proposed, &self.path) {
            (false, _) => self.branch.clone(),
            (true, None) => proposed_branch(&self.branch),
            (true, Some(p)) => format!("{}/{p}", proposed_branch(&self.branch)),
        }
    }

    /// The command line that commits a render here (the branch quoted for a POSIX shell when it holds
    /// anything but letters, digits and `._/-`).
    pub fn flags(&self) -> String {
        let mut out = format!("--commit --branch {}", shell_word(&self.branch));
        if let Some(p) = &self.path {
            out.push_str(&format!(" --path {p}"));
        }
        if self.proposed {
            out.push_str(" --proposed");
        }
        out
    }
}

/// `word` as one word of a POSIX shell command line.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-');
    if !word.is_empty() && !word.starts_with('-') && word.chars().all(plain) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Who made a commit and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
    /// Seconds since the epoch and the offset from UTC in minutes; `None` for now.
    pub time: Option<(i64, i32)>,
}

/// The author and committer of a render commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub author: Person,
    pub committer: Person,
}

const FALLBACK_NAME: &str = "openim-gitops";
const FALLBACK_EMAIL: &str = "openim-gitops@localhost";

impl Identity {
    /// As git decides it: `GIT_AUTHOR_NAME`/`_EMAIL`/`_DATE` and `GIT_COMMITTER_*` win, then the
    /// repository's `user.name` and `user.email`, then `openim-gitops`. A date not given falls back to
    /// `SOURCE_DATE_EPOCH`, then to the clock.
    pub fn resolve(repo: &Repository, env: &GitEnv) -> Result<Identity> {
        let config = repo.config().ok();
        let from_config = |key: &str| config.as_ref().and_then(|c| c.get_string(key).ok());
        let epoch = match env.get("SOURCE_DATE_EPOCH") {
            Some(v) => Some((
                v.trim().parse::<i64>().map_err(|_| {
                    Error::usage(format!(
                        "SOURCE_DATE_EPOCH `{v}` is not a number of seconds"
                    ))
                })?,
                0,
            )),
            None => None,
        };
        let person = |role: &str| -> Result<Person> {
            let var = |what: &str| env.get(&format!("GIT_{role}_{what}")).map(str::to_string);
            let time = match var("DATE") {
                Some(text) => Some(parse_date(&text).ok_or_else(|| {
                    Error::usage(format!("GIT_{role}_DATE `{text}` is not a date git reads")).help(
                        "use `@<seconds> <+hhmm>`, ISO 8601 (2024-05-01T12:00:00Z) or RFC 2822",
                    )
                })?),
                None => epoch,
            };
            Ok(Person {
                name: var("NAME")
                    .or_else(|| from_config("user.name"))
                    .unwrap_or_else(|| FALLBACK_NAME.to_string()),
                email: var("EMAIL")
                    .or_else(|| from_config("user.email"))
                    .unwrap_or_else(|| FALLBACK_EMAIL.to_string()),
                time,
            })
        };
        Ok(Identity {
            author: person("AUTHOR")?,
            committer: person("COMMITTER")?,
        })
    }
}

fn signature(p: &Person) -> Result<Signature<'static>> {
    let sig = match p.time {
        Some((secs, offset)) => Signature::new(&p.name, &p.email, &Time::new(secs, offset)),
        None => Signature::now(&p.name, &p.email),
    };
    sig.map_err(|e| {
        Error::usage(format!(
            "`{} <{}>` is not a usable commit identity: {}",
            p.name,
            p.email,
            e.message()
        ))
    })
}

/// Reads a date in one of the forms git takes in `GIT_*_DATE`: its internal `[@]<seconds> <+hhmm>`,
/// ISO 8601 (`2024-05-01T12:00:00Z`, `2024-05-01 12:00:00 +0200`) or RFC 2822
/// (`Wed, 01 May 2024 12:00:00 +0200`). Returns seconds since the epoch and the UTC offset in minutes.
pub fn parse_date(text: &str) -> Option<(i64, i32)> {
    let text = text.trim();
    let parts: Vec<&str> = text.split_whitespace().collect();
    // Internal: @1700000000 +0100, or the seconds alone.
    if let Some(first) = parts.first() {
        let digits = first.strip_prefix('@').unwrap_or(first);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && parts.len() <= 2 {
            let secs = digits.parse().ok()?;
            let offset = match parts.get(1) {
                Some(z) => parse_offset(z)?,
                None => 0,
            };
            return Some((secs, offset));
        }
    }
    if text.contains(',') || parts.len() >= 4 {
        return parse_rfc2822(&parts);
    }
    parse_iso(text)
}

fn parse_offset(z: &str) -> Option<i32> {
    if z == "Z" || z == "z" || z == "UTC" || z == "GMT" {
        return Some(0);
    }
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    (h < 24 && m < 60).then_some(sign * (h * 60 + m))
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn epoch_of(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, offset: i32) -> Option<(i64, i32)> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let local = days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    Some((local - i64::from(offset) * 60, offset))
}

fn parse_hms(t: &str) -> Option<(u32, u32, u32)> {
    let mut it = t.split(':');
    let h = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let s = match it.next() {
        Some(s) => s.split('.').next()?.parse().ok()?,
        None => 0,
    };
    it.next().is_none().then_some((h, m, s))
}

fn parse_iso(text: &str) -> Option<(i64, i32)> {
    let (date, rest) = match text.find(['T', ' ']) {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if d.next().is_some() {
        return None;
    }
    if rest.is_empty() {
        return epoch_of(y, mo, day, 0, 0, 0, 0);
    }
    // The zone: a trailing `Z`, or `+hh:mm`/`-hhmm` after the time, with or without a space.
    let (time, zone) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t.trim(), "Z")
    } else if let Some(i) = rest.rfind(['+', '-']) {
        (rest[..i].trim(), rest[i..].trim())
    } else {
        (rest, "Z")
    };
    let (h, mi, s) = parse_hms(time)?;
    epoch_of(y, mo, day, h, mi, s, parse_offset(zone)?)
}

fn parse_rfc2822(parts: &[&str]) -> Option<(i64, i32)> {
    // [Day,] DD Mon YYYY HH:MM[:SS] +hhmm
    let parts: Vec<&str> = match parts.first() {
        Some(p) if p.ends_with(',') => parts[1..].to_vec(),
        _ => parts.to_vec(),
    };
    let [day, month, year, time, zone] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = month.get(..3)?.to_ascii_lowercase();
    let mo = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let (h, mi, s) = parse_hms(time)?;
    epoch_of(
        year.parse().ok()?,
        mo,
        day.parse().ok()?,
        h,
        mi,
        s,
        parse_offset(zone)?,
    )
}

/// What a render commit records besides its files.
pub struct Provenance<'a> {
    pub meta: &'a Metadata,
    /// `openim-gitops X.Y.Z`.
    pub tool: String,
    /// Where the render goes, when known: the folder (path mode) the README speaks of.
    pub place: Option<Place>,
    /// The command line that commits this render there, for the README (none when the commit cannot be
    /// made again by one command, as `promote`'s, whose metadata names the tested render).
    pub command: Option<String>,
}

impl Provenance<'_> {
    pub fn new(meta: &Metadata) -> Provenance<'_> {
        Provenance {
            meta,
            tool: format!("openim-gitops {}", env!("CARGO_PKG_VERSION")),
            place: None,
            command: None,
        }
    }

    /// The same, committed to `place`.
    pub fn at(mut self, place: Place) -> Self {
        self.place = Some(place);
        self
    }

    /// The same, with the `render` command line that commits it to its place (in a checkout of the DRY
    /// commit) in the README.
    pub fn by_render(mut self) -> Self {
        if let Some(place) = &self.place {
            let commands = crate::render::hydrator::commands(self.meta);
            let line = commands.last().map(String::as_str).unwrap_or_default();
            let line = line.strip_suffix(" --out rendered").unwrap_or(line);
            self.command = Some(format!("{line} {}", place.flags()));
        }
        self
    }

    /// The folder of the branch the render goes to; `None`: the whole branch.
    pub fn path(&self) -> Option<&BranchPath> {
        self.place.as_ref().and_then(|p| p.path.as_ref())
    }

    fn source(&self) -> &str {
        self.meta
            .source_commit
            .as_deref()
            .unwrap_or("unknown (no commit)")
    }

    fn tags(&self) -> String {
        if self.meta.tags.is_empty() {
            return "none".to_string();
        }
        self.meta
            .tags
            .iter()
            .map(|(image, tag)| format!("{image}={tag}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The commit message: a subject, then trailers a tool can read back (`git interpret-trailers`).
    pub fn message(&self) -> String {
        let env = &self.meta.environment;
        let mut subject = match &self.meta.source_commit {
            Some(c) => format!("Render {env} from {}", c.get(..12).unwrap_or(c)),
            None => format!("Render {env}"),
        };
        let mut path = String::new();
        if let Some(p) = self.path() {
            subject.push_str(&format!(" into {p}/"));
            path = format!("Path: {p}\n");
        }
        format!(
            "{subject}\n\nSource-Commit: {}\nEnvironment: {env}\n{path}Image-Tags: {}\nTool-Version: {}\n",
            self.source(),
            self.tags(),
            self.tool
        )
    }

    /// The README beside the manifests: what the branch (or folder) is, how to reproduce it, what each
    /// file is.
    pub fn readme(&self) -> String {
        let env = &self.meta.environment;
        let repo = self
            .meta
            .repo_url
            .as_deref()
            .unwrap_or("<this repository's URL>");
        let commands = crate::render::hydrator::commands(self.meta);
        let render = commands.join("\n");
        let (scope, replaced) = match (self.path(), &self.place) {
            (Some(p), Some(place)) => (
                format!("this folder (`{p}/` of branch `{}`)", place.target()),
                "Every render replaces this whole folder and nothing else (the other folders of the branch \
                 belong to other environments and stay as they are)"
                    .to_string(),
            ),
            _ => (
                "this branch".to_string(),
                "Every render replaces the whole tree".to_string(),
            ),
        };
        let commit = match &self.command {
            Some(line) => format!(
                "\n\nThe same render, committed here as this commit was (in that checkout):\n\n\
                 ```shell\n{line}\n```"
            ),
            None => String::new(),
        };
        format!(
            "# Rendered manifests of environment `{env}`\n\n\
             Generated by {tool} from the DRY commit `{source}` of {repo}, environment `{env}`.\n\n\
             **Do not edit {scope}.** {replaced}: change the environment in the \
             source repository (`environments/`) and render again (`openim-gitops render --env {env} --commit`).\n\n\
             ## Reproduce\n\n\
             ```shell\n\
             git clone {repo} openim-gitops\n\
             cd openim-gitops\n\
             git checkout {source}\n\
             {render}\n\
             ```\n\n\
             `rendered/{env}/` then holds the files of this folder, `README.md` and `.gitattributes` aside.{commit}\n\n\
             ## Files\n\n\
             - `<namespace>/<kind>/<name>.yaml` (`_cluster/` for cluster-scoped kinds): one resource each, \
             what Argo CD syncs.\n\
             - `{METADATA_FILE}`: the DRY commit (`drySha`, author, date, message), the repository, the image \
             tags and the tool version, as GitOps Promoter and Argo CD read them.\n\
             - `README.md`: this file. `.gitattributes`: marks the two as generated.\n\
             - The git note `refs/notes/hydrator.metadata` on each commit holds the newest DRY commit rendered \
             to it, also when the manifests did not change.\n",
            tool = self.tool,
            source = self.source(),
        )
    }
}

/// A commit ready to be written on any parent: its tree (computed in memory, not yet written),
/// message and signatures. With a folder (path mode) the tree is the folder's, put in place on each
/// parent it is committed on, so a parent that moved (another environment's folder rendered in
/// between) keeps everything but this folder.
pub struct Prepared<'a> {
    pub tree: MemTree<'a>,
    pub path: Option<BranchPath>,
    pub message: String,
    author: Signature<'static>,
    committer: Signature<'static>,
}

impl Prepared<'_> {
    /// The id of the tree the render writes: the branch's root, or the folder's in path mode.
    pub fn tree_id(&self) -> Oid {
        self.tree.id()
    }

    /// The commit object on `parent`, written with whatever of its tree the repository lacks as one
    /// pack (no reference moved).
    pub fn commit_on(&self, repo: &Repository, parent: Option<Oid>) -> Result<Oid> {
        let odb = repo
            .odb()
            .map_err(|e| git_error("cannot open the object database", e))?;
        let base = match parent {
            Some(p) => Some(
                repo.find_commit(p)
                    .and_then(|c| c.tree())
                    .map_err(|e| git_error("cannot read the branch's tree", e))?,
            ),
            None => None,
        };
        let mut spliced = Vec::new();
        let root = match &self.path {
            None => {
                if let Some(base) = &base {
                    refuse_over_folders(base)?;
                }
                self.tree.id()
            }
            Some(path) => {
                if let Some(base) = &base {
                    refuse_nested(repo, base, path)?;
                }
                let parts: Vec<&str> = path.parts().collect();
                splice(repo, base.as_ref(), &parts, self.tree.id(), &mut spliced)?
            }
        };
        let commit = Object::new(
            ObjectType::Commit,
            Cow::Owned(commit_bytes(
                root,
                parent,
                &self.author,
                &self.committer,
                &self.message,
            )),
        )?;
        let mut objects = self.tree.missing(&odb)?;
        for o in &spliced {
            if !odb.exists_ext(o.id, git2::OdbLookupFlags::NO_REFRESH) {
                objects.push(o);
            }
        }
        if !odb.exists_ext(commit.id, git2::OdbLookupFlags::NO_REFRESH) {
            objects.push(&commit);
        }
        pack::write_pack(&odb, &objects)?;
        Ok(commit.id)
    }

    /// Whether the commit `tip` already holds these manifests (the provenance files aside): in its
    /// root, or in the folder in path mode. Writes nothing.
    pub fn same_as(&self, repo: &Repository, tip: Oid) -> Result<bool> {
        let root = tree_of(repo, tip)?;
        let Some(path) = &self.path else {
            return same_manifests(repo, root, &self.tree);
        };
        let tree = repo
            .find_tree(root)
            .map_err(|e| git_error("cannot read a tree", e))?;
        match tree.get_path(std::path::Path::new(path.as_str())) {
            Ok(e) if e.kind() == Some(ObjectType::Tree) => same_manifests(repo, e.id(), &self.tree),
            _ => Ok(false),
        }
    }
}

/// The tree `base` with the folder `parts` replaced by the tree `new` (created with its parents
/// when missing); every other entry keeps its id and mode. The trees written on the way are pushed
/// to `out`; returns the new root's id.
fn splice(
    repo: &Repository,
    base: Option<&git2::Tree<'_>>,
    parts: &[&str],
    new: Oid,
    out: &mut Vec<Object<'static>>,
) -> Result<Oid> {
    let Some((name, rest)) = parts.split_first() else {
        return Ok(new);
    };
    let existing = base.and_then(|b| b.get_name(name));
    let child = if rest.is_empty() {
        new
    } else {
        let below = match &existing {
            Some(e) if e.kind() == Some(ObjectType::Tree) => Some(
                repo.find_tree(e.id())
                    .map_err(|e| git_error("cannot read a tree", e))?,
            ),
            Some(_) => {
                return Err(Error::usage(format!(
                    "`{name}` is a file on the branch: it cannot hold the folder `{}`",
                    parts.join("/")
                )))
            }
            None => None,
        };
        splice(repo, below.as_ref(), rest, new, out)?
    };
    let mut entries: Vec<(Vec<u8>, Oid, i32)> = base
        .map(|b| {
            b.iter()
                .filter(|e| e.name_bytes() != name.as_bytes())
                .map(|e| (e.name_bytes().to_vec(), e.id(), e.filemode_raw()))
                .collect()
        })
        .unwrap_or_default();
    entries.push((name.as_bytes().to_vec(), child, 0o040000));
    let object = pack::tree_object(entries)?;
    let id = object.id;
    out.push(object);
    Ok(id)
}

/// Path mode refuses a branch whose root holds a whole-branch render, a folder above `path` that holds
/// another environment's render (it would take this folder in), and a render below `path` (it would be
/// deleted): environments that share a branch live in sibling folders.
fn refuse_nested(repo: &Repository, base: &git2::Tree<'_>, path: &BranchPath) -> Result<()> {
    let has_metadata = |dir: &str| {
        let file = if dir.is_empty() {
            METADATA_FILE.to_string()
        } else {
            format!("{dir}/{METADATA_FILE}")
        };
        base.get_path(std::path::Path::new(&file)).is_ok()
    };
    let help =
        "give each environment on a shared branch its own sibling folder (apps/dev, apps/test), \
                or commit to another branch with --branch";
    if has_metadata("") {
        return Err(Error::usage(format!(
            "the branch holds a whole-branch render ({METADATA_FILE} at its root): writing the folder `{path}` \
             into it would mix the two, and the next whole-branch render would delete the folder"
        ))
        .help(help));
    }
    let parts: Vec<&str> = path.parts().collect();
    for n in 1..parts.len() {
        let above = parts[..n].join("/");
        if has_metadata(&above) {
            return Err(Error::usage(format!(
                "the folder `{above}` of the branch holds another render: `{path}` would be written inside it"
            ))
            .help(help));
        }
    }
    if let Ok(entry) = base.get_path(std::path::Path::new(path.as_str())) {
        if entry.kind() == Some(ObjectType::Tree) {
            let tree = repo
                .find_tree(entry.id())
                .map_err(|e| git_error("cannot read a tree", e))?;
            if let Some(inner) = nested_metadata(&tree) {
                return Err(Error::usage(format!(
                    "the folder `{path}/{inner}` of the branch holds another render: writing `{path}` would delete it"
                ))
                .help(help));
            }
        }
    }
    Ok(())
}

/// A whole-branch render refuses a branch whose folders hold renders written with a path (and no
/// whole-branch render at its root): replacing the whole tree would delete them.
fn refuse_over_folders(base: &git2::Tree<'_>) -> Result<()> {
    if base.get_name(METADATA_FILE).is_some() || base.is_empty() {
        return Ok(());
    }
    if let Some(folder) = nested_metadata(base) {
        return Err(Error::usage(format!(
            "the branch holds renders in folders (`{folder}` has a {METADATA_FILE}): a whole-branch render would delete them"
        ))
        .help("commit this environment into a folder of its own with --path (or `commit.path` in its env.yaml), or to another branch"));
    }
    Ok(())
}

/// The first folder below the top of `tree` (not the top itself) that holds a `hydrator.metadata`.
fn nested_metadata(tree: &git2::Tree<'_>) -> Option<String> {
    let mut found = None;
    let _ = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if !dir.is_empty() && entry.name_bytes() == METADATA_FILE.as_bytes() {
            found = Some(dir.trim_end_matches('/').to_string());
            return git2::TreeWalkResult::Abort;
        }
        git2::TreeWalkResult::Ok
    });
    found
}

/// A commit object's bytes, exactly as libgit2's `git_commit_create` writes them.
fn commit_bytes(
    tree: Oid,
    parent: Option<Oid>,
    author: &Signature<'_>,
    committer: &Signature<'_>,
    message: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + message.len());
    out.extend_from_slice(format!("tree {tree}\n").as_bytes());
    if let Some(p) = parent {
        out.extend_from_slice(format!("parent {p}\n").as_bytes());
    }
    for (header, sig) in [("author", author), ("committer", committer)] {
        let when = sig.when();
        let offset = when.offset_minutes();
        let sign = if offset < 0 || when.sign() == '-' {
            '-'
        } else {
            '+'
        };
        let offset = offset.unsigned_abs();
        out.extend_from_slice(header.as_bytes());
        out.push(b' ');
        out.extend_from_slice(sig.name_bytes());
        out.extend_from_slice(b" <");
        out.extend_from_slice(sig.email_bytes());
        // libgit2 prints the time as an unsigned 32-bit number.
        out.extend_from_slice(
            format!(
                "> {} {sign}{:02}{:02}\n",
                when.seconds() as u32,
                offset / 60,
                offset % 60
            )
            .as_bytes(),
        );
    }
    out.push(b'\n');
    out.extend_from_slice(message.as_bytes());
    out
}

/// Computes the tree (the rendered files plus the README and `.gitattributes`; in path mode, the
/// folder's) in memory and prepares the commit. Nothing is written.
pub fn prepare<'a>(
    tree: &'a Tree,
    readme: &'a str,
    provenance: &Provenance<'_>,
    identity: &Identity,
) -> Result<Prepared<'a>> {
    let mut files: BTreeMap<&str, &[u8]> = tree
        .files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    files.insert(README_FILE, readme.as_bytes());
    files.insert(GITATTRIBUTES_FILE, GITATTRIBUTES.as_bytes());
    Ok(Prepared {
        tree: MemTree::build(&files)?,
        path: provenance.path().cloned(),
        message: provenance.message(),
        author: signature(&identity.author)?,
        committer: signature(&identity.committer)?,
    })
}

/// Writes `files` (path with `/` -> bytes) as a tree, the objects the repository lacks as one pack,
/// and returns its id.
pub fn write_tree(repo: &Repository, files: &BTreeMap<&str, &[u8]>) -> Result<Oid> {
    let tree = MemTree::build(files)?;
    let odb = repo
        .odb()
        .map_err(|e| git_error("cannot open the object database", e))?;
    pack::write_pack(&odb, &tree.missing(&odb)?)?;
    Ok(tree.id())
}

/// True when the tree of the commit `tip` holds the same manifests as `tree`: equal but for the
/// provenance files. Reads only the tip's root tree; writes nothing.
pub fn same_manifests(repo: &Repository, tip_tree: Oid, tree: &MemTree<'_>) -> Result<bool> {
    if tip_tree == tree.id() {
        return Ok(true);
    }
    let provenance = |name: &[u8]| PROVENANCE_FILES.iter().any(|p| p.as_bytes() == name);
    let old = repo
        .find_tree(tip_tree)
        .map_err(|e| git_error("cannot read a tree", e))?;
    let old = old
        .iter()
        .filter(|e| !provenance(e.name_bytes()))
        .map(|e| (e.name_bytes().to_vec(), e.id(), e.filemode()));
    let new = tree
        .entries()
        .into_iter()
        .filter(|(name, _, _)| !provenance(name))
        .map(|(name, id, mode)| (name.to_vec(), id, mode));
    Ok(old.eq(new))
}

/// The tree of a commit.
pub fn tree_of(repo: &Repository, commit: Oid) -> Result<Oid> {
    repo.find_commit(commit)
        .map(|c| c.tree_id())
        .map_err(|e| git_error("cannot read a commit", e))
}

/// `refs/heads/<branch>`, checked.
pub fn branch_ref(branch: &str) -> Result<String> {
    let name = format!("refs/heads/{branch}");
    if branch.is_empty() || !git2::Reference::is_valid_name(&name) {
        return Err(Error::usage(format!(
            "`{branch}` is not a valid branch name"
        )));
    }
    Ok(name)
}

/// The commit a local branch points at, if the branch exists.
pub fn local_tip(repo: &Repository, branch: &str) -> Result<Option<Oid>> {
    let name = branch_ref(branch)?;
    match repo.find_reference(&name) {
        Ok(r) => Ok(Some(
            r.peel_to_commit()
                .map_err(|e| git_error(&format!("branch {branch} does not point at a commit"), e))?
                .id(),
        )),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git_error(&format!("cannot read branch {branch}"), e)),
    }
}

/// Refuses a branch that is checked out in this repository or one of its worktrees: moving it would
/// leave that working tree out of step with its branch.
pub fn refuse_checked_out(repo: &Repository, branch: &str) -> Result<()> {
    let name = branch_ref(branch)?;
    let mut heads = Vec::new();
    if let Ok(head) = repo.find_reference("HEAD") {
        heads.push((
            head.symbolic_target().ok().flatten().map(str::to_string),
            repo.workdir().map(|p| p.to_path_buf()),
        ));
    }
    if let Ok(names) = repo.worktrees() {
        for wt in names.iter().flatten().flatten() {
            if let Ok(wt) = repo.find_worktree(wt) {
                if let Ok(r) = Repository::open_from_worktree(&wt) {
                    if let Ok(head) = r.find_reference("HEAD") {
                        heads.push((
                            head.symbolic_target().ok().flatten().map(str::to_string),
                            Some(wt.path().to_path_buf()),
                        ));
                    }
                }
            }
        }
    }
    for (target, dir) in heads {
        if target.as_deref() == Some(name.as_str()) {
            let dir = dir
                .map(|d| crate::node::display_path(&d))
                .unwrap_or_else(|| "the repository".to_string());
            return Err(Error::usage(format!(
                "branch {branch} is checked out in {dir}: committing the render to it would leave that working tree behind"
            ))
            .help("switch that working tree to another branch, or commit to another branch with --branch"));
        }
    }
    Ok(())
}

/// Moves `branch` from `old` to `new` (creating it when `old` is `None`), failing if someone else
/// moved it in between.
pub fn set_branch(
    repo: &Repository,
    branch: &str,
    old: Option<Oid>,
    new: Oid,
    why: &str,
) -> Result<()> {
    let name = branch_ref(branch)?;
    let result = match old {
        Some(old) => repo.reference_matching(&name, new, true, old, why),
        None => repo.reference(&name, new, false, why),
    };
    result
        .map(|_| ())
        .map_err(|e| git_error(&format!("cannot move branch {branch}"), e))
}

/// Puts `branch` back where it was (or deletes it, if it did not exist) after a failed push.
pub fn restore_branch(repo: &Repository, branch: &str, old: Option<Oid>) -> Result<()> {
    let name = branch_ref(branch)?;
    match old {
        Some(old) => repo
            .reference(
                &name,
                old,
                true,
                "openim-gitops: push failed, branch restored",
            )
            .map(|_| ())
            .map_err(|e| git_error(&format!("cannot restore branch {branch}"), e)),
        None => match repo.find_reference(&name) {
            Ok(mut r) => r
                .delete()
                .map_err(|e| git_error(&format!("cannot remove branch {branch}"), e)),
            Err(_) => Ok(()),
        },
    }
}

/// Writes the hydrator note (`{"drySha": ...}`) on a render commit, by the render's identity; nothing
/// when the source commit is unknown. Returns whether the note changed.
pub fn note_on(
    repo: &Repository,
    commit: Oid,
    provenance: &Provenance<'_>,
    identity: &Identity,
) -> Result<bool> {
    let Some(dry) = provenance.meta.source_commit.as_deref() else {
        return Ok(false);
    };
    super::notes::write(
        repo,
        commit,
        dry,
        &signature(&identity.author)?,
        &signature(&identity.committer)?,
    )
}

/// What committing a render did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Committed {
    /// A new commit on the branch.
    Created { commit: Oid, parent: Option<Oid> },
    /// The manifests equal the tip's: no commit.
    Unchanged { tip: Oid },
}

/// The tip of the local `branch` when it already holds these manifests (the provenance files aside):
/// a render there would commit nothing. Refuses a checked-out branch as [`commit_tree`] does; writes
/// nothing.
pub fn unchanged_tip(
    repo: &Repository,
    branch: &str,
    tree: &Tree,
    provenance: &Provenance<'_>,
    identity: &Identity,
) -> Result<Option<Oid>> {
    refuse_checked_out(repo, branch)?;
    let Some(tip) = local_tip(repo, branch)? else {
        return Ok(None);
    };
    let readme = provenance.readme();
    let prepared = prepare(tree, &readme, provenance, identity)?;
    Ok(prepared.same_as(repo, tip)?.then_some(tip))
}

/// The DRY commit the render commit `tip` was last judged for, and that commit's time (seconds since
/// the epoch): the commit its hydrator note names, when `tip` was written by `tool` (its
/// `Tool-Version` trailer) and the repository holds the named commit. `None` when any of it is
/// unknown.
pub fn judged_for(repo: &Repository, tip: Oid, tool: &str) -> Result<Option<(Oid, i64)>> {
    let commit = repo
        .find_commit(tip)
        .map_err(|e| git_error("cannot read a commit", e))?;
    let trailer = format!("Tool-Version: {tool}");
    let by_tool = commit
        .message_bytes()
        .split(|b| *b == b'\n')
        .any(|line| line == trailer.as_bytes());
    if !by_tool {
        return Ok(None);
    }
    let Some(dry) = super::notes::read(repo, tip)? else {
        return Ok(None);
    };
    let Ok(dry) = Oid::from_str(&dry) else {
        return Ok(None);
    };
    Ok(repo
        .find_commit(dry)
        .ok()
        .map(|c| (dry, c.committer().when().seconds())))
}

/// Commits a rendered tree on the local `branch` (objects and that one reference only).
pub fn commit_tree(
    repo: &Repository,
    branch: &str,
    tree: &Tree,
    provenance: &Provenance<'_>,
    identity: &Identity,
) -> Result<Committed> {
    refuse_checked_out(repo, branch)?;
    let tip = local_tip(repo, branch)?;
    let readme = provenance.readme();
    let prepared = prepare(tree, &readme, provenance, identity)?;
    if let Some(tip) = tip {
        if prepared.same_as(repo, tip)? {
            note_on(repo, tip, provenance, identity)?;
            return Ok(Committed::Unchanged { tip });
        }
    }
    let commit = prepared.commit_on(repo, tip)?;
    note_on(repo, commit, provenance, identity)?;
    set_branch(
        repo,
        branch,
        tip,
        commit,
        &format!("openim-gitops: render {}", provenance.meta.environment),
    )?;
    Ok(Committed::Created {
        commit,
        parent: tip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_git_takes() {
        assert_eq!(parse_date("@1700000000 +0000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_date("1700000000 +0130"), Some((1_700_000_000, 90)));
        assert_eq!(parse_date("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_date("2023-11-14T22:13:20Z"), Some((1_700_000_000, 0)));
        assert_eq!(
            parse_date("2023-11-14T23:13:20+01:00"),
            Some((1_700_000_000, 60))
        );
        assert_eq!(
            parse_date("2023-11-14 23:13:20 +0100"),
            Some((1_700_000_000, 60))
        );
        assert_eq!(
            parse_date("Tue, 14 Nov 2023 22:13:20 +0000"),
            Some((1_700_000_000, 0))
        );
        assert_eq!(parse_date("1970-01-01"), Some((0, 0)));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2023-13-01T00:00:00Z"), None);
    }

    #[test]
    fn the_commit_command_quotes_an_unusual_branch() {
        let place = |branch: &str| Place {
            branch: branch.to_string(),
            path: Some(BranchPath::parse("apps/dev").unwrap()),
            proposed: true,
        };
        assert_eq!(
            place("environments/live").flags(),
            "--commit --branch environments/live --path apps/dev --proposed"
        );
        assert_eq!(
            place("env/$(id)'x").flags(),
            "--commit --branch 'env/$(id)'\\''x' --path apps/dev --proposed"
        );
        assert_eq!(place("env/$(id)").target(), "env/$(id)-next/apps/dev");
    }

    #[test]
    fn commit_bytes_are_what_libgit2_writes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let files = BTreeMap::from([("a/b.yaml", b"x: 1\n".as_slice()), ("README.md", b"r\n")]);
        let tree = write_tree(&repo, &files).unwrap();
        let git_tree = repo.find_tree(tree).unwrap();
        for (secs, offset) in [(1_700_000_000, 0), (1_700_000_000, -90), (0, 330)] {
            let author = Signature::new("A Ü", "a@example.com", &Time::new(secs, offset)).unwrap();
            let committer = Signature::new("C", "c@example.com", &Time::new(secs + 5, 0)).unwrap();
            let message = "Render dev\n\nSource-Commit: x\n";
            let first = repo
                .commit(None, &author, &committer, message, &git_tree, &[])
                .unwrap();
            let bytes = commit_bytes(tree, None, &author, &committer, message);
            assert_eq!(Oid::hash_object(ObjectType::Commit, &bytes).unwrap(), first);
            let parent = repo.find_commit(first).unwrap();
            let second = repo
                .commit(None, &author, &committer, message, &git_tree, &[&parent])
                .unwrap();
            let bytes = commit_bytes(tree, Some(first), &author, &committer, message);
            assert_eq!(
                Oid::hash_object(ObjectType::Commit, &bytes).unwrap(),
                second
            );
        }
    }

    #[test]
    fn a_path_that_cannot_be_in_a_tree_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        for bad in ["a/../b.yaml", "a//b.yaml", ".git/config", "/abs.yaml"] {
            let files = BTreeMap::from([(bad, b"x".as_slice())]);
            assert!(write_tree(&repo, &files).is_err(), "{bad}");
        }
        let files = BTreeMap::from([("a", b"x".as_slice()), ("a/b", b"y".as_slice())]);
        assert!(write_tree(&repo, &files).is_err());
    }
}
