//! Benchmark of `diff` on generated trees:
//! `cargo run --example bench_diff [--release] -- [RESOURCES] [CHANGED_PERCENT]`.
//!
//! 1. The diff stage alone: two rendered trees of RESOURCES Deployments, CHANGED_PERCENT of them with a
//!    new image and fewer replicas; compare, then print as text and as Markdown.
//! 2. The whole command between two revisions: a git repository in a temporary folder whose base holds
//!    the same resources (ten per file) in two commits; both revisions are compiled from git objects,
//!    rendered and compared, as `openim-gitops diff --base HEAD~1 --head HEAD` does.
//!
//! Each figure is the best of three runs. Results go in BENCHMARKS.md.

use std::time::{Duration, Instant};

use git2::{IndexAddOption, Repository, Signature, Time};
use openim_gitops::diff::{self, format};
use openim_gitops::git::files::GitFiles;
use openim_gitops::load::Loader;
use openim_gitops::node::Sources;
use openim_gitops::pipeline;
use openim_gitops::render::Tree;
use openim_gitops::tags::TagInputs;

fn deployment(i: usize, changed: bool) -> String {
    let (tag, replicas) = if changed { ("v2", 2) } else { ("v1", 3) };
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i:05}
  labels:
    app.kubernetes.io/name: app-{i:05}
    app.kubernetes.io/part-of: openim
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{i:05}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{i:05}
    spec:
      containers:
        - name: app
          image: openim/app-{i:05}:{tag}
          ports:
            - containerPort: 10002
          env:
            - name: CONFIG_PATH
              value: /config
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
"
    )
}

fn is_changed(i: usize, percent: usize) -> bool {
    percent > 0 && i % (100 / percent.clamp(1, 100)) == 0
}

fn tree(n: usize, percent: Option<usize>) -> Tree {
    Tree {
        files: (0..n)
            .map(|i| {
                let changed = percent.is_some_and(|p| is_changed(i, p));
                (
                    format!("openim/deployment/app-{i:05}.yaml"),
                    deployment(i, changed).into_bytes(),
                )
            })
            .collect(),
    }
}

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..3 {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed());
        out = Some(v);
    }
    (best, out.unwrap_or_else(|| unreachable!()))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn write_base(root: &std::path::Path, n: usize, percent: Option<usize>) {
    let base = root.join("environments/base");
    std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("{e}"));
    for file in 0..n.div_ceil(10) {
        let docs: Vec<String> = (file * 10..(file * 10 + 10).min(n))
            .map(|i| deployment(i, percent.is_some_and(|p| is_changed(i, p))))
            .collect();
        std::fs::write(
            base.join(format!("apps-{file:04}.yaml")),
            docs.join("---\n"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn commit_all(repo: &Repository, message: &str) {
    let mut index = repo.index().unwrap_or_else(|e| panic!("{e}"));
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let tree = repo
        .find_tree(index.write_tree().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let sig = Signature::new("bench", "bench@example.com", &Time::new(1_700_000_000, 0))
        .unwrap_or_else(|e| panic!("{e}"));
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap_or_else(|e| panic!("{e}"));
}

fn render_rev(repo_dir: &std::path::Path, rev: &str) -> Tree {
    let files = GitFiles::open(repo_dir, rev).unwrap_or_else(|e| panic!("{e}"));
    render_with(&files, repo_dir)
}

fn render_with(files: &dyn openim_gitops::load::Files, repo_dir: &std::path::Path) -> Tree {
    let root = repo_dir.join("environments");
    let mut sources = Sources::new();
    let envs = pipeline::select_envs(files, &root, &["bench".to_string()], false)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut loader = Loader::new(files, &mut sources);
    let (name, file) = &envs[0];
    pipeline::compile(&mut loader, name, file, &TagInputs::default(), None)
        .unwrap_or_else(|e| panic!("{e}"))
        .render()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let percent: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let profile = if cfg!(debug_assertions) {
        "debug (unoptimized)"
    } else {
        "optimized"
    };
    println!("bench_diff: {n} resources, {percent}% changed, {profile} build");

    let (old, new) = (tree(n, None), tree(n, Some(percent)));
    let (t_compare, d) = best(|| diff::compare("bench", &old, &new));
    let sides = format::Sides {
        base: "base".to_string(),
        head: "head".to_string(),
    };
    let (t_text, text) = best(|| format::text(std::slice::from_ref(&d), &sides));
    let (t_md, md) = best(|| {
        format::markdown(
            std::slice::from_ref(&d),
            &sides,
            format::GITHUB_COMMENT_LIMIT,
        )
    });
    println!(
        "stage: compare {} ({} changed, {} risky, {} unchanged); text {} ({} bytes); markdown {} ({} bytes)",
        ms(t_compare),
        d.changes.len(),
        d.risky().count(),
        d.unchanged,
        ms(t_text),
        text.len(),
        ms(t_md),
        md.len()
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let repo = Repository::init(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("environments/bench"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("environments/bench/env.yaml"),
        "apiVersion: gitops.openim.io/v1\nkind: Environment\nmetadata:\n  name: bench\nnamespace: openim\nresources:\n  - ../base\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    write_base(dir.path(), n, None);
    commit_all(&repo, "base");
    write_base(dir.path(), n, Some(percent));
    commit_all(&repo, "change");

    let (t_base, base) = best(|| render_rev(dir.path(), "HEAD~1"));
    let (t_head, head) = best(|| render_rev(dir.path(), "HEAD"));
    let (t_cmp, d) = best(|| diff::compare("bench", &base, &head));
    println!(
        "two revisions from git objects: render base {}, render head {}, compare {}; total {} ({} changed)",
        ms(t_base),
        ms(t_head),
        ms(t_cmp),
        ms(t_base + t_head + t_cmp),
        d.changes.len()
    );
    let (t_disk, _) = best(|| render_with(&openim_gitops::load::DiskFiles, dir.path()));
    println!(
        "for comparison, the head rendered from the working tree: {}",
        ms(t_disk)
    );
}
