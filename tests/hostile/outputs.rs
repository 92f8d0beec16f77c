//! Outputs confined to `--out`: names that would build a path outside it are an error at their line
//! before anything is written; `--out` may not be or hold the sources; a folder that is not a rendered
//! tree is never replaced; leftovers of an interrupted run are recovered.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{assert_json_error, both, Target, DEPLOYMENT};

const ENV_NO_NAMESPACE: &str = "apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: dev
resources:
  - ../base
";

/// Every file below `dir` (links not followed), with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !rel.starts_with(".git/") {
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn render_json(t: &Target) -> std::process::Output {
    t.run(&[
        "render", "--env", "dev", "--format", "json", "--out", "rendered",
    ])
}

/// The base object is `api.yaml` with `field: value` in place of the line it replaces; render must fail
/// at `line` and write nothing anywhere.
fn assert_bad_name(replace: &str, with: &str, line: u64, message: &str) {
    let t = Target::new();
    t.write("environments/dev/env.yaml", ENV_NO_NAMESPACE);
    let text = DEPLOYMENT.replacen(replace, with, 1);
    assert_ne!(text, DEPLOYMENT);
    t.write("environments/base/api.yaml", &text);
    let before = snapshot(t.path());
    let outside_before = snapshot(t.outside.path());
    let o = render_json(&t);
    assert_json_error(&o, "environments/base/api.yaml", line, message);
    assert_eq!(snapshot(t.path()), before, "nothing was written");
    assert_eq!(snapshot(t.outside.path()), outside_before);
    assert!(!t.path().join("rendered").exists());
    // The parent of the temporary folder holds no escaped file either.
    let parent = t.path().parent().unwrap();
    assert!(!parent.join("ESC.yaml").exists() && !parent.join("x").exists());
    // A commit on the environment branch (built from HEAD's objects, so the name is committed first) is
    // refused the same way, before anything is written.
    t.commit("bad name");
    let o = t.run(&["render", "--env", "dev", "--commit", "--allow-findings"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(t
        .repo
        .find_branch("environments/dev", git2::BranchType::Local)
        .is_err());
}

#[test]
fn a_name_climbing_out_of_out_is_refused() {
    assert_bad_name("name: api\n", "name: ../../../../ESC\n", 4, "metadata.name");
}

#[test]
fn a_name_with_a_slash_is_refused() {
    assert_bad_name("name: api\n", "name: a/b\n", 4, "metadata.name");
}

#[test]
fn a_name_with_a_nul_is_refused() {
    assert_bad_name("name: api\n", "name: \"api\\0x\"\n", 4, "metadata.name");
}

#[test]
fn a_namespace_naming_an_absolute_folder_is_refused() {
    assert_bad_name(
        "name: api\n",
        "name: api\n  namespace: /anywhere\n",
        5,
        "metadata.namespace",
    );
}

#[test]
fn a_namespace_of_dotdot_is_refused() {
    assert_bad_name(
        "name: api\n",
        "name: api\n  namespace: ..\n",
        5,
        "metadata.namespace",
    );
}

#[test]
fn a_kind_climbing_out_is_refused() {
    assert_bad_name("kind: Deployment\n", "kind: ../../x\n", 2, "`kind`");
}

#[test]
fn an_api_group_climbing_out_is_refused() {
    assert_bad_name(
        "apiVersion: apps/v1\n",
        "apiVersion: ../../x/v1\n",
        1,
        "apiVersion",
    );
}

/// `--out` pointed at the sources, or at anything holding them, is refused and nothing is deleted,
/// uncommitted files included.
#[test]
fn out_at_the_sources_is_refused_and_nothing_is_deleted() {
    let t = Target::new();
    t.write("environments/dev/uncommitted.txt", "work in progress\n");
    t.write(
        "policies/policy.yaml",
        "apiVersion: gitops.openim.io/v1\nkind: Policy\n",
    );
    for out in [
        "environments",
        "environments/dev/..",
        ".",
        "..",
        "policies",
        "environments/rendered",
        ".git",
        ".git/rendered",
    ] {
        let before = snapshot(t.path());
        let o = t.run(&["render", "--env", "dev", "--out", out]);
        assert_eq!(o.status.code(), Some(2), "--out {out}: {}", both(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("--out"),
            "--out {out}: {}",
            both(&o)
        );
        assert_eq!(snapshot(t.path()), before, "--out {out}: nothing deleted");
        assert!(t.path().join("environments/dev/uncommitted.txt").is_file());
    }
}

/// `<out>/<env>` that holds anything but a rendered tree is not replaced.
#[test]
fn out_env_folder_with_other_files_is_refused() {
    let t = Target::new();
    t.write("build/dev/notes.txt", "mine\n");
    let o = t.run(&["render", "--env", "dev", "--out", "build"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a rendered tree"));
    assert_eq!(
        std::fs::read_to_string(t.path().join("build/dev/notes.txt")).unwrap(),
        "mine\n"
    );
}

/// `rendered/dev` that is a file is refused, kept, and leaves nothing behind to block later runs.
#[test]
fn out_env_that_is_a_file_is_refused_and_kept() {
    let t = Target::new();
    t.write("rendered/dev", "a file\n");
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert_eq!(
        std::fs::read_to_string(t.path().join("rendered/dev")).unwrap(),
        "a file\n"
    );
    let names: Vec<_> = std::fs::read_dir(t.path().join("rendered"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["dev".to_string()], "no leftover");
    std::fs::remove_file(t.path().join("rendered/dev")).unwrap();
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
}

fn render_ok(t: &Target) -> BTreeMap<String, Vec<u8>> {
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    snapshot(&t.path().join("rendered"))
}

/// A kill between the two renames of the fallback swap leaves the old tree retired and no
/// `rendered/dev`; a kill during writing leaves a partial staging folder; a blocked run leaves a retired
/// file. The next run recovers from each and leaves exactly the new tree.
#[test]
fn leftovers_of_a_killed_swap_are_recovered() {
    let t = Target::new();
    let good = render_ok(&t);
    let r = t.path().join("rendered");
    // Killed between the renames: the old tree retired, a complete new one staged, no rendered/dev.
    std::fs::rename(r.join("dev"), r.join(".dev.openim-gitops-old")).unwrap();
    crate::common::copy_dir(
        &r.join(".dev.openim-gitops-old"),
        &r.join(".dev.openim-gitops-new"),
    );
    assert_eq!(render_ok(&t), good);
    // Killed while writing: a partial staging folder next to the current tree.
    t.write("rendered/.dev.openim-gitops-new/partial.yaml", "kind: x\n");
    assert_eq!(render_ok(&t), good);
    // A retired leftover that is a file.
    t.write("rendered/.dev.openim-gitops-old", "x\n");
    assert_eq!(render_ok(&t), good);
    // Killed before the retired tree could be put back, with the staging folder gone too.
    std::fs::rename(r.join("dev"), r.join(".dev.openim-gitops-old")).unwrap();
    assert_eq!(render_ok(&t), good);
}

/// The swap replaces a tree in one step: a stale file disappears and the tree is whole.
#[test]
fn a_render_replaces_the_tree_whole() {
    let t = Target::new();
    let good = render_ok(&t);
    let stale = t.path().join("rendered/dev/openim-dev/deployment/old.yaml");
    std::fs::write(&stale, "kind: Old\n").unwrap();
    assert_eq!(render_ok(&t), good);
    assert!(!stale.exists());
}

/// A tree big enough that a render takes a while: `n` ConfigMaps, each holding `value`.
fn big_tree(t: &Target, n: usize, value: &str) {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\ndata:\n  value: {value}-{i}\n"
        ));
    }
    t.write("environments/base/many.yaml", &text);
}

/// `rendered/dev` as it is on disk: every file below it, by relative path.
fn tree_at(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    crate::common::read_tree(dir)
}

/// Leftovers of a swap beside the tree.
fn leftovers(out: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(out)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("openim-gitops-"))
                .collect()
        })
        .unwrap_or_default()
}

/// A render killed (SIGKILL) at delays spread over its whole run, again and again, each time replacing
/// one complete tree by another: after every kill `rendered/dev` is the complete old tree or the
/// complete new one (never missing, never a mix), and the next render recovers and succeeds.
#[test]
#[cfg(unix)]
fn a_render_killed_at_any_moment_leaves_the_old_tree_or_the_new() {
    let t = Target::new();
    let out = t.path().join("rendered");
    let dev = out.join("dev");
    // The two trees, each rendered once whole.
    let mut trees = Vec::new();
    let mut took = Duration::ZERO;
    for value in ["first", "second"] {
        big_tree(&t, 1200, value);
        let start = Instant::now();
        render_ok(&t);
        took = took.max(start.elapsed());
        trees.push(tree_at(&dev));
    }
    assert_ne!(trees[0], trees[1]);
    assert!(trees[0].len() > 1200, "{} files", trees[0].len());

    let rounds: u32 = 16;
    let mut outcomes = [0usize; 2];
    let mut round = 0;
    // On a busy machine a run can take longer than the ones timed above: past the planned rounds, the
    // delay doubles until a run is seen to finish (at most 8 more rounds).
    while round < rounds || (outcomes[1] == 0 && round < rounds + 8) {
        // On disk: trees[old]; the sources now say trees[new].
        let (old, new) = ((round as usize + 1) % 2, round as usize % 2);
        big_tree(&t, 1200, ["first", "second"][new]);
        // Delays from almost nothing to past the end of a whole run, then longer.
        let delay = if round < rounds {
            took.mul_f64(1.2 * f64::from(round) / f64::from(rounds - 1))
        } else {
            took.mul_f64(1.2 * f64::from(1u32 << (round - rounds + 1)))
        };
        let mut child = t.spawn(&["render", "--env", "dev", "--out", "rendered"]);
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let now = tree_at(&dev);
        assert!(
            dev.is_dir(),
            "round {round} ({delay:?}): rendered/dev is missing"
        );
        let which = trees
            .iter()
            .position(|tree| *tree == now)
            .unwrap_or_else(|| {
                panic!(
                    "round {round} ({delay:?}): rendered/dev is neither tree ({} files; old {}, new {})",
                    now.len(),
                    trees[old].len(),
                    trees[new].len()
                )
            });
        outcomes[usize::from(which == new)] += 1;
        // The next render recovers whatever was left and gives the new tree.
        let start = Instant::now();
        render_ok(&t);
        took = took.max(start.elapsed());
        assert_eq!(
            tree_at(&dev),
            trees[new],
            "round {round}: the render after the kill"
        );
        assert!(
            leftovers(&out).is_empty(),
            "round {round}: {:?}",
            leftovers(&out)
        );
        round += 1;
    }
    // The kills landed on both sides of the swap.
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "old {} / new {}",
        outcomes[0],
        outcomes[1]
    );
}
