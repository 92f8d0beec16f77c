//! `openim-gitops check`: compiles the environments in memory (or loads manifest files as they are),
//! resolves the policy for each, runs every rule, applies waivers across all of them, and hands the
//! [`Report`] to `diagnostics` in the format asked for.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::check::policy::{Date, Ledger, Waived};
use crate::check::policy_file::PolicySet;
use crate::check::{self, Context, Finding, Severity};
use crate::cli::{CheckArgs, Cli, Format, TagArgs};
use crate::diagnostics::{self, Style};
use crate::error::{Error, Result};
use crate::load::{is_yaml, Files, Loader};
use crate::node::{FileRole, Sources};
use crate::pipeline;
use crate::resource::Resource;
use crate::Status;

/// The findings of one environment (or of the files given on the command line).
pub struct Checked {
    /// `None` for plain files.
    pub env: Option<String>,
    /// How many objects were checked.
    pub resources: usize,
    pub findings: Vec<Finding>,
    pub waived: Vec<Waived>,
}

/// Everything one run found.
pub struct Report {
    pub checked: Vec<Checked>,
    /// Findings about the waivers themselves (expired, unused, invalid), once per run.
    pub waivers: Vec<Finding>,
}

impl Report {
    /// Every finding that stands, with its environment.
    pub fn findings(&self) -> impl Iterator<Item = (Option<&str>, &Finding)> {
        self.checked
            .iter()
            .flat_map(|c| c.findings.iter().map(move |f| (c.env.as_deref(), f)))
            .chain(self.waivers.iter().map(|f| (None, f)))
    }

    /// Exit status: findings at error level fail the run.
    pub fn status(&self) -> Status {
        if self.findings().any(|(_, f)| f.severity == Severity::Error) {
            Status::Findings
        } else {
            Status::Clean
        }
    }
}

/// What to check.
pub struct Options<'a> {
    /// The environments folder.
    pub root: &'a Path,
    /// Environments to check (empty: all); with `paths`, the environment whose policy applies.
    pub envs: &'a [String],
    /// Manifest files or folders to check as they are.
    pub paths: &'a [PathBuf],
    /// The policy file or folder; `None`: `policies/` beside the root, when it exists.
    pub policy: Option<&'a Path>,
    pub tags: &'a TagArgs,
    pub today: Date,
}

/// The default policy folder: `policies/` beside the environments folder.
pub fn default_policy(root: &Path) -> PathBuf {
    root.parent().unwrap_or(Path::new("")).join("policies")
}

fn codes() -> Vec<&'static str> {
    check::rules().iter().map(|r| r.code).collect()
}

/// The policy of a run: `--policy`, else `policies/` beside the root when it exists, else none.
pub fn load_policy(loader: &mut Loader<'_>, opts: &Options<'_>) -> Result<PolicySet> {
    let codes = codes();
    match opts.policy {
        Some(p) => PolicySet::load(loader, p, &codes),
        None => {
            let p = default_policy(opts.root);
            if loader.files.is_dir(&p) || loader.files.is_file(&p) {
                PolicySet::load(loader, &p, &codes)
            } else {
                Ok(PolicySet::default())
            }
        }
    }
}

fn load_paths(loader: &mut Loader<'_>, paths: &[PathBuf]) -> Result<Vec<Resource>> {
    let mut files = Vec::new();
    for p in paths {
        if loader.files.is_dir(p) {
            let all = loader.files.walk(p).map_err(|source| Error::Read {
                path: p.clone(),
                source,
            })?;
            files.extend(all.into_iter().filter(|f| is_yaml(f)));
        } else if loader.files.is_file(p) {
            files.push(p.clone());
        } else {
            return Err(Error::usage(format!(
                "`{}` does not exist",
                crate::node::display_path(p)
            )));
        }
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        let id = loader.source(&f, FileRole::Resource)?;
        let named_at = loader.sources.file_origin(id);
        match loader.resources(&f, named_at) {
            Ok(mut rs) => out.append(&mut rs),
            Err(e) => errors.push(e),
        }
    }
    // No uniqueness check: files linted together may be meant for different namespaces or clusters.
    Error::collect(errors)?;
    Ok(out)
}

/// Runs the checks and returns what they found (tool failures are errors).
pub fn collect(files: &dyn Files, sources: &mut Sources, opts: &Options<'_>) -> Result<Report> {
    let mut loader = Loader::new(files, sources);
    let policy = load_policy(&mut loader, opts)?;

    // (environment, resources, environment layer)
    let mut targets: Vec<(Option<String>, Vec<Resource>, Option<crate::load::Layer>)> = Vec::new();
    if opts.paths.is_empty() {
        let all = crate::load::find_environments(files, opts.root)?;
        let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
        policy.check_environments(&names)?;
        let envs = pipeline::select_envs(files, opts.root, opts.envs, opts.envs.is_empty())?;
        let facts = crate::git::repo_facts(opts.root).ok();
        let inputs = pipeline::tag_inputs(opts.tags);
        let explicit =
            opts.tags.tag.is_some() || opts.tags.version.is_some() || opts.tags.rc.is_some();
        for (name, file) in &envs {
            let build = match pipeline::compile(&mut loader, name, file, &inputs, facts.as_ref()) {
                Ok(c) => c.build,
                // The tag stage failed (no release tag on a commit before the push, no repository):
                // the pre-commit hook still checks, with the images tagged as the files tag them.
                // Building again reports any overlay error as compile would. A tag given on the
                // command line must hold.
                Err(_) if !explicit => crate::overlay::build(&mut loader, file)?,
                Err(e) => return Err(e),
            };
            targets.push((Some(name.clone()), build.resources, Some(build.env)));
        }
    } else {
        if opts.envs.len() > 1 {
            return Err(Error::usage(
                "with PATHS, --env names the one environment whose policy applies",
            ));
        }
        let resources = load_paths(&mut loader, opts.paths)?;
        targets.push((opts.envs.first().cloned(), resources, None));
    }

    let targets: Vec<Target<'_>> = targets
        .iter()
        .map(|(env, resources, layer)| Target {
            env: env.as_deref(),
            resources,
            layer: layer.as_ref(),
        })
        .collect();
    Ok(check_targets(loader.sources, &policy, &targets, opts.today))
}

/// One set of resources to check: an environment (with its layer) or plain files (`env: None`).
pub struct Target<'a> {
    pub env: Option<&'a str>,
    pub resources: &'a [Resource],
    pub layer: Option<&'a crate::load::Layer>,
}

/// Checks resources that are already loaded or compiled (for example by `render --commit`, whose gate
/// refuses a commit when the report's status is `Findings`), with a policy read by
/// [`PolicySet::load`] (or `PolicySet::default()` for none).
pub fn check_targets(
    sources: &Sources,
    policy: &PolicySet,
    targets: &[Target<'_>],
    today: Date,
) -> Report {
    let codes = codes();
    let known = |code: &str| codes.contains(&code);
    let mut ledger = Ledger::default();
    let mut checked = Vec::new();
    for t in targets {
        let p = policy.resolve(t.env, &codes);
        let ctx = Context {
            env: t.env,
            resources: t.resources,
            sources,
            layer: t.layer,
            policy: &p,
        };
        let found = check::run(&ctx);
        let (findings, waived) = ledger.apply(&ctx, found, today, &known);
        checked.push(Checked {
            env: t.env.map(str::to_string),
            resources: t.resources.len(),
            findings,
            waived,
        });
    }
    let base = policy.resolve(None, &codes);
    let mut waivers = Vec::new();
    for mut f in ledger.finish(today) {
        let default = check::rules()
            .iter()
            .find(|r| r.code == f.code)
            .map(|r| r.default_severity)
            .unwrap_or(f.severity);
        if let Some(s) = base.severity(f.code, default) {
            f.severity = s;
            waivers.push(f);
        }
    }
    Report { checked, waivers }
}

/// The `check` command.
pub fn check(
    cli: &Cli,
    args: &CheckArgs,
    files: &dyn Files,
    sources: &mut Sources,
    out: &mut dyn Write,
    style: Style,
) -> Result<Status> {
    let today = match &args.today {
        Some(t) => Date::parse(t).ok_or_else(|| {
            Error::usage(format!(
                "`{t}` is not a date: --today and OPENIM_GITOPS_TODAY take YYYY-MM-DD"
            ))
        })?,
        None => Date::today(),
    };
    let opts = Options {
        root: &cli.root,
        envs: &args.select.envs,
        paths: &args.paths,
        policy: args.policy.as_deref(),
        tags: &args.tags,
        today,
    };
    let report = collect(files, sources, &opts)?;
    let text = match cli.format {
        Format::Human | Format::Markdown => diagnostics::findings_human(sources, &report, style),
        Format::Json => json_text(&diagnostics::findings_json(sources, &report)),
        Format::Sarif => json_text(&diagnostics::findings_sarif(sources, &report)),
        Format::Github => diagnostics::findings_github(sources, &report),
    };
    crate::write(out, &text)?;
    Ok(report.status())
}

fn json_text(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
