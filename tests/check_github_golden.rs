//! `check --format github` on the OpenIM environments, golden: as they are (clean), and a copy with
//! planted violations, each environment with its tag given explicitly. The workflow commands are what
//! GitHub turns into annotations on the lines of the pull request.
//!
//! `UPDATE_SNAPSHOTS=1` rewrites `tests/fixtures/check-github/*.txt`.

mod common;

use std::path::Path;
use std::process::Command;

use common::assert_snapshot;

const TODAY: &str = "2026-06-15";

/// Each environment with its tag given explicitly (dev's branch rule takes `--tag`).
const ENVS: [&[&str]; 3] = [
    &["--env", "dev", "--tag", "golden"],
    &["--env", "test", "--rc", "0"],
    &["--env", "release", "--release-version", "3.8.3"],
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `check --format github` for every environment, outputs and exit codes in one text.
fn check_all(dir: &Path) -> (String, Vec<Option<i32>>) {
    let mut text = String::new();
    let mut codes = Vec::new();
    for env in ENVS {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_openim-gitops"));
        cmd.current_dir(dir)
            .arg("check")
            .args(env)
            .args(["--format", "github"])
            .env("OPENIM_GITOPS_TODAY", TODAY)
            .env("NO_COLOR", "1");
        for var in openim_gitops::tags::CI_VARIABLES {
            cmd.env_remove(var);
        }
        let out = cmd.output().unwrap();
        text.push_str(&format!(
            "$ openim-gitops check {} --format github\n",
            env.join(" ")
        ));
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        codes.push(out.status.code());
    }
    (text, codes)
}

#[test]
fn the_openim_environments_are_clean() {
    let (text, codes) = check_all(repo());
    assert_eq!(codes, [Some(0); 3], "{text}");
    assert!(!text.contains("::error"), "{text}");
    assert_snapshot(
        &repo().join("tests/fixtures/check-github/openim-clean.txt"),
        &text,
    );
}

const PLANTED_POLICY: &str =
    "# Planted: a policy meant for openim-api (misspelt) that lets anything in.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: openim-api-from-anywhere
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: openim-apii
  policyTypes: [Ingress]
  ingress:
    - {}
";

const PLANTED_TOKEN: &str = "# Planted: a token in a ConfigMap.
apiVersion: v1
kind: ConfigMap
metadata:
  name: planted-settings
data:
  WEBHOOK_TOKEN: ghp_0123456789abcdefghijklmnopqrstuvwxyzAB
";

#[test]
fn planted_violations_become_annotations_at_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    for folder in ["environments", "policies"] {
        common::copy_dir(&repo().join(folder), &dir.path().join(folder));
    }
    let base = dir.path().join("environments/base");
    std::fs::write(
        base.join("network-policies/90-planted.yaml"),
        PLANTED_POLICY,
    )
    .unwrap();
    std::fs::write(base.join("planted-settings.yaml"), PLANTED_TOKEN).unwrap();

    let (text, codes) = check_all(dir.path());
    assert_eq!(codes, [Some(1); 3], "{text}");
    assert!(!text.contains("abcdefghijklmnopqrstuvwxyzAB"), "{text}");
    for line in text.lines().filter(|l| l.starts_with("::")) {
        assert!(
            line.starts_with("::error file=environments/base/")
                || line.starts_with("::warning file=environments/base/"),
            "{line}"
        );
        assert!(
            line.contains(",line=") && line.contains(",title="),
            "{line}"
        );
    }
    for code in [
        "netpol/allow-all",
        "netpol/policy-selects-nothing",
        "secrets/known-token",
    ] {
        assert!(text.contains(&format!("title={code}::")), "{code}: {text}");
    }
    assert_snapshot(
        &repo().join("tests/fixtures/check-github/openim-planted.txt"),
        &text,
    );
}
