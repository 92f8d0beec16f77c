//! `render --rev REV` (render a revision from git objects) and `render --commit [--branch B] [--push
//! [REMOTE]]` (commit the rendered tree on the environment branch, and push it).

use std::io::Write;

use crate::check::command::Target;
use crate::check::policy::Date;
use crate::check::{self, Severity};
use crate::cli::{Cli, Format, RenderArgs};
use crate::diagnostics::{self, Style};
use crate::error::{Error, Result};
use crate::git::commit::{self, Committed, Identity, Provenance};
use crate::git::files::{discover, GitFiles};
use crate::git::push::{self, PushSettings, Pushed};
use crate::git::{self, GitEnv};
use crate::load::{DiskFiles, Files, Loader};
use crate::node::{display_path, Sources};
use crate::pipeline::{self, Compiled};
use crate::{render, Status};

use super::{short, write};

/// The check stage's verdict on the environments about to be committed: the names of those with
/// error-level findings (after the policy and waivers), whose findings are printed as `check` prints
/// them. Any such environment refuses the whole commit unless `--allow-findings` is given.
fn gate(
    loader: &mut Loader<'_>,
    cli: &Cli,
    args: &RenderArgs,
    compiled: &[Compiled],
    out: &mut dyn Write,
    style: Style,
) -> Result<Vec<String>> {
    let opts = check::command::Options {
        root: &cli.root,
        envs: &args.select.envs,
        paths: &[],
        policy: None,
        tags: &args.tags,
        today: Date::today(),
    };
    let policy = check::command::load_policy(loader, &opts)?;
    let targets: Vec<Target<'_>> = compiled
        .iter()
        .map(|c| Target {
            env: Some(&c.name),
            resources: &c.build.resources,
            layer: Some(&c.build.env),
            untagged: None,
        })
        .collect();
    let report = check::command::check_targets(loader.sources, &policy, &targets, opts.today);
    let refused: Vec<String> = report
        .checked
        .iter()
        .filter(|c| c.findings.iter().any(|f| f.severity == Severity::Error))
        .filter_map(|c| c.env.clone())
        .collect();
    if report.status() != Status::Clean {
        write(
            out,
            &diagnostics::findings_human(loader.sources, &report, style),
        )?;
    }
    Ok(refused)
}

pub fn run(
    cli: &Cli,
    args: &RenderArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
    env: &GitEnv,
    style: Style,
) -> Result<Status> {
    let git_files = match &args.git.rev {
        Some(rev) => Some(GitFiles::open(&cli.root, rev)?),
        None => None,
    };
    let files: &dyn Files = match &git_files {
        Some(g) => g,
        None => &DiskFiles,
    };
    let facts = match &args.git.rev {
        Some(rev) => Some(
            git::repo_facts_at(&cli.root, rev)
                .map_err(|e| Error::Git(format!("{e}\nhelp: {}", e.hint())))?,
        ),
        None => git::repo_facts(&cli.root).ok(),
    };
    let envs = pipeline::select_envs(files, &cli.root, &args.select.envs, args.select.all)?;
    if args.git.branch.is_some() && envs.len() != 1 {
        return Err(
            Error::usage("--branch names one branch: give exactly one --env with it")
                .help("without --branch each environment goes to environments/<env>"),
        );
    }
    let inputs = pipeline::tag_inputs(&args.tags);
    let mut loader = Loader::new(files, sources);
    let mut compiled = Vec::new();
    for (name, file) in &envs {
        compiled.push(pipeline::compile(
            &mut loader,
            name,
            file,
            &inputs,
            facts.as_ref(),
        )?);
    }

    if !args.git.commit {
        let policies = check::command::default_policy(&cli.root);
        let out_dir = render::OutDir::new(&args.out, &[&cli.root, &policies])?;
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
            let line = match cli.format {
                Format::Json => format!(
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

    // Nothing is committed unless every environment passes the gate (or findings are allowed).
    let refused = gate(&mut loader, cli, args, &compiled, out, style)?;
    if !refused.is_empty() {
        if !args.git.allow_findings {
            write(
                out,
                &format!(
                    "refused: checks report errors in {}; nothing committed (--allow-findings commits anyway where policy allows)\n",
                    refused.join(", ")
                ),
            )?;
            return Ok(Status::Findings);
        }
        write(
            out,
            &format!(
                "warning: committing {} although checks report errors (--allow-findings)\n",
                refused.join(", ")
            ),
        )?;
    }

    let repo = match &git_files {
        Some(g) => g.reopen()?,
        None => discover(&cli.root)?,
    };
    let identity = Identity::resolve(&repo, env)?;
    for c in &compiled {
        let branch = args
            .git
            .branch
            .clone()
            .unwrap_or_else(|| commit::default_branch(&c.name));
        let tree = c.render();
        let provenance = Provenance::new(&c.meta);
        let line = match &args.git.push {
            None => {
                let done = commit::commit_tree(&repo, &branch, &tree, &provenance, &identity)?;
                committed_line(cli.format, &c.name, &branch, &done)
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
                pushed_line(cli.format, &c.name, &branch, remote, &done)
            }
        };
        write(out, &line)?;
    }
    Ok(Status::Clean)
}

fn committed_line(format: Format, env: &str, branch: &str, done: &Committed) -> String {
    match (format, done) {
        (Format::Json, Committed::Created { commit, parent }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "status": "committed",
                "commit": commit.to_string(), "parent": parent.map(|p| p.to_string()),
            })
        ),
        (Format::Json, Committed::Unchanged { tip }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "status": "unchanged", "commit": tip.to_string(),
            })
        ),
        (_, Committed::Created { commit, parent }) => format!(
            "committed {env} on {branch}: {}{}\n",
            short(&commit.to_string()),
            match parent {
                Some(p) => format!(" (parent {})", short(&p.to_string())),
                None => " (first commit of the branch)".to_string(),
            }
        ),
        (_, Committed::Unchanged { tip }) => format!(
            "unchanged {env}: the manifests equal {branch} at {}; no commit\n",
            short(&tip.to_string())
        ),
    }
}

fn pushed_line(format: Format, env: &str, branch: &str, remote: &str, done: &Pushed) -> String {
    match (format, done) {
        (Format::Json, Pushed::Created { commit, parent, rebuilt }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "remote": remote, "status": "pushed",
                "commit": commit.to_string(), "parent": parent.map(|p| p.to_string()), "rebuilt": rebuilt,
            })
        ),
        (Format::Json, Pushed::Existing { commit }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "remote": remote, "status": "pushed-existing",
                "commit": commit.to_string(),
            })
        ),
        (Format::Json, Pushed::UpToDate { tip }) => format!(
            "{}\n",
            serde_json::json!({
                "environment": env, "branch": branch, "remote": remote, "status": "unchanged",
                "commit": tip.to_string(),
            })
        ),
        (_, Pushed::Created { commit, parent, rebuilt }) => format!(
            "committed {env} on {branch} and pushed to {remote}: {}{}{}\n",
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
            "unchanged {env}: no new commit; pushed {branch} at {} to {remote} (it held unpushed commits)\n",
            short(&commit.to_string())
        ),
        (_, Pushed::UpToDate { tip }) => format!(
            "unchanged {env}: {remote}'s {branch} at {} holds these manifests; nothing committed or pushed\n",
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
