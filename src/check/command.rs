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
use crate::load::manifests::Manifests;
use crate::load::{Files, Loader};
use crate::node::Sources;
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
    /// Something the reader should know about how it was checked.
    pub note: Option<String>,
    /// Files a folder walk passed over, by reason (the keys of `SkipReason::key`).
    pub skipped: std::collections::BTreeMap<&'static str, usize>,
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

/// An environment compiled (or files loaded), owning what a [`Target`] borrows.
struct Loaded {
    env: Option<String>,
    resources: Vec<Resource>,
    layer: Option<crate::load::Layer>,
    /// Why the tag stage did not run.
    untagged: Option<String>,
    /// What reading PATHS found wrong or passed over.
    load: Option<Manifests>,
}

/// Runs the checks and returns what they found (tool failures are errors).
pub fn collect(files: &dyn Files, sources: &mut Sources, opts: &Options<'_>) -> Result<Report> {
    let mut loader = Loader::new(files, sources);
    let policy = load_policy(&mut loader, opts)?;

    let mut targets: Vec<Loaded> = Vec::new();
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
            let (build, untagged) =
                match pipeline::compile(&mut loader, name, file, &inputs, facts.as_ref()) {
                    Ok(c) => (c.build, None),
                    // The tag stage failed (no release tag on a commit before the push, no
                    // repository): the pre-commit hook still checks, with the images tagged as the
                    // files tag them. Building again reports any overlay error as compile would. A
                    // tag given on the command line must hold.
                    Err(e) if !explicit => {
                        let why = match &e {
                            Error::At(l) => l.message.clone(),
                            other => other.to_string(),
                        };
                        (crate::overlay::build(&mut loader, file)?, Some(why))
                    }
                    Err(e) => return Err(e),
                };
            targets.push(Loaded {
                env: Some(name.clone()),
                resources: build.resources,
                layer: Some(build.env),
                untagged,
                load: None,
            });
        }
    } else {
        if opts.envs.len() > 1 {
            return Err(Error::usage(
                "with PATHS, --env names the one environment whose policy applies",
            ));
        }
        let mut manifests = crate::load::manifests::load(&mut loader, opts.paths)?;
        let resources = std::mem::take(&mut manifests.resources);
        targets.push(Loaded {
            env: opts.envs.first().cloned(),
            resources,
            layer: None,
            untagged: None,
            load: Some(manifests),
        });
    }

    let loaded: Vec<(Target<'_>, Option<&Manifests>)> = targets
        .iter()
        .map(|l| {
            let t = Target {
                env: l.env.as_deref(),
                resources: &l.resources,
                layer: l.layer.as_ref(),
                untagged: l.untagged.as_deref(),
            };
            (t, l.load.as_ref())
        })
        .collect();
    Ok(check_loaded(loader.sources, &policy, &loaded, opts.today))
}

/// One set of resources to check: an environment (with its layer) or plain files (`env: None`).
pub struct Target<'a> {
    pub env: Option<&'a str>,
    pub resources: &'a [Resource],
    pub layer: Option<&'a crate::load::Layer>,
    /// Why no tag was applied, when the tag stage could not decide one: rules about the environment's
    /// own tag do not run then.
    pub untagged: Option<&'a str>,
}

/// The rule that compares owned images with the tag the environment's rule gives; meaningless when no
/// tag was applied.
const OWNED_TAG_RULE: &str = "images/owned-tag-rule";

/// Checks resources that are already loaded or compiled (for example by `render --commit`, whose gate
/// refuses a commit when the report's status is `Findings`), with a policy read by
/// [`PolicySet::load`] (or `PolicySet::default()` for none).
pub fn check_targets(
    sources: &Sources,
    policy: &PolicySet,
    targets: &[Target<'_>],
    today: Date,
) -> Report {
    let loaded: Vec<(Target<'_>, Option<&Manifests>)> = targets
        .iter()
        .map(|t| {
            let t = Target {
                env: t.env,
                resources: t.resources,
                layer: t.layer,
                untagged: t.untagged,
            };
            (t, None)
        })
        .collect();
    check_loaded(sources, policy, &loaded, today)
}

/// [`check_targets`], with what loading each target's files found (load problems become `load/`
/// findings, skipped files a note and a count).
fn check_loaded(
    sources: &Sources,
    policy: &PolicySet,
    targets: &[(Target<'_>, Option<&Manifests>)],
    today: Date,
) -> Report {
    let codes = codes();
    let known = |code: &str| codes.contains(&code);
    let mut ledger = Ledger::default();
    let mut checked = Vec::new();
    for (t, load) in targets {
        let mut p = policy.resolve(t.env, &codes);
        if t.untagged.is_some() && codes.contains(&OWNED_TAG_RULE) {
            p.severities
                .insert(OWNED_TAG_RULE.to_string(), (None, None));
        }
        let ctx = Context::new(t.env, t.resources, sources, t.layer, &p);
        let mut found = check::run(&ctx);
        let mut note = t.untagged.map(|why| {
            format!("no image tag applied ({why}); images checked as the files tag them")
        });
        let mut skipped = std::collections::BTreeMap::new();
        if let Some(m) = load {
            for problem in &m.problems {
                let mut f = check::load::finding(problem);
                if let Some(s) = p.severity(f.code, f.severity) {
                    f.severity = s;
                    found.push(f);
                }
            }
            check::sort_findings(sources, &mut found);
            note = note.or(m.skipped_note());
            skipped = m.skipped.iter().map(|(why, n)| (why.key(), *n)).collect();
        }
        let (findings, waived) = ledger.apply(&ctx, found, today, &known);
        checked.push(Checked {
            env: t.env.map(str::to_string),
            resources: t.resources.len(),
            findings,
            waived,
            note,
            skipped,
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
        Format::Human | Format::Markdown | Format::Mermaid | Format::Dot => {
            diagnostics::findings_human(sources, &report, style)
        }
        Format::Json => json_text(&diagnostics::findings_json(sources, &report)),
        Format::Sarif => json_text(&diagnostics::findings_sarif(sources, &report)),
        Format::Github => diagnostics::findings_github(sources, &report),
    };
    crate::write(out, &text)?;
    Ok(report.status())
}

fn json_text(v: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
