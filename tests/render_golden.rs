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

/// Each file's inode and modification time, by path.
#[cfg(unix)]
fn stamps(dir: &Path) -> std::collections::BTreeMap<String, (u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    common::read_tree(dir)
        .keys()
        .map(|rel| {
            let m = std::fs::symlink_metadata(dir.join(rel)).expect("stat");
            (rel.clone(), (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn an_unchanged_render_rewrites_no_file_and_a_changed_one_rewrites_one() {
    use std::os::unix::fs::MetadataExt;
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("dev");
    let root = common::fixtures().join("render/basic/input");
    let tree = common::render_env(&root, "dev", Some("t1")).expect("render");
    openim_gitops::render::write_tree(&tree, &dir).expect("first write");
    let first = stamps(&dir);
    let folder = std::fs::metadata(&dir).expect("stat").ino();
    assert_eq!(first.len(), tree.files.len());

    // Nothing changed: nothing is written, not even the folder swapped.
    openim_gitops::render::write_tree(&tree, &dir).expect("second write");
    assert_eq!(stamps(&dir), first);
    assert_eq!(std::fs::metadata(&dir).expect("stat").ino(), folder);

    // One changed resource: that file alone is new; every other file is the same inode.
    let changed_path = "openim-dev/deployment/api.yaml";
    let mut changed = tree.clone();
    changed
        .files
        .get_mut(changed_path)
        .expect("the deployment is rendered")
        .extend_from_slice(b"# changed\n");
    openim_gitops::render::write_tree(&changed, &dir).expect("third write");
    assert_eq!(common::read_tree(&dir), changed.files);
    let third = stamps(&dir);
    let rewritten: Vec<&String> = third
        .iter()
        .filter(|(rel, stamp)| first.get(*rel) != Some(stamp))
        .map(|(rel, _)| rel)
        .collect();
    assert_eq!(rewritten, vec![changed_path]);

    // A removed resource disappears; the rest stay the same files.
    let mut removed = changed.clone();
    removed.files.remove("openim-dev/role/discovery.yaml");
    openim_gitops::render::write_tree(&removed, &dir).expect("fourth write");
    assert_eq!(common::read_tree(&dir), removed.files);
    let fourth = stamps(&dir);
    assert!(fourth.iter().all(|(rel, s)| third.get(rel) == Some(s)));

    // A file changed by hand in the output (same length, other bytes) is written again.
    let meta = dir.join("hydrator.metadata");
    let mut bytes = std::fs::read(&meta).expect("read");
    bytes[0] = b' ';
    std::fs::write(&meta, &bytes).expect("write");
    openim_gitops::render::write_tree(&removed, &dir).expect("fifth write");
    assert_eq!(common::read_tree(&dir), removed.files);
    // A stale file left in the output folder makes the tree be replaced.
    std::fs::write(dir.join("stale.yaml"), "x").expect("write");
    openim_gitops::render::write_tree(&removed, &dir).expect("sixth write");
    assert_eq!(common::read_tree(&dir), removed.files);
}
