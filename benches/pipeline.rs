//! The pipeline benchmark: generates trees of several sizes in the shape of
//! `shared/tools/kustomize_tree.py` (N apps, each a Deployment, Service, ServiceAccount, NetworkPolicy and
//! a generated ConfigMap, plus dev/test/release overlays with a namespace, labels, an image entry per app,
//! replicas for a quarter of them, a strategic merge patch on every Deployment, a JSON 6902 patch on every
//! Service and a generator), then times load + overlay + render of the release environment in memory,
//! the write of the tree, and the checks (every rule, high availability asked, as `check::run` runs
//! them; not part of the total), and reports the peak memory of the process.
//!
//!   cargo bench --bench pipeline                    # sizes 1,000 / 5,000 / 10,000 resources
//!   cargo bench --bench pipeline -- 2000            # one size, in apps (5 resources each, plus 1)
//!   cargo bench --bench pipeline -- --write-tree 2000 DIR   # only write the input tree (for bench/compare.sh)

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use openim_gitops::check::{self, Context, Policy};
use openim_gitops::load::{DiskFiles, Loader};
use openim_gitops::node::Sources;
use openim_gitops::pipeline;
use openim_gitops::render;
use openim_gitops::tags::TagInputs;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Our input for the same shape as the kustomize tree.
fn generate(apps: usize, root: &Path) {
    let _ = std::fs::remove_dir_all(root);
    let mut generators = String::new();
    for i in 0..apps {
        let a = format!("app{i:04}");
        write(
            &root.join(format!("base/{a}.yaml")),
            &format!(
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {a}
  labels: {{app: {a}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {a}}}}}
  template:
    metadata:
      labels: {{app: {a}}}
    spec:
      serviceAccountName: {a}
      containers:
      - name: main
        image: registry.example.com/openim/{a}:latest
        ports: [{{containerPort: 8080}}]
        envFrom: [{{configMapRef: {{name: {a}-config}}}}]
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {a}
spec:
  selector: {{app: {a}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {a}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {a}
spec:
  podSelector: {{matchLabels: {{app: {a}}}}}
  policyTypes: [Ingress]
  ingress: [{{from: [{{podSelector: {{}}}}]}}]
"
            ),
        );
        let _ = write!(
            generators,
            "  - name: {a}-config\n    literals: [APP={a}, LOG_LEVEL=info]\n"
        );
    }
    write(
        &root.join("components/apps/component.yaml"),
        &format!(
            "apiVersion: gitops.openim.io/v1\nkind: Component\nmetadata:\n  name: apps\nresources: [../../base]\nconfigMapGenerator:\n{generators}"
        ),
    );
    for (env, tag, reps) in [
        ("dev", "feature-x", 1),
        ("test", "rc3", 2),
        ("release", "release-v1.2.3", 3),
    ] {
        let mut images = String::new();
        let mut replicas = String::new();
        for i in 0..apps {
            let _ = write!(
                images,
                "  - name: registry.example.com/openim/app{i:04}\n    newTag: {tag}\n"
            );
        }
        for i in 0..(apps / 4).max(1) {
            let _ = write!(replicas, "  - name: app{i:04}\n    count: {reps}\n");
        }
        write(
            &root.join(format!("{env}/env.yaml")),
            &format!(
                "apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: {env}
namespace: openim-{env}
labels:
  env: {env}
resources: []
components: [../components/apps]
images:
{images}replicas:
{replicas}patches:
  - path: resources-patch.yaml
    target: {{kind: Deployment}}
  - target: {{kind: Service}}
    patch: |-
      - op: add
        path: /metadata/annotations
        value: {{openim.io/env: {env}}}
configMapGenerator:
  - name: global-config
    literals: [ENV={env}]
"
            ),
        );
        write(
            &root.join(format!("{env}/resources-patch.yaml")),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ignored\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        resources:\n          limits: {memory: 512Mi}\n",
        );
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn run(apps: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("environments");
    generate(apps, &root);
    let files = DiskFiles;
    let mut compile_times = Vec::new();
    let mut render_times = Vec::new();
    let mut write_times = Vec::new();
    let mut check_times = Vec::new();
    let mut count = 0;
    let policy = Policy {
        high_availability: true,
        ..Policy::default()
    };
    for round in 0..5 {
        let start = Instant::now();
        let mut sources = Sources::new();
        let mut loader = Loader::new(&files, &mut sources);
        let c = pipeline::compile(
            &mut loader,
            "release",
            &root.join("release/env.yaml"),
            &TagInputs::default(),
            None,
        )
        .unwrap_or_else(|e| panic!("compile failed: {e}"));
        let compiled = start.elapsed();
        let tree = c.render();
        let rendered = start.elapsed();
        render::write_tree(&tree, &dir.path().join(format!("out{round}"))).expect("write");
        let written = start.elapsed();
        let checking = Instant::now();
        let ctx = Context::new(
            Some("release"),
            &c.build.resources,
            &sources,
            Some(&c.build.env),
            &policy,
        );
        let findings = check::run(&ctx);
        check_times.push(checking.elapsed());
        assert!(!findings.is_empty(), "the generated tree has findings");
        count = c.build.resources.len();
        compile_times.push(compiled);
        render_times.push(rendered - compiled);
        write_times.push(written - rendered);
    }
    let (c, r, w, k) = (
        median(compile_times),
        median(render_times),
        median(write_times),
        median(check_times),
    );
    println!(
        "{count:>7} resources | load+overlay {:>8.1} ms | render {:>7.1} ms | write {:>7.1} ms | total {:>8.1} ms | {:>8.0} resources/s | check {:>7.1} ms | peak RSS {:>6.1} MB",
        c.as_secs_f64() * 1e3,
        r.as_secs_f64() * 1e3,
        w.as_secs_f64() * 1e3,
        (c + r + w).as_secs_f64() * 1e3,
        count as f64 / (c + r).as_secs_f64(),
        k.as_secs_f64() * 1e3,
        peak_rss_mb()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--write-tree") {
        let apps: usize = args
            .get(1)
            .and_then(|a| a.parse().ok())
            .expect("--write-tree N DIR");
        let dir = args.get(2).expect("--write-tree N DIR");
        generate(apps, Path::new(dir));
        return;
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![200, 1000, 2000]
    } else {
        args.iter().filter_map(|a| a.parse().ok()).collect()
    };
    println!("release environment, median of 5 runs (peak RSS is the process's so far)");
    for apps in sizes {
        run(apps);
    }
}
