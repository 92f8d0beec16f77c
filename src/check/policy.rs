//! What the checks are told by `policies/`: severities per environment, allowlists, objects that exist
//! outside the rendered tree, and waivers. This file holds the resolved form for one environment and
//! applies waivers to findings; the policy files and their schema are read in `policy_file.rs`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

pub use super::date::Date;

use crate::check::code::{Code, Policy as PolicyCode};
use crate::check::{Context, Finding, Severity};
use crate::node::{Node, Origin, Sources, Value};
use crate::resource::{ResId, Resource};

/// The annotation that waives findings about the object that carries it. One waiver per line:
/// `<code> until=<YYYY-MM-DD>: <reason>`.
pub const WAIVE_ANNOTATION: &str = "gitops.openim.io/waive";

/// An object the rendered tree may refer to without rendering it (made by an operator or another team).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct External {
    pub kind: String,
    pub name: String,
    /// Empty: any namespace.
    pub namespace: String,
    /// Keys known to exist in it (Secrets, ConfigMaps); empty: any key.
    pub keys: Vec<String>,
    /// For `kind: Pod`, the labels of pods something outside the tree makes (an operator's
    /// StatefulSet for its custom resource): selectors that match them select something.
    pub labels: crate::k8s::Labels,
}

impl Policy {
    /// Whether a selector matches pods the policy declares made outside the tree (`external` entries
    /// of `kind: Pod` with `labels`) in `namespace`.
    pub fn selects_external_pods(&self, namespace: &str, selector: &crate::k8s::Selector) -> bool {
        self.external.iter().any(|e| {
            e.kind == "Pod"
                && !e.labels.is_empty()
                && (e.namespace.is_empty() || e.namespace == namespace)
                && selector.matches(&e.labels)
        })
    }
}

/// A NetworkPolicy that may open traffic to or from everything (an `ipBlock` of `0.0.0.0/0`, a rule
/// without peers, a lone `namespaceSelector: {}`): `netpol/allow-all` stays quiet about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowAll {
    pub name: String,
    /// Empty: any namespace.
    pub namespace: String,
    /// The policy-file line that allows it.
    pub origin: Option<Origin>,
}

/// Which resource names (`cpu`, `memory`, ...) every container must request or limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Required {
    pub names: Vec<String>,
    /// The policy line that set the list, if a policy did.
    pub origin: Option<Origin>,
}

impl Default for Required {
    fn default() -> Self {
        Required {
            names: vec!["cpu".into(), "memory".into()],
            origin: None,
        }
    }
}

/// The policy in force for one environment.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Rule code -> severity (or `None`: the rule is off), with the policy line that set it. Only the
    /// codes a policy mentions (directly or by `family/*`) are here; the others keep their default.
    pub severities: BTreeMap<Code, (Option<Severity>, Option<Origin>)>,
    /// Registries (prefixes such as `ghcr.io/openimsdk/` or `docker.io/library/`) images may come from;
    /// empty: any registry.
    pub allowed_registries: Vec<String>,
    /// Objects that exist outside the rendered tree.
    pub external: Vec<External>,
    /// Kinds with no vendored schema that are allowed anyway, as `<apiVersion>|<Kind>`.
    pub allowed_kinds: Vec<String>,
    /// Image names a build tool among the checked files builds and replaces with what it built (a
    /// skaffold artifact): untagged in the manifests, tagged when deployed.
    pub built_images: Vec<String>,
    /// Whether the environment asks for high availability (replicas, PodDisruptionBudgets, spreading).
    pub high_availability: bool,
    /// The policy line that set `highAvailability`.
    pub high_availability_origin: Option<Origin>,
    /// Whether third-party images must be pinned by digest (not only by tag).
    pub require_digests: bool,
    /// The policy line that set `requireDigests`.
    pub require_digests_origin: Option<Origin>,
    /// Resource requests every container and init container must set.
    pub requests: Required,
    /// Resource limits every container and init container must set.
    pub limits: Required,
    /// The policy file's waivers that apply to this environment.
    pub waivers: Vec<Waiver>,
    /// NetworkPolicies allowed to open traffic wide.
    pub allow_all: Vec<AllowAll>,
    /// The user policies of `policies/` (CEL, admission policies, Rego), shared by every environment.
    pub user: std::sync::Arc<crate::check::custom::UserPolicies>,
}

impl Policy {
    /// The severity of a rule's findings: `None` when the policy turns the rule off.
    pub fn severity(&self, code: Code, default: Severity) -> Option<Severity> {
        match self.severities.get(&code) {
            Some((s, _)) => *s,
            None => Some(default),
        }
    }

    /// Whether the policy sets the rule's severity (then it overrides what the rule emits).
    pub fn sets_severity(&self, code: Code) -> bool {
        self.severities.contains_key(&code)
    }

    /// Whether a kind without a vendored schema is allowed.
    pub fn allows_kind(&self, api_version: &str, kind: &str) -> bool {
        let key = format!("{api_version}|{kind}");
        self.allowed_kinds.contains(&key)
    }
}

/// Which objects a waiver covers: every given field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

impl Selector {
    pub fn matches(&self, id: &ResId) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == id.kind)
            && self.name.as_ref().is_none_or(|n| *n == id.name)
            && self.namespace.as_ref().is_none_or(|n| *n == id.namespace)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(k) = &self.kind {
            parts.push(format!("kind {k}"));
        }
        if let Some(n) = &self.name {
            parts.push(format!("name {n}"));
        }
        if let Some(n) = &self.namespace {
            parts.push(format!("namespace {n}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// A waiver: findings of one rule about the objects it selects are accepted until a date, for a reason.
#[derive(Clone, Debug)]
pub struct Waiver {
    pub code: Code,
    /// For policy-file waivers; annotation waivers cover the object that carries them.
    pub target: Selector,
    pub reason: String,
    pub until: Date,
    /// The waiver's entry (policy file) or line (annotation).
    pub origin: Origin,
    pub until_origin: Origin,
}

/// A finding a waiver accepted.
#[derive(Clone, Debug)]
pub struct Waived {
    pub finding: Finding,
    pub reason: String,
    pub until: Date,
    pub waiver: Origin,
}

/// Tracks waivers over every environment of a run, so that an expired or unused one is reported once.
#[derive(Default)]
pub struct Ledger {
    /// By (origin start, file, code): the waiver, whether it was used, where it applied.
    waivers: BTreeMap<(u32, u32, Code), (Waiver, bool)>,
    invalid: BTreeMap<(u32, u32), Finding>,
}

/// Parses one line of the waive annotation: `<code> until=<YYYY-MM-DD>: <reason>`.
pub fn parse_annotation_line(line: &str) -> Result<(String, Date, String), String> {
    let line = line.trim();
    let (head, reason) = line
        .split_once(':')
        .ok_or_else(|| "a waiver line is `<code> until=<YYYY-MM-DD>: <reason>`".to_string())?;
    let mut words = head.split_whitespace();
    let code = words.next().unwrap_or_default().to_string();
    let until = words
        .next()
        .and_then(|w| w.strip_prefix("until="))
        .ok_or_else(|| format!("the waiver of `{code}` has no `until=<YYYY-MM-DD>` expiry"))?;
    if words.next().is_some() {
        return Err("a waiver line is `<code> until=<YYYY-MM-DD>: <reason>`".to_string());
    }
    let until =
        Date::parse(until).ok_or_else(|| format!("`{until}` is not a date (YYYY-MM-DD)"))?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(format!("the waiver of `{code}` gives no reason after `:`"));
    }
    Ok((code, until, reason.to_string()))
}

/// The origin of the `i`-th non-empty line (0-based) of a block scalar, else the scalar's own origin.
/// A literal block keeps its lines one to one, so the source lines inside the node's span are its lines.
fn line_origin(sources: &Sources, node: &Node, i: usize) -> Origin {
    let file = sources.get(node.origin.file);
    let text = &file.text;
    let start = (node.origin.start as usize).min(text.len());
    // The span starts at the `|` indicator or at the first content line, depending on the parser.
    let mut pos = if text[start..].starts_with(['|', '>']) {
        match text[start..].find('\n') {
            Some(p) => start + p + 1,
            None => return node.origin,
        }
    } else {
        let line_start = text[..start].rfind('\n').map(|p| p + 1).unwrap_or(0);
        if !text[line_start..start].trim().is_empty() {
            // A flow scalar (`key: "..."`): one source line, or folded lines that map to no line.
            return node.origin;
        }
        line_start
    };
    let mut seen = 0;
    while pos < text.len() && pos < node.origin.end as usize {
        let line_end = text[pos..]
            .find('\n')
            .map(|p| pos + p)
            .unwrap_or(text.len());
        let line = &text[pos..line_end];
        if !line.trim().is_empty() {
            if seen == i {
                let indent = line.len() - line.trim_start().len();
                let s = pos + indent;
                let (l, c) = file.line_col(s);
                return Origin {
                    file: node.origin.file,
                    start: s as u32,
                    end: line_end as u32,
                    line: l,
                    col: c,
                };
            }
            seen += 1;
        }
        pos = line_end + 1;
    }
    node.origin
}

/// A waiver that has not expired: its key in [`Ledger`], the waiver, and the object of an annotation.
type ActiveWaiver = ((u32, u32, Code), Waiver, Option<ResId>);

/// Every expiry date of the waivers that apply to `resources` under `policy`: the policy's and the
/// waive annotations' (a line that does not parse is a finding whatever the date). A verdict on the
/// same objects and policy can change only on these dates.
pub fn waiver_expiries(policy: &Policy, resources: &[Resource]) -> Vec<Date> {
    let mut out: Vec<Date> = policy.waivers.iter().map(|w| w.until).collect();
    for r in resources {
        let Some(node) = r.node.path(&["metadata", "annotations", WAIVE_ANNOTATION]) else {
            continue;
        };
        if let Value::Str(text) = &node.value {
            out.extend(
                text.lines()
                    .filter_map(|line| parse_annotation_line(line).ok())
                    .map(|(_, until, _)| until),
            );
        }
    }
    out
}

impl Ledger {
    /// Applies the waivers of `ctx` (policy file and annotations) to the findings of one environment.
    /// Returns the findings that stand and the ones waived.
    pub fn apply(
        &mut self,
        ctx: &Context<'_>,
        findings: Vec<Finding>,
        today: Date,
        known: &dyn Fn(&str) -> Option<Code>,
    ) -> (Vec<Finding>, Vec<Waived>) {
        let mut waivers: Vec<(Waiver, Option<ResId>)> = ctx
            .policy
            .waivers
            .iter()
            .map(|w| (w.clone(), None))
            .collect();
        for r in ctx.resources {
            let Some(node) = r.node.path(&["metadata", "annotations", WAIVE_ANNOTATION]) else {
                continue;
            };
            let Value::Str(text) = &node.value else {
                self.invalid_at(node.origin, "the waive annotation must be a string".into());
                continue;
            };
            for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                let origin = line_origin(ctx.sources, node, i);
                match parse_annotation_line(line) {
                    Ok((text, until, reason)) => match known(&text) {
                        Some(code) => waivers.push((
                            Waiver {
                                code,
                                target: Selector::default(),
                                reason,
                                until,
                                origin,
                                until_origin: origin,
                            },
                            Some(r.id()),
                        )),
                        None => self.invalid_at(origin, format!("`{text}` is not a rule code")),
                    },
                    Err(e) => self.invalid_at(origin, e),
                }
            }
        }
        let mut active: Vec<ActiveWaiver> = Vec::new();
        for (w, object) in waivers {
            let key = (w.origin.file.0, w.origin.start, w.code);
            self.waivers.entry(key).or_insert((w.clone(), false));
            if w.until >= today {
                active.push((key, w, object));
            }
        }
        // The first active waiver that covers a finding: the policy file's of its code, in order (they
        // come first), else the annotation of its object for its code.
        let mut by_code: HashMap<Code, Vec<&ActiveWaiver>> = HashMap::new();
        let mut by_object: HashMap<(Code, &ResId), &ActiveWaiver> = HashMap::new();
        for a in &active {
            match &a.2 {
                None => by_code.entry(a.1.code).or_default().push(a),
                Some(id) => {
                    by_object.entry((a.1.code, id)).or_insert(a);
                }
            }
        }
        let mut kept = Vec::new();
        let mut waived = Vec::new();
        for f in findings {
            let hit = f.resource.as_ref().and_then(|id| {
                by_code
                    .get(&f.code())
                    .and_then(|ws| ws.iter().find(|(_, w, _)| w.target.matches(id)))
                    .or_else(|| by_object.get(&(f.code(), id)))
                    .copied()
            });
            match hit {
                Some((key, w, _)) => {
                    if let Some(entry) = self.waivers.get_mut(key) {
                        entry.1 = true;
                    }
                    waived.push(Waived {
                        finding: f,
                        reason: w.reason.clone(),
                        until: w.until,
                        waiver: w.origin,
                    });
                }
                None => kept.push(f),
            }
        }
        (kept, waived)
    }

    fn invalid_at(&mut self, origin: Origin, message: String) {
        self.invalid
            .entry((origin.file.0, origin.start))
            .or_insert_with(|| {
                let mut f = Finding::of(PolicyCode::InvalidWaiver, origin, message);
                f.help = Some(format!(
                    "write one waiver per line of the `{WAIVE_ANNOTATION}` annotation: `<code> until=<YYYY-MM-DD>: <reason>`"
                ));
                f
            });
    }

    /// The findings about the waivers themselves: invalid, expired, unused. Call once all environments
    /// are checked.
    pub fn finish(self, today: Date) -> Vec<Finding> {
        let mut out: Vec<Finding> = self.invalid.into_values().collect();
        for (_, (w, used)) in self.waivers {
            if w.until < today {
                let mut f = Finding::of(
                    PolicyCode::ExpiredWaiver,
                    w.until_origin,
                    format!("the waiver of `{}` expired on {}", w.code, w.until),
                );
                f.related
                    .push((w.origin, format!("waived because: {}", w.reason)));
                f.help = Some(
                    "fix what the rule reports and remove the waiver, or agree a new date and change it"
                        .into(),
                );
                out.push(f);
            } else if !used {
                let what = if w.target == Selector::default() {
                    "this object".to_string()
                } else {
                    w.target.to_string()
                };
                let mut f = Finding::of(
                    PolicyCode::UnusedWaiver,
                    w.origin,
                    format!("the waiver of `{}` for {what} matches no finding", w.code),
                );
                f.help = Some(
                    "the problem is gone (remove the waiver) or the waiver names the wrong object"
                        .into(),
                );
                out.push(f);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            Date::parse("2026-02-28").map(|d| d.to_string()),
            Some("2026-02-28".into())
        );
        assert!(Date::parse("2026-02-29").is_none());
        assert!(Date::parse("2028-02-29").is_some());
        assert!(Date::parse("2026-13-01").is_none());
        assert!(Date::parse("2026-1-01").is_none());
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_454).to_string(), "2026-01-01");
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
    }

    #[test]
    fn annotation_lines() {
        let (code, until, reason) = parse_annotation_line(
            "resources/missing-limits until=2026-06-30: bursts; VPA sets them",
        )
        .unwrap();
        assert_eq!(code, "resources/missing-limits");
        assert_eq!(until.to_string(), "2026-06-30");
        assert_eq!(reason, "bursts; VPA sets them");
        assert!(parse_annotation_line("resources/missing-limits until=2026-06-30:").is_err());
        assert!(parse_annotation_line("resources/missing-limits: no date").is_err());
        assert!(parse_annotation_line("resources/missing-limits until=2026-06-31: x").is_err());
    }
}
