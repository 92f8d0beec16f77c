use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use openim_gitops::{cli::Cli, diagnostics::Style, run};

fn main() -> ExitCode {
    // Before any thread or git2 call: libgit2 reads the CA bundle only when a command goes online.
    openim_gitops::git::tls::start_without_ca();
    // Every command works from the repository root, whichever of its folders it is started in.
    if let Some(root) = std::env::current_dir()
        .ok()
        .and_then(|cwd| openim_gitops::commands::repository_root(&cwd))
    {
        let _ = std::env::set_current_dir(root);
    }
    let cli = Cli::parse();
    let style = Style::detect(std::io::stderr().is_terminal());
    let status = run(
        cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        style,
    );
    ExitCode::from(status.code())
}
