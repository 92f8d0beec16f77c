//! `action.yml` and `.github/workflows/*.yml` against SchemaStore's published schemas (vendored under
//! `schemas/github/`, compiled offline), plus what a schema cannot see: every `inputs.X` the action reads
//! is declared, every `steps.X` it reads is a step id, and every action it uses is pinned to a version.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openim_gitops::node::{FileRole, Sources};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A YAML file as JSON, read with the tool's own YAML 1.2 reader (`on:` stays a string key).
fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut sources = Sources::new();
    let id = sources.add(path, Arc::from(text.as_str()), FileRole::Other);
    let docs = openim_gitops::load::yaml::parse(id, sources.get(id))
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one document", path.display());
    docs[0].root.to_json()
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = repo().join("schemas/github").join(name);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // No retriever: the crate is built without its network features, and these schemas need none.
    jsonschema::options()
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

fn errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn workflows() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    out.sort();
    out
}

#[test]
fn action_yml_is_a_valid_action() {
    let v = validator("github-action.json");
    let action = yaml(&repo().join("action.yml"));
    assert_eq!(errors(&v, &action), Vec::<String>::new());
    assert_eq!(action["runs"]["using"], "composite");
}

#[test]
fn the_workflows_are_valid_workflows() {
    let v = validator("github-workflow.json");
    let files = workflows();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ci.yml", "render.yml"]);
    for f in &files {
        let doc = yaml(f);
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{}", f.display());
        // Each uses this repository's own action.
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.contains("uses: ./\n"), "{}", f.display());
    }
}

#[test]
fn the_schemas_are_not_vacuous() {
    let action = validator("github-action.json");
    let mut bad = yaml(&repo().join("action.yml"));
    bad["runs"]["using"] = "composit".into();
    assert!(!errors(&action, &bad).is_empty());
    let mut bad = yaml(&repo().join("action.yml"));
    bad["runs"]["steps"][0]
        .as_object_mut()
        .unwrap()
        .remove("shell");
    assert!(
        !errors(&action, &bad).is_empty(),
        "a composite run step needs a shell"
    );

    let workflow = validator("github-workflow.json");
    let mut bad = yaml(&repo().join(".github/workflows/render.yml"));
    bad["jobs"]["render"]["runs-on"] = serde_json::Value::Null;
    bad["jobs"]["render"]["timeout-minutes"] = "soon".into();
    assert!(!errors(&workflow, &bad).is_empty());
    let mut bad = yaml(&repo().join(".github/workflows/ci.yml"));
    bad["permissions"]["pull-requests"] = "sometimes".into();
    assert!(!errors(&workflow, &bad).is_empty());
}

/// The names after `prefix` in `${{ ... }}` expressions: `inputs.token` → `token`.
fn referenced(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
        rest = after;
    }
    out
}

#[test]
fn the_action_reads_only_what_it_declares() {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let action = yaml(&repo().join("action.yml"));
    let declared: BTreeSet<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let used = referenced(&text, "inputs.");
    assert_eq!(
        used.difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new()
    );
    assert_eq!(
        declared.difference(&used).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "every input is used"
    );

    let ids: BTreeSet<String> = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    let used = referenced(&text, "steps.");
    assert_eq!(
        used.difference(&ids).collect::<Vec<_>>(),
        Vec::<&String>::new()
    );

    for f in std::iter::once(repo().join("action.yml")).chain(workflows()) {
        let text = std::fs::read_to_string(&f).unwrap();
        for line in text.lines() {
            let Some(target) = line.trim().trim_start_matches("- ").strip_prefix("uses: ") else {
                continue;
            };
            assert!(
                target == "./" || target.rsplit_once('@').is_some_and(|(_, v)| !v.is_empty()),
                "{}: `{target}` is not pinned to a version",
                f.display()
            );
        }
    }
}
