//! Conftest-style Rego policies (`policies/*.rego`), evaluated with regorus over each object of the
//! tree with `input` set to the object, as conftest sets it for each document of a YAML file. Every
//! rule named `deny`, `violation` or `warn` (or `deny_<x>`, ...) of the file's package is a check:
//! each message it gives is a finding (`deny`/`violation`: error, `warn`: warning), and a rule that
//! gives objects reports their `msg`, as conftest does.

use std::collections::BTreeMap;
use std::fmt;

use regorus::{Engine, Value};

use crate::check::custom::{Hit, Objects};
use crate::check::Severity;
use crate::node::{FileId, Origin, Sources};

/// The Rego files of a policy folder, parsed into one engine (as conftest loads a policy folder: a
/// file may use the rules of another package, `import data.kubernetes`).
#[derive(Default)]
pub struct RegoFiles {
    engine: Option<Engine>,
    /// The packages that hold checks: `data.main` and its checks with where each is first written.
    packages: Vec<Package>,
    /// Files that do not parse.
    errors: Vec<(Origin, String)>,
}

struct Package {
    path: String,
    /// The code's name: the package without `data.`, dots as dashes (`main`, `k8s-security`).
    pub name: String,
    rules: BTreeMap<String, Origin>,
}

impl fmt::Debug for RegoFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegoFiles")
            .field(
                "packages",
                &self.packages.iter().map(|p| &p.path).collect::<Vec<_>>(),
            )
            .field("errors", &self.errors)
            .finish()
    }
}

/// Whether conftest treats a rule name as a check, and which kind: `deny`, `violation`, `warn`, or
/// one of them followed by `_` and more (`deny_root`).
fn check_kind(rule: &str) -> Option<Severity> {
    [
        ("deny", Severity::Error),
        ("violation", Severity::Error),
        ("warn", Severity::Warning),
    ]
    .into_iter()
    .find(|(k, _)| {
        rule == *k
            || rule
                .strip_prefix(k)
                .and_then(|r| r.strip_prefix('_'))
                .is_some_and(|r| !r.is_empty())
    })
    .map(|(_, s)| s)
}

/// The origin of the start of line `line` (1-based) of a file.
fn line_origin(sources: &Sources, file: FileId, line: u32) -> Origin {
    let text = &sources.get(file).text;
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let end = text[start.min(text.len())..]
        .find('\n')
        .map(|e| start + e)
        .unwrap_or(text.len());
    Origin {
        file,
        start: start as u32,
        end: end as u32,
        line,
        col: 1,
    }
}

impl RegoFiles {
    /// Parses Rego files into one engine: each as Rego v1 (what conftest reads today), else with the
    /// older v0 syntax (a v0 file may still `import rego.v1`).
    pub fn read(files: &[FileId], sources: &Sources) -> RegoFiles {
        let mut out = RegoFiles::default();
        if files.is_empty() {
            return out;
        }
        let mut engine = Engine::new();
        let mut added: Vec<(FileId, String)> = Vec::new();
        for &file in files {
            let src = sources.get(file);
            let mut first_error = None;
            for v0 in [false, true] {
                engine.set_rego_v0(v0);
                match engine.add_policy(src.display.clone(), src.text.to_string()) {
                    Ok(package) => {
                        added.push((file, package));
                        first_error = None;
                        break;
                    }
                    Err(e) => {
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            if let Some(e) = first_error {
                out.errors.push((sources.file_origin(file), e));
            }
        }
        // Modules are kept in the order they were added.
        let modules: Vec<_> = engine.get_modules().to_vec();
        let mut packages: BTreeMap<String, BTreeMap<String, Origin>> = BTreeMap::new();
        for (module, (file, package)) in modules.iter().zip(&added) {
            let text = &sources.get(*file).text;
            let rules = packages.entry(package.clone()).or_default();
            for rule in &module.policy {
                let span = rule.span();
                let at = (span.start as usize).min(text.len());
                let ident: String = text[at..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if check_kind(&ident).is_some() {
                    rules
                        .entry(ident)
                        .or_insert_with(|| line_origin(sources, *file, span.line));
                }
            }
        }
        out.packages = packages
            .into_iter()
            .filter(|(_, rules)| !rules.is_empty())
            .map(|(path, rules)| Package {
                name: path
                    .strip_prefix("data.")
                    .unwrap_or(&path)
                    .replace(['.', '_'], "-")
                    .to_ascii_lowercase(),
                path,
                rules,
            })
            .collect();
        out.engine = Some(engine);
        out
    }

    /// The names of the packages that hold checks (their codes are `policy/<name>`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.packages.iter().map(|p| p.name.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && self.errors.is_empty()
    }
}

/// The message of one result: a string, or an object's `msg`.
fn message_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string()),
        Value::Object(o) => o.get(&Value::from("msg")).and_then(|m| match m {
            Value::String(s) => Some(s.to_string()),
            _ => None,
        }),
        _ => None,
    }
}

/// Evaluates every check of every package over the objects of the tree (as `conftest test
/// --all-namespaces` does; a single `main` package is conftest's default).
pub fn run(files: &RegoFiles, objects: &Objects<'_>, out: &mut Vec<Hit>) {
    for (origin, e) in &files.errors {
        out.push(Hit::broken(
            "",
            *origin,
            format!("the Rego policy does not parse: {e}"),
        ));
    }
    let Some(engine) = &files.engine else { return };
    if files.packages.is_empty() {
        return;
    }
    let mut engine = engine.clone();
    for r in objects.resources {
        engine.set_input(Value::from(r.node.to_json()));
        for p in &files.packages {
            for (rule, rule_origin) in &p.rules {
                let Some(severity) = check_kind(rule) else {
                    continue;
                };
                let result = match engine.eval_rule(format!("{}.{rule}", p.path)) {
                    Ok(v) => v,
                    Err(e) => {
                        out.push(Hit::at(
                            &p.name,
                            r,
                            r.node.origin,
                            format!(
                                "{} {}: the Rego rule `{rule}` fails: {e}",
                                r.kind(),
                                r.name()
                            ),
                            *rule_origin,
                            "this rule",
                        ));
                        continue;
                    }
                };
                let messages: Vec<String> = match &result {
                    Value::Set(s) => s.iter().filter_map(message_of).collect(),
                    Value::Array(a) => a.iter().filter_map(message_of).collect(),
                    Value::Bool(true) => vec![format!("{rule} is true")],
                    Value::String(_) | Value::Object(_) => {
                        message_of(&result).into_iter().collect()
                    }
                    _ => Vec::new(),
                };
                for m in messages {
                    let mut h =
                        Hit::at(&p.name, r, r.node.origin, m, *rule_origin, "the Rego rule");
                    h.severity = severity;
                    out.push(h);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conftest_check_names() {
        // conftest's own table (policy/engine_test.go, TestFailQuery and TestWarnQuery).
        for (name, want) in [
            ("", None),
            ("deny", Some(Severity::Error)),
            ("violation", Some(Severity::Error)),
            ("denyXYZ", None),
            ("violationXYZ", None),
            ("deny_", None),
            ("violation_", None),
            ("deny_x", Some(Severity::Error)),
            ("violation_1", Some(Severity::Error)),
            ("deny_x_y_z", Some(Severity::Error)),
            ("warn", Some(Severity::Warning)),
            ("warnXYZ", None),
            ("warn_", None),
            ("warn_x_y_z", Some(Severity::Warning)),
        ] {
            assert_eq!(check_kind(name), want, "{name}");
        }
    }
}
