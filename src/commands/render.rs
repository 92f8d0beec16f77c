//! `render`: compile environments and write each rendered tree under `--out` (`--exit-code` for a hook
//! that keeps a committed tree up to date), from a revision's git objects with `--rev REV`, or as a
//! commit on the environment branch with `--commit [--branch B] [--path DIR] [--proposed] [--push [REMOTE]]`
//! (or where the environment's `commit:` block says), behind the checks.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::check::policy::Date;
use crate::check::policy_file::PolicySet;
use crate::check::report::load_policy;
use crate::check::{self, Severity};
use crate::cli::{CheckFormat, RenderArgs, RenderFormat};
use crate::diagnostics::Style;
use crate::error::{Error, Result};
use crate::git::commit::{self, Committed, Identity, Place, Provenance};
use crate::git::files::{discover, GitFiles};
use crate::git::push::{self, PushSettings, Pushed};
use crate::git::{self, GitEnv};
use crate::load::commit::BranchPath;
use crate::load::{DiskFiles, Files, Loader};
use crate::node::{display_path, Sources};
use crate::pipeline::{self, Compiled};
use crate::render;

use super::{short, write, Status};

/// The check stage's verdict on the environments about to be committed, from the same entry point
/// and policy as `check`: the names of those with error-level findings (after the policy and waivers),
/// whose findings are printed as `check` prints them in the same format. Any such environment refuses
/// the whole commit unless `--allow-findings` is given.
pub(super) fn gate(
    loader: &mut Loader<'_>,
    root: &Path,
    compiled: &[Compiled],
    format: RenderFormat,
    kube: check::vendored::KubeVersion,
    out: &mut dyn Write,
    style: Style,
) -> Result<Vec<String>> {
    let policy = load_policy(loader, root, None)?;
    gate_under(loader.sources, &policy, compiled, format, kube, out, style)
}

/// The gate under a policy already read.
fn gate_under(
    sources: &Sources,
    policy: &PolicySet,
    compiled: &[Compiled],
    format: RenderFormat,
    kube: check::vendored::KubeVersion,
    out: &mut dyn Write,
    style: Style,
) -> Result<Vec<String>> {
    let today = gate_today()?;
    let targets = super::check::targets(compiled, kube);
    let report = check::check_targets(sources, policy, &targets, today);
    // A finding about the waivers themselves (an expired or invalid waiver) belongs to the run, not
    // to one environment: as it fails `check`, it refuses every environment of the commit.
    let run_wide = report.waivers.iter().any(|f| f.severity == Severity::Error);
    let refused: Vec<String> = report
        .checked
        .iter()
        .filter(|c| run_wide || c.findings.iter().any(|f| f.severity == Severity::Error))
        .filter_map(|c| c.env.clone())
        .collect();
    if report.has_errors() {
        let text = match format {
            RenderFormat::Human => {
                super::check::report(sources, &report, CheckFormat::Human, style)
            }
            // One JSON object per line, as every line `render --format json` prints.
            RenderFormat::Json => format!(
                "{}\n",
                serde_json::json!({
                    "status": "findings",
                    "checks": crate::diagnostics::findings_json(sources, &report),
                })
            ),
        };
        write(out, &text)?;
    }
    Ok(refused)
}

/// The date waivers are judged on: `OPENIM_GITOPS_TODAY`, else today in UTC.
fn gate_today() -> Result<Date> {
    super::check::today(std::env::var("OPENIM_GITOPS_TODAY").ok().as_deref())
}

/// An unchanged render whose verdict is already known: every environment's manifests equal its
/// branch tip's, and nothing else the gate's verdict depends on has moved since the tip was last
/// judged, so the gate would decide what it decided then and nothing is committed either way
/// (docs/git.md, "An unchanged render is not checked again"). Only a local commit (a push compares
/// with the remote's branch, which is fetched later). `None` whenever any of it is not so, or cannot
/// be told: the gate then runs, and the commit below reports what went wrong.
struct Judged {
    repo: git2::Repository,
    identity: Identity,
    tips: Vec<(Place, git2::Oid)>,
}

#[allow(clippy::too_many_arguments)]
fn judged(
    files: &GitFiles,
    root: &Path,
    envs: &[(String, PathBuf)],
    compiled: &[Compiled],
    trees: &[render::Tree],
    policy: &PolicySet,
    args: &crate::cli::GitRenderArgs,
    path: Option<&BranchPath>,
    env: &GitEnv,
) -> Result<Option<Judged>> {
    let repo = files.reopen()?;
    let identity = Identity::resolve(&repo, env)?;
    let today = gate_today()?;
    let policies = check::report::default_policy(root);
    let mut tips = Vec::new();
    for ((c, tree), place) in compiled
        .iter()
        .zip(trees)
        .zip(places(compiled, args, path)?)
    {
        let Some((_, env_file)) = envs.iter().find(|(name, _)| *name == c.name) else {
            return Ok(None);
        };
        let branch = place.target();
        let provenance = Provenance::new(&c.meta).at(place.clone()).by_render();
        let Some(tip) = commit::unchanged_tip(&repo, &branch, tree, &provenance, &identity)? else {
            return Ok(None);
        };
        let Some((dry, when)) = commit::judged_for(&repo, tip, &provenance.tool)? else {
            return Ok(None);
        };
        // The policy folder and the environment's own folder (env.yaml, what it names beside it)
        // as they were in the DRY commit judged.
        let folder = env_file.parent().unwrap_or(Path::new(""));
        if !files.same_entries_at(dry, &[policies.as_path(), folder])? {
            return Ok(None);
        }
        // A waiver that expired (or came into force) between then and today changes the verdict.
        let then = Date::from_days(when.div_euclid(86_400));
        let resolved = policy.resolve(Some(c.name.as_str()));
        let expiries = check::policy::waiver_expiries(&resolved, &c.build.resources);
        if expiries.iter().any(|u| (*u >= then) != (*u >= today)) {
            return Ok(None);
        }
        tips.push((place, tip));
    }
    Ok(Some(Judged {
        repo,
        identity,
        tips,
    }))
}

pub fn run(
    root: &Path,
    args: &RenderArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
    err: &mut dyn Write,
    env: &GitEnv,
    style: Style,
) -> Result<Status> {
    let kube = super::kube_version(&args.kube)?;
    // A commit records the commit its sources come from, so it is built from that commit's objects:
    // `--rev`, or HEAD. The working tree is never read for a commit, dirty or not.
    let (git_files, facts) = match (&args.git.rev, args.git.commit) {
        (Some(rev), _) => (
            Some(GitFiles::open(root, rev)?),
            Some(
                git::repo_facts_at(root, rev)
                    .map_err(|e| Error::Git(format!("{e}\nhelp: {}", e.hint())))?,
            ),
        ),
        (None, true) => {
            let facts = git::repo_facts(root)
                .map_err(|e| Error::Git(format!("{e}\nhelp: {}", e.hint())))?;
            let Some(head) = facts.head_commit.clone() else {
                return Err(Error::usage(
                    "HEAD has no commit yet: a rendered commit names the commit its sources come from",
                )
                .help("commit the environments first, then render --commit"));
            };
            (Some(GitFiles::open(root, &head)?), Some(facts))
        }
        (None, false) => (None, git::repo_facts(root).ok()),
    };
    let files: &dyn Files = match &git_files {
        Some(g) => g,
        None => &DiskFiles,
    };
    // hydrator.metadata and the Argo CD objects name the repository the push goes to.
    let mut facts = facts;
    if let (Some(remote), Some(f)) = (&args.git.push, facts.as_mut()) {
        if let Ok(repo) = discover(root) {
            f.remote_url = git::remote::remote_url(&repo, remote).or(f.remote_url.take());
        }
    }
    // The folder is untrusted input: refused before anything is rendered or committed.
    let path = match &args.git.path {
        Some(p) => Some(
            BranchPath::parse(p).map_err(|e| Error::usage(e.message("--path")).help(e.help()))?,
        ),
        None => None,
    };
    let envs = pipeline::select_envs(files, root, &args.select.envs, args.select.all)?;
    if args.git.branch.is_some() && envs.len() != 1 {
        return Err(
            Error::usage("--branch names one branch: give exactly one --env with it")
                .help("without --branch each environment goes to commit.branch in its env.yaml, else environments/<env>"),
        );
    }
    if path.is_some() && envs.len() != 1 {
        return Err(
            Error::usage("--path names one folder: give exactly one --env with it").help(
                "environments sharing a branch set commit.path in their env.yaml, one folder each",
            ),
        );
    }
    let inputs = super::tag_inputs(&args.tags);
    // The working-copy render (a pre-commit hook, a developer) renders what the repository decides a
    // tag for and says why it skips the rest; a commit, a push or a past revision needs every tag.
    let skip_undecided = !args.strict && !args.git.commit && args.git.rev.is_none();
    let mut loader = Loader::new(files, sources);
    let mut compiled = Vec::new();
    for (name, file) in &envs {
        let c = pipeline::compile(&mut loader, name, file, &inputs, facts.as_ref())?;
        if skip_undecided {
            if let Some(e) = c.undecided() {
                write(err, &skipped_line(args.format, name, e))?;
                continue;
            }
        }
        compiled.push(c.tagged()?);
    }

    if !args.git.commit {
        let policies = check::report::default_policy(root);
        let out_dir = render::OutDir::new(&args.out, &[root, &policies])?;
        let mut changed = Vec::new();
        for c in &compiled {
            let dir = out_dir.env_dir(&c.name);
            let tree = c.render();
            if args.exit_code {
                if same_resources(&read_tree(&dir)?, &tree) {
                    write(
                        out,
                        &format!("{} is up to date in {}\n", c.name, display_path(&dir)),
                    )?;
                    continue;
                }
                changed.push(display_path(&dir));
            }
            out_dir.write(&c.name, &tree)?;
            let line = match args.format {
                RenderFormat::Json => format!(
                    "{}\n",
                    serde_json::json!({
                        "environment": c.name,
                        "resources": c.build.resources.len(),
                        "out": display_path(&dir),
                        "rev": args.git.rev,
                        "sourceCommit": c.meta.source_commit,
                    })
                ),
                _ => format!(
                    "rendered {} at {}: {} resources into {}\n",
                    c.name,
                    c.meta.source_commit.as_deref().map(short).unwrap_or("?"),
                    c.build.resources.len(),
                    display_path(&dir)
                ),
            };
            write(out, &line)?;
        }
        if !changed.is_empty() {
            write(
                out,
                &format!(
                    "changed: {}; review and stage the rendered files\n",
                    changed.join(", ")
                ),
            )?;
            return Ok(Status::Findings);
        }
        return Ok(Status::Clean);
    }

    if let (None, Some(g)) = (&args.git.rev, &git_files) {
        let uncommitted = git::files::uncommitted_changes(g.repository())?;
        if uncommitted > 0 {
            write(out, &dirty_note(args.format, uncommitted, facts.as_ref()))?;
        }
    }
    let policy = load_policy(&mut loader, root, None)?;
    let trees: Vec<render::Tree> = compiled.iter().map(|c| c.render()).collect();
    // The Kubernetes version checked against is the tool's default unless given: a given one may
    // not be the one the tip was judged under.
    let default_kube = args.kube.kube_version.is_none();
    if let (None, Some(g), true) = (&args.git.push, &git_files, default_kube) {
        let known = judged(
            g,
            root,
            &envs,
            &compiled,
            &trees,
            &policy,
            &args.git,
            path.as_ref(),
            env,
        )
        .unwrap_or(None);
        if let Some(j) = known {
            for (c, (place, tip)) in compiled.iter().zip(j.tips) {
                let branch = place.target();
                let folder = place.path.clone();
                let provenance = Provenance::new(&c.meta).at(place).by_render();
                commit::note_on(&j.repo, tip, &provenance, &j.identity)?;
                let done = Committed::Unchanged { tip };
                let line = committed_line(args.format, &c.name, &branch, folder.as_ref(), &done);
                write(out, &line)?;
            }
            return Ok(Status::Clean);
        }
    }
    // Nothing is committed unless every environment passes the gate (or findings are allowed).
    let refused = gate_under(
        loader.sources,
        &policy,
        &compiled,
        args.format,
        kube,
        out,
        style,
    )?;
    if !refused.is_empty() {
        let allowed = args.git.allow_findings;
        let line = match args.format {
            RenderFormat::Json => format!(
                "{}\n",
                serde_json::json!({
                    "status": if allowed { "committing-with-findings" } else { "refused" },
                    "environments": refused,
                })
            ),
            RenderFormat::Human if allowed => format!(
                "warning: committing {} although checks report errors (--allow-findings)\n",
                refused.join(", ")
            ),
            RenderFormat::Human => format!(
                "refused: checks report errors in {}; nothing committed (--allow-findings commits anyway where policy allows)\n",
                refused.join(", ")
            ),
        };
        write(out, &line)?;
        if !allowed {
            return Ok(Status::Findings);
        }
    }

    let repo = match &git_files {
        Some(g) => g.reopen()?,
        None => discover(root)?,
    };
    let identity = Identity::resolve(&repo, env)?;
    let places = places(&compiled, &args.git, path.as_ref())?;
    for ((c, tree), place) in compiled.iter().zip(trees).zip(places) {
        let branch = place.target();
        let folder = place.path.clone();
        let provenance = Provenance::new(&c.meta).at(place).by_render();
        let line = match &args.git.push {
            None => {
                let done = commit::commit_tree(&repo, &branch, &tree, &provenance, &identity)?;
                committed_line(args.format, &c.name, &branch, folder.as_ref(), &done)
            }
            Some(remote) => {
                let settings = PushSettings::new(remote, env);
                let done = push::commit_and_push(
                    &repo,
                    &branch,
                    &tree,
                    &provenance,
                    &identity,
                    &settings,
                )?;
                pushed_line(
                    args.format,
                    &c.name,
                    &branch,
                    folder.as_ref(),
                    remote,
                    &done,
                )
            }
        };
        write(out, &line)?;
    }
    Ok(Status::Clean)
}

/// Says that the working tree's changes are not what is committed: the commit is HEAD's sources.
fn dirty_note(format: RenderFormat, uncommitted: usize, facts: Option<&git::RepoFacts>) -> String {
    let head = facts
        .and_then(|f| f.head_commit.as_deref())
        .map(short)
        .unwrap_or("?");
    match format {
        RenderFormat::Json => format!(
            "{}\n",
            serde_json::json!({
                "status": "note",
                "uncommittedChanges": uncommitted,
                "renderedFrom": facts.and_then(|f| f.head_commit.clone()),
            })
        ),
        RenderFormat::Human => format!(
            "note: the working tree has {uncommitted} uncommitted change(s); they are not in this commit, \
             which is rendered from HEAD's objects ({head}); commit them and render again to include them\n"
        ),
    }
}

/// Why an environment was not rendered: its reason and what would decide its tag.
fn skipped_line(format: RenderFormat, env: &str, e: &Error) -> String {
    let reason = e.to_string();
    let help = e
        .help_text()
        .unwrap_or("pass the tag with --tag, --rc or --release-version");
    match format {
        RenderFormat::Json => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "status": "skipped", "reason": reason, "help": help,
            })
        ),
        RenderFormat::Human => {
            format!("skipped {env}: {reason} ({help}; --strict fails instead)\n")
        }
    }
}

/// Where each environment is committed: the command line's `--branch`, `--path` and `--proposed`, else
/// the `commit:` block of its env.yaml, else the whole of `environments/<env>`. Every branch is checked,
/// and environments that would overwrite each other on one branch are refused, before anything is
/// committed.
fn places(
    compiled: &[Compiled],
    args: &crate::cli::GitRenderArgs,
    path: Option<&BranchPath>,
) -> Result<Vec<Place>> {
    let mut out: Vec<Place> = Vec::new();
    for c in compiled {
        let spec = c.build.env.commit.as_ref();
        let from_file = spec.and_then(|s| s.branch.as_ref());
        let place = Place {
            branch: args
                .branch
                .clone()
                .or_else(|| from_file.map(|b| b.value.clone()))
                .unwrap_or_else(|| commit::default_branch(&c.name)),
            path: path
                .cloned()
                .or_else(|| spec.and_then(|s| s.path.as_ref()).map(|p| p.value.clone())),
            proposed: args.proposed || spec.is_some_and(|s| s.proposed),
        };
        for branch in [place.branch.clone(), place.target()] {
            if let Err(e) = commit::branch_ref(&branch) {
                return Err(match from_file.filter(|_| args.branch.is_none()) {
                    Some(b) => {
                        Error::at(b.origin, format!("`{branch}` is not a valid branch name"))
                            .label("commit.branch")
                    }
                    None => e,
                });
            }
        }
        for (other, earlier) in compiled.iter().zip(&out) {
            if earlier.target() != place.target() {
                continue;
            }
            let overlap = match (&earlier.path, &place.path) {
                (Some(a), Some(b)) => a.within(b) || b.within(a),
                _ => true,
            };
            if overlap {
                return Err(Error::usage(format!(
                    "{} and {} would both be written to {}{}: the second would overwrite the first",
                    other.name,
                    c.name,
                    place.target(),
                    match (&earlier.path, &place.path) {
                        (Some(a), Some(b)) => format!(" (folders `{a}` and `{b}`)"),
                        _ => String::new(),
                    }
                ))
                .help("environments sharing a branch need sibling folders: set commit.path in each env.yaml"));
            }
        }
        out.push(place);
    }
    Ok(out)
}

fn committed_line(
    format: RenderFormat,
    env: &str,
    branch: &str,
    path: Option<&BranchPath>,
    done: &Committed,
) -> String {
    let folder = path.map(|p| format!(" (folder {p}/)")).unwrap_or_default();
    let path = path.map(|p| p.to_string());
    match (format, done) {
        (RenderFormat::Json, Committed::Created { commit, parent }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "path": path, "status": "committed",
                "commit": commit.to_string(), "parent": parent.map(|p| p.to_string()),
            })
        ),
        (RenderFormat::Json, Committed::Unchanged { tip }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "path": path, "status": "unchanged",
                "commit": tip.to_string(),
            })
        ),
        (_, Committed::Created { commit, parent }) => format!(
            "committed {env} on {branch}{folder}: {}{}\n",
            short(&commit.to_string()),
            match parent {
                Some(p) => format!(" (parent {})", short(&p.to_string())),
                None => " (first commit of the branch)".to_string(),
            }
        ),
        (_, Committed::Unchanged { tip }) => format!(
            "unchanged {env}: the manifests equal {branch}{folder} at {}; no commit, the note on it names the DRY commit\n",
            short(&tip.to_string())
        ),
    }
}

fn pushed_line(
    format: RenderFormat,
    env: &str,
    branch: &str,
    path: Option<&BranchPath>,
    remote: &str,
    done: &Pushed,
) -> String {
    let folder = path.map(|p| format!(" (folder {p}/)")).unwrap_or_default();
    let path = path.map(|p| p.to_string());
    match (format, done) {
        (RenderFormat::Json, Pushed::Created { commit, parent, rebuilt }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "path": path, "remote": remote, "status": "pushed",
                "commit": commit.to_string(), "parent": parent.map(|p| p.to_string()), "rebuilt": rebuilt,
            })
        ),
        (RenderFormat::Json, Pushed::Existing { commit }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "path": path, "remote": remote, "status": "pushed-existing",
                "commit": commit.to_string(),
            })
        ),
        (RenderFormat::Json, Pushed::UpToDate { tip }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "path": path, "remote": remote, "status": "unchanged",
                "commit": tip.to_string(),
            })
        ),
        (_, Pushed::Created { commit, parent, rebuilt }) => format!(
            "committed {env} on {branch}{folder} and pushed to {remote}: {}{}{}\n",
            short(&commit.to_string()),
            match parent {
                Some(p) => format!(" (parent {})", short(&p.to_string())),
                None => " (first commit of the branch)".to_string(),
            },
            match rebuilt {
                0 => String::new(),
                n => format!("; the remote branch had moved, rebuilt on its tip {n} time(s)"),
            }
        ),
        (_, Pushed::Existing { commit }) => format!(
            "unchanged {env}: no new commit; pushed {branch}{folder} at {} to {remote} (it held unpushed commits)\n",
            short(&commit.to_string())
        ),
        (_, Pushed::UpToDate { tip }) => format!(
            "unchanged {env}: {remote}'s {branch}{folder} at {} holds these manifests; nothing committed or pushed but the note naming the DRY commit\n",
            short(&tip.to_string())
        ),
    }
}

/// The rendered tree in a folder as it is on disk (empty when the folder does not exist).
fn read_tree(dir: &std::path::Path) -> Result<render::Tree> {
    let mut tree = render::Tree::default();
    if !dir.is_dir() {
        return Ok(tree);
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Read {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let key = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::read(entry.path()).map_err(|source| Error::Read {
            path: entry.path().to_path_buf(),
            source,
        })?;
        tree.files.insert(key, bytes);
    }
    Ok(tree)
}

/// Whether two trees hold the same files, the metadata file aside (it names the source commit, which a
/// pre-commit hook cannot know yet) unless one of them lacks it.
fn same_resources(a: &render::Tree, b: &render::Tree) -> bool {
    fn files(t: &render::Tree) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        t.files
            .iter()
            .filter(|(k, _)| k.as_str() != render::METADATA_FILE)
    }
    a.files.contains_key(render::METADATA_FILE) == b.files.contains_key(render::METADATA_FILE)
        && files(a).eq(files(b))
}
