//! The stages wired together: load and overlay an environment, resolve and apply its tag, render it.
//! Every command compiles environments through here. It takes plain [`TagInputs`], never the command
//! line, and leaves to each command what a tag that cannot be decided means: `render` refuses,
//! `check` checks the images as the files tag them, `netmap` does not care.

use std::path::Path;

use crate::error::{Error, Result};
use crate::load::layer::TagSpec;
use crate::load::{find_environments, Files, Loader};
use crate::overlay::{self, images, Build};
use crate::render::{self, Metadata, Tree};
use crate::tags::{self, RepoFacts, TagDecision, TagInputs, TagRule};

/// An environment, compiled.
pub struct Compiled {
    pub name: String,
    pub build: Build,
    pub meta: Metadata,
    /// The environment's tag, applied to its owned images: `Ok(None)` when it has no tag rule, `Err`
    /// when its rule could not decide one (then the images keep the tags the files give them).
    pub tag: Result<Option<TagDecision>, Error>,
    /// Whether that `Err` is the repository's state (no branch, no rc or version tag), not the flags.
    undecided: bool,
}

impl Compiled {
    /// The environment with its tag decided, or the reason no tag could be (the error a command that
    /// must tag its images reports).
    pub fn tagged(mut self) -> Result<Compiled> {
        let tag = std::mem::replace(&mut self.tag, Ok(None))?;
        self.tag = Ok(tag);
        Ok(self)
    }

    /// Why no tag could be decided, when the repository's state leaves the rule without one (no
    /// branch, no rc or version tag, a CI build of a tag); `None` when the tag is decided, or when
    /// the flags are wrong (those stay errors for every command).
    pub fn undecided(&self) -> Option<&Error> {
        match &self.tag {
            Err(e) if self.undecided => Some(e),
            _ => None,
        }
    }

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

/// Compiles one environment: load, overlay, tag. Only loading and overlaying fail the compile; a tag
/// that cannot be decided is in [`Compiled::tag`].
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
        dry: facts.and_then(|f| f.dry.clone()),
        repo_url: facts.and_then(|f| f.remote_url.clone()),
        ..Metadata::default()
    };
    let mut undecided = false;
    let tag = match build.env.tags.clone() {
        None => Ok(None),
        Some(spec) => match decide(&spec, tags, facts) {
            Ok(decision) => {
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
                Ok(Some(decision))
            }
            Err((e, repository_state)) => {
                undecided = repository_state;
                Err(e)
            }
        },
    };
    render::check_names(&build.resources)?;
    Ok(Compiled {
        name: name.to_string(),
        build,
        meta,
        tag,
        undecided,
    })
}

/// Decides an environment's tag from its rule. `--rc` and `--release-version` only speak to environments whose
/// rule uses them, so `render --all --rc 3 --release-version 3.8.3` gives each environment its own.
pub fn decide_tag(
    spec: &TagSpec,
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<TagDecision> {
    decide(spec, inputs, facts).map_err(|(e, _)| e)
}

/// [`decide_tag`], and with its error whether the repository's state left the rule undecided
/// ([`tags::TagError::is_undecided`]).
pub fn decide(
    spec: &TagSpec,
    inputs: &TagInputs,
    facts: Option<&RepoFacts>,
) -> Result<TagDecision, (Error, bool)> {
    let rule: TagRule = spec.rule.value.parse().map_err(|e: tags::TagError| {
        (
            Error::at(spec.rule.origin, e.to_string()).label("this rule"),
            false,
        )
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
        let err = if e.is_policy() {
            Error::Refused(Box::new(err))
        } else {
            err
        };
        (err, e.is_undecided())
    })
}
