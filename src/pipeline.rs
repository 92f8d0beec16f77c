//! The stages wired together: load and overlay an environment, resolve and apply its tag, render it.
//! Every command (render, explain, and later check, diff and commit) compiles environments through here.

use std::path::Path;

use crate::cli::TagArgs;
use crate::error::{Error, Result};
use crate::load::{find_environments, Files, Loader};
use crate::overlay::{self, images, Build};
use crate::render::{self, Metadata, Tree};

/// An environment, compiled.
pub struct Compiled {
    pub name: String,
    pub build: Build,
    pub meta: Metadata,
}

impl Compiled {
    pub fn render(&self) -> Tree {
        render::render(&self.build.resources, &self.meta)
    }
}

/// The environments to work on: the named ones (each must exist), or all of them.
pub fn select_envs(
    files: &dyn Files,
    root: &Path,
    names: &[String],
    all: bool,
) -> Result<Vec<(String, std::path::PathBuf)>> {
    let found = find_environments(files, root)?;
    if all || names.is_empty() {
        if found.is_empty() {
            return Err(Error::usage(format!(
                "no environment under `{}`: none of its folders holds an env.yaml",
                crate::node::display_path(root)
            )));
        }
        if !all && names.is_empty() {
            return Err(
                Error::usage("name an environment with --env NAME, or use --all").help(format!(
                    "environments here: {}",
                    found
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
        return Ok(found);
    }
    let mut out = Vec::new();
    for name in names {
        match found.iter().find(|(n, _)| n == name) {
            Some(hit) => out.push(hit.clone()),
            None => {
                return Err(
                    Error::usage(format!("there is no environment `{name}`")).help(format!(
                        "environments here: {}",
                        found
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                )
            }
        }
    }
    Ok(out)
}

/// Compiles one environment: load, overlay, tag.
pub fn compile(
    loader: &mut Loader<'_>,
    name: &str,
    env_file: &Path,
    tags: &TagArgs,
    source_commit: Option<String>,
) -> Result<Compiled> {
    let mut build = overlay::build(loader, env_file)?;
    let mut meta = Metadata {
        environment: name.to_string(),
        source_commit,
        ..Metadata::default()
    };
    if let Some(spec) = build.env.tags.clone() {
        let explicit = match (spec.rule.value.as_str(), tags) {
            (_, TagArgs { tag: Some(t), .. }) => Some((t.clone(), "--tag".to_string())),
            ("rc", TagArgs { rc: Some(n), .. }) => Some((format!("rc{n}"), "--rc".to_string())),
            (
                "release",
                TagArgs {
                    version: Some(v), ..
                },
            ) => Some((
                format!("release-v{}", v.trim_start_matches('v')),
                "--version".to_string(),
            )),
            _ => None,
        };
        if let Some((tag, why)) = explicit {
            images::set_owned_tag(&mut build.resources, &spec.images, &tag, spec.rule.origin)?;
            for i in &spec.images {
                meta.tags.insert(i.value.clone(), tag.clone());
            }
            meta.tag_source = Some(why);
        }
    }
    Ok(Compiled {
        name: name.to_string(),
        build,
        meta,
    })
}
