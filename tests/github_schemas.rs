//! `action.yml` and `.github/workflows/*.yml` against SchemaStore's published schemas (vendored under
//! `schemas/github/`, compiled offline), plus what a schema cannot see: every `inputs.X` the action reads
//! is declared, every `steps.X` it reads is a step id, and every action it uses is pinned to a
//! commit with its version in a comment, and the tokens, credentials and history are handled as the
//! action promises.

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
    assert_eq!(names, ["ci.yml", "release.yml", "render.yml"]);
    for f in &files {
        let doc = yaml(f);
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{}", f.display());
        // ci and render use this repository's own action; release builds the binaries it installs.
        let text = std::fs::read_to_string(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy();
        assert_eq!(text.contains("uses: ./\n"), name != "release.yml", "{name}");
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
            if target == "./" {
                continue;
            }
            // `owner/name[/path]@<40 hex> # vX.Y.Z`: a tag can be moved, a commit cannot.
            let (action, rest) = target.split_once('@').unwrap_or((target, ""));
            let (sha, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
            assert!(
                sha.len() == 40
                    && sha
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{}: `{action}` is not pinned to a commit",
                f.display()
            );
            assert!(
                comment.starts_with('v') && comment[1..].split('.').count() == 3,
                "{}: `{action}@{sha}` needs its version in a comment (`# vX.Y.Z`)",
                f.display()
            );
        }
    }
}

/// The action's hardening, line by line: what zizmor audits in .ci/run, and what it cannot know.
#[test]
fn the_action_keeps_tokens_apart_and_history_whole() {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let action = yaml(&repo().join("action.yml"));
    let steps = action["runs"]["steps"].as_array().unwrap();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .unwrap_or_else(|| panic!("no step `{name}`"))
    };
    // The comment and the upload take the built-in token; only the push takes push-token.
    assert!(
        action["inputs"].get("token").is_none(),
        "one token for everything is gone"
    );
    assert_eq!(
        step("Comment the diff")["with"]["github-token"],
        "${{ inputs.github-token }}"
    );
    assert_eq!(
        step("Upload the findings")["with"]["token"],
        "${{ inputs.github-token }}"
    );
    assert!(step("Upload the findings")["uses"]
        .as_str()
        .unwrap()
        .starts_with("github/codeql-action/upload-sarif@"));
    assert!(text.contains("# v4."), "upload-sarif v4");
    assert_eq!(
        step("Render, commit and push")["env"]["OPENIM_GITOPS_TOKEN"],
        "${{ inputs.push-token }}"
    );
    assert_eq!(text.matches("inputs.push-token").count(), 1);
    // No shallow fetch: the rc rule walks history, and the clone the action needs is a full one.
    assert!(!text.contains("--depth"), "a shallow fetch");
    // pull_request_target is refused; a fork's pull request posts nothing and uploads nothing.
    let plan = step("Plan")["run"].as_str().unwrap();
    assert!(plan.contains("pull_request_target is not supported"));
    assert!(step("Comment the diff")["if"]
        .as_str()
        .unwrap()
        .contains("steps.plan.outputs.fork == 'false'"));
    assert!(step("Upload the findings")["if"]
        .as_str()
        .unwrap()
        .contains("steps.plan.outputs.fork == 'false'"));
    // The diff text is checked for secrets before the summary and the comment show it.
    let position = |name: &str| {
        steps
            .iter()
            .position(|s| s["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .unwrap_or_else(|| panic!("no step `{name}`"))
    };
    let gate = position("Check the diff text for secrets");
    assert!(position("Diff the rendered manifests") < gate);
    assert!(gate < position("Show the diff in the job summary"));
    assert!(gate < position("Comment the diff"));
    // Nothing is added to PATH for later steps of the caller's job.
    assert!(!text.contains("GITHUB_PATH"));

    // Every checkout in the workflows leaves no credentials in .git/config.
    for f in workflows() {
        let doc = yaml(&f);
        for (job, def) in doc["jobs"].as_object().unwrap() {
            for s in def["steps"].as_array().unwrap() {
                if s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/checkout@"))
                {
                    assert_eq!(
                        s["with"]["persist-credentials"],
                        false,
                        "{}: job {job}",
                        f.display()
                    );
                }
            }
        }
    }
    // Renders of one environment never run side by side, whatever ref started them.
    let render = yaml(&repo().join(".github/workflows/render.yml"));
    let group = render["concurrency"]["group"].as_str().unwrap();
    assert!(!group.contains("github.ref }}"), "{group}");
    assert!(group.contains("'test'") && group.contains("'release'") && group.contains("'dev'"));
    assert_eq!(render["concurrency"]["cancel-in-progress"], false);
}

/// The action's secret gate on the diff text, run as the runner runs it (bash, with this build): a
/// planted token fails it without printing the token; a clean diff with commit ids passes.
#[test]
fn the_diff_text_secret_gate_runs() {
    let action = yaml(&repo().join("action.yml"));
    let step = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Check the diff text"))
        })
        .unwrap();
    let script = step["run"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |body: &str| {
        let file = dir.path().join("body.md");
        std::fs::write(&file, body).unwrap();
        let out = std::process::Command::new("bash")
            .args(["-c", script])
            .env("OPENIM_GITOPS", env!("CARGO_BIN_EXE_openim-gitops"))
            .env("BODY_FILE", &file)
            .env("RUNNER_TEMP", dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let clean = "<!-- openim-gitops:diff -->\n   indented first\n### dev: 1 changed, rendered from 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b\n```diff\n-  image: openim/openim-api:main\n+  image: openim/openim-api:feature-x\n```\n";
    let (code, text) = run(clean);
    assert_eq!(code, Some(0), "{text}");
    let planted = format!("{clean}+  GITHUB_TOKEN: ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n");
    let (code, text) = run(&planted);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("nothing is posted"), "{text}");
    assert!(
        text.contains("line 8 of the diff text: secrets/known-token"),
        "{text}"
    );
    assert!(!text.contains("abcdefghijklmnopqrstuvwxyzAB"), "{text}");
    // Text the checker cannot read fails closed.
    let (code, text) = run("a\u{0}b\n");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("could not be checked"), "{text}");
}
