//! Golden trees: every case under tests/fixtures/render/<case>/ has an `input/` root with environments and
//! an `expected/<env>/` tree per environment. `UPDATE_GOLDEN=1 cargo test --test render_golden` rewrites
//! the expected trees; the diff is then reviewed like any other change.

mod common;

use std::path::Path;

fn case(name: &str, tag: Option<&str>) {
    let dir = common::fixtures().join("render").join(name);
    let root = dir.join("input");
    let envs = openim_gitops::load::find_environments(&openim_gitops::load::DiskFiles, &root)
        .expect("environments");
    assert!(!envs.is_empty(), "{name} has no environment");
    for (env, _) in envs {
        let tree =
            common::render_env(&root, &env, tag).unwrap_or_else(|e| panic!("{name}/{env}:\n{e}"));
        common::assert_tree(&tree, &dir.join("expected").join(&env));
        // Rendering twice gives the same bytes.
        let again = common::render_env(&root, &env, tag).expect("second render");
        assert_eq!(tree, again, "{name}/{env} is not deterministic");
    }
}

#[test]
fn basic_overlay_with_component_generators_and_patches() {
    case("basic", Some("feature-x"));
}

#[test]
fn strategic_merge_directives_and_json6902() {
    case("patches", Some("feature-x"));
}

#[test]
fn quoting_and_block_scalars() {
    case("quoting", None);
}

#[test]
fn write_tree_replaces_the_old_tree_whole() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("dev");
    let root = common::fixtures().join("render/basic/input");
    let tree = common::render_env(&root, "dev", Some("t1")).expect("render");
    // A stale file from an earlier render, and a leftover staging folder from a killed run.
    std::fs::create_dir_all(dir.join("openim-dev/deployment")).expect("mkdir");
    std::fs::write(dir.join("openim-dev/deployment/removed.yaml"), "stale").expect("write");
    std::fs::create_dir_all(out.path().join(".dev.openim-gitops-new/x")).expect("mkdir");
    openim_gitops::render::write_tree(&tree, &dir).expect("write tree");
    let written = common::read_tree(&dir);
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        tree.files.keys().collect::<Vec<_>>()
    );
    assert!(!Path::new(&dir.join("openim-dev/deployment/removed.yaml")).exists());
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec!["dev".to_string()]);
}

#[test]
fn a_failed_write_leaves_the_old_tree() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("dev");
    let root = common::fixtures().join("render/basic/input");
    let tree = common::render_env(&root, "dev", Some("t1")).expect("render");
    openim_gitops::render::write_tree(&tree, &dir).expect("first write");
    let before = common::read_tree(&dir);
    // A path that cannot be written (a file where a folder must go) makes the second write fail.
    let mut bad = tree.clone();
    bad.files
        .insert("hydrator.metadata/x.yaml".into(), b"x".to_vec());
    assert!(openim_gitops::render::write_tree(&bad, &dir).is_err());
    assert_eq!(common::read_tree(&dir), before);
    assert!(!out.path().join(".dev.openim-gitops-new").exists());
}
