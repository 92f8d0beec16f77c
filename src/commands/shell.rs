//! `completions` and `man`: shell completion scripts and man pages generated from the clap definition,
//! so they never drift from the real options.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, Result};
use crate::Status;

use super::write;

const BIN: &str = "openim-gitops";

pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<Status> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN, &mut buf);
    write(out, &String::from_utf8_lossy(&buf))?;
    Ok(Status::Clean)
}

pub fn man(args: &ManArgs, out: &mut dyn Write) -> Result<Status> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match &args.command {
        None => cmd,
        Some(name) => {
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            let Some(sub) = cmd.find_subcommand(name) else {
                return Err(Error::usage(format!("there is no command `{name}`"))
                    .help(format!("commands: {}", names.join(", "))));
            };
            // `openim-gitops-check(1)`, with the usage line naming the full command.
            let sub = sub.clone();
            let full = format!("{BIN}-{name}");
            sub.name(full.clone())
                .bin_name(format!("{BIN} {name}"))
                .display_name(full)
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .map_err(|source| Error::Write {
            path: "standard output".into(),
            source,
        })?;
    write(out, &String::from_utf8_lossy(&buf))?;
    Ok(Status::Clean)
}
