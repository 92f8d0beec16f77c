//! The human form: miette reports with the source line, for errors and for findings. Every use of
//! miette lives here.
//!
//! A source snippet quotes a file as `crate::check::redact` lets it be quoted: values of Secrets and values
//! the `secrets/` rules flag are masked, and a `secrets/` finding is shown without its line at all.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, Severity, SourceCode, SourceSpan, SpanContents,
};

use super::{group, location, summary_lines, Style};
use crate::check::redact;
use crate::check::Report as CheckReport;
use crate::check::Severity as FindingSeverity;
use crate::error::{Error, Located};
use crate::node::{FileId, Origin, Sources};

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
    text: Arc<str>,
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

/// Files as reports may quote them, redacted once for all the reports that quote them in a row
/// (redacting parses the file again). Reports come sorted by file, so a few recent files suffice.
struct Quoted<'a> {
    sources: &'a Sources,
    files: HashMap<FileId, Arc<str>>,
}

impl<'a> Quoted<'a> {
    fn new(sources: &'a Sources) -> Self {
        Quoted {
            sources,
            files: HashMap::new(),
        }
    }

    /// Files kept at most: a report's own and those of its related places.
    const KEEP: usize = 16;

    fn get(&mut self, file: FileId) -> Arc<str> {
        let sources = self.sources;
        if self.files.len() >= Self::KEEP && !self.files.contains_key(&file) {
            self.files.clear();
        }
        self.files
            .entry(file)
            .or_insert_with(|| redact::quotable(sources, file).into())
            .clone()
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
    quoted: &mut Quoted<'_>,
    message: String,
    severity: Severity,
    code: Option<String>,
    help: Option<String>,
    primary: (Origin, String),
    others: &[(Origin, String)],
) -> Report {
    let sources = quoted.sources;
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
            text: quoted.get(primary.0.file),
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
                quoted,
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

fn error_reports(quoted: &mut Quoted<'_>, err: &Error, out: &mut Vec<Report>) {
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
                quoted,
                message.clone(),
                Severity::Error,
                None,
                help.clone(),
                (*origin, label.clone()),
                related,
            ));
        }
        Error::Many(errors) => errors.iter().for_each(|e| error_reports(quoted, e, out)),
        Error::Refused(inner) => error_reports(quoted, inner, out),
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
    error_reports(&mut Quoted::new(sources), err, &mut reports);
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

fn miette_severity(s: FindingSeverity) -> Severity {
    match s {
        FindingSeverity::Error => Severity::Error,
        FindingSeverity::Warning => Severity::Warning,
        FindingSeverity::Info => Severity::Advice,
    }
}

/// The human form: a miette report per finding, the primary label at the line that produced the value
/// and further labels at the policy or patch lines involved, then a summary line per environment.
pub fn findings_human(sources: &Sources, report: &CheckReport, style: Style) -> String {
    let h = handler(style);
    let mut out = String::new();
    let several = report.checked.len() > 1;
    let mut quoted = Quoted::new(sources);
    for g in group(sources, report) {
        let f = g.finding;
        let mut message = f.message.clone();
        if several && !g.envs.is_empty() {
            message.push_str(&format!(" [{}]", g.envs.join(", ")));
        }
        let r = located_report(
            &mut quoted,
            message,
            miette_severity(f.severity),
            Some(f.code().to_string()),
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
