//! `--kube-version`: the vendored Kubernetes minors, the schemas each serves, and the API versions
//! Kubernetes removed (`schema/removed-api`, `schema/deprecated-api`), checked on real manifest files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use openim_gitops::check::vendored::{self, KubeVersion};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kube-versions")
        .join(name)
}

fn check(args: &[&str], kube_env: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openim-gitops"));
    cmd.arg("check")
        .args(args)
        .env("NO_COLOR", "1")
        .env("OPENIM_GITOPS_TODAY", "2026-06-15")
        .env_remove("OPENIM_GITOPS_KUBE_VERSION");
    if let Some(v) = kube_env {
        cmd.env("OPENIM_GITOPS_KUBE_VERSION", v);
    }
    cmd.output().expect("run openim-gitops")
}

/// `(code, severity, line, message, help)` of `check --format json` on one fixture file.
fn findings(file: &str, kube: Option<&str>) -> Vec<(String, String, u64, String, String)> {
    let path = fixture(file);
    let mut args = vec!["--format", "json", path.to_str().expect("utf-8")];
    if let Some(v) = kube {
        args.extend(["--kube-version", v]);
    }
    let out = check(&args, None);
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (
                s("code"),
                s("severity"),
                f["line"].as_u64().unwrap_or(0),
                s("message"),
                s("help"),
            )
        })
        .collect()
}

fn with_code<'a>(
    found: &'a [(String, String, u64, String, String)],
    code: &str,
) -> Vec<&'a (String, String, u64, String, String)> {
    found.iter().filter(|f| f.0 == code).collect()
}

#[test]
fn removed_api_versions_are_errors_at_their_apiversion_line_with_the_replacement() {
    let found = findings("removed.yaml", None);
    let removed = with_code(&found, "schema/removed-api");
    let lines: Vec<u64> = removed.iter().map(|f| f.2).collect();
    assert_eq!(lines, [2, 11, 18, 30], "{found:#?}");
    assert!(removed.iter().all(|f| f.1 == "error"));
    assert_eq!(
        removed[0].3,
        "`extensions/v1beta1` Ingress is no longer served: Kubernetes removed it in 1.22 (checked against 1.37)"
    );
    assert!(
        removed[0]
            .4
            .starts_with("use apiVersion `networking.k8s.io/v1`"),
        "{}",
        removed[0].4
    );
    assert!(
        removed[1].3.contains("removed it in 1.25"),
        "{}",
        removed[1].3
    );
    assert!(
        removed[1].4.contains("no replacement") && removed[1].4.contains("Pod Security Admission")
    );
    assert!(
        removed[2].3.contains("removed it in 1.26") && removed[2].4.contains("`autoscaling/v2`")
    );
    assert!(removed[3].3.contains("removed it in 1.32"));
    assert!(removed[3].4.contains("`flowcontrol.apiserver.k8s.io/v1`"));
    // One finding per object: not also `schema/unknown-kind`.
    assert!(
        with_code(&found, "schema/unknown-kind").is_empty(),
        "{found:#?}"
    );
}

#[test]
fn an_older_target_warns_of_removals_still_ahead_and_validates_against_its_own_schemas() {
    // 1.25 still serves autoscaling/v2beta2 (removed in 1.26); flowcontrol v1beta3 came with 1.26.
    let found = findings("removed.yaml", Some("1.25"));
    let removed: Vec<u64> = with_code(&found, "schema/removed-api")
        .iter()
        .map(|f| f.2)
        .collect();
    assert_eq!(removed, [2, 11], "{found:#?}");
    let deprecated = with_code(&found, "schema/deprecated-api");
    assert_eq!(deprecated.len(), 1, "{found:#?}");
    assert_eq!((deprecated[0].1.as_str(), deprecated[0].2), ("warning", 18));
    assert_eq!(
        deprecated[0].3,
        "`autoscaling/v2beta2` HorizontalPodAutoscaler is removed in Kubernetes 1.26; the target 1.25 still serves it"
    );
    let unknown = with_code(&found, "schema/unknown-kind");
    assert_eq!(unknown.len(), 1, "{found:#?}");
    assert_eq!(unknown[0].2, 30);
    assert!(
        unknown[0].3.contains("it is served from 1.26 on"),
        "{}",
        unknown[0].3
    );

    // 1.31: flowcontrol v1beta3 is served and goes in 1.32.
    let found = findings("removed.yaml", Some("v1.31.4"));
    let deprecated: Vec<u64> = with_code(&found, "schema/deprecated-api")
        .iter()
        .map(|f| f.2)
        .collect();
    assert_eq!(deprecated, [30], "{found:#?}");
    assert_eq!(with_code(&found, "schema/removed-api").len(), 3);
    // 1.32 removed it.
    let found = findings("removed.yaml", Some("1.32"));
    assert_eq!(
        with_code(&found, "schema/removed-api").len(),
        4,
        "{found:#?}"
    );
    assert!(with_code(&found, "schema/deprecated-api").is_empty());
}

#[test]
fn current_api_versions_are_clean_for_every_vendored_version() {
    for v in KubeVersion::all() {
        let found = findings("current.yaml", Some(v.as_str()));
        // (The Deployment and Service they point at are not in the file: `refs/` says so.)
        let schema: Vec<_> = found
            .iter()
            .filter(|f| f.0.starts_with("schema/"))
            .collect();
        assert!(schema.is_empty(), "{v}: {schema:#?}");
    }
}

#[test]
fn a_kind_newer_than_the_target_is_unknown_with_the_version_that_serves_it() {
    assert!(findings("newer-kind.yaml", Some("1.34")).is_empty());
    let found = findings("newer-kind.yaml", Some("1.33"));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].0.as_str(), found[0].2),
        ("schema/unknown-kind", 2)
    );
    assert_eq!(
        found[0].3,
        "Kubernetes 1.33 (the target) does not serve `DeviceClass` in apiVersion `resource.k8s.io/v1`; it is served from 1.34 on"
    );
}

#[test]
fn the_schemas_follow_the_target_version() {
    // A field 1.25's Pod does not know (pod-level resources came later) is an unknown field there.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pod.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  resources:\n    limits: {cpu: '1'}\n  containers:\n    - name: c\n      image: busybox:1.36\n",
    )
    .expect("write");
    let run = |v: &str| {
        let out = check(
            &[
                "--format",
                "json",
                "--kube-version",
                v,
                file.to_str().expect("utf-8"),
            ],
            None,
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        j["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["code"] == "schema/invalid")
            .map(|f| {
                (
                    f["line"].as_u64().unwrap_or(0),
                    f["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run("1.25"),
        [(6, "`spec`: unknown field `resources`".to_string())]
    );
    assert!(run("1.37").is_empty(), "{:?}", run("1.37"));
}

#[test]
fn an_unknown_version_is_a_usage_error_that_names_the_vendored_ones() {
    let path = fixture("current.yaml");
    for (args, env) in [
        (
            vec!["--kube-version", "1.24", path.to_str().expect("utf-8")],
            None,
        ),
        (
            vec!["--kube-version", "latest", path.to_str().expect("utf-8")],
            None,
        ),
        (vec![path.to_str().expect("utf-8")], Some("1.99")),
    ] {
        let out = check(&args, env);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no schemas are vendored for Kubernetes"),
            "{err}"
        );
        assert!(err.contains("1.25, 1.26") && err.contains("1.37"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // The environment variable is read like the flag.
    let out = check(
        &[fixture("removed.yaml").to_str().expect("utf-8")],
        Some("1.25"),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("schema/deprecated-api"), "{text}");
}

#[test]
fn version_names_parse_by_minor() {
    let newest = KubeVersion::default();
    assert_eq!(KubeVersion::all().last(), Some(newest));
    for text in ["1.30", "v1.30", "1.30.0", "v1.30.12"] {
        assert_eq!(
            KubeVersion::parse(text).map(|v| v.as_str()),
            Ok("1.30"),
            "{text}"
        );
    }
    for text in ["1", "1.30.x", "1.30.0.1", "", "one.thirty", "1.24"] {
        assert!(KubeVersion::parse(text).is_err(), "{text}");
    }
}

#[test]
fn every_vendored_schema_of_every_version_assembles_and_compiles() {
    let mut failed = Vec::new();
    let mut n = 0;
    for v in KubeVersion::all() {
        for key in vendored::keys(v) {
            let (api, kind) = key.split_once('|').expect("apiVersion|Kind");
            let schema = vendored::schema(v, api, kind).expect("listed");
            if let Err(e) = &schema.validator {
                failed.push(format!("{v} {key}: {e}"));
            }
            n += 1;
        }
    }
    assert!(n >= 13 * 60, "only {n} schemas are embedded");
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The removal table agrees with the vendored minors: every beta or GA kind one minor serves and the
/// next does not is listed as removed in the next, nothing listed is served from its removal on, and
/// every replacement is served by the newest minor.
#[test]
fn the_removal_table_agrees_with_the_vendored_versions() {
    let versions: Vec<KubeVersion> = KubeVersion::all().collect();
    let served = |v: KubeVersion| -> BTreeSet<&'static str> { vendored::keys(v).collect() };
    for pair in versions.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        for key in served(a).difference(&served(b)) {
            let (api, kind) = key.split_once('|').expect("apiVersion|Kind");
            if api.contains("alpha") || key == &"v1|Status" {
                continue;
            }
            let rm = vendored::removal(api, kind);
            assert_eq!(
                rm.map(|r| r.removed_in.as_str()),
                Some(b.as_str()),
                "{key} is served by {a} and not by {b}"
            );
        }
    }
    let newest = KubeVersion::default();
    for rm in vendored::removals() {
        for v in &versions {
            if v.minor() >= rm.removed_minor() {
                assert!(
                    !vendored::serves(*v, &rm.api_version, &rm.kind),
                    "{rm:?} served by {v}"
                );
            }
        }
        if let Some(to) = &rm.replacement {
            assert!(
                vendored::serves(newest, to, &rm.kind),
                "{rm:?}: {to} not served"
            );
        }
        assert!(matches!(rm.source.as_str(), "guide" | "schemas"), "{rm:?}");
    }
    assert!(vendored::removals().len() >= 50);
}
