//! Helpers shared by the integration tests: fixtures and the built binary (here), real git repositories
//! (`repo`), the rule-test harness (`checks`) and text snapshots (`snapshot`, `UPDATE_SNAPSHOTS=1`).
#![allow(dead_code)]

mod checks;
pub mod release;
mod repo;
mod snapshot;
#[allow(unused_imports)]
pub use checks::*;
#[allow(unused_imports)]
pub use repo::*;
#[allow(unused_imports)]
pub use snapshot::assert_snapshot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use openim_gitops::diagnostics::{self, Style};
use openim_gitops::error::Error;
use openim_gitops::load::{DiskFiles, Loader};
use openim_gitops::node::Sources;
use openim_gitops::pipeline;
use openim_gitops::render::Tree;
use openim_gitops::tags::TagInputs;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Compiles and renders one environment of a root with an explicit tag and no git facts, so the output
/// does not depend on the repository the tests run in.
pub fn render_env(root: &Path, env: &str, tag: Option<&str>) -> Result<Tree, String> {
    let mut sources = Sources::new();
    let files = DiskFiles;
    let result = (|| {
        let envs = pipeline::select_envs(&files, root, &[env.to_string()], false)?;
        let mut loader = Loader::new(&files, &mut sources);
        let inputs = TagInputs {
            explicit_tag: tag.map(str::to_string),
            ..TagInputs::default()
        };
        let c = pipeline::compile(&mut loader, &envs[0].0, &envs[0].1, &inputs, None)?.tagged()?;
        Ok::<_, Error>(c.render())
    })();
    result.map_err(|e| diagnostics::render_error(&sources, &e, Style { color: false }))
}

/// Reads a folder into a tree of relative paths and bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .expect("below dir")
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(entry.path()).expect("read"));
        }
    }
    out
}

/// Compares a rendered tree with a checked-in expected folder; `UPDATE_GOLDEN=1` rewrites the folder.
pub fn assert_tree(tree: &Tree, expected: &Path) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(expected);
        for (rel, bytes) in &tree.files {
            let p = expected.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, bytes).expect("write");
        }
        return;
    }
    let have = &tree.files;
    let want = read_tree(expected);
    let have_paths: Vec<&String> = have.keys().collect();
    let want_paths: Vec<&String> = want.keys().collect();
    assert_eq!(
        have_paths,
        want_paths,
        "rendered files differ from {} (UPDATE_GOLDEN=1 rewrites it)",
        expected.display()
    );
    for (rel, bytes) in have {
        let a = String::from_utf8_lossy(bytes);
        let b = String::from_utf8_lossy(&want[rel]);
        if a != b {
            let diff = similar::TextDiff::from_lines(b.as_ref(), a.as_ref())
                .unified_diff()
                .header("expected", "rendered")
                .to_string();
            panic!("{rel} differs from the golden file (UPDATE_GOLDEN=1 rewrites it):\n{diff}");
        }
    }
}

/// Runs the built binary.
pub fn cli(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .output()
        .expect("run openim-gitops")
}

/// Writes files (path -> text) below a new temporary folder.
pub fn write_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}
