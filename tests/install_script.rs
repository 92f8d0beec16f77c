//! `scripts/install.sh`, the installer the GitHub Action runs, against a fake release served by
//! `python3 -m http.server` on 127.0.0.1 (a port the system picks): it downloads the archive for the
//! target, checks it against the release's SHA256SUMS, installs it into the cache and prints the folder;
//! the next run finds it in the cache without the server; a wrong checksum installs nothing; a missing
//! release answers exit 3 (build from source); a tampered cache entry is downloaded again.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::release::{publish, Server};

const TARGET: &str = "x86_64-unknown-linux-musl";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh")
}

fn release(root: &Path, version: &str, says: &str, checksum: Option<&str>) -> String {
    let program = format!("#!/bin/sh\necho '{says}'\n");
    publish(root, version, TARGET, program.as_bytes(), checksum)
}

fn install(base_url: &str, cache: &Path, version: &str) -> Output {
    Command::new("bash")
        .arg(script())
        .args([
            "--version",
            version,
            "--target",
            TARGET,
            "--base-url",
            base_url,
        ])
        .arg("--cache")
        .arg(cache)
        .env_remove("RUNNER_TOOL_CACHE")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_installed(folder: &str) -> String {
    let out = Command::new(Path::new(folder.trim()).join("openim-gitops"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn downloads_checks_caches_and_refuses_a_bad_checksum() {
    let served = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let sum = release(served.path(), "1.2.3", "fake 1.2.3", None);
    release(served.path(), "6.6.6", "tampered", Some(&"ab".repeat(32)));
    let server = Server::start(served.path());

    // Download and checksum: the folder is printed, alone, on stdout.
    let out = install(&server.url, cache.path(), "1.2.3");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let folder = String::from_utf8(out.stdout.clone()).unwrap();
    let expected = cache.path().join(format!("openim-gitops/1.2.3/{TARGET}"));
    assert_eq!(folder.trim(), expected.to_str().unwrap());
    assert_eq!(run_installed(&folder), "fake 1.2.3");
    assert!(
        stderr(&out).contains(&format!("checksum {sum}")),
        "{}",
        stderr(&out)
    );

    // A bad checksum: refused, exit 1, nothing in the cache.
    let out = install(&server.url, cache.path(), "6.6.6");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("checksum mismatch"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    assert!(!cache
        .path()
        .join("openim-gitops/6.6.6")
        .join(TARGET)
        .exists());

    // No such release: exit 3, so the caller builds from source.
    let out = install(&server.url, cache.path(), "9.9.9");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no release asset"),
        "{}",
        stderr(&out)
    );

    // A cache hit needs no server at all.
    drop(server);
    let out = install("http://127.0.0.1:9", cache.path(), "1.2.3");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("from the cache"), "{}", stderr(&out));
    assert_eq!(
        run_installed(&String::from_utf8(out.stdout).unwrap()),
        "fake 1.2.3"
    );

    // A cached binary changed after it was installed is not trusted: it is downloaded again (and here
    // the server is gone, so the install fails rather than run the changed binary).
    std::fs::write(expected.join("openim-gitops"), "#!/bin/sh\necho changed\n").unwrap();
    let out = install("http://127.0.0.1:9", cache.path(), "1.2.3");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no longer matches"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    let server = Server::start(served.path());
    let out = install(&server.url, cache.path(), "1.2.3");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        run_installed(&String::from_utf8(out.stdout).unwrap()),
        "fake 1.2.3"
    );
}

#[test]
fn refuses_what_it_should_not_fetch() {
    let cache = tempfile::tempdir().unwrap();
    for (url, version, why) in [
        ("http://example.com/releases", "1.2.3", "must be https"),
        ("https://example.com/releases", "latest", "must be X.Y.Z"),
        ("https://example.com/releases", "1.2", "must be X.Y.Z"),
    ] {
        let out = install(url, cache.path(), version);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{url} {version}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
    let out = Command::new("bash")
        .arg(script())
        .args([
            "--version",
            "1.2.3",
            "--target",
            "riscv64gc-unknown-linux-gnu",
        ])
        .args(["--base-url", "https://example.com/releases"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

/// The release workflow, the installer and `cargo binstall` (Cargo.toml) name the tag, the archive and
/// the folder in it the same way.
#[test]
fn the_release_names_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let (cargo, workflow, installer) = (
        read("Cargo.toml"),
        read(".github/workflows/release.yml"),
        read("scripts/install.sh"),
    );
    // The tag.
    assert!(workflow.contains("tags: [\"openim-gitops-v*\"]"));
    assert!(workflow.contains("version=\"${TAG#openim-gitops-v}\""));
    assert!(installer.contains("release=\"$base_url/openim-gitops-v$version\""));
    assert!(cargo.contains("/releases/download/openim-gitops-v{ version }/"));
    // The archive and the folder it holds.
    assert!(workflow.contains("name=\"openim-gitops-$version-$TARGET\""));
    assert!(workflow.contains("tar -czf \"dist/$name.tar.gz\" -C dist \"$name\""));
    assert!(installer.contains("archive=\"openim-gitops-$version-$target.tar.gz\""));
    assert!(installer.contains("unpacked=\"$work/x/openim-gitops-$version-$target/openim-gitops\""));
    assert!(cargo.contains("{ name }-{ version }-{ target }.tar.gz\""));
    assert!(cargo.contains("bin-dir = \"{ name }-{ version }-{ target }/{ bin }{ binary-ext }\""));
    assert!(cargo.contains("repository = \"https://github.com/openimsdk/openim-gitops\""));
    // The checksums file, and every target the installer knows is built.
    assert!(workflow.contains("sha256sum -- *.tar.gz > SHA256SUMS"));
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
    ] {
        assert!(workflow.contains(&format!("target: {target},")), "{target}");
        assert!(installer.contains(&format!("target={target}")), "{target}");
    }
}
