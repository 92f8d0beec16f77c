//! `promote --from test --to release [--release-version X.Y.Z]`: renders the target environment at
//! the DRY commit the source environment was tested at, with the target's tag rule, checks it, commits
//! it to the target's proposed branch (`<branch>-next`), and prints the pull-request body that moves it
//! to the active branch. A release whose version tag names a commit the source never rendered is
//! refused, saying why. Both environments are read and written where their `commit:` blocks say: a
//! folder of a shared branch goes to that folder's proposed branch, `<branch>-next/<path>`.

use std::io::Write;
use std::path::Path;

use crate::cli::{PromoteArgs, PromoteFormat, RenderFormat, TagArgs};
use crate::diagnostics::Style;
use crate::diff::{self, promotion};
use crate::error::{Error, Result};
use crate::git::commit::{self, Committed, Identity, Place, Provenance, PROVENANCE_FILES};
use crate::git::files::{discover, GitFiles};
use crate::git::promotion::{dry_commits_between, newest, rendered_dry_commits, tree_at};
use crate::git::push::{self, PushSettings, Pushed};
use crate::git::{self, GitEnv};
use crate::load::layer::CommitSpec;
use crate::load::{DiskFiles, Layer, LayerKind, Loader};
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
    let kube = super::kube_version(&args.kube)?;
    let repo = discover(root)?;
    // Where the source environment is rendered, as its env.yaml (`commit:`) says.
    let from_spec = commit_spec(root, &args.from, sources)?;
    let from = place_of(&args.from, from_spec.as_ref());
    let from_branch = from.branch.clone();
    let from_folder = from.path.as_ref();
    let where_from = match from_folder {
        Some(f) => format!("{f}/ of {from_branch}"),
        None => from_branch.clone(),
    };

    // What the source environment was tested at.
    let Some(tested) = newest(&repo, &from_branch, from_folder)? else {
        write(
            out,
            &format!(
                "refused: {} was never rendered ({where_from} does not exist): there is no tested commit to promote\n",
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
            let rendered = rendered_dry_commits(&repo, &from_branch, from_folder)?;
            if !rendered.contains(&tagged) {
                write(
                    out,
                    &format!(
                        "refused: release {version} is tag {tag} on commit {}, which {} never rendered \
                         ({where_from} was rendered at {} commit(s), the newest {}); render {} at {} and let it pass first\n",
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
        kube,
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

    // Committed to the proposed branch (of the target's folder, in path mode), never to the active one.
    let target = Place {
        proposed: true,
        ..place_of(&args.to, compiled.build.env.commit.as_ref())
    };
    let active = target.branch.clone();
    let proposed = target.target();
    let folder = target.path.clone();
    let tree = compiled.render();
    let provenance = Provenance::new(&compiled.meta).at(target);
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
    let folder = folder.as_ref();
    let active_render = newest(&repo, &active, folder).ok().flatten();
    let active_tree = match &active_render {
        Some(a) => manifests(tree_at(&repo, a.hydrated, folder)?),
        None => Tree::default(),
    };
    let proposed_tree = manifests(tree_at(&repo, tip, folder)?);
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

/// The `commit:` block of an environment, as the working tree has it.
fn commit_spec(root: &Path, name: &str, sources: &mut Sources) -> Result<Option<CommitSpec>> {
    let envs = pipeline::select_envs(&DiskFiles, root, &[name.to_string()], false)?;
    let mut loader = Loader::new(&DiskFiles, sources);
    Ok(Layer::load(&mut loader, &envs[0].1, LayerKind::Environment)?.commit)
}

/// The active branch and folder of an environment: its `commit:` block, else `environments/<env>`.
fn place_of(env: &str, spec: Option<&CommitSpec>) -> Place {
    Place {
        branch: spec
            .and_then(|s| s.branch.as_ref())
            .map(|b| b.value.clone())
            .unwrap_or_else(|| commit::default_branch(env)),
        path: spec.and_then(|s| s.path.as_ref()).map(|p| p.value.clone()),
        proposed: false,
    }
}

/// A rendered tree without the files that only record provenance (they change with every render).
fn manifests(mut tree: Tree) -> Tree {
    tree.files
        .retain(|path, _| !PROVENANCE_FILES.contains(&path.as_str()));
    tree
}
