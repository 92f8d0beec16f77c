//! Every malformed input gives a clear error at the right file and line, and exit code 2 (usage or tool
//! failure). Each case writes a small root to a temporary folder and runs the real binary on it.

mod common;

const ENV: &str = "apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: dev
namespace: openim-dev
resources:
  - ../base
";

const DEPLOYMENT: &str = "apiVersion: apps/v1
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

/// Runs `render --env dev` on the files and returns the first error: (file, line, column, message).
fn first_error(files: &[(&str, &str)]) -> (String, u64, u64, String) {
    let dir = common::write_files(files);
    let out = common::cli(
        &["render", "--env", "dev", "--format", "json", "--out", "out"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2, stdout: {}, stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.path().join("out").exists(),
        "nothing may be written on an error"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON errors on stderr");
    let e = &v["errors"][0];
    (
        e["file"].as_str().unwrap_or("").to_string(),
        e["line"].as_u64().unwrap_or(0),
        e["column"].as_u64().unwrap_or(0),
        e["message"].as_str().unwrap_or("").to_string(),
    )
}

fn assert_error(files: &[(&str, &str)], file: &str, line: u64, message: &str) {
    let (f, l, _, m) = first_error(files);
    assert_eq!(f, file, "file of: {m}");
    assert_eq!(l, line, "line of: {m}");
    assert!(m.contains(message), "`{m}` does not say `{message}`");
}

#[test]
fn invalid_yaml() {
    assert_error(
        &[
            ("environments/dev/env.yaml", ENV),
            (
                "environments/base/api.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n",
            ),
        ],
        "environments/base/api.yaml",
        7,
        "invalid YAML",
    );
}

#[test]
fn duplicate_keys_name_both_lines() {
    let (f, l, _, m) = first_error(&[
        ("environments/dev/env.yaml", ENV),
        ("environments/base/api.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: one\n  b: two\n  a: three\n"),
    ]);
    assert_eq!((f.as_str(), l), ("environments/base/api.yaml", 8));
    assert!(m.contains("duplicate key `a`"), "{m}");
    let dir = common::write_files(&[
        ("environments/dev/env.yaml", ENV),
        (
            "environments/base/api.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: one\n  a: three\n",
        ),
    ]);
    let out = common::cli(&["render", "--env", "dev", "--format", "json"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).expect("json");
    assert_eq!(
        v["errors"][0]["related"][0]["line"], 6,
        "the first definition is named too"
    );
}

#[test]
fn document_without_api_version_kind_or_name() {
    assert_error(
        &[
            ("environments/dev/env.yaml", ENV),
            (
                "environments/base/api.yaml",
                &format!("{DEPLOYMENT}---\nkind: Service\nmetadata:\n  name: api\n"),
            ),
        ],
        "environments/base/api.yaml",
        16,
        "no `apiVersion`",
    );
    assert_error(
        &[
            ("environments/dev/env.yaml", ENV),
            (
                "environments/base/api.yaml",
                "apiVersion: v1\nmetadata:\n  name: api\n",
            ),
        ],
        "environments/base/api.yaml",
        1,
        "no `kind`",
    );
    assert_error(
        &[
            ("environments/dev/env.yaml", ENV),
            (
                "environments/base/api.yaml",
                "apiVersion: v1\nkind: Service\nmetadata:\n  labels: {a: b}\n",
            ),
        ],
        "environments/base/api.yaml",
        4,
        "no `metadata.name`",
    );
    assert_error(
        &[
            ("environments/dev/env.yaml", ENV),
            ("environments/base/api.yaml", "- just\n- a list\n"),
        ],
        "environments/base/api.yaml",
        1,
        "must be a mapping",
    );
}

#[test]
fn two_resources_with_one_identity() {
    let (f, l, _, m) = first_error(&[
        ("environments/dev/env.yaml", ENV),
        ("environments/base/a.yaml", DEPLOYMENT),
        ("environments/base/b.yaml", DEPLOYMENT),
    ]);
    assert_eq!((f.as_str(), l), ("environments/base/b.yaml", 4));
    assert!(m.contains("Deployment/api is defined twice"), "{m}");
}

#[test]
fn unknown_field_in_the_environment_file() {
    assert_error(
        &[
            (
                "environments/dev/env.yaml",
                &format!("{ENV}replica:\n  - name: api\n    count: 2\n"),
            ),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        8,
        "unknown field `replica`",
    );
    assert_error(
        &[
            (
                "environments/dev/env.yaml",
                &format!("{ENV}replicas:\n  - name: api\n    count: two\n"),
            ),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        10,
        "replicas[0].count",
    );
}

#[test]
fn environment_named_unlike_its_folder() {
    assert_error(
        &[
            (
                "environments/dev/env.yaml",
                &ENV.replace("name: dev", "name: prod"),
            ),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        4,
        "named `prod` but its folder is `dev`",
    );
}

#[test]
fn a_resource_path_that_does_not_exist() {
    assert_error(
        &[(
            "environments/dev/env.yaml",
            &ENV.replace("../base", "../bsae"),
        )],
        "environments/dev/env.yaml",
        7,
        "does not exist",
    );
}

#[test]
fn a_patch_whose_target_does_not_exist() {
    assert_error(
        &[
            ("environments/dev/env.yaml", &format!("{ENV}patches:\n  - target: {{kind: Deployment, name: apii}}\n    patch:\n      spec: {{replicas: 2}}\n")),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        9,
        "selects no resource",
    );
    assert_error(
        &[
            ("environments/dev/env.yaml", &format!("{ENV}patches:\n  - path: p.yaml\n")),
            ("environments/dev/p.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\nspec:\n  replicas: 2\n"),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/p.yaml",
        1,
        "selects no resource",
    );
}

#[test]
fn deleting_a_list_item_that_is_not_there() {
    assert_error(
        &[
            ("environments/dev/env.yaml", &format!("{ENV}patches:\n  - path: p.yaml\n")),
            ("environments/dev/p.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: sidecar\n          $patch: delete\n"),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/p.yaml",
        9,
        "`$patch: delete` names `name: \"sidecar\"`",
    );
}

#[test]
fn a_json6902_path_that_does_not_exist() {
    assert_error(
        &[
            ("environments/dev/env.yaml", &format!("{ENV}patches:\n  - target: {{kind: Deployment, name: api}}\n    patch:\n      - op: replace\n        path: /spec/strategy/type\n        value: Recreate\n")),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        12,
        "`/spec/strategy` does not exist",
    );
}

#[test]
fn images_replicas_and_generators_that_match_nothing() {
    assert_error(
        &[
            (
                "environments/dev/env.yaml",
                &format!("{ENV}images:\n  - name: openim/openim-apii\n    newTag: v1\n"),
            ),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        9,
        "no container uses the image `openim/openim-apii`",
    );
    assert_error(
        &[
            (
                "environments/dev/env.yaml",
                &format!("{ENV}replicas:\n  - name: push\n    count: 2\n"),
            ),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        9,
        "no Deployment, StatefulSet or ReplicaSet is named `push`",
    );
    assert_error(
        &[
            (
                "environments/dev/env.yaml",
                &format!(
                    "{ENV}configMapGenerator:\n  - name: cfg\n    files: [../config/share.yml]\n"
                ),
            ),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        10,
        "does not exist",
    );
}

#[test]
fn a_missing_component() {
    assert_error(
        &[
            (
                "environments/dev/env.yaml",
                &format!("{ENV}components:\n  - ../components/ha\n"),
            ),
            ("environments/base/api.yaml", DEPLOYMENT),
        ],
        "environments/dev/env.yaml",
        9,
        "does not exist",
    );
}

#[test]
fn errors_in_several_files_are_all_reported() {
    let dir = common::write_files(&[
        ("environments/dev/env.yaml", ENV),
        (
            "environments/base/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\n",
        ),
        (
            "environments/base/b.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  name: c\n",
        ),
    ]);
    let out = common::cli(&["render", "--env", "dev", "--format", "json"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).expect("json");
    let files: Vec<&str> = v["errors"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["file"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        files,
        vec!["environments/base/a.yaml", "environments/base/b.yaml"]
    );
}

#[test]
fn human_errors_show_the_line_and_a_hint() {
    let dir = common::write_files(&[
        ("environments/dev/env.yaml", &format!("{ENV}replica: 2\n")),
        ("environments/base/api.yaml", DEPLOYMENT),
    ]);
    let out = common::cli(&["render", "--env", "dev"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("unknown field `replica`"), "{text}");
    assert!(text.contains("environments/dev/env.yaml:8:1"), "{text}");
    assert!(
        text.contains("8 │ replica: 2"),
        "the source line is shown:\n{text}"
    );
}

#[test]
fn usage_errors() {
    let dir = common::write_files(&[
        ("environments/dev/env.yaml", ENV),
        ("environments/base/api.yaml", DEPLOYMENT),
    ]);
    let out = common::cli(&["render", "--env", "prod"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("there is no environment `prod`") && text.contains("dev"),
        "{text}"
    );
    let out = common::cli(&["render", "--root", "nowhere", "--all"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`nowhere` does not exist"));
    let out = common::cli(&["render"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--env NAME"));
}

#[test]
fn a_secret_file_is_never_quoted_in_an_error() {
    let dir = common::write_files(&[
        ("environments/dev/env.yaml", ENV),
        ("environments/base/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2-planted\n  password: hunter2-planted\n"),
    ]);
    let out = common::cli(&["render", "--env", "dev"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("duplicate key `password`"), "{text}");
    assert!(
        !text.contains("hunter2-planted"),
        "a secret value was printed:\n{text}"
    );
}
