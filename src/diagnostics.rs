//! The reporter: every use of miette lives here. Errors (and, later, findings) are plain data with
//! [`Origin`]s; this module turns them into human reports with the source line, or into JSON.
//!
//! A source snippet quotes a file as `crate::redact` lets it be quoted: values of Secrets and values
//! the `secrets/` rules flag are masked, so a report never prints a secret's value, whatever the error.

use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, Severity, SourceCode, SourceSpan, SpanContents,
};

use crate::error::{Error, Located};
use crate::node::{Origin, Sources};
use crate::redact;

/// How to print: colours or not.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour only on a terminal and only when `NO_COLOR` is unset.
    pub fn detect(is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: is_terminal && !no_color,
        }
    }
}

/// `file:line:column` of an origin.
pub fn location(sources: &Sources, o: Origin) -> String {
    format!("{}:{}:{}", sources.get(o.file).display, o.line, o.col)
}

struct Report {
    message: String,
    severity: Severity,
    code: Option<String>,
    help: Option<String>,
    source: Option<Snippet>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Report {}

impl Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.source.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)))
    }
}

/// The widest source line a report quotes whole; a longer line (a minified JSON file, a 1 MB one-line
/// file) is quoted as a window of this many bytes around the place reported.
pub const SNIPPET_WIDTH: usize = 160;

/// A file as a report may quote it (already redacted), cut to [`SNIPPET_WIDTH`] where a line is longer.
struct Snippet {
    name: String,
    text: String,
    /// Where the reported place starts: the window of a long line is cut around it.
    focus: usize,
}

impl Snippet {
    /// The start and end of the line holding `offset`.
    fn line_of(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        (start, end)
    }

    fn floor(&self, mut i: usize) -> usize {
        i = i.min(self.text.len());
        while !self.text.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let whole = self.text.read_span(span, before, after)?;
        let data = whole.data();
        if data
            .split(|b| *b == b'\n')
            .all(|l| l.len() <= SNIPPET_WIDTH)
        {
            return Ok(Box::new(MietteSpanContents::new_named(
                self.name.clone(),
                data,
                *whole.span(),
                whole.line(),
                whole.column(),
                whole.line_count(),
            )));
        }
        // The reported place's line alone, cut to a window that starts a little before it.
        let focus = if (span.offset()..=span.offset() + span.len()).contains(&self.focus) {
            self.focus
        } else {
            span.offset()
        };
        let (line_start, line_end) = self.line_of(focus);
        let from = self.floor(focus.saturating_sub(SNIPPET_WIDTH / 4).max(line_start));
        let to = self.floor((from + SNIPPET_WIDTH).min(line_end));
        let line = self.text[..line_start].matches('\n').count();
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            &self.text.as_bytes()[from..to],
            SourceSpan::new(from.into(), to - from),
            line,
            self.text[line_start..from].chars().count(),
            1,
        )))
    }
}

/// The span of an origin, for a label: whole, unless its line is too long to quote, in which case it
/// is cut to fit the window [`Snippet`] quotes.
fn span(o: Origin, text: &str) -> (usize, usize) {
    let start = (o.start as usize).min(text.len());
    let len = o.len().min(text.len() - start);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if line_end - line_start > SNIPPET_WIDTH {
        return (start, len.min(line_end - start).min(SNIPPET_WIDTH / 2));
    }
    (start, len)
}

/// A report about `primary`, with further places: those in the same file become labels, the others
/// related reports.
fn located_report(
    sources: &Sources,
    message: String,
    severity: Severity,
    code: Option<String>,
    help: Option<String>,
    primary: (Origin, String),
    others: &[(Origin, String)],
) -> Report {
    let file = sources.get(primary.0.file);
    // A secrets finding is never shown with its line: the line is where the value is. Any other snippet
    // is the file as the redaction rule lets it be quoted.
    let quotable = !code.as_deref().is_some_and(|c| c.starts_with("secrets/"));
    let message = format!("{message}\n  at {}", location(sources, primary.0));
    let mut report = Report {
        message,
        severity,
        code,
        help,
        source: None,
        labels: Vec::new(),
        related: Vec::new(),
    };
    if quotable {
        report.source = Some(Snippet {
            name: file.display.clone(),
            text: redact::quotable(sources, primary.0.file),
            focus: primary.0.start as usize,
        });
        let label = if primary.1.is_empty() {
            None
        } else {
            Some(primary.1.clone())
        };
        report.labels.push(LabeledSpan::new_primary_with_span(
            label,
            span(primary.0, &file.text),
        ));
    }
    for (o, label) in others {
        if o.file == primary.0.file && quotable {
            report.labels.push(LabeledSpan::new_with_span(
                Some(label.clone()),
                span(*o, &file.text),
            ));
        } else {
            report.related.push(located_report(
                sources,
                label.clone(),
                Severity::Advice,
                None,
                None,
                (*o, label.clone()),
                &[],
            ));
        }
    }
    report
}

fn error_reports(sources: &Sources, err: &Error, out: &mut Vec<Report>) {
    match err {
        Error::At(l) => {
            let Located {
                message,
                origin,
                label,
                help,
                related,
            } = l.as_ref();
            out.push(located_report(
                sources,
                message.clone(),
                Severity::Error,
                None,
                help.clone(),
                (*origin, label.clone()),
                related,
            ));
        }
        Error::Many(errors) => errors.iter().for_each(|e| error_reports(sources, e, out)),
        Error::Refused(inner) => error_reports(sources, inner, out),
        Error::Usage { message, help } => out.push(Report {
            message: message.clone(),
            severity: Severity::Error,
            code: None,
            help: help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        }),
        other => out.push(Report {
            message: other.to_string(),
            severity: Severity::Error,
            code: None,
            help: None,
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        }),
    }
}

fn handler(style: Style) -> GraphicalReportHandler {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_width(110)
        .with_context_lines(1)
}

/// The human form of an error: one miette report per place.
pub fn render_error(sources: &Sources, err: &Error, style: Style) -> String {
    let mut reports = Vec::new();
    error_reports(sources, err, &mut reports);
    let h = handler(style);
    let mut out = String::new();
    for r in &reports {
        if h.render_report(&mut out, r).is_err() {
            out.push_str(&r.message);
            out.push('\n');
        }
    }
    out
}

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

// ---------------------------------------------------------------------------------------------------
// Findings of `check`: human (miette), JSON, SARIF 2.1.0 and GitHub workflow commands.

use std::collections::BTreeMap;

use crate::check::Report as CheckReport;
use crate::check::{Finding, Severity as FindingSeverity};
use crate::node::FileRole;

fn miette_severity(s: FindingSeverity) -> Severity {
    match s {
        FindingSeverity::Error => Severity::Error,
        FindingSeverity::Warning => Severity::Warning,
        FindingSeverity::Info => Severity::Advice,
    }
}

/// A finding and the environments it was found in: the same finding at the same source line in several
/// environments is reported once.
struct Group<'a> {
    finding: &'a Finding,
    envs: Vec<&'a str>,
}

fn group<'a>(sources: &Sources, report: &'a CheckReport) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut index: BTreeMap<(&'a str, u32, u32, u32, &'a str), usize> = BTreeMap::new();
    for (env, f) in report.findings() {
        let key = (
            f.code,
            f.origin.file.0,
            f.origin.start,
            f.origin.end,
            f.message.as_str(),
        );
        match index.get(&key) {
            Some(&i) => {
                if let Some(e) = env {
                    groups[i].envs.push(e);
                }
            }
            None => {
                index.insert(key, groups.len());
                groups.push(Group {
                    finding: f,
                    envs: env.into_iter().collect(),
                });
            }
        }
    }
    groups.sort_by(|a, b| {
        let (fa, fb) = (a.finding, b.finding);
        (
            &sources.get(fa.origin.file).display,
            fa.origin.line,
            fa.origin.col,
            fa.code,
        )
            .cmp(&(
                &sources.get(fb.origin.file).display,
                fb.origin.line,
                fb.origin.col,
                fb.code,
            ))
    });
    groups
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn count(findings: &[Finding], s: FindingSeverity) -> usize {
    findings.iter().filter(|f| f.severity == s).count()
}

/// One line per environment: `release: 2 errors, 1 warning in 3 of 57 resources (1 waived)`.
fn summary_lines(report: &CheckReport) -> String {
    let mut out = String::new();
    for c in &report.checked {
        let name = c.env.as_deref().unwrap_or("files");
        let waived = if c.waived.is_empty() {
            String::new()
        } else {
            format!(" ({} waived)", c.waived.len())
        };
        let note = c
            .note
            .as_ref()
            .map(|n| format!("\n  note: {n}"))
            .unwrap_or_default();
        if c.findings.is_empty() {
            out.push_str(&format!(
                "{name}: no findings in {}{waived}{note}\n",
                plural(c.resources, "resource")
            ));
            continue;
        }
        let mut objects: Vec<&crate::resource::ResId> = c
            .findings
            .iter()
            .filter_map(|f| f.resource.as_ref())
            .collect();
        objects.sort();
        objects.dedup();
        let mut parts = vec![
            plural(count(&c.findings, FindingSeverity::Error), "error"),
            plural(count(&c.findings, FindingSeverity::Warning), "warning"),
        ];
        let infos = count(&c.findings, FindingSeverity::Info);
        if infos > 0 {
            parts.push(plural(infos, "note"));
        }
        out.push_str(&format!(
            "{name}: {} in {} of {}{waived}{note}\n",
            parts.join(", "),
            objects.len(),
            plural(c.resources, "resource")
        ));
    }
    if !report.waivers.is_empty() {
        out.push_str(&format!(
            "waivers: {}, {}\n",
            plural(count(&report.waivers, FindingSeverity::Error), "error"),
            plural(count(&report.waivers, FindingSeverity::Warning), "warning")
        ));
    }
    out
}

/// The human form: a miette report per finding, the primary label at the line that produced the value
/// and further labels at the policy or patch lines involved, then a summary line per environment.
pub fn findings_human(sources: &Sources, report: &CheckReport, style: Style) -> String {
    let h = handler(style);
    let mut out = String::new();
    let several = report.checked.len() > 1;
    for g in group(sources, report) {
        let f = g.finding;
        let mut message = f.message.clone();
        if several && !g.envs.is_empty() {
            message.push_str(&format!(" [{}]", g.envs.join(", ")));
        }
        let r = located_report(
            sources,
            message,
            miette_severity(f.severity),
            Some(f.code.to_string()),
            f.help.clone(),
            (f.origin, String::new()),
            &f.related,
        );
        if h.render_report(&mut out, &r).is_err() {
            out.push_str(&r.message);
        }
        out.push('\n');
    }
    out.push_str(&summary_lines(report));
    out
}

// The JSON form is written straight from these (no `serde_json::Value` in between: a report of
// thousands of findings would build and drop a map per finding and per place). Field order is output.

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
            code: f.code,
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

fn sarif_level(s: FindingSeverity) -> &'static str {
    match s {
        FindingSeverity::Error => "error",
        FindingSeverity::Warning => "warning",
        FindingSeverity::Info => "note",
    }
}

fn sarif_location(sources: &Sources, o: Origin) -> serde_json::Value {
    let file = sources.get(o.file);
    let (end_line, end_col) = file.line_col(o.end as usize);
    let artifact = if file.display.starts_with('/') {
        serde_json::json!({ "uri": format!("file://{}", file.display) })
    } else {
        serde_json::json!({ "uri": file.display, "uriBaseId": "%SRCROOT%" })
    };
    let mut region = serde_json::json!({ "startLine": o.line, "startColumn": o.col });
    if (end_line, end_col) >= (o.line, o.col) {
        region["endLine"] = end_line.into();
        region["endColumn"] = end_col.into();
    }
    serde_json::json!({ "physicalLocation": { "artifactLocation": artifact, "region": region } })
}

/// A fingerprint that survives unrelated edits: code, file, object and message, no line numbers.
pub fn fingerprint(sources: &Sources, f: &Finding) -> String {
    use sha2::{Digest, Sha256};
    static LINES: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = LINES.get_or_init(|| regex::Regex::new(r"(:\d+(:\d+)?\b)|(\blines? \d+)").ok());
    let message = match re {
        Some(re) => re.replace_all(&f.message, "").into_owned(),
        None => f.message.clone(),
    };
    let object = f
        .resource
        .as_ref()
        .map(|id| format!("{}/{}/{}/{}", id.group, id.kind, id.namespace, id.name))
        .unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        f.code,
        sources.get(f.origin.file).display.as_str(),
        &object,
        &message,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SARIF 2.1.0 form: one run, a rule entry per code, one result per finding (the same finding in
/// several environments once, with `properties.environments`), waived findings with a suppression.
pub fn findings_sarif(sources: &Sources, report: &CheckReport) -> serde_json::Value {
    let rules = crate::check::rules();
    let rule_index = |code: &str| rules.iter().position(|r| r.code == code);
    let rule_entries: Vec<_> = rules
        .iter()
        .map(|r| {
            let anchor = r.code.replace('/', "");
            serde_json::json!({
                "id": r.code,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.summary },
                "help": {
                    "text": format!("{}. What it checks, why, and a bad and a good example: docs/checks.md#{anchor}", r.summary),
                    "markdown": format!("{}.\n\nWhat it checks, why, and a bad and a good example: [docs/checks.md](docs/checks.md#{anchor})", r.summary),
                },
                "defaultConfiguration": { "level": sarif_level(r.default_severity) },
                "properties": { "tags": [r.code.split('/').next().unwrap_or("")] },
            })
        })
        .collect();
    let result = |f: &Finding, envs: &[&str]| {
        let mut v = serde_json::json!({
            "ruleId": f.code,
            "level": sarif_level(f.severity),
            "message": { "text": f.message },
            "locations": [sarif_location(sources, f.origin)],
            "partialFingerprints": { "openimGitops/v1": fingerprint(sources, f) },
        });
        if let Some(i) = rule_index(f.code) {
            v["ruleIndex"] = i.into();
        }
        if !f.related.is_empty() {
            v["relatedLocations"] = f
                .related
                .iter()
                .enumerate()
                .map(|(i, (o, label))| {
                    let mut l = sarif_location(sources, *o);
                    l["id"] = i.into();
                    l["message"] = serde_json::json!({ "text": label });
                    l
                })
                .collect::<Vec<_>>()
                .into();
        }
        let mut props = serde_json::Map::new();
        if !envs.is_empty() {
            props.insert("environments".into(), envs.into());
        }
        if let Some(id) = &f.resource {
            props.insert("resource".into(), id.to_string().into());
        }
        if let Some(h) = &f.help {
            props.insert("help".into(), h.clone().into());
        }
        if !props.is_empty() {
            v["properties"] = props.into();
        }
        v
    };
    let mut results: Vec<serde_json::Value> = group(sources, report)
        .iter()
        .map(|g| result(g.finding, &g.envs))
        .collect();
    for c in &report.checked {
        for w in &c.waived {
            let envs: Vec<&str> = c.env.as_deref().into_iter().collect();
            let mut v = result(&w.finding, &envs);
            let kind = if sources.get(w.waiver.file).role == FileRole::Policy {
                "external"
            } else {
                "inSource"
            };
            v["suppressions"] = serde_json::json!([{
                "kind": kind,
                "status": "accepted",
                "justification": format!("{} (until {})", w.reason, w.until),
                "location": sarif_location(sources, w.waiver),
            }]);
            results.push(v);
        }
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "openim-gitops",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_entries,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_escape_property(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn gh_command(
    level: &str,
    place: Option<(&Sources, Origin)>,
    title: Option<&str>,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some((sources, o)) = place {
        let file = sources.get(o.file);
        let (end_line, end_col) = file.line_col(o.end as usize);
        props.push(format!("file={}", gh_escape_property(&file.display)));
        props.push(format!("line={}", o.line));
        props.push(format!("col={}", o.col));
        if end_line >= o.line {
            props.push(format!("endLine={end_line}"));
            if end_line == o.line {
                props.push(format!("endColumn={end_col}"));
            }
        }
    }
    if let Some(t) = title {
        props.push(format!("title={}", gh_escape_property(t)));
    }
    let sep = if props.is_empty() { "" } else { " " };
    format!(
        "::{level}{sep}{}::{}\n",
        props.join(","),
        gh_escape_data(message)
    )
}

/// GitHub Actions workflow commands: one annotation per finding, then the summary lines.
pub fn findings_github(sources: &Sources, report: &CheckReport) -> String {
    let mut out = String::new();
    for g in group(sources, report) {
        let f = g.finding;
        let level = match f.severity {
            FindingSeverity::Error => "error",
            FindingSeverity::Warning => "warning",
            FindingSeverity::Info => "notice",
        };
        let mut message = f.message.clone();
        if !g.envs.is_empty() {
            message.push_str(&format!(" [{}]", g.envs.join(", ")));
        }
        for (o, label) in &f.related {
            message.push_str(&format!("\n{}: {label}", location(sources, *o)));
        }
        if let Some(h) = &f.help {
            message.push_str(&format!("\nhelp: {h}"));
        }
        out.push_str(&gh_command(
            level,
            Some((sources, f.origin)),
            Some(f.code),
            &message,
        ));
    }
    out.push_str(&summary_lines(report));
    out
}

/// A tool failure as GitHub workflow commands.
pub fn error_github(sources: &Sources, err: &Error) -> String {
    let mut out = String::new();
    collect_github(sources, err, &mut out);
    out
}

fn collect_github(sources: &Sources, err: &Error, out: &mut String) {
    match err {
        Error::At(l) => {
            let mut message = l.message.clone();
            if let Some(h) = &l.help {
                message.push_str(&format!("\nhelp: {h}"));
            }
            out.push_str(&gh_command(
                "error",
                Some((sources, l.origin)),
                None,
                &message,
            ));
        }
        Error::Many(errors) => errors.iter().for_each(|e| collect_github(sources, e, out)),
        Error::Usage { message, help } => {
            let mut m = message.clone();
            if let Some(h) = help {
                m.push_str(&format!("\nhelp: {h}"));
            }
            out.push_str(&gh_command("error", None, None, &m));
        }
        other => out.push_str(&gh_command("error", None, None, &other.to_string())),
    }
}
