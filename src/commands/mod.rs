//! The commands: the only code that reads the command line (`cli`). Each file wires the stages together
//! for one command and hands what they return to the reporter or a format module; the stages never see
//! a clap type. [`run`] is the whole program: `main.rs` only maps its [`Status`] to an exit code.

pub mod check;
pub mod completions;
pub mod diff;
pub mod explain;
pub mod man;
pub mod netmap;
pub mod promote;
pub mod render;
pub mod rule;
pub mod tag;

use std::io::Write;

use crate::cli::{
    CheckFormat, Cli, Command, DiffFormat, NetmapFormat, PlainFormat, RenderFormat, TagArgs,
};
use crate::diagnostics::{self, Style};
use crate::error::{Error, Result};
use crate::git::{self, GitEnv};
use crate::load::{DiskFiles, Loader};
use crate::node::Sources;
use crate::pipeline;
use crate::tags::{self, TagInputs};

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

/// How a tool failure is printed on standard error: as the command's `--format` asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorFormat {
    Human,
    Json,
    Github,
}

fn error_format(command: Option<&Command>) -> ErrorFormat {
    let json = match command {
        Some(Command::Render(a)) => a.format == RenderFormat::Json,
        Some(Command::Explain(a)) => a.format == PlainFormat::Json,
        Some(Command::Tag(a)) => a.format == PlainFormat::Json,
        Some(Command::Diff(a)) => a.format == DiffFormat::Json,
        Some(Command::Netmap(a)) => a.format == NetmapFormat::Json,
        Some(Command::Promote(a)) => a.format == crate::cli::PromoteFormat::Json,
        Some(Command::Rule(a)) => a.format == crate::cli::RuleFormat::Json,
        Some(Command::Check(a)) => match a.format {
            CheckFormat::Github => return ErrorFormat::Github,
            CheckFormat::Json | CheckFormat::Sarif => true,
            CheckFormat::Human => false,
        },
        Some(Command::Completions(_) | Command::Man(_)) | None => false,
    };
    if json {
        ErrorFormat::Json
    } else {
        ErrorFormat::Human
    }
}

/// Runs a parsed command line, printing results to `out` and problems to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write, style: Style) -> Status {
    let mut sources = Sources::new();
    if let Some(old) = cli.command.as_ref().and_then(tag_args) {
        if let Some(v) = &old.old_version {
            let _ = writeln!(
                err,
                "warning: --version {v} after a command is the old spelling of --release-version {v}; it will go away"
            );
        }
    }
    match dispatch(&cli, &mut sources, out, err, style) {
        Ok(status) => status,
        Err(e) => {
            let status = if e.is_refusal() {
                Status::Findings
            } else {
                Status::Failure
            };
            let text = match error_format(cli.command.as_ref()) {
                ErrorFormat::Github => diagnostics::error_github(&sources, &e),
                ErrorFormat::Json => json_text(&diagnostics::error_json(&sources, &e)),
                ErrorFormat::Human => diagnostics::render_error(&sources, &e, style),
            };
            let _ = err.write_all(crate::check::redact::message(&text).as_bytes());
            status
        }
    }
}

fn dispatch(
    cli: &Cli,
    sources: &mut Sources,
    out: &mut dyn Write,
    err: &mut dyn Write,
    style: Style,
) -> Result<Status> {
    let Some(command) = &cli.command else {
        if cli.print_version {
            write(
                out,
                &format!("openim-gitops {}\n", env!("CARGO_PKG_VERSION")),
            )?;
            return Ok(Status::Clean);
        }
        return Err(Error::usage("name a command").help("openim-gitops --help lists them"));
    };
    if cli.print_version {
        return Err(
            Error::usage("--version prints the program's version and takes no command")
                .help("the release version an environment renders is --release-version X.Y.Z, after the command"),
        );
    }
    match command {
        Command::Render(args) => render::run(
            &cli.root,
            args,
            sources,
            out,
            err,
            &GitEnv::from_process(),
            style,
        ),
        Command::Explain(args) => explain::run(&cli.root, args, sources, out, err),
        Command::Tag(args) => tag::run(&cli.root, args, sources, out, err),
        Command::Diff(args) => diff::run(&cli.root, args, sources, out),
        Command::Check(args) => check::run(&cli.root, args, sources, out, style),
        Command::Netmap(args) => netmap::run(&cli.root, args, sources, out),
        Command::Promote(args) => promote::run(
            &cli.root,
            args,
            sources,
            out,
            &GitEnv::from_process(),
            style,
        ),
        Command::Rule(args) => rule::run(args, out),
        Command::Completions(args) => completions::run(args, out),
        Command::Man(args) => man::run(args, out),
    }
}

/// The repository root a command run in `cwd` works from: the nearest folder from `cwd` up that holds
/// `environments/`, not looking above the git work tree's top; else that top. `None` outside any
/// work tree with no `environments/` above: then the command works from `cwd`.
pub fn repository_root(cwd: &std::path::Path) -> Option<std::path::PathBuf> {
    let top = git::work_tree(cwd);
    for dir in cwd.ancestors() {
        if dir.join("environments").is_dir() {
            return Some(dir.to_path_buf());
        }
        if top.as_deref() == Some(dir) {
            break;
        }
    }
    top
}

/// Reads a relative `--root` and `--out` from the repository root instead of `cwd`, so a command
/// started in any of its folders works on the repository's environments and writes its `rendered/`;
/// messages then name a file below `cwd` from there and any other below the root from the root.
/// The files a command is given to read (`check`'s PATHS, `--policy`) stay where the shell has them.
pub fn anchor(cli: &mut Cli, cwd: &std::path::Path, root: &std::path::Path) {
    if cwd == root {
        return;
    }
    if cli.root.is_relative() {
        cli.root = root.join(&cli.root);
    }
    if let Some(Command::Render(args)) = &mut cli.command {
        if args.out.is_relative() {
            args.out = root.join(&args.out);
        }
    }
    crate::node::set_display_root(root);
}

/// The tag flags of a command, for those that take them.
fn tag_args(command: &Command) -> Option<&TagArgs> {
    match command {
        Command::Render(a) => Some(&a.tags),
        Command::Explain(a) => Some(&a.tags),
        Command::Tag(a) => Some(&a.tags),
        Command::Diff(a) => Some(&a.tags),
        Command::Check(a) => Some(&a.tags),
        Command::Netmap(_)
        | Command::Promote(_)
        | Command::Rule(_)
        | Command::Completions(_)
        | Command::Man(_) => None,
    }
}

/// The tag inputs of a command line: the flags, and the CI variables from the process environment.
/// The Kubernetes minor `--kube-version` names (default: the newest vendored); an unknown one is a usage
/// error that names the vendored versions.
pub fn kube_version(args: &crate::cli::KubeArgs) -> Result<crate::check::vendored::KubeVersion> {
    match &args.kube_version {
        None => Ok(Default::default()),
        Some(v) => crate::check::vendored::KubeVersion::parse(v.trim()).map_err(Error::usage),
    }
}

pub fn tag_inputs(args: &TagArgs) -> TagInputs {
    TagInputs {
        explicit_tag: args.tag.clone(),
        version: args
            .release_version
            .clone()
            .or_else(|| args.old_version.clone()),
        rc: args.rc,
        ..ci_inputs()
    }
}

/// No flags: only the CI variables from the process environment.
pub fn ci_inputs() -> TagInputs {
    TagInputs {
        ci_env: tags::CI_VARIABLES
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect(),
        ..TagInputs::default()
    }
}

/// Compiles the one environment a command names, from the working tree, with the repository's facts.
fn compile_one(
    root: &std::path::Path,
    env: &str,
    inputs: &TagInputs,
    sources: &mut Sources,
) -> Result<pipeline::Compiled> {
    let files = DiskFiles;
    let envs = pipeline::select_envs(&files, root, &[env.to_string()], false)?;
    let facts = git::repo_facts(root).ok();
    let mut loader = Loader::new(&files, sources);
    let (name, file) = &envs[0];
    pipeline::compile(&mut loader, name, file, inputs, facts.as_ref())
}

/// Everything printed goes through the redaction rule's last net (URL credentials, known tokens).
fn write(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(crate::check::redact::message(text).as_bytes())
        .map_err(|source| Error::Write {
            path: "standard output".into(),
            source,
        })
}

/// Pretty JSON and a newline.
fn json_text(v: &impl serde::Serialize) -> String {
    json_text_sized(v, 128)
}

/// Pretty JSON and a newline, written into room for `capacity` bytes: a report of thousands of
/// findings is megabytes, and growing it by doubling copies it and touches twice the memory (room
/// that is never written costs nothing).
fn json_text_sized(v: &impl serde::Serialize, capacity: usize) -> String {
    let mut out = Vec::with_capacity(capacity);
    if serde_json::to_writer_pretty(&mut out, v).is_err() {
        out.clear();
    }
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_default()
}

/// The program's name, in completions and man pages.
const BIN: &str = "openim-gitops";

/// The first 12 characters of a commit id.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
