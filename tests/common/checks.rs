//! The rule-test harness. Every rule test reads findings as [`Findings`]: a list of [`Found`] (code,
//! severity, file, line, column, message, help), the fields `check --format json` prints. They come
//! from one of three places:
//! - [`Check`]: `check PATHS` run in process through [`collect`], the entry point the command uses, on
//!   files written to a temporary folder ([`Check::files`]) or files that exist ([`Check::paths`],
//!   [`Check::in_dir`]), with the repository root, policy and date the command would use;
//! - [`check_cli`] and [`Findings::parse`]: the built binary run in a folder and the JSON it printed,
//!   for tests of the command line itself (exit codes, formats, flags);
//! - [`Fixture::run`]: one rule run alone on a fixture folder under a policy built in code, with the
//!   findings compared with a checked-in JSON snapshot (`UPDATE_SNAPSHOTS=1` rewrites the snapshots).

use std::fmt;
use std::path::{Path, PathBuf};

use openim_gitops::check::policy::Date;
use openim_gitops::check::vendored::KubeVersion;
use openim_gitops::check::{self, Context, Finding, Policy};
use openim_gitops::commands::check::{collect, Options};
use openim_gitops::diagnostics::{self, Style};
use openim_gitops::load::{DiskFiles, Layer, Loader};
use openim_gitops::node::{Origin, Sources};
use openim_gitops::overlay;
use openim_gitops::resource::Resource;
use openim_gitops::tags::TagInputs;

/// The date the rule tests are judged on (waivers, expiries): what `OPENIM_GITOPS_TODAY` says to the
/// binary in the command-line tests.
pub const TODAY: &str = "2026-06-15";

/// One finding as `check --format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub code: String,
    pub severity: String,
    /// As the report shows it; relative to the folder of a [`Check::files`] or [`Check::in_dir`] run.
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// Empty when the finding has none.
    pub help: String,
}

/// The findings of one check run, in report order, and the whole report as JSON (summary, waived).
pub struct Findings {
    pub json: serde_json::Value,
    pub all: Vec<Found>,
}

impl fmt::Debug for Findings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.all).finish()
    }
}

impl std::ops::Deref for Findings {
    type Target = [Found];
    fn deref(&self) -> &[Found] {
        &self.all
    }
}

impl<'a> IntoIterator for &'a Findings {
    type Item = &'a Found;
    type IntoIter = std::slice::Iter<'a, Found>;
    fn into_iter(self) -> Self::IntoIter {
        self.all.iter()
    }
}

impl Findings {
    /// Reads the JSON report `check --format json` printed.
    pub fn parse(stdout: &str) -> Findings {
        let json: serde_json::Value = serde_json::from_str(stdout)
            .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{stdout}"));
        Findings::from_json(json, None)
    }

    /// `strip`: the prefix (a folder and `/`) to take off every file name.
    fn from_json(json: serde_json::Value, strip: Option<&str>) -> Findings {
        let all = json["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no findings in the report: {json:#}"))
            .iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                let file = s("file");
                let file = match strip.and_then(|p| file.strip_prefix(p)) {
                    Some(rel) => rel.to_string(),
                    None => file,
                };
                Found {
                    code: s("code"),
                    severity: s("severity"),
                    file,
                    line: f["line"].as_u64().unwrap_or_default(),
                    column: f["column"].as_u64().unwrap_or_default(),
                    message: s("message"),
                    help: s("help"),
                }
            })
            .collect();
        Findings { json, all }
    }

    /// The findings of one code, in report order.
    pub fn of(&self, code: &str) -> Vec<&Found> {
        self.all.iter().filter(|f| f.code == code).collect()
    }

    /// The lines at which `code` fired, in report order.
    pub fn lines(&self, code: &str) -> Vec<u64> {
        self.all
            .iter()
            .filter(|f| f.code == code)
            .map(|f| f.line)
            .collect()
    }

    /// `(line, message)` of each finding of `code`.
    pub fn messages(&self, code: &str) -> Vec<(u64, &str)> {
        self.all
            .iter()
            .filter(|f| f.code == code)
            .map(|f| (f.line, f.message.as_str()))
            .collect()
    }

    /// How many findings `code` has.
    pub fn count(&self, code: &str) -> usize {
        self.all.iter().filter(|f| f.code == code).count()
    }

    /// The first finding of `code`; fails when there is none.
    pub fn first(&self, code: &str) -> &Found {
        self.all
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("no finding `{code}` in {self:#?}"))
    }

    /// `code` fired at exactly these lines, in this order.
    #[track_caller]
    pub fn assert_lines(&self, code: &str, lines: &[u64]) {
        assert_eq!(self.lines(code), lines, "`{code}` in {self:#?}");
    }

    /// `code` did not fire.
    #[track_caller]
    pub fn assert_none(&self, code: &str) {
        self.assert_lines(code, &[]);
    }

    /// `code` fired at `file` (as [`Found::file`] names it) and `line`.
    #[track_caller]
    pub fn assert_at(&self, code: &str, file: &str, line: u64) {
        assert!(
            self.all
                .iter()
                .any(|f| f.code == code && f.file == file && f.line == line),
            "no `{code}` at {file}:{line} in {self:#?}"
        );
    }
}

/// What a run of the built binary's `check` did.
pub struct CheckCli {
    /// The exit code (-1 when a signal ended it).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CheckCli {
    /// The findings of a `--format json` run.
    pub fn findings(&self) -> Findings {
        assert!(!self.stdout.is_empty(), "no report: {}", self.stderr);
        Findings::parse(&self.stdout)
    }
}

/// `openim-gitops check ARGS` run in `dir`, on [`TODAY`], without colour.
pub fn check_cli(dir: &Path, args: &[&str]) -> CheckCli {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .current_dir(dir)
        .arg("check")
        .args(args)
        .env("OPENIM_GITOPS_TODAY", TODAY)
        .env("NO_COLOR", "1")
        .output()
        .expect("run openim-gitops");
    CheckCli {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `check PATHS` run in process as the command runs it ([`collect`]), reported as `--format json`
/// reports. The root is the command's default (`environments/` of the repository the folder is in, else
/// of the folder), the policy its default (`policies/` beside the root, when it exists), the date
/// [`TODAY`], the Kubernetes minor the newest vendored.
pub struct Check {
    /// The folder the command would run in; file names are shown relative to it.
    dir: Option<PathBuf>,
    paths: Vec<PathBuf>,
    root: Option<PathBuf>,
    policy: Option<PathBuf>,
    kube: KubeVersion,
    /// Keeps the files of [`Check::files`] until the run.
    _temp: Option<tempfile::TempDir>,
}

impl Check {
    /// Checks these files (path -> text), written to a new temporary folder.
    pub fn files(files: &[(&str, &str)]) -> Check {
        let temp = super::write_files(files);
        let dir = temp.path().to_path_buf();
        Check {
            paths: files.iter().map(|(rel, _)| dir.join(rel)).collect(),
            dir: Some(dir),
            _temp: Some(temp),
            ..Check::paths(Vec::<PathBuf>::new())
        }
    }

    /// Checks files or folders (relative: to the package folder, where tests run); files are shown as
    /// the report shows them.
    pub fn paths<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> Check {
        Check {
            dir: None,
            paths: paths.into_iter().map(Into::into).collect(),
            root: None,
            policy: None,
            kube: KubeVersion::default(),
            _temp: None,
        }
    }

    /// Checks files or folders below `dir` (named relative to it), as the command run in `dir` would.
    pub fn in_dir(dir: impl AsRef<Path>, paths: &[&str]) -> Check {
        let dir = dir.as_ref();
        Check {
            dir: Some(dir.to_path_buf()),
            ..Check::paths(paths.iter().map(|p| dir.join(p)))
        }
    }

    /// A policy file (`--policy`) of this text, written beside the files of a [`Check::files`] run.
    pub fn policy_text(mut self, text: &str) -> Check {
        let dir = self
            .dir
            .clone()
            .expect("policy_text is for Check::files runs");
        let path = dir.join("policy.yaml");
        std::fs::write(&path, text).expect("write the policy");
        self.policy = Some(path);
        self
    }

    /// A policy file or folder (`--policy`).
    pub fn policy(mut self, path: impl Into<PathBuf>) -> Check {
        self.policy = Some(path.into());
        self
    }

    /// The environments folder (`--root`).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Check {
        self.root = Some(root.into());
        self
    }

    /// The Kubernetes minor (`--kube-version`).
    pub fn kube(mut self, version: &str) -> Check {
        self.kube =
            KubeVersion::parse(version).unwrap_or_else(|e| panic!("--kube-version {version}: {e}"));
        self
    }

    /// The findings; a tool failure fails the test with the error as the command would print it.
    #[track_caller]
    pub fn run(self) -> Findings {
        self.try_run()
            .unwrap_or_else(|e| panic!("check failed:\n{e}"))
    }

    /// The findings, or the error as the command would print it.
    pub fn try_run(self) -> Result<Findings, String> {
        let cwd = std::env::current_dir().expect("a current folder");
        let dir = self.dir.clone().unwrap_or_else(|| cwd.clone());
        let root = self.root.clone().unwrap_or_else(|| {
            let top = openim_gitops::commands::repository_root(&dir);
            top.unwrap_or_else(|| dir.clone()).join("environments")
        });
        let opts = Options {
            root: &root,
            envs: &[],
            paths: &self.paths,
            policy: self.policy.as_deref(),
            tags: &TagInputs::default(),
            today: Date::parse(TODAY).expect("a date"),
            kube: self.kube,
        };
        let mut sources = Sources::new();
        let report = match collect(&DiskFiles, &mut sources, &opts) {
            Ok(r) => r,
            Err(e) => {
                return Err(diagnostics::render_error(
                    &sources,
                    &e,
                    Style { color: false },
                ))
            }
        };
        let json = serde_json::to_value(diagnostics::findings_json(&sources, &report))
            .expect("the report as JSON");
        let strip = self
            .dir
            .as_ref()
            .map(|d| format!("{}/", openim_gitops::node::display_path(d)));
        Ok(Findings::from_json(json, strip.as_deref()))
    }
}

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
