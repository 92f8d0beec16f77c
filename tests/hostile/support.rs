//! A small source repository to attack, and the checks every hostile test makes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{IndexAddOption, Repository, RepositoryInitOptions, Signature, Time};
use tempfile::TempDir;

/// A value set in the tool's process environment: it must never appear in any output.
pub const ENV_PLANT: &str = "planted-7f3a9c-environ";
/// A credential in the repository's `.git/config`.
pub const GIT_CONFIG_PLANT: &str = "planted-7f3a9c-gitconfig";
/// The content of a file outside the repository.
pub const OUTSIDE_PLANT: &str = "planted-7f3a9c-outside";

pub const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: openim/openim-api:v3.8.3
";

pub const CLEAN_ENV: &str = "apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: dev
namespace: openim-dev
resources:
  - ../base
";

/// A repository with one clean commit (base + dev), `.git/config` holding a credential, and a file
/// outside the repository (in a sibling temporary folder).
pub struct Target {
    pub dir: TempDir,
    pub outside: TempDir,
    pub repo: Repository,
}

impl Target {
    pub fn new() -> Target {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let repo = Repository::init_opts(
            dir.path(),
            RepositoryInitOptions::new().initial_head("main"),
        )
        .unwrap();
        let t = Target { dir, outside, repo };
        t.write("environments/base/api.yaml", DEPLOYMENT);
        t.write("environments/dev/env.yaml", CLEAN_ENV);
        t.commit("initial");
        let config = t.dir.path().join(".git/config");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!(
            "[http]\n\textraheader = AUTHORIZATION: bearer {GIT_CONFIG_PLANT}\n"
        ));
        std::fs::write(&config, text).unwrap();
        std::fs::write(
            t.outside.path().join("secret.txt"),
            format!("token={OUTSIDE_PLANT}\n"),
        )
        .unwrap();
        t
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn outside_file(&self) -> PathBuf {
        self.outside.path().join("secret.txt")
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[cfg(unix)]
    pub fn symlink(&self, rel: &str, to: &Path) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(to, p).unwrap();
    }

    pub fn commit(&self, message: &str) {
        let mut index = self.repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = Signature::new("Dev", "dev@example.com", &Time::new(1_600_000_000, 0)).unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
    }

    /// The binary in the repository, with the planted variable in its environment and a home of its own.
    fn command(&self, args: &[&str], home: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_openim-gitops"));
        c.args(args)
            .current_dir(self.path())
            .env("HOSTILE_PLANTED_TOKEN", ENV_PLANT)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI");
        c
    }

    /// Runs the binary in the repository to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        let home = tempfile::tempdir().unwrap();
        self.command(args, home.path()).output().unwrap()
    }

    /// Starts the binary in the repository (its output discarded), for a test that kills it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args, self.outside.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }
}

pub fn both(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// No planted value in stdout or stderr.
pub fn assert_no_plant(o: &Output) {
    let all = both(o);
    for plant in [ENV_PLANT, GIT_CONFIG_PLANT, OUTSIDE_PLANT] {
        assert!(!all.contains(plant), "`{plant}` leaked:\n{all}");
    }
}

/// Exit 2 and a JSON error whose first entry is at `file:line` with a message containing `message`.
pub fn assert_json_error(o: &Output, file: &str, line: u64, message: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", both(o));
    let v: serde_json::Value = serde_json::from_slice(&o.stderr)
        .unwrap_or_else(|e| panic!("JSON errors on stderr ({e}): {}", both(o)));
    let e = &v["errors"][0];
    assert_eq!(e["file"].as_str(), Some(file), "{}", both(o));
    assert_eq!(e["line"].as_u64(), Some(line), "{}", both(o));
    let m = e["message"].as_str().unwrap_or_default();
    assert!(m.contains(message), "message `{m}` lacks `{message}`");
}
