//! `promote --from test --to release [--release-version X.Y.Z]`: renders the target environment at
//! the DRY commit the source environment was tested at, with the target's tag rule, checks it, commits
//! it to the target's proposed branch (`<branch>-next`), and prints the pull-request body that moves it
//! to the active branch. A release whose version tag names a commit the source never rendered is
//! refused, saying why.

use std::io::Write;
use std::path::Path;

use crate::cli::{PromoteArgs, PromoteFormat, RenderFormat, TagArgs};
use crate::diagnostics::Style;
use crate::diff::{self, promotion};
use crate::error::{Error, Result};
use crate::git::commit::{self, Committed, Identity, Provenance, PROVENANCE_FILES};
use crate::git::files::{discover, GitFiles};
use crate::git::promotion::{dry_commits_between, newest, rendered_dry_commits, tree_at};
use crate::git::push::{self, PushSettings, Pushed};
use crate::git::{self, GitEnv};
use crate::load::Loader;
use crate::node::Sources;
use crate::pipeline;
use crate::render::hydrator::{Reference, ReferencedCommit};
use crate::render::Tree;

use super::{short, write, Status};

/// GitHub's limit on a pull-request body.
const BODY_LIMIT: usize = 65_536;

pub fn run(
    root: &Path,
    args: &PromoteArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
    env: &GitEnv,
    style: Style,
) -> Result<Status> {
    if args.from == args.to {
        return Err(Error::usage("--from and --to name the same environment"));
    }
    let repo = discover(root)?;
    let from_branch = commit::default_branch(&args.from);
    let active = commit::default_branch(&args.to);
    let proposed = commit::proposed_branch(&active);

    // What the source environment was tested at.
    let Some(tested) = newest(&repo, &from_branch)? else {
        write(
            out,
            &format!(
                "refused: {} was never rendered ({from_branch} does not exist): there is no tested commit to promote\n",
                args.from
            ),
        )?;
        return Ok(Status::Findings);
    };
    let mut dry = tested.dry.clone();
    if let Some(version) = &args.release_version {
        let tag = format!("v{}", version.trim_start_matches('v'));
        if let Ok(object) = repo.revparse_single(&format!("refs/tags/{tag}")) {
            let tagged = object
                .peel_to_commit()
                .map_err(|e| git::git_error(&format!("tag {tag} names no commit"), e))?
                .id()
                .to_string();
            let rendered = rendered_dry_commits(&repo, &from_branch)?;
            if !rendered.contains(&tagged) {
                write(
                    out,
                    &format!(
                        "refused: release {version} is tag {tag} on commit {}, which {} never rendered \
                         ({from_branch} was rendered at {} commit(s), the newest {}); render {} at {} and let it pass first\n",
                        short(&tagged),
                        args.from,
                        rendered.len(),
                        short(&tested.dry),
                        args.from,
                        short(&tagged),
                    ),
                )?;
                return Ok(Status::Findings);
            }
            dry = tagged;
        }
    }

    // The target, rendered from the objects of that commit with its own rule.
    let dry_oid = git::files::resolve(&repo, &dry)?;
    let files = GitFiles::at(discover(root)?, dry_oid)?;
    let mut facts = git::repo_facts_at(root, &dry)
        .map_err(|e| Error::Git(format!("{e}\nhelp: {}", e.hint())))?;
    if let Some(remote) = &args.push {
        facts.remote_url = git::remote::remote_url(&repo, remote).or(facts.remote_url.take());
    }
    let envs = pipeline::select_envs(&files, root, std::slice::from_ref(&args.to), false)?;
    let tag_args = TagArgs {
        release_version: args.release_version.clone(),
        rc: args.rc,
        ..TagArgs::default()
    };
    let inputs = super::tag_inputs(&tag_args);
    let mut loader = Loader::new(&files, sources);
    let (name, file) = &envs[0];
    let mut compiled = pipeline::compile(&mut loader, name, file, &inputs, Some(&facts))?;
    compiled.meta.references = vec![Reference {
        commit: ReferencedCommit {
            sha: tested.hydrated.to_string(),
            repo_url: compiled.meta.repo_url.clone(),
            author: None,
            date: None,
            subject: Some(format!("{} rendered at {}", args.from, short(&tested.dry))),
        },
    }];

    // The checks gate the commit, as for `render --commit`, and print as `check` does.
    let refused = super::render::gate(
        &mut loader,
        root,
        std::slice::from_ref(&compiled),
        RenderFormat::Human,
        out,
        style,
    )?;
    if !refused.is_empty() && !args.allow_findings {
        write(
            out,
            &format!(
                "refused: checks report errors in {} at {}; nothing committed\n",
                args.to,
                short(&dry)
            ),
        )?;
        return Ok(Status::Findings);
    }

    // Committed to the proposed branch, never to the active one.
    let tree = compiled.render();
    let provenance = Provenance::new(&compiled.meta);
    let identity = Identity::resolve(&repo, env)?;
    let (tip, created) = match &args.push {
        None => match commit::commit_tree(&repo, &proposed, &tree, &provenance, &identity)? {
            Committed::Created { commit, .. } => (commit, true),
            Committed::Unchanged { tip } => (tip, false),
        },
        Some(remote) => {
            let settings = PushSettings::new(remote, env);
            match push::commit_and_push(&repo, &proposed, &tree, &provenance, &identity, &settings)?
            {
                Pushed::Created { commit, .. } => (commit, true),
                Pushed::Existing { commit } => (commit, false),
                Pushed::UpToDate { tip } => (tip, false),
            }
        }
    };

    // The body: active vs proposed, the DRY commits between them, the images.
    let active_render = newest(&repo, &active).ok().flatten();
    let active_tree = match &active_render {
        Some(a) => manifests(tree_at(&repo, a.hydrated)?),
        None => Tree::default(),
    };
    let proposed_tree = manifests(tree_at(&repo, tip)?);
    let body = promotion::Promotion {
        from: args.from.clone(),
        to: args.to.clone(),
        dry: dry.clone(),
        tested_as: tested.hydrated.to_string(),
        active_branch: active.clone(),
        proposed_branch: proposed.clone(),
        proposed_commit: created.then(|| tip.to_string()),
        diff: diff::compare(&args.to, &active_tree, &proposed_tree),
        dry_commits: dry_commits_between(
            &repo,
            active_render.as_ref().map(|a| a.dry.as_str()),
            &dry,
        )?
        .into_iter()
        .map(|c| promotion::DryCommitLine {
            sha: c.sha,
            subject: c.subject,
            author: c.author,
        })
        .collect(),
        active_tags: active_render
            .and_then(|a| a.metadata)
            .map(|m| m.tags)
            .unwrap_or_default(),
        proposed_tags: compiled.meta.tags.clone(),
    };
    let text = match args.format {
        PromoteFormat::Markdown => promotion::markdown(&body, BODY_LIMIT),
        PromoteFormat::Json => format!(
            "{}\n",
            serde_json::json!({
                "from": body.from, "to": body.to, "drySha": body.dry,
                "testedAs": body.tested_as, "branch": body.proposed_branch,
                "commit": body.proposed_commit,
                "diff": diff::format::json(std::slice::from_ref(&body.diff), &diff::format::Sides {
                    base: active.clone(), head: proposed.clone(),
                }),
            })
        ),
        PromoteFormat::Human => promotion::text(&body),
    };
    write(out, &text)?;
    Ok(Status::Clean)
}

/// A rendered tree without the files that only record provenance (they change with every render).
fn manifests(mut tree: Tree) -> Tree {
    tree.files
        .retain(|path, _| !PROVENANCE_FILES.contains(&path.as_str()));
    tree
}
