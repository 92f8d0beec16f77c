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
        .with_keyword("format", format_keyword)
        .build(&schema)
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
    fn problem(&self, instance: &serde_json::Value) -> Option<String> {
        let n = instance.as_number()?;
        let v = n.as_f64()?;
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

impl<'i> jsonschema::Keyword<'i> for IntegerFormat {
    fn validate(
        &self,
        instance: &'i serde_json::Value,
    ) -> Result<(), jsonschema::ValidationError<'i>> {
        match self.problem(instance) {
            Some(p) => Err(jsonschema::ValidationError::custom(p)),
            None => Ok(()),
        }
    }

    fn is_valid(&self, instance: &'i serde_json::Value) -> bool {
        self.problem(instance).is_none()
    }
}

/// A `format` that checks nothing (formats are annotations in these drafts).
struct AnnotationOnly;

impl<'i> jsonschema::Keyword<'i> for AnnotationOnly {
    fn validate(&self, _: &'i serde_json::Value) -> Result<(), jsonschema::ValidationError<'i>> {
        Ok(())
    }

    fn is_valid(&self, _: &'i serde_json::Value) -> bool {
        true
    }
}

fn format_keyword<'a>(
    _parent: &'a serde_json::Map<String, serde_json::Value>,
    value: &'a serde_json::Value,
    path: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> jsonschema::Keyword<'i>>, jsonschema::ValidationError<'a>> {
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
