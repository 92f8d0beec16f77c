//! Changes grouped by cause: a hunk, a risk or a changed field that several environments share (a
//! base or component change rendered into each of them) is said once, with the environments listed;
//! what only some environments have (an environment file's own change) goes under those environments.
//!
//! A resource is the same across environments when its kind and name are (its namespace is the
//! environment's). Two hunks are the same change when their added and removed lines are, the
//! environment's namespace and name set aside (see [`super::Hunk::key`]).

use std::collections::BTreeMap;

use super::{Change, ChangeKind, EnvDiff, FieldChange, Hunk};

/// What a set of environments shares about one resource.
#[derive(Debug)]
pub struct Item<'a> {
    /// The resource as the first environment of the set renders it.
    pub change: &'a Change,
    pub hunks: Vec<&'a Hunk>,
    pub risks: Vec<&'a String>,
    pub effects: Vec<&'a String>,
    pub fields: Vec<&'a FieldChange>,
    /// Whether the hunks read differently in the other environments of the set (other line numbers or
    /// context, another namespace): then the text shown is the first environment's.
    pub rendered_differs: bool,
}

impl Item<'_> {
    /// `Kind/name`, with the namespace when the group is one environment or the namespace is not the
    /// environment's own.
    pub fn title(&self, envs: usize) -> String {
        if envs == 1 {
            self.change.title()
        } else {
            format!("{}/{}", self.change.kind, self.change.name)
        }
    }
}

/// The changes of one set of environments.
#[derive(Debug)]
pub struct Group<'a> {
    /// In the order the diffs were given.
    pub envs: Vec<&'a str>,
    /// Risky items first, then by kind and name.
    pub items: Vec<Item<'a>>,
}

impl Group<'_> {
    pub fn risky(&self) -> impl Iterator<Item = (&Item<'_>, &String)> {
        self.items
            .iter()
            .flat_map(|i| i.risks.iter().map(move |r| (i, *r)))
    }

    pub fn effects(&self) -> impl Iterator<Item = (&Item<'_>, &String)> {
        self.items
            .iter()
            .flat_map(|i| i.effects.iter().map(move |r| (i, *r)))
    }
}

/// A resource across environments: its kind, its name (a generated ConfigMap's without the hash
/// suffix), how it changed.
type ResKey<'a> = (&'a str, &'a str, ChangeKind);

fn res_key(c: &Change) -> ResKey<'_> {
    (c.kind.as_str(), c.identity(), c.change)
}

/// Groups the changes of every environment by the set of environments that share them. Groups of
/// more environments come first, then in the order of the environments.
pub fn group(diffs: &[EnvDiff]) -> Vec<Group<'_>> {
    let order: Vec<&str> = diffs.iter().map(|d| d.environment.as_str()).collect();
    // Which environments have each (resource, part); a part is a hunk key, a risk or a field.
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Part<'a> {
        Hunk(&'a str),
        Risk(&'a str),
        Effect(&'a str),
        Field(&'a str, &'a str, &'a str),
    }
    let mut having: BTreeMap<(ResKey<'_>, Part<'_>), Vec<usize>> = BTreeMap::new();
    for (i, d) in diffs.iter().enumerate() {
        for c in &d.changes {
            let k = res_key(c);
            let parts = c
                .hunks
                .iter()
                .map(|h| Part::Hunk(&h.key))
                .chain(c.risks.iter().map(|r| Part::Risk(r.as_str())))
                .chain(c.effects.iter().map(|r| Part::Effect(r.as_str())))
                .chain(
                    c.fields
                        .iter()
                        .map(|f| Part::Field(&f.path, &f.key_old, &f.key_new)),
                );
            for p in parts {
                let envs = having.entry((k, p)).or_default();
                if envs.last() != Some(&i) {
                    envs.push(i);
                }
            }
        }
    }
    // Each environment's changes by resource, and their hunk texts.
    let by_res: Vec<BTreeMap<ResKey<'_>, Vec<&str>>> = diffs
        .iter()
        .map(|d| {
            let mut m: BTreeMap<ResKey<'_>, Vec<&str>> = BTreeMap::new();
            for c in &d.changes {
                m.entry(res_key(c))
                    .or_default()
                    .extend(c.hunks.iter().map(|h| h.text.as_str()));
            }
            m
        })
        .collect();
    // Env set -> resource -> item (taken from the first environment of the set).
    let mut groups: Groups<'_> = BTreeMap::new();
    for (i, d) in diffs.iter().enumerate() {
        for c in &d.changes {
            let k = res_key(c);
            let set_of = |p: Part<'_>| having.get(&(k, p)).cloned().unwrap_or_default();
            for h in &c.hunks {
                let set = set_of(Part::Hunk(&h.key));
                let others: Vec<usize> = set.iter().copied().filter(|j| *j != i).collect();
                if let Some(item) = touch(&mut groups, set, i, k, c) {
                    item.hunks.push(h);
                    let differs = others.iter().any(|j| {
                        !by_res[*j]
                            .get(&k)
                            .is_some_and(|texts| texts.contains(&h.text.as_str()))
                    });
                    item.rendered_differs |= differs;
                }
            }
            for r in &c.risks {
                if let Some(item) = touch(&mut groups, set_of(Part::Risk(r)), i, k, c) {
                    item.risks.push(r);
                }
            }
            for e in &c.effects {
                if let Some(item) = touch(&mut groups, set_of(Part::Effect(e)), i, k, c) {
                    item.effects.push(e);
                }
            }
            for f in &c.fields {
                let set = set_of(Part::Field(&f.path, &f.key_old, &f.key_new));
                if let Some(item) = touch(&mut groups, set, i, k, c) {
                    item.fields.push(f);
                }
            }
            // A change with no part at all (a file whose text did not change as lines): under its own
            // environment.
            if c.hunks.is_empty()
                && c.risks.is_empty()
                && c.fields.is_empty()
                && c.effects.is_empty()
            {
                touch(&mut groups, vec![i], i, k, c);
            }
        }
    }
    let mut out: Vec<Group<'_>> = groups
        .into_iter()
        .map(|(set, items)| {
            let mut items: Vec<Item<'_>> = items.into_values().collect();
            items.sort_by(|a, b| {
                (
                    a.risks.is_empty(),
                    &a.change.kind,
                    &a.change.name,
                    a.change.change,
                )
                    .cmp(&(
                        b.risks.is_empty(),
                        &b.change.kind,
                        &b.change.name,
                        b.change.change,
                    ))
            });
            (set, items)
        })
        .map(|(set, items)| Group {
            envs: set.iter().map(|i| order[*i]).collect(),
            items,
        })
        .collect();
    // More environments first; equal sizes in the order of their first environment.
    let pos = |e: &str| order.iter().position(|o| *o == e).unwrap_or(usize::MAX);
    out.sort_by_key(|g| {
        (
            std::cmp::Reverse(g.envs.len()),
            g.envs.iter().map(|e| pos(e)).collect::<Vec<_>>(),
        )
    });
    out
}

type Groups<'a> = BTreeMap<Vec<usize>, BTreeMap<ResKey<'a>, Item<'a>>>;

/// The item of resource `k` in the group of `set`, when environment `i` is the one that fills it (the
/// first of the set).
fn touch<'g, 'a>(
    groups: &'g mut Groups<'a>,
    set: Vec<usize>,
    i: usize,
    k: ResKey<'a>,
    c: &'a Change,
) -> Option<&'g mut Item<'a>> {
    if set.first() != Some(&i) {
        return None;
    }
    Some(groups.entry(set).or_default().entry(k).or_insert(Item {
        change: c,
        hunks: Vec::new(),
        risks: Vec::new(),
        effects: Vec::new(),
        fields: Vec::new(),
        rendered_differs: false,
    }))
}

/// `dev, test, release`.
pub fn env_list(envs: &[&str]) -> String {
    envs.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Tree;

    fn tree(ns: &str, replicas: u32, image: &str) -> Tree {
        let mut files = BTreeMap::new();
        files.insert(
            format!("{ns}/deployment/api.yaml"),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: {ns}\nspec:\n  replicas: {replicas}\n  a: 1\n  b: 2\n  c: 3\n  d: 4\n  e: 5\n  f: 6\n  g: 7\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {image}\n"
            )
            .into_bytes(),
        );
        Tree { files }
    }

    #[test]
    fn a_shared_hunk_once_and_an_environment_hunk_under_its_environment() {
        let diffs: Vec<EnvDiff> = [("dev", 2, 2), ("test", 2, 2), ("release", 3, 1)]
            .iter()
            .map(|(env, old, new)| {
                let ns = format!("openim-{env}");
                super::super::compare(env, &tree(&ns, *old, "api:1"), &tree(&ns, *new, "api:2"))
            })
            .collect();
        let groups = group(&diffs);
        let sets: Vec<Vec<&str>> = groups.iter().map(|g| g.envs.clone()).collect();
        assert_eq!(sets, [vec!["dev", "test", "release"], vec!["release"]]);
        let shared = &groups[0].items[0];
        assert_eq!(shared.hunks.len(), 1);
        assert!(shared.hunks[0].text.contains("+          image: api:2"));
        assert!(shared.risks.iter().any(|r| r.contains("image changed")));
        assert!(!shared.rendered_differs, "the namespace is not in the hunk");
        let own = &groups[1].items[0];
        assert!(own.hunks[0].text.contains("-  replicas: 3\n+  replicas: 1"));
        assert_eq!(own.risks, [&"replicas reduced: 3 -> 1".to_string()]);
        assert_eq!(own.title(1), "Deployment/api (openim-release)");
        assert_eq!(shared.title(3), "Deployment/api");
    }
}
