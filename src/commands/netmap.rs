//! `netmap`: compile one environment and draw which workloads may reach which (see [`crate::netmap`]).

use std::io::Write;
use std::path::Path;

use crate::cli::{NetmapArgs, NetmapFormat};
use crate::error::{Error, Result};
use crate::netmap::{self, format, Selection};
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
    let mut resources = c.build.resources;
    netmap::redact(&mut resources);
    let mut map = netmap::build(&c.name, &resources);
    // The command ends with the map printed: freeing the tree object by object (10,001 of them in
    // a large environment) would cost more than drawing the map.
    std::mem::forget(resources);
    let selection = Selection {
        from: args.from.clone(),
        to: args.to.clone(),
        focus: args.focus.clone(),
    };
    if !selection.is_empty() {
        map = map.focus(&selection).map_err(Error::usage)?;
    }
    let text = match args.format {
        NetmapFormat::Mermaid => format::mermaid(&map),
        NetmapFormat::Dot => format::dot(&map),
        NetmapFormat::Json => json_text(&format::json(&map)),
        NetmapFormat::Human => format::text(&map),
    };
    write(out, &text)?;
    Ok(Status::Clean)
}
