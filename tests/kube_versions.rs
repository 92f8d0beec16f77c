//! `--kube-version`: the vendored Kubernetes minors, the schemas each serves, and the API versions
//! Kubernetes removed (`schema/removed-api`, `schema/deprecated-api`), checked on real manifest files.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use openim_gitops::check::vendored::{self, KubeVersion};

use common::{Check, Findings};

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

/// `check` on one fixture file, against a Kubernetes minor (default: the newest vendored).
fn findings(file: &str, kube: Option<&str>) -> Findings {
    let mut check = Check::paths([fixture(file)]);
    if let Some(v) = kube {
        check = check.kube(v);
    }
    check.run()
}

#[test]
fn removed_api_versions_are_errors_at_their_apiversion_line_with_the_replacement() {
    let found = findings("removed.yaml", None);
    let removed = found.of("schema/removed-api");
    let lines: Vec<u64> = removed.iter().map(|f| f.line).collect();
    assert_eq!(lines, [2, 11, 18, 30], "{found:#?}");
    assert!(removed.iter().all(|f| f.severity == "error"));
    assert_eq!(
        removed[0].message,
        "`extensions/v1beta1` Ingress is no longer served: Kubernetes removed it in 1.22 (checked against 1.37)"
    );
    assert!(
        removed[0]
            .help
            .starts_with("use apiVersion `networking.k8s.io/v1`"),
        "{}",
        removed[0].help
    );
    assert!(
        removed[1].message.contains("removed it in 1.25"),
        "{}",
        removed[1].message
    );
    assert!(
        removed[1].help.contains("no replacement")
            && removed[1].help.contains("Pod Security Admission")
    );
    assert!(
        removed[2].message.contains("removed it in 1.26")
            && removed[2].help.contains("`autoscaling/v2`")
    );
    assert!(removed[3].message.contains("removed it in 1.32"));
    assert!(removed[3]
        .help
        .contains("`flowcontrol.apiserver.k8s.io/v1`"));
    // One finding per object: not also `schema/unknown-kind`.
    assert!(found.of("schema/unknown-kind").is_empty(), "{found:#?}");
}

#[test]
fn an_older_target_warns_of_removals_still_ahead_and_validates_against_its_own_schemas() {
    // 1.25 still serves autoscaling/v2beta2 (removed in 1.26); flowcontrol v1beta3 came with 1.26.
    let found = findings("removed.yaml", Some("1.25"));
    let removed: Vec<u64> = found
        .of("schema/removed-api")
        .iter()
        .map(|f| f.line)
        .collect();
    assert_eq!(removed, [2, 11], "{found:#?}");
    let deprecated = found.of("schema/deprecated-api");
    assert_eq!(deprecated.len(), 1, "{found:#?}");
    assert_eq!(
        (deprecated[0].severity.as_str(), deprecated[0].line),
        ("warning", 18)
    );
    assert_eq!(
        deprecated[0].message,
        "`autoscaling/v2beta2` HorizontalPodAutoscaler is removed in Kubernetes 1.26; the target 1.25 still serves it"
    );
    let unknown = found.of("schema/unknown-kind");
    assert_eq!(unknown.len(), 1, "{found:#?}");
    assert_eq!(unknown[0].line, 30);
    assert!(
        unknown[0].message.contains("it is served from 1.26 on"),
        "{}",
        unknown[0].message
    );

    // 1.31: flowcontrol v1beta3 is served and goes in 1.32.
    let found = findings("removed.yaml", Some("v1.31.4"));
    let deprecated: Vec<u64> = found
        .of("schema/deprecated-api")
        .iter()
        .map(|f| f.line)
        .collect();
    assert_eq!(deprecated, [30], "{found:#?}");
    assert_eq!(found.of("schema/removed-api").len(), 3);
    // 1.32 removed it.
    let found = findings("removed.yaml", Some("1.32"));
    assert_eq!(found.of("schema/removed-api").len(), 4, "{found:#?}");
    assert!(found.of("schema/deprecated-api").is_empty());
}

#[test]
fn current_api_versions_are_clean_for_every_vendored_version() {
    for v in KubeVersion::all() {
        let found = findings("current.yaml", Some(v.as_str()));
        // (The Deployment and Service they point at are not in the file: `refs/` says so.)
        let schema: Vec<_> = found
            .iter()
            .filter(|f| f.code.starts_with("schema/"))
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
        (found[0].code.as_str(), found[0].line),
        ("schema/unknown-kind", 2)
    );
    assert_eq!(
        found[0].message,
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
        Check::paths([&file])
            .kube(v)
            .run()
            .iter()
            .filter(|f| f.code == "schema/invalid")
            .map(|f| (f.line, f.message.clone()))
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
