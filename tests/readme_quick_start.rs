//! The README's quick start, run as written: its main command (render every environment, then check) is
//! parsed out of the "Quick start" code block and run with the built binary in a temporary repository
//! holding a copy of `environments/`, `policies/` and `schemas/`. `cargo run [cargo flags] -- ARGS`,
//! `./target/<profile>/openim-gitops ARGS` and `openim-gitops ARGS` all become the built binary with ARGS;
//! anything else fails the test, so the README cannot drift into a command nobody runs.
//!
//! And every command line of the block must appear in `.ci/run` as written, so CI runs them all.
//!
//! Then every `openim-gitops` example the README and the `--help` texts give (the README's code spans
//! and blocks, every command's `Examples:`) runs as written in a copy of the repository with a real
//! history: `v3.8.2` with a maintenance branch at it, then `v3.8.3-rc.2` and `v3.8.3` on `main`, an
//! `origin` to push to, and the files the examples name. A pipe or a redirection hands the output to
//! another program or a file: the test runs the `openim-gitops` part and checks its exit code.

mod common;

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use common::{bin, commit_all, repository_copy, text, Repo, FIXED};
use openim_gitops::cli::Cli;

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
    let r = repository_copy();
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

/// The part of an example line that runs `openim-gitops`: up to the first pipe or redirection outside
/// quotes (what follows feeds another program or names a file).
fn tool_part(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '|' | '>') => return line[..i].trim(),
            _ => {}
        }
    }
    line.trim()
}

/// Every `openim-gitops` example of the README: the lines of its `sh` blocks that run the tool, and
/// its code spans that start with `openim-gitops ` (placeholders such as `<command>` aside).
fn readme_examples(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if in_sh {
            let line = line.split(" #").next().unwrap_or("").trim();
            if line.contains("openim-gitops ") && !line.starts_with("cargo test") {
                let runs_tool = line.starts_with("openim-gitops ")
                    || line.starts_with("cargo run ")
                    || line.starts_with("./target/");
                if runs_tool {
                    out.push(line.to_string());
                }
            }
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && span.starts_with("openim-gitops ") && !span.contains('<') {
                out.push(span.to_string());
            }
        }
    }
    out
}

/// Every command's `Examples:` lines, from the same clap definitions `--help` prints.
fn help_examples() -> Vec<String> {
    let root = Cli::command();
    let mut texts = vec![root.get_after_help().map(|h| h.to_string())];
    texts.extend(
        root.get_subcommands()
            .map(|c| c.get_after_help().map(|h| h.to_string())),
    );
    texts
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| l.starts_with("openim-gitops "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The repository the examples run in (see the module doc), and the bare `origin`.
fn example_repository() -> (Repo, tempfile::TempDir) {
    let r = repository_copy();
    let v382 = commit_all(&r, "release 3.8.2", 1_600_000_000);
    std::fs::write(r.path().join("CHANGELOG.md"), "3.8.3\n").unwrap();
    // The files the examples name besides the environments.
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: tools\ndata:\n  LOG_LEVEL: info\n";
    std::fs::write(r.path().join("other.yaml"), manifest).unwrap();
    std::fs::create_dir_all(r.path().join("third-party")).unwrap();
    std::fs::write(r.path().join("third-party/manifests.yaml"), manifest).unwrap();
    let v383 = commit_all(&r, "release 3.8.3", 1_600_000_100);
    {
        let tag = |name: &str, id: git2::Oid| {
            let object = r.repo.find_object(id, None).unwrap();
            r.repo.tag_lightweight(name, &object, false).unwrap();
        };
        tag("v3.8.2", v382);
        tag("v3.8.3-rc.2", v383);
        tag("v3.8.3", v383);
        let old = r.repo.find_commit(v382).unwrap();
        r.repo.branch("release-3.8", &old, false).unwrap();
    }
    let origin = tempfile::tempdir().unwrap();
    git2::Repository::init_bare(origin.path()).unwrap();
    r.repo
        .remote("origin", origin.path().to_str().unwrap())
        .unwrap();
    r.repo
        .reference("refs/remotes/origin/main", v383, true, "as fetched")
        .unwrap();
    (r, origin)
}

#[test]
fn every_documented_example_runs_as_documented() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut examples: Vec<(&str, String)> = readme_examples(&readme)
        .into_iter()
        .map(|l| ("README.md", l))
        .collect();
    examples.extend(help_examples().into_iter().map(|l| ("--help", l)));
    assert!(examples.len() >= 30, "{examples:#?}");
    for expected in [
        "openim-gitops render --env dev --rev v3.8.2",
        "openim-gitops explain --env release Deployment/openim-rpc-msg spec.replicas",
        "openim-gitops tag --env dev",
        "openim-gitops man | man -l -",
    ] {
        assert!(
            examples.iter().any(|(_, l)| l == expected),
            "`{expected}` not found among {examples:#?}"
        );
    }

    let (r, _origin) = example_repository();
    // Where a pipeline would already have rendered: promote reads test's and dev's branches.
    let home = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let run = |args: &[String]| {
        let mut c = bin(r.path(), home.path());
        c.envs(FIXED)
            .env("OPENIM_GITOPS_TODAY", "2026-06-15")
            .args(args);
        c.output().unwrap()
    };
    for setup in [
        ["render", "--env", "test", "--commit"],
        ["render", "--env", "dev", "--commit"],
    ] {
        let args: Vec<String> = setup.iter().map(|s| s.to_string()).collect();
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }

    let mut failures = Vec::new();
    for (source, line) in &examples {
        for command in tool_part(line).split("&&") {
            let mut args = tool_args(command.trim());
            // An absolute scratch folder of the example's becomes one of the test's.
            for a in &mut args {
                if let Some(rest) = a.strip_prefix("/tmp/") {
                    *a = scratch.path().join(rest).to_string_lossy().into_owned();
                }
            }
            let o = run(&args);
            // Every example documents a success, 0 (`render ... --exit-code` too: the quick start
            // line before it rendered the same dev tree, so nothing changes).
            if o.status.code() != Some(0) {
                failures.push(format!(
                    "{source}: `{line}` exits {:?}, documented 0\n{}",
                    o.status.code(),
                    text(&o)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
