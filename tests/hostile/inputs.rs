//! Inputs confined to the repository: every path an environment, component, patch or generator names
//! resolves inside the repository root, never into `.git/`, never through a link out; a path that breaks
//! this is an error at the line naming it (exit 2) and the file is never read.

use crate::support::{assert_json_error, assert_no_plant, both, Target, CLEAN_ENV};

/// The environment file with `extra` appended (line numbers of `extra` start at 8).
fn env_with(extra: &str) -> String {
    format!("{CLEAN_ENV}{extra}")
}

/// Plants `env_yaml` as the pull request's `environments/dev/env.yaml` and runs every command that
/// compiles the working tree: each exits 2, `render` reports `file:line`, nothing leaks, nothing is
/// written.
fn assert_refused(t: &Target, env_yaml: &str, line: u64, message: &str) {
    t.write("environments/dev/env.yaml", env_yaml);
    let render = t.run(&[
        "render", "--env", "dev", "--format", "json", "--out", "rendered",
    ]);
    assert_json_error(&render, "environments/dev/env.yaml", line, message);
    assert_no_plant(&render);
    assert!(!t.path().join("rendered").exists(), "nothing is written");
    for args in [
        &["render", "--env", "dev", "--out", "rendered"][..],
        &["check", "--env", "dev"],
        &["check", "--env", "dev", "--format", "json"],
        &["check", "--env", "dev", "--format", "sarif"],
        &[
            "diff",
            "--env",
            "dev",
            "--base",
            "HEAD",
            "--worktree",
            "--format",
            "markdown",
        ],
        &["diff", "--env", "dev", "--base", "HEAD", "--worktree"],
        &["explain", "--env", "dev", "Deployment/api"],
        &["netmap", "--env", "dev"],
    ] {
        let o = t.run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", both(&o));
        assert_no_plant(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        let at = err.contains(&format!("env.yaml:{line}"))
            || (err.contains("environments/dev/env.yaml")
                && err.contains(&format!("\"line\": {line},")));
        assert!(at, "{args:?}: the error names env.yaml:{line}: {err}");
    }
    assert!(!t.path().join("rendered").exists(), "nothing is written");
}

#[test]
fn generator_reading_proc_self_environ_is_refused() {
    let t = Target::new();
    let env = env_with(
        "configMapGenerator:\n  - name: x\n    files:\n      - environ=/proc/self/environ\n",
    );
    assert_refused(&t, &env, 11, "`/proc/self/environ` is an absolute path");
}

#[test]
fn generator_reading_git_config_is_refused() {
    let t = Target::new();
    let env = env_with(
        "configMapGenerator:\n  - name: x\n    files:\n      - config=../../.git/config\n",
    );
    assert_refused(&t, &env, 11, "`.git` folder");
}

#[test]
fn generator_with_dotdot_past_the_root_is_refused() {
    let t = Target::new();
    let rel = format!(
        "../../../../../../../../../..{}",
        t.outside_file().display()
    );
    let env = env_with(&format!(
        "configMapGenerator:\n  - name: x\n    files:\n      - leak={rel}\n"
    ));
    assert_refused(&t, &env, 11, "leads outside the repository");
}

#[cfg(unix)]
#[test]
fn generator_through_a_symlink_out_is_refused() {
    let t = Target::new();
    t.symlink("environments/dev/leak.txt", &t.outside_file());
    let env = env_with("configMapGenerator:\n  - name: x\n    files:\n      - leak.txt\n");
    assert_refused(&t, &env, 11, "symbolic link");
}

#[cfg(unix)]
#[test]
fn generator_through_a_linked_folder_is_refused() {
    let t = Target::new();
    t.symlink("environments/dev/out", t.outside.path());
    let env = env_with("configMapGenerator:\n  - name: x\n    files:\n      - out/secret.txt\n");
    assert_refused(&t, &env, 11, "symbolic link");
}

#[test]
fn resource_reading_proc_self_environ_is_refused() {
    let t = Target::new();
    let env = env_with("  - /proc/self/environ\n");
    assert_refused(&t, &env, 8, "absolute path");
}

#[test]
fn resource_in_git_dir_is_refused() {
    let t = Target::new();
    let env = env_with("  - ../../.git/config\n");
    assert_refused(&t, &env, 8, "`.git` folder");
}

#[cfg(unix)]
#[test]
fn resource_through_a_symlink_out_is_refused() {
    let t = Target::new();
    t.write(
        &t.outside.path().join("x.yaml").to_string_lossy(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: planted-7f3a9c-outside}\n",
    );
    t.symlink("environments/dev/x.yaml", &t.outside.path().join("x.yaml"));
    let env = env_with("  - x.yaml\n");
    assert_refused(&t, &env, 8, "symbolic link");
}

#[test]
fn resource_with_dotdot_past_the_root_is_refused() {
    let t = Target::new();
    let env = env_with("  - ../../../../../../../../../../etc/passwd\n");
    assert_refused(&t, &env, 8, "leads outside the repository");
}

#[test]
fn patch_path_reading_proc_self_environ_is_refused() {
    let t = Target::new();
    let env = env_with("patches:\n  - path: /proc/self/environ\n");
    assert_refused(&t, &env, 9, "absolute path");
}

#[test]
fn patch_path_in_git_dir_is_refused() {
    let t = Target::new();
    let env = env_with("patches:\n  - path: ../../.git/config\n");
    assert_refused(&t, &env, 9, "`.git` folder");
}

#[cfg(unix)]
#[test]
fn patch_path_through_a_symlink_out_is_refused() {
    let t = Target::new();
    t.symlink("environments/dev/p.yaml", &t.outside_file());
    let env = env_with("patches:\n  - path: p.yaml\n");
    assert_refused(&t, &env, 9, "symbolic link");
}

#[test]
fn component_outside_the_repository_is_refused() {
    let t = Target::new();
    let env = env_with(&format!(
        "components:\n  - {}\n",
        t.outside.path().display()
    ));
    assert_refused(&t, &env, 9, "absolute path");
}

#[test]
fn component_in_git_dir_is_refused() {
    let t = Target::new();
    let env = env_with("components:\n  - ../../.git\n");
    assert_refused(&t, &env, 9, "`.git` folder");
}

#[cfg(unix)]
#[test]
fn component_through_a_symlink_out_is_refused() {
    let t = Target::new();
    std::fs::write(
        t.outside.path().join("component.yaml"),
        "apiVersion: gitops.openim.io/v1\nkind: Component\nmetadata: {name: planted-7f3a9c-outside}\n",
    )
    .unwrap();
    t.symlink("environments/comp", t.outside.path());
    let env = env_with("components:\n  - ../comp\n");
    assert_refused(&t, &env, 9, "symbolic link");
}

/// A component inside the repository may not name a file outside it either: the boundary is the
/// repository's, whichever file names the path.
#[test]
fn component_naming_a_file_outside_is_refused_at_its_line() {
    let t = Target::new();
    t.write(
        "environments/comp/component.yaml",
        "apiVersion: gitops.openim.io/v1\nkind: Component\nmetadata:\n  name: comp\nconfigMapGenerator:\n  - name: x\n    files:\n      - e=/proc/self/environ\n",
    );
    t.write(
        "environments/dev/env.yaml",
        &env_with("components:\n  - ../comp\n"),
    );
    let o = t.run(&[
        "render", "--env", "dev", "--format", "json", "--out", "rendered",
    ]);
    assert_json_error(&o, "environments/comp/component.yaml", 8, "absolute path");
    assert_no_plant(&o);
    assert!(!t.path().join("rendered").exists());
}

/// The environment file itself, found by walking `--root`, may not be a link out.
#[cfg(unix)]
#[test]
fn environment_file_linked_out_is_refused() {
    let t = Target::new();
    std::fs::remove_file(t.path().join("environments/dev/env.yaml")).unwrap();
    t.symlink("environments/dev/env.yaml", &t.outside_file());
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert_no_plant(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("symbolic link"));
}

/// The same rules hold for a revision read from git objects: a committed hostile env.yaml is refused
/// at its line by `diff --base`.
#[test]
fn committed_hostile_paths_are_refused_from_git_objects() {
    let t = Target::new();
    t.write(
        "environments/dev/env.yaml",
        &env_with(
            "configMapGenerator:\n  - name: x\n    files:\n      - config=../../.git/config\n",
        ),
    );
    t.commit("hostile");
    t.write("environments/dev/env.yaml", CLEAN_ENV);
    let o = t.run(&[
        "diff",
        "--env",
        "dev",
        "--base",
        "HEAD",
        "--worktree",
        "--format",
        "markdown",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert_no_plant(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("env.yaml:11"), "{err}");
    assert!(err.contains("`.git` folder"), "{err}");
}

/// Paths that stay inside the repository still work, links included.
#[cfg(unix)]
#[test]
fn paths_inside_the_repository_still_load() {
    let t = Target::new();
    t.write("environments/shared/app.conf", "level=info\n");
    t.symlink(
        "environments/dev/app.conf",
        &t.path().join("environments/shared/app.conf"),
    );
    let env = env_with(
        "configMapGenerator:\n  - name: conf\n    files:\n      - app.conf\n      - other=../shared/app.conf\n",
    );
    t.write("environments/dev/env.yaml", &env);
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let rendered = crate::common::read_tree(&t.path().join("rendered"));
    let cm = rendered
        .iter()
        .find(|(k, _)| k.contains("configmap"))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    assert!(cm.contains("level=info"), "{rendered:?}");
}
