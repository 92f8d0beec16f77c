//! The JSON forms: `{errors}` for a tool failure, `{findings, waived, summary}` for a check.

use super::count;
use crate::check::Report as CheckReport;
use crate::check::{Finding, Severity as FindingSeverity};
use crate::error::Error;
use crate::node::{Origin, Sources};

/// The JSON form of an error: a list of `{message, file, line, column, help, related}`.
pub fn error_json(sources: &Sources, err: &Error) -> serde_json::Value {
    let mut list = Vec::new();
    collect_json(sources, err, &mut list);
    serde_json::json!({ "errors": list })
}

fn collect_json(sources: &Sources, err: &Error, list: &mut Vec<serde_json::Value>) {
    let place = |o: Origin| {
        serde_json::json!({
            "file": sources.get(o.file).display,
            "line": o.line,
            "column": o.col,
        })
    };
    match err {
        Error::At(l) => {
            let mut v = place(l.origin);
            v["message"] = l.message.clone().into();
            v["help"] = l.help.clone().into();
            v["related"] = l
                .related
                .iter()
                .map(|(o, label)| {
                    let mut r = place(*o);
                    r["message"] = label.clone().into();
                    r
                })
                .collect::<Vec<_>>()
                .into();
            list.push(v);
        }
        Error::Many(errors) => errors.iter().for_each(|e| collect_json(sources, e, list)),
        Error::Refused(inner) => collect_json(sources, inner, list),
        Error::Usage { message, help } => {
            list.push(serde_json::json!({ "message": message, "help": help }))
        }
        other => list.push(serde_json::json!({ "message": other.to_string() })),
    }
}

// The findings of `check`, written straight from these (no `serde_json::Value` in between: a report
// of thousands of findings would build and drop a map per finding and per place). Field order is
// output.

/// A place: file, start and end.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PlaceJson<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

impl<'a> PlaceJson<'a> {
    fn new(sources: &'a Sources, o: Origin) -> Self {
        let file = sources.get(o.file);
        let (end_line, end_column) = file.line_col(o.end as usize);
        PlaceJson {
            file: &file.display,
            line: o.line,
            column: o.col,
            end_line,
            end_column,
        }
    }
}

#[derive(serde::Serialize)]
struct ResourceJson<'a> {
    group: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedJson<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WaiverJson<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    reason: &'a str,
    until: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingJson<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    environment: Option<&'a str>,
    code: &'a str,
    severity: &'a str,
    message: &'a str,
    resource: Option<ResourceJson<'a>>,
    related: Vec<RelatedJson<'a>>,
    help: Option<&'a str>,
    /// Only for waived findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    waiver: Option<WaiverJson<'a>>,
}

impl<'a> FindingJson<'a> {
    fn new(sources: &'a Sources, env: Option<&'a str>, f: &'a Finding) -> Self {
        let at = PlaceJson::new(sources, f.origin);
        FindingJson {
            file: at.file,
            line: at.line,
            column: at.column,
            end_line: at.end_line,
            end_column: at.end_column,
            environment: env,
            code: f.code().as_str(),
            severity: f.severity.as_str(),
            message: &f.message,
            resource: f.resource.as_ref().map(|id| ResourceJson {
                group: &id.group,
                kind: &id.kind,
                namespace: &id.namespace,
                name: &id.name,
            }),
            related: f
                .related
                .iter()
                .map(|(o, label)| {
                    let at = PlaceJson::new(sources, *o);
                    RelatedJson {
                        file: at.file,
                        line: at.line,
                        column: at.column,
                        end_line: at.end_line,
                        end_column: at.end_column,
                        message: label,
                    }
                })
                .collect(),
            help: f.help.as_deref(),
            waiver: None,
        }
    }
}

#[derive(serde::Serialize)]
struct SummaryJson<'a> {
    environment: Option<&'a str>,
    resources: usize,
    errors: usize,
    warnings: usize,
    infos: usize,
    waived: usize,
    note: Option<&'a str>,
    /// Files a folder walk passed over, by reason.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    skipped: &'a std::collections::BTreeMap<&'static str, usize>,
}

/// The JSON form of a check report (see [`findings_json`]).
#[derive(serde::Serialize)]
pub struct FindingsJson<'a> {
    findings: Vec<FindingJson<'a>>,
    waived: Vec<FindingJson<'a>>,
    summary: Vec<SummaryJson<'a>>,
}

/// The JSON form: `{findings, waived, summary}`, one finding per environment it was found in.
pub fn findings_json<'a>(sources: &'a Sources, report: &'a CheckReport) -> FindingsJson<'a> {
    let findings = report
        .findings()
        .map(|(env, f)| FindingJson::new(sources, env, f))
        .collect();
    let mut waived = Vec::new();
    for c in &report.checked {
        for w in &c.waived {
            let mut v = FindingJson::new(sources, c.env.as_deref(), &w.finding);
            let by = PlaceJson::new(sources, w.waiver);
            v.waiver = Some(WaiverJson {
                file: by.file,
                line: by.line,
                column: by.column,
                end_line: by.end_line,
                end_column: by.end_column,
                reason: &w.reason,
                until: w.until.to_string(),
            });
            waived.push(v);
        }
    }
    let summary = report
        .checked
        .iter()
        .map(|c| SummaryJson {
            environment: c.env.as_deref(),
            resources: c.resources,
            errors: count(&c.findings, FindingSeverity::Error),
            warnings: count(&c.findings, FindingSeverity::Warning),
            infos: count(&c.findings, FindingSeverity::Info),
            waived: c.waived.len(),
            note: c.note.as_deref(),
            skipped: &c.skipped,
        })
        .collect();
    FindingsJson {
        findings,
        waived,
        summary,
    }
}
