//! What a new user meets first, on a copy of this repository's environments in a real git repository:
//! an ordinary untagged commit (the pre-commit case), a past release named with `--rev`, `tag` read by
//! a script, `explain` of a field a patch removed, and every command run from a subfolder.

mod common;

use std::path::Path;
use std::process::Output;

use common::{action_step, bin, commit_all, copy_dir, repository_copy, text, Repo};
use git2::Repository;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `environments/`, `policies/` and `schemas/` on `main`: a first commit tagged `v3.8.2` (and the
/// maintenance branch `release/3.8` at it, when `branch`), then an untagged commit, checked out.
fn repository(branch: bool) -> Repo {
    let r = repository_copy();
    let released = commit_all(&r, "release 3.8.2", 1_600_000_000);
    {
        let object = r.repo.find_object(released, None).unwrap();
        r.repo.tag_lightweight("v3.8.2", &object, false).unwrap();
        let commit = r.repo.find_commit(released).unwrap();
        if branch {
            r.repo.branch("release/3.8", &commit, false).unwrap();
        }
    }
    std::fs::write(r.path().join("NOTES.md"), "an ordinary change\n").unwrap();
    commit_all(&r, "an ordinary change", 1_600_000_100);
    r
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    bin(dir, home.path()).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn head_short(r: &Repo) -> String {
    let id = r.repo.head().unwrap().target().unwrap().to_string();
    id[..7].to_string()
}

#[test]
fn the_working_copy_render_skips_what_the_commit_does_not_decide_and_says_why() {
    let r = repository(false);
    let head = head_short(&r);
    let o = run_in(r.path(), &["render", "--all"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    assert!(out.contains("rendered dev at "), "{out}");
    assert!(r.path().join("rendered/dev/hydrator.metadata").is_file());
    for env in ["test", "release"] {
        assert!(!r.path().join("rendered").join(env).exists(), "{env}");
        assert!(!out.contains(&format!("rendered {env}")), "{out}");
    }
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "skipped release: HEAD {head} has no version tag vX.Y.Z, and release renders only tagged commits (tag the commit with vX.Y.Z or pass --release-version; --strict fails instead)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "skipped test: no release-candidate tag is reachable from HEAD {head}"
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");

    // The same as JSON lines on standard error.
    let o = run_in(r.path(), &["render", "--all", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let skipped: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = skipped
        .iter()
        .map(|v| v["environment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["release", "test"]);
    assert!(skipped.iter().all(|v| v["status"] == "skipped"));
    assert_eq!(
        skipped[1]["help"],
        "tag a commit vX.Y.Z-rc.N (or rcN), or pass --rc N"
    );

    // --strict: the first environment without a tag fails the run, and nothing is written.
    std::fs::remove_dir_all(r.path().join("rendered")).unwrap();
    let o = run_in(r.path(), &["render", "--all", "--strict"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("has no version tag"), "{}", text(&o));
    assert!(!r.path().join("rendered").exists());

    // A commit stays strict: nothing is committed for the environments that can be.
    let o = run_in(r.path(), &["render", "--all", "--commit"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(r
        .repo
        .find_branch("environments/dev", git2::BranchType::Local)
        .is_err());

    // The flags decide: everything renders.
    let o = run_in(
        r.path(),
        &["render", "--all", "--rc", "0", "--release-version", "3.8.3"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stderr(&o).is_empty(), "{}", text(&o));
    for env in ["dev", "test", "release"] {
        assert!(
            stdout(&o).contains(&format!("rendered {env} at ")),
            "{}",
            text(&o)
        );
    }

    // A flag that breaks a rule is an error even in the working copy: it is no question of state.
    let o = run_in(r.path(), &["render", "--env", "test", "--tag", "latest"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stdout(&o).is_empty(), "{}", text(&o));
}

#[test]
fn tag_prints_the_tag_alone_and_the_reason_apart() {
    let r = repository(false);
    let o = run_in(r.path(), &["tag", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stdout(&o), "main\n");
    assert_eq!(stderr(&o), "dev: main from branch main\n");

    let o = run_in(r.path(), &["tag", "--env", "test", "--rc", "4"]);
    assert_eq!((o.status.code(), stdout(&o)), (Some(0), "rc4\n".into()));

    let o = run_in(
        r.path(),
        &[
            "tag",
            "--env",
            "dev",
            "--env",
            "release",
            "--release-version",
            "3.8.3",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(stdout(&o), "dev main\nrelease release-v3.8.3\n");

    // JSON: the tag and the reason, for every environment; one without a tag ends the run as before.
    let o = run_in(r.path(), &["tag", "--all", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_env = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|v| v["environment"] == name)
            .unwrap_or_else(|| panic!("no {name} in {list}"))
            .clone()
    };
    assert_eq!(by_env("dev")["tag"], "main");
    assert_eq!(by_env("dev")["rule"], "branch");
    assert_eq!(by_env("dev")["reason"], "branch main");
    assert_eq!(by_env("release")["tag"], serde_json::Value::Null);
    assert!(by_env("release")["error"]
        .as_str()
        .unwrap()
        .contains("has no version tag"));
    assert_eq!(by_env("argocd")["rule"], serde_json::Value::Null);

    // An undecided tag: nothing on standard output, the error on standard error, exit 1 as before.
    let o = run_in(r.path(), &["tag", "--env", "release"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stdout(&o).is_empty(), "{}", text(&o));
    assert!(stderr(&o).contains("has no version tag"), "{}", text(&o));
}

#[test]
fn a_revision_takes_the_branch_whose_tip_it_is() {
    let r = repository(true);
    let o = run_in(r.path(), &["render", "--env", "dev", "--rev", "v3.8.2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let meta = std::fs::read_to_string(r.path().join("rendered/dev/hydrator.metadata")).unwrap();
    assert!(
        meta.contains("branch release/3.8, whose tip is `v3.8.2`"),
        "{meta}"
    );
    let api = std::fs::read_to_string(
        r.path()
            .join("rendered/dev/openim-dev/deployment/openim-api.yaml"),
    )
    .unwrap();
    assert!(api.contains("openim/openim-api:release-3.8-"), "{api}");

    // The release rule reads the version tag on the revision, not on HEAD.
    let o = run_in(r.path(), &["render", "--env", "release", "--rev", "v3.8.2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("rendered release at "), "{}", text(&o));

    // Two branches at it: the error names the revision and both branches, never HEAD.
    let tip = r
        .repo
        .revparse_single("v3.8.2")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    r.repo.branch("hotfix", &tip, false).unwrap();
    let o = run_in(r.path(), &["render", "--env", "dev", "--rev", "v3.8.2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`v3.8.2` (")
            && err.contains("several branches have it as their tip: hotfix, release/3.8"),
        "{err}"
    );
    assert!(!err.contains("HEAD"), "{err}");

    // No branch at it.
    for b in ["hotfix", "release/3.8"] {
        r.repo
            .find_branch(b, git2::BranchType::Local)
            .unwrap()
            .delete()
            .unwrap();
    }
    let o = run_in(r.path(), &["render", "--env", "dev", "--rev", "v3.8.2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("is not a branch, and no branch has it as its tip")
            && err.contains("`v3.8.2`"),
        "{err}"
    );
    assert!(!err.contains("HEAD") && !err.contains("detached"), "{err}");

    // A branch named as the revision is that branch; HEAD is HEAD's branch.
    let o = run_in(r.path(), &["render", "--env", "dev", "--rev", "main"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run_in(r.path(), &["render", "--env", "dev", "--rev", "HEAD"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let meta = std::fs::read_to_string(r.path().join("rendered/dev/hydrator.metadata")).unwrap();
    assert!(meta.contains("main from branch main"), "{meta}");
}

#[test]
fn explain_needs_no_tag_and_names_the_patch_that_removed_a_field() {
    let r = repository(false);
    let o = run_in(
        r.path(),
        &[
            "explain",
            "--env",
            "release",
            "Deployment/openim-api",
            "spec.template.spec.containers[name=openim-api].image",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("openim/openim-api:"), "{}", text(&o));
    assert!(
        stderr(&o).starts_with("note: no image tag for release: HEAD "),
        "{}",
        text(&o)
    );

    // spec.replicas: the autoscaling component's patch removes it (the HPA owns the count).
    for args in [
        vec!["explain", "--env", "release", "--release-version", "3.8.3"],
        vec!["explain", "--env", "release"],
    ] {
        let mut args = args.clone();
        args.extend(["Deployment/openim-api", "spec.replicas"]);
        let o = run_in(r.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = stderr(&o);
        assert!(
            err.contains("Deployment/openim-api has no `spec.replicas`: the patch at")
                && err.contains("component.yaml:15 removes it"),
            "{err}"
        );
        assert!(
            err.contains("15 │         replicas: null"),
            "the line is shown: {err}"
        );
    }
    // In JSON, the message in one piece.
    let o = run_in(
        r.path(),
        &[
            "explain",
            "--env",
            "release",
            "Deployment/openim-api",
            "spec.replicas",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("Deployment/openim-api has no `spec.replicas`: the patch at environments/components/autoscaling/component.yaml:15 removes it"),
        "{}",
        text(&o)
    );

    // A field nobody set is still just missing.
    let o = run_in(
        r.path(),
        &[
            "explain",
            "--env",
            "dev",
            "Deployment/openim-api",
            "spec.paused",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("has no `paused` at `spec`"),
        "{}",
        text(&o)
    );
}

#[test]
fn every_command_works_from_a_subfolder() {
    let r = repository(false);
    let sub = r.path().join("environments/base");
    let o = run_in(&sub, &["tag", "--env", "dev"]);
    assert_eq!(
        (o.status.code(), stdout(&o)),
        (Some(0), "main\n".into()),
        "{}",
        text(&o)
    );

    // Output lands at the root's rendered/, and paths read from the root.
    let o = run_in(&sub, &["render", "--env", "dev"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(stdout(&o).contains("into rendered/dev"), "{}", text(&o));
    assert!(r.path().join("rendered/dev/hydrator.metadata").is_file());
    assert!(!sub.join("rendered").exists());

    let schemas = r.path().join("schemas");
    let o = run_in(
        &schemas,
        &[
            "render",
            "--env",
            "dev",
            "--root",
            "environments",
            "--out",
            "out",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(r.path().join("out/dev/hydrator.metadata").is_file());
    assert!(!schemas.join("out").exists());

    for args in [
        vec!["check", "--env", "dev"],
        vec!["check", "../../rendered/dev"],
        vec!["netmap", "--env", "dev"],
        vec![
            "explain",
            "--env",
            "dev",
            "Deployment/openim-api",
            "metadata.name",
        ],
        vec!["diff", "--env", "dev"],
    ] {
        let o = run_in(&sub, &args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }
    // The files check is given are the shell's, and its findings name them as given.
    std::fs::write(
        r.path().join("environments/base/leaked.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaked\ndata:\n  GITHUB_TOKEN: ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n",
    )
    .unwrap();
    let o = run_in(&schemas, &["check", "../environments/base/leaked.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stdout(&o).contains("environments/base/leaked.yaml:6"),
        "{}",
        text(&o)
    );
}

#[test]
fn without_git_the_root_is_the_nearest_folder_holding_environments() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &manifest().join("tests/fixtures/render/basic/input"),
        &dir.path().join("deploy/environments"),
    );
    let inner = dir.path().join("deploy/environments/dev");
    let o = run_in(&inner, &["render", "--env", "dev", "--tag", "main"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(dir.path().join("deploy/rendered/dev").is_dir());

    // Nowhere to be found: the error names the folder it looked for.
    let empty = tempfile::tempdir().unwrap();
    let o = run_in(empty.path(), &["render", "--all"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let looked = empty.path().canonicalize().unwrap().join("environments");
    assert!(
        stderr(&o).contains(&format!("looked for {}", looked.display())),
        "{}",
        text(&o)
    );
}

/// The Action's render step with its defaults (`environments: all`) on a push to an untagged main, run
/// as the runner runs it (bash, with this build): dev is committed and pushed, test and release get a
/// notice with their reason, and the step passes.
#[test]
fn the_actions_render_step_on_an_untagged_push_renders_what_it_can() {
    let script = action_step("Render, commit and push");
    let r = repository(false);
    let origin = tempfile::tempdir().unwrap();
    Repository::init_bare(origin.path()).unwrap();
    r.repo
        .remote("origin", origin.path().to_str().unwrap())
        .unwrap();
    let runner = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut step = std::process::Command::new("bash");
    step.current_dir(r.path())
        .args(["-c", &script])
        .env("OPENIM_GITOPS", env!("CARGO_BIN_EXE_openim-gitops"))
        .env("ENV_FLAGS", "--all")
        .env("TAG_ARGS", "")
        .env("ROOT", "environments")
        .env("PUSH_REMOTE", "origin")
        .env("RUNNER_TEMP", runner.path())
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .envs(common::FIXED);
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_") || k.starts_with("GIT_") || k == "GH_TOKEN" {
            step.env_remove(k);
        }
    }
    let o = step.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = stdout(&o);
    let head = head_short(&r);
    assert!(
        out.contains(&format!("::notice title=openim-gitops::release not rendered: HEAD {head} has no version tag vX.Y.Z")),
        "{out}"
    );
    assert!(
        out.contains(&format!("::notice title=openim-gitops::test not rendered: no release-candidate tag is reachable from HEAD {head}")),
        "{out}"
    );
    assert!(
        out.contains("committed dev on environments/dev and pushed to origin"),
        "{out}"
    );
    let pushed = Repository::open_bare(origin.path()).unwrap();
    assert!(pushed.find_reference("refs/heads/environments/dev").is_ok());
    assert!(pushed
        .find_reference("refs/heads/environments/test")
        .is_err());
    assert!(pushed
        .find_reference("refs/heads/environments/release")
        .is_err());
}
