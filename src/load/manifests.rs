//! Stage 1 for `check PATHS`: manifest files as repositories hold them. Unlike an environment's own
//! files, which must be right before anything is rendered, a tree of third-party manifests is read as
//! far as it can be: a file that cannot be parsed, or a document that is not a Kubernetes object,
//! becomes a [`Problem`] (reported as a `load/` finding) and every other file is still checked.
//!
//! What real repositories hold besides objects is recognised: `List`/`*List` documents are expanded
//! into their items, `null` documents are skipped as kubectl skips them, and a folder walk passes over
//! hidden folders, kustomize and Helm files, and files with no Kubernetes object at all, counting them
//! ([`Skipped`]). Namespaced objects without a namespace are placed in `default`, as `kubectl apply`
//! places them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Located, Result};
use crate::k8s::crd::Crd;
use crate::node::{FileRole, Key, Node, Origin, Value};
use crate::resource::{is_cluster_scoped, ResId, Resource};

use super::Loader;

/// Why something read could not be checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    /// The file is not YAML or JSON that can be read (syntax, duplicate keys, encoding).
    InvalidYaml,
    /// A document is not a Kubernetes object.
    NotAnObject,
    /// An unrendered Helm template.
    HelmTemplate,
    /// The same object is defined twice.
    DuplicateObject,
}

/// A file or document that could not be checked, at its place.
#[derive(Clone, Debug)]
pub struct Problem {
    pub kind: ProblemKind,
    pub origin: Origin,
    pub message: String,
    pub help: Option<String>,
    pub related: Vec<(Origin, String)>,
    /// The object, when the problem is about one.
    pub resource: Option<ResId>,
}

/// Why a file found by a folder walk was passed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Below a folder whose name starts with `.` (`.github/`, `.git/`), or a hidden file.
    Hidden,
    /// A kustomize file (`kustomization.yaml`) or a patch one names.
    Kustomize,
    /// A Helm chart's own files (`Chart.yaml`, `values*.yaml`).
    HelmChart,
    /// A template of a Helm chart: it is YAML only once rendered.
    HelmTemplate,
    /// No document in it has an `apiVersion` or a `kind`.
    NotKubernetes,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Hidden => "in hidden folders",
            SkipReason::Kustomize => "kustomizations or the patches they name",
            SkipReason::HelmChart => "Helm Chart.yaml or values files",
            SkipReason::HelmTemplate => {
                "Helm templates (render them with `helm template` and check the output)"
            }
            SkipReason::NotKubernetes => "with no Kubernetes object (or only tools' configuration)",
        }
    }
    /// The key of this reason in JSON output.
    pub fn key(self) -> &'static str {
        match self {
            SkipReason::Hidden => "hidden",
            SkipReason::Kustomize => "kustomize",
            SkipReason::HelmChart => "helm_chart",
            SkipReason::HelmTemplate => "helm_template",
            SkipReason::NotKubernetes => "not_kubernetes",
        }
    }
}

/// What a set of paths holds.
#[derive(Default)]
pub struct Manifests {
    pub resources: Vec<Resource>,
    pub problems: Vec<Problem>,
    /// Files a folder walk passed over, by reason.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// What the kustomizations of a walked folder generate (`configMapGenerator`, `secretGenerator`):
    /// kind, name and namespace (empty: wherever the kustomization is applied). Their resources refer
    /// to them, and kustomize rewrites the references to the generated names.
    pub generated: Vec<(&'static str, String, String)>,
    /// The images a skaffold configuration among the files builds (`build.artifacts[].image`, in
    /// profiles too): skaffold replaces these names in the manifests with the images it built, tagged.
    pub built_images: BTreeSet<String>,
}

impl Manifests {
    /// A one-line account of what was passed over, for human output; `None` when nothing was.
    pub fn skipped_note(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let total: usize = self.skipped.values().sum();
        let parts: Vec<String> = self
            .skipped
            .iter()
            .map(|(why, n)| format!("{n} {}", why.as_str()))
            .collect();
        let files = if total == 1 { "file" } else { "files" };
        Some(format!("skipped {total} {files}: {}", parts.join(", ")))
    }
}

/// Nesting of `List` documents followed at most (a `List` of `List`s of ...).
const MAX_LIST_DEPTH: usize = 8;

/// Reads every manifest file named by `paths` (files, or folders walked at any depth). A path that
/// does not exist is a usage error and a file that cannot be read at all a tool failure; everything
/// about the content is a [`Problem`].
pub fn load(loader: &mut Loader<'_>, paths: &[PathBuf]) -> Result<Manifests> {
    let mut out = Manifests::default();
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for p in paths {
        if loader.files.is_dir(p) {
            let all = loader.files.walk(p).map_err(|source| Error::Read {
                path: p.clone(),
                source,
            })?;
            let walked = walk_selection(loader, p, &all, &mut out.skipped, &mut out.generated)?;
            files.extend(walked.into_iter().map(|f| (f, false)));
        } else if loader.files.is_file(p) {
            files.push((p.clone(), true));
        } else {
            return Err(Error::usage(format!(
                "`{}` does not exist",
                crate::node::display_path(p)
            )));
        }
    }
    // One folder or file yields every file once; only several paths can name one file twice.
    let mut seen: Option<HashSet<&Path>> =
        (paths.len() > 1).then(|| HashSet::with_capacity(files.len()));
    loader.sources.reserve(files.len());
    out.resources.reserve(files.len());
    for (file, named) in &files {
        if seen.as_mut().is_none_or(|seen| seen.insert(file)) {
            read_file(loader, file, *named, &mut out)?;
        }
    }
    default_namespaces(&mut out.resources);
    out.problems.extend(duplicates(&out.resources));
    Ok(out)
}

/// The files of a folder walk worth reading, counting the others.
fn walk_selection(
    loader: &mut Loader<'_>,
    root: &Path,
    all: &[PathBuf],
    skipped: &mut BTreeMap<SkipReason, usize>,
    generated: &mut Vec<(&'static str, String, String)>,
) -> Result<Vec<PathBuf>> {
    let mut candidates = Vec::new();
    for f in all {
        if !is_manifest_ext(f) {
            continue;
        }
        let rel = f.strip_prefix(root).unwrap_or(f);
        let hidden = rel.components().any(|c| {
            let s = c.as_os_str().to_string_lossy();
            s.starts_with('.') && s != "." && s != ".."
        });
        if hidden {
            *skipped.entry(SkipReason::Hidden).or_default() += 1;
            continue;
        }
        candidates.push(f.clone());
    }
    // Kustomize patches are partial objects: the files a kustomization names as patches are skipped.
    let mut patches: BTreeSet<PathBuf> = BTreeSet::new();
    for f in &candidates {
        if is_kustomization(f) {
            patches.extend(kustomize_patches(loader, f));
            generated.extend(kustomize_generated(loader, f));
        }
    }
    let charts: BTreeSet<PathBuf> = all
        .iter()
        .filter(|f| file_name(f) == "Chart.yaml")
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    let mut out = Vec::new();
    for f in candidates {
        let name = file_name(&f);
        let why = if is_kustomization(&f)
            || (!patches.is_empty() && patches.contains(&super::normalize(&f)))
        {
            Some(SkipReason::Kustomize)
        } else if matches!(name.as_str(), "Chart.yaml" | "Chart.lock")
            || (name.starts_with("values") && is_yaml_ext(&f))
        {
            Some(SkipReason::HelmChart)
        } else if !charts.is_empty() && in_chart_templates(&f, &charts) {
            Some(SkipReason::HelmTemplate)
        } else {
            None
        };
        match why {
            Some(w) => *skipped.entry(w).or_default() += 1,
            None => out.push(f),
        }
    }
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_yaml_ext(p: &Path) -> bool {
    super::is_yaml(p)
}

/// YAML or JSON, by extension.
pub fn is_manifest_ext(p: &Path) -> bool {
    is_yaml_ext(p) || p.extension().and_then(|e| e.to_str()) == Some("json")
}

fn is_kustomization(p: &Path) -> bool {
    matches!(
        file_name(p).as_str(),
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    )
}

/// Below `templates/` of a folder that holds a `Chart.yaml`.
fn in_chart_templates(f: &Path, charts: &BTreeSet<PathBuf>) -> bool {
    f.ancestors().skip(1).any(|dir| {
        dir.file_name().is_some_and(|n| n == "templates")
            && dir.parent().is_some_and(|chart| charts.contains(chart))
    })
}

/// The files a kustomization names as patches, resolved beside it. A kustomization that cannot be
/// read names none: it is skipped either way.
fn kustomize_patches(loader: &mut Loader<'_>, file: &Path) -> Vec<PathBuf> {
    let Ok(docs) = loader.documents(file, FileRole::Other) else {
        return Vec::new();
    };
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for doc in docs.iter() {
        // Patches are partial objects; transformers, generators and validators configure kustomize.
        for key in [
            "patchesStrategicMerge",
            "patches",
            "patchesJson6902",
            "components",
            "transformers",
            "generators",
            "validators",
            "configurations",
        ] {
            let Some(items) = doc.root.get(key).and_then(Node::as_seq) else {
                continue;
            };
            for item in items {
                let path = item.as_str().or_else(|| item.str_at(&["path"]));
                if let Some(p) = path {
                    if !p.contains('\n') && is_manifest_ext(Path::new(p)) {
                        out.push(super::normalize(&dir.join(p)));
                    }
                }
            }
        }
    }
    out
}

/// The ConfigMaps and Secrets a kustomization generates: kind, name, namespace (the generator's, else
/// the kustomization's, else empty).
fn kustomize_generated(
    loader: &mut Loader<'_>,
    file: &Path,
) -> Vec<(&'static str, String, String)> {
    let Ok(docs) = loader.documents(file, FileRole::Other) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for doc in docs.iter() {
        let namespace = doc.root.str_at(&["namespace"]).unwrap_or("");
        for (key, kind) in [
            ("configMapGenerator", "ConfigMap"),
            ("secretGenerator", "Secret"),
        ] {
            for item in doc.root.get(key).and_then(Node::as_seq).unwrap_or(&[]) {
                if let Some(name) = item.str_at(&["name"]) {
                    let ns = item.str_at(&["namespace"]).unwrap_or(namespace);
                    out.push((kind, name.to_string(), ns.to_string()));
                }
            }
        }
    }
    out
}

/// The images a skaffold configuration builds: `build.artifacts[].image`, in its profiles too.
fn skaffold_artifacts(doc: &Node, out: &mut BTreeSet<String>) {
    let builds = std::iter::once(doc.get("build")).chain(
        doc.get("profiles")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .map(|p| p.get("build")),
    );
    for build in builds.flatten() {
        for a in build.get("artifacts").and_then(Node::as_seq).unwrap_or(&[]) {
            if let Some(image) = a.str_at(&["image"]) {
                out.insert(image.to_string());
            }
        }
    }
}

/// Reads one file's documents into `out`. `named`: given on the command line (not found by a walk),
/// so a file with nothing Kubernetes in it is a problem rather than a file to pass over.
fn read_file(loader: &mut Loader<'_>, file: &Path, named: bool, out: &mut Manifests) -> Result<()> {
    let id = match loader.source(file, FileRole::Resource) {
        Ok(id) => id,
        Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::InvalidData => {
            // Registered empty so that the finding has a place to point at.
            let id = loader.sources.add(file, Arc::from(""), FileRole::Resource);
            out.problems.push(Problem {
                kind: ProblemKind::InvalidYaml,
                origin: loader.sources.file_origin(id),
                message: format!("cannot read this file: {source}"),
                help: Some("manifests are UTF-8 text".to_string()),
                related: Vec::new(),
                resource: None,
            });
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let docs = match loader.documents_once(file, id) {
        Ok(d) => d,
        Err(e) => {
            let templated = loader.sources.get(id).text.contains("{{");
            for l in located(e, loader.sources.file_origin(id)) {
                out.problems.push(if templated {
                    Problem {
                        kind: ProblemKind::HelmTemplate,
                        origin: l.origin,
                        message: format!(
                            "this looks like a Helm or Go template (`{{{{ ... }}}}`), which is YAML only once rendered: {}",
                            l.message
                        ),
                        help: Some(
                            "render the chart (`helm template`) and check the rendered manifests"
                                .to_string(),
                        ),
                        related: Vec::new(),
                        resource: None,
                    }
                } else {
                    Problem {
                        kind: ProblemKind::InvalidYaml,
                        origin: l.origin,
                        message: l.message,
                        help: l.help,
                        related: l.related,
                        resource: None,
                    }
                });
            }
            return Ok(());
        }
    };
    for d in docs.iter() {
        if d.root
            .str_at(&["apiVersion"])
            .is_some_and(|a| a.starts_with("skaffold/"))
        {
            skaffold_artifacts(&d.root, &mut out.built_images);
        }
    }
    // An `apiVersion` that is no string and no `kind` is another tool's file (Grafana's provisioning
    // files say `apiVersion: 1`), not a broken object; so is the kube-scheduler's old policy file
    // (`v1` `Policy`, a kind the core API never had).
    let kubernetes = docs.iter().any(|d| {
        let api = d.root.str_at(&["apiVersion"]);
        let scheduler_policy = api == Some("v1") && d.root.str_at(&["kind"]) == Some("Policy");
        (api.is_some() || d.root.get("kind").is_some())
            && !api.is_some_and(is_tool_config)
            && !scheduler_policy
    });
    if !kubernetes && !named {
        *out.skipped.entry(SkipReason::NotKubernetes).or_default() += 1;
        return Ok(());
    }
    for doc in docs {
        if doc.root.is_null() {
            continue;
        }
        objects(doc.root, None, 0, out);
    }
    Ok(())
}

/// apiVersions of tools' own configuration files, which look like objects but never reach a cluster
/// (skaffold, kind, kustomize plugins, the components' config files).
fn is_tool_config(api_version: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "skaffold/",
        "kind.x-k8s.io/",
        "kustomize.config.k8s.io/",
        "kubeadm.k8s.io/",
        "kubelet.config.k8s.io/",
        "kubeproxy.config.k8s.io/",
        "kubescheduler.config.k8s.io/",
        "apiserver.config.k8s.io/",
        "audit.k8s.io/",
        "ctlptl.dev/",
    ];
    api_version == "builtin" || PREFIXES.iter().any(|p| api_version.starts_with(p))
}

/// The places of an error, one per located part.
fn located(e: Error, file: Origin) -> Vec<Located> {
    match e {
        Error::At(l) => vec![*l],
        Error::Many(all) => all.into_iter().flat_map(|e| located(e, file)).collect(),
        other => vec![Located {
            message: other.to_string(),
            origin: file,
            label: String::new(),
            help: None,
            related: Vec::new(),
        }],
    }
}

/// A document (or a list item) as objects: a `List` is expanded, anything else must be an object.
/// `list`: the apiVersion and kind of the list an item came from, for items that leave them out.
fn objects(mut node: Node, list: Option<(&str, &str)>, depth: usize, out: &mut Manifests) {
    let origin = node.origin;
    if let (Some((api, kind)), Some(map)) = (list, node.as_map_mut()) {
        let item_kind = kind.strip_suffix("List").unwrap_or(kind);
        if !map.contains("kind") && !item_kind.is_empty() && kind != "List" {
            map.insert(key("kind", origin), Node::str(item_kind, origin));
        }
        if !map.contains("apiVersion") && kind != "List" {
            map.insert(key("apiVersion", origin), Node::str(api, origin));
        }
    }
    let kind = node.str_at(&["kind"]).unwrap_or("").to_string();
    let api = node.str_at(&["apiVersion"]).unwrap_or("").to_string();
    if kind.ends_with("List") && depth < MAX_LIST_DEPTH {
        if let Some(items) = node.get("items").and_then(Node::as_seq) {
            for item in items.iter().cloned() {
                objects(item, Some((&api, &kind)), depth + 1, out);
            }
            return;
        }
        if node.get("items").is_some_and(Node::is_null) {
            return;
        }
    }
    match object_problem(&node) {
        None => out.resources.push(Resource::new(node)),
        Some((origin, message, help)) => out.problems.push(Problem {
            kind: ProblemKind::NotAnObject,
            origin,
            message,
            help: Some(help.to_string()),
            related: Vec::new(),
            resource: None,
        }),
    }
}

fn key(name: &str, origin: Origin) -> Key {
    Key {
        name: name.to_string(),
        origin,
    }
}

/// Why a document is not a Kubernetes object: a mapping with `apiVersion`, `kind`, and
/// `metadata.name` or `metadata.generateName`.
fn object_problem(root: &Node) -> Option<(Origin, String, &'static str)> {
    const HELP: &str = "every document of a manifest file must be a Kubernetes object \
                        (apiVersion, kind, metadata.name)";
    if root.as_map().is_none() {
        return Some((
            root.origin,
            format!(
                "a Kubernetes object must be a mapping, this document is a {}",
                root.type_name()
            ),
            HELP,
        ));
    }
    for field in ["apiVersion", "kind"] {
        match root.get(field) {
            Some(n) if n.as_str().is_some_and(|s| !s.is_empty()) => {}
            Some(n) => {
                return Some((
                    n.origin,
                    format!("`{field}` must be a non-empty string"),
                    HELP,
                ))
            }
            None => return Some((root.origin, format!("this document has no `{field}`"), HELP)),
        }
    }
    let named = ["name", "generateName"].iter().any(|k| {
        root.path(&["metadata", k])
            .and_then(Node::as_str)
            .is_some_and(|s| !s.is_empty())
    });
    if named {
        return None;
    }
    let at = root
        .get("metadata")
        .map(|m| m.origin)
        .unwrap_or(root.origin);
    Some((
        at,
        "this object has no `metadata.name` (nor `metadata.generateName`)".to_string(),
        HELP,
    ))
}

/// Kinds the tree declares through its own CustomResourceDefinitions, with their scope.
fn crd_scopes(resources: &[Resource]) -> HashMap<(String, String), bool> {
    let mut out = HashMap::new();
    for crd in resources.iter().filter_map(Crd::read) {
        out.insert(
            (crd.group.to_string(), crd.kind.to_string()),
            crd.cluster_scoped,
        );
    }
    out
}

/// Places namespaced objects that name no namespace in `default`, as `kubectl apply` does.
fn default_namespaces(resources: &mut [Resource]) {
    let scopes = crd_scopes(resources);
    for r in resources.iter_mut() {
        let (group, kind) = (r.group().to_string(), r.kind().to_string());
        let cluster = scopes
            .get(&(group.clone(), kind.clone()))
            .copied()
            .unwrap_or_else(|| is_cluster_scoped(&group, &kind));
        if cluster || r.node.path(&["metadata", "namespace"]).is_some() {
            continue;
        }
        let Some(meta) = r.node.get_mut("metadata") else {
            continue;
        };
        let origin = meta.origin;
        if let Some(map) = meta.as_map_mut() {
            map.insert(
                key("namespace", origin),
                Node::new(Value::Str("default".into()), origin),
            );
        }
    }
}

/// The same object (group, kind, namespace, name) defined twice; objects named by `generateName`
/// are new objects each time and never duplicates.
fn duplicates(resources: &[Resource]) -> Vec<Problem> {
    let mut seen: HashMap<ResId, Origin> = HashMap::new();
    let mut out = Vec::new();
    for r in resources {
        if r.node
            .str_at(&["metadata", "name"])
            .is_none_or(str::is_empty)
        {
            continue;
        }
        let mut id = r.id();
        if is_cluster_scoped(&id.group, &id.kind) {
            id.namespace.clear();
        }
        let here = r.name_origin();
        match seen.get(&id) {
            Some(first) => out.push(Problem {
                kind: ProblemKind::DuplicateObject,
                origin: here,
                message: format!("{id} is defined twice"),
                help: Some(
                    "applied together, the second definition silently replaces the first; \
                     give one of them another name or namespace"
                        .to_string(),
                ),
                related: vec![(*first, "first defined here".to_string())],
                resource: Some(id),
            }),
            None => {
                seen.insert(id, here);
            }
        }
    }
    out
}
