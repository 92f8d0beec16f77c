//! The `load/` family: what reading manifest files given as PATHS found wrong. The load stage
//! (`load::manifests`) finds these problems; this file gives them their codes, severities and docs,
//! and turns them into findings. Environments never produce them: a bad input there stops the
//! render, since nothing partial may be rendered.

use crate::check::{Finding, Rule, Severity};
use crate::load::manifests::{Problem, ProblemKind};

use super::Context;

pub static RULES: &[Rule] = &[
    Rule {
        code: "load/invalid-yaml",
        default_severity: Severity::Error,
        summary: "A manifest file cannot be read as YAML or JSON (syntax, duplicate key, encoding)",
        run: invalid_yaml,
    },
    Rule {
        code: "load/not-an-object",
        default_severity: Severity::Error,
        summary: "A document of a manifest file is not a Kubernetes object",
        run: not_an_object,
    },
    Rule {
        code: "load/helm-template",
        default_severity: Severity::Warning,
        summary: "A file is an unrendered Helm or Go template and cannot be checked as it is",
        run: helm_template,
    },
    Rule {
        code: "load/duplicate-object",
        default_severity: Severity::Warning,
        summary: "The same object (kind, namespace, name) is defined twice in the files checked",
        run: duplicate_object,
    },
];

/// Reports a file given to `check PATHS` (or found in a folder) that cannot be parsed: broken YAML or
/// JSON, a key given twice in one mapping, text that is not UTF-8. The other files are still checked.
///
/// Why: `kubectl apply` refuses the file (or, for a duplicate key, keeps one of the values without a
/// word), so nothing in it reaches the cluster as written.
///
/// Bad:
/// ```yaml
/// metadata:
///   name: web
///   name: web-v2        # the same key twice
/// ```
/// Good: each key once.
pub fn invalid_yaml(_: &Context<'_>, _: &mut Vec<Finding>) {}

/// Reports a document that is not a Kubernetes object: not a mapping, or without `apiVersion`, `kind`,
/// or a `metadata.name` (or `metadata.generateName`). `null` and empty documents are skipped as kubectl
/// skips them, and `List` documents are read item by item. In a folder, files with no `apiVersion` or
/// `kind` at all are passed over (and counted) rather than reported.
///
/// Why: the API server refuses it; in a multi-document file it usually means a stray fragment or a
/// missing `---`.
///
/// Bad:
/// ```yaml
/// apiVersion: v1
/// kind: ConfigMap
/// data: {a: b}          # no metadata.name
/// ```
/// Good: `metadata: {name: settings}`.
pub fn not_an_object(_: &Context<'_>, _: &mut Vec<Finding>) {}

/// Reports a file that fails to parse and holds template markers (`{{ ... }}`), as the templates of a
/// Helm chart do. A folder walk passes over the `templates/` of a chart (a folder beside a
/// `Chart.yaml`) without a finding and counts them.
///
/// Why: a template is YAML only once rendered; checked as it is it says nothing about what runs.
///
/// Bad: `openim-gitops check charts/web/templates/deployment.yaml`.
/// Good: `helm template charts/web > rendered.yaml && openim-gitops check rendered.yaml`.
pub fn helm_template(_: &Context<'_>, _: &mut Vec<Finding>) {}

/// Reports an object defined a second time (same group, kind, namespace and name; objects without a
/// namespace count as in `default`), with a label on the first definition. Objects named by
/// `generateName` are never duplicates, and patches named by a kustomization are not read.
///
/// Why: applied together, the second definition silently replaces the first. It is a warning: files
/// checked together may be alternatives meant for different clusters.
///
/// Bad: `deploy/web.yaml` and `old/web.yaml` both define `Deployment/web` in `default`.
/// Good: one definition, or different names or namespaces.
pub fn duplicate_object(_: &Context<'_>, _: &mut Vec<Finding>) {}

/// The code of a load problem.
pub fn code(kind: ProblemKind) -> &'static str {
    match kind {
        ProblemKind::InvalidYaml => "load/invalid-yaml",
        ProblemKind::NotAnObject => "load/not-an-object",
        ProblemKind::HelmTemplate => "load/helm-template",
        ProblemKind::DuplicateObject => "load/duplicate-object",
    }
}

/// A load problem as a finding, at its rule's default severity (the policy may change it later).
pub fn finding(p: &Problem) -> Finding {
    let code = code(p.kind);
    let severity = RULES
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.default_severity)
        .unwrap_or(Severity::Error);
    Finding {
        code,
        severity,
        message: p.message.clone(),
        origin: p.origin,
        resource: p.resource.clone(),
        related: p.related.clone(),
        help: p.help.clone(),
    }
}
