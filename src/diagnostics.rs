//! The reporter: every use of miette lives here. Errors (and, later, findings) are plain data with
//! [`Origin`]s; this module turns them into human reports with the source line, or into JSON.
//!
//! A source snippet is shown only from files that hold no Secret object, so a report never prints a
//! secret's value, whatever the error.

use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity,
};

use crate::error::{Error, Located};
use crate::node::{Origin, Sources};

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

/// True when a file may be quoted in a report: it holds no Secret object.
fn may_quote(text: &str) -> bool {
    !text.lines().any(|l| {
        let t = l.trim();
        t.starts_with("kind:") && t["kind:".len()..].trim().trim_matches(['"', '\'']) == "Secret"
    })
}

struct Report {
    message: String,
    severity: Severity,
    code: Option<String>,
    help: Option<String>,
    source: Option<NamedSource<String>>,
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

fn span(o: Origin, text_len: usize) -> (usize, usize) {
    let start = (o.start as usize).min(text_len);
    let len = o.len().min(text_len - start);
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
    let quotable = may_quote(&file.text);
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
        report.source =
            Some(NamedSource::new(&file.display, file.text.to_string()).with_language("yaml"));
        let label = if primary.1.is_empty() {
            None
        } else {
            Some(primary.1.clone())
        };
        report.labels.push(LabeledSpan::new_primary_with_span(
            label,
            span(primary.0, file.text.len()),
        ));
    }
    for (o, label) in others {
        if o.file == primary.0.file && quotable {
            report.labels.push(LabeledSpan::new_with_span(
                Some(label.clone()),
                span(*o, file.text.len()),
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
