//! The README's quick start, run as written: its main command (render every environment, then check) is
//! parsed out of the "Quick start" code block and run with the built binary in a temporary repository
//! holding a copy of `environments/`, `policies/` and `schemas/`. `cargo run [cargo flags] -- ARGS`,
//! `./target/<profile>/openim-gitops ARGS` and `openim-gitops ARGS` all become the built binary with ARGS;
//! anything else fails the test, so the README cannot drift into a command nobody runs.
//!
//! And every command line of the block must appear in `.ci/run` as written, so CI runs them all.

mod common;

use std::path::Path;
use std::process::Command;

use common::{commit_all, copy_dir, Repo};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The command lines of the first `sh` block under `## Quick start` (comments and blank lines dropped).
fn quick_start(readme: &str) -> Vec<String> {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Quick start"))
        .expect("README.md has a `## Quick start` section");
    let start = section
        .find("```sh\n")
        .expect("the quick start has a ```sh block")
        + "```sh\n".len();
    let end = section[start..]
        .find("```")
        .expect("the ```sh block is closed")
        + start;
    section[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Splits a command on whitespace, keeping single- or double-quoted words whole. Anything a plain
/// `&&` chain of simple commands would not hold (pipes, redirections, `;`, `$`) is refused.
fn words(command: &str) -> Vec<String> {
    for bad in ['|', '>', '<', ';', '$', '`', '(', ')'] {
        assert!(
            !command.contains(bad),
            "`{command}`: this test runs plain commands, not `{bad}`"
        );
    }
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in command.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    assert!(quote.is_none(), "`{command}`: unclosed quote");
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The arguments of `openim-gitops` in one simple command, or a panic naming what the test cannot run.
fn tool_args(command: &str) -> Vec<String> {
    let w = words(command);
    match w.first().map(String::as_str) {
        Some("cargo") => {
            assert_eq!(w.get(1).map(String::as_str), Some("run"), "`{command}`");
            let dash = w
                .iter()
                .position(|x| x == "--")
                .unwrap_or_else(|| panic!("`{command}`: cargo run without `--`"));
            for flag in &w[2..dash] {
                assert!(
                    ["--release", "--locked", "--quiet", "-q", "--frozen", "--offline"]
                        .contains(&flag.as_str()),
                    "`{command}`: the test does not know the cargo flag `{flag}`"
                );
            }
            w[dash + 1..].to_vec()
        }
        Some("openim-gitops") => w[1..].to_vec(),
        Some(bin) if bin.trim_start_matches("./").starts_with("target/")
            && bin.ends_with("/openim-gitops") =>
        {
            w[1..].to_vec()
        }
        _ => panic!(
            "`{command}`: the test runs `cargo run -- ...`, `./target/*/openim-gitops ...` and `openim-gitops ...` only"
        ),
    }
}

#[test]
fn the_quick_start_main_command_works() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = quick_start(&readme);
    let main = lines
        .iter()
        .find(|l| l.contains(" render ") && l.contains(" check"))
        .unwrap_or_else(|| panic!("no render-and-check line in the quick start: {lines:?}"));
    let commands: Vec<Vec<String>> = main.split("&&").map(tool_args).collect();
    let verbs: Vec<&str> = commands
        .iter()
        .map(|c| c.first().map(String::as_str).unwrap_or(""))
        .collect();
    assert_eq!(verbs, ["render", "check"], "`{main}`");

    // A fresh clone: the three folders, committed on `main` (the dev rule tags images with the branch).
    let dir = tempfile::tempdir().unwrap();
    for folder in ["environments", "policies", "schemas"] {
        copy_dir(&repo().join(folder), &dir.path().join(folder));
    }
    let git = git2::Repository::init_opts(
        dir.path(),
        git2::RepositoryInitOptions::new().initial_head("main"),
    )
    .unwrap();
    let r = Repo { dir, repo: git };
    commit_all(&r, "quick start", 1_600_000_000);

    let mut outputs = Vec::new();
    for args in &commands {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_openim-gitops"));
        cmd.current_dir(r.path()).args(args).env("NO_COLOR", "1");
        for var in openim_gitops::tags::CI_VARIABLES {
            cmd.env_remove(var);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "`{}`:\n{text}", args.join(" "));
        outputs.push(text);
    }

    // Every environment was rendered into rendered/<env>/ and checked.
    let envs: Vec<String> = std::fs::read_dir(r.path().join("environments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("env.yaml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(envs.len() >= 3, "{envs:?}");
    for env in &envs {
        let meta = r
            .path()
            .join("rendered")
            .join(env)
            .join("hydrator.metadata");
        assert!(meta.is_file(), "{} is missing", meta.display());
        assert!(
            outputs[0].contains(&format!("rendered {env} at ")),
            "{}",
            outputs[0]
        );
        assert!(
            outputs[1].contains(&format!("{env}: no findings in ")),
            "{}",
            outputs[1]
        );
    }
}

#[test]
fn ci_runs_every_quick_start_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let lines = quick_start(&readme);
    assert!(lines.len() >= 2, "{lines:?}");
    for line in lines {
        assert!(
            ci.lines().any(|l| l.trim() == line),
            ".ci/run does not run the README's `{line}`"
        );
    }
}

#[test]
fn the_parser_refuses_what_it_cannot_run() {
    assert_eq!(
        tool_args("cargo run --release --locked -- render --all --rc 0"),
        ["render", "--all", "--rc", "0"]
    );
    assert_eq!(
        tool_args("./target/release/openim-gitops check --release-version '3.8.3'"),
        ["check", "--release-version", "3.8.3"]
    );
    for bad in [
        "cargo build --release",
        "cargo run --features x -- render",
        "./target/release/openim-gitops check | tee out",
        "make render",
    ] {
        assert!(
            std::panic::catch_unwind(|| tool_args(bad)).is_err(),
            "`{bad}` should be refused"
        );
    }
}
