//! The diff as a reader sees it: plain text for a terminal, Markdown for a pull-request comment (a
//! summary, the risky changes, a table per kind, and one collapsible section per resource), or JSON.

use std::fmt::Write as _;

use super::{group, ChangeKind, EnvDiff};

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

/// The network path changes of every environment, those with the same text said once: (environments,
/// change).
fn path_groups(diffs: &[EnvDiff]) -> Vec<(Vec<&str>, &crate::netmap::MapDiff)> {
    let mut out: Vec<(Vec<&str>, &crate::netmap::MapDiff)> = Vec::new();
    for d in diffs {
        let Some(p) = &d.paths else { continue };
        let text = crate::netmap::format::diff_text(p);
        match out
            .iter_mut()
            .find(|(_, q)| crate::netmap::format::diff_text(q) == text)
        {
            Some((envs, _)) => envs.push(&d.environment),
            None => out.push((vec![d.environment.as_str()], p)),
        }
    }
    out
}

/// The heading of a group: the environments it names, and whether they are all of them.
fn group_heading(envs: &[&str], total: usize) -> String {
    let list = envs.iter().map(|e| code(e)).collect::<Vec<_>>().join(", ");
    if envs.len() == total || envs.len() == 1 && total == 1 {
        list
    } else {
        format!("only {list}")
    }
}

/// Plain text: a summary line per environment, then the changes grouped by the environments that
/// share them (risks first), each said once.
pub fn text(diffs: &[EnvDiff], sides: &Sides) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "diff {} -> {}", sides.base, sides.head);
    for d in diffs {
        let _ = writeln!(out, "\n{}: {}", d.environment, summary_line(d));
        for note in &d.notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    for (envs, p) in path_groups(diffs) {
        let _ = writeln!(
            out,
            "\n{} ({}):",
            crate::netmap::format::diff_summary(p),
            envs.join(", ")
        );
        out.push_str(&crate::netmap::format::diff_text(p));
    }
    for g in group::group(diffs) {
        let n = g.envs.len();
        let _ = writeln!(
            out,
            "\n== {} ==",
            group_heading(&g.envs, diffs.len()).replace('`', "")
        );
        let risky: Vec<_> = g.risky().collect();
        if !risky.is_empty() {
            let _ = writeln!(out, "\nrisky changes:");
            for (item, r) in risky {
                let _ = writeln!(out, "  ! {}: {r}", item.title(n));
            }
        }
        for item in &g.items {
            let _ = writeln!(out, "\n{} {}", item.change.change.as_str(), item.title(n));
            if item.rendered_differs {
                let _ = writeln!(out, "(as rendered for {})", g.envs[0]);
            }
            for h in &item.hunks {
                out.push_str(&h.text);
                if !h.text.ends_with('\n') {
                    out.push('\n');
                }
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

/// The top of the comment: a table of the environments, their notes, and the network paths.
fn md_summary(diffs: &[EnvDiff]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Environment | Changed | Added | Removed | Unchanged | Risky |\n|---|---:|---:|---:|---:|---:|"
    );
    for d in diffs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            code(&d.environment),
            d.count(ChangeKind::Changed),
            d.count(ChangeKind::Added),
            d.count(ChangeKind::Removed),
            d.unchanged,
            d.risky().count()
        );
    }
    out.push('\n');
    for d in diffs {
        for note in &d.notes {
            let _ = writeln!(out, "> **{}**: {}\n", d.environment, note);
        }
    }
    for (envs, p) in path_groups(diffs) {
        let _ = writeln!(
            out,
            "#### Network paths in {}\n",
            group_heading(&envs, diffs.len())
        );
        out.push_str(&crate::netmap::format::diff_markdown(p));
    }
    out
}

/// The head of a group: its heading and its risky changes.
fn md_group_header(g: &group::Group<'_>, total: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {}\n", group_heading(&g.envs, total));
    let risks: Vec<_> = g.risky().collect();
    if !risks.is_empty() {
        let _ = writeln!(out, "**Risky changes**\n");
        for (item, r) in risks.iter().take(MAX_RISKS_LISTED) {
            let _ = writeln!(
                out,
                "- :warning: {}: {}",
                code(&item.title(g.envs.len())),
                r
            );
        }
        if risks.len() > MAX_RISKS_LISTED {
            let _ = writeln!(out, "- … and {} more", risks.len() - MAX_RISKS_LISTED);
        }
        out.push('\n');
    }
    out
}

fn md_section(item: &group::Item<'_>, envs: &[&str]) -> String {
    let mark = if item.risks.is_empty() {
        ""
    } else {
        ":warning: "
    };
    let mut body = String::new();
    for h in &item.hunks {
        body.push_str(&h.text);
        if !h.text.ends_with('\n') {
            body.push('\n');
        }
    }
    let mut out = format!(
        "<details><summary>{mark}{} <code>{}</code></summary>\n\n",
        item.change.change.as_str(),
        escape_html(&item.title(envs.len())),
    );
    if item.rendered_differs {
        let _ = writeln!(out, "As rendered for {}:\n", code(envs[0]));
    }
    if !body.is_empty() {
        let f = fence(&body);
        let _ = write!(out, "{f}diff\n{body}{f}\n\n");
    }
    out.push_str("</details>\n");
    out
}

/// Markdown for a pull-request comment, at most `limit` characters. The summary and the risky changes
/// always come first; resource sections follow, grouped by the environments that share them, risky
/// ones first, as many as fit; a note says what was left out.
pub fn markdown(diffs: &[EnvDiff], sides: &Sides, limit: usize) -> String {
    let title = format!(
        "## Rendered manifests diff\n\n{} → {}\n\n",
        code(&sides.base),
        code(&sides.head)
    );
    let summary = md_summary(diffs);
    let groups = group::group(diffs);
    let headers: Vec<String> = groups
        .iter()
        .map(|g| md_group_header(g, diffs.len()))
        .collect();
    let reserve = 400 + 120 * groups.len();
    let fixed =
        title.len() + summary.len() + headers.iter().map(String::len).sum::<usize>() + reserve;
    let mut budget = limit.saturating_sub(fixed);
    let mut omitted_total = 0;
    let mut out = title;
    out.push_str(&summary);
    for (g, header) in groups.iter().zip(headers) {
        out.push_str(&header);
        let mut omitted = 0;
        for item in &g.items {
            let section = md_section(item, &g.envs);
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
                "\n_{omitted} more resource diff(s) of `{}` not shown._",
                group::env_list(&g.envs)
            );
            omitted_total += omitted;
        }
        out.push('\n');
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
    let groups: Vec<serde_json::Value> = group::group(diffs)
        .iter()
        .map(|g| {
            serde_json::json!({
                "environments": g.envs,
                "changes": g.items.iter().map(|i| serde_json::json!({
                    "kind": i.change.kind,
                    "name": i.change.name,
                    "change": i.change.change.as_str(),
                    "risks": i.risks,
                    "hunks": i.hunks.iter().map(|h| h.text.as_str()).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "base": sides.base,
        "head": sides.head,
        "environments": envs,
        "groups": groups,
    })
}
