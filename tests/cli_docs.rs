//! The documentation generated from the clap definition: every command's `--help` ends with examples of
//! that command, `completions` prints a script each shell accepts, and `man` prints roff pages.

use std::process::Command;

use clap::CommandFactory;
use openim_gitops::cli::Cli;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_openim-gitops"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn commands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

#[test]
fn every_command_has_examples_in_its_help() {
    let names = commands();
    for expected in ["render", "check", "diff", "netmap", "completions", "man"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    for name in &names {
        let (code, help, err) = run(&[name, "--help"]);
        assert_eq!(code, Some(0), "{name}: {err}");
        let examples = help
            .split_once("Examples:\n")
            .unwrap_or_else(|| panic!("`{name} --help` has no examples:\n{help}"))
            .1;
        let lines: Vec<&str> = examples
            .lines()
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert!(!lines.is_empty(), "{name}: {help}");
        // Deeper-indented lines continue an example that clap wrapped.
        for l in lines.iter().filter(|l| !l.starts_with("   ")) {
            assert!(
                l.trim_start().starts_with(&format!("openim-gitops {name}")),
                "`{name} --help`: the example `{l}` is not of this command"
            );
        }
    }
    let (_, help, _) = run(&["--help"]);
    assert!(help.contains("Examples:\n  openim-gitops "), "{help}");
}

#[test]
fn completions_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, script, err) = run(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}: {err}");
        for name in commands().iter().filter(|n| *n != "help") {
            assert!(script.contains(name.as_str()), "{shell}: no `{name}`");
        }
        assert!(script.contains("format"), "{shell}: no --format");
    }
    let (_, bash, _) = run(&["completions", "bash"]);
    assert!(bash.contains("complete -F _openim__gitops"), "{bash}");
    let (_, zsh, _) = run(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef openim-gitops"), "{zsh}");
    // The values of --format, netmap's included.
    assert!(zsh.contains("mermaid") && zsh.contains("dot") && zsh.contains("sarif"));
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, Some(2), "{err}");
}

/// Runs `bash -n` on the bash script when bash is there: the script must at least parse.
#[test]
fn the_bash_completion_parses() {
    let Ok(probe) = Command::new("bash").arg("--version").output() else {
        eprintln!("skipped: no bash");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openim-gitops.bash");
    std::fs::write(&path, run(&["completions", "bash"]).1).unwrap();
    let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn man_pages_for_the_program_and_each_command() {
    let (code, page, err) = run(&["man"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        page.contains(".TH openim-gitops 1"),
        "{}",
        &page[..page.len().min(300)]
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "{section}");
    }
    for name in ["check", "netmap", "diff"] {
        let (code, page, err) = run(&["man", name]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            page.contains(&format!(
                ".TH openim-gitops-{name} 1  \"openim-gitops-{name} {}\"",
                env!("CARGO_PKG_VERSION")
            )),
            "{}",
            &page[..page.len().min(300)]
        );
        assert!(
            page.contains(&format!("\\fBopenim\\-gitops {name}\\fR")),
            "{name}"
        );
        assert!(page.contains("Examples:"), "{name}: the help's examples");
    }
    let (code, _, err) = run(&["man", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("there is no command `nope`"), "{err}");
}
