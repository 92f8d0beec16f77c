//! `man`: the man page (roff) of the program or of one command, generated from the clap definition.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::error::{Error, Result};

use super::{write, Status, BIN};

pub fn run(args: &ManArgs, out: &mut dyn Write) -> Result<Status> {
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
