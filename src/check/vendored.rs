//! The vendored Kubernetes and CRD schemas, embedded at build time by `build.rs`. Kubernetes schemas are
//! kept per minor (`schemas/kubernetes/v<minor>/`): a kind's schema is assembled from its stored object
//! plus the definitions that minor gives the names it reaches (`schemas/kubernetes/objects/`). A schema is
//! assembled, parsed and compiled the first time a resource of its kind is checked, at most once per
//! process and minor, so a run pays only for the kinds it meets.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use jsonschema::json::{Json, JsonNumber, Node as _};

use crate::check::instance::NodeJson;

mod table {
    include!(concat!(env!("OUT_DIR"), "/vendored_schemas.rs"));
}

/// A vendored schema: its key (`apps/v1|Deployment`), where it comes from (for messages), and its
/// validator.
pub struct Schema {
    pub key: &'static str,
    /// `schemas/kubernetes/v1.37` (a minor's schemas) or `schemas/crds/<file>`.
    pub source: String,
    pub validator: Result<Validator, String>,
}

/// A compiled schema, validating objects as they are parsed (see [`crate::check::instance`]).
pub type Validator = jsonschema::Validator<NodeJson>;

/// A Kubernetes minor whose built-in schemas are vendored (the target of `--kube-version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion(usize);

impl Default for KubeVersion {
    /// The newest vendored minor.
    fn default() -> Self {
        KubeVersion(table::KUBERNETES_VERSIONS.len() - 1)
    }
}

impl KubeVersion {
    /// Every vendored minor, oldest first.
    pub fn all() -> impl Iterator<Item = KubeVersion> {
        (0..table::KUBERNETES_VERSIONS.len()).map(KubeVersion)
    }

    /// `1.30`, `v1.30` or `1.30.4` (the patch level does not change the API): a vendored minor, or a
    /// message that names the vendored ones.
    pub fn parse(text: &str) -> Result<KubeVersion, String> {
        let wanted = minor_of(text);
        table::KUBERNETES_VERSIONS
            .iter()
            .position(|v| wanted.is_some() && minor_of(v) == wanted)
            .map(KubeVersion)
            .ok_or_else(|| {
                format!(
                    "no schemas are vendored for Kubernetes `{text}`; the vendored versions are {}",
                    table::KUBERNETES_VERSIONS.join(", ")
                )
            })
    }

    /// `1.37`.
    pub fn as_str(self) -> &'static str {
        table::KUBERNETES_VERSIONS[self.0]
    }

    /// `(1, 37)`.
    pub fn minor(self) -> (u32, u32) {
        minor_of(self.as_str()).unwrap_or_default()
    }
}

impl std::fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `(major, minor)` of `1.30`, `v1.30` or `1.30.4`.
pub fn minor_of(text: &str) -> Option<(u32, u32)> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    match parts.next() {
        None => {}
        Some(patch) if patch.parse::<u32>().is_ok() && parts.next().is_none() => {}
        Some(_) => return None,
    }
    Some((major, minor))
}

fn compile(text: &str) -> Result<Validator, String> {
    let schema: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    compile_value(&schema)
}

/// A validator for a schema, with the integer formats checked (see [`IntegerFormat`]).
pub fn compile_value(schema: &serde_json::Value) -> Result<Validator, String> {
    compile_for(schema)
}

/// [`compile_value`] for any representation of the instances (tests compare two).
pub fn compile_for<F: Json>(
    schema: &serde_json::Value,
) -> Result<jsonschema::Validator<F>, String> {
    jsonschema::ValidationOptions::<Arc<dyn jsonschema::Retrieve>, F>::default()
        .with_keyword("format", format_keyword::<F>)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Integer fields the API server refuses below zero (its `ValidateNonnegativeField`), by property name.
const NON_NEGATIVE: [&str; 20] = [
    "replicas",
    "minReplicas",
    "maxReplicas",
    "revisionHistoryLimit",
    "minReadySeconds",
    "progressDeadlineSeconds",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "backoffLimit",
    "completions",
    "parallelism",
    "ttlSecondsAfterFinished",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
];

/// The `format` of an integer field, checked: `int32` and `int64` bound the value (a YAML `1.0e+23` is a
/// whole number, so the `integer` type accepts it, and the API server does not), and the fields in
/// [`NON_NEGATIVE`] may not be negative. Other formats (`date-time`, `byte`, ...) stay annotations, as
/// they are without this keyword.
struct IntegerFormat {
    min: f64,
    max: f64,
    bits: u8,
    non_negative: bool,
}

impl IntegerFormat {
    fn problem<F: Json>(&self, instance: F::Node<'_>) -> Option<String> {
        let v = instance.as_number()?.as_f64()?;
        // A fraction is the `integer` type's finding already.
        if v.fract() != 0.0 {
            return None;
        }
        if !(self.min..=self.max).contains(&v) {
            return Some(self.range_text());
        }
        if self.non_negative && v < 0.0 {
            return Some("the value is negative, which the API server refuses here".to_string());
        }
        None
    }

    fn range_text(&self) -> String {
        format!(
            "the value is out of range: the API server reads this field as a {}-bit integer ({} to {})",
            self.bits, self.min as i64, self.max as i64
        )
    }
}

impl<'i, F: Json> jsonschema::Keyword<'i, F> for IntegerFormat {
    fn validate(&self, instance: F::Node<'i>) -> Result<(), jsonschema::ValidationError<'i>> {
        match self.problem::<F>(instance) {
            Some(p) => Err(jsonschema::ValidationError::custom(p)),
            None => Ok(()),
        }
    }

    fn is_valid(&self, instance: F::Node<'i>) -> bool {
        self.problem::<F>(instance).is_none()
    }
}

/// A `format` that checks nothing (formats are annotations in these drafts).
struct AnnotationOnly;

impl<'i, F: Json> jsonschema::Keyword<'i, F> for AnnotationOnly {
    fn validate(&self, _: F::Node<'i>) -> Result<(), jsonschema::ValidationError<'i>> {
        Ok(())
    }

    fn is_valid(&self, _: F::Node<'i>) -> bool {
        true
    }
}

fn format_keyword<'a, F: Json>(
    _parent: &'a serde_json::Map<String, serde_json::Value>,
    value: &'a serde_json::Value,
    path: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> jsonschema::Keyword<'i, F>>, jsonschema::ValidationError<'a>> {
    // The property this format belongs to: `.../properties/replicas/format`.
    let segments: Vec<String> = path.as_str().split('/').map(str::to_string).collect();
    let property = match segments.as_slice() {
        [.., properties, name, _format] if properties == "properties" => name.as_str(),
        _ => "",
    };
    let non_negative = NON_NEGATIVE.contains(&property);
    Ok(match value.as_str() {
        Some("int32") => Box::new(IntegerFormat {
            min: i32::MIN as f64,
            max: i32::MAX as f64,
            bits: 32,
            non_negative,
        }),
        Some("int64") => Box::new(IntegerFormat {
            min: i64::MIN as f64,
            max: i64::MAX as f64,
            bits: 64,
            non_negative,
        }),
        _ => Box::new(AnnotationOnly),
    })
}

/// The parsed object `i` of `schemas/kubernetes/objects/`, parsed once.
fn object(i: u32) -> Result<&'static serde_json::Value, String> {
    static PARSED: OnceLock<Vec<OnceLock<Result<serde_json::Value, String>>>> = OnceLock::new();
    let slots = PARSED.get_or_init(|| table::OBJECTS.iter().map(|_| OnceLock::new()).collect());
    let (name, text) = table::OBJECTS[i as usize];
    slots[i as usize]
        .get_or_init(|| serde_json::from_str(text).map_err(|e| format!("objects/{name}.json: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

/// The names `#/$defs/<name>` that `node` refers to.
fn refs(node: &serde_json::Value, out: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", serde_json::Value::String(r)) => {
                        if let Some(name) = r.strip_prefix("#/$defs/") {
                            out.push(name.to_string());
                        }
                    }
                    ("enum" | "const" | "default", _) => {}
                    _ => refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// The schema of a built-in kind in one minor: its object, with every definition it reaches bundled
/// under `$defs`, as one self-contained document.
fn assemble(version: KubeVersion, root: u32, key: &str) -> Result<serde_json::Value, String> {
    let defs = table::DEFINITIONS[version.0];
    let mut doc = object(root)?.clone();
    let mut todo = Vec::new();
    refs(&doc, &mut todo);
    let mut bundled: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    while let Some(name) = todo.pop() {
        if bundled.contains_key(&name) {
            continue;
        }
        let i = defs
            .binary_search_by(|(n, _)| n.cmp(&name.as_str()))
            .map_err(|_| format!("Kubernetes {version} defines no `{name}`"))?;
        let def = object(defs[i].1)?;
        refs(def, &mut todo);
        bundled.insert(name, def.clone());
    }
    let serde_json::Value::Object(map) = &mut doc else {
        return Err(format!("the schema of {key} is not an object"));
    };
    map.insert(
        "$schema".into(),
        "https://json-schema.org/draft/2020-12/schema".into(),
    );
    map.insert(
        "$defs".into(),
        serde_json::Value::Object(bundled.into_iter().collect()),
    );
    Ok(doc)
}

fn builtin_cache() -> &'static [Vec<OnceLock<Schema>>] {
    static CACHE: OnceLock<Vec<Vec<OnceLock<Schema>>>> = OnceLock::new();
    CACHE.get_or_init(|| {
        table::KINDS
            .iter()
            .map(|kinds| kinds.iter().map(|_| OnceLock::new()).collect())
            .collect()
    })
}

fn crd_cache() -> &'static [OnceLock<Schema>] {
    static CACHE: OnceLock<Vec<OnceLock<Schema>>> = OnceLock::new();
    CACHE.get_or_init(|| table::CRDS.iter().map(|_| OnceLock::new()).collect())
}

/// `apiVersion|kind`, compared without building it: this runs for every object.
fn key_cmp(k: &str, api_version: &str, kind: &str) -> std::cmp::Ordering {
    k.bytes().cmp(
        api_version
            .bytes()
            .chain(std::iter::once(b'|'))
            .chain(kind.bytes()),
    )
}

/// The schema of `apiVersion`/`kind` for a Kubernetes minor (built-in kinds that minor serves, then the
/// vendored CRDs), compiled on first use; `None` when none is vendored.
pub fn schema(version: KubeVersion, api_version: &str, kind: &str) -> Option<&'static Schema> {
    Some(match locate(version, api_version, kind)? {
        Located::Builtin(i) => {
            let (key, root) = table::KINDS[version.0][i];
            builtin_cache()[version.0][i].get_or_init(|| Schema {
                key,
                source: format!("schemas/kubernetes/v{version} (Kubernetes {version})"),
                validator: assemble(version, root, key).and_then(|doc| compile_value(&doc)),
            })
        }
        Located::Crd(i) => {
            let (key, path, text) = table::CRDS[i];
            crd_cache()[i].get_or_init(|| Schema {
                key,
                source: format!("schemas/{path}"),
                validator: compile(text),
            })
        }
    })
}

/// Where the schema of `apiVersion`/`kind` is vendored: a built-in kind of the minor, else a CRD.
enum Located {
    Builtin(usize),
    Crd(usize),
}

fn locate(version: KubeVersion, api_version: &str, kind: &str) -> Option<Located> {
    if let Ok(i) = table::KINDS[version.0].binary_search_by(|(k, _)| key_cmp(k, api_version, kind))
    {
        return Some(Located::Builtin(i));
    }
    table::CRDS
        .binary_search_by(|(k, _, _)| key_cmp(k, api_version, kind))
        .ok()
        .map(Located::Crd)
}

/// The schema document [`schema`] compiles for `apiVersion`/`kind` (tests compile it another way).
#[cfg(test)]
pub(crate) fn document(
    version: KubeVersion,
    api_version: &str,
    kind: &str,
) -> Option<Result<serde_json::Value, String>> {
    Some(match locate(version, api_version, kind)? {
        Located::Builtin(i) => {
            let (key, root) = table::KINDS[version.0][i];
            assemble(version, root, key)
        }
        Located::Crd(i) => serde_json::from_str(table::CRDS[i].2).map_err(|e| e.to_string()),
    })
}

/// Whether a Kubernetes minor serves `apiVersion`/`kind` as a built-in kind.
pub fn serves(version: KubeVersion, api_version: &str, kind: &str) -> bool {
    table::KINDS[version.0]
        .binary_search_by(|(k, _)| key_cmp(k, api_version, kind))
        .is_ok()
}

/// The apiVersions a minor serves (or a vendored CRD declares) for a kind, to suggest one when an
/// object names another.
pub fn versions_of(version: KubeVersion, kind: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = table::KINDS[version.0]
        .iter()
        .map(|(k, _)| *k)
        .chain(table::CRDS.iter().map(|(k, _, _)| *k))
        .filter_map(|k| k.split_once('|'))
        .filter(|(_, kd)| *kd == kind)
        .map(|(v, _)| v)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Every key with a schema for a minor (built-in kinds, then vendored CRDs).
pub fn keys(version: KubeVersion) -> impl Iterator<Item = &'static str> {
    table::KINDS[version.0]
        .iter()
        .map(|(k, _)| *k)
        .chain(table::CRDS.iter().map(|(k, _, _)| *k))
}

/// An API version Kubernetes stopped serving: `schemas/kubernetes/removed-apis.json`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    pub api_version: String,
    pub kind: String,
    /// The minor that no longer serves it (`1.22`).
    pub removed_in: String,
    /// The apiVersion to use instead; `None` when the kind is gone.
    pub replacement: Option<String>,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

impl Removal {
    /// `(major, minor)` of `removed_in`.
    pub fn removed_minor(&self) -> (u32, u32) {
        minor_of(&self.removed_in).unwrap_or_default()
    }
}

/// Every removal in `schemas/kubernetes/removed-apis.json`.
pub fn removals() -> &'static [Removal] {
    static TABLE: OnceLock<Vec<Removal>> = OnceLock::new();
    TABLE.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct File {
            removed: Vec<Removal>,
        }
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/kubernetes/removed-apis.json"
        ));
        // The file ships with the binary and a test reads it: a broken table is a build defect.
        serde_json::from_str::<File>(text)
            .map(|f| f.removed)
            .unwrap_or_default()
    })
}

/// The removal of `apiVersion`/`kind`, if Kubernetes removed it (in any minor).
pub fn removal(api_version: &str, kind: &str) -> Option<&'static Removal> {
    removals()
        .iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
}
