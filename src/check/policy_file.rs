//! Reads the policy files (`policies/*.yaml`, format in `docs/policy.md`), validates them against
//! `schemas/openim-gitops/policy.schema.json` with errors at the offending line, and resolves them into
//! a [`Policy`] per environment.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::check::custom::{CustomRule, RegoFiles, UserPolicies};
use crate::check::policy::{AllowAll, Date, External, Policy, Required, Selector, Waiver};
use crate::check::{Code, Severity};
use crate::error::{Error, Result};
use crate::load::layer::schema_errors;
use crate::load::{is_yaml, Loader};
use crate::node::{FileRole, Node, Origin};
use crate::resource::Resource;

pub const POLICY_SCHEMA: &str = include_str!("../../schemas/openim-gitops/policy.schema.json");

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(POLICY_SCHEMA)
            .unwrap_or_else(|e| panic!("the built-in policy schema is not JSON: {e}"));
        jsonschema::options()
            .build(&schema)
            .unwrap_or_else(|e| panic!("the built-in policy schema is invalid: {e}"))
    })
}

/// One `defaults` or `environments.<name>` block.
#[derive(Default)]
struct Settings {
    /// Code or `family/*`, severity (`None`: off), the line.
    rules: Vec<(RuleKey, Option<Severity>, Origin)>,
    high_availability: Option<(bool, Origin)>,
    require_digests: Option<(bool, Origin)>,
    requests: Option<(Vec<String>, Origin)>,
    limits: Option<(Vec<String>, Origin)>,
    registries: Vec<String>,
    kinds: Vec<String>,
    external: Vec<External>,
    allow_all: Vec<AllowAll>,
}

/// What a `rules:` key names: one code, or every code of a family (`family/*`).
enum RuleKey {
    Code(Code),
    Family(String),
}

struct FileWaiver {
    waiver: Waiver,
    /// `None`: every environment (and plain files).
    environments: Option<Vec<(String, Origin)>>,
}

/// Every policy file of a run, read and validated.
#[derive(Default)]
pub struct PolicySet {
    defaults: Vec<Settings>,
    environments: Vec<(String, Origin, Settings)>,
    waivers: Vec<FileWaiver>,
    /// CEL rules, admission policies and Rego files: evaluated by `check::custom`.
    user: Arc<UserPolicies>,
}

/// Whether a document of a policy folder is one of our policy files (else it is a Kubernetes object:
/// an admission policy, a binding, its params, a CRD).
fn is_policy_file(root: &Node) -> bool {
    match root.str_at(&["kind"]) {
        Some(kind) => {
            kind == "Policy" && root.str_at(&["apiVersion"]) == Some("gitops.openim.io/v1")
        }
        None => true,
    }
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

/// The code a policy file names: a built-in one or one of the user policies beside it.
fn code_named(text: &str, codes: &[Code]) -> Option<Code> {
    codes.iter().copied().find(|c| c.as_str() == text)
}

fn read_settings(node: &Node, codes: &[Code], errors: &mut Vec<Error>) -> Settings {
    let mut s = Settings::default();
    if let Some(rules) = node.get("rules").and_then(Node::as_map) {
        for (k, v) in rules.iter() {
            let key = match k.name.strip_suffix("/*") {
                Some(family) => codes
                    .iter()
                    .any(|c| c.family() == family)
                    .then(|| RuleKey::Family(family.to_string())),
                None => code_named(&k.name, codes).map(RuleKey::Code),
            };
            let Some(key) = key else {
                let family = k.name.split('/').next().unwrap_or("");
                let same: Vec<&str> = codes
                    .iter()
                    .filter(|c| c.family() == family)
                    .map(|c| c.as_str())
                    .collect();
                let help = if same.is_empty() {
                    "`openim-gitops check` lists every code in docs/checks.md".to_string()
                } else {
                    format!("codes of `{family}/`: {}", same.join(", "))
                };
                errors.push(
                    Error::at(
                        k.origin,
                        format!("`{}` is not a rule code or `family/*`", k.name),
                    )
                    .label("here")
                    .help(help),
                );
                continue;
            };
            let sev = match v.as_str() {
                Some("error") => Some(Severity::Error),
                Some("warning") => Some(Severity::Warning),
                Some("info") => Some(Severity::Info),
                _ => None,
            };
            s.rules.push((key, sev, k.origin));
        }
    }
    s.high_availability = node
        .get("highAvailability")
        .and_then(|n| n.as_bool().map(|b| (b, n.origin)));
    s.require_digests = node
        .get("requireDigests")
        .and_then(|n| n.as_bool().map(|b| (b, n.origin)));
    s.requests = node
        .path(&["resources", "requests"])
        .map(|n| (strings(Some(n)), n.origin));
    s.limits = node
        .path(&["resources", "limits"])
        .map(|n| (strings(Some(n)), n.origin));
    s.registries = strings(node.path(&["allow", "registries"]));
    for k in node
        .path(&["allow", "kinds"])
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        if let (Some(a), Some(kd)) = (k.str_at(&["apiVersion"]), k.str_at(&["kind"])) {
            s.kinds.push(format!("{a}|{kd}"));
        }
    }
    for a in node.get("allowAll").and_then(Node::as_seq).unwrap_or(&[]) {
        s.allow_all.push(AllowAll {
            name: a.str_at(&["name"]).unwrap_or_default().to_string(),
            namespace: a.str_at(&["namespace"]).unwrap_or_default().to_string(),
            origin: Some(a.origin),
        });
    }
    for e in node.get("external").and_then(Node::as_seq).unwrap_or(&[]) {
        s.external.push(External {
            kind: e.str_at(&["kind"]).unwrap_or_default().to_string(),
            name: e.str_at(&["name"]).unwrap_or_default().to_string(),
            namespace: e.str_at(&["namespace"]).unwrap_or_default().to_string(),
            keys: strings(e.get("keys")),
            labels: crate::k8s::labels(e.get("labels")),
        });
    }
    s
}

fn read_waiver(node: &Node, codes: &[Code], errors: &mut Vec<Error>) -> Option<FileWaiver> {
    let rule = node.get("rule")?;
    let text = rule.as_str()?;
    let code = code_named(text, codes);
    let mut ok = code.is_some();
    if code.is_none() {
        errors.push(Error::at(rule.origin, format!("`{text}` is not a rule code")).label("here"));
    }
    let reason = node.get("reason")?;
    let reason_text = reason.as_str().unwrap_or_default().trim().to_string();
    if reason_text.is_empty() {
        errors.push(
            Error::at(reason.origin, "a waiver needs a reason")
                .label("empty")
                .help("say why the finding is acceptable and what will end it"),
        );
        ok = false;
    }
    let until = node.get("until")?;
    let date = Date::parse(until.as_str().unwrap_or_default());
    if date.is_none() {
        errors.push(
            Error::at(until.origin, "`until` must be a date written YYYY-MM-DD")
                .label("not a date"),
        );
        ok = false;
    }
    let target = node.get("target")?;
    let get = |k: &str| target.str_at(&[k]).map(str::to_string);
    let environments = node.get("environments").and_then(Node::as_seq).map(|list| {
        list.iter()
            .filter_map(|n| n.as_str().map(|s| (s.to_string(), n.origin)))
            .collect()
    });
    let code = code.filter(|_| ok)?;
    Some(FileWaiver {
        waiver: Waiver {
            code,
            target: Selector {
                kind: get("kind"),
                name: get("name"),
                namespace: get("namespace"),
            },
            reason: reason_text,
            until: date.unwrap_or(Date {
                year: 0,
                month: 1,
                day: 1,
            }),
            origin: node.origin,
            until_origin: until.origin,
        },
        environments,
    })
}

impl PolicySet {
    /// Reads a policy file, or every `*.yaml`/`*.yml` below a folder (in path order). Its `rules:` and
    /// waivers may name the built-in codes and those of the user policies it defines.
    pub fn load(loader: &mut Loader<'_>, path: &Path) -> Result<PolicySet> {
        let files = if loader.files.is_dir(path) {
            loader
                .files
                .walk(path)
                .map_err(|source| Error::Read {
                    path: path.to_path_buf(),
                    source,
                })?
                .into_iter()
                .filter(|p| is_yaml(p))
                .collect()
        } else if loader.files.is_file(path) {
            vec![path.to_path_buf()]
        } else {
            return Err(Error::usage(format!(
                "the policy `{}` does not exist",
                crate::node::display_path(path)
            )));
        };
        let mut set = PolicySet::default();
        let mut errors = Vec::new();
        let mut user = UserPolicies::default();
        // Policy files first (their rules and waivers may name the codes of the user policies found
        // beside them), then settings and waivers.
        let mut policy_docs: Vec<Node> = Vec::new();
        for file in files {
            let docs = match loader.documents(&file, FileRole::Policy) {
                Ok(d) => d,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for doc in docs.iter() {
                let root = &doc.root;
                if !is_policy_file(root) {
                    match crate::load::check_object(root) {
                        Ok(()) => user.objects.push(Resource::new(root.clone())),
                        Err(e) => errors.push(e),
                    }
                    continue;
                }
                let schema = schema_errors(validator(), root);
                if !schema.is_empty() {
                    errors.extend(schema);
                    continue;
                }
                for c in root.get("custom").and_then(Node::as_seq).unwrap_or(&[]) {
                    if let Some(rule) = CustomRule::read(c) {
                        user.rules.push(rule);
                    }
                }
                policy_docs.push(root.clone());
            }
        }
        if loader.files.is_dir(path) {
            let rego = loader.files.walk(path).map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let mut ids = Vec::new();
            // Rego tests (`*_test.rego`) are for `opa test` and `conftest verify`, not checks.
            for file in rego.into_iter().filter(|p| {
                p.extension().is_some_and(|e| e == "rego")
                    && !p.to_string_lossy().ends_with("_test.rego")
            }) {
                ids.push(loader.source(&file, FileRole::Policy)?);
            }
            user.rego = RegoFiles::read(&ids, loader.sources);
        }
        let user_codes = user.codes();
        for code in &user_codes {
            if code.doc().is_some() {
                errors.push(Error::usage(format!(
                    "the user policy `{code}` has the code of a built-in rule: rename it"
                )));
            }
        }
        let codes: Vec<Code> = Code::all().chain(user_codes).collect();
        let codes = codes.as_slice();
        for root in &policy_docs {
            if let Some(d) = root.get("defaults") {
                set.defaults.push(read_settings(d, codes, &mut errors));
            }
            if let Some(envs) = root.get("environments").and_then(Node::as_map) {
                for (k, v) in envs.iter() {
                    let s = read_settings(v, codes, &mut errors);
                    set.environments.push((k.name.clone(), k.origin, s));
                }
            }
            for w in root.get("waivers").and_then(Node::as_seq).unwrap_or(&[]) {
                if let Some(w) = read_waiver(w, codes, &mut errors) {
                    set.waivers.push(w);
                }
            }
        }
        set.user = Arc::new(user);
        Error::collect(errors)?;
        Ok(set)
    }

    /// The codes of the user policies (`policy/<name>`), beside the built-in ones.
    pub fn user_codes(&self) -> Vec<Code> {
        self.user.codes()
    }

    /// Every code a policy may name: the built-in ones and those of the user policies.
    pub fn codes(&self) -> Vec<Code> {
        Code::all().chain(self.user_codes()).collect()
    }

    /// Every environment the policy names must exist: a misspelt name would silently apply nothing.
    pub fn check_environments(&self, known: &[String]) -> Result<()> {
        let mut errors = Vec::new();
        let names = self.environments.iter().map(|(n, o, _)| (n, *o)).chain(
            self.waivers
                .iter()
                .flat_map(|w| w.environments.iter().flatten().map(|(n, o)| (n, *o))),
        );
        for (name, origin) in names {
            if !known.contains(name) {
                errors.push(
                    Error::at(origin, format!("there is no environment `{name}`"))
                        .label("named here")
                        .help(format!("environments here: {}", known.join(", "))),
                );
            }
        }
        Error::collect(errors)
    }

    /// The policy for one environment (`None`: plain files, only the defaults apply).
    pub fn resolve(&self, env: Option<&str>) -> Policy {
        let codes = self.codes();
        let mut scopes: Vec<&Settings> = self.defaults.iter().collect();
        if let Some(env) = env {
            scopes.extend(
                self.environments
                    .iter()
                    .filter(|(n, _, _)| n == env)
                    .map(|(_, _, s)| s),
            );
        }
        let mut p = Policy {
            requests: Required::default(),
            limits: Required::default(),
            user: self.user.clone(),
            ..Policy::default()
        };
        for s in &scopes {
            // `family/*` first, then exact codes: within a scope, the exact code wins.
            for (key, sev, origin) in &s.rules {
                if let RuleKey::Family(family) = key {
                    for &c in codes.iter().filter(|c| c.family() == family) {
                        p.severities.insert(c, (*sev, Some(*origin)));
                    }
                }
            }
            for (key, sev, origin) in &s.rules {
                if let RuleKey::Code(c) = key {
                    p.severities.insert(*c, (*sev, Some(*origin)));
                }
            }
            if let Some((b, o)) = s.high_availability {
                p.high_availability = b;
                p.high_availability_origin = Some(o);
            }
            if let Some((b, o)) = s.require_digests {
                p.require_digests = b;
                p.require_digests_origin = Some(o);
            }
            if let Some((names, o)) = &s.requests {
                p.requests = Required {
                    names: names.clone(),
                    origin: Some(*o),
                };
            }
            if let Some((names, o)) = &s.limits {
                p.limits = Required {
                    names: names.clone(),
                    origin: Some(*o),
                };
            }
            p.allowed_registries.extend(s.registries.iter().cloned());
            p.allowed_kinds.extend(s.kinds.iter().cloned());
            p.external.extend(s.external.iter().cloned());
            p.allow_all.extend(s.allow_all.iter().cloned());
        }
        p.waivers = self
            .waivers
            .iter()
            .filter(|w| match (&w.environments, env) {
                (None, _) => true,
                (Some(list), Some(env)) => list.iter().any(|(n, _)| n == env),
                (Some(_), None) => false,
            })
            .map(|w| w.waiver.clone())
            .collect();
        p
    }
}
