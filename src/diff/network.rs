//! A changed NetworkPolicy in words, read against its environment through [`crate::netmap`]: which of
//! the environment's workloads a rule now admits or no longer admits (and on which ports), and what
//! that does to the paths between workloads, which need both ends' policies: a path opened, a path
//! that already existed, or no path at all because the other end's policy still blocks it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::k8s::netpol::{Direction, NetworkPolicy};
use crate::netmap::format::MAX_MEMBERS_SHOWN;
use crate::netmap::{class_label, Blocked, NetMap, Ports, Reading};
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
    /// effect on the paths ([`Reader::effects`] in words, then the members of each group named once).
    /// Empty when either revision does not read as a NetworkPolicy.
    pub fn reasons(&mut self, old: &Resource, new: &Resource) -> (Vec<String>, Vec<String>) {
        let (out, effects) = self.effects(old, new);
        let label = |id: &str| self.head_map.label(id).to_string();
        let mut lines = Vec::new();
        let mut groups: BTreeMap<String, BTreeSet<&[String]>> = BTreeMap::new();
        for e in &effects {
            let (from, to) = (group_label(&e.from, &label), group_label(&e.to, &label));
            lines.push(e.what.text(&from, &to));
            for (name, ids) in [(from, &e.from), (to, &e.to)] {
                if ids.len() > 1 {
                    groups.entry(name).or_default().insert(ids);
                }
            }
        }
        for (name, lists) in groups {
            for ids in lists {
                let names: Vec<String> = ids.iter().map(|id| label(id)).collect();
                lines.push(format!("{name}: {}", shown(&names)));
            }
        }
        (out, lines)
    }

    /// The words for a NetworkPolicy changed from `old` to `new`, and its effect on the paths between
    /// the workloads whose admission it changed and the workloads it selects, one [`Effect`] per pair
    /// of groups: workloads in the same class of both maps (split further by the policies an end
    /// names when its own policies block the path) have the same paths, so a namespace-wide policy
    /// gaining thousands of peers is a few lines, not one per pair of workloads.
    pub(super) fn effects(&mut self, old: &Resource, new: &Resource) -> (Vec<String>, Vec<Effect>) {
        let (Some(o), Some(n)) = (NetworkPolicy::read(old), NetworkPolicy::read(new)) else {
            return (Vec::new(), Vec::new());
        };
        let mut out = Vec::new();
        let mut effects = Vec::new();
        let ends: Vec<String> = self.head.selected(&n).into_keys().collect();
        for dir in Direction::BOTH {
            // Only meaningful when the policy restricts this direction on both sides.
            if !(o.applies(dir) && n.applies(dir)) {
                continue;
            }
            let (lines, gained) = self.words(&o, &n, dir).clone();
            out.extend(lines);
            let (gained, ends) = (self.groups(&gained), self.groups(&ends));
            let (sources, destinations) = match dir {
                Direction::Ingress => (&gained, &ends),
                Direction::Egress => (&ends, &gained),
            };
            for from in sources {
                for to in destinations {
                    self.effect(from, to, &mut effects);
                }
            }
        }
        (out, effects)
    }

    /// Workloads (map ids, ascending) grouped by their class in the base map and in the head map,
    /// in order of their first member.
    fn groups(&self, ids: &[String]) -> Vec<Vec<String>> {
        let mut by: BTreeMap<(Option<&String>, Option<&String>), Vec<String>> = BTreeMap::new();
        for id in ids {
            let key = (
                self.base_map.class_of.get(id),
                self.head_map.class_of.get(id),
            );
            by.entry(key).or_default().push(id.clone());
        }
        let mut out: Vec<Vec<String>> = by.into_values().collect();
        out.sort();
        out
    }

    /// The effect on the paths from every workload of `from` to every other of `to`: the same for
    /// each pair, as both groups lie in one class of each map, except for the names of the policies
    /// that block it, which split the blocking end's group.
    fn effect(&self, from: &[String], to: &[String], effects: &mut Vec<Effect>) {
        let Some((from, to)) = without_self(from, to) else {
            return;
        };
        let Some(b) = to.iter().find(|b| **b != from[0]) else {
            return;
        };
        let a = &from[0];
        let what = match (self.head_map.path(a, b), self.base_map.path(a, b)) {
            (Some(now), Some(then)) if now == then => What::Already(now.clone()),
            (Some(now), _) => What::Opens(now.clone()),
            (None, _) => match self.head.blocked(a, b) {
                Some(Blocked::Egress(_)) => {
                    for (pols, from) in self.by_policies(&from, Direction::Egress) {
                        push(effects, from, to.clone(), What::Egress(pols));
                    }
                    return;
                }
                Some(Blocked::Ingress(_)) => {
                    for (pols, to) in self.by_policies(&to, Direction::Ingress) {
                        push(effects, from.clone(), to, What::Ingress(pols));
                    }
                    return;
                }
                Some(Blocked::Ports { egress, ingress }) => What::Ports { egress, ingress },
                None => What::Nothing,
            },
        };
        push(effects, from, to, what);
    }

    /// Workloads split by the names of the policies that isolate them in a direction.
    fn by_policies(&self, ids: &[String], dir: Direction) -> BTreeMap<Vec<String>, Vec<String>> {
        let mut out: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
        for id in ids {
            let names = self.head.isolating(id, dir).into_iter().map(str::to_string);
            out.entry(names.collect()).or_default().push(id.clone());
        }
        out
    }
}

/// What a policy change does to the paths from every workload of one group to every other workload
/// of another (a workload's path to itself is never among them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Effect {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub what: What,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum What {
    /// The path was already allowed, on these ports, by the other rules.
    Already(Ports),
    /// The path is now allowed, on these ports.
    Opens(Ports),
    /// No path: the source's egress, under these NetworkPolicies, still allows nothing towards it.
    Egress(Vec<String>),
    /// No path: the destination's ingress, under these NetworkPolicies, still admits nothing from it.
    Ingress(Vec<String>),
    /// No path: the two ends allow no port in common.
    Ports { egress: Ports, ingress: Ports },
    /// No path.
    Nothing,
}

impl What {
    /// The effect in words on the path from `from` to `to` (a workload's label or a group's).
    pub(super) fn text(&self, from: &str, to: &str) -> String {
        let path = format!("{from} -> {to}");
        match self {
            What::Already(now) => format!(
                "no effective change for {path}: it was already allowed ({now}) by the other rules"
            ),
            What::Opens(now) => format!("opens the path {path} ({now})"),
            What::Egress(pols) => format!(
                "no effective path {path}: {from}'s egress still allows no traffic to it ({})",
                policy_list(pols),
            ),
            What::Ingress(pols) => format!(
                "no effective path {path}: {to}'s ingress still allows no traffic from it ({})",
                policy_list(pols)
            ),
            What::Ports { egress, ingress } => format!(
                "no effective path {path}: the source may send on {egress} but the destination admits only {ingress}"
            ),
            What::Nothing => format!("no effective path {path}"),
        }
    }
}

fn push(effects: &mut Vec<Effect>, from: Vec<String>, to: Vec<String>, what: What) {
    if let Some((from, to)) = without_self(&from, &to) {
        effects.push(Effect { from, to, what });
    }
}

/// The two groups of a line with a workload's path to itself left out where one end is that one
/// workload; `None` when no pair of two different workloads is left.
fn without_self(from: &[String], to: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let drop = |list: &[String], one: &[String]| -> Vec<String> {
        match one {
            [x] => list.iter().filter(|y| *y != x).cloned().collect(),
            _ => list.to_vec(),
        }
    };
    let (from, to) = (drop(from, to), drop(to, from));
    (!from.is_empty() && !to.is_empty()).then_some((from, to))
}

/// A group's label: its one member's, or its first member's with how many more it holds.
fn group_label(ids: &[String], label: &impl Fn(&str) -> String) -> String {
    class_label(&label(&ids[0]), ids.len())
}

/// Names as a list, the first [`MAX_MEMBERS_SHOWN`] of them.
fn shown(names: &[String]) -> String {
    let mut list: Vec<&str> = names
        .iter()
        .take(MAX_MEMBERS_SHOWN)
        .map(String::as_str)
        .collect();
    let more = format!(
        "… and {} more",
        names.len().saturating_sub(MAX_MEMBERS_SHOWN)
    );
    if names.len() > MAX_MEMBERS_SHOWN {
        list.push(&more);
    }
    list.join(", ")
}

fn policy_list(names: &[String]) -> String {
    let word = if names.len() == 1 {
        "NetworkPolicy"
    } else {
        "NetworkPolicies"
    };
    format!("{word} {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    //! The effects over groups hold to their meaning: expanded to single pairs of workloads, they are
    //! the lines the pair-by-pair reading gave, on every policy of the OpenIM environments and of the
    //! diff fixtures, each changed in several ways.

    use std::path::Path;

    use super::*;
    use crate::netmap::pairwise::{alike, compiled};
    use crate::node::{FileRole, Sources};

    /// The effect lines as they were computed before groups: one per (gained workload, selected
    /// workload) pair.
    fn pairwise(reader: &mut Reader<'_, '_>, old: &Resource, new: &Resource) -> Vec<String> {
        let (Some(o), Some(n)) = (NetworkPolicy::read(old), NetworkPolicy::read(new)) else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        let ends = reader.head.selected(&n);
        let (base_map, head_map, head) = (reader.base_map, reader.head_map, reader.head);
        for dir in Direction::BOTH {
            if !(o.applies(dir) && n.applies(dir)) {
                continue;
            }
            let (_, gained) = reader.words(&o, &n, dir).clone();
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
                    let what = match (head_map.path(from, to), base_map.path(from, to)) {
                        (Some(now), Some(then)) if now == then => What::Already(now.clone()),
                        (Some(now), _) => What::Opens(now.clone()),
                        (None, _) => match head.blocked(from, to) {
                            Some(Blocked::Egress(pols)) => What::Egress(pols),
                            Some(Blocked::Ingress(pols)) => What::Ingress(pols),
                            Some(Blocked::Ports { egress, ingress }) => {
                                What::Ports { egress, ingress }
                            }
                            None => What::Nothing,
                        },
                    };
                    effects.push(what.text(&label(from), &label(to)));
                }
            }
        }
        effects.sort();
        effects
    }

    /// The group effects expanded to one line per pair of different workloads.
    fn expanded(reader: &Reader<'_, '_>, effects: &[Effect]) -> Vec<String> {
        let label = |x: &str| reader.head_map.label(x).to_string();
        let mut out = Vec::new();
        for e in effects {
            for a in &e.from {
                for b in e.to.iter().filter(|b| *b != a) {
                    out.push(e.what.text(&label(a), &label(b)));
                }
            }
        }
        out.sort();
        out
    }

    /// An edit of a policy's `spec`.
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;

    /// Ways to change a policy's rules, as JSON edits of its `spec`.
    fn edits() -> Vec<(&'static str, Edit)> {
        use serde_json::json;
        let first_ports = |dir: &'static str, ports: serde_json::Value| {
            move |spec: &mut serde_json::Value| {
                if let Some(rule) = spec.get_mut(dir).and_then(|r| r.get_mut(0)) {
                    rule["ports"] = ports.clone();
                }
            }
        };
        vec![
            (
                "ingress from everywhere",
                Box::new(|s: &mut serde_json::Value| s["ingress"] = json!([{}])),
            ),
            (
                "ingress from its namespace",
                Box::new(|s: &mut serde_json::Value| {
                    s["ingress"] = json!([{"from": [{"podSelector": {}}]}])
                }),
            ),
            (
                "ingress from every namespace",
                Box::new(|s: &mut serde_json::Value| {
                    let mut rules = s["ingress"].as_array().cloned().unwrap_or_default();
                    rules.push(json!({"from": [{"namespaceSelector": {}}]}));
                    s["ingress"] = rules.into();
                }),
            ),
            (
                "egress to its namespace on 27017",
                Box::new(|s: &mut serde_json::Value| {
                    s["egress"] = json!([{"to": [{"podSelector": {}}], "ports": [{"port": 27017}]}])
                }),
            ),
            (
                "the first ingress rule's ports moved",
                Box::new(first_ports("ingress", json!([{"port": 27018}]))),
            ),
            (
                "the first egress rule on every port",
                Box::new(first_ports("egress", json!([]))),
            ),
            (
                "the first ingress rule on a named port",
                Box::new(first_ports("ingress", json!([{"port": "http"}]))),
            ),
        ]
    }

    /// Every policy of `resources`, changed in every way of [`edits`]: the group effects mean the
    /// pairwise lines. Returns how many pairwise lines were compared.
    fn assert_same_meaning(what: &str, base: &[Resource]) -> usize {
        let policies: Vec<usize> = (0..base.len())
            .filter(|&i| NetworkPolicy::read(&base[i]).is_some())
            .collect();
        assert!(!policies.is_empty(), "{what}: no NetworkPolicy");
        let mut compared = 0;
        let b = Reading::new(base);
        let bm = b.map("t");
        for &i in &policies {
            for (how, edit) in edits() {
                let mut head = base.to_vec();
                let mut v = head[i].node.to_json();
                edit(&mut v["spec"]);
                head[i].node = crate::node::Node::from_json(&v, head[i].node.origin);
                let h = Reading::new(&head);
                let hm = h.map("t");
                let mut reader = Reader::new(&b, &h, &bm, &hm);
                let old = pairwise(&mut reader, &base[i], &head[i]);
                let (_, effects) = reader.effects(&base[i], &head[i]);
                let name = base[i].name();
                assert_eq!(expanded(&reader, &effects), old, "{what}: {name}, {how}");
                // Never more lines than pairs, and never an empty group.
                assert!(effects.len() <= old.len(), "{what}: {name}, {how}");
                assert!(effects
                    .iter()
                    .all(|e| !e.from.is_empty() && !e.to.is_empty()));
                compared += old.len();
            }
        }
        compared
    }

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn group_effects_mean_the_pairwise_lines_on_the_openim_environments() {
        for env in ["dev", "test", "release"] {
            let resources = compiled(&repo().join("environments"), env);
            let compared = assert_same_meaning(env, &resources);
            assert!(compared > 1000, "{env}: {compared} lines compared");
        }
    }

    #[test]
    fn group_effects_mean_the_pairwise_lines_on_the_diff_fixtures() {
        // The diff fixtures' input runs one workload: no pair of two.
        let root = repo().join("tests/fixtures/diff/input");
        for env in ["dev", "test", "release"] {
            assert_eq!(assert_same_meaning(env, &compiled(&root, env)), 0);
        }
    }

    #[test]
    fn group_effects_mean_the_pairwise_lines_on_every_network_policy_fixture_together() {
        let mut sources = Sources::new();
        let mut all = Vec::new();
        let mut files = vec![repo().join("tests/fixtures")];
        while let Some(dir) = files.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for p in entries.filter_map(|e| Some(e.ok()?.path())) {
                if p.is_dir() {
                    files.push(p);
                    continue;
                }
                if !p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                if !text.contains("NetworkPolicy") {
                    continue;
                }
                let id = sources.add(&p, std::sync::Arc::from(text.as_str()), FileRole::Other);
                let Ok(docs) = crate::load::yaml::parse(id, sources.get(id)) else {
                    continue; // fixtures of load errors
                };
                all.extend(docs.into_iter().map(|d| Resource::new(d.root)));
            }
        }
        all.sort_by(|a, b| {
            (a.namespace(), a.kind(), a.name()).cmp(&(b.namespace(), b.kind(), b.name()))
        });
        let compared = assert_same_meaning("every fixture together", &all);
        assert!(compared >= 20, "{compared} lines compared");
    }

    #[test]
    fn a_namespace_wide_policy_admitting_its_namespace_is_a_few_lines() {
        // 60 workloads, each admitting its namespace; a policy selecting them all admits one of them,
        // then all of them: 59 x 59 pairs were as many lines.
        let wide = |from: &str| {
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: wide, namespace: a}}\n\
                 spec:\n  podSelector: {{}}\n  policyTypes: [Ingress]\n  ingress: [{{from: [{{podSelector: {from}}}]}}]\n"
            )
        };
        let tree = |from: &str| alike(60, |i, t| if i == 59 { t + &wide(from) } else { t });
        let (base, head) = (tree("{matchLabels: {app: app00}}"), tree("{}"));
        let (b, h) = (Reading::new(&base), Reading::new(&head));
        let (bm, hm) = (b.map("t"), h.map("t"));
        let mut reader = Reader::new(&b, &h, &bm, &hm);
        let (old, new) = (base.last().unwrap(), head.last().unwrap());
        let pairs = pairwise(&mut reader, old, new);
        assert_eq!(pairs.len(), 59 * 59, "{:?}", &pairs[..3]);
        let (_, effects) = reader.effects(old, new);
        assert_eq!(expanded(&reader, &effects), pairs);
        let (_, lines) = reader.reasons(old, new);
        assert_eq!(
            lines,
            [
                // app00 was admitted before: a class of its own in the base.
                "no effective change for app01 (+58 more) -> app00: it was already allowed (any port) by the other rules",
                "no effective change for app01 (+58 more) -> app01 (+58 more): it was already allowed (any port) by the other rules",
                "app01 (+58 more): app01, app02, app03, app04, app05, app06, app07, app08, app09, app10, app11, app12, app13, app14, app15, app16, app17, app18, app19, app20, … and 39 more",
            ]
        );
    }
}
