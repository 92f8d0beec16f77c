//! Stage 5, check: rules in families (`schema/`, `resources/`, `netpol/`, `secrets/`, `images/`, `refs/`),
//! each with a stable kebab-case code. A rule is a plain function over the rendered resources of one
//! environment (or of the files given on the command line); it emits [`Finding`]s, never errors. Findings
//! point at the origin of the value (the base, component, patch or environment line that produced it).
//!
//! A rule that relates objects to each other (a pod to its Secrets, a Service or policy to the pods it
//! selects) looks them up through [`Context::index`], built once per environment, never by scanning every
//! resource for each one: `check` must stay linear in the size of the tree.
//!
//! Each code is a value of [`Code`], declared with its documentation in [`code`] (what, why, a bad and a
//! good example, the default severity): `docs/checks.md`, `openim-gitops rule` and SARIF's rule entries
//! are written from it. A [`Finding`] is built only with its code. Codes are public API: never reuse or
//! silently rename one. `tests/check_codes.rs` snapshots the list.
//!
//! The redaction rule that every output obeys ([`redact`]) lives here too: it hides what the
//! `secrets/` family would flag, so that family defines it and every later stage reaches it through
//! `check`.

pub mod code;
pub mod custom;
pub mod date;
mod finding;
pub mod images;
pub mod index;
pub mod instance;
pub mod load;
pub mod netpol;
pub mod policy;
pub mod policy_file;
pub mod redact;
pub mod refs;
pub mod report;
pub mod resources;
pub mod schema;
pub mod secrets;
pub mod tree_crds;
pub mod vendored;

use std::cell::OnceCell;

use crate::load::Layer;
use crate::node::{Origin, Sources};
use crate::resource::Resource;
pub use code::{Code, Doc};
pub use finding::{Finding, FindingExt};
pub use index::Index;
pub use policy::Policy;
pub use report::{check_targets, Checked, Report, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Shown, never fails a run.
    Info,
    /// Shown, fails nothing.
    Warning,
    /// Fails the run (exit 1) and refuses a commit.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What a rule sees.
pub struct Context<'a> {
    /// The environment being checked, or `None` for plain files.
    pub env: Option<&'a str>,
    pub resources: &'a [Resource],
    pub sources: &'a Sources,
    /// The environment file, when checking an environment (namespace, tag rule, owned images).
    pub layer: Option<&'a Layer>,
    pub policy: &'a Policy,
    /// The Kubernetes minor the objects are checked against (`--kube-version`).
    pub kube: vendored::KubeVersion,
    /// Built by the first rule that asks, shared by the others.
    index: OnceCell<Index<'a>>,
    /// The schemas of the tree's own CRDs, read when first asked for.
    tree_schemas: OnceCell<std::collections::BTreeMap<String, tree_crds::TreeSchema>>,
}

impl<'a> Context<'a> {
    pub fn new(
        env: Option<&'a str>,
        resources: &'a [Resource],
        sources: &'a Sources,
        layer: Option<&'a Layer>,
        policy: &'a Policy,
    ) -> Self {
        Context {
            env,
            resources,
            sources,
            layer,
            policy,
            kube: vendored::KubeVersion::default(),
            index: OnceCell::new(),
            tree_schemas: OnceCell::new(),
        }
    }

    /// The schema a CRD of the checked tree gives `apiVersion`/`kind`, if one does.
    pub fn tree_schema(&self, api_version: &str, kind: &str) -> Option<&tree_crds::TreeSchema> {
        self.tree_schemas
            .get_or_init(|| tree_crds::schemas(self.resources))
            .get(&format!("{api_version}|{kind}"))
    }

    /// The same context, checked against another Kubernetes minor.
    pub fn with_kube(mut self, kube: vendored::KubeVersion) -> Self {
        self.kube = kube;
        self
    }

    /// The look-ups over `resources` that rules share.
    pub fn index(&self) -> &Index<'a> {
        self.index.get_or_init(|| Index::new(self.resources))
    }
}

/// A rule: its code (whose documentation says what it checks, why, and shows a bad and a good
/// example) and the function that runs it.
pub struct Rule {
    pub code: Code,
    doc: &'static Doc,
    pub run: fn(&Context<'_>, &mut Vec<Finding>),
}

impl Rule {
    /// A rule of a built-in code (a user policy's code is refused when the rule table is compiled).
    pub const fn new(code: Code, run: fn(&Context<'_>, &mut Vec<Finding>)) -> Rule {
        let doc = match code.doc() {
            Some(d) => d,
            None => panic!("a rule has a built-in code"),
        };
        Rule { code, doc, run }
    }

    /// The rule's documentation.
    pub fn doc(&self) -> &'static Doc {
        self.doc
    }

    pub fn default_severity(&self) -> Severity {
        self.doc().default_severity
    }

    pub fn summary(&self) -> &'static str {
        self.doc().summary
    }

    /// A finding of this rule at its default severity.
    pub fn finding(&self, origin: Origin, resource: Option<&Resource>, message: String) -> Finding {
        Finding::new(self.code, self.default_severity(), origin, message)
            .about(resource.map(Resource::id))
    }
}

/// Every rule that runs over resources, in code order. The other built-in codes are reported by the
/// stages that find their problems: `load/` by the reading of files given as they are, `policy/` by the
/// waiver ledger and the user policies. [`Code::all`] lists every code.
pub fn rules() -> Vec<&'static Rule> {
    let families: &[&[Rule]] = &[
        images::RULES,
        netpol::RULES,
        refs::RULES,
        resources::RULES,
        schema::RULES,
        secrets::RULES,
    ];
    let mut all: Vec<&'static Rule> = families.iter().flat_map(|f| f.iter()).collect();
    all.sort_by_key(|r| r.code);
    all
}

/// Runs every rule the policy leaves on and returns the findings, each with its rule's code and the
/// severity the policy gives it (the rule's default unless the policy says otherwise), sorted by file,
/// line, column and code. Waivers are applied afterwards, over all environments (`policy::Ledger`).
pub fn run(ctx: &Context<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in rules() {
        let default = rule.default_severity();
        let Some(severity) = ctx.policy.severity(rule.code, default) else {
            continue;
        };
        // When the policy changed the severity, the finding says where.
        let set_by = match ctx.policy.severities.get(&rule.code) {
            Some((_, Some(origin))) if severity != default => Some(*origin),
            _ => None,
        };
        let start = findings.len();
        (rule.run)(ctx, &mut findings);
        for f in &mut findings[start..] {
            debug_assert_eq!(f.code(), rule.code, "a rule reports its own code");
            f.severity = severity;
            if let Some(o) = set_by {
                f.related
                    .push((o, format!("made {} by the policy", severity.as_str())));
            }
        }
    }
    // User policies carry codes of their own; they set their codes and severities themselves.
    custom::run(ctx, &mut findings);
    sort_findings(ctx.sources, &mut findings);
    findings
}

/// Findings in report order: file, line, column, code.
pub fn sort_findings(sources: &Sources, findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let fa = sources.get(a.origin.file);
        let fb = sources.get(b.origin.file);
        (&fa.display, a.origin.line, a.origin.col, a.code()).cmp(&(
            &fb.display,
            b.origin.line,
            b.origin.col,
            b.code(),
        ))
    });
}
