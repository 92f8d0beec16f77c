//! The stages wired together: load and overlay an environment, resolve and apply its tag, render it.
//! Every command (render, explain, and later check, diff and commit) compiles environments through here.

use std::path::Path;

use crate::cli::TagArgs;
use crate::error::{Error, Result};
use crate::git::RepoFacts;
use crate::load::layer::TagSpec;
use crate::load::{find_environments, Files, Loader};
use crate::overlay::{self, images, Build};
use crate::render::{self, Metadata, Tree};
use crate::tags::{self, TagDecision, TagInputs, TagRule};

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
    tags: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<Compiled> {
    let mut build = overlay::build(loader, env_file)?;
    overlay::argocd::set_repo_url(
        &mut build.resources,
        facts.and_then(|f| f.remote_url.as_deref()),
    )?;
    let mut meta = Metadata {
        environment: name.to_string(),
        source_commit: facts.and_then(|f| f.head_commit.clone()),
        ..Metadata::default()
    };
    if let Some(spec) = build.env.tags.clone() {
        let decision = decide_tag(&spec, tags, facts)?;
        images::set_owned_tag(
            &mut build.resources,
            &spec.images,
            &decision.tag,
            spec.rule.origin,
        )?;
        for i in &spec.images {
            meta.tags.insert(i.value.clone(), decision.tag.clone());
        }
        meta.tag_source = Some(decision.to_string());
    }
    Ok(Compiled {
        name: name.to_string(),
        build,
        meta,
    })
}

/// The tag inputs of a command line: the flags, and the CI variables from the process environment.
pub fn tag_inputs(args: &TagArgs) -> TagInputs {
    TagInputs {
        explicit_tag: args.tag.clone(),
        version: args.version.clone(),
        rc: args.rc,
        ci_env: tags::CI_VARIABLES
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect(),
        require_tested_release: false,
    }
}

/// Decides an environment's tag from its rule. `--rc` and `--version` only speak to environments whose
/// rule uses them, so `render --all --rc 3 --version 3.8.3` gives each environment its own.
pub fn decide_tag(
    spec: &TagSpec,
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<TagDecision> {
    let rule: TagRule = spec.rule.value.parse().map_err(|e: tags::TagError| {
        Error::at(spec.rule.origin, e.to_string()).label("this rule")
    })?;
    let mut inputs = inputs.clone();
    if rule != TagRule::Rc {
        inputs.rc = None;
    }
    if rule != TagRule::Release {
        inputs.version = None;
    }
    inputs.require_tested_release = spec.require_tested_release;
    tags::resolve(rule, &inputs, facts).map_err(|e| {
        let err = Error::at(spec.rule.origin, e.to_string())
            .label(format!("the {rule} rule"))
            .help(e.hint());
        if e.is_policy() {
            Error::Refused(Box::new(err))
        } else {
            err
        }
    })
}
