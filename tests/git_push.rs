//! `render --commit --push` against real remotes: a bare repository on disk (file://), `git daemon` on
//! loopback, and `git http-backend` behind a small HTTP server with basic authentication, all started by
//! the tests. Tests that need the git binary skip (saying so) when it is missing.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use git2::{Oid, Repository, Signature, Time};
use openim_gitops::git::commit::{Identity, Place, Provenance};
use openim_gitops::git::push::{commit_and_push, PushSettings, Pushed};
use openim_gitops::git::GitEnv;
use openim_gitops::load::commit::BranchPath;
use openim_gitops::render::{Metadata, Tree};

const BRANCH: &str = "environments/dev";

fn fixed_env() -> GitEnv {
    FIXED
        .iter()
        .fold(GitEnv::default(), |env, (k, v)| env.with(k, v))
}

fn tree(replicas: u32) -> Tree {
    let mut files = BTreeMap::new();
    files.insert(
        "openim-dev/deployment/api.yaml".to_string(),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {replicas}\n").into_bytes(),
    );
    files.insert("hydrator.metadata".to_string(), b"{}\n".to_vec());
    Tree { files }
}

fn meta() -> Metadata {
    Metadata {
        environment: "dev".to_string(),
        source_commit: Some("0123456789abcdef0123456789abcdef01234567".to_string()),
        ..Metadata::default()
    }
}

fn bare() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(dir.path().join("remote.git")).unwrap();
    (dir, repo)
}

/// Push settings for the bare repository at `path`, by its file:// URL.
fn file_settings(path: &Path) -> PushSettings {
    PushSettings::new(&format!("file://{}", path.display()), &GitEnv::default())
}

fn remote_tip(remote: &Repository) -> Option<Oid> {
    tip(remote, BRANCH)
}

fn push(r: &Repo, replicas: u32, settings: &PushSettings) -> openim_gitops::error::Result<Pushed> {
    let identity = Identity::resolve(&r.repo, &fixed_env()).unwrap();
    let m = meta();
    commit_and_push(
        &r.repo,
        BRANCH,
        &tree(replicas),
        &Provenance::new(&m),
        &identity,
        settings,
    )
}

fn has_git() -> bool {
    let ok = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: no git binary on PATH to run a git server");
    }
    ok
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn push_to_a_bare_remote_and_again_unchanged() {
    let r = source_repo();
    let (dir, remote) = bare();
    let url = format!("file://{}", dir.path().join("remote.git").display());
    r.repo.remote("origin", &url).unwrap();

    let o = run(
        r.path(),
        &[
            "render", "--env", "dev", "--tag", "t1", "--commit", "--push",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("pushed to origin"),
        "{}",
        text(&o)
    );
    let pushed = remote_tip(&remote).expect("the remote has the branch");
    assert_eq!(tip(&r.repo, BRANCH), Some(pushed));
    // The tracking branch follows, as after `git push`.
    let tracking = r
        .repo
        .find_reference("refs/remotes/origin/environments/dev")
        .unwrap();
    assert_eq!(tracking.target(), Some(pushed));

    let o = run(
        r.path(),
        &[
            "render", "--env", "dev", "--tag", "t1", "--commit", "--push",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("nothing committed or pushed"),
        "{}",
        text(&o)
    );
    assert_eq!(remote_tip(&remote), Some(pushed));

    // A fresh clone (no local branch, as in CI) builds on the remote tip instead of a new root.
    let clone = source_repo();
    clone.repo.remote("origin", &url).unwrap();
    let o = run(
        clone.path(),
        &[
            "render", "--env", "dev", "--tag", "t2", "--commit", "--push", "origin",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let second = remote_tip(&remote).unwrap();
    assert_eq!(
        remote.find_commit(second).unwrap().parent_id(0).unwrap(),
        pushed
    );
}

#[test]
fn a_remote_that_moved_gets_the_commit_rebuilt_on_its_tip() {
    let r = source_repo();
    let (dir, remote) = bare();
    let remote_path = dir.path().join("remote.git");
    let mut settings = file_settings(&remote_path);
    assert!(matches!(
        push(&r, 1, &settings).unwrap(),
        Pushed::Created {
            rebuilt: 0,
            parent: None,
            ..
        }
    ));
    let first = remote_tip(&remote).unwrap();

    // Another pipeline pushes between our fetch and our push, the first two times.
    let competitor = remote_path.clone();
    settings.before_push = Some(Box::new(move |attempt| {
        if attempt < 2 {
            let remote = Repository::open_bare(&competitor).unwrap();
            let parent = remote.find_commit(remote_tip(&remote).unwrap()).unwrap();
            let mut tb = remote.treebuilder(None).unwrap();
            let blob = remote
                .blob(format!("other pipeline {attempt}\n").as_bytes())
                .unwrap();
            tb.insert("other.yaml", blob, 0o100644).unwrap();
            let tree = remote.find_tree(tb.write().unwrap()).unwrap();
            let sig =
                Signature::new("Other", "o@example.com", &Time::new(1_700_000_500, 0)).unwrap();
            remote
                .commit(
                    Some(&format!("refs/heads/{BRANCH}")),
                    &sig,
                    &sig,
                    "other",
                    &tree,
                    &[&parent],
                )
                .unwrap();
        }
    }));
    let done = push(&r, 2, &settings).unwrap();
    let Pushed::Created {
        commit,
        parent,
        rebuilt,
    } = done
    else {
        panic!("{done:?}");
    };
    assert_eq!(rebuilt, 2);
    let now = remote_tip(&remote).unwrap();
    assert_eq!(now, commit);
    assert_eq!(
        tip(&r.repo, BRANCH),
        Some(commit),
        "the local branch ends at what was pushed"
    );
    // Built on the competitor's second commit, which sits on its first, which sits on ours: nothing lost.
    let parent = parent.unwrap();
    assert_eq!(
        remote.find_commit(commit).unwrap().parent_id(0).unwrap(),
        parent
    );
    let grand = remote.find_commit(parent).unwrap().parent_id(0).unwrap();
    assert_eq!(
        remote.find_commit(grand).unwrap().parent_id(0).unwrap(),
        first
    );
    // Same tree as our render: the competitor's file is gone, our replicas are there.
    let files = files_of(&remote, commit);
    assert!(!files.contains_key("other.yaml"));
    assert!(
        String::from_utf8_lossy(&files["openim-dev/deployment/api.yaml"]).contains("replicas: 2")
    );

    // With no retries left, the push fails and the local branch is put back.
    settings.retries = 0;
    let before = tip(&r.repo, BRANCH);
    let competitor = remote_path.clone();
    settings.before_push = Some(Box::new(move |_| {
        let remote = Repository::open_bare(&competitor).unwrap();
        let parent = remote.find_commit(remote_tip(&remote).unwrap()).unwrap();
        let sig = Signature::new("Other", "o@example.com", &Time::new(1_700_000_900, 0)).unwrap();
        let tree = parent.tree().unwrap();
        remote
            .commit(
                Some(&format!("refs/heads/{BRANCH}")),
                &sig,
                &sig,
                "again",
                &tree,
                &[&parent],
            )
            .unwrap();
    }));
    let err = push(&r, 3, &settings).unwrap_err().to_string();
    assert!(err.contains("moved"), "{err}");
    assert_eq!(tip(&r.repo, BRANCH), before);
}

/// Path mode against a remote that moved: another environment's pipeline pushes its own folder of the
/// shared branch between our fetch and our push; our folder is written onto its commit and its folder
/// survives with the ids it pushed.
#[test]
fn a_folder_rebuilt_on_a_moved_remote_keeps_the_other_folder() {
    const LIVE: &str = "environments/live";
    let r = source_repo();
    let (dir, remote) = bare();
    let remote_path = dir.path().join("remote.git");
    let mut settings = file_settings(&remote_path);
    let identity = Identity::resolve(&r.repo, &fixed_env()).unwrap();
    let m = meta();
    let place = Place {
        branch: LIVE.to_string(),
        path: Some(BranchPath::parse("apps/dev").unwrap()),
        proposed: false,
    };
    let push_dev = |replicas: u32, settings: &PushSettings| {
        let provenance = Provenance::new(&m).at(place.clone());
        commit_and_push(
            &r.repo,
            LIVE,
            &tree(replicas),
            &provenance,
            &identity,
            settings,
        )
        .unwrap()
    };
    assert!(matches!(
        push_dev(1, &settings),
        Pushed::Created { rebuilt: 0, .. }
    ));

    let competitor = remote_path.clone();
    settings.before_push = Some(Box::new(move |attempt| {
        if attempt > 0 {
            return;
        }
        // The test environment's folder, added beside apps/dev on the remote tip.
        let remote = Repository::open_bare(&competitor).unwrap();
        let parent = remote.find_commit(tip(&remote, LIVE).unwrap()).unwrap();
        let apps_id = parent.tree().unwrap().get_name("apps").unwrap().id();
        let apps = remote.find_tree(apps_id).unwrap();
        let mut test = remote.treebuilder(None).unwrap();
        let blob = remote.blob(b"kind: ConfigMap\n").unwrap();
        test.insert("cm.yaml", blob, 0o100644).unwrap();
        let mut apps = remote.treebuilder(Some(&apps)).unwrap();
        apps.insert("test", test.write().unwrap(), 0o040000)
            .unwrap();
        let mut root = remote.treebuilder(Some(&parent.tree().unwrap())).unwrap();
        root.insert("apps", apps.write().unwrap(), 0o040000)
            .unwrap();
        let tree = remote.find_tree(root.write().unwrap()).unwrap();
        let sig = Signature::new("Other", "o@example.com", &Time::new(1_700_000_500, 0)).unwrap();
        remote
            .commit(
                Some(&format!("refs/heads/{LIVE}")),
                &sig,
                &sig,
                "test",
                &tree,
                &[&parent],
            )
            .unwrap();
    }));
    let Pushed::Created {
        commit,
        parent,
        rebuilt,
    } = push_dev(2, &settings)
    else {
        panic!("no commit");
    };
    assert_eq!(rebuilt, 1);
    assert_eq!(tip(&remote, LIVE), Some(commit));
    let theirs = parent.unwrap();
    let folder = |c: Oid, path: &str| {
        let tree = remote.find_commit(c).unwrap().tree().unwrap();
        tree.get_path(Path::new(path)).unwrap().id()
    };
    assert_eq!(folder(commit, "apps/test"), folder(theirs, "apps/test"));
    assert_ne!(folder(commit, "apps/dev"), folder(theirs, "apps/dev"));
    let files = files_of(&remote, commit);
    assert!(
        String::from_utf8_lossy(&files["apps/dev/openim-dev/deployment/api.yaml"])
            .contains("replicas: 2")
    );
    assert!(
        !files.contains_key("hydrator.metadata"),
        "nothing at the root"
    );
}

/// `git daemon` on a free loopback port, serving `base` with pushes enabled; killed on drop.
struct Daemon {
    child: Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the server on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn daemon(base: &Path) -> Daemon {
    let port = free_port();
    let child = Command::new("git")
        .args([
            "daemon",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
            "--export-all",
            "--enable=receive-pack",
            "--informative-errors",
        ])
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port);
    Daemon { child, port }
}

#[test]
fn push_over_git_daemon_and_a_refused_push() {
    if !has_git() {
        return;
    }
    let r = source_repo();
    let (dir, remote) = bare();
    let server = daemon(dir.path());
    let url = format!("git://127.0.0.1:{}/remote.git", server.port);
    let settings = PushSettings::new(&url, &GitEnv::default());
    let done = push(&r, 1, &settings).unwrap();
    let Pushed::Created { commit, .. } = done else {
        panic!("{done:?}")
    };
    assert_eq!(remote_tip(&remote), Some(commit));
    // The hydrator note went with it, over the network too.
    let note = remote
        .find_note(Some("refs/notes/hydrator.metadata"), commit)
        .unwrap();
    let expected = format!("{{\"drySha\":\"{}\"}}\n", meta().source_commit.unwrap());
    assert_eq!(note.message().ok(), Some(expected.as_str()));

    // A protected branch: the server's hook declines; the local branch is put back.
    let hook = dir.path().join("remote.git/hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'GH006: Protected branch update failed' >&2\nexit 1\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let err = push(&r, 2, &settings).unwrap_err().to_string();
    assert!(err.contains("refused the push"), "{err}");
    assert!(err.contains("protected"), "{err}");
    assert_eq!(remote_tip(&remote), Some(commit));
    assert_eq!(tip(&r.repo, BRANCH), Some(commit));
}

#[test]
fn an_unreachable_remote_is_a_network_error() {
    let r = source_repo();
    let url = format!("http://127.0.0.1:{}/remote.git", free_port());
    let err = push(&r, 1, &PushSettings::new(&url, &GitEnv::default()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot reach"), "{err}");
    assert_eq!(tip(&r.repo, BRANCH), None);
}

// ---- git http-backend behind a minimal HTTP/1.1 server with basic authentication ----

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct HttpServer {
    port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn http_server(root: PathBuf, user: &'static str, password: &'static str) -> HttpServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let expected = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = requests.clone();
    // The thread ends with the test process; every connection is served and closed in turn.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = serve(stream, &root, &expected, user);
        }
    });
    HttpServer { port, requests }
}

fn serve(stream: TcpStream, root: &Path, expected: &str, user: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if let Some(n) = headers.get("content-length") {
        body.resize(n.parse().unwrap_or(0), 0);
        reader.read_exact(&mut body)?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let mut stream = stream;
    if headers.get("authorization").map(String::as_str) != Some(expected) {
        stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_USER", user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(t) = headers.get("content-type") {
        cgi.env("CONTENT_TYPE", t);
    }
    if let Some(e) = headers.get("content-encoding") {
        cgi.env("HTTP_CONTENT_ENCODING", e);
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let output = child.wait_with_output()?;
    let _ = writer.join();
    let out = output.stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, payload) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&out[..i]).into_owned(),
            &out[i + n..],
        ),
        None => (String::new(), &out[..]),
    };
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    let mut extra = String::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => extra.push_str(&format!("{}\r\n", h.trim_end())),
            None => {}
        }
    }
    response.extend_from_slice(
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .as_bytes(),
    );
    response.extend_from_slice(payload);
    stream.write_all(&response)
}

#[test]
fn push_over_http_with_a_token_and_with_a_wrong_one() {
    if !has_git() {
        return;
    }
    let (dir, remote) = bare();
    let server = http_server(dir.path().to_path_buf(), "x-access-token", "s3cret");
    let url = format!("http://127.0.0.1:{}/remote.git", server.port);

    // A wrong token fails at once, with a clear message, and leaves everything as it was.
    let r = source_repo();
    let wrong = GitEnv::default().with("GITHUB_TOKEN", "wrong");
    let started = Instant::now();
    let err = push(&r, 1, &PushSettings::new(&url, &wrong))
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(err.contains("authentication"), "{err}");
    assert!(err.contains("GITHUB_TOKEN"), "{err}");
    assert!(
        server.requests.load(std::sync::atomic::Ordering::SeqCst) < 10,
        "bounded attempts"
    );
    assert_eq!(tip(&r.repo, BRANCH), None);
    assert_eq!(remote_tip(&remote), None);

    // No token at all: the same, without looping.
    let err = push(&r, 1, &PushSettings::new(&url, &GitEnv::default()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("authentication"), "{err}");

    // The right token, from the first variable that holds one.
    let right = GitEnv::default()
        .with("OPENIM_GITOPS_TOKEN", "s3cret")
        .with("GITHUB_TOKEN", "wrong");
    let done = push(&r, 1, &PushSettings::new(&url, &right)).unwrap();
    let Pushed::Created { commit, .. } = done else {
        panic!("{done:?}")
    };
    assert_eq!(remote_tip(&remote), Some(commit));
    assert_eq!(tip(&r.repo, BRANCH), Some(commit));

    // Through the command line too, with the token in GH_TOKEN, building on the pushed tip.
    let home = tempfile::tempdir().unwrap();
    r.repo.remote("origin", &url).unwrap();
    let o = bin(r.path(), home.path())
        .envs(FIXED)
        .env("GH_TOKEN", "s3cret")
        .args([
            "render", "--env", "dev", "--tag", "t1", "--commit", "--push",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let tip_now = remote_tip(&remote).unwrap();
    assert_eq!(
        remote.find_commit(tip_now).unwrap().parent_id(0).unwrap(),
        commit
    );
}
