//! The pull-request body of a promotion (`promote`): what moves from one environment to the next. In
//! order: what is promoted and from which tested render, the diff of the active vs the proposed branch
//! (risky changes first, see [`super::format`]), the DRY commits the promotion spans, and the images
//! with their tags on both sides. Secret values never appear: the diff redacts them (see [`super`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::format::{self, Sides};
use super::EnvDiff;

/// A DRY commit the promotion brings to the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryCommitLine {
    pub sha: String,
    pub subject: String,
    pub author: String,
}

/// Everything the body says.
#[derive(Clone, Debug)]
pub struct Promotion {
    pub from: String,
    pub to: String,
    /// The DRY commit promoted, and the source environment's hydrated commit it was tested as.
    pub dry: String,
    pub tested_as: String,
    /// The branches: the target's active one and the proposed one the commit went to.
    pub active_branch: String,
    pub proposed_branch: String,
    /// The proposed commit, when one was made (`None`: the proposed branch already held this render).
    pub proposed_commit: Option<String>,
    pub diff: EnvDiff,
    /// Newest first.
    pub dry_commits: Vec<DryCommitLine>,
    /// Image -> tag, on the active and the proposed side.
    pub active_tags: BTreeMap<String, String>,
    pub proposed_tags: BTreeMap<String, String>,
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Markdown, at most `limit` characters (the diff section gives way first).
pub fn markdown(p: &Promotion, limit: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(
        head,
        "# Promote `{}` to `{}` at `{}`\n",
        p.from,
        p.to,
        short(&p.dry)
    );
    let _ = writeln!(
        head,
        "Renders `{}` at the DRY commit `{}`, which `{}` was rendered and tested at (`{}`), and proposes it on \
         `{}`{}. Merging this pull request into `{}` deploys it.\n",
        p.to,
        p.dry,
        p.from,
        short(&p.tested_as),
        p.proposed_branch,
        match &p.proposed_commit {
            Some(c) => format!(" as `{}`", short(c)),
            None => " (unchanged: it already held this render)".to_string(),
        },
        p.active_branch
    );
    let mut tail = String::new();
    let _ = writeln!(tail, "## DRY commits\n");
    if p.dry_commits.is_empty() {
        let _ = writeln!(tail, "None: `{}` is already at this DRY commit.\n", p.to);
    } else {
        for c in &p.dry_commits {
            let _ = writeln!(
                tail,
                "- `{}` {} ({})",
                short(&c.sha),
                escape(&c.subject),
                escape(&c.author)
            );
        }
        tail.push('\n');
    }
    let _ = writeln!(tail, "## Images\n");
    let images: BTreeSet<&String> = p.active_tags.keys().chain(p.proposed_tags.keys()).collect();
    if images.is_empty() {
        let _ = writeln!(tail, "No image tag is set by `{}`'s rule.", p.to);
    } else {
        let _ = writeln!(tail, "| image | active | proposed |\n|---|---|---|");
        for image in images {
            let old = p.active_tags.get(image).map(String::as_str).unwrap_or("-");
            let new = p
                .proposed_tags
                .get(image)
                .map(String::as_str)
                .unwrap_or("-");
            let mark = if old == new { "" } else { " :arrow_up:" };
            let _ = writeln!(tail, "| `{image}` | `{old}` | `{new}`{mark} |");
        }
    }
    let sides = Sides {
        base: format!("{} (active)", p.active_branch),
        head: format!("{} (proposed)", p.proposed_branch),
    };
    let budget = limit.saturating_sub(head.len() + tail.len() + 2);
    let diff = format::markdown(std::slice::from_ref(&p.diff), &sides, budget);
    format!("{head}{diff}\n{tail}")
}

/// The same for a terminal.
pub fn text(p: &Promotion) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "promote {} -> {} at {} (tested as {} on {}); proposed on {}{}",
        p.from,
        p.to,
        short(&p.dry),
        short(&p.tested_as),
        p.from,
        p.proposed_branch,
        match &p.proposed_commit {
            Some(c) => format!(" as {}", short(c)),
            None => " (unchanged)".to_string(),
        }
    );
    let sides = Sides {
        base: format!("{} (active)", p.active_branch),
        head: format!("{} (proposed)", p.proposed_branch),
    };
    out.push_str(&format::text(std::slice::from_ref(&p.diff), &sides));
    let _ = writeln!(out, "\nDRY commits:");
    for c in &p.dry_commits {
        let _ = writeln!(out, "  {} {} ({})", short(&c.sha), c.subject, c.author);
    }
    let _ = writeln!(out, "\nImages:");
    let images: BTreeSet<&String> = p.active_tags.keys().chain(p.proposed_tags.keys()).collect();
    for image in images {
        let _ = writeln!(
            out,
            "  {image}: {} -> {}",
            p.active_tags.get(image).map(String::as_str).unwrap_or("-"),
            p.proposed_tags
                .get(image)
                .map(String::as_str)
                .unwrap_or("-")
        );
    }
    out
}

/// Commit subjects and names are repository content: nothing in them may open HTML or a link.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('[', "\\[")
        .replace('`', "'")
}
