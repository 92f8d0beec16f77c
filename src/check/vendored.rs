//! The vendored Kubernetes and CRD schemas (`schemas/kubernetes/v*-strict/`, `schemas/crds/`), embedded at
//! build time by `build.rs`. A schema is parsed and compiled the first time a resource of its kind is
//! checked, and at most once per process, so a run pays only for the kinds it meets.

use std::sync::OnceLock;

mod table {
    include!(concat!(env!("OUT_DIR"), "/vendored_schemas.rs"));
}

pub use table::KUBERNETES_VERSION;

/// A vendored schema: its key (`apps/v1|Deployment`), its path below `schemas/`, and its validator.
pub struct Schema {
    pub key: &'static str,
    pub path: &'static str,
    pub validator: Result<jsonschema::Validator, String>,
}

fn cache() -> &'static [OnceLock<Schema>] {
    static CACHE: OnceLock<Vec<OnceLock<Schema>>> = OnceLock::new();
    CACHE.get_or_init(|| table::SCHEMAS.iter().map(|_| OnceLock::new()).collect())
}

fn compile(text: &str) -> Result<jsonschema::Validator, String> {
    let schema: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    jsonschema::options()
        .build(&schema)
        .map_err(|e| e.to_string())
}

/// The schema of `apiVersion`/`kind`, compiled on first use; `None` when none is vendored.
pub fn schema(api_version: &str, kind: &str) -> Option<&'static Schema> {
    // The key is `apiVersion|kind`, compared without building it: this runs for every object.
    let key = || {
        api_version
            .bytes()
            .chain(std::iter::once(b'|'))
            .chain(kind.bytes())
    };
    let i = table::SCHEMAS
        .binary_search_by(|(k, _, _)| k.bytes().cmp(key()))
        .ok()?;
    let (key, path, text) = table::SCHEMAS[i];
    Some(cache()[i].get_or_init(|| Schema {
        key,
        path,
        validator: compile(text),
    }))
}

/// The apiVersions vendored for a kind (to suggest one when an object names another).
pub fn versions_of(kind: &str) -> Vec<&'static str> {
    table::SCHEMAS
        .iter()
        .filter_map(|(k, _, _)| k.split_once('|'))
        .filter(|(_, kd)| *kd == kind)
        .map(|(v, _)| v)
        .collect()
}

/// Every vendored key, sorted.
pub fn keys() -> impl Iterator<Item = &'static str> {
    table::SCHEMAS.iter().map(|(k, _, _)| *k)
}
