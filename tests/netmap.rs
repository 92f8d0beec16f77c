//! The network map: its reading of NetworkPolicies on a small fixture (`tests/fixtures/netmap/input`),
//! golden Mermaid and DOT maps of the OpenIM environments, the paths a policy change adds and loses as
//! the diff comment shows them, and `--format mermaid|dot` outside netmap refused.
//!
//! `UPDATE_SNAPSHOTS=1` rewrites the golden files under `tests/fixtures/netmap/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::assert_snapshot;
use openim_gitops::diff::format::{markdown, text, Sides, GITHUB_COMMENT_LIMIT};
use openim_gitops::load::{DiskFiles, Loader};
use openim_gitops::netmap::{self, format, NetMap};
use openim_gitops::node::Sources;
use openim_gitops::pipeline;
use openim_gitops::render::Tree;
use openim_gitops::tags::TagInputs;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/netmap")
}

/// Compiles one environment of a root (with an explicit tag: the map does not depend on it) and maps it.
fn map_of(root: &Path, env: &str) -> NetMap {
    compiled(root, env).1
}

/// The rendered tree of one environment, and its map.
fn compiled(root: &Path, env: &str) -> (Tree, NetMap) {
    let mut sources = Sources::new();
    let envs = pipeline::select_envs(&DiskFiles, root, &[env.to_string()], false).unwrap();
    let mut loader = Loader::new(&DiskFiles, &mut sources);
    let inputs = TagInputs {
        explicit_tag: Some(
            match env {
                "test" => "rc0",
                "release" => "release-v3.8.3",
                _ => "golden",
            }
            .to_string(),
        ),
        ..TagInputs::default()
    };
    let c = pipeline::compile(&mut loader, &envs[0].0, &envs[0].1, &inputs, None)
        .and_then(|c| c.tagged())
        .unwrap();
    (c.render(), netmap::build(env, &c.build.resources))
}

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openim-gitops"));
    cmd.current_dir(dir).args(args).env("NO_COLOR", "1");
    for var in openim_gitops::tags::CI_VARIABLES {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn paths_need_egress_and_ingress() {
    let map = map_of(&fixtures().join("input"), "dev");
    // web -> db: web's egress names only api. db -> anything: db's egress is isolated without a rule.
    // open: no policy selects it, so it is open both ways, but web, api and db do not let it in.
    // Named ports resolve against the destination (web's egress `http` is api's 8000); ranges intersect
    // (api may send to 5432, db accepts 5400-5499).
    assert_eq!(
        format::text(&map),
        "dev: 4 workloads, 4 peers outside, 8 paths
anywhere -> open: any port
api -> db: 5432/TCP
api -> ipBlock 10.0.0.0/8 except 10.1.0.0/16: 443/TCP
open -> anywhere: any port
open -> open: any port
web -> api: 8000/TCP
namespace ingress-nginx -> web: 8080/TCP
namespaces team=observability -> api: 9090/TCP
"
    );
    let json = format::json(&map);
    let kinds: Vec<(&str, &str)> = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("anywhere", "anywhere"),
            ("demo/Deployment/api", "workload"),
            ("demo/Deployment/open", "workload"),
            ("demo/Deployment/web", "workload"),
            ("demo/StatefulSet/db", "workload"),
            ("ipBlock:10.0.0.0/8 except 10.1.0.0/16", "ipBlock"),
            ("namespace:ingress-nginx", "namespace"),
            ("namespaces:team=observability", "namespaces"),
        ]
    );
    assert_eq!(json["nodes"][1]["owner"], "Deployment/api");
}

#[test]
fn golden_maps_of_the_openim_environments() {
    let root = repo().join("environments");
    for env in ["dev", "test", "release"] {
        let map = map_of(&root, env);
        assert!(map.edges.len() > 150, "{env}: {}", map.edges.len());
        assert_snapshot(
            &fixtures().join(format!("openim-{env}.mmd")),
            &format::mermaid(&map),
        );
        assert_snapshot(
            &fixtures().join(format!("openim-{env}.dot")),
            &format::dot(&map),
        );
    }
    // What environments/README.md says, seen in the map.
    let map = map_of(&root, "release");
    let label = |id: &str| map.nodes[id].label.clone();
    let has = |from: &str, to: &str, ports: &str| {
        map.edges
            .iter()
            .any(|((f, t), p)| label(f) == from && label(t) == to && p.to_string() == ports)
    };
    assert!(has("namespace ingress-nginx", "openim-api", "10002/TCP"));
    assert!(has("openim-api", "openim-msggateway", "10140/TCP"));
    assert!(has("openim-push", "ipBlock 0.0.0.0/0", "443/TCP, 6443/TCP"));
    assert!(has(
        "openim-chat-rpc",
        "ipBlock 0.0.0.0/0",
        "443/TCP, 465/TCP, 587/TCP, 6443/TCP"
    ));
    assert!(has("openim-kafka", "openim-kafka", "9092-9094/TCP"));
    assert!(!has("openim-crontask", "openim-api", "10002/TCP"));
    assert!(
        !map.nodes.contains_key("anywhere"),
        "every OpenIM pod is isolated both ways"
    );
}

#[test]
fn the_cli_prints_the_same_maps() {
    let (code, out, err) = run(
        repo(),
        &["netmap", "--env", "release", "--format", "mermaid"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        std::fs::read_to_string(fixtures().join("openim-release.mmd")).unwrap()
    );
    let (code, out, _) = run(repo(), &["netmap", "--env", "dev", "--format", "dot"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        std::fs::read_to_string(fixtures().join("openim-dev.dot")).unwrap()
    );
    let (code, out, _) = run(repo(), &["netmap", "--env", "test", "--format", "json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["environment"], "test");

    // Mermaid and DOT are netmap's; markdown and SARIF are not. Each command's parser says which
    // values it takes. The map does not depend on image tags: netmap takes no tag flags.
    for (args, says) in [
        (
            &["check", "--format", "mermaid"][..],
            "[possible values: human, json, sarif, github]",
        ),
        (
            &["render", "--all", "--format", "dot"][..],
            "[possible values: human, json]",
        ),
        (
            &["netmap", "--env", "dev", "--format", "markdown"][..],
            "[possible values: human, json, mermaid, dot]",
        ),
        (
            &["netmap", "--env", "dev", "--format", "sarif"][..],
            "[possible values: human, json, mermaid, dot]",
        ),
        (
            &["netmap", "--env", "dev", "--tag", "golden"][..],
            "unexpected argument '--tag'",
        ),
    ] {
        let (code, _, err) = run(repo(), args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

fn replace(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_policy_change_shows_added_and_lost_paths() {
    let head = tempfile::tempdir().unwrap();
    common::copy_dir(&repo().join("environments"), head.path());
    let policies = head.path().join("base/network-policies");
    // openim-push may no longer call openim-msggateway ...
    replace(
        &policies.join("10-workloads-ingress.yaml"),
        "                  - openim-api\n                  - openim-push\n      ports:\n        - port: 10140",
        "                  - openim-api\n      ports:\n        - port: 10140",
    );
    // ... the crontask may now call openim-rpc-user (both sides allow it) ...
    replace(
        &policies.join("10-workloads-ingress.yaml"),
        "                  - openim-rpc-third\n      ports:\n        - port: 10320",
        "                  - openim-rpc-third\n                  - openim-crontask\n      ports:\n        - port: 10320",
    );
    replace(
        &policies.join("20-workloads-egress.yaml"),
        "app.kubernetes.io/name: openim-crontask\n  policyTypes: [Egress]\n  egress:\n",
        "app.kubernetes.io/name: openim-crontask\n  policyTypes: [Egress]\n  egress:\n    - to:\n        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: openim-rpc-user\n      ports:\n        - port: 10320\n          protocol: TCP\n",
    );
    // ... and openim-api gains a metrics port towards msggateway that msggateway does not accept.
    replace(
        &policies.join("20-workloads-egress.yaml"),
        "              app.kubernetes.io/name: openim-msggateway\n      ports:\n        - port: 10140\n          protocol: TCP\n",
        "              app.kubernetes.io/name: openim-msggateway\n      ports:\n        - port: 10140\n          protocol: TCP\n        - port: 12140\n          protocol: TCP\n",
    );
    let (base_tree, base) = compiled(&repo().join("environments"), "dev");
    let (head_tree, after) = compiled(head.path(), "dev");
    let d = netmap::compare(&base, &after);
    let show = |list: &[netmap::PathChange]| -> Vec<String> {
        list.iter()
            .map(|c| {
                format!(
                    "{} -> {}: {}",
                    d.nodes[&c.from].label,
                    d.nodes[&c.to].label,
                    c.ports.join(", ")
                )
            })
            .collect()
    };
    assert_eq!(
        show(&d.added),
        ["openim-crontask -> openim-rpc-user: 10320/TCP"]
    );
    assert_eq!(
        show(&d.lost),
        ["openim-push -> openim-msggateway: 10140/TCP"]
    );
    assert_snapshot(&fixtures().join("diff-dev.md"), &format::diff_markdown(&d));

    // In the diff as a whole: the section sits in the environment's summary, in text and JSON too.
    let mut env_diff = openim_gitops::diff::compare("dev", &base_tree, &head_tree);
    assert_eq!(env_diff.changes.len(), 4, "four policies changed");
    env_diff.paths = Some(d);
    let sides = Sides {
        base: "base".into(),
        head: "head".into(),
    };
    let md = markdown(
        std::slice::from_ref(&env_diff),
        &sides,
        GITHUB_COMMENT_LIMIT,
    );
    assert!(
        md.contains("**Network paths** (from the NetworkPolicies): 1 added, 1 lost"),
        "{md}"
    );
    assert!(md.contains("```mermaid\nflowchart LR\n"), "{md}");
    let txt = text(std::slice::from_ref(&env_diff), &sides);
    assert!(
        txt.contains("network paths: 1 added, 1 lost (dev):\n  + openim-crontask -> openim-rpc-user: 10320/TCP\n  - openim-push -> openim-msggateway: 10140/TCP\n"),
        "{txt}"
    );
    let json = openim_gitops::diff::format::json(std::slice::from_ref(&env_diff), &sides);
    assert_eq!(
        json["environments"][0]["paths"]["lost"][0]["to"],
        "openim-dev/Deployment/openim-msggateway"
    );
}

#[test]
fn alike_workloads_are_one_node_listing_its_members() {
    // The two KubeBlocks components of the Redis cluster are selected and admitted by the same rules:
    // one class, drawn once, whose members every format lists.
    let map = map_of(&repo().join("environments"), "release");
    let redis = &map.nodes["openim-release/Cluster/openim-redis/redis"];
    assert_eq!(redis.label, "openim-redis/redis (+1 more)");
    let members: Vec<&str> = redis.members.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(
        members,
        ["openim-redis/redis", "openim-redis/redis-sentinel"]
    );
    assert_eq!(
        map.class_of["openim-release/Cluster/openim-redis/redis-sentinel"],
        "openim-release/Cluster/openim-redis/redis"
    );
    assert!(!map
        .nodes
        .contains_key("openim-release/Cluster/openim-redis/redis-sentinel"));
    // A path to the class is a path to each member.
    let paths = map.paths();
    for member in ["redis", "redis-sentinel"] {
        let key = (
            "openim-release/Deployment/openim-api".to_string(),
            format!("openim-release/Cluster/openim-redis/{member}"),
        );
        assert_eq!(paths[&key].to_string(), "6379/TCP");
    }
    let text = format::text(&map);
    assert!(
        text.starts_with("release: 21 workloads in 20 classes, 5 peers outside, 172 paths\n"),
        "{text}"
    );
    assert!(text.ends_with(
        "\nclasses (workloads the NetworkPolicies treat alike):\nopenim-redis/redis (+1 more): openim-redis/redis, openim-redis/redis-sentinel\n"
    ));
    let json = format::json(&map);
    let node = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "openim-release/Cluster/openim-redis/redis")
        .unwrap();
    assert_eq!(
        node["members"][1]["id"],
        "openim-release/Cluster/openim-redis/redis-sentinel"
    );
    assert_eq!(node["members"][1]["owner"], "Cluster/openim-redis");
    assert!(
        node.get("owner").is_none(),
        "a class of two has no one owner"
    );
    assert!(format::mermaid(&map).contains(
        "  %% n_openim_redis_redis_1_more: openim-redis/redis, openim-redis/redis-sentinel\n"
    ));
}

#[test]
fn focus_from_and_to_draw_one_service() {
    let (code, out, err) = run(
        repo(),
        &["netmap", "--env", "release", "--focus", "openim-api"],
    );
    assert_eq!(code, Some(0), "{err}");
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("release (paths in and out of openim-api): "),
        "{out}"
    );
    let paths: Vec<&str> = lines.take_while(|l| !l.is_empty()).collect();
    assert_eq!(paths.len(), 21, "{out}");
    for p in &paths {
        let (ends, _) = p.split_once(": ").unwrap();
        assert!(
            ends.starts_with("openim-api ->") || ends.ends_with("-> openim-api"),
            "{p}"
        );
    }
    for want in [
        "namespace ingress-nginx -> openim-api: 10002/TCP",
        "openim-api -> openim-msggateway: 10140/TCP",
        "openim-api -> openim-redis/redis (+1 more): 6379/TCP",
    ] {
        assert!(paths.contains(&want), "{want}: {out}");
    }

    // --from and --to, a pattern, and the same picture whichever way a workload is named.
    let expected = "release (paths from openim-crontask to openim-rpc-*): 8 workloads, 0 peers outside, 3 paths
openim-crontask -> openim-rpc-conversation: 10220/TCP
openim-crontask -> openim-rpc-msg: 10280/TCP
openim-crontask -> openim-rpc-third: 10300/TCP
";
    let (code, out, err) = run(
        repo(),
        &[
            "netmap",
            "--env",
            "release",
            "--from",
            "openim-crontask",
            "--to",
            "openim-rpc-*",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, expected);
    let (_, out, _) = run(
        repo(),
        &[
            "netmap",
            "--env",
            "release",
            "--from",
            "openim-release/Deployment/openim-crontask",
            "--to",
            "openim-rpc-*",
        ],
    );
    assert_eq!(
        out,
        expected.replace(
            "paths from openim-crontask",
            "paths from openim-release/Deployment/openim-crontask"
        )
    );

    // A member focused on is drawn on its own; the rest of its class stays one node.
    let (code, out, _) = run(
        repo(),
        &[
            "netmap",
            "--env",
            "release",
            "--to",
            "openim-release/openim-redis",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["focus"], "paths to openim-release/openim-redis");
    let ids: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "workload")
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"openim-release/Cluster/openim-redis/redis"));
    assert!(ids.contains(&"openim-release/Cluster/openim-redis/redis-sentinel"));
    assert!(v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["to"].as_str().unwrap().contains("openim-redis")));

    // Names that match nothing, and --focus with --from, are usage errors.
    for (args, says) in [
        (
            &["netmap", "--env", "release", "--focus", "openim-apii"][..],
            "no workload of release is named `openim-apii`",
        ),
        (
            &[
                "netmap",
                "--env",
                "release",
                "--from",
                "openim-api",
                "--to",
                "nothing*",
            ][..],
            "no workload of release is named `nothing*`",
        ),
        (
            &[
                "netmap",
                "--env",
                "release",
                "--focus",
                "openim-api",
                "--from",
                "openim-api",
            ][..],
            "cannot be used with",
        ),
    ] {
        let (code, out, err) = run(repo(), args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
