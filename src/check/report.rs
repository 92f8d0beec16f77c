//! The check stage's entry point: [`check_targets`] resolves the policy for each set of resources (an
//! environment, or files given as they are), runs every rule, applies waivers across all of them, and
//! returns the [`Report`]. `check` and the gate of `render --commit` both call it; the reporter prints it.

use std::path::{Path, PathBuf};

use crate::check::policy::{Date, Ledger, Waived};
use crate::check::policy_file::PolicySet;
use crate::check::{self, Context, Finding, Severity};
use crate::error::{Error, Result};
use crate::load::{is_yaml, Loader};
use crate::node::{FileRole, Sources};
use crate::resource::Resource;

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

    /// Whether a finding at error level stands: that fails the run and refuses a commit.
    pub fn has_errors(&self) -> bool {
        self.findings().any(|(_, f)| f.severity == Severity::Error)
    }
}

/// The default policy folder: `policies/` beside the environments folder.
pub fn default_policy(root: &Path) -> PathBuf {
    root.parent().unwrap_or(Path::new("")).join("policies")
}

fn codes() -> Vec<&'static str> {
    check::rules().iter().map(|r| r.code).collect()
}

/// The policy of a run: `policy` (`--policy`), else `policies/` beside the root when it exists, else
/// none.
pub fn load_policy(
    loader: &mut Loader<'_>,
    root: &Path,
    policy: Option<&Path>,
) -> Result<PolicySet> {
    let codes = codes();
    match policy {
        Some(p) => PolicySet::load(loader, p, &codes),
        None => {
            let p = default_policy(root);
            if loader.files.is_dir(&p) || loader.files.is_file(&p) {
                PolicySet::load(loader, &p, &codes)
            } else {
                Ok(PolicySet::default())
            }
        }
    }
}

/// Loads manifest files, or every YAML file under folders, as they are.
pub fn load_paths(loader: &mut Loader<'_>, paths: &[PathBuf]) -> Result<Vec<Resource>> {
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

/// Checks resources that are already loaded or compiled, with a policy read by [`load_policy`] or
/// [`PolicySet::load`] (or `PolicySet::default()` for none). `render --commit` refuses a commit when the
/// report [has errors](Report::has_errors).
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
        let mut p = policy.resolve(t.env, &codes);
        if t.untagged.is_some() && codes.contains(&OWNED_TAG_RULE) {
            p.severities
                .insert(OWNED_TAG_RULE.to_string(), (None, None));
        }
        let ctx = Context::new(t.env, t.resources, sources, t.layer, &p);
        let found = check::run(&ctx);
        let (findings, waived) = ledger.apply(&ctx, found, today, &known);
        checked.push(Checked {
            env: t.env.map(str::to_string),
            resources: t.resources.len(),
            findings,
            waived,
            note: t.untagged.map(|why| {
                format!("no image tag applied ({why}); images checked as the files tag them")
            }),
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
