//! `.pre-commit-hooks.yaml` as the pre-commit tool uses it: `pre-commit try-repo <this repository>` in a
//! temporary git repository, which installs the `language: rust` hooks with `cargo install --path`
//! exactly as a user's pre-commit does. The check hook passes on a valid tree and fails on a planted
//! token; on an untagged commit, the render hook writes rendered/dev, names test and release as
//! skipped (no rc or version tag to take), fails until rendered/ is staged and then passes. The
//! `-release` check hook installs the binary of a fake release served on loopback (this build, as the
//! release workflow would package it), and refuses one whose checksum does not match.
//!
//! Skipped only when `pre-commit` is not on PATH (`.ci/run` installs it, so CI always runs this).
//! Each try-repo installs into a fresh store (a release build of this crate); `CARGO_TARGET_DIR` (this
//! crate's `target/` unless set) keeps the dependencies between them and the CI's own release build,
//! and `CARGO_NET_OFFLINE` resolves the dependencies from the local registry cache, without network.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::release::{host_target, publish, Server};
use common::{commit_all, Repo};

fn pre_commit_installed() -> bool {
    Command::new("pre-commit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Run {
    code: Option<i32>,
    output: String,
}

fn try_repo(dir: &Path, hook: &str) -> Run {
    try_repo_with(dir, hook, &[])
}

fn try_repo_with(dir: &Path, hook: &str, env: &[(&str, &Path)]) -> Run {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("target"));
    let out = Command::new("pre-commit")
        .current_dir(dir)
        .args(["try-repo"])
        .arg(manifest)
        .args([hook, "--all-files", "--color", "never"])
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_NET_OFFLINE", "true")
        .env("NO_COLOR", "1")
        .env_remove("PRE_COMMIT_HOME")
        .envs(env.iter().copied())
        .output()
        .expect("run pre-commit");
    Run {
        code: out.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A user's repository: one environment with a ConfigMap, valid under the default policy.
fn user_repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_opts(
        dir.path(),
        git2::RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    write(
        dir.path(),
        "environments/base/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n",
    );
    write(
        dir.path(),
        "environments/dev/env.yaml",
        "apiVersion: gitops.openim.io/v1\nkind: Environment\nmetadata:\n  name: dev\nnamespace: demo\nresources:\n  - ../base\n",
    );
    let r = Repo { dir, repo };
    commit_all(&r, "environments", 1_600_000_000);
    r
}

#[test]
fn the_hooks_work_with_pre_commit_try_repo() {
    if !pre_commit_installed() {
        eprintln!("skipped: pre-commit is not installed (pip install pre-commit)");
        return;
    }
    let r = user_repo();

    // A valid tree: the check hook passes.
    let run = try_repo(r.path(), "openim-gitops-check");
    assert_eq!(run.code, Some(0), "{}", run.output);
    assert!(
        run.output.contains("openim-gitops check") && run.output.contains("Passed"),
        "{}",
        run.output
    );

    // A planted violation: a GitHub token in a ConfigMap. The hook fails and says where.
    write(
        r.path(),
        "environments/base/leaked.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaked\ndata:\n  GITHUB_TOKEN: ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n",
    );
    commit_all(&r, "a leaked token", 1_600_000_100);
    let run = try_repo(r.path(), "openim-gitops-check");
    assert_eq!(run.code, Some(1), "{}", run.output);
    assert!(run.output.contains("Failed"), "{}", run.output);
    assert!(run.output.contains("secrets/known-token"), "{}", run.output);
    assert!(
        run.output.contains("environments/base/leaked.yaml:6"),
        "{}",
        run.output
    );
    assert!(
        !run.output.contains("abcdefghijklmnopqrstuvwxyzAB"),
        "the token is never printed: {}",
        run.output
    );
    std::fs::remove_file(r.path().join("environments/base/leaked.yaml")).unwrap();
    commit_all(&r, "token removed", 1_600_000_200);

    // The render hook on an ordinary, untagged commit, with the three tag rules: dev takes the branch,
    // test and release have no rc or version tag to take and are skipped, each with its reason.
    write(
        r.path(),
        "environments/base/app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      containers:\n        - name: app\n          image: example/app:1.0\n",
    );
    for (env, rule) in [("dev", "branch"), ("test", "rc"), ("release", "release")] {
        write(
            r.path(),
            &format!("environments/{env}/env.yaml"),
            &format!("apiVersion: gitops.openim.io/v1\nkind: Environment\nmetadata:\n  name: {env}\nnamespace: demo-{env}\nresources:\n  - ../base\ntags:\n  rule: {rule}\n  images: [example/app]\n"),
        );
    }
    commit_all(&r, "three environments", 1_600_000_300);

    // rendered/ is missing, so it is written and the hook fails until it is staged.
    let run = try_repo(r.path(), "openim-gitops-render");
    assert_eq!(run.code, Some(1), "{}", run.output);
    assert!(
        run.output
            .contains("changed: rendered/dev; review and stage"),
        "{}",
        run.output
    );
    for skipped in [
        "skipped test: no release-candidate tag is reachable from HEAD ",
        "skipped release: HEAD ",
    ] {
        assert!(run.output.contains(skipped), "{skipped}: {}", run.output);
    }
    let rendered = r
        .path()
        .join("rendered/dev/demo-dev/configmap/settings.yaml");
    assert!(
        std::fs::read_to_string(&rendered)
            .unwrap()
            .contains("LOG_LEVEL: info"),
        "{}",
        rendered.display()
    );
    let app = r.path().join("rendered/dev/demo-dev/deployment/app.yaml");
    assert!(
        std::fs::read_to_string(&app)
            .unwrap()
            .contains("image: example/app:main"),
        "{}",
        app.display()
    );
    assert!(!r.path().join("rendered/test").exists());
    assert!(!r.path().join("rendered/release").exists());

    // Staged and committed (still untagged): the hook passes.
    commit_all(&r, "rendered", 1_600_000_400);
    let run = try_repo(r.path(), "openim-gitops-render");
    assert_eq!(run.code, Some(0), "{}", run.output);
    assert!(run.output.contains("Passed"), "{}", run.output);
}

#[test]
fn the_release_hook_installs_the_released_binary() {
    if !pre_commit_installed() {
        eprintln!("skipped: pre-commit is not installed (pip install pre-commit)");
        return;
    }
    let Some(target) = host_target() else {
        eprintln!("skipped: no release binary is made for this machine");
        return;
    };
    let r = user_repo();
    let served = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let binary = std::fs::read(env!("CARGO_BIN_EXE_openim-gitops")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    publish(served.path(), version, target, &binary, None);
    let server = Server::start(served.path());
    let url = PathBuf::from(&server.url);
    let env = [
        ("OPENIM_GITOPS_RELEASE_URL", url.as_path()),
        ("XDG_CACHE_HOME", cache.path()),
    ];

    let run = try_repo_with(r.path(), "openim-gitops-check-release", &env);
    assert_eq!(run.code, Some(0), "{}", run.output);
    assert!(run.output.contains("Passed"), "{}", run.output);
    let installed = cache
        .path()
        .join(format!("openim-gitops/{version}/{target}/openim-gitops"));
    assert_eq!(std::fs::read(&installed).unwrap(), binary);

    // A release whose archive does not match its SHA256SUMS: the hook fails and runs nothing.
    std::fs::remove_dir_all(cache.path().join("openim-gitops")).unwrap();
    publish(
        served.path(),
        version,
        target,
        &binary,
        Some(&"0".repeat(64)),
    );
    let run = try_repo_with(r.path(), "openim-gitops-check-release", &env);
    assert_eq!(run.code, Some(1), "{}", run.output);
    assert!(run.output.contains("checksum mismatch"), "{}", run.output);
    assert!(!installed.exists());
}
