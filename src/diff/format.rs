//! The diff as a reader sees it: plain text for a terminal, Markdown for a pull-request comment (a
//! summary, the risky changes, a table per kind, and one collapsible section per resource), or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{group, ChangeKind, EnvDiff};

/// GitHub refuses a comment body longer than this many characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Risky changes listed per environment before the rest is summed up, so that the summary always fits.
const MAX_RISKS_LISTED: usize = 50;

/// Images listed in the summary's table.
const MAX_IMAGES_LISTED: usize = 60;

/// Changed fields listed per resource section.
const MAX_FIELDS_LISTED: usize = 20;

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

/// How many environments changed at all.
fn touched_count(diffs: &[EnvDiff]) -> usize {
    diffs.iter().filter(|d| !d.changes.is_empty()).count()
}

/// The heading of a group: the environments it names, and whether they are all of them.
fn group_heading(envs: &[&str], total: usize) -> String {
    let list = envs.iter().map(|e| code(e)).collect::<Vec<_>>().join(", ");
    if envs.len() >= total {
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
    let sum = summary(diffs);
    let (gained, lost) = diffs
        .iter()
        .map(path_counts)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let _ = writeln!(
        out,
        "environments changed: {}; network paths: {gained} gained, {lost} lost; risky changes: {}",
        if sum.touched.is_empty() {
            "none".to_string()
        } else {
            sum.touched.join(", ")
        },
        sum.risky
    );
    for d in diffs {
        let _ = writeln!(out, "\n{}: {}", d.environment, summary_line(d));
        for note in &d.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let changed: Vec<String> = d
            .images
            .iter()
            .filter(|(_, [o, n])| o != n)
            .map(|(name, t)| format!("{name} {}", tag_cell(Some(t), false)))
            .collect();
        let mut tags: Vec<&str> = d
            .images
            .values()
            .filter_map(|[_, n]| n.as_deref())
            .collect();
        tags.sort();
        tags.dedup();
        if !tags.is_empty() {
            let _ = writeln!(out, "image tags: {}", tags.join(", "));
        }
        for c in changed {
            let _ = writeln!(out, "image tag changed: {c}");
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
            group_heading(&g.envs, touched_count(diffs)).replace('`', "")
        );
        let risky: Vec<_> = g.risky().collect();
        if !risky.is_empty() {
            let _ = writeln!(out, "\nrisky changes:");
            for (item, r) in risky {
                let _ = writeln!(out, "  ! {}: {r}", item.title(n));
            }
        }
        let effects: Vec<_> = g.effects().collect();
        if !effects.is_empty() {
            let _ = writeln!(out, "\neffect on the network paths:");
            for (item, e) in effects {
                let _ = writeln!(out, "  > {}: {e}", item.title(n));
            }
        }
        for item in g.items.iter().filter(|i| i.change.rolled_by.is_none()) {
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
            if let Some(old) = &item.change.renamed_from {
                let _ = writeln!(
                    out,
                    "content change: renamed {old} -> {}{}",
                    item.change.name,
                    if item.change.rollout.is_empty() {
                        String::new()
                    } else {
                        format!("; rolls out {}", item.change.rollout.join(", "))
                    }
                );
            }
            for line in field_lines(&item.fields, false) {
                let _ = writeln!(out, "  source: {line}");
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

/// What the summary says, for every format.
struct Summary<'a> {
    touched: Vec<&'a str>,
    /// Risk lines, each counted once across the environments that share it.
    risky: usize,
    /// Image -> per environment (in order) its tags at the base and the head.
    images: BTreeMap<&'a str, PerEnvTags<'a>>,
}

/// Per environment (in order) an image's tags at the base and the head, if it runs it.
type PerEnvTags<'a> = Vec<Option<&'a [Option<String>; 2]>>;

fn summary(diffs: &[EnvDiff]) -> Summary<'_> {
    let mut images: BTreeMap<&str, Vec<Option<&[Option<String>; 2]>>> = BTreeMap::new();
    for (i, d) in diffs.iter().enumerate() {
        for (name, tags) in &d.images {
            images
                .entry(name.as_str())
                .or_insert_with(|| vec![None; diffs.len()])[i] = Some(tags);
        }
    }
    Summary {
        touched: diffs
            .iter()
            .filter(|d| !d.changes.is_empty())
            .map(|d| d.environment.as_str())
            .collect(),
        risky: group::group(diffs).iter().map(|g| g.risky().count()).sum(),
        images,
    }
}

fn path_counts(d: &EnvDiff) -> (usize, usize) {
    d.paths
        .as_ref()
        .map_or((0, 0), |p| (p.added.len(), p.lost.len()))
}

/// A tag cell: `main`, or `old → new` when it changed.
fn tag_cell(tags: Option<&[Option<String>; 2]>, markdown: bool) -> String {
    let show = |t: &Option<String>| match t {
        Some(t) if markdown => code(t),
        Some(t) => t.clone(),
        None => "-".to_string(),
    };
    match tags {
        None => "-".to_string(),
        Some([old, new]) if old == new => show(new),
        Some([old, new]) => format!("{} → {}", show(old), show(new)),
    }
}

/// The top of the comment: what changed where, the effective network paths, the risky count, the
/// image tags each environment runs, and the notes.
fn md_summary(diffs: &[EnvDiff]) -> String {
    let sum = summary(diffs);
    let mut out = String::new();
    let touched = if sum.touched.is_empty() {
        "none".to_string()
    } else {
        sum.touched
            .iter()
            .map(|e| code(e))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (gained, lost) = diffs
        .iter()
        .map(path_counts)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let _ = writeln!(
        out,
        "**Environments changed**: {touched} · **Network paths**: {gained} gained, {lost} lost · **Risky changes**: {}\n",
        sum.risky
    );
    let _ = writeln!(
        out,
        "| Environment | Changed | Added | Removed | Unchanged | Risky | Paths gained | Paths lost |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for d in diffs {
        let (g, l) = path_counts(d);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {g} | {l} |",
            code(&d.environment),
            d.count(ChangeKind::Changed),
            d.count(ChangeKind::Added),
            d.count(ChangeKind::Removed),
            d.unchanged,
            d.risky().count()
        );
    }
    out.push('\n');
    if !sum.images.is_empty() {
        let changed = sum
            .images
            .values()
            .flatten()
            .flatten()
            .filter(|[o, n]| o != n)
            .count();
        let _ = writeln!(
            out,
            "<details><summary>Image tags each environment will run ({} image(s), {changed} tag change(s))</summary>\n",
            sum.images.len()
        );
        let with: Vec<usize> = (0..diffs.len())
            .filter(|i| !diffs[*i].images.is_empty())
            .collect();
        let envs: Vec<String> = with.iter().map(|i| code(&diffs[*i].environment)).collect();
        let _ = writeln!(
            out,
            "| Image | {} |\n|---|{}",
            envs.join(" | "),
            "---|".repeat(envs.len())
        );
        // Changed tags first; the table is capped so that the summary always fits.
        let mut rows: Vec<(&&str, &PerEnvTags<'_>)> = sum.images.iter().collect();
        rows.sort_by_key(|(name, per_env)| {
            let same = per_env.iter().flatten().all(|[o, n]| o == n);
            (same, **name)
        });
        for (name, per_env) in rows.iter().take(MAX_IMAGES_LISTED) {
            let cells: Vec<String> = with.iter().map(|i| tag_cell(per_env[*i], true)).collect();
            let _ = writeln!(out, "| {} | {} |", code(name), cells.join(" | "));
        }
        if rows.len() > MAX_IMAGES_LISTED {
            let _ = writeln!(
                out,
                "\n_… and {} more image(s): `--format json` lists them all._",
                rows.len() - MAX_IMAGES_LISTED
            );
        }
        out.push_str("\n</details>\n\n");
    }
    for d in diffs {
        for note in &d.notes {
            let _ = writeln!(out, "> **{}**: {}\n", d.environment, note);
        }
    }
    for (envs, p) in path_groups(diffs) {
        let _ = writeln!(
            out,
            "#### Network paths in {}\n",
            group_heading(&envs, touched_count(diffs))
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
    let effects: Vec<_> = g.effects().collect();
    if !effects.is_empty() {
        let _ = writeln!(
            out,
            "**Effect on the network paths** (both ends' policies)\n"
        );
        for (item, e) in effects.iter().take(MAX_RISKS_LISTED) {
            let _ = writeln!(out, "- {}: {}", code(&item.title(g.envs.len())), e);
        }
        if effects.len() > MAX_RISKS_LISTED {
            let _ = writeln!(out, "- … and {} more", effects.len() - MAX_RISKS_LISTED);
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
    out.push_str(&md_cause(item));
    out.push_str("</details>\n");
    out
}

/// A link to a source line: `[environments/base/x.yaml:12](environments/base/x.yaml#L12)` (relative to
/// the repository's top, or after `--link-base`).
fn md_link(p: &super::Place) -> String {
    let text = p
        .file
        .replace('\\', "\\\\")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('<', "&lt;");
    format!("[{text}:{}]({})", p.line, p.url)
}

/// What a rename rolls out, and the source line behind each changed field.
fn md_cause(item: &group::Item<'_>) -> String {
    let mut out = String::new();
    let c = item.change;
    if let Some(old) = &c.renamed_from {
        let _ = write!(
            out,
            "Content change: the generated name follows the content, {} → {}",
            code(old),
            code(&c.name)
        );
        if c.rollout.is_empty() {
            out.push_str(".\n\n");
        } else {
            let _ = writeln!(
                out,
                "; rolls out {} (their only change is the new name).\n",
                c.rollout
                    .iter()
                    .map(|w| code(w))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if item.fields.is_empty() {
        return out;
    }
    let _ = writeln!(out, "**Source**\n");
    for line in field_lines(&item.fields, true) {
        let _ = writeln!(out, "- {line}");
    }
    out.push('\n');
    out
}

/// The fields of an item as lines, the first [`MAX_FIELDS_LISTED`] of them and a count of the rest.
fn field_lines(fields: &[&super::FieldChange], markdown: bool) -> Vec<String> {
    let mut out: Vec<String> = fields
        .iter()
        .take(MAX_FIELDS_LISTED)
        .map(|f| field_line(f, markdown))
        .collect();
    if fields.len() > MAX_FIELDS_LISTED {
        out.push(format!(
            "… and {} more field(s)",
            fields.len() - MAX_FIELDS_LISTED
        ));
    }
    out
}

/// One changed field and where its values were set, as Markdown (links) or text.
fn field_line(f: &super::FieldChange, markdown: bool) -> String {
    let at = |p: &super::Place| {
        if markdown {
            md_link(p)
        } else {
            format!("{}:{}", p.file, p.line)
        }
    };
    let val = |v: &str| {
        if markdown {
            code(v)
        } else {
            v.to_string()
        }
    };
    if f.path.is_empty() {
        return match (&f.new_at, &f.old_at) {
            (Some(n), _) => format!("defined at {}", at(n)),
            (None, Some(o)) => format!("was defined at {}", at(o)),
            (None, None) => "defined in no known file".to_string(),
        };
    }
    let what = match (&f.old, &f.new) {
        (Some(o), Some(n)) => format!("{} → {}", val(o), val(n)),
        (None, Some(n)) => format!("added: {}", val(n)),
        (Some(o), None) => format!("removed (was {})", val(o)),
        (None, None) => String::new(),
    };
    let mut line = format!("{}: {what}", val(&f.path));
    match (&f.new_at, &f.old_at) {
        (Some(n), Some(o)) if n != o => {
            let _ = write!(line, ", set at {} (before: {})", at(n), at(o));
        }
        (Some(n), _) => {
            let _ = write!(line, ", set at {}", at(n));
        }
        (None, Some(o)) => {
            let _ = write!(line, ", was set at {}", at(o));
        }
        (None, None) => {}
    }
    line
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
        .map(|g| md_group_header(g, touched_count(diffs)))
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
        for item in g.items.iter().filter(|i| i.change.rolled_by.is_none()) {
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
                    // A path end that stands for several workloads (a class), with its members.
                    let classes: serde_json::Map<String, serde_json::Value> = p
                        .nodes
                        .iter()
                        .filter(|(_, n)| n.members.len() > 1)
                        .map(|(id, n)| {
                            let ids: Vec<&str> = n.members.iter().map(|m| m.id.as_str()).collect();
                            (id.clone(), serde_json::json!(ids))
                        })
                        .collect();
                    serde_json::json!({"added": list(&p.added), "lost": list(&p.lost), "classes": classes})
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
                    "namespace": (g.envs.len() == 1).then_some(&i.change.namespace),
                    "change": i.change.change.as_str(),
                    "renamed_from": i.change.renamed_from,
                    "rollout": i.change.rollout,
                    "risks": i.risks,
                    "effects": i.effects,
                    "hunks": i.hunks.iter().map(|h| h.text.as_str()).collect::<Vec<_>>(),
                    "fields": i.fields.iter().map(|f| {
                        let at = |p: &Option<super::Place>| p.as_ref().map(|p| serde_json::json!({"file": p.file, "line": p.line}));
                        serde_json::json!({
                            "path": f.path,
                            "old": f.old,
                            "new": f.new,
                            "set_at": at(&f.new_at),
                            "was_set_at": at(&f.old_at),
                        })
                    }).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let sum = summary(diffs);
    let (gained, lost) = diffs
        .iter()
        .map(path_counts)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let images: serde_json::Map<String, serde_json::Value> = diffs
        .iter()
        .map(|d| {
            let tags: serde_json::Map<String, serde_json::Value> = d
                .images
                .iter()
                .map(|(name, [old, new])| {
                    (name.clone(), serde_json::json!({"base": old, "head": new}))
                })
                .collect();
            (d.environment.clone(), serde_json::Value::Object(tags))
        })
        .collect();
    serde_json::json!({
        "base": sides.base,
        "head": sides.head,
        "summary": {
            "changed": !sum.touched.is_empty(),
            "environments_changed": sum.touched,
            "paths_gained": gained,
            "paths_lost": lost,
            "risky": sum.risky,
            "images": images,
        },
        "environments": envs,
        "groups": groups,
    })
}
