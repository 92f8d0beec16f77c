//! Uncoloured reports printed as miette's graphical handler prints them (unicode theme, one line of
//! context, texts already laid out by [`super::Printer`]), for the shapes this renderer knows: labels
//! that each lie on one line, with one-line texts, in a file with `\n` line ends and no line longer than
//! [`SNIPPET_WIDTH`]. miette finds a label's line by reading the file from its start, several times
//! per label; here the file's line ends are found once for all the reports that quote it.
//!
//! Any other shape (colour, a label over several lines, a window of a long line, a carriage return)
//! returns false and leaves the report to miette, which is also the oracle of the tests.

use std::cell::RefCell;
use std::fmt::Write;
use std::sync::Arc;

use miette::{LabeledSpan, Severity, ThemeCharacters};
use unicode_width::UnicodeWidthChar;

use super::{Report, Snippet, SNIPPET_WIDTH};

/// miette's tab stops.
const TAB_WIDTH: usize = 4;

/// The renderer, with the line ends of the files it quoted last (reports come sorted by file, and
/// quote a file or two besides their own).
pub(super) struct Plain {
    chars: ThemeCharacters,
    ends: RefCell<Vec<Ends>>,
}

/// A file (kept alive, so that its address names it), the offsets of its `\n`s, and whether it has a
/// `\r`.
struct Ends {
    text: Arc<str>,
    newlines: Vec<usize>,
    cr: bool,
}

impl Plain {
    /// Files whose line ends are kept.
    const KEEP: usize = 4;

    pub(super) fn new(chars: ThemeCharacters) -> Plain {
        Plain {
            chars,
            ends: RefCell::new(Vec::with_capacity(Self::KEEP)),
        }
    }

    /// Appends `report` to `out` as miette prints it, or returns false, with `out` as it was, for a
    /// shape this renderer does not know.
    pub(super) fn render(&self, out: &mut String, report: &Report) -> bool {
        let mark = out.len();
        if let Some(code) = &report.code {
            out.push_str(code);
            out.push_str("\n\n");
        }
        if self.body(out, report) {
            return true;
        }
        out.truncate(mark);
        false
    }

    /// What follows a report's header: message, snippet, help, related reports.
    fn body(&self, out: &mut String, report: &Report) -> bool {
        let c = &self.chars;
        let icon = match report.severity {
            Severity::Error => &c.error,
            Severity::Warning => &c.warning,
            Severity::Advice => &c.advice,
        };
        let (mut first, mut rest) = (String::from("  "), String::from("  "));
        first.push_str(icon);
        first.push(' ');
        rest.push(c.vbar);
        rest.push(' ');
        indent(out, &report.message, &first, &rest);
        out.push('\n');
        if let Some(source) = &report.source {
            if !report.labels.is_empty() && !self.snippets(out, source, &report.labels) {
                return false;
            }
        }
        if let Some(help) = &report.help {
            indent(out, help, "  help: ", "        ");
            out.push('\n');
        }
        for r in &report.related {
            out.push('\n');
            out.push_str(match r.severity {
                Severity::Error => "Error: ",
                Severity::Warning => "Warning: ",
                Severity::Advice => "Advice: ",
            });
            if let Some(code) = &r.code {
                out.push_str(code);
                out.push('\n');
            }
            out.push('\n');
            if !self.body(out, r) {
                return false;
            }
        }
        true
    }

    /// The line ends of `text`, found once while it is among the last files quoted.
    fn line_ends(&self, text: &Arc<str>) -> std::cell::Ref<'_, Ends> {
        let known = self
            .ends
            .borrow()
            .iter()
            .position(|e| Arc::ptr_eq(&e.text, text));
        let i = match known {
            Some(i) => i,
            None => {
                let mut ends = self.ends.borrow_mut();
                if ends.len() >= Self::KEEP {
                    ends.remove(0);
                }
                ends.push(Ends {
                    text: text.clone(),
                    newlines: text.match_indices('\n').map(|(i, _)| i).collect(),
                    cr: text.contains('\r'),
                });
                ends.len() - 1
            }
        };
        std::cell::Ref::map(self.ends.borrow(), |e| &e[i])
    }

    /// miette's `render_snippets`: a context per label, neighbouring ones merged as miette merges
    /// them.
    fn snippets(&self, out: &mut String, source: &Snippet, labels: &[LabeledSpan]) -> bool {
        let ends = self.line_ends(&source.text);
        if ends.cr {
            return false;
        }
        let file = File {
            text: &source.text,
            ends: &ends.newlines,
        };
        let mut labels = labels.to_vec();
        labels.sort_unstable_by_key(|l| l.offset());
        // Labels over several lines show in a gutter this renderer does not draw: [`Self::context`]
        // leaves them to miette, as it does a text of several lines.
        if labels
            .iter()
            .any(|l| l.label().is_some_and(|t| t.contains('\n')))
        {
            return false;
        }
        let mut contexts: Vec<((usize, usize), Contents)> = Vec::with_capacity(labels.len());
        for l in &labels {
            let right = (l.offset(), l.len());
            let Some(right_contents) = file.contents(right) else {
                return false;
            };
            if let Some((left, left_contents)) = contexts.last() {
                if left_contents.line + left_contents.line_count >= right_contents.line {
                    let end = (left.0 + left.1).max(right.0 + right.1);
                    let merged = (left.0, end - left.0);
                    let Some(merged_contents) = file.contents(merged) else {
                        return false;
                    };
                    contexts.pop();
                    contexts.push((merged, merged_contents));
                    continue;
                }
            }
            contexts.push((right, right_contents));
        }
        contexts.iter().all(|(span, contents)| {
            self.context(out, &file, &source.name, *span, contents, &labels)
        })
    }

    /// miette's `render_context` for labels on single lines.
    fn context(
        &self,
        out: &mut String,
        file: &File<'_>,
        name: &str,
        (start, len): (usize, usize),
        contents: &Contents,
        labels: &[LabeledSpan],
    ) -> bool {
        let c = &self.chars;
        let lines = file.lines(contents);
        let mut in_context = labels
            .iter()
            .filter(|l| start <= l.offset() && l.offset() + l.len() <= start + len);
        let primary = in_context
            .clone()
            .find(|l| l.primary())
            .or_else(|| in_context.next());
        let Some(primary) = primary else {
            return false;
        };
        let linum_width = digits(lines.last().map_or(0, |l| l.number));
        // The header names the primary label's place: its line and its byte column.
        let (line, column) = file.place(primary.offset());
        pad(out, linum_width + 2);
        let _ = write!(
            out,
            "{}{}[{name}:{}:{}]",
            c.ltop,
            c.hbar,
            line + 1,
            column + 1
        );
        out.push('\n');
        let mut on_line: Vec<&LabeledSpan> = Vec::new();
        for line in &lines {
            let _ = write!(out, " {:>linum_width$} {} ", line.number, c.vbar,);
            let widths = char_widths(line.text);
            for (ch, w) in line.text.chars().zip(widths) {
                if ch == '\t' {
                    pad(out, w);
                } else {
                    out.push(ch);
                }
            }
            out.push('\n');
            on_line.clear();
            for l in labels {
                if line.applies(l) {
                    if !line.holds(l) {
                        return false;
                    }
                    on_line.push(l);
                }
            }
            if !on_line.is_empty() {
                self.underlines(out, line, linum_width, &on_line);
            }
        }
        pad(out, linum_width + 2);
        out.push(c.lbot);
        for _ in 0..4 {
            out.push(c.hbar);
        }
        out.push('\n');
        true
    }

    /// miette's `render_single_line_highlights` without a gutter: the underlines, then a row per
    /// text, the last label's first.
    fn underlines(
        &self,
        out: &mut String,
        line: &Line<'_>,
        linum_width: usize,
        labels: &[&LabeledSpan],
    ) {
        let c = &self.chars;
        self.no_linum(out, linum_width);
        let mut highest = 0;
        let mut bars = Vec::with_capacity(labels.len());
        for l in labels {
            let start = line.visual_offset(l.offset(), true).max(highest);
            let end = if l.is_empty() {
                start + 1
            } else {
                line.visual_offset(l.offset() + l.len(), false)
                    .max(start + 1)
            };
            let bar = (start + end) / 2;
            pad(out, start.saturating_sub(highest));
            repeat(out, c.underline, bar - start);
            out.push(if l.is_empty() {
                c.uarrow
            } else if l.label().is_some() {
                c.underbar
            } else {
                c.underline
            });
            repeat(out, c.underline, end - bar - 1);
            highest = highest.max(end);
            bars.push(bar);
        }
        out.push('\n');
        for l in labels.iter().rev() {
            let Some(text) = l.label() else {
                continue;
            };
            self.no_linum(out, linum_width);
            let mut column = 1usize;
            for (other, &bar) in labels.iter().zip(&bars) {
                while column < bar + 1 {
                    out.push(' ');
                    column += 1;
                }
                // miette tells labels apart by text and span.
                if other.label() != l.label() || other.inner() != l.inner() {
                    out.push(c.vbar);
                    column += 1;
                } else {
                    out.push(c.lbot);
                    repeat(out, c.hbar, 2);
                    out.push(' ');
                    out.push_str(text);
                    out.push('\n');
                    break;
                }
            }
        }
    }

    fn no_linum(&self, out: &mut String, linum_width: usize) {
        out.push(' ');
        pad(out, linum_width);
        out.push(' ');
        out.push(self.chars.vbar_break);
        out.push(' ');
    }
}

/// A file's text and the offsets of its `\n`s.
struct File<'a> {
    text: &'a str,
    ends: &'a [usize],
}

/// What miette's `read_span` of a `str` answers with one line of context: the lines quoted (from the
/// `line`th, 0-based, at byte `start`, to byte `end`) and the `\n`s from the file's start to `end`.
struct Contents {
    start: usize,
    end: usize,
    line: usize,
    line_count: usize,
}

impl File<'_> {
    /// The number of `\n`s before `offset`.
    fn newlines_before(&self, offset: usize) -> usize {
        self.ends.partition_point(|&e| e < offset)
    }

    /// The line (0-based) of `offset` and its byte column, as miette's `read_span` without context
    /// counts them.
    fn place(&self, offset: usize) -> (usize, usize) {
        let k = self.newlines_before(offset);
        let line_start = if k == 0 { 0 } else { self.ends[k - 1] + 1 };
        (k, offset - line_start)
    }

    /// miette's `read_span(span, 1, 1)` of a `str` without `\r`: from the line before the span's
    /// first, through the line after the first `\n` at or after the span's end (at or after offset 1
    /// for an empty span at 0); `None` where [`Snippet`] would cut a long line to a window instead.
    fn contents(&self, (offset, len): (usize, usize)) -> Option<Contents> {
        if offset + len > self.text.len() {
            return None;
        }
        let k = self.newlines_before(offset);
        let (line, start) = match k {
            0 | 1 => (0, 0),
            _ => (k - 1, self.ends[k - 2] + 1),
        };
        let first = self.newlines_before((offset + len).max(1));
        let (end, line_count) = match self.ends.get(first + 1) {
            Some(&e) => (e + 1, first + 2),
            None => (self.text.len(), self.ends.len()),
        };
        let long = self.text.as_bytes()[start..end]
            .split(|b| *b == b'\n')
            .any(|l| l.len() > SNIPPET_WIDTH);
        (!long).then_some(Contents {
            start,
            end,
            line,
            line_count,
        })
    }

    /// miette's `get_lines`: the lines of `contents`, numbered from 1.
    fn lines(&self, contents: &Contents) -> Vec<Line<'_>> {
        let data = &self.text[contents.start..contents.end];
        let mut lines = Vec::with_capacity(3);
        let mut at = contents.start;
        for (number, row) in (contents.line + 1..).zip(data.split_inclusive('\n')) {
            lines.push(Line {
                number,
                offset: at,
                length: row.len(),
                text: row.strip_suffix('\n').unwrap_or(row),
            });
            at += row.len();
        }
        lines
    }
}

/// A quoted line: its number, where it starts, its length with its `\n`, its text without.
struct Line<'a> {
    number: usize,
    offset: usize,
    length: usize,
    text: &'a str,
}

impl Line<'_> {
    /// miette's `span_applies`: the label shows on this line.
    fn applies(&self, l: &LabeledSpan) -> bool {
        let (o, len) = (l.offset(), l.len().max(1));
        let end = self.offset + self.length;
        (o >= self.offset && o < end)
            || (o < self.offset && o + len > end)
            || (o + len > self.offset && o + len <= end)
    }

    /// miette's `span_line_only`: the label lies on this line alone.
    fn holds(&self, l: &LabeledSpan) -> bool {
        l.offset() >= self.offset && l.offset() + l.len() <= self.offset + self.length
    }

    /// miette's `visual_offset`: the column of a byte offset of this line.
    fn visual_offset(&self, offset: usize, start: bool) -> usize {
        let mut i = offset - self.offset;
        while i <= self.text.len() && !self.text.is_char_boundary(i) {
            if start {
                i -= 1;
            } else {
                i += 1;
            }
        }
        let width: usize = char_widths(&self.text[..i.min(self.text.len())]).sum();
        if i > self.text.len() {
            width + 1
        } else {
            width
        }
    }
}

/// miette's `line_visual_char_width`: tabs to the next stop, ANSI escapes (to their `m`) no width,
/// other characters their Unicode width.
fn char_widths(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut column = 0;
    let mut escaped = false;
    text.chars().map(move |c| {
        let width = match (escaped, c) {
            (false, '\t') => TAB_WIDTH - column % TAB_WIDTH,
            (false, '\x1b') => {
                escaped = true;
                0
            }
            (false, c) => c.width().unwrap_or(0),
            (true, 'm') => {
                escaped = false;
                0
            }
            (true, _) => 0,
        };
        column += width;
        width
    })
}

/// miette's layout of a text already broken into lines: `first` before the first line, `rest` before
/// the others, each trimmed before a blank line.
fn indent(out: &mut String, text: &str, first: &str, rest: &str) {
    for (i, line) in text.split_terminator('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent = if i == 0 { first } else { rest };
        if line.trim().is_empty() {
            out.push_str(indent.trim_end());
        } else {
            out.push_str(indent);
        }
        out.push_str(line);
    }
    if text.ends_with('\n') {
        out.push('\n');
    }
}

fn digits(n: usize) -> usize {
    let mut d = 1;
    let mut n = n / 10;
    while n > 0 {
        d += 1;
        n /= 10;
    }
    d
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn repeat(out: &mut String, c: char, n: usize) {
    for _ in 0..n {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::super::{finding_reports, Printer, Report, Snippet};
    use crate::diagnostics::Style;
    use miette::{LabeledSpan, Severity};
    use std::sync::Arc;

    /// Renders `r` by miette and by [`super::Plain`]: they must agree; whether the plain one did it.
    fn both(printer: &Printer, r: &mut Report, what: &dyn std::fmt::Debug) -> bool {
        let mut expected = String::new();
        let oracle = printer.render_with(&mut expected, r, false);
        let mut got = String::new();
        let plain = printer.render_with(&mut got, r, true);
        assert_eq!(got, expected, "{what:?}");
        assert_eq!(oracle.is_ok(), plain.is_ok(), "{what:?}");
        plain.unwrap_or(false)
    }

    fn snippet(name: &str, text: &Arc<str>, focus: usize) -> Snippet {
        Snippet {
            name: name.to_string(),
            text: text.clone(),
            focus,
        }
    }

    fn report(message: &str, severity: Severity, source: Option<Snippet>) -> Report {
        Report {
            message: message.to_string(),
            severity,
            code: Some("netpol/x".to_string()),
            help: None,
            source,
            labels: Vec::new(),
            related: Vec::new(),
        }
    }

    /// Files around every edge a snippet has.
    fn files() -> Vec<String> {
        let mut out: Vec<String> = [
            "",
            "x",
            "\n",
            "\n\n",
            "a: 1\n",
            "a: 1\nb: 2\nc: 3\n",
            "a: 1\nb: 2\nc: 3",
            "a: 1\n\nb: 2\n\n",
            "kind: Deployment\nmetadata:\n  name: app\n  namespace: x\nspec:\n  replicas: 2\n",
            "a: 1\r\nb: 2\r\nc: 3\r\n",
            "a: 1\rb: 2\n",
            "a:\tb\n\tc: d\n  e:\t\tf\n",
            "名前: 値\nb: 密码\nc: 3\n",
            "e\u{301}: x\u{301}y\nb: 2\n",
            "a: \u{1b}[31mred\u{1b}[0m\nb: 2\n",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        out.push(format!("a: 1\nlong: {}\nc: 3\n", "x".repeat(300)));
        out.push(format!("a: {}\nb: 2\n", "y".repeat(154)));
        out.push(format!("a: {}\nb: 2\n", "y".repeat(160)));
        out.push((0..120).map(|i| format!("k{i}: v{i}\n")).collect());
        out
    }

    /// Offsets worth a label in `text`: every line's start, middle and end, its `\n`, and the ends.
    fn offsets(text: &str) -> Vec<usize> {
        let mut out = vec![0, text.len()];
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let end = start + line.trim_end_matches(['\n', '\r']).len();
            out.extend([
                start,
                start + 1,
                (start + end) / 2,
                end,
                end.saturating_sub(1),
            ]);
            start += line.len();
        }
        out.retain(|&o| o <= text.len());
        out.sort_unstable();
        out.dedup();
        out
    }

    fn spans(text: &str) -> Vec<(usize, usize)> {
        let offsets = offsets(text);
        let mut out = Vec::new();
        for &o in &offsets {
            for &e in &offsets {
                if e >= o && (e - o <= 12 || e == text.len()) {
                    out.push((o, e - o));
                }
            }
        }
        out
    }

    /// A label: offset, length, text, primary.
    type Label = (usize, usize, Option<&'static str>, bool);

    const TEXTS: [Option<&str>; 4] = [
        None,
        Some(""),
        Some("selects them for ingress only"),
        Some("two\nlines"),
    ];

    #[test]
    fn hand_made_reports_print_as_miette_prints_them() {
        let printer = Printer::new(Style { color: false });
        let other: Arc<str> = Arc::from("kind: NetworkPolicy\nmetadata:\n  name: app\n");
        let (mut total, mut plain) = (0, 0);
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n.max(1)
        };
        for text in files() {
            let file: Arc<str> = Arc::from(text.as_str());
            let spans = spans(&text);
            let mut cases: Vec<Vec<Label>> = Vec::new();
            for &(o, l) in &spans {
                for t in TEXTS {
                    cases.push(vec![(o, l, t, true)]);
                }
            }
            for _ in 0..400 {
                let n = 2 + next(3);
                let labels = (0..n)
                    .map(|i| {
                        let (o, l) = spans[next(spans.len())];
                        (o, l, TEXTS[next(TEXTS.len())], i == 0 && next(4) > 0)
                    })
                    .collect();
                cases.push(labels);
            }
            // Overlapping labels and the same span twice.
            if let Some(&(o, l)) = spans.iter().find(|s| s.1 >= 3) {
                cases.push(vec![
                    (o, l, Some("a"), true),
                    (o + 1, l - 1, Some("b"), false),
                ]);
                cases.push(vec![(o, l, Some("a"), true), (o, l, Some("a"), false)]);
                cases.push(vec![
                    (o, l, None, true),
                    (o, 1, Some("b"), false),
                    (o + 2, 1, Some("c"), false),
                ]);
            }
            for (i, labels) in cases.iter().enumerate() {
                let mut r = report(
                    "no NetworkPolicy selects the pods\n  at a.yaml:1:1",
                    [Severity::Error, Severity::Warning, Severity::Advice][i % 3],
                    Some(snippet("a.yaml", &file, labels[0].0)),
                );
                for &(o, l, t, primary) in labels {
                    let t = t.map(str::to_string);
                    r.labels.push(if primary {
                        LabeledSpan::new_primary_with_span(t, (o, l))
                    } else {
                        LabeledSpan::new_with_span(t, (o, l))
                    });
                }
                if i % 2 == 0 {
                    r.help = Some("add a default deny".to_string());
                }
                if i % 5 == 0 {
                    let mut rel = report(
                        "selects them",
                        Severity::Advice,
                        Some(snippet("b.yaml", &other, 38)),
                    );
                    rel.code = None;
                    rel.labels.push(LabeledSpan::new_primary_with_span(
                        Some("selects them".into()),
                        (38, 3),
                    ));
                    r.related.push(rel);
                }
                if i % 7 == 0 {
                    r.related.push(report("no place", Severity::Warning, None));
                }
                total += 1;
                if both(&printer, &mut r, &(&text, labels)) {
                    plain += 1;
                }
            }
        }
        // Most shapes are single-line labels in plain files: the plain renderer takes them.
        eprintln!("{plain} of {total} hand-made reports took the plain way");
        assert!(plain * 4 > total, "{plain} of {total}");
    }

    #[test]
    fn labels_on_single_lines_of_plain_files_are_never_left_to_miette() {
        let printer = Printer::new(Style { color: false });
        let text = "kind: Deployment\nmetadata:\n  name: app\n  namespace: x\nspec:\n  replicas: 2\n  tabs:\t1\n  wide: 名前\n";
        let file: Arc<str> = Arc::from(text);
        for (o, l) in spans(text) {
            let line_end = text.as_bytes()[o..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(text.len(), |i| o + i);
            if o + l > line_end {
                continue;
            }
            for t in &TEXTS[..3] {
                let mut r = report("m", Severity::Warning, Some(snippet("a.yaml", &file, o)));
                r.labels.push(LabeledSpan::new_primary_with_span(
                    t.map(str::to_string),
                    (o, l),
                ));
                r.labels
                    .push(LabeledSpan::new_with_span(Some("policy".into()), (40, 9)));
                assert!(both(&printer, &mut r, &(o, l, t)), "{o} {l} {t:?}");
            }
        }
    }

    #[test]
    fn colour_is_left_to_miette() {
        let printer = Printer::new(Style { color: true });
        let file: Arc<str> = Arc::from("a: 1\nb: 2\n");
        let mut r = report("m", Severity::Error, Some(snippet("a.yaml", &file, 5)));
        r.labels
            .push(LabeledSpan::new_primary_with_span(None, (5, 1)));
        assert!(!both(&printer, &mut r, &"colour"));
    }

    /// Every report `check` makes of this repository's environments, the rule fixtures and the
    /// public corpora prints the same both ways, and nearly all take the plain way.
    #[test]
    fn every_report_of_the_corpora_prints_as_miette_prints_it() {
        use crate::commands::check::{collect, Options};
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let realworld = repo.join("tests/fixtures/realworld");
        // (root, paths, policy)
        let mut runs: Vec<(PathBuf, Vec<PathBuf>, Option<PathBuf>)> = vec![
            (repo.join("environments"), vec![], None),
            (
                realworld.join("environments"),
                vec![realworld.clone()],
                None,
            ),
            (
                repo.join("environments"),
                vec![repo.join("tests/fixtures/false-alarms")],
                None,
            ),
        ];
        for family in ["schema", "resources", "policy", "secrets", "images", "refs"] {
            let Ok(dirs) = std::fs::read_dir(repo.join("tests/fixtures/check").join(family)) else {
                continue;
            };
            for d in dirs.flatten() {
                let d = d.path();
                if d.join("input.yaml").is_file() {
                    let policy = d.join("policy.yaml");
                    runs.push((
                        d.join("environments"),
                        vec![d.join("input.yaml")],
                        policy.is_file().then_some(policy),
                    ));
                }
            }
        }
        let tags = crate::tags::TagInputs::default();
        let printer = Printer::new(Style { color: false });
        let (mut total, mut plain) = (0, 0);
        for (root, paths, policy) in &runs {
            let opts = Options {
                root,
                envs: &[],
                paths,
                policy: policy.as_deref(),
                tags: &tags,
                today: crate::check::policy::Date::parse("2026-06-15").expect("a date"),
                kube: Default::default(),
            };
            let mut sources = crate::node::Sources::default();
            let Ok(found) = collect(&crate::load::DiskFiles, &mut sources, &opts) else {
                continue;
            };
            finding_reports(&sources, &found, |r| {
                total += 1;
                if both(&printer, r, &r.message.clone()) {
                    plain += 1;
                }
            });
        }
        assert!(total > 500, "{total} reports");
        eprintln!("{plain} of {total} reports of the corpora took the plain way");
        // The others: labels over several lines (a block the finding is about), files with `\r\n`
        // line ends, lines longer than a snippet quotes whole.
        assert!(
            plain * 100 >= total * 90,
            "{plain} of {total} took the plain way"
        );
    }
}
