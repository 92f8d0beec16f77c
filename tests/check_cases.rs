//! The cases issue 5 names as holes in other tools, for the `schema/` family: each is caught, at the
//! line the user edits.

mod common;

use common::Check;

/// `(line, column, message)` of every finding of `code` on one manifest.
fn only(code: &str, yaml: &str) -> Vec<(u64, u64, String)> {
    Check::files(&[("manifest.yaml", yaml)])
        .run()
        .of(code)
        .into_iter()
        .map(|f| (f.line, f.column, f.message.clone()))
        .collect()
}

#[test]
fn port_70000_is_out_of_range() {
    let found = only(
        "schema/port-out-of-range",
        "apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports:
    - name: http
      port: 70000
",
    );
    assert_eq!(
        found,
        [(
            9,
            13,
            "Service port 70000 is out of range: ports are 1 to 65535".to_string()
        )]
    );
}

#[test]
fn cpu_lots_is_not_a_quantity() {
    let found = only(
        "schema/invalid-quantity",
        "apiVersion: v1
kind: Pod
metadata:
  name: api
spec:
  containers:
    - name: api
      image: registry.example/api:1.0
      resources:
        requests:
          cpu: \"lots\"
          memory: 512Mi
        limits:
          cpu: 1.5
          memory: 512Mi
",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (11, 16));
    assert!(found[0].2.contains("`cpu`") && found[0].2.contains("not a quantity"));
}

#[test]
fn a_selector_that_does_not_match_its_pod_labels() {
    let found = only(
        "schema/selector-mismatch",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: openim-api
  template:
    metadata:
      labels:
        app.kubernetes.io/name: openim-apis
    spec:
      containers:
        - name: api
          image: registry.example/api:1.0
",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (8, 7));
    assert!(found[0].2.contains("openim-apis"), "{}", found[0].2);
}

#[test]
fn duplicate_keys_are_a_load_finding_at_the_second_key_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("dup.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n  a: \"2\"\n",
    )
    .expect("write");
    let run = |format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
            .current_dir(dir.path())
            .args(["check", "--format", format, "dup.yaml"])
            .env("NO_COLOR", "1")
            .output()
            .expect("run")
    };
    let human = run("human");
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("load/invalid-yaml")
            && text.contains("duplicate key `a`")
            && text.contains("dup.yaml:7:3"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_slice(&run("json").stdout).expect("json output");
    let f = &json["findings"][0];
    assert_eq!(
        (&f["code"], &f["file"], &f["line"], &f["column"]),
        (
            &serde_json::json!("load/invalid-yaml"),
            &serde_json::json!("dup.yaml"),
            &serde_json::json!(7),
            &serde_json::json!(3)
        ),
        "{json:#}"
    );
    let sarif: serde_json::Value =
        serde_json::from_slice(&run("sarif").stdout).expect("sarif output");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "load/invalid-yaml", "{sarif:#}");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        7
    );
    let github = String::from_utf8_lossy(&run("github").stdout).into_owned();
    assert!(
        github.contains("::error file=dup.yaml,line=7,col=3")
            && github.contains("load/invalid-yaml"),
        "{github}"
    );
}
