//! The command line as users meet it: a snapshot of every command's `--help` (tests/help/<command>.txt,
//! `UPDATE_SNAPSHOTS=1` rewrites them), each command listing only the formats and flags it takes, and
//! `--version` that cannot be mistaken for the release version.

mod common;

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use common::assert_snapshot;
use openim_gitops::cli::Cli;

fn run(args: &[&str], cwd: &Path) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openim-gitops"));
    cmd.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    for var in openim_gitops::tags::CI_VARIABLES {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("run openim-gitops");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn commands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

/// The help text of a command (`None`: the program's own).
fn help(command: Option<&str>) -> String {
    let mut args: Vec<&str> = command.into_iter().collect();
    args.push("--help");
    let (code, out, err) = run(&args, repo());
    assert_eq!(code, Some(0), "{args:?}: {err}");
    out
}

#[test]
fn every_help_matches_its_snapshot() {
    let dir = repo().join("tests/help");
    let mut expected: Vec<String> = vec!["openim-gitops.txt".into()];
    assert_snapshot(&dir.join("openim-gitops.txt"), &help(None));
    for name in commands() {
        let file = format!("{name}.txt");
        assert_snapshot(&dir.join(&file), &help(Some(&name)));
        expected.push(file);
    }
    // No snapshot of a command that no longer exists.
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/help")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    expected.sort();
    assert_eq!(present, expected, "stale files in tests/help");
}

/// The `--format` values a command's help lists, in order.
fn formats(help: &str) -> Vec<String> {
    let Some(at) = help.find("--format <FORMAT>") else {
        return Vec::new();
    };
    help[at..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.trim_start().starts_with("Possible values:"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| {
            let item = l.trim_start().trim_start_matches("- ");
            item.split(':').next().unwrap_or(item).trim().to_string()
        })
        .collect()
}

#[test]
fn each_command_lists_only_its_own_formats_and_flags() {
    let want: &[(&str, &[&str])] = &[
        ("render", &["human", "json"]),
        ("explain", &["human", "json"]),
        ("tag", &["human", "json"]),
        ("diff", &["human", "json", "markdown"]),
        ("promote", &["human", "json", "markdown"]),
        ("check", &["human", "json", "sarif", "github"]),
        ("netmap", &["human", "json", "mermaid", "dot"]),
        ("rule", &["human", "json"]),
        ("completions", &[]),
        ("man", &[]),
    ];
    let names = commands();
    for (name, formats_of) in want {
        assert!(names.iter().any(|n| n == name), "no command {name}");
        let text = help(Some(name));
        assert_eq!(formats(&text), *formats_of, "`{name} --help`:\n{text}");
        let tags = ["render", "explain", "tag", "diff", "check"].contains(name);
        for flag in ["--tag <TAG>", "--release-version <X.Y.Z>", "--rc <N>"] {
            // promote takes the version or candidate number of its target's rule, never a free tag.
            let wanted = tags || (*name == "promote" && flag != "--tag <TAG>");
            assert_eq!(
                text.contains(flag),
                wanted,
                "`{name} --help` and {flag}:\n{text}"
            );
        }
        // The old spelling is read but never offered.
        assert!(!text.contains("--version <"), "{name}: {text}");
        // The one true global is under its own heading.
        assert!(
            text.contains("Global options:\n      --root <DIR>"),
            "{name}: {text}"
        );
    }
    assert!(
        names
            .iter()
            .all(|n| n == "help" || want.iter().any(|(w, _)| w == n)),
        "{names:?}"
    );
}

#[test]
fn version_before_a_command_is_a_usage_error() {
    let (code, out, err) = run(
        &[
            "--version",
            "3.8.3",
            "render",
            "--env",
            "release",
            "--out",
            "never",
        ],
        repo(),
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("3.8.3"), "{err}");
    assert!(!repo().join("never").exists());

    let (code, out, err) = run(&["--version", "render", "--all"], repo());
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("--release-version"), "{err}");

    for flag in ["--version", "-V"] {
        let (code, out, err) = run(&[flag], repo());
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(
            out,
            format!("openim-gitops {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn the_old_version_flag_after_a_command_still_works_and_warns() {
    let (code, new, err) = run(
        &["tag", "--env", "release", "--release-version", "3.8.3"],
        repo(),
    );
    assert_eq!(code, Some(0), "{err}");
    // Standard output is the tag alone; the reason is on standard error.
    assert_eq!(new, "release-v3.8.3\n");
    assert_eq!(
        err,
        "release: release-v3.8.3 from the --release-version flag (3.8.3)\n"
    );

    let (code, old, err) = run(&["tag", "--env", "release", "--version", "3.8.3"], repo());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(old, new);
    assert!(
        err.starts_with("warning: --version 3.8.3 after a command is the old spelling of --release-version 3.8.3"),
        "{err}"
    );

    // Both spellings at once: which one is meant is unclear.
    let (code, _, err) = run(
        &[
            "tag",
            "--env",
            "release",
            "--version",
            "3.8.3",
            "--release-version",
            "3.8.4",
        ],
        repo(),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}
