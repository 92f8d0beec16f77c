//! The Argo CD objects: no environment's render holds an Argo CD object (so no Application is in the
//! tree it syncs), the argocd environment holds one AppProject and one Application per environment,
//! each project allows exactly what its environment renders, everything passes `check`, and the
//! repository URL comes from the remote at render time.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use openim_gitops::check::policy::Date;
use openim_gitops::check::policy_file::PolicySet;
use openim_gitops::check::Severity;
use openim_gitops::check::{check_targets, Target};
use openim_gitops::load::{DiskFiles, Loader};
use openim_gitops::node::{Node, Sources};
use openim_gitops::pipeline::{self, Compiled};
use openim_gitops::resource::{is_cluster_scoped, Resource};
use openim_gitops::tags::TagInputs;

const ENVS: [&str; 3] = ["dev", "release", "test"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inputs(env: &str) -> TagInputs {
    match env {
        "dev" => TagInputs {
            explicit_tag: Some("main".into()),
            ..TagInputs::default()
        },
        "test" => TagInputs {
            rc: Some(0),
            ..TagInputs::default()
        },
        _ => TagInputs {
            version: Some("3.8.3".into()),
            ..TagInputs::default()
        },
    }
}

fn compile_all(sources: &mut Sources) -> Vec<Compiled> {
    let files = DiskFiles;
    let root = repo().join("environments");
    let envs = pipeline::select_envs(&files, &root, &[], true).expect("environments");
    let mut loader = Loader::new(&files, sources);
    envs.iter()
        .map(|(name, file)| {
            pipeline::compile(&mut loader, name, file, &inputs(name), None)
                .and_then(|c| c.tagged())
                .unwrap_or_else(|e| panic!("{name} does not compile: {e:?}"))
        })
        .collect()
}

fn by_name<'a>(compiled: &'a [Compiled], name: &str) -> &'a Compiled {
    compiled
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no environment {name}"))
}

fn find<'a>(rs: &'a [Resource], kind: &str, name: &str) -> &'a Resource {
    rs.iter()
        .find(|r| r.group() == "argoproj.io" && r.kind() == kind && r.name() == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

fn strs(node: Option<&Node>) -> Vec<String> {
    node.and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

/// (group, kind) pairs of a whitelist.
fn kinds(node: Option<&Node>) -> BTreeSet<(String, String)> {
    node.and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .map(|e| {
            (
                e.str_at(&["group"]).unwrap_or("").to_string(),
                e.str_at(&["kind"]).unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn no_environment_renders_an_argo_cd_object() {
    let mut sources = Sources::new();
    let compiled = compile_all(&mut sources);
    for env in ENVS {
        let c = by_name(&compiled, env);
        let argo: Vec<String> = c
            .build
            .resources
            .iter()
            .filter(|r| r.group() == "argoproj.io")
            .map(|r| format!("{}/{}", r.kind(), r.name()))
            .collect();
        assert!(
            argo.is_empty(),
            "{env} renders Argo CD objects into the tree its Application syncs: {argo:?}"
        );
    }
}

#[test]
fn each_environment_has_a_project_and_an_application_that_sync_only_its_branch() {
    let mut sources = Sources::new();
    let compiled = compile_all(&mut sources);
    let argocd = by_name(&compiled, "argocd");
    let apps: Vec<&Resource> = argocd
        .build
        .resources
        .iter()
        .filter(|r| r.kind() == "Application")
        .collect();
    assert_eq!(apps.len(), ENVS.len(), "one Application per environment");
    for env in ENVS {
        let c = by_name(&compiled, env);
        let namespace = format!("openim-{env}");
        let app = find(&argocd.build.resources, "Application", &namespace);
        let project = find(&argocd.build.resources, "AppProject", &namespace);
        let n = &app.node;
        assert_eq!(app.namespace(), "argocd");
        assert_eq!(n.str_at(&["spec", "project"]), Some(namespace.as_str()));
        assert_eq!(
            n.str_at(&["spec", "source", "targetRevision"]),
            Some(format!("environments/{env}").as_str())
        );
        assert_eq!(
            n.str_at(&["spec", "destination", "namespace"]),
            Some(namespace.as_str())
        );
        // Removing it from the argocd render neither deletes it nor what it deployed.
        assert_eq!(
            n.str_at(&["metadata", "annotations", "argocd.argoproj.io/sync-options"]),
            Some("Prune=false,Delete=false")
        );
        let prune = n
            .path(&["spec", "syncPolicy", "automated", "prune"])
            .and_then(Node::as_bool);
        assert_eq!(prune, Some(env != "release"), "{env}: automated prune");

        // The project: this repository only, this namespace only, and every kind the environment
        // renders (and no cluster-scoped kind it does not).
        let p = &project.node;
        assert_eq!(
            strs(p.path(&["spec", "sourceRepos"])),
            [n.str_at(&["spec", "source", "repoURL"])
                .unwrap()
                .to_string()]
        );
        let dests: Vec<(Option<&str>, Option<&str>)> = p
            .path(&["spec", "destinations"])
            .and_then(Node::as_seq)
            .unwrap()
            .iter()
            .map(|d| (d.str_at(&["server"]), d.str_at(&["namespace"])))
            .collect();
        assert_eq!(
            dests,
            [(
                Some("https://kubernetes.default.svc"),
                Some(namespace.as_str())
            )]
        );
        let cluster = kinds(p.path(&["spec", "clusterResourceWhitelist"]));
        let namespaced = kinds(p.path(&["spec", "namespaceResourceWhitelist"]));
        let mut rendered_cluster = BTreeSet::new();
        let mut rendered_namespaced = BTreeSet::new();
        for r in &c.build.resources {
            let key = (r.group().to_string(), r.kind().to_string());
            if is_cluster_scoped(r.group(), r.kind()) {
                rendered_cluster.insert(key);
            } else {
                assert_eq!(
                    r.namespace(),
                    namespace,
                    "{env}: {}/{} outside the project's destination",
                    r.kind(),
                    r.name()
                );
                rendered_namespaced.insert(key);
            }
        }
        assert_eq!(cluster, rendered_cluster, "{env}: cluster-scoped kinds");
        assert_eq!(namespaced, rendered_namespaced, "{env}: namespaced kinds");
    }
}

#[test]
fn the_argo_cd_objects_and_the_bootstrap_pass_check() {
    let mut sources = Sources::new();
    let compiled = compile_all(&mut sources);
    let files = DiskFiles;
    let mut loader = Loader::new(&files, &mut sources);
    let policy = PolicySet::load(&mut loader, &repo().join("policies")).expect("policy");
    let argocd = by_name(&compiled, "argocd");
    let targets = [Target {
        env: Some(&argocd.name),
        resources: &argocd.build.resources,
        layer: Some(&argocd.build.env),
        untagged: None,
        load: None,
        kube: Default::default(),
    }];
    let today = Date::parse("2026-11-22").expect("date");
    let report = check_targets(&sources, &policy, &targets, today);
    let errors: Vec<String> = report
        .findings()
        .filter(|(_, f)| f.severity == Severity::Error)
        .map(|(_, f)| format!("{}: {}", f.code(), f.message))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    let bootstrap = repo().join("environments/argocd/bootstrap/root.yaml");
    let out = common::cli(
        &["check", bootstrap.to_str().unwrap(), "--format", "json"],
        &repo(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));

    // A broken bootstrap fails the same check: the test above can fail.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&bootstrap).unwrap();
    let broken = dir.path().join("root.yaml");
    std::fs::write(&broken, text.replace("  project: openim-argocd\n", "")).unwrap();
    let out = common::cli(&["check", broken.to_str().unwrap()], &repo());
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
}

#[test]
fn the_bootstrap_syncs_the_argocd_branch_without_pruning_and_is_in_no_render() {
    let text =
        std::fs::read_to_string(repo().join("environments/argocd/bootstrap/root.yaml")).unwrap();
    assert!(text.contains("  targetRevision: environments/argocd\n"));
    assert!(text.contains("      prune: false\n"));
    assert!(!text.contains("resources-finalizer"));
    let mut sources = Sources::new();
    for c in compile_all(&mut sources) {
        assert!(
            !c.build.resources.iter().any(|r| r.name() == "openim-root"),
            "{} renders the bootstrap Application",
            c.name
        );
    }
}

/// The repository URL of the Argo CD objects is the remote's, without the credentials a CI put in it.
#[test]
fn the_repository_url_comes_from_the_remote() {
    let dir = tempfile::tempdir().unwrap();
    let git = git2::Repository::init(dir.path()).unwrap();
    common::copy_dir(
        &repo().join("environments/argocd"),
        &dir.path().join("environments/argocd"),
    );
    git.remote(
        "origin",
        "https://x-access-token:ghs_secret@example.com/fork/openim-gitops.git",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = common::run(
        dir.path(),
        &[
            "render",
            "--env",
            "argocd",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let app = std::fs::read_to_string(
        out_dir.join("argocd/argocd/application.argoproj.io/openim-release.yaml"),
    )
    .unwrap();
    assert!(
        app.contains("repoURL: https://example.com/fork/openim-gitops.git\n"),
        "{app}"
    );
    let project = std::fs::read_to_string(
        out_dir.join("argocd/argocd/appproject.argoproj.io/openim-release.yaml"),
    )
    .unwrap();
    assert!(
        project.contains("  - https://example.com/fork/openim-gitops.git\n"),
        "{project}"
    );
    for (path, bytes) in common::read_tree(&out_dir) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("ghs_secret"),
            "{path} holds the token"
        );
    }
}
