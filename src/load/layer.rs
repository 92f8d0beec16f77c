//! Environment files (`env.yaml`) and components (`component.yaml`): validated against their JSON schema
//! with errors at the offending line, then read into a [`Layer`] whose every entry keeps its origin.
//! The format is documented in `docs/overlay-format.md`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::load::commit::BranchPath;
use crate::load::{normalize, yaml, Loader};
use crate::node::{FileRole, Node, Origin, Value};

pub const API_VERSION: &str = "gitops.openim.io/v1";
pub const ENVIRONMENT_SCHEMA: &str =
    include_str!("../../schemas/openim-gitops/environment.schema.json");

#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    Environment,
    Component,
}

#[derive(Clone, Debug)]
pub struct ReplicaRule {
    pub name: Spanned<String>,
    pub kind: Option<String>,
    pub count: Node,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct ImageRule {
    pub name: Spanned<String>,
    pub new_name: Option<Spanned<String>>,
    pub new_tag: Option<Spanned<String>>,
    pub digest: Option<Spanned<String>>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct TagSpec {
    pub rule: Spanned<String>,
    pub images: Vec<Spanned<String>>,
    pub require_tested_release: bool,
    pub origin: Origin,
}

/// The `commit:` block of an environment: where `render --commit` puts it unless the command line says
/// otherwise.
#[derive(Clone, Debug, Default)]
pub struct CommitSpec {
    /// The active branch [default: `environments/<env>`].
    pub branch: Option<Spanned<String>>,
    /// The folder of the branch the environment is written to [default: the root].
    pub path: Option<Spanned<BranchPath>>,
    /// Commit to the proposed branch (`<branch>-next`, or `<branch>-next/<path>` with a path).
    pub proposed: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Target {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Vec<(String, String)>,
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub enum PatchBody {
    /// One or more strategic merge patch documents.
    Strategic(Vec<Node>),
    /// A JSON 6902 operation list.
    Json6902(Vec<Node>),
}

#[derive(Clone, Debug)]
pub struct PatchSpec {
    pub target: Option<Target>,
    pub body: PatchBody,
    /// The patches entry in the environment file.
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    Create,
    Merge,
    Replace,
}

#[derive(Clone, Debug)]
pub struct GeneratorSpec {
    pub name: Spanned<String>,
    pub namespace: Option<Spanned<String>>,
    /// Key, file to read, origin of the entry.
    pub files: Vec<(String, PathBuf, Origin)>,
    /// Key, value, origin of the entry.
    pub literals: Vec<(String, String, Origin)>,
    pub behavior: Behavior,
    pub disable_hash: bool,
    pub immutable: bool,
    pub labels: Option<Node>,
    pub annotations: Option<Node>,
    pub origin: Origin,
}

/// An environment file or a component, read.
#[derive(Clone, Debug)]
pub struct Layer {
    pub kind: LayerKind,
    pub name: Spanned<String>,
    pub path: PathBuf,
    pub namespace: Option<Spanned<String>>,
    pub resources: Vec<Spanned<PathBuf>>,
    pub components: Vec<Spanned<PathBuf>>,
    pub labels: Option<Node>,
    pub annotations: Option<Node>,
    pub replicas: Vec<ReplicaRule>,
    pub images: Vec<ImageRule>,
    pub tags: Option<TagSpec>,
    /// Where `render --commit` writes the environment (environments only).
    pub commit: Option<CommitSpec>,
    pub patches: Vec<PatchSpec>,
    pub generators: Vec<GeneratorSpec>,
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(ENVIRONMENT_SCHEMA)
            .unwrap_or_else(|e| panic!("the built-in environment schema is not JSON: {e}"));
        jsonschema::options()
            .build(&schema)
            .unwrap_or_else(|e| panic!("the built-in environment schema is invalid: {e}"))
    })
}

/// Validates a document against a JSON schema and turns every error into one at the offending line.
pub fn schema_errors(validator: &jsonschema::Validator, root: &Node) -> Vec<Error> {
    let json = root.to_json();
    let mut errors: Vec<Error> = Vec::new();
    for e in validator.iter_errors(&json) {
        let pointer = e.instance_path().as_str().to_string();
        let node = root.pointer(&pointer).unwrap_or(root);
        let (origin, message) = match e.kind() {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                let key = unexpected.first().cloned().unwrap_or_default();
                let origin = node
                    .as_map()
                    .and_then(|m| m.get_entry(&key))
                    .map(|(k, _)| k.origin)
                    .unwrap_or(node.origin);
                (origin, format!("unknown field `{key}`"))
            }
            jsonschema::error::ValidationErrorKind::FalseSchema => {
                let origin = root.pointer_key_origin(&pointer).unwrap_or(node.origin);
                let field = pointer.rsplit('/').next().unwrap_or("");
                (origin, format!("`{field}` is not allowed here"))
            }
            _ => (node.origin, e.masked().to_string()),
        };
        let at = if pointer.is_empty() {
            "the document".to_string()
        } else {
            format!("`{}`", pointer_to_path(&pointer))
        };
        let err = Error::at(origin, format!("{at}: {message}")).label("here");
        if !errors.iter().any(|x| same_place(x, &err)) {
            errors.push(err);
        }
    }
    errors
}

fn same_place(a: &Error, b: &Error) -> bool {
    match (a, b) {
        (Error::At(x), Error::At(y)) => x.origin == y.origin,
        _ => false,
    }
}

/// `/patches/0/target` -> `patches[0].target`.
pub fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for tok in pointer.trim_start_matches('/').split('/') {
        let tok = tok.replace("~1", "/").replace("~0", "~");
        if tok.parse::<usize>().is_ok() {
            out.push_str(&format!("[{tok}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&tok);
        }
    }
    out
}

fn spanned_str(node: &Node) -> Spanned<String> {
    Spanned {
        value: node.as_str().unwrap_or_default().to_string(),
        origin: node.origin,
    }
}

fn opt_str(map: &Node, key: &str) -> Option<Spanned<String>> {
    map.get(key).map(spanned_str)
}

impl Layer {
    /// Reads an `env.yaml` or `component.yaml`.
    pub fn load(loader: &mut Loader<'_>, path: &Path, expected: LayerKind) -> Result<Layer> {
        let role = match expected {
            LayerKind::Environment => FileRole::Environment,
            LayerKind::Component => FileRole::Component,
        };
        if expected == LayerKind::Environment {
            loader.enter_environment(path)?;
        }
        let docs = loader.documents(path, role)?;
        let file = loader.source(path, role)?;
        let root = match docs.as_slice() {
            [one] => one.root.clone(),
            [] => {
                return Err(
                    Error::at(loader.sources.file_origin(file), "this file is empty")
                        .help("see docs/overlay-format.md for the format"),
                )
            }
            [_, second, ..] => {
                return Err(Error::at(
                    second.start,
                    "an environment or component file holds exactly one document",
                )
                .label("a second document"))
            }
        };
        Error::collect(schema_errors(validator(), &root))?;
        let kind = match root.str_at(&["kind"]) {
            Some("Component") => LayerKind::Component,
            _ => LayerKind::Environment,
        };
        if kind != expected {
            let want = match expected {
                LayerKind::Environment => "Environment",
                LayerKind::Component => "Component",
            };
            let at = root.get("kind").map(|n| n.origin).unwrap_or(root.origin);
            return Err(
                Error::at(at, format!("expected `kind: {want}` in this file")).label("here"),
            );
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let list = |key: &str| -> &[Node] { root.get(key).and_then(Node::as_seq).unwrap_or(&[]) };
        let paths = |key: &str| -> Result<Vec<Spanned<PathBuf>>> {
            list(key)
                .iter()
                .map(|n| {
                    let written = n.as_str().unwrap_or_default();
                    let value = normalize(&dir.join(written));
                    loader.confine(&value, written, n.origin)?;
                    Ok(Spanned {
                        value,
                        origin: n.origin,
                    })
                })
                .collect()
        };
        let resources = paths("resources")?;
        let components = paths("components")?;

        let name = root
            .path(&["metadata", "name"])
            .map(spanned_str)
            .unwrap_or(Spanned {
                value: String::new(),
                origin: root.origin,
            });
        if kind == LayerKind::Environment {
            let folder = dir.file_name().map(|f| f.to_string_lossy().into_owned());
            if folder.as_deref() != Some(name.value.as_str()) {
                return Err(Error::at(
                    name.origin,
                    format!(
                        "the environment is named `{}` but its folder is `{}`",
                        name.value,
                        folder.unwrap_or_default()
                    ),
                )
                .label("here")
                .help("name the environment after its folder"));
            }
        }

        let replicas = list("replicas")
            .iter()
            .map(|r| ReplicaRule {
                name: r.get("name").map(spanned_str).unwrap_or(Spanned {
                    value: String::new(),
                    origin: r.origin,
                }),
                kind: r.str_at(&["kind"]).map(str::to_string),
                count: r
                    .get("count")
                    .cloned()
                    .unwrap_or(Node::new(Value::Int(1), r.origin)),
                origin: r.origin,
            })
            .collect();
        let images = list("images")
            .iter()
            .map(|i| ImageRule {
                name: opt_str(i, "name").unwrap_or(Spanned {
                    value: String::new(),
                    origin: i.origin,
                }),
                new_name: opt_str(i, "newName"),
                new_tag: opt_str(i, "newTag"),
                digest: opt_str(i, "digest"),
                origin: i.origin,
            })
            .collect();
        let tags = root.get("tags").map(|t| TagSpec {
            rule: opt_str(t, "rule").unwrap_or(Spanned {
                value: String::new(),
                origin: t.origin,
            }),
            images: t
                .get("images")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .map(spanned_str)
                .collect(),
            require_tested_release: t
                .get("requireTestedRelease")
                .and_then(Node::as_bool)
                .unwrap_or(false),
            origin: t.origin,
        });

        let commit = root.get("commit").map(load_commit).transpose()?;

        let mut patches = Vec::new();
        for p in list("patches") {
            patches.push(load_patch(loader, &dir, p)?);
        }
        let mut generators = Vec::new();
        for g in list("configMapGenerator") {
            let spec = load_generator(&dir, g)?;
            for (_, path, at) in &spec.files {
                loader.confine(path, written_path(g, *at), *at)?;
            }
            generators.push(spec);
        }

        Ok(Layer {
            kind,
            name,
            path: path.to_path_buf(),
            namespace: opt_str(&root, "namespace"),
            resources,
            components,
            labels: root.get("labels").cloned(),
            annotations: root.get("annotations").cloned(),
            replicas,
            images,
            tags,
            commit,
            patches,
            generators,
        })
    }
}

fn load_commit(node: &Node) -> Result<CommitSpec> {
    let path = match node.get("path") {
        Some(p) => {
            let text = p.as_str().unwrap_or_default();
            let value = BranchPath::parse(text).map_err(|e| {
                Error::at(p.origin, e.message("commit.path"))
                    .label("this folder")
                    .help(e.help())
            })?;
            Some(Spanned {
                value,
                origin: p.origin,
            })
        }
        None => None,
    };
    Ok(CommitSpec {
        branch: opt_str(node, "branch"),
        path,
        proposed: node
            .get("proposed")
            .and_then(Node::as_bool)
            .unwrap_or(false),
    })
}

fn load_target(node: &Node) -> Result<Target> {
    let get = |k: &str| node.str_at(&[k]).map(str::to_string);
    let mut labels = Vec::new();
    if let Some(sel) = node.get("labelSelector") {
        for part in sel.as_str().unwrap_or_default().split(',') {
            let part = part.trim();
            match part.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => labels.push((
                    k.trim().trim_end_matches('=').to_string(),
                    v.trim().to_string(),
                )),
                _ => {
                    return Err(Error::at(
                        sel.origin,
                        format!("`{part}` is not a `key=value` label selector term"),
                    )
                    .label("here")
                    .help("write labelSelector as key=value,key2=value2"))
                }
            }
        }
    }
    Ok(Target {
        group: get("group"),
        version: get("version"),
        kind: get("kind"),
        name: get("name"),
        namespace: get("namespace"),
        labels,
        origin: Some(node.origin),
    })
}

fn load_patch(loader: &mut Loader<'_>, dir: &Path, entry: &Node) -> Result<PatchSpec> {
    let target = entry.get("target").map(load_target).transpose()?;
    let docs: Vec<Node> = if let Some(path_node) = entry.get("path") {
        let written = path_node.as_str().unwrap_or_default();
        let path = normalize(&dir.join(written));
        loader.confine(&path, written, path_node.origin)?;
        if !loader.files.is_file(&path) {
            return Err(Error::at(
                path_node.origin,
                format!(
                    "the patch file `{}` does not exist",
                    crate::node::display_path(&path)
                ),
            )
            .label("named here"));
        }
        loader
            .documents(&path, FileRole::Patch)?
            .iter()
            .map(|d| d.root.clone())
            .collect()
    } else {
        let inline = entry
            .get("patch")
            .cloned()
            .unwrap_or(Node::map(entry.origin));
        match &inline.value {
            Value::Str(text) => parse_inline(loader, entry, &inline, text)?,
            _ => vec![inline],
        }
    };
    let body = match docs.as_slice() {
        [one] if one.as_seq().is_some() => {
            if target.is_none() {
                return Err(Error::at(
                    entry.origin,
                    "a JSON 6902 patch needs a `target`: it does not name its object",
                )
                .label("this patch")
                .help("add target: {kind: ..., name: ...}"));
            }
            PatchBody::Json6902(one.as_seq().unwrap_or_default().to_vec())
        }
        [] => {
            return Err(Error::at(entry.origin, "this patch is empty").label("this patch"));
        }
        many => {
            for d in many {
                if d.as_map().is_none() {
                    return Err(Error::at(
                        d.origin,
                        "a patch document must be a mapping (strategic merge) or a list (JSON 6902)",
                    )
                    .label("here"));
                }
            }
            PatchBody::Strategic(many.to_vec())
        }
    };
    Ok(PatchSpec {
        target,
        body,
        origin: entry.origin,
    })
}

/// Parses a patch written as a YAML string inside the environment file, and points its origins at the
/// lines of the environment file (a literal block scalar keeps the lines one to one).
fn parse_inline(
    loader: &mut Loader<'_>,
    entry: &Node,
    string: &Node,
    text: &str,
) -> Result<Vec<Node>> {
    let file = loader.sources.get(string.origin.file);
    let virtual_path = PathBuf::from(format!(
        "{}#line{}",
        file.path.display(),
        string.origin.line
    ));
    let env_text = file.text.clone();
    let id = loader
        .sources
        .add(&virtual_path, text.into(), FileRole::Environment);
    let docs = yaml::parse(id, loader.sources.get(id)).map_err(|e| match e {
        Error::At(l) => Error::at(
            string.origin,
            format!("in this inline patch: {}", l.message),
        )
        .label("this patch")
        .related(entry.origin, "patch entry"),
        other => other,
    })?;
    // Where the block scalar's content lines start in the environment file. The parser's span may
    // start at the `|` indicator or at the first content line; either way the content is the lines that
    // follow the indicator, one to one (a literal block keeps them). Other string styles fold lines,
    // so their nodes all point at the string.
    let start = string.origin.start as usize;
    let line_of_start = env_text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let (content_start, base_line, is_block) = if env_text[start..].starts_with(['|', '>']) {
        let next = env_text[start..].find('\n').map(|i| start + i + 1);
        (next, string.origin.line + 1, true)
    } else {
        let before = env_text[..line_of_start].trim_end();
        let indicator = before
            .trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit())
            .ends_with(['|', '>']);
        (Some(line_of_start), string.origin.line, indicator)
    };
    let mut line_starts = Vec::new();
    if let Some(mut pos) = content_start {
        for _ in 0..text.lines().count() {
            if pos >= env_text.len() {
                break;
            }
            line_starts.push(pos);
            match env_text[pos..].find('\n') {
                Some(i) => pos += i + 1,
                None => break,
            }
        }
    }
    let indent = line_starts
        .first()
        .map(|&s| env_text[s..].bytes().take_while(|b| *b == b' ').count())
        .unwrap_or(0);
    let remap = |o: Origin| -> Origin {
        let i = (o.line as usize).saturating_sub(1);
        match line_starts.get(i) {
            Some(&start) if is_block => {
                let s = (start + indent + (o.col as usize).saturating_sub(1)) as u32;
                Origin {
                    file: string.origin.file,
                    start: s,
                    end: s + o.len() as u32,
                    line: base_line + i as u32,
                    col: o.col + indent as u32,
                }
            }
            _ => string.origin,
        }
    };
    Ok(docs
        .into_iter()
        .map(|d| {
            let mut n = d.root;
            map_origins(&mut n, &remap);
            n
        })
        .collect())
}

fn map_origins(node: &mut Node, f: &dyn Fn(Origin) -> Origin) {
    node.origin = f(node.origin);
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| map_origins(n, f)),
        Value::Map(m) => {
            for (k, v) in &mut m.entries {
                k.origin = f(k.origin);
                map_origins(v, f);
            }
        }
        _ => {}
    }
}

/// The path of a generator's `files` entry at `at`, as written (after `key=`).
fn written_path(g: &Node, at: Origin) -> &str {
    g.get("files")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .find(|f| f.origin == at)
        .and_then(Node::as_str)
        .map(|t| t.split_once('=').map_or(t, |(_, p)| p))
        .unwrap_or_default()
}

fn load_generator(dir: &Path, g: &Node) -> Result<GeneratorSpec> {
    let mut files = Vec::new();
    for f in g.get("files").and_then(Node::as_seq).unwrap_or(&[]) {
        let text = f.as_str().unwrap_or_default();
        let (key, path) = match text.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => (
                Path::new(text)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                text,
            ),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        {
            return Err(
                Error::at(f.origin, format!("`{key}` is not a valid ConfigMap key"))
                    .label("here")
                    .help("keys may hold letters, digits, `-`, `_` and `.`"),
            );
        }
        files.push((key, normalize(&dir.join(path)), f.origin));
    }
    let mut literals = Vec::new();
    for l in g.get("literals").and_then(Node::as_seq).unwrap_or(&[]) {
        let text = l.as_str().unwrap_or_default();
        if let Some((k, v)) = text.split_once('=') {
            literals.push((k.to_string(), v.to_string(), l.origin));
        }
    }
    let behavior = match g.str_at(&["behavior"]) {
        Some("merge") => Behavior::Merge,
        Some("replace") => Behavior::Replace,
        _ => Behavior::Create,
    };
    let opt = |k: &str| {
        g.path(&["options", k])
            .and_then(Node::as_bool)
            .unwrap_or(false)
    };
    Ok(GeneratorSpec {
        name: opt_str(g, "name").unwrap_or(Spanned {
            value: String::new(),
            origin: g.origin,
        }),
        namespace: opt_str(g, "namespace"),
        files,
        literals,
        behavior,
        disable_hash: opt("disableNameSuffixHash"),
        immutable: opt("immutable"),
        labels: g.path(&["options", "labels"]).cloned(),
        annotations: g.path(&["options", "annotations"]).cloned(),
        origin: g.origin,
    })
}
