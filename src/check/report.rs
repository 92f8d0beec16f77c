//! The check stage's entry point: [`check_targets`] resolves the policy for each set of resources (an
//! environment, or files given as they are), runs every rule, applies waivers across all of them, and
//! returns the [`Report`]. `check` and the gate of `render --commit` both call it; the reporter prints it.

use std::path::{Path, PathBuf};

use crate::check::policy::{Date, External, Ledger, Waived};
use crate::check::policy_file::PolicySet;
use crate::check::{self, Code, Context, Finding, Severity};
use crate::error::Result;
use crate::load::manifests::Manifests;
use crate::load::Loader;
use crate::node::Sources;
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

    /// Whether a finding at error level stands: that fails the run and refuses a commit.
    pub fn has_errors(&self) -> bool {
        self.findings().any(|(_, f)| f.severity == Severity::Error)
    }
}

/// The default policy folder: `policies/` beside the environments folder.
pub fn default_policy(root: &Path) -> PathBuf {
    root.parent().unwrap_or(Path::new("")).join("policies")
}

/// The policy of a run: `policy` (`--policy`), else `policies/` beside the root when it exists, else
/// none.
pub fn load_policy(
    loader: &mut Loader<'_>,
    root: &Path,
    policy: Option<&Path>,
) -> Result<PolicySet> {
    match policy {
        Some(p) => PolicySet::load(loader, p),
        None => {
            let p = default_policy(root);
            if loader.files.is_dir(&p) || loader.files.is_file(&p) {
                PolicySet::load(loader, &p)
            } else {
                Ok(PolicySet::default())
            }
        }
    }
}

/// One set of resources to check: an environment (with its layer) or plain files (`env: None`).
pub struct Target<'a> {
    pub env: Option<&'a str>,
    pub resources: &'a [Resource],
    pub layer: Option<&'a crate::load::Layer>,
    /// Why no tag was applied, when the tag stage could not decide one: rules about the environment's
    /// own tag do not run then.
    pub untagged: Option<&'a str>,
    /// What reading the files given as they are found wrong or passed over: load problems become
    /// `load/` findings, skipped files a note and a count.
    pub load: Option<&'a Manifests>,
    /// The Kubernetes minor to check against.
    pub kube: check::vendored::KubeVersion,
}

/// How many threads the machine runs at once (1 when it cannot tell).
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The stack of a thread that runs the rules: CEL expressions are bounded in depth
/// (`custom::cel::MAX_DEPTH`), and the interpreter's frames are large in unoptimised builds. Only the
/// pages a check touches are ever allocated.
const CHECK_STACK: usize = 64 * 1024 * 1024;

/// The rule that compares owned images with the tag the environment's rule gives; meaningless when no
/// tag was applied.
const OWNED_TAG_RULE: Code = Code::Images(crate::check::code::Images::OwnedTagRule);

/// Checks resources that are already loaded or compiled, with a policy read by [`load_policy`] or
/// [`PolicySet::load`] (or `PolicySet::default()` for none). `render --commit` refuses a commit when the
/// report [has errors](Report::has_errors).
pub fn check_targets(
    sources: &Sources,
    policy: &PolicySet,
    targets: &[Target<'_>],
    today: Date,
) -> Report {
    let codes = policy.codes();
    let known = |text: &str| codes.iter().copied().find(|c| c.as_str() == text);
    let policies: Vec<_> = targets
        .iter()
        .map(|t| {
            let mut p = policy.resolve(t.env);
            // What the files' own tools make: kustomize's generated ConfigMaps and Secrets exist, and
            // skaffold's artifacts are tagged when deployed.
            if let Some(m) = t.load {
                p.external
                    .extend(m.generated.iter().map(|(kind, name, namespace)| External {
                        kind: kind.to_string(),
                        name: name.clone(),
                        namespace: namespace.clone(),
                        keys: Vec::new(),
                        labels: Default::default(),
                    }));
                p.built_images.extend(m.built_images.iter().cloned());
            }
            if t.untagged.is_some() {
                p.severities.insert(OWNED_TAG_RULE, (None, None));
            }
            p
        })
        .collect();
    // The rules of each target run on their own thread (every environment of a repository at once);
    // waivers are applied afterwards, in target order, so the report does not depend on scheduling.
    let run_one = |(t, p): (&Target<'_>, &check::Policy)| {
        let ctx = Context::new(t.env, t.resources, sources, t.layer, p).with_kube(t.kube);
        let mut found = check::run(&ctx);
        if let Some(m) = t.load {
            for problem in &m.problems {
                let mut f = check::load::finding(problem);
                if let Some(s) = p.severity(f.code(), f.severity) {
                    f.severity = s;
                    found.push(f);
                }
            }
            check::sort_findings(sources, &mut found);
        }
        found
    };
    let work: Vec<_> = targets.iter().zip(&policies).collect();
    // Each on a thread of its own with a stack of [`CHECK_STACK`]: the rules of the repository's
    // policies and CRDs run in a CEL interpreter that recurses, whatever thread runs `check`. One at a
    // time where the machine runs one thread.
    let run_all = |batch: &[(&Target<'_>, &check::Policy)]| -> Vec<Vec<Finding>> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&w| {
                    std::thread::Builder::new()
                        .name("check".into())
                        .stack_size(CHECK_STACK)
                        .spawn_scoped(scope, move || run_one(w))
                        .unwrap_or_else(|e| panic!("no thread to check on: {e}"))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    let found: Vec<Vec<Finding>> = if parallelism() > 1 {
        run_all(&work)
    } else {
        work.chunks(1).flat_map(run_all).collect()
    };

    let mut ledger = Ledger::default();
    let mut checked = Vec::new();
    for ((t, p), found) in targets.iter().zip(&policies).zip(found) {
        let ctx = Context::new(t.env, t.resources, sources, t.layer, p).with_kube(t.kube);
        let mut note = t.untagged.map(|why| {
            format!("no image tag applied ({why}); images checked as the files tag them")
        });
        let mut skipped = std::collections::BTreeMap::new();
        if let Some(m) = t.load {
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
    let base = policy.resolve(None);
    let mut waivers = Vec::new();
    for mut f in ledger.finish(today) {
        let default = f.code().default_severity().unwrap_or(f.severity);
        if let Some(s) = base.severity(f.code(), default) {
            f.severity = s;
            waivers.push(f);
        }
    }
    Report { checked, waivers }
}
