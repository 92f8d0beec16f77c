//! GitHub Actions workflow commands (`::error file=...,line=...::message`): annotations on a pull
//! request, for findings and for tool failures.

use super::{group, location, summary_lines};
use crate::check::Report as CheckReport;
use crate::check::Severity as FindingSeverity;
use crate::error::Error;
use crate::node::{Origin, Sources};

fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_escape_property(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn gh_command(
    level: &str,
    place: Option<(&Sources, Origin)>,
    title: Option<&str>,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some((sources, o)) = place {
        let file = sources.get(o.file);
        let (end_line, end_col) = file.line_col(o.end as usize);
        props.push(format!("file={}", gh_escape_property(&file.display)));
        props.push(format!("line={}", o.line));
        props.push(format!("col={}", o.col));
        if end_line >= o.line {
            props.push(format!("endLine={end_line}"));
            if end_line == o.line {
                props.push(format!("endColumn={end_col}"));
            }
        }
    }
    if let Some(t) = title {
        props.push(format!("title={}", gh_escape_property(t)));
    }
    let sep = if props.is_empty() { "" } else { " " };
    format!(
        "::{level}{sep}{}::{}\n",
        props.join(","),
        gh_escape_data(message)
    )
}

/// GitHub Actions workflow commands: one annotation per finding, then the summary lines.
pub fn findings_github(sources: &Sources, report: &CheckReport) -> String {
    let mut out = String::new();
    for g in group(sources, report) {
        let f = g.finding;
        let level = match f.severity {
            FindingSeverity::Error => "error",
            FindingSeverity::Warning => "warning",
            FindingSeverity::Info => "notice",
        };
        let mut message = f.message.clone();
        if !g.envs.is_empty() {
            message.push_str(&format!(" [{}]", g.envs.join(", ")));
        }
        for (o, label) in &f.related {
            message.push_str(&format!("\n{}: {label}", location(sources, *o)));
        }
        if let Some(h) = &f.help {
            message.push_str(&format!("\nhelp: {h}"));
        }
        out.push_str(&gh_command(
            level,
            Some((sources, f.origin)),
            Some(f.code().as_str()),
            &message,
        ));
    }
    out.push_str(&summary_lines(report));
    out
}

/// A tool failure as GitHub workflow commands.
pub fn error_github(sources: &Sources, err: &Error) -> String {
    let mut out = String::new();
    collect_github(sources, err, &mut out);
    out
}

fn collect_github(sources: &Sources, err: &Error, out: &mut String) {
    match err {
        Error::At(l) => {
            let mut message = l.message.clone();
            if let Some(h) = &l.help {
                message.push_str(&format!("\nhelp: {h}"));
            }
            out.push_str(&gh_command(
                "error",
                Some((sources, l.origin)),
                None,
                &message,
            ));
        }
        Error::Many(errors) => errors.iter().for_each(|e| collect_github(sources, e, out)),
        Error::Usage { message, help } => {
            let mut m = message.clone();
            if let Some(h) = help {
                m.push_str(&format!("\nhelp: {h}"));
            }
            out.push_str(&gh_command("error", None, None, &m));
        }
        other => out.push_str(&gh_command("error", None, None, &other.to_string())),
    }
}
