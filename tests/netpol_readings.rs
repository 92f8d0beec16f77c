//! A differential test of the three readers of NetworkPolicies: every policy of the fixtures, of the
//! repository's environments and of `tests/fixtures/netpol-readings/` (small adversarial ones) is put
//! beside a Deployment it selects, and `check` (which directions `netpol/workload-not-selected` finds
//! selected), `netmap` (which directions the map isolates) and `diff` (which directions a change to a
//! policy of the other direction alone says are no longer restricted) must give one answer: the one
//! Kubernetes gives (`policyTypes` as written, or Ingress plus Egress when there are egress rules).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openim_gitops::check::{self, Context, Policy};
use openim_gitops::diff::{risk, ChangeKind};
use openim_gitops::k8s::netpol::{Direction, NetworkPolicy};
use openim_gitops::k8s::selector::Op;
use openim_gitops::k8s::Labels;
use openim_gitops::netmap;
use openim_gitops::node::{FileRole, Node, Sources};
use openim_gitops::resource::Resource;

/// Every YAML file below `dir`, sorted.
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

/// Every NetworkPolicy document of the corpus, with the file it came from.
fn corpus(sources: &mut Sources) -> Vec<(String, Node)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests/fixtures", "environments"] {
        yaml_files(&root.join(dir), &mut files);
    }
    let mut out = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !text.contains("NetworkPolicy") {
            continue;
        }
        let id = sources.add(&path, Arc::from(text.as_str()), FileRole::Other);
        let Ok(docs) = openim_gitops::load::yaml::parse(id, sources.get(id)) else {
            continue; // fixtures of load errors
        };
        for d in docs {
            let r = Resource::new(d.root.clone());
            if NetworkPolicy::read(&r).is_some() {
                out.push((format!("{} {}", path.display(), r.name()), d.root));
            }
        }
    }
    out
}

fn yaml(sources: &mut Sources, text: &str) -> Node {
    let id = sources.add(
        Path::new("generated.yaml"),
        Arc::from(text),
        FileRole::Other,
    );
    let docs =
        openim_gitops::load::yaml::parse(id, sources.get(id)).expect("generated YAML parses");
    docs.into_iter().next().expect("one document").root
}

/// Labels a pod must carry for a selector to match it, or `None` when no labels can.
fn labels_for(pol: &NetworkPolicy<'_>) -> Option<Labels> {
    let mut labels = Labels::new();
    for r in &pol.pod_selector.requirements {
        match r.op {
            Op::In => {
                labels.insert(r.key.clone(), r.values.first()?.clone());
            }
            Op::Exists => {
                labels.insert(r.key.clone(), "x".into());
            }
            Op::NotIn | Op::DoesNotExist => {}
            Op::Unknown => return None,
        }
    }
    pol.pod_selector.matches(&labels).then_some(labels)
}

fn deployment(sources: &mut Sources, namespace: &str, labels: &Labels) -> Node {
    let labels = serde_json::to_string(labels).expect("labels as JSON");
    yaml(
        sources,
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: probe, namespace: '{namespace}'}}\n\
             spec:\n  template:\n    metadata: {{labels: {labels}}}\n    spec:\n      containers:\n\
             \x20       - {{name: main, image: 'example/probe:1.0.0', ports: [{{containerPort: 8080, name: http}}]}}\n"
        ),
    )
}

/// check: the directions `netpol/workload-not-selected` does not report for the probe.
fn check_answer(sources: &Sources, resources: &[Resource]) -> (bool, bool) {
    let policy = Policy::default();
    let ctx = Context::new(None, resources, sources, None, &policy);
    let found: Vec<String> = check::run(&ctx)
        .into_iter()
        .filter(|f| {
            f.code() == "netpol/workload-not-selected" && f.message.contains("Deployment/probe")
        })
        .map(|f| f.message)
        .collect();
    match found.as_slice() {
        [] => (true, true),
        [m] if m.ends_with("all traffic to and from them is allowed") => (false, false),
        [m] if m.contains("for ingress and egress:") => (false, false),
        [m] if m.contains("for ingress:") => (false, true),
        [m] if m.contains("for egress:") => (true, false),
        other => panic!("unexpected findings: {other:?}"),
    }
}

/// diff: for each direction, whether replacing the policy by one that applies only in the other
/// direction is read as "no longer restricts" this one.
fn diff_answer(sources: &mut Sources, policy: &Node) -> (bool, bool) {
    let selector = policy
        .path(&["spec", "podSelector"])
        .map(|n| n.to_json().to_string())
        .unwrap_or_else(|| "{}".into());
    let mut answer = [false, false];
    for (i, dir) in Direction::BOTH.into_iter().enumerate() {
        let head = yaml(
            sources,
            &format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: x}}\n\
                 spec: {{podSelector: {selector}, policyTypes: [{}]}}\n",
                dir.other().policy_type()
            ),
        );
        let risks = risk::assess(
            "NetworkPolicy",
            ChangeKind::Changed,
            Some(policy),
            Some(&head),
        );
        let said = format!("no longer restricts {} traffic", dir.policy_type());
        answer[i] = risks.iter().any(|r| r.contains(&said));
    }
    (answer[0], answer[1])
}

#[test]
fn check_netmap_and_diff_read_every_policy_alike() {
    let mut sources = Sources::new();
    let policies = corpus(&mut sources);
    assert!(
        policies.len() >= 40,
        "the corpus holds the fixtures' and environments' policies: {}",
        policies.len()
    );
    let adversarial = policies
        .iter()
        .filter(|(name, _)| name.contains("netpol-readings"))
        .count();
    assert_eq!(adversarial, 7);
    let mut compared = 0;
    for (name, node) in &policies {
        let r = Resource::new(node.clone());
        let pol = NetworkPolicy::read(&r).expect("a NetworkPolicy");
        let Some(labels) = labels_for(&pol) else {
            continue;
        };
        let kubernetes = (
            pol.applies(Direction::Ingress),
            pol.applies(Direction::Egress),
        );
        let namespace = pol.namespace.to_string();
        let probe = deployment(&mut sources, &namespace, &labels);
        let resources = vec![Resource::new(probe), r.clone()];
        let check = check_answer(&sources, &resources);
        let map = netmap::isolation(&resources);
        let netmap = *map
            .iter()
            .find(|(id, _)| id.ends_with("/Deployment/probe"))
            .map(|(_, v)| v)
            .expect("the probe is on the map");
        let diff = diff_answer(&mut sources, node);
        assert_eq!(
            (check, netmap, diff),
            (kubernetes, kubernetes, kubernetes),
            "{name}: (check, netmap, diff) disagree with Kubernetes' (ingress, egress)"
        );
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} policies compared");
}

#[test]
fn the_adversarial_policies_read_as_kubernetes_reads_them() {
    let mut sources = Sources::new();
    let policies = corpus(&mut sources);
    let dirs = |name: &str| {
        let (_, node) = policies
            .iter()
            .find(|(n, _)| n.contains("netpol-readings") && n.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name} is in the corpus"));
        let r = Resource::new(node.clone());
        let p = NetworkPolicy::read(&r).expect("a NetworkPolicy");
        (p.applies(Direction::Ingress), p.applies(Direction::Egress))
    };
    assert_eq!(dirs("empty-types"), (true, false));
    assert_eq!(dirs("empty-types-with-egress"), (true, true));
    assert_eq!(dirs("empty-egress-list"), (true, false));
    assert_eq!(dirs("egress-only-with-ingress-rules"), (false, true));
    assert_eq!(dirs("ingress-only-with-egress-rules"), (true, false));
    assert_eq!(dirs("unknown-type"), (false, false));
    assert_eq!(dirs("namespace-terms"), (true, true));
}
