//! `diff`: render the base revision (from git objects) and the head (a revision, or the working tree),
//! and compare them per resource.
//!
//! Both sides get the same image tag, decided once from the flags and the repository's HEAD as `render`
//! decides it, so the diff shows what the source change does and not which branch it was built from.
//! When no tag can be decided (a release rule without a version tag on HEAD, say), the owned images keep
//! the tags written in the source on both sides, and a note says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{DiffArgs, DiffFormat};
use crate::diagnostics::{self, Style};
use crate::diff::{self, format::Sides, EnvDiff};
use crate::error::{Error, Result};
use crate::git::files::{discover, GitFiles};
use crate::git::{self, RepoFacts};
use crate::load::{find_environments, DiskFiles, Files, Loader};
use crate::node::Sources;
use crate::pipeline;
use crate::render::Tree;
use crate::tags::TagInputs;

use super::{json_text, short, write, Status};

/// One side of the diff: where its files come from, what to call it, and its commit.
struct Side {
    files: Box<dyn Files + Send>,
    label: String,
    commit: Option<String>,
}

pub fn run(
    root: &Path,
    args: &DiffArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
) -> Result<Status> {
    let repo = discover(root)?;
    let open_rev = |rev: &str| -> Result<Side> {
        let files = GitFiles::open_rev(&repo, rev)?;
        let label = format!("{rev} ({})", short(&files.commit_id()));
        Ok(Side {
            commit: Some(files.commit_id()),
            files: Box::new(files),
            label,
        })
    };
    let base = open_rev(&args.base)?;
    let head = match &args.head {
        Some(rev) => open_rev(rev)?,
        None => Side {
            files: Box::new(DiskFiles),
            label: "working tree".to_string(),
            commit: None,
        },
    };
    let facts = git::repo_facts(root).ok();
    // `{rev}` in the link prefix is each side's commit (the working tree's: HEAD's).
    let link = |commit: Option<&str>| -> Option<String> {
        let base = args.link_base.as_deref()?;
        let commit = commit
            .map(str::to_string)
            .or_else(|| facts.as_ref().and_then(|f| f.head_commit.clone()))
            .unwrap_or_default();
        Some(base.replace("{rev}", &commit))
    };
    let (base_link, head_link) = (link(base.commit.as_deref()), link(head.commit.as_deref()));

    let envs = environments(root, args, &base, &head)?;
    let inputs = super::tag_inputs(&args.tags);
    // The two sides compile independently: the base on a thread of its own (with its own sources),
    // the head here, so a diff costs about one render on a machine with two cores.
    let base_label = base.label.clone();
    let base_files = base.files;
    let (envs_ref, inputs_ref, facts_ref, label) = (&envs, &inputs, facts.as_ref(), &base_label);
    let (base_sides, head_sides, base_sources) = std::thread::scope(|scope| {
        let base_job = scope.spawn(move || {
            let mut base_sources = Sources::new();
            let mut sides = Vec::new();
            for (name, base_file, _) in envs_ref {
                let mut notes = Vec::new();
                let side = match base_file {
                    Some(file) => render_side(
                        base_files.as_ref(),
                        &mut base_sources,
                        name,
                        file,
                        inputs_ref,
                        facts_ref,
                        &mut notes,
                    )
                    .map(Some)
                    .map_err(|e| {
                        let text =
                            diagnostics::render_error(&base_sources, &e, Style { color: false });
                        Error::usage(format!(
                            "cannot render {name} at the base, {label}:\n{text}"
                        ))
                    }),
                    None => Ok(None),
                };
                sides.push((side, notes));
            }
            (sides, base_sources)
        });
        // The head side reports its errors with the run's sources.
        let mut head_sides = Vec::new();
        for (name, _, head_file) in &envs {
            let mut notes = Vec::new();
            let side = match head_file {
                Some(file) => render_side(
                    head.files.as_ref(),
                    sources,
                    name,
                    file,
                    &inputs,
                    facts.as_ref(),
                    &mut notes,
                )
                .map(Some),
                None => Ok(None),
            };
            head_sides.push((side, notes));
        }
        let joined = base_job
            .join()
            .map_err(|_| Error::usage("rendering the base side failed"));
        match joined {
            Ok((b, src)) => (Ok(b), head_sides, Some(src)),
            Err(e) => (Err(e), head_sides, None),
        }
    });
    let base_sides = base_sides?;
    let base_sources = base_sources.unwrap_or_default();
    let top = repo
        .workdir()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()))
        .unwrap_or_else(|| root.to_path_buf());
    let mut diffs = Vec::new();
    for (((name, base_file, head_file), (head_side, head_notes)), (base_side, base_notes)) in
        envs.iter().zip(head_sides).zip(base_sides)
    {
        let head_side = head_side?;
        let base_side = base_side?;
        let mut notes = head_notes;
        notes.extend(base_notes);
        if base_file.is_none() {
            notes.push(format!(
                "{name} does not exist at the base: every resource is added"
            ));
        }
        if head_file.is_none() {
            notes.push(format!(
                "{name} does not exist at the head: every resource is removed"
            ));
        }
        notes.dedup();
        let empty = Rendered::default();
        let (b, h) = (
            base_side.as_ref().unwrap_or(&empty),
            head_side.as_ref().unwrap_or(&empty),
        );
        let mut d: EnvDiff = diff::compare_sides(
            name,
            &diff::Side {
                tree: &b.tree,
                resources: &b.resources,
                sources: &base_sources,
                top: &top,
                link_base: base_link.as_deref(),
            },
            &diff::Side {
                tree: &h.tree,
                resources: &h.resources,
                sources,
                top: &top,
                link_base: head_link.as_deref(),
            },
        );
        d.notes = notes;
        // An environment added or removed as a whole would list every path: its resources say it all.
        if base_side.is_none() || head_side.is_none() {
            d.paths = None;
        }
        let rank = head_side
            .as_ref()
            .or(base_side.as_ref())
            .map_or(3, |s| s.rank);
        diffs.push((rank, d));
        // The command ends with the diff printed: freeing both compiled and rendered trees object by
        // object would cost a tenth of its time at 10,000 resources.
        std::mem::forget((base_side, head_side));
    }
    // In the order changes travel: dev (branch tags), test (rc), release, then the others by name.
    diffs.sort_by_key(|(rank, d)| (*rank, d.environment.clone()));
    let diffs: Vec<EnvDiff> = diffs.into_iter().map(|(_, d)| d).collect();
    let changed = diffs.iter().any(|d| !d.changes.is_empty());
    let sides = Sides {
        base: base_label,
        head: head.label,
    };
    let text = match args.format {
        DiffFormat::Human => diff::format::text(&diffs, &sides),
        DiffFormat::Markdown => {
            diff::format::markdown(&diffs, &sides, diff::format::GITHUB_COMMENT_LIMIT)
        }
        DiffFormat::Json => json_text(&diff::format::json(&diffs, &sides)),
    };
    write(out, &text)?;
    Ok(if args.exit_code && changed {
        Status::Findings
    } else {
        Status::Clean
    })
}

/// One side of one environment, compiled and rendered.
#[derive(Default)]
struct Rendered {
    tree: Tree,
    resources: Vec<crate::resource::Resource>,
    /// Where the environment stands in the order changes travel (its tag rule).
    rank: u8,
}

/// An environment's name and its env.yaml at the base and at the head.
type EnvPair = (String, Option<PathBuf>, Option<PathBuf>);

/// The environments to compare, with their env.yaml on each side (absent on one side when it was added
/// or removed): the named ones, or every environment of either side with `--all`.
fn environments(root: &Path, args: &DiffArgs, base: &Side, head: &Side) -> Result<Vec<EnvPair>> {
    let list = |side: &Side| -> Result<Vec<(String, PathBuf)>> {
        if side.files.is_dir(root) {
            find_environments(side.files.as_ref(), root)
        } else {
            Ok(Vec::new())
        }
    };
    let (b, h) = (list(base)?, list(head)?);
    let mut names: Vec<String> = if args.select.all || args.select.envs.is_empty() {
        if !args.select.all {
            return Err(Error::usage(
                "name an environment with --env NAME, or use --all",
            ));
        }
        b.iter().chain(h.iter()).map(|(n, _)| n.clone()).collect()
    } else {
        args.select.envs.clone()
    };
    names.sort();
    names.dedup();
    let find = |list: &[(String, PathBuf)], name: &str| {
        list.iter().find(|(n, _)| n == name).map(|(_, f)| f.clone())
    };
    let mut out = Vec::new();
    for name in names {
        let (bf, hf) = (find(&b, &name), find(&h, &name));
        if bf.is_none() && hf.is_none() {
            let known: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::usage(format!(
                "there is no environment `{name}` at the base or the head"
            ))
            .help(format!("environments at the head: {}", known.join(", "))));
        }
        out.push((name, bf, hf));
    }
    if out.is_empty() {
        return Err(Error::usage(format!(
            "no environment under `{}` at the base or the head",
            crate::node::display_path(root)
        )));
    }
    Ok(out)
}

/// Renders one side of one environment with the tag decided from the flags and HEAD; without a
/// decision, with the source's own tags (and a note). Maps its network paths too.
fn render_side(
    files: &dyn Files,
    sources: &mut Sources,
    name: &str,
    env_file: &Path,
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
    notes: &mut Vec<String>,
) -> Result<Rendered> {
    let mut loader = Loader::new(files, sources);
    let c = pipeline::compile(&mut loader, name, env_file, inputs, facts)?;
    if let Err(e) = &c.tag {
        let reason = e.to_string();
        let reason = reason.lines().next().unwrap_or("");
        notes.push(format!(
            "no image tag could be decided for {name} ({reason}); its owned images keep the tags written in the source on both sides (give --tag, --rc or --release-version to set one)"
        ));
    }
    let rank = match c.build.env.tags.as_ref().map(|t| t.rule.value.as_str()) {
        Some("branch") => 0,
        Some("rc") => 1,
        Some("release") => 2,
        _ => 3,
    };
    Ok(Rendered {
        tree: c.render(),
        resources: c.build.resources,
        rank,
    })
}
