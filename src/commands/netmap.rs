//! `netmap`: compile one environment and draw which workloads may reach which (see [`crate::netmap`]).

use std::io::Write;

use crate::cli::{Cli, Format, NetmapArgs};
use crate::error::Result;
use crate::load::{DiskFiles, Loader};
use crate::netmap::{self, format};
use crate::node::Sources;
use crate::{git, pipeline, Status};

use super::write;

pub fn run(
    cli: &Cli,
    args: &NetmapArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
) -> Result<Status> {
    let files = DiskFiles;
    let envs = pipeline::select_envs(&files, &cli.root, std::slice::from_ref(&args.env), false)?;
    let facts = git::repo_facts(&cli.root).ok();
    let inputs = pipeline::tag_inputs(&args.tags);
    let mut loader = Loader::new(&files, sources);
    let (name, file) = &envs[0];
    // The map does not depend on image tags: when no tag can be decided, draw the source's own.
    let resources = match pipeline::compile(&mut loader, name, file, &inputs, facts.as_ref()) {
        Ok(c) => c.build.resources,
        Err(_) => crate::overlay::build(&mut loader, file)?.resources,
    };
    let map = netmap::build(name, &resources);
    let text = match cli.format {
        Format::Mermaid => format::mermaid(&map),
        Format::Dot => format::dot(&map),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&format::json(&map)).unwrap_or_default();
            s.push('\n');
            s
        }
        _ => format::text(&map),
    };
    write(out, &text)?;
    Ok(Status::Clean)
}
