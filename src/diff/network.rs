//! A changed NetworkPolicy in words, read against its environment through [`crate::netmap`]: which of
//! the environment's workloads a rule now admits or no longer admits (and on which ports), and what
//! that does to the paths between workloads, which need both ends' policies: a path opened, a path
//! that already existed, or no path at all because the other end's policy still blocks it.

use std::collections::{BTreeSet, HashMap};

use crate::k8s::netpol::{Direction, NetworkPolicy};
use crate::netmap::{Blocked, NetMap, Reading};
use crate::resource::Resource;

/// Whether a risk line is one of [`super::risk`]'s rule-by-rule readings, which [`reasons`] replaces
/// when it can name the workloads.
pub fn is_rule_reading(risk: &str) -> bool {
    risk.starts_with("NetworkPolicy loosened: ingress ")
        || risk.starts_with("NetworkPolicy loosened: egress ")
}

/// What a change to one policy's rules in one direction does to the workloads they admit: the lines,
/// and the workloads (map ids) admitted on more ports than before.
type Words = (Vec<String>, Vec<String>);

/// Reads changed NetworkPolicies against the two sides of a diff: one [`Reading`] and one map per side,
/// shared by every changed policy, and the words of each change to a policy's rules remembered by
/// what the rules say (a tree of alike apps often changes all their policies the same way).
pub struct Reader<'r, 'a> {
    pub base: &'r Reading<'a>,
    pub head: &'r Reading<'a>,
    pub base_map: &'r NetMap,
    pub head_map: &'r NetMap,
    words: HashMap<String, Words>,
}

impl<'r, 'a> Reader<'r, 'a> {
    pub fn new(
        base: &'r Reading<'a>,
        head: &'r Reading<'a>,
        base_map: &'r NetMap,
        head_map: &'r NetMap,
    ) -> Self {
        Reader {
            base,
            head,
            base_map,
            head_map,
            words: HashMap::new(),
        }
    }

    /// The words for the rules of one direction changed from `o`'s to `n`'s.
    fn words(&mut self, o: &NetworkPolicy<'_>, n: &NetworkPolicy<'_>, dir: Direction) -> &Words {
        let rules = |p: &NetworkPolicy<'_>| -> String {
            let list: Vec<serde_json::Value> =
                p.rules(dir).iter().map(|r| r.node.to_json()).collect();
            format!("{}\u{0}{}", p.namespace, serde_json::Value::from(list))
        };
        let key = format!("{:?}\u{0}{}\u{0}{}", dir, rules(o), rules(n));
        let (base, head, head_map) = (self.base, self.head, self.head_map);
        self.words.entry(key).or_insert_with(|| {
            let word = match dir {
                Direction::Ingress => "ingress from",
                Direction::Egress => "egress to",
            };
            let before = base.reach(o, dir);
            let after = head.reach(n, dir);
            // (what changed, the workload) in order; alike lines become one below.
            let mut changes: Vec<(String, &String)> = Vec::new();
            let mut gained = Vec::new();
            for (id, (_, ports)) in &after {
                let now: BTreeSet<String> = ports.texts().into_iter().collect();
                match before.get(id) {
                    None => {
                        changes.push((format!("added ({ports})"), id));
                        gained.push(id.clone());
                    }
                    Some((_, old_ports)) => {
                        let then: BTreeSet<String> = old_ports.texts().into_iter().collect();
                        if now != then {
                            changes.push((format!(": ports {old_ports} -> {ports}"), id));
                        }
                        // Gained: a port the old rules did not allow (`any port` -> `8080/TCP`
                        // narrows, it gains nothing).
                        if ports.intersect(old_ports) != *ports {
                            gained.push(id.clone());
                        }
                    }
                }
            }
            for (id, (_, ports)) in &before {
                if !after.contains_key(id) {
                    changes.push((format!("removed (was {ports})"), id));
                }
            }
            let mut lines: Vec<(String, Vec<&String>)> = Vec::new();
            for (what, id) in changes {
                match lines.iter_mut().find(|l| l.0 == what) {
                    Some(l) => l.1.push(id),
                    None => lines.push((what, vec![id])),
                }
            }
            let label = |id: &str| -> String {
                after
                    .get(id)
                    .or_else(|| before.get(id))
                    .map_or_else(|| head_map.label(id).to_string(), |(p, _)| p.label.clone())
            };
            let out = lines
                .into_iter()
                .map(|(what, ids)| {
                    let who = match ids.len() {
                        1 => label(ids[0]),
                        n => format!("{} (+{} more)", label(ids[0]), n - 1),
                    };
                    match what.strip_prefix(':') {
                        Some(rest) => format!("{word} {who}:{rest}"),
                        None => format!("{word} {who} {what}"),
                    }
                })
                .collect();
            (out, gained)
        })
    }

    /// The words for a NetworkPolicy changed from `old` (in the base) to `new` (in the head), and its
    /// effect on the paths. Empty when either revision does not read as a NetworkPolicy.
    pub fn reasons(&mut self, old: &Resource, new: &Resource) -> (Vec<String>, Vec<String>) {
        let (Some(o), Some(n)) = (NetworkPolicy::read(old), NetworkPolicy::read(new)) else {
            return (Vec::new(), Vec::new());
        };
        let mut out = Vec::new();
        let mut effects = Vec::new();
        let ends = self.head.selected(&n);
        let (base_map, head_map, head) = (self.base_map, self.head_map, self.head);
        for dir in Direction::BOTH {
            // Only meaningful when the policy restricts this direction on both sides.
            if !(o.applies(dir) && n.applies(dir)) {
                continue;
            }
            let (lines, gained) = self.words(&o, &n, dir).clone();
            out.extend(lines);
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
}

fn policy_list(names: &[String]) -> String {
    let word = if names.len() == 1 {
        "NetworkPolicy"
    } else {
        "NetworkPolicies"
    };
    format!("{word} {}", names.join(", "))
}
