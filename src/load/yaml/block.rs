//! A fast reader for the plain block YAML nearly every manifest is written in: block mappings and
//! block lists nested by spaces, one-line plain and simply quoted scalars, `{}` and `[]`, comments and
//! `---` between documents. It yields exactly the events, spans included, that `saphyr-parser` yields
//! for the same text, at a fraction of the cost, and gives up (`None`) on anything else: the caller
//! then parses the file with `saphyr-parser`, which also reports every error. It never decides that a
//! file is invalid, so a file it reads is one the full parser reads the same way.
//!
//! Given up on: any byte outside printable ASCII and `\n` (tabs, `\r`, UTF-8), a last line without
//! `\n`, flow collections other than `{}` and `[]`, anchors, aliases, tags, block scalars, directives,
//! `...`, explicit keys, quoted scalars with escapes or spanning lines, plain scalars spanning lines,
//! empty documents and list items, lines more indented than their place allows (comments included),
//! and nesting deeper than [`super::MAX_DEPTH`].

use std::borrow::Cow;

use saphyr_parser::{Event, Marker, ScalarStyle, Span};

/// The events of `text`, or `None` when it is not plain block YAML this reader knows.
pub(super) fn events(text: &str) -> Option<Vec<(Event<'_>, Span)>> {
    let bytes = text.as_bytes();
    if bytes.last() != Some(&b'\n') || !bytes.iter().all(|b| matches!(b, b' '..=b'~' | b'\n')) {
        return None;
    }
    let mut r = Reader {
        text,
        bytes,
        pos: 0,
        line: 1,
        line_start: 0,
        out: Vec::with_capacity(bytes.len() / 8),
        depth: 0,
    };
    r.stream()?;
    Some(r.out)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// The first byte of the current line's content (past its indentation), or the end of the text.
    pos: usize,
    /// The 1-based line of `pos`.
    line: usize,
    /// Where that line starts.
    line_start: usize,
    out: Vec<(Event<'a>, Span)>,
    /// Collections open.
    depth: usize,
}

/// What a content line holds at a position.
enum Entry {
    /// A mapping key ending at `end` (its `:` is there).
    Key {
        end: usize,
        style: ScalarStyle,
    },
    /// `-` then a space or the end of the line.
    Dash,
    Other,
}

impl<'a> Reader<'a> {
    fn mark(&self, at: usize) -> Marker {
        Marker::new(at, self.line, at - self.line_start)
    }

    fn point(&self, at: usize) -> Span {
        Span::empty(self.mark(at))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn indent(&self) -> usize {
        self.pos - self.line_start
    }

    /// The end of the line holding `at` (the position of its `\n`).
    fn eol(&self, at: usize) -> usize {
        at + self.bytes[at..]
            .iter()
            .position(|b| *b == b'\n')
            .unwrap_or(self.bytes.len() - at)
    }

    /// Moves to the first content of the next line that has any (blank lines and comment lines are
    /// skipped), or to the end of the text, which sits at the start of the line after the last one.
    fn next_line(&mut self) {
        let b = self.bytes;
        let mut nl = self.eol(self.pos);
        loop {
            self.line += 1;
            self.line_start = nl + 1;
            if self.line_start >= b.len() {
                self.pos = b.len();
                return;
            }
            let content = self.content_of(self.line_start);
            if !matches!(b[content], b'\n' | b'#') {
                self.pos = content;
                return;
            }
            nl = self.eol(content);
        }
    }

    /// The first byte after the spaces that start at `at` (every line ends in `\n`, so one exists).
    fn content_of(&self, at: usize) -> usize {
        at + self.bytes[at..]
            .iter()
            .position(|b| *b != b' ')
            .unwrap_or(0)
    }

    /// Moves to the first content of the text.
    fn first_line(&mut self) {
        self.line = 1;
        self.line_start = 0;
        self.pos = self.content_of(0);
        if matches!(self.bytes[self.pos], b'\n' | b'#') {
            self.next_line();
        }
    }

    fn is_document_marker(&self) -> bool {
        self.indent() == 0
            && (self.bytes[self.pos..].starts_with(b"---")
                || self.bytes[self.pos..].starts_with(b"..."))
            && matches!(self.bytes.get(self.pos + 3), Some(b' ' | b'\n'))
    }

    /// What starts at `at`.
    fn entry(&self, at: usize) -> Entry {
        let b = self.bytes;
        match b[at] {
            b'-' if matches!(b[at + 1], b' ' | b'\n') => Entry::Dash,
            q @ (b'"' | b'\'') => match self.quoted_end(at, q) {
                Some(end) if b[end] == b':' && matches!(b[end + 1], b' ' | b'\n') => Entry::Key {
                    end,
                    style: style_of(q),
                },
                _ => Entry::Other,
            },
            _ => match self.plain_end(at) {
                Some((end, true)) if b[end] == b':' => Entry::Key {
                    end,
                    style: ScalarStyle::Plain,
                },
                _ => Entry::Other,
            },
        }
    }

    /// The end of a one-line quoted scalar starting at `at` (past its closing quote), if it has no
    /// escapes.
    fn quoted_end(&self, at: usize, quote: u8) -> Option<usize> {
        let b = self.bytes;
        let mut i = at + 1;
        loop {
            match b[i] {
                b'\n' => return None,
                b'\\' if quote == b'"' => return None,
                c if c == quote => {
                    if quote == b'\'' && b[i + 1] == b'\'' {
                        return None;
                    }
                    return Some(i + 1);
                }
                _ => i += 1,
            }
        }
    }

    /// The end of a plain scalar starting at `at` (trailing spaces left out), and whether a `:` that
    /// makes it a mapping key follows. `None` when it cannot start a plain scalar this reader reads.
    fn plain_end(&self, at: usize) -> Option<(usize, bool)> {
        let b = self.bytes;
        match b[at] {
            b'-' | b'?' | b':' if matches!(b[at + 1], b' ' | b'\n') => return None,
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' | b'\n' => return None,
            _ => {}
        }
        let mut i = at;
        let mut end = at;
        loop {
            match b[i] {
                b'\n' => return Some((end, false)),
                b':' if matches!(b[i + 1], b' ' | b'\n') => return Some((end, true)),
                b'#' if b[i - 1] == b' ' => return Some((end, false)),
                b' ' => i += 1,
                _ => {
                    i += 1;
                    end = i;
                }
            }
        }
    }

    fn push(&mut self, event: Event<'a>, span: Span) {
        self.out.push((event, span));
    }

    fn scalar(&mut self, start: usize, end: usize, style: ScalarStyle) {
        let (a, z) = match style {
            ScalarStyle::Plain => (start, end),
            _ => (start + 1, end - 1),
        };
        let span = Span::new(self.mark(start), self.mark(end));
        self.push(
            Event::Scalar(Cow::Borrowed(&self.text[a..z]), style, 0, None),
            span,
        );
    }

    fn open(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < super::MAX_DEPTH).then_some(())
    }

    fn stream(&mut self) -> Option<()> {
        self.push(Event::StreamStart, self.point(0));
        self.first_line();
        let mut first = true;
        loop {
            if self.at_end() {
                return None;
            }
            if self.is_document_marker() {
                if !self.bytes[self.pos..].starts_with(b"---\n") {
                    return None;
                }
                let span = Span::new(self.mark(self.pos), self.mark(self.pos + 3));
                if !first {
                    // The end of the previous document, then the start of this one.
                    self.push(Event::DocumentEnd, span);
                }
                self.push(Event::DocumentStart(true), span);
                self.next_line();
            } else if first {
                self.push(Event::DocumentStart(false), self.point(self.pos));
            } else {
                return None;
            }
            first = false;
            if self.at_end()
                || self.is_document_marker()
                || self.indent() != 0
                || !matches!(self.entry(self.pos), Entry::Key { .. })
            {
                return None;
            }
            self.mapping(0)?;
            if self.at_end() {
                let end = self.point(self.pos);
                self.push(Event::DocumentEnd, end);
                self.push(Event::StreamEnd, end);
                return Some(());
            }
        }
    }

    /// A block mapping whose first key is at `self.pos`, its keys in column `col`.
    fn mapping(&mut self, col: usize) -> Option<()> {
        self.open()?;
        self.push(Event::MappingStart(0, None), self.point(self.pos));
        loop {
            let Entry::Key { end, style } = self.entry(self.pos) else {
                return None;
            };
            if end - self.pos > 1000 {
                return None;
            }
            self.scalar(self.pos, end, style);
            self.value_after(end, col)?;
            if self.at_end() || self.indent() < col || self.is_document_marker() {
                break;
            }
            if self.indent() > col {
                return None;
            }
        }
        self.push(Event::MappingEnd, self.point(self.pos));
        self.depth -= 1;
        Some(())
    }

    /// A block list whose first `-` is at `self.pos`, in column `col`; `indentless` when it is the value
    /// of a mapping key in the same column.
    fn list(&mut self, col: usize, indentless: bool) -> Option<()> {
        self.open()?;
        let start = if indentless {
            let mut at = self.pos + 1;
            while self.bytes[at] == b' ' {
                at += 1;
            }
            at
        } else {
            self.pos
        };
        self.push(Event::SequenceStart(0, None), self.point(start));
        loop {
            // At a `-`.
            let mut at = self.pos + 1;
            while self.bytes[at] == b' ' {
                at += 1;
            }
            match self.bytes[at] {
                b'\n' => {
                    self.next_line();
                    if self.at_end() || self.indent() <= col {
                        return None;
                    }
                    self.nested(self.indent())?;
                }
                b'#' => return None,
                _ => match self.entry(at) {
                    Entry::Key { .. } => {
                        let key_col = at - self.line_start;
                        self.pos = at;
                        self.mapping(key_col)?;
                    }
                    Entry::Dash => return None,
                    Entry::Other => self.inline_value(at, col)?,
                },
            }
            if self.at_end() || self.indent() < col || self.is_document_marker() {
                break;
            }
            if self.indent() > col {
                return None;
            }
            if !matches!(self.entry(self.pos), Entry::Dash) {
                if indentless {
                    break;
                }
                return None;
            }
        }
        self.push(Event::SequenceEnd, self.point(self.pos));
        self.depth -= 1;
        Some(())
    }

    /// A block collection starting at `self.pos` on a line of its own, in column `col`.
    fn nested(&mut self, col: usize) -> Option<()> {
        match self.entry(self.pos) {
            Entry::Key { .. } => self.mapping(col),
            Entry::Dash => self.list(col, false),
            Entry::Other => None,
        }
    }

    /// The value of the key whose `:` is at `colon`, in a mapping in column `col`; leaves `self.pos` at
    /// the next content line.
    fn value_after(&mut self, colon: usize, col: usize) -> Option<()> {
        let mut at = colon + 1;
        while self.bytes[at] == b' ' {
            at += 1;
        }
        if !matches!(self.bytes[at], b'\n' | b'#') {
            return self.inline_value(at, col);
        }
        let empty = self.point(colon);
        self.next_line();
        if self.at_end() || self.is_document_marker() {
            self.push(
                Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None),
                empty,
            );
            return Some(());
        }
        let indent = self.indent();
        if indent > col {
            return self.nested(indent);
        }
        if indent == col && matches!(self.entry(self.pos), Entry::Dash) {
            return self.list(col, true);
        }
        self.push(
            Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None),
            empty,
        );
        Some(())
    }

    /// A value on the line of its key or `-`, starting at `at`, in a collection in column `col`;
    /// leaves `self.pos` at the next content line, which may not be more indented than `col`.
    fn inline_value(&mut self, at: usize, col: usize) -> Option<()> {
        let b = self.bytes;
        match b[at] {
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                // The full parser's span of the closing bracket runs over a comment after it.
                if b[at + 1] != close || b[at + 2] != b'\n' {
                    return None;
                }
                self.open()?;
                let (start, end) = if open == b'{' {
                    (Event::MappingStart(0, None), Event::MappingEnd)
                } else {
                    (Event::SequenceStart(0, None), Event::SequenceEnd)
                };
                self.push(start, Span::new(self.mark(at), self.mark(at + 1)));
                self.push(end, Span::new(self.mark(at + 1), self.mark(at + 2)));
                self.depth -= 1;
            }
            q @ (b'"' | b'\'') => {
                let end = self.quoted_end(at, q)?;
                if b[end] != b'\n' {
                    return None;
                }
                self.scalar(at, end, style_of(q));
            }
            _ => {
                let (end, key) = self.plain_end(at)?;
                if key {
                    return None;
                }
                self.scalar(at, end, ScalarStyle::Plain);
            }
        }
        // Nothing on the following lines may belong to this value: a more indented line would continue
        // a plain scalar, or be an error. Blank lines are skipped, comment lines are not.
        let mut next = self.eol(at) + 1;
        while next < b.len() {
            let content = self.content_of(next);
            if b[content] == b'\n' {
                next = content + 1;
                continue;
            }
            if content - next > col {
                return None;
            }
            break;
        }
        self.next_line();
        Some(())
    }
}

fn style_of(quote: u8) -> ScalarStyle {
    if quote == b'"' {
        ScalarStyle::DoubleQuoted
    } else {
        ScalarStyle::SingleQuoted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr_parser::Parser;

    /// The full parser's events, written out; `Err` when it rejects the text.
    fn full(text: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            match next {
                Ok((event, span)) => out.push(describe(&event, span)),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(out)
    }

    fn describe(event: &Event<'_>, span: Span) -> String {
        format!(
            "{event:?} {}:{}:{}-{}:{}:{}",
            span.start.index(),
            span.start.line(),
            span.start.col(),
            span.end.index(),
            span.end.line(),
            span.end.col()
        )
    }

    /// The fast reader's events, written out; `None` when it gives up. When it reads a text, the full
    /// parser must read it too, to the same events.
    fn fast(text: &str) -> Option<Vec<String>> {
        let events = events(text)?;
        let mine: Vec<String> = events.iter().map(|(e, s)| describe(e, *s)).collect();
        match full(text) {
            Ok(theirs) => assert_eq!(mine, theirs, "events differ for {text:?}"),
            Err(e) => panic!("the fast reader read {text:?}, which the full parser rejects: {e}"),
        }
        Some(mine)
    }

    #[test]
    fn reads_what_manifests_are_made_of() {
        let cases = [
            "a: 1\n",
            "# head\napiVersion: v1   # trailing\nkind: Service\nmetadata:\n  name: \"app1\"\n  labels:\n    env: 'release'\nspec:\n  ports:\n    - port: 80\n      name: http\n    -\n      port: 81\n  x: {}\n  y: []\n  z:\n  list:\n  - a\n  - b\n---\na: 1\n",
            "a:\n- name: x\n  v: 1\n-\n  name: y\n- z\nb:   # c\n# x\n\nc: \"q\"\n",
            "a:\n-\n  # c\n  name: y\nb:\n  -\n    k: v\n  - x:\n  - y: \"1\"\nc: []\n",
            "---\na: 1\n# end\n",
            "---\na: 1\n---\nb:\n  c: d\n",
            "a: http://x.example/y#z\nb: x:y\nc: -1\nd: ~\ne: a b  c   \nf: 'x y'\n",
            "\n\n  # indented comment\na:\n  b:\n    c:\n      - d\n      - e: f\n        g: h\n",
            "a: {}\nb: []\nc:\n  - {}\n  - []\n",
            "'quoted key': 1\n\"dq\": 2\n<<: 3\n",
            "a:\n  - b\n# between\n  - c\n\nd: e\n",
        ];
        for text in cases {
            assert!(fast(text).is_some(), "the fast reader gave up on {text:?}");
        }
    }

    #[test]
    fn gives_up_on_everything_else() {
        let cases = [
            "",
            "# only a comment\n",
            "a: 1",
            "a:\t1\n",
            "a: 1\r\n",
            "a: caf\u{e9}\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: [1, 2]\n",
            "a: {b: 1}\n",
            "a: \"x\\ny\"\n",
            "a: 'it''s'\n",
            "a: \"two\n  lines\"\n",
            "a: plain\n  continued\n",
            "a: 1\n  # deeper comment\n",
            "? a\n: 1\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: 1\n...\n",
            "---\n---\na: 1\n",
            "a: 1\n---\n",
            "- a\n- b\n",
            "plain text\n",
            "a:\n-\n- b\n",
            "a:\n- - b\n",
            "a: b: c\n",
            "a : 1\n",
            "a: \"q\"  # comment\n",
            "a: {}  # comment\n",
            "a: 1\n b: 2\n",
            "a:\n    b: 1\n  c: 2\n",
            "a: - b\n",
        ];
        for text in cases {
            assert!(fast(text).is_none(), "the fast reader read {text:?}");
        }
    }

    #[test]
    fn never_nests_past_the_bound() {
        let mut text = String::new();
        for depth in 0..super::super::MAX_DEPTH + 5 {
            text.push_str(&" ".repeat(depth));
            text.push_str("a:\n");
        }
        text.push_str(&" ".repeat(super::super::MAX_DEPTH + 5));
        text.push_str("b: 1\n");
        assert!(fast(&text).is_none());
    }

    /// Every YAML file of this repository, and many small changes of each: whatever the fast reader
    /// reads, it reads as the full parser does.
    #[test]
    fn agrees_with_the_full_parser_on_this_repository_and_its_mutations() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        for dir in ["environments", "tests/fixtures", "policies", "examples"] {
            for entry in walkdir::WalkDir::new(root.join(dir))
                .sort_by_file_name()
                .into_iter()
                .flatten()
            {
                let p = entry.path();
                if matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                ) {
                    if let Ok(text) = std::fs::read_to_string(p) {
                        texts.push(text);
                    }
                }
            }
        }
        assert!(texts.len() > 100, "only {} files found", texts.len());
        let mut read = 0;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        let pieces = [
            " ", "  ", "\n", "- ", ": ", "#", "'", "\"", "{}", "[]", "---\n", "x", "-", ":", "\n  ",
        ];
        for text in &texts {
            if fast(text).is_some() {
                read += 1;
            }
            for _ in 0..20 {
                let mut t = text.clone();
                if t.is_empty() {
                    break;
                }
                let at = next(t.len());
                if !t.is_char_boundary(at) {
                    continue;
                }
                match next(3) {
                    0 => t.insert_str(at, pieces[next(pieces.len())]),
                    1 => {
                        let end = (at + 1 + next(3)).min(t.len());
                        if t.is_char_boundary(end) {
                            t.replace_range(at..end, "");
                        }
                    }
                    _ => {
                        // Repeat a line elsewhere.
                        let line = t
                            .lines()
                            .nth(next(t.lines().count()))
                            .unwrap_or("")
                            .to_string();
                        if let Some(nl) = t[at..].find('\n') {
                            t.insert_str(at + nl + 1, &format!("{line}\n"));
                        }
                    }
                }
                fast(&t);
            }
        }
        // The fixtures are mostly odd on purpose; a fair share is plain block YAML still.
        assert!(
            read * 3 > texts.len(),
            "read {read} of {} files",
            texts.len()
        );
    }
}
