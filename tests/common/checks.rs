//! Shared by the check tests: load a fixture folder, run one rule on it, and compare the findings with a
//! checked-in JSON snapshot (`UPDATE_SNAPSHOTS=1` rewrites the snapshots instead of comparing).

use std::path::{Path, PathBuf};

use openim_gitops::check::{self, Context, Finding, Policy};
use openim_gitops::load::{DiskFiles, Layer, Loader};
use openim_gitops::node::{Origin, Sources};
use openim_gitops::overlay;
use openim_gitops::resource::Resource;

/// A fixture folder, loaded: an environment (when it holds an `env.yaml`) or plain manifest files.
pub struct Fixture {
    pub dir: PathBuf,
    pub sources: Sources,
    pub resources: Vec<Resource>,
    pub layer: Option<Layer>,
}

pub fn fixture_dir(rel: &str) -> PathBuf {
    Path::new("tests/fixtures/check").join(rel)
}

/// Loads `tests/fixtures/check/<rel>`: with an `env.yaml`, the environment it describes (overlay applied,
/// no tag applied); without, every `*.yaml` file of the folder in name order.
pub fn load(rel: &str) -> Fixture {
    let dir = fixture_dir(rel);
    let mut sources = Sources::new();
    let files = DiskFiles;
    let env_file = dir.join("env.yaml");
    let (resources, layer) = {
        let mut loader = Loader::new(&files, &mut sources);
        if env_file.is_file() {
            let build = overlay::build(&mut loader, &env_file)
                .unwrap_or_else(|e| panic!("{rel}: the environment does not build: {e:?}"));
            (build.resources, Some(build.env))
        } else {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{rel}: {e}"))
                .map(|e| e.expect("a directory entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            paths.sort();
            let mut resources = Vec::new();
            for p in paths {
                let origin = Origin {
                    file: openim_gitops::node::FileId(0),
                    start: 0,
                    end: 0,
                    line: 1,
                    col: 1,
                };
                let mut rs = loader
                    .resources(&p, origin)
                    .unwrap_or_else(|e| panic!("{}: does not load: {e:?}", p.display()));
                resources.append(&mut rs);
            }
            (resources, None)
        }
    };
    Fixture {
        dir,
        sources,
        resources,
        layer,
    }
}

impl Fixture {
    /// Runs the rule with this code, findings sorted as `check::run` sorts them.
    pub fn run(&self, code: &str, policy: &Policy) -> Vec<Finding> {
        let rule = check::rules()
            .into_iter()
            .find(|r| r.code.as_str() == code)
            .unwrap_or_else(|| panic!("no rule {code}"));
        let ctx = Context::new(
            self.layer.as_ref().map(|l| l.name.value.as_str()),
            &self.resources,
            &self.sources,
            self.layer.as_ref(),
            policy,
        );
        let mut findings = Vec::new();
        (rule.run)(&ctx, &mut findings);
        for f in &findings {
            assert_eq!(f.code().as_str(), code, "a rule emits only its own code");
        }
        findings.sort_by(|a, b| {
            let fa = &self.sources.get(a.origin.file).display;
            let fb = &self.sources.get(b.origin.file).display;
            (fa, a.origin.line, a.origin.col, &a.message).cmp(&(
                fb,
                b.origin.line,
                b.origin.col,
                &b.message,
            ))
        });
        findings
    }

    fn place(&self, o: Origin) -> serde_json::Value {
        serde_json::json!({
            "file": self.sources.get(o.file).display,
            "line": o.line,
            "column": o.col,
        })
    }

    /// The findings as the snapshot holds them: code, severity, file, line, column, message, related places.
    pub fn to_json(&self, findings: &[Finding]) -> serde_json::Value {
        serde_json::Value::Array(
            findings
                .iter()
                .map(|f| {
                    let mut v = serde_json::json!({
                        "code": f.code(),
                        "severity": f.severity.as_str(),
                    });
                    let place = self.place(f.origin);
                    for k in ["file", "line", "column"] {
                        v[k] = place[k].clone();
                    }
                    v["message"] = f.message.clone().into();
                    if !f.related.is_empty() {
                        v["related"] = f
                            .related
                            .iter()
                            .map(|(o, label)| {
                                let mut p = self.place(*o);
                                p["label"] = label.clone().into();
                                p
                            })
                            .collect();
                    }
                    v
                })
                .collect(),
        )
    }

    /// Compares the findings with `expected.json` in the fixture folder.
    pub fn assert_snapshot(&self, findings: &[Finding]) {
        self.assert_snapshot_as("expected.json", findings);
    }

    /// Compares the findings with another snapshot file of the fixture folder (the same objects under
    /// another policy).
    pub fn assert_snapshot_as(&self, name: &str, findings: &[Finding]) {
        assert_json_snapshot(&self.dir.join(name), &self.to_json(findings));
    }
}

/// Compares `actual`, as pretty JSON, with the file at `path` (`UPDATE_SNAPSHOTS=1` writes it instead).
pub fn assert_json_snapshot(path: &Path, actual: &serde_json::Value) {
    let mut text = serde_json::to_string_pretty(actual).expect("JSON");
    text.push('\n');
    super::snapshot::assert_snapshot(path, &text);
}

/// `(code, file name, line)` of each finding, for tests that name the cases they prove.
pub fn places(fx: &Fixture, findings: &[Finding]) -> Vec<(String, String, u32)> {
    findings
        .iter()
        .map(|f| {
            let display = &fx.sources.get(f.origin.file).display;
            let name = display.rsplit('/').next().unwrap_or(display).to_string();
            (f.code().to_string(), name, f.origin.line)
        })
        .collect()
}
