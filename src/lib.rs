//! openim-gitops: a GitOps configuration compiler with policy checks for OpenIM on Kubernetes.
//!
//! The pipeline runs one way, one module per stage: [`load`] → [`overlay`] → tags → [`render`] → check →
//! diff → git. [`run`] is the whole program; `main.rs` only maps its status to an exit code.

pub mod check;
pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod diff;
pub mod error;
pub mod explain;
pub mod git;
pub mod k8s;
pub mod load;
pub mod netmap;
pub mod node;
pub mod overlay;
pub mod pipeline;
pub mod render;
pub mod resource;
pub mod tags;

use std::io::Write;

use cli::{Cli, Command, Format};
use diagnostics::Style;
use error::{Error, Result};
use load::{DiskFiles, Loader};
use node::Sources;

/// How a run ended; `main` turns it into the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 0: success, nothing at error level.
    Clean,
    /// 1: findings at error level, or a refused commit.
    Findings,
    /// 2: usage or tool failure.
    Failure,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Clean => 0,
            Status::Findings => 1,
            Status::Failure => 2,
        }
    }
}

/// Runs a parsed command line, printing results to `out` and problems to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write, style: Style) -> Status {
    let mut sources = Sources::new();
    let result = dispatch(&cli, &mut sources, out, style);
    match result {
        Ok(status) => status,
        Err(e) => {
            let status = if e.is_refusal() {
                Status::Findings
            } else {
                Status::Failure
            };
            let text = match cli.format {
                Format::Github => diagnostics::error_github(&sources, &e),
                Format::Json | Format::Sarif => {
                    let mut s =
                        serde_json::to_string_pretty(&diagnostics::error_json(&sources, &e))
                            .unwrap_or_default();
                    s.push('\n');
                    s
                }
                Format::Human | Format::Markdown | Format::Mermaid | Format::Dot => {
                    diagnostics::render_error(&sources, &e, style)
                }
            };
            let _ = err.write_all(text.as_bytes());
            status
        }
    }
}

fn dispatch(cli: &Cli, sources: &mut Sources, out: &mut dyn Write, style: Style) -> Result<Status> {
    let files = DiskFiles;
    if cli.format == Format::Markdown && !matches!(cli.command, Command::Diff(_)) {
        return Err(Error::usage("--format markdown is only for diff")
            .help("use --format human or --format json"));
    }
    if matches!(cli.format, Format::Sarif | Format::Github)
        && !matches!(cli.command, Command::Check(_))
    {
        return Err(
            Error::usage("--format sarif and --format github are only for check")
                .help("use --format human or --format json"),
        );
    }
    if matches!(cli.format, Format::Mermaid | Format::Dot)
        && !matches!(cli.command, Command::Netmap(_))
    {
        return Err(
            Error::usage("--format mermaid and --format dot are only for netmap")
                .help("use --format human or --format json"),
        );
    }
    match &cli.command {
        Command::Netmap(args) => commands::netmap::run(cli, args, sources, out),
        Command::Completions(args) => commands::shell::completions(args, out),
        Command::Man(args) => commands::shell::man(args, out),
        Command::Render(args) => {
            commands::commit::run(cli, args, sources, out, &git::GitEnv::from_process(), style)
        }
        Command::Diff(args) => commands::diff::run(cli, args, sources, out),
        Command::Tag(args) => tag_command(cli, args, sources, out),
        Command::Explain(args) => {
            let envs =
                pipeline::select_envs(&files, &cli.root, std::slice::from_ref(&args.env), false)?;
            let facts = git::repo_facts(&cli.root).ok();
            let inputs = pipeline::tag_inputs(&args.tags);
            let mut loader = Loader::new(&files, sources);
            let (name, file) = &envs[0];
            let c = pipeline::compile(&mut loader, name, file, &inputs, facts.as_ref())?;
            let r = explain::find(&c.build.resources, &args.resource)?;
            let fields = explain::explain(sources, r, args.field.as_deref())?;
            let text = match cli.format {
                Format::Human
                | Format::Markdown
                | Format::Github
                | Format::Mermaid
                | Format::Dot => {
                    let mut s = format!("{} {}", r.kind(), r.name());
                    if !r.namespace().is_empty() {
                        s.push_str(&format!(" (namespace {})", r.namespace()));
                    }
                    s.push_str(&format!(" in environment {name}\n"));
                    s.push_str(&explain::human(&fields));
                    s
                }
                Format::Json | Format::Sarif => {
                    let list: Vec<serde_json::Value> = fields
                        .iter()
                        .map(|f| {
                            serde_json::json!({
                                "path": f.path, "value": f.value, "file": f.file,
                                "line": f.line, "column": f.column, "source": f.source,
                            })
                        })
                        .collect();
                    let mut s = serde_json::to_string_pretty(&serde_json::json!({
                        "environment": name,
                        "kind": r.kind(),
                        "name": r.name(),
                        "namespace": r.namespace(),
                        "fields": list,
                    }))
                    .unwrap_or_default();
                    s.push('\n');
                    s
                }
            };
            write(out, &text)?;
            Ok(Status::Clean)
        }
        Command::Check(args) => check::command::check(cli, args, &files, sources, out, style),
    }
}

fn tag_command(
    cli: &Cli,
    args: &cli::TagCommandArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
) -> Result<Status> {
    let files = DiskFiles;
    let envs = pipeline::select_envs(&files, &cli.root, &args.select.envs, args.select.all)?;
    let facts = git::repo_facts(&cli.root).ok();
    let inputs = pipeline::tag_inputs(&args.tags);
    let mut loader = Loader::new(&files, sources);
    let mut lines = Vec::new();
    for (name, file) in &envs {
        let env = load::Layer::load(&mut loader, file, load::LayerKind::Environment)?;
        let Some(spec) = env.tags.as_ref() else {
            lines.push((name.clone(), None));
            continue;
        };
        let d = pipeline::decide_tag(spec, &inputs, facts.as_ref())?;
        lines.push((name.clone(), Some(d)));
    }
    let text = match cli.format {
        Format::Human | Format::Markdown | Format::Github | Format::Mermaid | Format::Dot => lines
            .iter()
            .map(|(name, d)| match d {
                Some(d) => format!("{name}: {d}\n"),
                None => {
                    format!("{name}: no tag rule (images keep the tags the resources give them)\n")
                }
            })
            .collect::<String>(),
        Format::Json | Format::Sarif => {
            let list: Vec<serde_json::Value> = lines
                .iter()
                .map(|(name, d)| match d {
                    Some(d) => serde_json::json!({
                        "environment": name, "tag": d.tag, "rule": d.rule.as_str(), "reason": d.to_string(),
                    }),
                    None => serde_json::json!({ "environment": name, "tag": null }),
                })
                .collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            )
        }
    };
    write(out, &text)?;
    Ok(Status::Clean)
}

pub(crate) fn write(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .map_err(|source| Error::Write {
            path: "standard output".into(),
            source,
        })
}
