//! `tag`: the image tag each environment's rule gives, and why. Standard output holds only the answer,
//! for a script to read: the tag of the one environment named, or `<env> <tag>` lines for several; the
//! reasons go to standard error. `--format json` gives both, on standard output.

use std::io::Write;
use std::path::Path;

use crate::cli::{PlainFormat, TagCommandArgs};
use crate::error::{Error, Result};
use crate::load::{self, DiskFiles, Loader};
use crate::node::Sources;
use crate::tags::TagDecision;
use crate::{git, pipeline};

use super::{json_text, write, Status};

/// What the rule of one environment gave.
enum Answer {
    Tag(TagDecision),
    /// The environment has no tag rule: its images keep the tags the resources give them.
    NoRule,
    Failed(Error),
}

pub fn run(
    root: &Path,
    args: &TagCommandArgs,
    sources: &mut Sources,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Status> {
    let files = DiskFiles;
    let envs = pipeline::select_envs(&files, root, &args.select.envs, args.select.all)?;
    let facts = git::repo_facts(root).ok();
    let inputs = super::tag_inputs(&args.tags);
    let mut loader = Loader::new(&files, sources);
    let mut answers = Vec::new();
    for (name, file) in &envs {
        let env = load::Layer::load(&mut loader, file, load::LayerKind::Environment)?;
        let answer = match env.tags.as_ref() {
            None => Answer::NoRule,
            Some(spec) => match pipeline::decide_tag(spec, &inputs, facts.as_ref()) {
                Ok(d) => Answer::Tag(d),
                Err(e) => Answer::Failed(e),
            },
        };
        answers.push((name.clone(), answer));
    }
    match args.format {
        PlainFormat::Human => {
            let one = answers.len() == 1;
            let mut stdout = String::new();
            let mut stderr = String::new();
            for (name, answer) in &answers {
                match answer {
                    Answer::Tag(d) => {
                        if one {
                            stdout.push_str(&format!("{}\n", d.tag));
                        } else {
                            stdout.push_str(&format!("{name} {}\n", d.tag));
                        }
                        stderr.push_str(&format!("{name}: {d}\n"));
                    }
                    Answer::NoRule => stderr.push_str(&format!(
                        "{name}: no tag rule (images keep the tags the resources give them)\n"
                    )),
                    Answer::Failed(_) => {}
                }
            }
            write(out, &stdout)?;
            write(err, &stderr)?;
        }
        PlainFormat::Json => {
            let list: Vec<serde_json::Value> = answers
                .iter()
                .map(|(name, answer)| match answer {
                    Answer::Tag(d) => serde_json::json!({
                        "environment": name, "tag": d.tag, "rule": d.rule.as_str(),
                        "reason": d.source.to_string(),
                    }),
                    Answer::NoRule => serde_json::json!({
                        "environment": name, "tag": null, "rule": null,
                        "reason": "no tag rule: images keep the tags the resources give them",
                    }),
                    Answer::Failed(e) => serde_json::json!({
                        "environment": name, "tag": null, "error": e.to_string(),
                        "help": e.help_text(),
                    }),
                })
                .collect();
            write(out, &json_text(&list))?;
        }
    }
    // The environments whose rule decided nothing end the run as before: their errors, their exit code.
    let failed: Vec<Error> = answers
        .into_iter()
        .filter_map(|(_, a)| match a {
            Answer::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    Error::collect(failed)?;
    Ok(Status::Clean)
}
