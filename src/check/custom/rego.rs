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

/// A Rego file, parsed and ready to evaluate.
pub struct RegoFile {
    /// The file's stem: its findings have the code `policy/<name>`.
    pub name: String,
    /// `data.<package>`.
    package: String,
    origin: Origin,
    /// The check rules and where each is first written.
    rules: BTreeMap<String, Origin>,
    engine: Result<Engine, String>,
}

impl fmt::Debug for RegoFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegoFile")
            .field("name", &self.name)
            .field("package", &self.package)
            .field("rules", &self.rules.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Whether conftest treats a rule name as a check, and which kind.
fn check_kind(rule: &str) -> Option<Severity> {
    let head = rule.split('_').next().unwrap_or(rule);
    match head {
        "deny" | "violation" => Some(Severity::Error),
        "warn" => Some(Severity::Warning),
        _ => None,
    }
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

impl RegoFile {
    /// Parses a Rego file (Rego v1 as conftest reads it today, else the older v0 syntax).
    pub fn read(name: &str, file: FileId, sources: &Sources) -> RegoFile {
        let text = sources.get(file).text.to_string();
        let path = sources.get(file).display.clone();
        let file_origin = sources.file_origin(file);
        let mut parsed = None;
        let mut first_error = None;
        for v0 in [false, true] {
            let mut engine = Engine::new();
            engine.set_rego_v0(v0);
            match engine.add_policy(path.clone(), text.clone()) {
                Ok(package) => {
                    parsed = Some((engine, package));
                    break;
                }
                Err(e) if first_error.is_none() => first_error = Some(e.to_string()),
                Err(_) => {}
            }
        }
        let Some((mut engine, package)) = parsed else {
            return RegoFile {
                name: name.to_string(),
                package: String::new(),
                origin: file_origin,
                rules: BTreeMap::new(),
                engine: Err(first_error.unwrap_or_default()),
            };
        };
        let mut rules = BTreeMap::new();
        let mut package_origin = file_origin;
        for module in engine.get_modules().iter() {
            package_origin = line_origin(sources, file, module.package.span.line);
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
                        .or_insert_with(|| line_origin(sources, file, span.line));
                }
            }
        }
        RegoFile {
            name: name.to_string(),
            package,
            origin: package_origin,
            rules,
            engine: Ok(engine),
        }
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

/// Evaluates every Rego file over the objects of the tree.
pub fn run(files: &[RegoFile], objects: &Objects<'_>, out: &mut Vec<Hit>) {
    for f in files {
        let mut engine = match &f.engine {
            Ok(e) => e.clone(),
            Err(e) => {
                out.push(Hit::broken(
                    &f.name,
                    f.origin,
                    format!("the Rego policy does not parse: {e}"),
                ));
                continue;
            }
        };
        if f.rules.is_empty() {
            continue;
        }
        for r in objects.resources {
            engine.set_input(Value::from(r.node.to_json()));
            for (rule, rule_origin) in &f.rules {
                let Some(severity) = check_kind(rule) else {
                    continue;
                };
                let result = match engine.eval_rule(format!("{}.{rule}", f.package)) {
                    Ok(v) => v,
                    Err(e) => {
                        let mut h = Hit::at(
                            &f.name,
                            r,
                            r.node.origin,
                            format!(
                                "{} {}: the Rego rule `{rule}` fails: {e}",
                                r.kind(),
                                r.name()
                            ),
                            *rule_origin,
                            "this rule",
                        );
                        h.severity = Severity::Error;
                        out.push(h);
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
                        Hit::at(&f.name, r, r.node.origin, m, *rule_origin, "the Rego rule");
                    h.severity = severity;
                    out.push(h);
                }
            }
        }
    }
}
