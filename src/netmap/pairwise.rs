//! The map as it was computed before classes: every pair of workloads tried in turn. Kept only to
//! hold the class map to its meaning: expanded to single workloads ([`NetMap::paths`]), the class map
//! must give these paths, with these ports, on the OpenIM environments and on every NetworkPolicy
//! fixture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::reading::{admits_pod, anywhere, one_namespace, outside, resolve, workload};
use super::*;
use crate::k8s::netpol::{self, Direction, NetworkPolicy};
use crate::k8s::Pods;
use crate::node::{FileRole, Sources};

/// Every path between single workloads and outside peers, pair by pair, and every node's label.
fn pairwise(
    resources: &[Resource],
) -> (BTreeMap<(String, String), Ports>, BTreeMap<String, String>) {
    let pods = k8s::pods(resources);
    let policies = netpol::policies(resources);
    let ns_labels = k8s::namespace_labels(resources);
    let one_namespace = one_namespace(&pods);
    let mut edges: BTreeMap<(String, String), Ports> = BTreeMap::new();
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |from: &str, to: &str, ports: Ports| {
        if !ports.is_empty() {
            edges
                .entry((from.to_string(), to.to_string()))
                .or_default()
                .extend(ports);
        }
    };
    let ids: Vec<String> = pods
        .iter()
        .map(|p| {
            let (id, peer) = workload(p, one_namespace);
            labels.insert(id.clone(), peer.label);
            id
        })
        .collect();
    let isolating = |p: &Pods<'_>, dir: Direction| -> Option<Vec<&NetworkPolicy<'_>>> {
        let list: Vec<&NetworkPolicy<'_>> = policies
            .iter()
            .filter(|pol| pol.applies(dir) && pol.selects(p.namespace, &p.labels))
            .collect();
        (!list.is_empty()).then_some(list)
    };
    let ingress: Vec<_> = pods
        .iter()
        .map(|p| isolating(p, Direction::Ingress))
        .collect();
    let egress: Vec<_> = pods
        .iter()
        .map(|p| isolating(p, Direction::Egress))
        .collect();
    let allowed =
        |pols: &[&NetworkPolicy<'_>], dir: Direction, other: &Pods<'_>, dest: &Pods<'_>| {
            let mut ports = Ports::default();
            for pol in pols {
                for rule in pol.rules(dir) {
                    if admits_pod(rule, pol.namespace, other, &ns_labels) {
                        ports.extend(resolve(&rule.ports, dest.ports.as_deref()));
                    }
                }
            }
            ports
        };
    for (a, from) in pods.iter().enumerate() {
        for (b, to) in pods.iter().enumerate() {
            let out = match &egress[a] {
                None => Ports::any(),
                Some(pols) => allowed(pols, Direction::Egress, to, to),
            };
            if out.is_empty() {
                continue;
            }
            let inn = match &ingress[b] {
                None => Ports::any(),
                Some(pols) => allowed(pols, Direction::Ingress, from, to),
            };
            add(&ids[a], &ids[b], out.intersect(&inn));
        }
    }
    for (i, p) in pods.iter().enumerate() {
        for (dir, isolated) in [
            (Direction::Ingress, &ingress[i]),
            (Direction::Egress, &egress[i]),
        ] {
            let found: Vec<(String, Peer, Ports)> = match isolated {
                None => vec![(anywhere().0, anywhere().1, Ports::any())],
                Some(pols) => pols
                    .iter()
                    .flat_map(|pol| {
                        pol.rules(dir).iter().flat_map(|rule| {
                            let ports = match dir {
                                Direction::Ingress => resolve(&rule.ports, p.ports.as_deref()),
                                Direction::Egress => resolve(&rule.ports, None),
                            };
                            outside(rule, &ns_labels)
                                .into_iter()
                                .map(move |(id, peer)| (id, peer, ports.clone()))
                        })
                    })
                    .collect(),
            };
            for (id, peer, ports) in found {
                labels.entry(id.clone()).or_insert(peer.label);
                match dir {
                    Direction::Ingress => add(&id, &ids[i], ports),
                    Direction::Egress => add(&ids[i], &id, ports),
                }
            }
        }
    }
    (edges, labels)
}

/// The class map's paths, expanded, and every node's (or member's) label.
fn expanded(map: &NetMap) -> (BTreeMap<(String, String), Ports>, BTreeMap<String, String>) {
    let mut labels = BTreeMap::new();
    for (id, node) in &map.nodes {
        if node.members.is_empty() {
            labels.insert(id.clone(), node.label.clone());
        }
        for m in &node.members {
            labels.insert(m.id.clone(), m.label.clone());
        }
    }
    (map.paths(), labels)
}

fn assert_same_meaning(what: &str, resources: &[Resource]) -> usize {
    let map = build("t", resources);
    let (paths, labels) = expanded(&map);
    let (old_paths, old_labels) = pairwise(resources);
    assert_eq!(paths, old_paths, "{what}: the paths differ");
    assert_eq!(labels, old_labels, "{what}: the nodes differ");
    // Every member is in exactly one class, and the lookup agrees.
    let members: usize = map.nodes.values().map(|n| n.members.len()).sum();
    assert_eq!(members, map.class_of.len(), "{what}");
    old_paths.len()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// One environment of the tree under `root` (a folder holding `base/` and the environments),
/// compiled without tags.
pub(crate) fn compiled(root: &Path, env: &str) -> Vec<Resource> {
    use crate::load::{DiskFiles, Loader};
    let mut sources = Sources::new();
    let envs = crate::pipeline::select_envs(&DiskFiles, root, &[env.to_string()], false).unwrap();
    let mut loader = Loader::new(&DiskFiles, &mut sources);
    crate::pipeline::compile(
        &mut loader,
        &envs[0].0,
        &envs[0].1,
        &crate::tags::TagInputs::default(),
        None,
    )
    .unwrap()
    .build
    .resources
}

#[test]
fn the_class_map_means_the_pairwise_map_on_the_openim_environments() {
    for env in ["dev", "test", "release"] {
        let resources = compiled(&repo().join("environments"), env);
        let paths = assert_same_meaning(env, &resources);
        assert!(paths > 150, "{env}: {paths} paths");
    }
}

#[test]
fn the_class_map_means_the_pairwise_map_on_every_network_policy_fixture() {
    let mut files = Vec::new();
    for dir in ["tests/fixtures", "environments"] {
        yaml_files(&repo().join(dir), &mut files);
    }
    let mut sources = Sources::new();
    let mut all = Vec::new();
    let mut compared = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !text.contains("NetworkPolicy") {
            continue;
        }
        let id = sources.add(&path, Arc::from(text.as_str()), FileRole::Other);
        let Ok(docs) = crate::load::yaml::parse(id, sources.get(id)) else {
            continue; // fixtures of load errors
        };
        let resources: Vec<Resource> = docs.into_iter().map(|d| Resource::new(d.root)).collect();
        if netpol::policies(&resources).is_empty() {
            continue;
        }
        // The file alone, and its policies beside a pod each one selects.
        assert_same_meaning(&path.display().to_string(), &resources);
        all.extend(resources);
        compared += 1;
    }
    assert!(compared >= 20, "{compared} files");
    // Every fixture in one tree: policies of many files select and admit each other's pods.
    assert_same_meaning("every fixture together", &all);
}

/// Each (added?, from, to, port) a class diff stands for, expanded to single workloads.
fn expand_diff(d: &MapDiff) -> BTreeSet<(bool, String, String, String)> {
    let ends = |id: &str| -> Vec<String> {
        match d.nodes.get(id) {
            Some(p) if !p.members.is_empty() => p.members.iter().map(|m| m.id.clone()).collect(),
            _ => vec![id.to_string()],
        }
    };
    let mut out = BTreeSet::new();
    for (added, list) in [(true, &d.added), (false, &d.lost)] {
        for c in list {
            for a in ends(&c.from) {
                for b in ends(&c.to) {
                    for p in &c.ports {
                        out.insert((added, a.clone(), b.clone(), p.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The same, path by path from the two expanded maps.
fn pairwise_diff(base: &NetMap, head: &NetMap) -> BTreeSet<(bool, String, String, String)> {
    let (b, h) = (base.paths(), head.paths());
    let mut out = BTreeSet::new();
    for key in b.keys().chain(h.keys()) {
        let texts = |m: &BTreeMap<(String, String), Ports>| -> BTreeSet<String> {
            m.get(key)
                .map(|p| p.texts().into_iter().collect())
                .unwrap_or_default()
        };
        let (old, new) = (texts(&b), texts(&h));
        for p in new.difference(&old) {
            out.insert((true, key.0.clone(), key.1.clone(), p.clone()));
        }
        for p in old.difference(&new) {
            out.insert((false, key.0.clone(), key.1.clone(), p.clone()));
        }
    }
    out
}

/// `n` Deployments in namespace `a`, each with its own policy admitting its whole namespace; `edit`
/// may change each app's YAML text.
pub(crate) fn alike(n: usize, edit: impl Fn(usize, String) -> String) -> Vec<Resource> {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&edit(i, format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{i:02}, namespace: a}}\n\
             spec:\n  template:\n    metadata: {{labels: {{app: app{i:02}}}}}\n    spec:\n      \
             containers: [{{name: main, image: 'x:1', ports: [{{containerPort: 8080}}]}}]\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: app{i:02}, namespace: a}}\n\
             spec:\n  podSelector: {{matchLabels: {{app: app{i:02}}}}}\n  policyTypes: [Ingress]\n  \
             ingress: [{{from: [{{podSelector: {{}}}}]}}]\n---\n"
        )));
    }
    let mut sources = Sources::new();
    let id = sources.add(
        Path::new("alike.yaml"),
        Arc::from(text.as_str()),
        FileRole::Other,
    );
    crate::load::yaml::parse(id, sources.get(id))
        .unwrap()
        .into_iter()
        .map(|d| Resource::new(d.root))
        .collect()
}

#[test]
fn the_class_diff_means_the_pairwise_diff() {
    let base = alike(30, |_, t| t);
    // app05 admits only port 8080, app07 has no policy, app09 admits only its own namespace's app00.
    let head = alike(30, |i, t| match i {
        5 => t.replace(
            "ingress: [{from: [{podSelector: {}}]}]",
            "ingress: [{from: [{podSelector: {}}], ports: [{port: 8080}]}]",
        ),
        7 => t.split("---\n").next().unwrap().to_string() + "---\n",
        9 => t.replace(
            "from: [{podSelector: {}}]",
            "from: [{podSelector: {matchLabels: {app: app00}}}]",
        ),
        _ => t,
    });
    let (b, h) = (build("t", &base), build("t", &head));
    let d = compare(&b, &h);
    assert_eq!(expand_diff(&d), pairwise_diff(&b, &h));
    assert!(!d.is_empty());
    // Few lines: the 26 workloads still alike stay one group.
    assert_eq!(d.added.len() + d.lost.len(), 15, "{d:#?}");
    let text = super::format::diff_text(&d);
    assert!(
        text.contains("  - app01 (+25 more) -> app09: any port\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "    app01 (+25 more): app01, app02, app03, app04, app06, app08, app10, app11,"
        ),
        "{text}"
    );

    // And against a much smaller tree of the same shape.
    let a = alike(3, |_, t| t);
    assert_eq!(
        expand_diff(&compare(&b, &build("t", &a))),
        pairwise_diff(&b, &build("t", &a))
    );
}

#[test]
fn alike_workloads_are_one_class() {
    // 40 Deployments, each with its own policy admitting its whole namespace: one class, one path
    // among its members, one to anywhere (egress is open).
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{i:02}, namespace: a}}\n\
             spec:\n  template:\n    metadata: {{labels: {{app: app{i:02}}}}}\n    spec:\n      \
             containers: [{{name: main, image: 'x:1', ports: [{{containerPort: 8080}}]}}]\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: app{i:02}, namespace: a}}\n\
             spec:\n  podSelector: {{matchLabels: {{app: app{i:02}}}}}\n  policyTypes: [Ingress]\n  \
             ingress: [{{from: [{{podSelector: {{}}}}]}}]\n---\n"
        ));
    }
    let mut sources = Sources::new();
    let id = sources.add(
        Path::new("alike.yaml"),
        Arc::from(text.as_str()),
        FileRole::Other,
    );
    let resources: Vec<Resource> = crate::load::yaml::parse(id, sources.get(id))
        .unwrap()
        .into_iter()
        .map(|d| Resource::new(d.root))
        .collect();
    let map = build("t", &resources);
    assert_eq!(map.nodes.len(), 2, "{:?}", map.nodes.keys());
    let class = &map.nodes["a/Deployment/app00"];
    assert_eq!(class.members.len(), 40);
    assert_eq!(class.label, "app00 (+39 more)");
    assert_eq!(map.edges.len(), 2);
    assert_eq!(assert_same_meaning("alike", &resources), 40 * 40 + 40);
}
