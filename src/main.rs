use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use openim_gitops::{cli::Cli, diagnostics::Style, run};

/// mimalloc instead of the system allocator: loading, checking and rendering build and free millions
/// of small nodes and strings, and glibc's allocator was a fifth of `check`'s CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before any thread or git2 call: libgit2 reads the CA bundle only when a command goes online.
    openim_gitops::git::tls::start_without_ca();
    openim_gitops::git::cache_large_trees();
    let mut cli = Cli::parse();
    // Started in a subfolder of the repository, a command reads --root and --out from its root.
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(root) = openim_gitops::commands::repository_root(&cwd) {
            openim_gitops::commands::anchor(&mut cli, &cwd, &root);
        }
    }
    let style = Style::detect(std::io::stderr().is_terminal());
    let status = run(
        cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        style,
    );
    ExitCode::from(status.code())
}
