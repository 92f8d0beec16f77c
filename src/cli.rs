//! The command line, as clap reads it. Only `commands` reads these types: each command has its own
//! options and its own `--format` values, so a command's `--help` lists what it accepts and nothing else.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// The heading under which the options every command takes are listed.
const GLOBAL: &str = "Global options";

#[derive(Parser, Debug)]
#[command(
    name = "openim-gitops",
    version,
    disable_version_flag = true,
    about = "Compile OpenIM's Kubernetes environments into rendered manifests, check them, and commit them for Argo CD",
    long_about = "openim-gitops compiles a base of plain Kubernetes YAML plus one overlay per environment \
(dev, test, release) into a deterministic rendered manifest tree, with every value traceable to the line \
that set it. It needs no kustomize, kubectl or git CLI.\n\n\
Exit codes: 0 success, 1 findings at error level or a refused commit, 2 usage or tool failure.",
    after_help = "Examples:\n  openim-gitops render --all\n  openim-gitops render --env release --release-version 3.8.3\n  openim-gitops explain --env release Deployment/openim-rpc-msg spec.replicas",
    arg_required_else_help = true
)]
pub struct Cli {
    /// The folder holding base/, components/ and one folder per environment (relative: to the repository root)
    ///
    /// A relative --root (and render's --out) is read from the repository root, whichever of its
    /// folders the command runs in: the nearest folder up holding environments/, not above the git
    /// work tree's top; else that top. The files check and --policy are given are read from the
    /// current folder.
    #[arg(
        long,
        global = true,
        default_value = "environments",
        value_name = "DIR",
        help_heading = GLOBAL
    )]
    pub root: PathBuf,

    /// Print the program's version (the release version an environment renders is `--release-version`)
    #[arg(short = 'V', long = "version", action = ArgAction::SetTrue)]
    pub print_version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `render`'s output: a line per environment.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// Text for people (`text` is the same)
    #[default]
    #[value(alias = "text")]
    Human,
    /// One JSON object per line
    Json,
}

/// `explain`'s and `tag`'s output.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PlainFormat {
    /// Text for people (`text` is the same)
    #[default]
    #[value(alias = "text")]
    Human,
    Json,
}

/// `diff`'s output.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Text for people (`text` is the same)
    #[default]
    #[value(alias = "text")]
    Human,
    Json,
    /// Markdown for a pull-request comment
    Markdown,
}

/// `check`'s output.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Text for people (`text` is the same)
    #[default]
    #[value(alias = "text")]
    Human,
    Json,
    /// SARIF 2.1.0, for code scanning
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...`), annotations on a pull request
    Github,
}

/// `netmap`'s output.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum NetmapFormat {
    /// Text for people (`text` is the same)
    #[default]
    #[value(alias = "text")]
    Human,
    Json,
    /// A Mermaid flowchart, for Markdown and GitHub
    Mermaid,
    /// Graphviz DOT, for `dot -Tsvg`
    Dot,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render environments into one file per resource, replacing the output tree as a whole
    #[command(
        after_help = "Examples:\n  openim-gitops render --all\n  openim-gitops render --env dev --out /tmp/rendered\n  openim-gitops render --env release --release-version 3.8.3\n  openim-gitops render --env dev --tag main --exit-code\n  openim-gitops render --env release --commit --proposed --push\n  openim-gitops render --env test --commit --branch environments/shared --path test\n\nWritten to --out, an environment whose tag the repository does not decide (test or release on a\ncommit without an rc or version tag) is skipped, with the reason on standard error; --strict fails\ninstead. --rev and --commit render every environment they are given, or fail."
    )]
    Render(RenderArgs),
    /// Show a rendered resource or field and the file and line that set each value
    #[command(
        after_help = "Examples:\n  openim-gitops explain --env release Deployment/openim-api\n  openim-gitops explain --env dev Deployment/openim-api 'spec.template.spec.containers[0].image'\n  openim-gitops explain --env test ConfigMap/openim-server-config --format json"
    )]
    Explain(ExplainArgs),
    /// Print the image tag each environment's rule gives (standard output), and why (standard error)
    #[command(
        after_help = "Examples:\n  openim-gitops tag --env dev\n  openim-gitops tag --all --rc 2 --release-version 3.8.3\n  openim-gitops tag --env release --release-version 3.8.3 --format json\n\nStandard output is the tag alone (a line `<env> <tag>` per environment when there are several);\nthe reason is on standard error, and --format json gives both. An environment whose rule decides\nno tag exits 1 or 2.\n\nRules: dev = the branch as a legal OCI tag (on a detached HEAD in CI: GITHUB_HEAD_REF, then GITHUB_REF_NAME),\ntest = rcN from the newest vX.Y.Z-rc.N tag reachable from HEAD, release = release-vX.Y.Z from a vX.Y.Z tag on HEAD."
    )]
    Tag(TagCommandArgs),
    /// Render two revisions (or a revision and the working tree) and compare them per resource
    #[command(
        after_help = "Examples:\n  openim-gitops diff --env dev\n  openim-gitops diff --env release --base origin/main --format markdown\n  openim-gitops diff --all --base v3.8.2 --head v3.8.3\n\nWithout --head the head side is the working tree. Differences are not failures: the exit code is 0,\nunless --exit-code asks for 1 when anything changed."
    )]
    Diff(DiffArgs),
    /// Render the next environment at the commit the previous one was tested at, commit it to the proposed branch, and print the pull-request body
    #[command(
        after_help = "Examples:\n  openim-gitops promote --from test --to release --release-version 3.8.3\n  openim-gitops promote --from test --to release --push --format markdown > body.md\n  openim-gitops promote --from dev --to test --rc 2\n\nThe target is rendered at the DRY commit the source environment's branch names (its hydrator note, else its\nhydrator.metadata), checked, and committed to <target branch>-next. A release version whose tag vX.Y.Z names a\ncommit the source environment never rendered is refused (exit 1).\n\nBranches and folders are the environments' own (commit: in env.yaml): an environment in a\nfolder of a shared branch is read from <path>/ and proposed on <branch>-next/<path>."
    )]
    Promote(PromoteArgs),
    /// Check environments (rendered in memory) or manifest files against the policy checks
    #[command(
        after_help = "Exit codes: 0 no finding at error level, 1 findings at error level, 2 usage or tool failure.\n\nExamples:\n  openim-gitops check\n  openim-gitops check --env release --format sarif > results.sarif\n  openim-gitops check rendered/release third-party/manifests.yaml\n  openim-gitops check --format github"
    )]
    Check(CheckArgs),
    /// Draw which workloads may reach which, from the NetworkPolicies
    #[command(
        after_help = "A path from A to B needs both A's egress and B's ingress to allow it (a pod no policy selects for a\ndirection is open in that direction). Peers outside the environment (other namespaces, the ingress\ncontroller's, ipBlocks) are nodes too. Ports are the destination's.\n\nWorkloads the NetworkPolicies treat alike (same namespace, same rules selecting them, admitted\nby the same rules, same ports) are one node, a class, with its members listed.\n\n--from, --to and --focus take a workload's name (openim-api), its label in the map,\n<namespace>/<name> or its id (<namespace>/<Kind>/<name>); * matches any run of characters\n(openim-rpc-*). Each may be given more than once. A name that matches no workload is an error\n(exit 2).\n\nExamples:\n  openim-gitops netmap --env release\n  openim-gitops netmap --env release --focus openim-api\n  openim-gitops netmap --env release --from openim-crontask --to 'openim-rpc-*'\n  openim-gitops netmap --env dev --format mermaid > netmap.mmd\n  openim-gitops netmap --env test --format dot | dot -Tsvg > netmap.svg\n  openim-gitops netmap --env release --format json"
    )]
    Netmap(NetmapArgs),
    /// Print what a check rule looks for, why, and a bad and a good example
    #[command(
        after_help = "Examples:\n  openim-gitops rule netpol/allow-all\n  openim-gitops rule --all\n  openim-gitops rule secrets/env-literal --format json\n\nThe rules are those docs/checks.md lists. A user policy's code (policy/<name>) is documented by\nthe policy that defines it, in policies/: this command knows only the built-in codes. An unknown\ncode is a usage error (exit 2) that names the nearest known code."
    )]
    Rule(RuleArgs),
    /// Print a shell completion script for openim-gitops
    #[command(
        after_help = "Examples:\n  openim-gitops completions bash > ~/.local/share/bash-completion/completions/openim-gitops\n  openim-gitops completions zsh > \"${fpath[1]}/_openim-gitops\"\n  openim-gitops completions fish > ~/.config/fish/completions/openim-gitops.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff) of openim-gitops or of one of its commands
    #[command(
        after_help = "Examples:\n  openim-gitops man | man -l -\n  openim-gitops man check > openim-gitops-check.1\n  openim-gitops man > /usr/local/share/man/man1/openim-gitops.1"
    )]
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub struct NetmapArgs {
    /// The environment
    #[arg(long = "env", value_name = "NAME")]
    pub env: String,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: NetmapFormat,
    /// Only the paths out of these workloads (with --to: out of these, into those)
    #[arg(long, value_name = "NAME", conflicts_with = "focus")]
    pub from: Vec<String>,
    /// Only the paths into these workloads
    #[arg(long, value_name = "NAME", conflicts_with = "focus")]
    pub to: Vec<String>,
    /// Only the paths in and out of these workloads, each drawn on its own
    #[arg(long, value_name = "NAME")]
    pub focus: Vec<String>,
}

/// `rule`'s output.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RuleFormat {
    /// Markdown text for people (`text` is the same)
    #[default]
    #[value(alias = "text")]
    Human,
    Json,
}

#[derive(Args, Debug)]
pub struct RuleArgs {
    /// The rule's code (`family/name`, as findings show it)
    #[arg(
        value_name = "CODE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub code: Option<String>,
    /// Every rule: a line each (code, default severity, summary), or with --format json every rule's whole documentation
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: RuleFormat,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The command whose page to print (default: the program's own)
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// `render` as a commit, or from a revision: see docs/git.md.
#[derive(Args, Debug, Clone, Default)]
pub struct GitRenderArgs {
    /// Render the environments as they are in this revision (branch, tag, commit), read from git objects without a checkout
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Commit the rendered tree on the environment branch instead of writing --out, rendered from HEAD's objects (or --rev's), never the working tree (working tree, index and HEAD untouched)
    #[arg(long)]
    pub commit: bool,
    /// The branch to commit to [default: commit.branch in env.yaml, else environments/<env>]
    #[arg(long, value_name = "BRANCH", requires = "commit")]
    pub branch: Option<String>,
    /// Write the environment into this folder of the branch, leaving every other folder as it is (a branch shared by environments) [default: commit.path in env.yaml, else the whole branch]
    #[arg(long, value_name = "DIR", requires = "commit")]
    pub path: Option<String>,
    /// Commit to the proposed branch <branch>-next (<branch>-next/<DIR> with --path) instead of the active one, for GitOps Promoter (or a pull request) to promote [default: commit.proposed in env.yaml]
    #[arg(long, requires = "commit")]
    pub proposed: bool,
    /// Push the branch to this remote (name or URL) after committing; rebuilt on the remote tip if it moved, never forced
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin", requires = "commit")]
    pub push: Option<String>,
    /// Commit even when checks report errors (policy must allow)
    #[arg(long, requires = "commit")]
    pub allow_findings: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub select: EnvSelect,
    #[command(flatten)]
    pub tags: TagArgs,
    /// The revision to compare from
    #[arg(long, default_value = "HEAD", value_name = "REV")]
    pub base: String,
    /// The revision to compare to [default: the working tree]
    #[arg(long, value_name = "REV", conflicts_with = "worktree")]
    pub head: Option<String>,
    /// Compare to the working tree (the default without --head)
    #[arg(long)]
    pub worktree: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: DiffFormat,
    /// Exit 1 when any environment changed (0 when none did)
    #[arg(long)]
    pub exit_code: bool,
    /// What the source links start with, `{rev}` standing for each side's commit (e.g.
    /// https://github.com/OWNER/REPO/blob/{rev}/) [default: links relative to the repository's top]
    #[arg(long, value_name = "URL")]
    pub link_base: Option<String>,
}

#[derive(Args, Debug)]
pub struct TagCommandArgs {
    #[command(flatten)]
    pub select: EnvSelect,
    #[command(flatten)]
    pub tags: TagArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: PlainFormat,
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

/// The Kubernetes version the checks target.
#[derive(Args, Debug, Clone, Default)]
pub struct KubeArgs {
    /// Check against this Kubernetes version (X.Y): the built-in kinds it serves and the API versions it
    /// no longer serves (default: the newest vendored)
    #[arg(
        long = "kube-version",
        env = "OPENIM_GITOPS_KUBE_VERSION",
        value_name = "X.Y"
    )]
    pub kube_version: Option<String>,
}

/// Explicit image tags, instead of reading them from git.
#[derive(Args, Debug, Clone, Default)]
pub struct TagArgs {
    /// Use this image tag for the environment's owned images (checked against its rule)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Release version X.Y.Z for the release rule (tag release-vX.Y.Z)
    #[arg(long, value_name = "X.Y.Z")]
    pub release_version: Option<String>,
    /// The old spelling of --release-version: still read after the command, with a warning
    #[arg(
        long = "version",
        value_name = "X.Y.Z",
        hide = true,
        conflicts_with = "release_version"
    )]
    pub old_version: Option<String>,
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
    /// Fail when the repository decides no image tag for an environment (no branch, no rc or version
    /// tag), instead of skipping it with the reason on standard error. --rev and --commit always fail
    #[arg(long)]
    pub strict: bool,
    /// Exit 1 when a tree differs from the one already in <out>/<env> (then written); when only
    /// hydrator.metadata would change, leave the folder as it is. For a pre-commit hook that keeps a
    /// committed rendered/ up to date
    #[arg(long, conflicts_with_all = ["commit", "rev"])]
    pub exit_code: bool,
    #[command(flatten)]
    pub git: GitRenderArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Output format (of the lines it prints, and of the checks' findings when a commit is refused)
    #[arg(long, value_enum, default_value_t)]
    pub format: RenderFormat,
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
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: PlainFormat,
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
    #[command(flatten)]
    pub kube: KubeArgs,
    /// The date waivers expire against (YYYY-MM-DD), instead of today in UTC
    #[arg(
        long,
        hide = true,
        env = "OPENIM_GITOPS_TODAY",
        value_name = "YYYY-MM-DD"
    )]
    pub today: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: CheckFormat,
}

/// `promote`'s output.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PromoteFormat {
    /// Text for people (`text` is the same)
    #[default]
    #[value(alias = "text")]
    Human,
    Json,
    /// Markdown, the pull-request body
    Markdown,
}

#[derive(Args, Debug)]
pub struct PromoteArgs {
    /// The environment whose tested render is promoted
    #[arg(long, value_name = "ENV")]
    pub from: String,
    /// The environment it is promoted to
    #[arg(long, value_name = "ENV")]
    pub to: String,
    /// Release version X.Y.Z for a release rule (tag release-vX.Y.Z); its tag vX.Y.Z, when it exists, must name a commit the source environment rendered
    #[arg(long = "release-version", value_name = "X.Y.Z")]
    pub release_version: Option<String>,
    /// Release candidate number N for an rc rule (tag rcN)
    #[arg(long, value_name = "N")]
    pub rc: Option<u32>,
    /// Push the proposed branch (and its note) to this remote
    #[arg(long, value_name = "REMOTE", num_args = 0..=1, default_missing_value = "origin")]
    pub push: Option<String>,
    /// Commit even when checks report errors (policy must allow)
    #[arg(long)]
    pub allow_findings: bool,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = PromoteFormat::Human)]
    pub format: PromoteFormat,
}
