//! `explain`: the rendered value of a resource or field and the line that set each leaf, in human and
//! JSON form, on the basic render fixture (base, component, patch file, inline patches, generators).

mod common;

use std::path::Path;

fn explain(args: &[&str]) -> (i32, String, String) {
    let root = common::fixtures().join("render/basic/input");
    let root = root.to_str().expect("utf-8 path");
    let mut all = vec![
        "explain",
        "--root",
        root,
        "--env",
        "dev",
        "--tag",
        "feature-x",
    ];
    all.extend_from_slice(args);
    let out = common::cli(&all, Path::new(env!("CARGO_MANIFEST_DIR")));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fields(args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let (code, stdout, stderr) = explain(&a);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    v["fields"].as_array().expect("fields").clone()
}

fn field<'a>(list: &'a [serde_json::Value], path: &str) -> &'a serde_json::Value {
    list.iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no field {path} in {list:#?}"))
}

#[test]
fn each_field_names_the_line_that_set_it() {
    let list = fields(&["Deployment/api"]);
    let replicas = field(&list, "spec.replicas");
    assert_eq!(replicas["value"], 2);
    assert_eq!(
        replicas["file"],
        "tests/fixtures/render/basic/input/dev/env.yaml"
    );
    assert_eq!(
        (replicas["line"].as_u64(), replicas["source"].as_str()),
        (Some(16), Some("environment"))
    );

    let memory = field(
        &list,
        "spec.template.spec.containers[name=api].resources.limits.memory",
    );
    assert_eq!(memory["value"], "1Gi");
    assert_eq!(
        memory["file"],
        "tests/fixtures/render/basic/input/dev/patches/api.yaml"
    );
    assert_eq!(
        (memory["line"].as_u64(), memory["source"].as_str()),
        (Some(17), Some("patch"))
    );

    let cpu = field(
        &list,
        "spec.template.spec.containers[name=api].resources.requests.cpu",
    );
    assert_eq!(
        cpu["file"],
        "tests/fixtures/render/basic/input/base/api.yaml"
    );
    assert_eq!(cpu["line"], 41);

    let spread = field(
        &list,
        "spec.template.spec.topologySpreadConstraints[0].maxSkew",
    );
    assert_eq!(
        spread["file"],
        "tests/fixtures/render/basic/input/components/ha/component.yaml"
    );

    let ns = field(&list, "metadata.namespace");
    assert_eq!(
        (ns["value"].as_str(), ns["line"].as_u64()),
        (Some("openim-dev"), Some(5))
    );

    let image = field(&list, "spec.template.spec.containers[name=api].image");
    assert_eq!(image["value"], "openim/openim-api:feature-x");
    assert_eq!(
        image["file"], "tests/fixtures/render/basic/input/dev/env.yaml",
        "the tag rule set it"
    );
}

#[test]
fn a_field_path_narrows_the_output_and_inline_patches_point_into_the_env_file() {
    let list = fields(&["Service/api", "spec.ports[0].port"]);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["value"], 80);
    // The JSON 6902 patch is a block string inside env.yaml; its value sits at line 33, column 16 there.
    assert_eq!(
        list[0]["file"],
        "tests/fixtures/render/basic/input/dev/env.yaml"
    );
    assert_eq!(
        (list[0]["line"].as_u64(), list[0]["column"].as_u64()),
        (Some(33), Some(16))
    );
}

#[test]
fn generated_configmaps_are_found_by_their_generator_name() {
    let list = fields(&["ConfigMap/server-config", r#"data["share.yml"]"#]);
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["file"],
        "tests/fixtures/render/basic/input/config/share.yml"
    );
    assert_eq!(list[0]["source"], "config file");
}

#[test]
fn human_output() {
    let (code, stdout, stderr) = explain(&["Deployment/api", "spec.replicas"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "Deployment api (namespace openim-dev) in environment dev\nspec.replicas = 2\n    set at tests/fixtures/render/basic/input/dev/env.yaml:16:12 (environment)\n"
    );
}

#[test]
fn unknown_resources_and_fields_are_usage_errors() {
    let (code, _, stderr) = explain(&["Deployment/nope"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("renders no Deployment/nope") && stderr.contains("it has: api"),
        "{stderr}"
    );
    let (code, _, stderr) = explain(&["Deployment/api", "spec.nothing"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no `nothing`"), "{stderr}");
    let (code, _, stderr) = explain(&["Deployment/api", "spec[oops"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not closed"), "{stderr}");
}

#[test]
fn secret_values_are_never_shown() {
    let dir = common::write_files(&[
        (
            "environments/dev/env.yaml",
            "apiVersion: gitops.openim.io/v1\nkind: Environment\nmetadata:\n  name: dev\nresources: [../base]\n",
        ),
        (
            "environments/base/s.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: planted-secret-value\ndata:\n  token: cGxhbnRlZC1iYXNlNjQ=\n",
        ),
    ]);
    for format in ["human", "json"] {
        let out = common::cli(
            &["explain", "--env", "dev", "Secret/s", "--format", format],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("stringData.password") && text.contains("hidden"),
            "{text}"
        );
        assert!(
            !text.contains("planted-secret-value") && !text.contains("cGxhbnRlZC1iYXNlNjQ="),
            "{text}"
        );
    }
}
