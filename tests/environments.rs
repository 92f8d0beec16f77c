//! The repository's own OpenIM environments: all three render, pass every check with the repository's
//! policy, and are wired together (config ports = container ports = Service ports; discovery names =
//! Services with a `grpc` port; data-store addresses = Services; crontask at one replica).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use openim_gitops::check::check_targets;
use openim_gitops::check::policy::Date;
use openim_gitops::check::policy_file::PolicySet;
use openim_gitops::check::Severity;
use openim_gitops::load::{DiskFiles, Loader};
use openim_gitops::node::{FileRole, Node, Sources};
use openim_gitops::pipeline::{self, Compiled};
use openim_gitops::resource::Resource;
use openim_gitops::tags::TagInputs;

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
    let all = pipeline::select_envs(&files, &root, &[], true).expect("environments");
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    // argocd renders the Argo CD objects of the other three (tests/argocd.rs); these are OpenIM's.
    assert_eq!(names, ["argocd", "dev", "release", "test"]);
    let envs: Vec<_> = all.into_iter().filter(|(n, _)| n != "argocd").collect();
    let mut loader = Loader::new(&files, sources);
    envs.iter()
        .map(|(name, file)| {
            pipeline::compile(&mut loader, name, file, &inputs(name), None)
                .and_then(|c| c.tagged())
                .unwrap_or_else(|e| panic!("{name} does not compile: {e:?}"))
        })
        .collect()
}

fn parse(sources: &mut Sources, name: &str, text: &str) -> Node {
    let id = sources.add(Path::new(name), text.into(), FileRole::Other);
    openim_gitops::load::yaml::parse(id, sources.get(id))
        .expect("config parses")
        .into_iter()
        .next()
        .map(|d| d.root)
        .expect("one document")
}

fn find<'a>(rs: &'a [Resource], kind: &str, name: &str) -> Option<&'a Resource> {
    rs.iter().find(|r| r.kind() == kind && r.name() == name)
}

fn container_ports(d: &Resource) -> BTreeSet<i64> {
    d.pod_spec()
        .and_then(|s| s.get("containers"))
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .flat_map(|c| c.get("ports").and_then(Node::as_seq).unwrap_or(&[]).iter())
        .filter_map(|p| p.get("containerPort").and_then(Node::as_i64))
        .collect()
}

fn service_ports(s: &Resource) -> Vec<(Option<String>, i64)> {
    s.node
        .path(&["spec", "ports"])
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| {
            Some((
                p.str_at(&["name"]).map(str::to_string),
                p.get("port")?.as_i64()?,
            ))
        })
        .collect()
}

#[test]
fn every_environment_passes_every_check_with_the_repository_policy() {
    let mut sources = Sources::new();
    let compiled = compile_all(&mut sources);
    let files = DiskFiles;
    let mut loader = Loader::new(&files, &mut sources);
    let policy = PolicySet::load(&mut loader, &repo().join("policies")).expect("policy");
    let targets = openim_gitops::commands::check::targets(&compiled, Default::default());
    let today = Date::parse("2026-11-22").expect("date");
    let report = check_targets(&sources, &policy, &targets, today);
    let errors: Vec<String> = report
        .findings()
        .filter(|(_, f)| f.severity == Severity::Error)
        .map(|(env, f)| format!("{env:?} {}: {}", f.code(), f.message))
        .collect();
    assert!(
        errors.is_empty(),
        "the environments must pass their own checks:\n{}",
        errors.join("\n")
    );
    for c in &report.checked {
        assert!(
            c.resources > 100,
            "{:?} renders the whole deployment",
            c.env
        );
        for w in &c.waived {
            assert!(
                !w.reason.trim().is_empty(),
                "a waiver without a reason: {w:?}"
            );
        }
    }
}

/// Config file -> the workload that reads it.
fn workload_of(file: &str) -> Option<&'static str> {
    Some(match file {
        "openim-api.yml" => "openim-api",
        "openim-msggateway.yml" => "openim-msggateway",
        "openim-msgtransfer.yml" => "openim-msgtransfer",
        "openim-push.yml" => "openim-push",
        "openim-rpc-auth.yml" => "openim-rpc-auth",
        "openim-rpc-conversation.yml" => "openim-rpc-conversation",
        "openim-rpc-friend.yml" => "openim-rpc-friend",
        "openim-rpc-group.yml" => "openim-rpc-group",
        "openim-rpc-msg.yml" => "openim-rpc-msg",
        "openim-rpc-third.yml" => "openim-rpc-third",
        "openim-rpc-user.yml" => "openim-rpc-user",
        "chat-api-chat.yml" => "openim-chat-api",
        "chat-api-admin.yml" => "openim-admin-api",
        "chat-rpc-chat.yml" => "openim-chat-rpc",
        "chat-rpc-admin.yml" => "openim-admin-rpc",
        _ => return None,
    })
}

#[test]
fn config_ports_discovery_names_and_addresses_match_the_objects() {
    let mut sources = Sources::new();
    let compiled = compile_all(&mut sources);
    for c in &compiled {
        let rs = &c.build.resources;
        let configs: Vec<&Resource> = rs
            .iter()
            .filter(|r| {
                r.kind() == "ConfigMap"
                    && r.generated
                        .as_ref()
                        .is_some_and(|g| g.base_name.starts_with("openim-"))
            })
            .collect();
        assert_eq!(
            configs.len(),
            2,
            "{}: the server and chat config maps",
            c.name
        );
        let mut checked_ports = 0;
        for cm in configs {
            let data = cm.node.get("data").and_then(Node::as_map).expect("data");
            for (key, value) in data.iter() {
                let text = value.as_str().expect("text");
                let doc = parse(&mut sources, &key.name, text);
                if key.name == "discovery.yml" {
                    let services = doc
                        .get("rpcService")
                        .and_then(Node::as_map)
                        .expect("rpcService");
                    for (_, svc) in services.iter() {
                        let name = svc.as_str().expect("name");
                        let s = find(rs, "Service", name).unwrap_or_else(|| {
                            panic!("{}: discovery names `{name}`, which is no Service", c.name)
                        });
                        assert!(
                            service_ports(s)
                                .iter()
                                .any(|(n, _)| n.as_deref() == Some("grpc")),
                            "{}: Service {name} has no port named grpc",
                            c.name
                        );
                    }
                }
                for store in ["mongodb.yml", "redis.yml", "kafka.yml"] {
                    if key.name != store {
                        continue;
                    }
                    for a in doc.get("address").and_then(Node::as_seq).unwrap_or(&[]) {
                        let (host, port) = a
                            .as_str()
                            .and_then(|s| s.rsplit_once(':'))
                            .expect("host:port");
                        let port: i64 = port.parse().expect("port");
                        let s = find(rs, "Service", host)
                            .or_else(|| {
                                find(
                                    rs,
                                    "Cluster",
                                    host.rsplit_once('-').map(|(h, _)| h).unwrap_or(host),
                                )
                            })
                            .unwrap_or_else(|| {
                                panic!("{}: {store} names `{host}`, which nothing renders", c.name)
                            });
                        if s.kind() == "Service" {
                            assert!(
                                service_ports(s).iter().any(|(_, p)| *p == port),
                                "{}: {host} has no port {port}",
                                c.name
                            );
                        }
                    }
                }
                let Some(workload) = workload_of(&key.name) else {
                    continue;
                };
                let d = find(rs, "Deployment", workload)
                    .unwrap_or_else(|| panic!("{}: no Deployment {workload}", c.name));
                let cports = container_ports(d);
                let svc = find(rs, "Service", workload);
                for section in ["rpc", "api", "longConnSvr", "prometheus"] {
                    for p in doc
                        .path(&[section, "ports"])
                        .and_then(Node::as_seq)
                        .unwrap_or(&[])
                    {
                        let p = p.as_i64().expect("port number");
                        assert!(
                            cports.contains(&p),
                            "{}: {} {section} port {p} is no container port of {workload}",
                            c.name,
                            key.name
                        );
                        if let Some(s) = svc {
                            assert!(
                                service_ports(s).iter().any(|(_, sp)| *sp == p),
                                "{}: {} {section} port {p} is no port of Service {workload}",
                                c.name,
                                key.name
                            );
                        }
                        checked_ports += 1;
                    }
                }
            }
        }
        assert!(
            checked_ports >= 25,
            "{}: only {checked_ports} ports checked",
            c.name
        );
    }
}

#[test]
fn replicas_tags_and_namespaces_per_environment() {
    let mut sources = Sources::new();
    let compiled = compile_all(&mut sources);
    for c in &compiled {
        let rs = &c.build.resources;
        let cron = find(rs, "Deployment", "openim-crontask").expect("crontask");
        assert_eq!(
            cron.node.path(&["spec", "replicas"]).and_then(Node::as_i64),
            Some(1),
            "{}",
            c.name
        );
        let (tag, min_replicas, ns) = match c.name.as_str() {
            "dev" => ("main", 1, "openim-dev"),
            "test" => ("rc0", 2, "openim-test"),
            _ => ("release-v3.8.3", 3, "openim-release"),
        };
        let api = find(rs, "Deployment", "openim-api").expect("api");
        let image = openim_gitops::overlay::images::images(api)[0]
            .1
            .as_str()
            .expect("image")
            .to_string();
        assert!(image.ends_with(&format!(":{tag}")), "{}: {image}", c.name);
        assert_eq!(api.namespace(), ns);
        for d in rs
            .iter()
            .filter(|r| r.kind() == "Deployment" && r.name() != "openim-crontask")
        {
            let hpa = rs.iter().any(|h| {
                h.kind() == "HorizontalPodAutoscaler"
                    && h.node.str_at(&["spec", "scaleTargetRef", "name"]) == Some(d.name())
            });
            let replicas = d.node.path(&["spec", "replicas"]).and_then(Node::as_i64);
            if hpa {
                assert_eq!(c.name, "release", "autoscaling only in release");
                continue;
            }
            let n = replicas.unwrap_or(1);
            if c.name == "dev" {
                assert_eq!(n, 1, "dev: {} runs one replica", d.name());
            } else if d.name() != "openim-minio" {
                assert!(
                    n >= min_replicas,
                    "{}: {} runs {n} replicas",
                    c.name,
                    d.name()
                );
            }
        }
        // Every owned image carries the environment's tag; third-party images keep pinned tags.
        for r in rs {
            for (_, img) in openim_gitops::overlay::images::images(r) {
                let text = img.as_str().unwrap_or("");
                if text.contains("openim/") {
                    assert!(text.ends_with(&format!(":{tag}")), "{}: {text}", c.name);
                } else {
                    assert!(
                        !text.ends_with(":latest") && text.contains(':'),
                        "{}: {text}",
                        c.name
                    );
                }
            }
        }
    }
}
