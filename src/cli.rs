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
    /// Print the image tag each environment's rule gives, and why (which ref, tag or CI variable)
    #[command(
        after_help = "Examples:\n  openim-gitops tag --env dev\n  openim-gitops tag --all --rc 2 --version 3.8.3\n\nRules: dev = the branch as a legal OCI tag (on a detached HEAD in CI: GITHUB_HEAD_REF, then GITHUB_REF_NAME),\ntest = rcN from the newest vX.Y.Z-rc.N tag reachable from HEAD, release = release-vX.Y.Z from a vX.Y.Z tag on HEAD."
    )]
    Tag(TagCommandArgs),
}

#[derive(Args, Debug)]
pub struct TagCommandArgs {
    #[command(flatten)]
    pub select: EnvSelect,
    #[command(flatten)]
    pub tags: TagArgs,
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
