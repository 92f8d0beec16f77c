//! The diff as a reader sees it: plain text for a terminal, Markdown for a pull-request comment (a
//! summary, the risky changes, a table per kind, and one collapsible section per resource), or JSON.

use std::fmt::Write as _;

use super::{ChangeKind, EnvDiff};

/// GitHub refuses a comment body longer than this many characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Risky changes listed per environment before the rest is summed up, so that the summary always fits.
const MAX_RISKS_LISTED: usize = 50;

/// What the two sides were: `origin/main (1a2b3c4)`, `working tree`.
#[derive(Clone, Debug)]
pub struct Sides {
    pub base: String,
    pub head: String,
}

fn summary_line(d: &EnvDiff) -> String {
    if d.changes.is_empty() {
        return format!("no change ({} resources)", d.unchanged);
    }
    format!(
        "{} changed, {} added, {} removed, {} unchanged",
        d.count(ChangeKind::Changed),
        d.count(ChangeKind::Added),
        d.count(ChangeKind::Removed),
        d.unchanged
    )
}

/// Plain text: per environment a summary, the risky changes, the counts per kind, then every diff.
pub fn text(diffs: &[EnvDiff], sides: &Sides) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "diff {} -> {}", sides.base, sides.head);
    for d in diffs {
        let _ = writeln!(out, "\n{}: {}", d.environment, summary_line(d));
        for note in &d.notes {
            let _ = writeln!(out, "note: {note}");
        }
        if let Some(p) = &d.paths {
            let _ = writeln!(out, "\n{}:", crate::netmap::format::diff_summary(p));
            out.push_str(&crate::netmap::format::diff_text(p));
        }
        if d.changes.is_empty() {
            continue;
        }
        let risky: Vec<_> = d.risky().collect();
        if !risky.is_empty() {
            let _ = writeln!(out, "\nrisky changes:");
            for c in risky {
                for r in &c.risks {
                    let _ = writeln!(out, "  ! {}: {r}", c.title());
                }
            }
        }
        let per_kind = d.per_kind();
        let width = per_kind.keys().map(|k| k.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(out, "\n  {:<width$}  added  removed  changed", "kind");
        for (kind, [a, r, c]) in &per_kind {
            let _ = writeln!(out, "  {kind:<width$}  {a:>5}  {r:>7}  {c:>7}");
        }
        for c in &d.changes {
            let _ = writeln!(out, "\n{} {}", c.change.as_str(), c.title());
            out.push_str(&c.diff);
            if !c.diff.ends_with('\n') && !c.diff.is_empty() {
                out.push('\n');
            }
        }
    }
    out
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Inline code that survives backticks in the text.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// A fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn md_header(d: &EnvDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### `{}`: {}\n", d.environment, summary_line(d));
    for note in &d.notes {
        let _ = writeln!(out, "> {}\n", note);
    }
    if d.changes.is_empty() {
        return out;
    }
    let risks: Vec<(String, &String)> = d
        .risky()
        .flat_map(|c| c.risks.iter().map(move |r| (c.title(), r)))
        .collect();
    if !risks.is_empty() {
        let _ = writeln!(out, "**Risky changes**\n");
        for (title, r) in risks.iter().take(MAX_RISKS_LISTED) {
            let _ = writeln!(out, "- :warning: {}: {}", code(title), r);
        }
        if risks.len() > MAX_RISKS_LISTED {
            let _ = writeln!(out, "- … and {} more", risks.len() - MAX_RISKS_LISTED);
        }
        out.push('\n');
    }
    if let Some(p) = &d.paths {
        out.push_str(&crate::netmap::format::diff_markdown(p));
    }
    let _ = writeln!(
        out,
        "| Kind | Added | Removed | Changed |\n|---|---:|---:|---:|"
    );
    for (kind, [a, r, c]) in d.per_kind() {
        let _ = writeln!(out, "| {kind} | {a} | {r} | {c} |");
    }
    out.push('\n');
    out
}

fn md_section(c: &super::Change) -> String {
    let mark = if c.risks.is_empty() { "" } else { ":warning: " };
    let f = fence(&c.diff);
    format!(
        "<details><summary>{mark}{} <code>{}</code></summary>\n\n{f}diff\n{}{}{f}\n\n</details>\n",
        c.change.as_str(),
        escape_html(&c.title()),
        c.diff,
        if c.diff.ends_with('\n') || c.diff.is_empty() {
            ""
        } else {
            "\n"
        },
    )
}

/// Markdown for a pull-request comment, at most `limit` characters. Summaries and risky changes always
/// come first; resource sections follow, risky ones first, as many as fit; a note says what was left out.
pub fn markdown(diffs: &[EnvDiff], sides: &Sides, limit: usize) -> String {
    let title = format!(
        "## Rendered manifests diff\n\n{} → {}\n\n",
        code(&sides.base),
        code(&sides.head)
    );
    let headers: Vec<String> = diffs.iter().map(md_header).collect();
    let reserve = 400 + 120 * diffs.len();
    let fixed = title.len() + headers.iter().map(String::len).sum::<usize>() + reserve;
    let mut budget = limit.saturating_sub(fixed);
    let mut omitted_total = 0;
    let mut out = title;
    for (d, header) in diffs.iter().zip(headers) {
        out.push_str(&header);
        let mut omitted = 0;
        for c in &d.changes {
            let section = md_section(c);
            // Lengths in bytes: never fewer than characters, so the limit holds.
            if section.len() <= budget {
                budget -= section.len();
                out.push_str(&section);
            } else {
                omitted += 1;
            }
        }
        if omitted > 0 {
            let _ = writeln!(
                out,
                "\n_{omitted} more resource diff(s) of `{}` not shown._\n",
                d.environment
            );
            omitted_total += omitted;
        }
        if !d.changes.is_empty() {
            out.push('\n');
        }
    }
    if omitted_total > 0 {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> The full diff passes GitHub's comment limit of {limit} characters: {omitted_total} resource \
             diff(s) were left out. Run `openim-gitops diff` locally to see all of them."
        );
    }
    if out.len() > limit {
        // Only reachable with a tiny limit: cut at a character boundary.
        let mut end = limit.saturating_sub(60);
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str("\n\n_(truncated at the comment limit)_\n");
    }
    out
}

/// JSON: per environment the counts, the counts per kind, and every change with its risks and diff.
pub fn json(diffs: &[EnvDiff], sides: &Sides) -> serde_json::Value {
    let envs: Vec<serde_json::Value> = diffs
        .iter()
        .map(|d| {
            let kinds: serde_json::Map<String, serde_json::Value> = d
                .per_kind()
                .into_iter()
                .map(|(k, [a, r, c])| {
                    (
                        k.to_string(),
                        serde_json::json!({"added": a, "removed": r, "changed": c}),
                    )
                })
                .collect();
            serde_json::json!({
                "environment": d.environment,
                "added": d.count(ChangeKind::Added),
                "removed": d.count(ChangeKind::Removed),
                "changed": d.count(ChangeKind::Changed),
                "unchanged": d.unchanged,
                "notes": d.notes,
                "kinds": kinds,
                "paths": d.paths.as_ref().map(|p| {
                    let list = |l: &[crate::netmap::PathChange]| -> Vec<serde_json::Value> {
                        l.iter()
                            .map(|c| serde_json::json!({"from": c.from, "to": c.to, "ports": c.ports}))
                            .collect()
                    };
                    serde_json::json!({"added": list(&p.added), "lost": list(&p.lost)})
                }),
                "changes": d.changes.iter().map(|c| serde_json::json!({
                    "path": c.path,
                    "change": c.change.as_str(),
                    "kind": c.kind,
                    "name": c.name,
                    "namespace": c.namespace,
                    "risks": c.risks,
                    "diff": c.diff,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "base": sides.base, "head": sides.head, "environments": envs })
}
