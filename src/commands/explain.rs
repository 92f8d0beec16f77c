//! `explain`: one rendered resource or field, and the file and line that set each value.

use std::io::Write;
use std::path::Path;

use crate::cli::{ExplainArgs, PlainFormat};
use crate::error::Result;
use crate::explain;
use crate::node::Sources;

use super::{json_text, write, Status};

pub fn run(
    root: &Path,
    args: &ExplainArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status> {
    let c = super::compile_one(root, &args.env, &super::tag_inputs(&args.tags), sources)?;
    // Explaining needs no tag: without one, the owned images show the tags the files give them.
    let c = match c.undecided() {
        Some(e) => {
            write(
                err,
                &format!(
                    "note: no image tag for {}: {e}; its owned images show the tags written in the files\n",
                    args.env
                ),
            )?;
            c
        }
        None => c.tagged()?,
    };
    let name = &c.name;
    let r = explain::find(&c.build.resources, &args.resource)?;
    let fields = explain::explain(sources, r, args.field.as_deref())?;
    let text = match args.format {
        PlainFormat::Human => {
            let mut s = format!("{} {}", r.kind(), r.name());
            if !r.namespace().is_empty() {
                s.push_str(&format!(" (namespace {})", r.namespace()));
            }
            s.push_str(&format!(" in environment {name}\n"));
            s.push_str(&explain::human(&fields));
            s
        }
        PlainFormat::Json => {
            let list: Vec<serde_json::Value> = fields
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "path": f.path, "value": f.value, "file": f.file,
                        "line": f.line, "column": f.column, "source": f.source,
                    })
                })
                .collect();
            json_text(&serde_json::json!({
                "environment": name,
                "kind": r.kind(),
                "name": r.name(),
                "namespace": r.namespace(),
                "fields": list,
            }))
        }
    };
    write(out, &text)?;
    Ok(Status::Clean)
}
