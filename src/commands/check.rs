//! `check`: compiles the environments in memory (or loads manifest files as they are), runs the check
//! stage over them ([`check::check_targets`]) and prints the report in the format asked for. The gate of
//! `render --commit` goes through [`report`] too.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::check::policy::Date;
use crate::check::report::load_policy;
use crate::check::{self, Report, Target};
use crate::cli::{CheckArgs, CheckFormat};
use crate::diagnostics::{self, Style};
use crate::error::{Error, Result};
use crate::load::manifests::{self, Manifests};
use crate::load::{Files, Layer, Loader};
use crate::node::Sources;
use crate::pipeline;
use crate::resource::Resource;
use crate::tags::TagInputs;

use super::{json_text_sized, write, Status};

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
    pub tags: &'a TagInputs,
    pub today: Date,
    /// The Kubernetes minor to check against.
    pub kube: check::vendored::KubeVersion,
}

/// An environment compiled (or files loaded), owning what a [`Target`] borrows.
struct Loaded {
    env: Option<String>,
    resources: Vec<Resource>,
    layer: Option<Layer>,
    /// Why the tag stage did not run.
    untagged: Option<String>,
    /// What reading PATHS found wrong or passed over.
    load: Option<Manifests>,
}

/// Compiles what `opts` names and checks it (tool failures are errors).
pub fn collect(files: &dyn Files, sources: &mut Sources, opts: &Options<'_>) -> Result<Report> {
    let mut loader = Loader::new(files, sources);
    let policy = load_policy(&mut loader, opts.root, opts.policy)?;

    let mut targets: Vec<Loaded> = Vec::new();
    if opts.paths.is_empty() {
        let all = crate::load::find_environments(files, opts.root)?;
        let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
        policy.check_environments(&names)?;
        let envs = pipeline::select_envs(files, opts.root, opts.envs, opts.envs.is_empty())?;
        let facts = crate::git::repo_facts(opts.root).ok();
        let explicit = opts.tags.explicit_tag.is_some()
            || opts.tags.version.is_some()
            || opts.tags.rc.is_some();
        for (name, file) in &envs {
            let c = pipeline::compile(&mut loader, name, file, opts.tags, facts.as_ref())?;
            // The tag stage failed (no release tag on a commit before the push, no repository): the
            // pre-commit hook still checks, with the images tagged as the files tag them. A tag given
            // on the command line must hold.
            let untagged = match c.tag {
                Ok(_) => None,
                Err(e) if !explicit => Some(match &e {
                    Error::At(l) => l.message.clone(),
                    other => other.to_string(),
                }),
                Err(e) => return Err(e),
            };
            targets.push(Loaded {
                env: Some(name.clone()),
                resources: c.build.resources,
                layer: Some(c.build.env),
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
        let mut manifests = manifests::load(&mut loader, opts.paths)?;
        let resources = std::mem::take(&mut manifests.resources);
        targets.push(Loaded {
            env: opts.envs.first().cloned(),
            resources,
            layer: None,
            untagged: None,
            load: Some(manifests),
        });
    }

    let targets: Vec<Target<'_>> = targets
        .iter()
        .map(|l| Target {
            env: l.env.as_deref(),
            resources: &l.resources,
            layer: l.layer.as_ref(),
            untagged: l.untagged.as_deref(),
            load: l.load.as_ref(),
            kube: opts.kube,
        })
        .collect();
    Ok(check::check_targets(
        loader.sources,
        &policy,
        &targets,
        opts.today,
    ))
}

/// Environments compiled with their tag, as the check stage takes them.
pub fn targets(
    compiled: &[pipeline::Compiled],
    kube: check::vendored::KubeVersion,
) -> Vec<Target<'_>> {
    compiled
        .iter()
        .map(|c| Target {
            env: Some(&c.name),
            resources: &c.build.resources,
            layer: Some(&c.build.env),
            untagged: None,
            load: None,
            kube,
        })
        .collect()
}

/// The report as text in a format: what `check` prints, and what `render --commit` prints when its
/// gate refuses.
pub fn report(sources: &Sources, report: &Report, format: CheckFormat, style: Style) -> String {
    match format {
        CheckFormat::Human => diagnostics::findings_human(sources, report, style),
        CheckFormat::Json => json_text_sized(
            &diagnostics::findings_json(sources, report),
            size_hint(report, 1024),
        ),
        CheckFormat::Sarif => json_text_sized(
            &diagnostics::findings_sarif(sources, report),
            size_hint(report, 2048),
        ),
        CheckFormat::Github => diagnostics::findings_github(sources, report),
    }
}

/// Room for a report in a format that takes about `per_finding` bytes a finding (more than the
/// findings of the generated benchmark trees take: 730 bytes in JSON, 1,320 in SARIF).
fn size_hint(report: &Report, per_finding: usize) -> usize {
    let findings: usize = report
        .checked
        .iter()
        .map(|c| c.findings.len() + c.waived.len())
        .sum::<usize>()
        + report.waivers.len();
    4096 + findings.saturating_mul(per_finding)
}

/// The exit status a report gives.
pub fn status(report: &Report) -> Status {
    if report.has_errors() {
        Status::Findings
    } else {
        Status::Clean
    }
}

/// The `--today` date, or today in UTC.
pub(super) fn today(flag: Option<&str>) -> Result<Date> {
    match flag {
        Some(t) => Date::parse(t).ok_or_else(|| {
            Error::usage(format!(
                "`{t}` is not a date: --today and OPENIM_GITOPS_TODAY take YYYY-MM-DD"
            ))
        }),
        None => Ok(Date::today()),
    }
}

pub fn run(
    root: &Path,
    args: &CheckArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
    style: Style,
) -> Result<Status> {
    let inputs = super::tag_inputs(&args.tags);
    let opts = Options {
        root,
        envs: &args.select.envs,
        paths: &args.paths,
        policy: args.policy.as_deref(),
        tags: &inputs,
        today: today(args.today.as_deref())?,
        kube: super::kube_version(&args.kube)?,
    };
    let found = collect(&crate::load::DiskFiles, sources, &opts)?;
    write(out, &report(sources, &found, args.format, style))?;
    Ok(status(&found))
}
