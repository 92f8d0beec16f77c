//! A fake release of openim-gitops, laid out as .github/workflows/release.yml publishes one, served by
//! `python3 -m http.server` on 127.0.0.1: for scripts/install.sh and the `-release` pre-commit hooks.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A loopback HTTP server over a folder (a port the system picks), stopped when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        // "Serving HTTP on 127.0.0.1 port 41045 (http://127.0.0.1:41045/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the server says where it listens");
        let port: u16 = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The target scripts/install.sh picks on this machine, if it has a release binary.
pub fn host_target() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => Some("aarch64-unknown-linux-musl"),
        ("macos", "aarch64") => Some("aarch64-apple-darwin"),
        ("macos", "x86_64") => Some("x86_64-apple-darwin"),
        _ => None,
    }
}

/// `<root>/openim-gitops-v<version>/`: `openim-gitops-<version>-<target>.tar.gz` holding `program` as
/// `openim-gitops-<version>-<target>/openim-gitops`, and a SHA256SUMS that lists it (with `checksum`
/// instead of its real one when given) after another target's line. Returns the real checksum.
pub fn publish(
    root: &Path,
    version: &str,
    target: &str,
    program: &[u8],
    checksum: Option<&str>,
) -> String {
    let dir = root.join(format!("openim-gitops-v{version}"));
    let top = format!("openim-gitops-{version}-{target}");
    let stage = root.join(format!("stage-{version}"));
    std::fs::create_dir_all(stage.join(&top)).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(stage.join(&top).join("openim-gitops"), program).unwrap();
    let archive = format!("{top}.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(dir.join(&archive))
        .arg("-C")
        .arg(&stage)
        .arg(&top)
        .status()
        .unwrap();
    assert!(status.success());
    let real = sha256_hex(&std::fs::read(dir.join(&archive)).unwrap());
    let sums = format!(
        "{}  openim-gitops-{version}-riscv64gc-unknown-linux-musl.tar.gz\n{}  {archive}\n",
        "0".repeat(64),
        checksum.unwrap_or(&real)
    );
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
    real
}
