//! The `resources/` family: what a workload asks of the cluster and how it survives disruption: cpu and
//! memory requests and limits (which ones are required is set per environment by the policy), limits not
//! below requests, probes on long-running containers, and, where the environment asks for high
//! availability, at least two replicas and a PodDisruptionBudget; a PodDisruptionBudget that would block
//! every eviction is reported everywhere; a VerticalPodAutoscaler must not fight an HPA over a resource.

use std::collections::{HashMap, HashSet};

use crate::check::code::{Code, Resources};
use crate::check::policy::Required;
use crate::check::{Context, Finding, Rule};
use crate::k8s::quantity::quantity;
use crate::k8s::workload::{self, Container};
use crate::k8s::Selector;
use crate::node::{Node, Origin, Value};
use crate::resource::Resource;

pub static RULES: &[Rule] = &[
    Rule::new(
        Code::Resources(Resources::MissingRequests),
        missing_requests,
    ),
    Rule::new(Code::Resources(Resources::MissingLimits), missing_limits),
    Rule::new(
        Code::Resources(Resources::LimitBelowRequest),
        limit_below_request,
    ),
    Rule::new(
        Code::Resources(Resources::MissingReadinessProbe),
        missing_readiness_probe,
    ),
    Rule::new(
        Code::Resources(Resources::MissingLivenessProbe),
        missing_liveness_probe,
    ),
    Rule::new(Code::Resources(Resources::TooFewReplicas), too_few_replicas),
    Rule::new(Code::Resources(Resources::MissingPdb), missing_pdb),
    Rule::new(Code::Resources(Resources::VpaHpaConflict), vpa_hpa_conflict),
    Rule::new(Code::Resources(Resources::BlockingPdb), blocking_pdb),
];

fn finding(code: Resources, r: &Resource, origin: Origin, message: String) -> Finding {
    Finding::of(code, origin, message).about(Some(r.id()))
}

fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The containers whose resources are checked: all but ephemeral (debug) containers.
fn sized_containers(spec: &Node) -> Vec<Container<'_>> {
    workload::containers(spec)
        .into_iter()
        .filter(|c| c.list != "ephemeralContainers")
        .collect()
}

fn missing(
    ctx: &Context<'_>,
    out: &mut Vec<Finding>,
    code: Resources,
    which: &str,
    required: &Required,
) {
    if required.names.is_empty() {
        return;
    }
    let singular = &which[..which.len() - 1];
    for r in ctx.resources {
        let Some(spec) = r.pod_spec() else { continue };
        // Pod-level resources (Kubernetes 1.34+) cover every container.
        let pod_level = spec.path(&["resources", which]);
        // An unset request is defaulted by the API server to the limit of the same resource (container
        // and pod level alike): a limit alone is a request.
        fn defaulted<'a>(which: &str, n: &'a Node) -> Option<&'a Node> {
            if which == "requests" {
                n.path(&["resources", "limits"])
            } else {
                None
            }
        }
        let pod_limit = defaulted(which, spec);
        for c in sized_containers(spec) {
            let have = c.node.path(&["resources", which]);
            let limit = defaulted(which, c.node);
            let set = |name: &str| {
                [have, pod_level, limit, pod_limit]
                    .iter()
                    .any(|m| m.and_then(|m| m.get(name)).is_some_and(|v| !v.is_null()))
            };
            let absent: Vec<&str> = required
                .names
                .iter()
                .map(String::as_str)
                .filter(|n| !set(n))
                .collect();
            if absent.is_empty() {
                continue;
            }
            let origin = have
                .map(|n| n.origin)
                .or_else(|| c.node.get("resources").map(|n| n.origin))
                .unwrap_or_else(|| c.origin());
            let plural = if absent.len() > 1 { "s" } else { "" };
            let role = if c.is_init() {
                "init container"
            } else {
                "container"
            };
            let mut f = finding(
                code,
                r,
                origin,
                format!(
                    "{role} `{}` of {} {} sets no {} {singular}{plural}",
                    c.name,
                    r.kind(),
                    r.name(),
                    and_list(&absent)
                ),
            );
            if let Some(o) = required.origin {
                f.related.push((
                    o,
                    format!(
                        "the policy requires {which} of {}",
                        required.names.join(", ")
                    ),
                ));
            }
            let example: Vec<String> = absent
                .iter()
                .map(|n| match *n {
                    "cpu" => "cpu: 100m".to_string(),
                    "memory" => "memory: 256Mi".to_string(),
                    other => format!("{other}: ..."),
                })
                .collect();
            f.help = Some(format!(
                "add `resources: {{{which}: {{{}}}}}`",
                example.join(", ")
            ));
            out.push(f);
        }
    }
}

pub fn missing_requests(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    missing(
        ctx,
        out,
        Resources::MissingRequests,
        "requests",
        &ctx.policy.requests,
    );
}

pub fn missing_limits(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    missing(
        ctx,
        out,
        Resources::MissingLimits,
        "limits",
        &ctx.policy.limits,
    );
}

pub fn limit_below_request(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for r in ctx.resources {
        let Some(spec) = r.pod_spec() else { continue };
        let mut places: Vec<(String, &Node)> = sized_containers(spec)
            .into_iter()
            .filter_map(|c| {
                c.node
                    .get("resources")
                    .map(|n| (format!("container `{}`", c.name), n))
            })
            .collect();
        if let Some(n) = spec.get("resources") {
            places.push(("the pod".to_string(), n));
        }
        for (who, res) in places {
            let (Some(requests), Some(limits)) = (
                res.get("requests").and_then(Node::as_map),
                res.get("limits").and_then(Node::as_map),
            ) else {
                continue;
            };
            for (k, limit) in limits.iter() {
                let Some(request) = requests.get(&k.name) else {
                    continue;
                };
                let (Ok(l), Ok(q)) = (quantity(limit), quantity(request)) else {
                    continue;
                };
                if l < q {
                    let text = |n: &Node| match &n.value {
                        Value::Str(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let mut f = finding(
                        Resources::LimitBelowRequest,
                        r,
                        limit.origin,
                        format!(
                            "the {} limit of {who} ({}) is below its request ({})",
                            k.name,
                            text(limit),
                            text(request)
                        ),
                    );
                    f.related.push((request.origin, "the request".into()));
                    f.help = Some(
                        "raise the limit to at least the request, or lower the request".into(),
                    );
                    out.push(f);
                }
            }
        }
    }
}

fn missing_probe(
    ctx: &Context<'_>,
    out: &mut Vec<Finding>,
    code: Resources,
    probe: &str,
    what: &str,
    help: &str,
) {
    for r in ctx.resources {
        if !workload::is_long_running(r.kind()) {
            continue;
        }
        let Some(spec) = r.pod_spec() else { continue };
        for c in workload::containers(spec) {
            if c.list != "containers" || c.node.get(probe).is_some_and(|p| !p.is_null()) {
                continue;
            }
            let mut f = finding(
                code,
                r,
                c.origin(),
                format!(
                    "container `{}` of {} {} has no {what} probe",
                    c.name,
                    r.kind(),
                    r.name()
                ),
            );
            f.help = Some(help.to_string());
            out.push(f);
        }
    }
}

pub fn missing_readiness_probe(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    missing_probe(
        ctx,
        out,
        Resources::MissingReadinessProbe,
        "readinessProbe",
        "readiness",
        "add `readinessProbe` (httpGet, tcpSocket, grpc or exec) that succeeds once the container serves",
    );
}

pub fn missing_liveness_probe(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    missing_probe(
        ctx,
        out,
        Resources::MissingLivenessProbe,
        "livenessProbe",
        "liveness",
        "add `livenessProbe` that fails only when the process must be restarted",
    );
}

/// The HorizontalPodAutoscalers of the tree by what they scale: (namespace, kind, name) of the target,
/// and the first autoscaler of it.
struct Autoscalers<'a>(HashMap<(&'a str, &'a str, &'a str), &'a Resource>);

impl<'a> Autoscalers<'a> {
    fn new(ctx: &Context<'a>) -> Self {
        let mut by_target = HashMap::new();
        for h in ctx.index().of_kind("HorizontalPodAutoscaler") {
            let target = |key| h.node.str_at(&["spec", "scaleTargetRef", key]);
            if let (Some(kind), Some(name)) = (target("kind"), target("name")) {
                by_target.entry((h.namespace(), kind, name)).or_insert(h);
            }
        }
        Autoscalers(by_target)
    }

    /// The HorizontalPodAutoscaler that scales a workload, with its `minReplicas` (1 when unset) and the
    /// node that set it.
    fn of(&self, r: &Resource) -> Option<(i64, Origin)> {
        let h = self.0.get(&(r.namespace(), r.kind(), r.name()))?;
        Some(match h.node.path(&["spec", "minReplicas"]) {
            Some(n) => (n.as_i64().unwrap_or(1), n.origin),
            None => (1, h.name_origin()),
        })
    }
}

/// The fewest pods a workload runs (HPA `minReplicas` when autoscaled, else `spec.replicas`, default 1),
/// the line that sets it, and whether an HPA sets it. `None` for kinds without replicas.
fn min_replicas(hpas: &Autoscalers<'_>, r: &Resource) -> Option<(i64, Origin, bool)> {
    if !matches!(
        r.kind(),
        "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController"
    ) {
        return None;
    }
    if let Some((n, o)) = hpas.of(r) {
        return Some((n, o, true));
    }
    Some(match r.node.path(&["spec", "replicas"]) {
        Some(n) => (n.as_i64().unwrap_or(1), n.origin, false),
        None => (1, r.name_origin(), false),
    })
}

fn ha_related(ctx: &Context<'_>, f: &mut Finding) {
    if let Some(o) = ctx.policy.high_availability_origin {
        f.related
            .push((o, "the policy asks for high availability here".into()));
    }
}

pub fn too_few_replicas(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.policy.high_availability {
        return;
    }
    let hpas = Autoscalers::new(ctx);
    for r in ctx.resources {
        let Some((n, origin, hpa)) = min_replicas(&hpas, r) else {
            continue;
        };
        if n == 0 || n >= 2 {
            continue;
        }
        let how = if hpa { "may scale down to" } else { "runs" };
        let mut f = finding(
            Resources::TooFewReplicas,
            r,
            origin,
            format!(
                "{} {} {how} {n} replica; high availability needs at least 2",
                r.kind(),
                r.name()
            ),
        );
        ha_related(ctx, &mut f);
        f.help = Some(
            "raise replicas (or the HPA's minReplicas) to 2 or more, or waive it for a singleton"
                .into(),
        );
        out.push(f);
    }
}

/// The workloads some PodDisruptionBudget of their namespace selects.
struct Budgeted<'a> {
    /// By position in the resources: objects with a pod template whose labels a budget's selector matches.
    templates: Vec<bool>,
    /// Namespaces with a budget whose selector matches no labels at all, and so the workloads that have
    /// no pod template (the schema reports those).
    untemplated: HashSet<&'a str>,
}

impl<'a> Budgeted<'a> {
    fn new(ctx: &Context<'a>) -> Self {
        let index = ctx.index();
        let mut templates = vec![false; ctx.resources.len()];
        let mut untemplated = HashSet::new();
        for pdb in index.of_kind("PodDisruptionBudget") {
            let Some(sel) = pdb
                .node
                .path(&["spec", "selector"])
                .and_then(Selector::from_label_selector)
            else {
                continue;
            };
            for i in index.selected_workloads(pdb.namespace(), &sel) {
                templates[i] = true;
            }
            if sel.matches(&crate::k8s::Labels::new()) {
                untemplated.insert(pdb.namespace());
            }
        }
        Budgeted {
            templates,
            untemplated,
        }
    }

    /// Whether a budget of its namespace selects the pods of the workload at `position`.
    fn covers(&self, position: usize, r: &Resource) -> bool {
        if r.pod_template().is_some() {
            self.templates[position]
        } else {
            self.untemplated.contains(r.namespace())
        }
    }
}

pub fn missing_pdb(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !ctx.policy.high_availability {
        return;
    }
    let hpas = Autoscalers::new(ctx);
    let budgeted = Budgeted::new(ctx);
    for (i, r) in ctx.resources.iter().enumerate() {
        let Some((n, _, _)) = min_replicas(&hpas, r) else {
            continue;
        };
        if n < 2 || budgeted.covers(i, r) {
            continue;
        }
        let mut f = finding(
            Resources::MissingPdb,
            r,
            r.name_origin(),
            format!(
                "no PodDisruptionBudget selects the pods of {} {}",
                r.kind(),
                r.name()
            ),
        );
        ha_related(ctx, &mut f);
        f.help = Some("add a PodDisruptionBudget with `maxUnavailable: 1` selecting the pod template's labels".into());
        out.push(f);
    }
}

/// A PDB's `minAvailable`/`maxUnavailable` as a number of pods out of `total` (percentages round up, as
/// Kubernetes rounds them).
fn pods_of(n: &Node, total: i64) -> Option<i64> {
    match &n.value {
        Value::Int(i) => Some(*i),
        Value::Str(s) => {
            let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((pct * total + 99) / 100)
        }
        _ => None,
    }
}

pub fn blocking_pdb(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let hpas = Autoscalers::new(ctx);
    for pdb in ctx
        .resources
        .iter()
        .filter(|r| r.kind() == "PodDisruptionBudget")
    {
        let spec = pdb.node.get("spec");
        if let Some(n) = spec.and_then(|s| s.get("maxUnavailable")) {
            if pods_of(n, 100) == Some(0) {
                let mut f = finding(Resources::BlockingPdb,
                    pdb,
                    n.origin,
                    format!("PodDisruptionBudget {} allows no pod to be unavailable: no eviction can ever proceed", pdb.name()),
                );
                f.help = Some("allow at least one: `maxUnavailable: 1`".into());
                out.push(f);
            }
            continue;
        }
        let Some(min) = spec.and_then(|s| s.get("minAvailable")) else {
            continue;
        };
        if let Value::Str(s) = &min.value {
            if s.trim() == "100%" {
                let mut f = finding(Resources::BlockingPdb,
                    pdb,
                    min.origin,
                    format!("PodDisruptionBudget {} keeps 100% of its pods: no eviction can ever proceed", pdb.name()),
                );
                f.help = Some("use `maxUnavailable: 1` instead".into());
                out.push(f);
                continue;
            }
        }
        let Some(sel) = spec
            .and_then(|s| s.get("selector"))
            .and_then(Selector::from_label_selector)
        else {
            continue;
        };
        let workloads: Vec<&Resource> = ctx
            .index()
            .selected_workloads(pdb.namespace(), &sel)
            .map(|i| &ctx.resources[i])
            .collect();
        let mut total = 0;
        let mut places = Vec::new();
        for w in &workloads {
            // DaemonSets and bare pods: the number of pods is not in the manifest.
            let Some((n, origin, _)) = min_replicas(&hpas, w) else {
                total = -1;
                break;
            };
            total += n;
            places.push((origin, format!("{} {} runs {n}", w.kind(), w.name())));
        }
        if workloads.is_empty() || total <= 0 {
            continue;
        }
        let Some(keep) = pods_of(min, total) else {
            continue;
        };
        if keep >= total {
            let mut f = finding(Resources::BlockingPdb,
                pdb,
                min.origin,
                format!(
                    "PodDisruptionBudget {} keeps {keep} of the {total} pods it selects available: no eviction can ever proceed",
                    pdb.name()
                ),
            );
            f.related.extend(places);
            f.help = Some("keep fewer pods than run (`minAvailable` below the replicas), or use `maxUnavailable: 1`".into());
            out.push(f);
        }
    }
}

/// The resources (`cpu`, `memory`, ...) an HPA scales on, each with the node that says so and the
/// container it is limited to (a `ContainerResource` metric). With no metric, an HPA scales on cpu.
fn hpa_resources(hpa: &Resource) -> Vec<(String, Option<String>, Origin)> {
    let spec = hpa.node.get("spec");
    let mut out = Vec::new();
    if hpa.api_version() == "autoscaling/v1" {
        let at = spec
            .and_then(|s| s.get("targetCPUUtilizationPercentage"))
            .or(spec)
            .map_or(hpa.node.origin, |n| n.origin);
        out.push(("cpu".to_string(), None, at));
        return out;
    }
    let metrics = spec
        .and_then(|s| s.get("metrics"))
        .and_then(Node::as_seq)
        .unwrap_or(&[]);
    for m in metrics {
        match m.str_at(&["type"]) {
            Some("Resource") => {
                if let Some(n) = m.path(&["resource", "name"]) {
                    if let Some(name) = n.as_str() {
                        out.push((name.to_string(), None, n.origin));
                    }
                }
            }
            Some("ContainerResource") => {
                if let Some(n) = m.path(&["containerResource", "name"]) {
                    if let Some(name) = n.as_str() {
                        let container = m.str_at(&["containerResource", "container"]);
                        out.push((name.to_string(), container.map(str::to_string), n.origin));
                    }
                }
            }
            _ => {}
        }
    }
    if metrics.is_empty() {
        let at = spec.map_or(hpa.node.origin, |n| n.origin);
        out.push(("cpu".to_string(), None, at));
    }
    out
}

/// Whether a VPA sets `resource` of `container` (`None`: of some container of the pods).
fn vpa_controls(
    vpa: &Node,
    workload: Option<&Resource>,
    container: Option<&str>,
    resource: &str,
) -> bool {
    let policies = vpa
        .path(&["spec", "resourcePolicy", "containerPolicies"])
        .and_then(Node::as_seq)
        .unwrap_or(&[]);
    let policy_of = |name: &str| {
        policies
            .iter()
            .find(|p| p.str_at(&["containerName"]) == Some(name))
            .or_else(|| {
                policies
                    .iter()
                    .find(|p| p.str_at(&["containerName"]) == Some("*"))
            })
    };
    // A container with no policy (and no `*` policy) is controlled for cpu and memory.
    let controls = |policy: Option<&Node>| match policy {
        None => matches!(resource, "cpu" | "memory"),
        Some(p) if p.str_at(&["mode"]) == Some("Off") => false,
        Some(p) => match p.get("controlledResources").and_then(Node::as_seq) {
            Some(list) => list.iter().any(|r| r.as_str() == Some(resource)),
            None => matches!(resource, "cpu" | "memory"),
        },
    };
    if let Some(c) = container {
        return controls(policy_of(c));
    }
    // Some container: the workload's own, when the tree holds it; else every container a policy
    // names, and any other (the `*` policy's, or the default).
    if let Some(spec) = workload.and_then(Resource::pod_spec) {
        return workload::containers(spec)
            .iter()
            .filter(|c| c.list == "containers")
            .any(|c| controls(policy_of(c.name)));
    }
    policies
        .iter()
        .filter(|p| p.str_at(&["containerName"]) != Some("*"))
        .any(|p| controls(Some(p)))
        || controls(policy_of("*"))
}

pub fn vpa_hpa_conflict(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = ctx.index();
    for vpa in index.of_kind("VerticalPodAutoscaler") {
        if vpa.group() != "autoscaling.k8s.io" {
            continue;
        }
        let mode_node = vpa.node.path(&["spec", "updatePolicy", "updateMode"]);
        let mode = mode_node.and_then(Node::as_str).unwrap_or("Auto");
        if !matches!(mode, "Auto" | "Recreate" | "InPlaceOrRecreate") {
            continue;
        }
        let Some(target) = vpa.node.path(&["spec", "targetRef"]) else {
            continue;
        };
        let (Some(kind), Some(name)) = (target.str_at(&["kind"]), target.str_at(&["name"])) else {
            continue;
        };
        let workload = index.named(vpa.namespace(), kind, name);
        for hpa in index.of_kind("HorizontalPodAutoscaler") {
            if hpa.namespace() != vpa.namespace()
                || hpa.node.str_at(&["spec", "scaleTargetRef", "kind"]) != Some(kind)
                || hpa.node.str_at(&["spec", "scaleTargetRef", "name"]) != Some(name)
            {
                continue;
            }
            let clashes: Vec<(String, Origin)> = hpa_resources(hpa)
                .into_iter()
                .filter(|(res, container, _)| {
                    vpa_controls(&vpa.node, workload, container.as_deref(), res)
                })
                .map(|(res, _, at)| (res, at))
                .collect();
            let Some((_, first_at)) = clashes.first() else {
                continue;
            };
            let mut names: Vec<&str> = clashes.iter().map(|(r, _)| r.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let at = mode_node
                .or_else(|| vpa.node.path(&["spec", "updatePolicy"]))
                .map_or(target.origin, |n| n.origin);
            let mut f = finding(Resources::VpaHpaConflict,
                vpa,
                at,
                format!(
                    "VerticalPodAutoscaler {} (updateMode {mode}) sets the {} of {kind} {name}, which HorizontalPodAutoscaler {} scales on {}: the two fight over it",
                    vpa.name(),
                    and_list(&names),
                    hpa.name(),
                    and_list(&names),
                ),
            );
            f.related
                .push((*first_at, format!("the HPA scales on {}", names[0])));
            f.help = Some(
                "give the VPA `updateMode: \"Off\"` (recommendations only), or let it control only resources the HPA \
                 does not scale on (`resourcePolicy.containerPolicies[].controlledResources`), or scale the HPA on \
                 another metric"
                    .into(),
            );
            out.push(f);
        }
    }
}
