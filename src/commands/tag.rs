//! `tag`: the image tag each environment's rule gives, and why.

use std::io::Write;
use std::path::Path;

use crate::cli::{PlainFormat, TagCommandArgs};
use crate::error::Result;
use crate::load::{self, DiskFiles, Loader};
use crate::node::Sources;
use crate::{git, pipeline};

use super::{json_text, write, Status};

pub fn run(
    root: &Path,
    args: &TagCommandArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
) -> Result<Status> {
    let files = DiskFiles;
    let envs = pipeline::select_envs(&files, root, &args.select.envs, args.select.all)?;
    let facts = git::repo_facts(root).ok();
    let inputs = super::tag_inputs(&args.tags);
    let mut loader = Loader::new(&files, sources);
    let mut lines = Vec::new();
    for (name, file) in &envs {
        let env = load::Layer::load(&mut loader, file, load::LayerKind::Environment)?;
        let Some(spec) = env.tags.as_ref() else {
            lines.push((name.clone(), None));
            continue;
        };
        let d = pipeline::decide_tag(spec, &inputs, facts.as_ref())?;
        lines.push((name.clone(), Some(d)));
    }
    let text = match args.format {
        PlainFormat::Human => lines
            .iter()
            .map(|(name, d)| match d {
                Some(d) => format!("{name}: {d}\n"),
                None => {
                    format!("{name}: no tag rule (images keep the tags the resources give them)\n")
                }
            })
            .collect::<String>(),
        PlainFormat::Json => {
            let list: Vec<serde_json::Value> = lines
                .iter()
                .map(|(name, d)| match d {
                    Some(d) => serde_json::json!({
                        "environment": name, "tag": d.tag, "rule": d.rule.as_str(), "reason": d.to_string(),
                    }),
                    None => serde_json::json!({ "environment": name, "tag": null }),
                })
                .collect();
            json_text(&list)
        }
    };
    write(out, &text)?;
    Ok(Status::Clean)
}
