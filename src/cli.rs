//! The command line, as clap reads it. `lib::run` acts on it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "openim-gitops",
    version,
    about = "Compile OpenIM's Kubernetes environments into rendered manifests, check them, and commit them for Argo CD",
    long_about = "openim-gitops compiles a base of plain Kubernetes YAML plus one overlay per environment \
(dev, test, release) into a deterministic rendered manifest tree, with every value traceable to the line \
that set it. It needs no kustomize, kubectl or git CLI.\n\n\
Exit codes: 0 success, 1 findings at error level or a refused commit, 2 usage or tool failure.",
    after_help = "Examples:\n  openim-gitops render --all\n  openim-gitops render --env release --version 3.8.3\n  openim-gitops explain --env release Deployment/openim-api spec.replicas"
)]
pub struct Cli {
    /// The folder holding base/, components/ and one folder per environment
    #[arg(
        long,
        global = true,
        default_value = "environments",
        value_name = "DIR"
    )]
    pub root: PathBuf,

    /// Output format of findings, errors and explanations
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for code scanning (check only; other commands print JSON)
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...`), for annotations on a pull request
    Github,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render environments into one file per resource, replacing the output tree as a whole
    #[command(
        after_help = "Examples:\n  openim-gitops render --all\n  openim-gitops render --env dev --out /tmp/rendered\n  openim-gitops render --env release --version 3.8.3"
    )]
    Render(RenderArgs),
    /// Show a rendered resource or field and the file and line that set each value
    #[command(
        after_help = "Examples:\n  openim-gitops explain --env release Deployment/openim-api\n  openim-gitops explain --env dev Deployment/openim-api 'spec.template.spec.containers[name=openim-api].image'\n  openim-gitops explain --env test ConfigMap/openim-server-config --format json"
    )]
    Explain(ExplainArgs),
    /// Check environments (rendered in memory) or manifest files against the policy checks
    #[command(
        after_help = "Exit codes: 0 no finding at error level, 1 findings at error level, 2 usage or tool failure.\n\nExamples:\n  openim-gitops check\n  openim-gitops check --env release --format sarif > results.sarif\n  openim-gitops check rendered/release third-party/manifests.yaml\n  openim-gitops check --format github"
    )]
    Check(CheckArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct EnvSelect {
    /// The environment to work on (repeatable)
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,
    /// Every environment under --root
    #[arg(long, conflicts_with = "envs")]
    pub all: bool,
}

/// Explicit image tags, instead of reading them from git.
#[derive(Args, Debug, Clone, Default)]
pub struct TagArgs {
    /// Use this image tag for the environment's owned images (checked against its rule)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Release version X.Y.Z for the release rule (tag release-vX.Y.Z)
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<String>,
    /// Release candidate number N for the rc rule (tag rcN)
    #[arg(long, value_name = "N")]
    pub rc: Option<u32>,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    #[command(flatten)]
    pub select: EnvSelect,
    #[command(flatten)]
    pub tags: TagArgs,
    /// Parent folder of the rendered trees: each environment goes to <out>/<env>
    #[arg(long, default_value = "rendered", value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The environment
    #[arg(long = "env", value_name = "NAME")]
    pub env: String,
    #[command(flatten)]
    pub tags: TagArgs,
    /// The resource, as Kind/name or Kind/namespace/name
    pub resource: String,
    /// A field path in it, e.g. spec.template.spec.containers[name=api].image
    pub field: Option<String>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub select: EnvSelect,
    #[command(flatten)]
    pub tags: TagArgs,
    /// The policy file or folder (default: policies/ beside the --root folder, if it exists)
    #[arg(long, value_name = "PATH")]
    pub policy: Option<PathBuf>,
    /// Check these manifest files or folders as they are, instead of the environments
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// The date waivers expire against (YYYY-MM-DD), instead of today in UTC
    #[arg(
        long,
        hide = true,
        env = "OPENIM_GITOPS_TODAY",
        value_name = "YYYY-MM-DD"
    )]
    pub today: Option<String>,
}
