//! What the rules of one environment look up, built once (on first use) and shared by every rule: the
//! resources by identity and by namespace and kind, the pods the tree runs, and those pods by label. With
//! it no rule scans every resource for every resource: a look-up by name is a hash probe, and a selector
//! is tried only on the pods of its namespace that carry the label of its rarest equality term.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use crate::k8s::{self, Pods, Selector};
use crate::resource::Resource;

/// Positions in the resource list, or in the pod list, in ascending order.
type Positions = Vec<u32>;

/// The pods of one namespace.
#[derive(Default)]
struct NamespacePods {
    all: Positions,
    /// Label key, then value: the pods that carry it.
    by_label: HashMap<String, HashMap<String, Positions>>,
}

impl NamespacePods {
    fn with_label(&self, key: &str, value: &str) -> &[u32] {
        self.by_label
            .get(key)
            .and_then(|values| values.get(value))
            .map_or(&[], Vec::as_slice)
    }
}

/// The shared look-ups over one environment's resources (see the module doc).
pub struct Index<'a> {
    resources: &'a [Resource],
    /// (group, kind, namespace, name): the last object with that identity, as a map collected in order
    /// keeps it.
    by_id: HashMap<(&'a str, &'a str, &'a str, &'a str), u32>,
    /// (namespace, kind, name), any group: the first such object.
    by_name: HashMap<(&'a str, &'a str, &'a str), u32>,
    /// Kind, any group and namespace: its objects in order.
    by_kind: HashMap<&'a str, Positions>,
    pods: Vec<Pods<'a>>,
    /// The position in `resources` of each pod's owner.
    owners: Positions,
    pods_by_namespace: HashMap<&'a str, NamespacePods>,
    namespaces: BTreeSet<&'a str>,
}

impl<'a> Index<'a> {
    pub fn new(resources: &'a [Resource]) -> Self {
        let mut by_id = HashMap::with_capacity(resources.len());
        let mut by_name = HashMap::with_capacity(resources.len());
        let mut by_kind: HashMap<&str, Positions> = HashMap::new();
        let mut pods = Vec::new();
        let mut owners = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            let i = i as u32;
            let (group, kind, namespace, name) = (r.group(), r.kind(), r.namespace(), r.name());
            by_id.insert((group, kind, namespace, name), i);
            by_name.entry((namespace, kind, name)).or_insert(i);
            by_kind.entry(kind).or_default().push(i);
            k8s::pods_of(r, &mut pods);
            owners.resize(pods.len(), i);
        }
        let mut pods_by_namespace: HashMap<&str, NamespacePods> = HashMap::new();
        for (i, p) in pods.iter().enumerate() {
            let i = i as u32;
            let ns = pods_by_namespace.entry(p.namespace).or_default();
            ns.all.push(i);
            for (key, value) in &p.labels {
                let values = match ns.by_label.get_mut(key.as_str()) {
                    Some(values) => values,
                    None => ns.by_label.entry(key.clone()).or_default(),
                };
                match values.get_mut(value.as_str()) {
                    Some(positions) => positions.push(i),
                    None => {
                        values.insert(value.clone(), vec![i]);
                    }
                }
            }
        }
        Index {
            resources,
            by_id,
            by_name,
            by_kind,
            pods,
            owners,
            pods_by_namespace,
            namespaces: k8s::namespaces(resources),
        }
    }

    /// The object with this identity (the last one, when the tree holds it twice).
    pub fn get(
        &self,
        group: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<&'a Resource> {
        self.by_id
            .get(&(group, kind, namespace, name))
            .map(|i| &self.resources[*i as usize])
    }

    /// The first object of a kind, of any group, with this namespace and name.
    pub fn named(&self, namespace: &str, kind: &str, name: &str) -> Option<&'a Resource> {
        self.by_name
            .get(&(namespace, kind, name))
            .map(|i| &self.resources[*i as usize])
    }

    /// Every object of a kind (of any group, in any namespace), in order.
    pub fn of_kind(&self, kind: &str) -> impl Iterator<Item = &'a Resource> + '_ {
        let resources = self.resources;
        self.by_kind
            .get(kind)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(move |i| &resources[*i as usize])
    }

    /// Every set of pods the tree runs, as [`k8s::pods`] lists them.
    pub fn pods(&self) -> &[Pods<'a>] {
        &self.pods
    }

    /// The namespaces the tree puts anything in, as [`k8s::namespaces`] lists them.
    pub fn namespaces(&self) -> &BTreeSet<&'a str> {
        &self.namespaces
    }

    /// Positions in [`Index::pods`] of the pods of `namespace` that a selector may select, in order: given
    /// the selector's equality terms (a key and the values it accepts), the pods that carry one of the
    /// values of the term fewest pods satisfy; without such a term, every pod of the namespace. The
    /// caller still matches the selector against each: this only leaves out pods that cannot match.
    pub fn candidates<'t>(
        &self,
        namespace: &str,
        terms: impl Iterator<Item = (&'t str, &'t [String])>,
    ) -> Cow<'_, [u32]> {
        let Some(ns) = self.pods_by_namespace.get(namespace) else {
            return Cow::Borrowed(&[]);
        };
        let mut best: Option<(usize, &str, &[String])> = None;
        for (key, values) in terms {
            let size = values.iter().map(|v| ns.with_label(key, v).len()).sum();
            if best.is_none_or(|(fewest, _, _)| size < fewest) {
                best = Some((size, key, values));
            }
        }
        match best {
            None => Cow::Borrowed(&ns.all),
            Some((_, key, [value])) => Cow::Borrowed(ns.with_label(key, value)),
            Some((_, key, values)) => {
                let mut out: Positions = values
                    .iter()
                    .flat_map(|v| ns.with_label(key, v))
                    .copied()
                    .collect();
                out.sort_unstable();
                out.dedup();
                Cow::Owned(out)
            }
        }
    }

    /// The pods of `namespace` that a selector selects, in order.
    pub fn selected<'s>(
        &'s self,
        namespace: &str,
        selector: &'s Selector,
    ) -> impl Iterator<Item = &'s Pods<'a>> + 's {
        self.selected_positions(namespace, selector)
            .map(move |i| &self.pods[i])
    }

    /// Positions in [`Index::pods`] of the pods of `namespace` that a selector selects, in order.
    pub fn selected_positions<'s>(
        &'s self,
        namespace: &str,
        selector: &'s Selector,
    ) -> impl Iterator<Item = usize> + 's {
        let found = self.candidates(namespace, selector.terms());
        (0..found.len())
            .map(move |j| found[j] as usize)
            .filter(move |i| selector.matches(&self.pods[*i].labels))
    }

    /// Positions in the resources of the workloads of `namespace` (objects with a pod template) whose
    /// template's labels a selector matches as the API server matches them, in order.
    pub fn selected_workloads<'s>(
        &'s self,
        namespace: &str,
        selector: &'s Selector,
    ) -> impl Iterator<Item = usize> + 's {
        let found = self.candidates(namespace, selector.terms());
        (0..found.len())
            .map(move |j| found[j] as usize)
            .filter_map(move |i| {
                let p = &self.pods[i];
                (p.template.is_some() && selector.matches(&p.labels))
                    .then_some(self.owners[i] as usize)
            })
    }
}
