//! A changed NetworkPolicy in words, read against its environment through [`crate::netmap`]: which of
//! the environment's workloads a rule now admits or no longer admits (and on which ports), and what
//! that does to the paths between workloads, which need both ends' policies: a path opened, a path
//! that already existed, or no path at all because the other end's policy still blocks it.

use std::collections::BTreeSet;

use crate::k8s::netpol::{Direction, NetworkPolicy};
use crate::netmap::{Blocked, NetMap, Reading};
use crate::resource::Resource;

/// Whether a risk line is one of [`super::risk`]'s rule-by-rule readings, which [`reasons`] replaces
/// when it can name the workloads.
pub fn is_rule_reading(risk: &str) -> bool {
    risk.starts_with("NetworkPolicy loosened: ingress ")
        || risk.starts_with("NetworkPolicy loosened: egress ")
}

/// The words for a NetworkPolicy changed from `old` (in `base`) to `new` (in `head`), and its effect
/// on the paths; the readings and maps are those of the two sides, made once for every changed policy.
/// Empty when either revision does not read as a NetworkPolicy.
pub fn reasons(
    old: &Resource,
    new: &Resource,
    base: &Reading<'_>,
    head: &Reading<'_>,
    base_map: &NetMap,
    head_map: &NetMap,
) -> (Vec<String>, Vec<String>) {
    let (Some(o), Some(n)) = (NetworkPolicy::read(old), NetworkPolicy::read(new)) else {
        return (Vec::new(), Vec::new());
    };
    let mut out = Vec::new();
    let mut effects = Vec::new();
    let ends = head.selected(&n);
    for dir in Direction::BOTH {
        let word = match dir {
            Direction::Ingress => "ingress from",
            Direction::Egress => "egress to",
        };
        let before = base.reach(&o, dir);
        let after = head.reach(&n, dir);
        // Only meaningful when the policy restricts this direction on both sides.
        if !(o.applies(dir) && n.applies(dir)) {
            continue;
        }
        let mut gained = Vec::new();
        for (id, (peer, ports)) in &after {
            let now: BTreeSet<String> = ports.texts().into_iter().collect();
            match before.get(id) {
                None => {
                    out.push(format!("{word} {} added ({ports})", peer.label));
                    gained.push(id.clone());
                }
                Some((_, old_ports)) => {
                    let then: BTreeSet<String> = old_ports.texts().into_iter().collect();
                    let more: Vec<&String> = now.difference(&then).collect();
                    let less: Vec<&String> = then.difference(&now).collect();
                    if !more.is_empty() || !less.is_empty() {
                        out.push(format!(
                            "{word} {}: ports {old_ports} -> {ports}",
                            peer.label
                        ));
                    }
                    if !more.is_empty() {
                        gained.push(id.clone());
                    }
                }
            }
        }
        for (id, (peer, ports)) in &before {
            if !after.contains_key(id) {
                out.push(format!("{word} {} removed (was {ports})", peer.label));
            }
        }
        // The effect on paths, from both ends' policies.
        for id in &gained {
            let label = |x: &str| head_map.label(x).to_string();
            for end in ends.keys() {
                let (from, to) = match dir {
                    Direction::Ingress => (id.as_str(), end.as_str()),
                    Direction::Egress => (end.as_str(), id.as_str()),
                };
                if from == to {
                    continue;
                }
                let path = format!("{} -> {}", label(from), label(to));
                let effect = match (head_map.path(from, to), base_map.path(from, to)) {
                    (Some(now), Some(then)) if now == then => format!(
                        "no effective change for {path}: it was already allowed ({now}) by the other rules"
                    ),
                    (Some(now), _) => format!("opens the path {path} ({now})"),
                    (None, _) => match head.blocked(from, to) {
                        Some(Blocked::Egress(pols)) => format!(
                            "no effective path {path}: {}'s egress still allows no traffic to it ({})",
                            label(from),
                            policy_list(&pols),
                        ),
                        Some(Blocked::Ingress(pols)) => format!(
                            "no effective path {path}: {}'s ingress still allows no traffic from it ({})",
                            label(to),
                            policy_list(&pols)
                        ),
                        Some(Blocked::Ports { egress, ingress }) => format!(
                            "no effective path {path}: the source may send on {egress} but the destination admits only {ingress}"
                        ),
                        None => format!("no effective path {path}"),
                    },
                };
                effects.push(effect);
            }
        }
    }
    (out, effects)
}

fn policy_list(names: &[String]) -> String {
    let word = if names.len() == 1 {
        "NetworkPolicy"
    } else {
        "NetworkPolicies"
    };
    format!("{word} {}", names.join(", "))
}
