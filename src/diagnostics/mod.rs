//! The reporter: errors and findings are plain data with [`Origin`]s; this folder prints them, one file
//! per format: [`human`] (miette, with the source line), [`json`], [`sarif`] (2.1.0, code scanning) and
//! [`github`] (workflow commands). What the formats share is here: the style, places, the grouping of a
//! finding found in several environments, and the summary lines.
//!
//! Nothing here prints a value the redaction rule hides: snippets quote files as `crate::check::redact` lets
//! them be quoted, and findings' messages were redacted when they were made.

mod github;
mod human;
mod json;
mod sarif;

use std::collections::BTreeMap;

pub use github::{error_github, findings_github};
pub use human::{findings_human, render_error, SNIPPET_WIDTH};
pub use json::{error_json, findings_json, FindingsJson};
pub use sarif::{findings_sarif, fingerprint};

use crate::check::Report as CheckReport;
use crate::check::{Finding, Severity as FindingSeverity};
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
            f.code().as_str(),
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
            fa.code(),
        )
            .cmp(&(
                &sources.get(fb.origin.file).display,
                fb.origin.line,
                fb.origin.col,
                fb.code(),
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
