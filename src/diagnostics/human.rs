//! The human form: miette reports with the source line, for errors and for findings. Every use of
//! miette lives here.
//!
//! A source snippet quotes a file as `crate::check::redact` lets it be quoted: values of Secrets and values
//! the `secrets/` rules flag are masked, and a `secrets/` finding is shown without its line at all.

use std::cell::RefCell;
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

mod plain;

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

/// The width reports are laid out in.
const WIDTH: usize = 110;

/// Renders reports as miette does with [`WIDTH`], for less. miette wraps every message and help text
/// with textwrap (Unicode line breaking for every line), which costs more than the rest of a report,
/// though nearly every line fits. So the texts are laid out here, with textwrap only for a line that does
/// not fit, and handed to a handler that indents without wrapping; a text that would come out
/// differently that way (a blank line, trailing spaces) leaves its report to the wrapping handler.
struct Printer {
    wrapping: GraphicalReportHandler,
    flat: GraphicalReportHandler,
    /// The flat handler's output for uncoloured reports of the shapes it knows, without miette.
    plain: Option<plain::Plain>,
    /// Layouts of texts that do not fit, by their indents and [`letters_alike`] form.
    wrapped: RefCell<HashMap<(usize, usize, String), Option<String>>>,
    /// Display widths of the indents before a message's first line and the lines after, per severity
    /// (error, warning, advice), and before a help text's lines.
    cause: [(usize, usize); 3],
    help: (usize, usize),
}

/// How a text is handed to the flat handler.
enum Layout {
    /// As it is: every line fits.
    Fits,
    /// Broken into the lines textwrap breaks it into.
    Wrapped(String),
}

impl Printer {
    fn new(style: Style) -> Printer {
        let theme = if style.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let c = &theme.characters;
        // miette's indents: `  × ` then `  │ ` for a message, `  help: ` then eight spaces for help.
        let indent = |icon: &str| {
            (
                textwrap::core::display_width(&format!("  {icon} ")),
                textwrap::core::display_width(&format!("  {} ", c.vbar)),
            )
        };
        let cause = [indent(&c.error), indent(&c.warning), indent(&c.advice)];
        let plain = (!style.color).then(|| plain::Plain::new(c.clone()));
        let wrapping = GraphicalReportHandler::new_themed(theme)
            .with_width(WIDTH)
            .with_context_lines(1);
        Printer {
            flat: wrapping.clone().with_wrap_lines(false),
            wrapping,
            plain,
            wrapped: RefCell::new(HashMap::new()),
            cause,
            help: (8, 8),
        }
    }

    /// Renders `report` (its texts are swapped for their layout while it renders, and back).
    fn render(&self, out: &mut String, report: &mut Report) -> fmt::Result {
        self.render_with(out, report, true).map(|_| ())
    }

    /// Renders `report`, by [`plain::Plain`] if `plain` and it knows the shape: whether it did.
    fn render_with(
        &self,
        out: &mut String,
        report: &mut Report,
        plain: bool,
    ) -> Result<bool, fmt::Error> {
        let mut texts = Vec::new();
        if !self.lay_out(report, &mut texts) {
            return self.wrapping.render_report(out, report).map(|_| false);
        }
        swap(report, &mut texts.iter_mut());
        let done = match &self.plain {
            Some(p) if plain && p.render(out, report) => Ok(true),
            _ => self.flat.render_report(out, report).map(|_| false),
        };
        swap(report, &mut texts.iter_mut());
        done
    }

    /// The layout of each text of a report (message, help, then those of its related reports), or
    /// false if one cannot be handed to the flat handler.
    fn lay_out(&self, report: &Report, texts: &mut Vec<Layout>) -> bool {
        let cause = match report.severity {
            Severity::Error => self.cause[0],
            Severity::Warning => self.cause[1],
            Severity::Advice => self.cause[2],
        };
        let Some(message) = self.layout(&report.message, cause) else {
            return false;
        };
        texts.push(message);
        if let Some(help) = &report.help {
            let Some(help) = self.layout(help, self.help) else {
                return false;
            };
            texts.push(help);
        }
        report.related.iter().all(|r| self.lay_out(r, texts))
    }

    /// [`layout`], the same for texts that differ only in their ASCII letters and digits: textwrap
    /// breaks a text by the line-breaking classes and display widths of its characters, and every ASCII
    /// letter is of one class (alphabetic), every digit of another (numeric), all one column wide; it
    /// drops no character but spaces. So the layout of a text's [`letters_alike`] form, with the
    /// text's letters and digits put back in order, is the text's layout. (Messages that differ by a
    /// name, one per workload, are broken once.)
    fn layout(&self, text: &str, indents: (usize, usize)) -> Option<Layout> {
        if fits(text, indents) {
            return Some(Layout::Fits);
        }
        if !text.is_ascii() || text.contains('\x1b') {
            return layout(text, indents);
        }
        let mut cache = self.wrapped.borrow_mut();
        if cache.len() >= 1024 {
            cache.clear();
        }
        let alike = cache
            .entry((indents.0, indents.1, letters_alike(text)))
            .or_insert_with_key(|(_, _, alike)| match layout(alike, indents) {
                Some(Layout::Wrapped(t)) => Some(t),
                _ => None,
            });
        let alike = alike.as_deref()?;
        let mut own = text.bytes().filter(u8::is_ascii_alphanumeric);
        let mut out = String::with_capacity(alike.len());
        for c in alike.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(char::from(own.next()?));
            } else {
                out.push(c);
            }
        }
        if own.next().is_some() {
            return layout(text, indents);
        }
        Some(Layout::Wrapped(out))
    }
}

/// `text` with every ASCII letter made `a` and every digit `0`.
fn letters_alike(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' => 'a',
            '0'..='9' => '0',
            c => c,
        })
        .collect()
}

/// Swaps the texts [`Printer::lay_out`] wrapped with those of their report, in the order it laid them
/// out.
fn swap<'a>(report: &mut Report, texts: &mut impl Iterator<Item = &'a mut Layout>) {
    if let Some(Layout::Wrapped(t)) = texts.next() {
        std::mem::swap(&mut report.message, t);
    }
    if let Some(help) = &mut report.help {
        if let Some(Layout::Wrapped(t)) = texts.next() {
            std::mem::swap(help, t);
        }
    }
    for r in &mut report.related {
        swap(r, texts);
    }
}

/// How `text`, after indents of display widths `(first, rest)`, is handed to a handler that indents
/// each line without wrapping so that it prints what miette's wrapping prints: `textwrap::fill` with
/// those indents, [`WIDTH`] - 2 columns and the default options (first fit, words broken).
///
/// A line fits when it is not blank, does not end in a space (textwrap drops trailing spaces, the flat
/// handler keeps them) and is no wider than the columns left after the wider indent (textwrap gives the
/// first row of every line the columns after the first indent): then textwrap leaves it whole. Other
/// texts are filled with indents of spaces as wide as miette's (textwrap reads an indent only for its
/// width) and the indents taken off again; `None` when a row comes out blank, which the flat handler
/// would indent differently.
fn layout(text: &str, (first, rest): (usize, usize)) -> Option<Layout> {
    if fits(text, (first, rest)) {
        return Some(Layout::Fits);
    }
    let columns = WIDTH - 2;
    let (first, rest) = (" ".repeat(first), " ".repeat(rest));
    let options = textwrap::Options::new(columns)
        .initial_indent(&first)
        .subsequent_indent(&rest)
        .break_words(true);
    let filled = textwrap::fill(text, options);
    let mut out = String::with_capacity(filled.len());
    for (i, row) in filled.split('\n').enumerate() {
        let row = row.strip_prefix(if i == 0 { &first } else { &rest })?;
        if row.trim().is_empty() {
            return None;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(row);
    }
    Some(Layout::Wrapped(out))
}

/// Whether every line of `text` fits as it is (see [`layout`]).
fn fits(text: &str, (first, rest): (usize, usize)) -> bool {
    let room = (WIDTH - 2).saturating_sub(first.max(rest));
    text.split('\n').all(|line| {
        !line.ends_with(' ')
            && !line.trim().is_empty()
            && textwrap::core::display_width(line) <= room
    })
}

/// The human form of an error: one miette report per place.
pub fn render_error(sources: &Sources, err: &Error, style: Style) -> String {
    let mut reports = Vec::new();
    error_reports(&mut Quoted::new(sources), err, &mut reports);
    let printer = Printer::new(style);
    let mut out = String::new();
    for r in &mut reports {
        if printer.render(&mut out, r).is_err() {
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
    let printer = Printer::new(style);
    let mut out = String::new();
    finding_reports(sources, report, |r| {
        if printer.render(&mut out, r).is_err() {
            out.push_str(&r.message);
        }
        out.push('\n');
    });
    out.push_str(&summary_lines(report));
    out
}

/// The report of each finding, in the order they are printed.
fn finding_reports(sources: &Sources, report: &CheckReport, mut each: impl FnMut(&mut Report)) {
    let several = report.checked.len() > 1;
    let mut quoted = Quoted::new(sources);
    for g in group(sources, report) {
        let f = g.finding;
        let mut message = f.message.clone();
        if several && !g.envs.is_empty() {
            message.push_str(&format!(" [{}]", g.envs.join(", ")));
        }
        let mut r = located_report(
            &mut quoted,
            message,
            miette_severity(f.severity),
            Some(f.code().to_string()),
            f.help.clone(),
            (f.origin, String::new()),
            &f.related,
        );
        each(&mut r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(message: &str, severity: Severity, help: Option<&str>) -> Report {
        Report {
            message: message.to_string(),
            severity,
            code: Some("x/y".to_string()),
            help: help.map(str::to_string),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        }
    }

    /// Texts around every edge of the layout: lengths about the width, words longer than a line,
    /// hyphens, wide and zero-width characters, escapes, tabs, blank lines, trailing spaces.
    fn texts() -> Vec<String> {
        let mut out: Vec<String> = [
            "",
            " ",
            "a",
            "a\n",
            "\na",
            "a\n\nb",
            "a \nb",
            "a\n  \nb",
            "a\t\nb",
            "trailing ",
            "  leading",
            "no NetworkPolicy in namespace `openim-release` selects the pods of Deployment/app0000 for egress: that traffic is not restricted\n  at OUT/release/openim-release/deployment/app0000.yaml:4:9",
            "add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress, Egress]` and no rules, then allow what each workload needs in policies of its own",
            "\u{1b}[31mred\u{1b}[0m text",
            "密码密码 wide characters that take two columns each",
            "e\u{301}\u{301}\u{301} combining",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in 95..=112 {
            out.push("x".repeat(n));
            out.push(format!("{} tail", "y".repeat(n)));
            out.push(format!("{}-{}", "a".repeat(n / 2), "b".repeat(n / 2)));
            out.push(format!("{} {}", "w".repeat(n - 10), "z".repeat(9)));
            out.push(format!("{}密", "m".repeat(n - 2)));
            out.push(format!("first line\n{}", "s".repeat(n)));
            out.push(format!("{}\n{} b", "p".repeat(n), "q".repeat(n)));
            out.push(format!("{}   ", "t".repeat(n - 2)));
            out.push(format!("{} \u{1b}[1mbold\u{1b}[0m", "u".repeat(n - 6)));
        }
        // Twins: the same texts with other letters and digits, which the layout cache answers.
        let twins: Vec<String> = out
            .iter()
            .map(|t| {
                t.chars()
                    .map(|c| match c {
                        'a'..='m' | 'A'..='M' => char::from(c as u8 + 13),
                        'n'..='z' | 'N'..='Z' => char::from(c as u8 - 13),
                        '0'..='8' => char::from(c as u8 + 1),
                        '9' => '0',
                        c => c,
                    })
                    .collect()
            })
            .collect();
        out.extend(twins);
        out
    }

    #[test]
    fn reports_print_as_the_wrapping_handler_prints_them() {
        let texts = texts();
        for color in [false, true] {
            let printer = Printer::new(Style { color });
            for (i, text) in texts.iter().enumerate() {
                let help = &texts[(i * 7 + 3) % texts.len()];
                for severity in [Severity::Error, Severity::Warning, Severity::Advice] {
                    let mut r = report(text, severity, Some(help));
                    r.related.push(report(
                        &texts[(i * 5 + 1) % texts.len()],
                        Severity::Advice,
                        None,
                    ));
                    let mut expected = String::new();
                    printer.wrapping.render_report(&mut expected, &r).unwrap();
                    let mut got = String::new();
                    printer.render(&mut got, &mut r).unwrap();
                    assert_eq!(got, expected, "{text:?} / {help:?}");
                    assert_eq!(r.message, *text, "the report keeps its own text");
                }
            }
        }
    }

    #[test]
    fn texts_that_fit_are_left_whole_and_others_are_broken() {
        let printer = Printer::new(Style { color: false });
        let room = WIDTH - 2 - printer.cause[0].0;
        assert!(matches!(
            layout(&"x".repeat(room), printer.cause[0]),
            Some(Layout::Fits)
        ));
        assert!(matches!(
            layout(&format!("{} y", "x".repeat(room)), printer.cause[0]),
            Some(Layout::Wrapped(t)) if t == format!("{}\ny", "x".repeat(room))
        ));
        assert!(layout("a\n\nb", printer.cause[0]).is_none());
    }
}
