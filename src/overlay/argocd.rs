//! Argo CD objects that name this repository: an Application's `spec.source.repoURL` (and each of
//! `spec.sources`) and an AppProject's `spec.sourceRepos`, rewritten to the URL of the repository's
//! remote when the object asks for it with the annotation `gitops.openim.io/repo-url: remote`. A fork
//! then deploys from itself, not from the repository it was forked from. Without a remote (a render
//! outside a clone) the URL written in the file stays: it is the setting.

use crate::error::{Error, Result};
use crate::node::{Node, Value};
use crate::resource::Resource;

/// The annotation that asks for the remote's URL, and its one value.
pub const REPO_URL_ANNOTATION: &str = "gitops.openim.io/repo-url";
pub const FROM_REMOTE: &str = "remote";

/// Sets the repository URL of every Argo CD object that carries the annotation. An annotation with
/// another value is an error (a typo would otherwise deploy from the wrong repository).
pub fn set_repo_url(resources: &mut [Resource], url: Option<&str>) -> Result<()> {
    for r in resources.iter_mut() {
        if r.group() != "argoproj.io" {
            continue;
        }
        let Some(asked) = r
            .node
            .str_at(&["metadata", "annotations", REPO_URL_ANNOTATION])
        else {
            continue;
        };
        if asked != FROM_REMOTE {
            return Err(Error::usage(format!(
                "{}/{}: annotation {REPO_URL_ANNOTATION} is `{asked}`; the only value is `{FROM_REMOTE}`",
                r.kind(),
                r.name()
            ))
            .help("remove the annotation to keep the URL written in the file"));
        }
        let Some(url) = url else {
            continue;
        };
        match r.kind() {
            "Application" => {
                if let Some(n) = r.node.path_mut(&["spec", "source", "repoURL"]) {
                    replace_str(n, url);
                }
                if let Some(sources) = r
                    .node
                    .path_mut(&["spec", "sources"])
                    .and_then(Node::as_seq_mut)
                {
                    for s in sources {
                        if let Some(n) = s.get_mut("repoURL") {
                            replace_str(n, url);
                        }
                    }
                }
            }
            "AppProject" => {
                if let Some(repos) = r
                    .node
                    .path_mut(&["spec", "sourceRepos"])
                    .and_then(Node::as_seq_mut)
                {
                    repos.truncate(1);
                    if let Some(first) = repos.first_mut() {
                        replace_str(first, url);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The value changes; the origin stays, so a finding still points at the line that set it.
fn replace_str(node: &mut Node, url: &str) {
    node.value = Value::Str(url.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{FileRole, Sources};
    use std::path::Path;

    fn resources(text: &str) -> Vec<Resource> {
        let mut sources = Sources::new();
        let id = sources.add(Path::new("argocd.yaml"), text.into(), FileRole::Other);
        crate::load::yaml::parse(id, sources.get(id))
            .unwrap()
            .into_iter()
            .map(|d| Resource::new(d.root))
            .collect()
    }

    const OBJECTS: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n  annotations:\n    gitops.openim.io/repo-url: remote\nspec:\n  source:\n    repoURL: https://example.com/upstream.git\n---\napiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: p\n  annotations:\n    gitops.openim.io/repo-url: remote\nspec:\n  sourceRepos:\n    - https://example.com/upstream.git\n    - https://example.com/other.git\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: pinned\nspec:\n  source:\n    repoURL: https://example.com/pinned.git\n";

    #[test]
    fn annotated_objects_take_the_remote_url_and_others_keep_theirs() {
        let mut rs = resources(OBJECTS);
        set_repo_url(&mut rs, Some("https://example.com/fork.git")).unwrap();
        assert_eq!(
            rs[0].node.str_at(&["spec", "source", "repoURL"]),
            Some("https://example.com/fork.git")
        );
        let repos: Vec<&str> = rs[1]
            .node
            .path(&["spec", "sourceRepos"])
            .and_then(Node::as_seq)
            .unwrap()
            .iter()
            .filter_map(Node::as_str)
            .collect();
        assert_eq!(repos, ["https://example.com/fork.git"]);
        assert_eq!(
            rs[2].node.str_at(&["spec", "source", "repoURL"]),
            Some("https://example.com/pinned.git")
        );
    }

    #[test]
    fn without_a_remote_the_file_is_the_setting() {
        let mut rs = resources(OBJECTS);
        set_repo_url(&mut rs, None).unwrap();
        assert_eq!(
            rs[0].node.str_at(&["spec", "source", "repoURL"]),
            Some("https://example.com/upstream.git")
        );
    }

    #[test]
    fn another_annotation_value_is_an_error() {
        let mut rs = resources(&OBJECTS.replacen("repo-url: remote", "repo-url: origin", 1));
        let err = set_repo_url(&mut rs, Some("https://example.com/fork.git")).unwrap_err();
        assert!(err.to_string().contains("`origin`"), "{err}");
    }
}
