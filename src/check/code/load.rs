//! The `load/` rules: manifest files given as they are (`check PATHS`) that cannot be read as objects.

use super::{family, Doc};

family! {
    /// The `load/` rules: manifest files given as they are (`check PATHS`) that cannot be read as objects.
    Load = "load" {
        DuplicateObject = "duplicate-object", Warning {
            summary: "The same object (kind, namespace, name) is defined twice in the files checked",
            what: r#"Reports an object defined a second time (same group, kind, namespace and name; objects without a
namespace count as in `default`), with a label on the first definition. Objects named by
`generateName` are never duplicates, and patches named by a kustomization are not read."#,
            why: r#"applied together, the second definition silently replaces the first. It is a warning: files
checked together may be alternatives meant for different clusters."#,
            bad: "Bad: `deploy/web.yaml` and `old/web.yaml` both define `Deployment/web` in `default`.",
            good: "Good: one definition, or different names or namespaces.",
        },
        HelmTemplate = "helm-template", Warning {
            summary: "A file is an unrendered Helm or Go template and cannot be checked as it is",
            what: r#"Reports a file that fails to parse and holds template markers (`{{ ... }}`), as the templates of a
Helm chart do. A folder walk passes over the `templates/` of a chart (a folder beside a
`Chart.yaml`) without a finding and counts them."#,
            why: "a template is YAML only once rendered; checked as it is it says nothing about what runs.",
            bad: "Bad: `openim-gitops check charts/web/templates/deployment.yaml`.",
            good: "Good: `helm template charts/web > rendered.yaml && openim-gitops check rendered.yaml`.",
        },
        InvalidYaml = "invalid-yaml", Error {
            summary: "A manifest file cannot be read as YAML or JSON (syntax, duplicate key, encoding)",
            what: r#"Reports a file given to `check PATHS` (or found in a folder) that cannot be parsed: broken YAML or
JSON, a key given twice in one mapping, text that is not UTF-8. The other files are still checked."#,
            why: r#"`kubectl apply` refuses the file (or, for a duplicate key, keeps one of the values without a
word), so nothing in it reaches the cluster as written."#,
            bad: r#"Bad:
```yaml
metadata:
  name: web
  name: web-v2        # the same key twice
```"#,
            good: "Good: each key once.",
        },
        NotAnObject = "not-an-object", Error {
            summary: "A document of a manifest file is not a Kubernetes object",
            what: r#"Reports a document that is not a Kubernetes object: not a mapping, or without `apiVersion`, `kind`,
or a `metadata.name` (or `metadata.generateName`). `null` and empty documents are skipped as kubectl
skips them, and `List` documents are read item by item. In a folder, files with no `apiVersion` or
`kind` at all are passed over (and counted) rather than reported."#,
            why: r#"the API server refuses it; in a multi-document file it usually means a stray fragment or a
missing `---`."#,
            bad: r#"Bad:
```yaml
apiVersion: v1
kind: ConfigMap
data: {a: b}          # no metadata.name
```"#,
            good: "Good: `metadata: {name: settings}`.",
        },
    }
}
