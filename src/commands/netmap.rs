//! `netmap`: compile one environment and draw which workloads may reach which (see [`crate::netmap`]).

use std::io::Write;
use std::path::Path;

use crate::cli::{NetmapArgs, NetmapFormat};
use crate::error::Result;
use crate::netmap::{self, format};
use crate::node::Sources;

use super::{json_text, write, Status};

pub fn run(
    root: &Path,
    args: &NetmapArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
) -> Result<Status> {
    // The map does not depend on image tags: whatever the tag stage decides (or not), it draws the same.
    let c = super::compile_one(root, &args.env, &super::ci_inputs(), sources)?;
    let map = netmap::build(&c.name, &c.build.resources);
    let text = match args.format {
        NetmapFormat::Mermaid => format::mermaid(&map),
        NetmapFormat::Dot => format::dot(&map),
        NetmapFormat::Json => json_text(&format::json(&map)),
        NetmapFormat::Human => format::text(&map),
    };
    write(out, &text)?;
    Ok(Status::Clean)
}
