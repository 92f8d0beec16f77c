//! `completions`: a shell completion script generated from the clap definition, so it never drifts
//! from the real options.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::Result;

use super::{write, Status};

pub fn run(args: &CompletionsArgs, out: &mut dyn Write) -> Result<Status> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, super::BIN, &mut buf);
    write(out, &String::from_utf8_lossy(&buf))?;
    Ok(Status::Clean)
}
