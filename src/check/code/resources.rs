//! The `resources/` rules: requests, limits, probes, replicas and disruption budgets.

use super::{family, Doc};

family! {
    /// The `resources/` rules: requests, limits, probes, replicas and disruption budgets.
    Resources = "resources" {
        BlockingPdb = "blocking-pdb", Error {
            summary: "A PodDisruptionBudget allows no eviction at all (maxUnavailable 0, or minAvailable as high as the replicas)",
            what: r#"Checks PodDisruptionBudgets that would block every voluntary eviction: `maxUnavailable: 0` (or
`0%`), or a `minAvailable` at least as high as the pods its workloads run (`100%`, or equal to
`replicas`)."#,
            why: "such a budget makes `kubectl drain` and cluster upgrades hang until someone deletes it by hand.",
            bad: r#"Bad:
```yaml
spec:
  minAvailable: 3          # and the Deployment runs 3 replicas
```"#,
            good: r#"Good:
```yaml
spec:
  maxUnavailable: 1
```"#,
        },
        LimitBelowRequest = "limit-below-request", Error {
            summary: "A container's limit for a resource is below its request",
            what: r#"Checks that no limit is below the request of the same resource (compared as quantities, so `1Gi`
against `1024Mi` is equal)."#,
            why: r#"the API server refuses such a container ("must be less than or equal to ... limit"), often
after an overlay raised a request without touching the base's limit."#,
            bad: r#"Bad:
```yaml
resources:
  requests: {memory: 1Gi}
  limits: {memory: 512Mi}
```"#,
            good: r#"Good:
```yaml
resources:
  requests: {memory: 512Mi}
  limits: {memory: 1Gi}
```"#,
        },
        MissingLimits = "missing-limits", Error {
            summary: "A container or init container sets no limit for a resource the policy requires (cpu and memory by default)",
            what: r#"Checks that every container and init container limits the resources the policy requires
(`resources.limits` in `policies/`; cpu and memory by default)."#,
            why: r#"a container without a memory limit can take a node's memory and get its neighbours killed; the
policy decides per environment whether cpu limits are wanted too."#,
            bad: r#"Bad:
```yaml
resources:
  requests: {cpu: 250m, memory: 256Mi}
```"#,
            good: r#"Good:
```yaml
resources:
  requests: {cpu: 250m, memory: 256Mi}
  limits: {cpu: "1", memory: 512Mi}
```"#,
        },
        MissingLivenessProbe = "missing-liveness-probe", Warning {
            summary: "A long-running container has no liveness probe",
            what: r#"Checks that every container of a Deployment, StatefulSet, DaemonSet or ReplicaSet has a
`livenessProbe`."#,
            why: "a process that hangs without exiting is never restarted without one.",
            bad: r#"Bad:
```yaml
containers:
  - name: openim-msgtransfer
```"#,
            good: r#"Good:
```yaml
containers:
  - name: openim-msgtransfer
    livenessProbe:
      tcpSocket: {port: metrics}
      periodSeconds: 10
```"#,
        },
        MissingPdb = "missing-pdb", Error {
            summary: "No PodDisruptionBudget selects a replicated workload where the environment asks for high availability",
            what: r#"Where the environment asks for high availability, checks that a PodDisruptionBudget selects the pods
of every Deployment, StatefulSet and ReplicaSet that runs 2 or more replicas."#,
            why: "without a budget a node drain or cluster upgrade may evict every replica at once.",
            bad: "Bad: a Deployment `openim-api` with `replicas: 3` and no PodDisruptionBudget.",
            good: r#"Good:
```yaml
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: openim-api}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: openim-api}}
```"#,
        },
        MissingReadinessProbe = "missing-readiness-probe", Warning {
            summary: "A long-running container has no readiness probe",
            what: r#"Checks that every container of a Deployment, StatefulSet, DaemonSet or ReplicaSet has a
`readinessProbe`."#,
            why: r#"without one a pod counts as ready as soon as it starts: Services send it traffic before it
listens, and a rolling update replaces healthy pods with ones that do not work yet."#,
            bad: r#"Bad:
```yaml
containers:
  - name: openim-api
    ports: [{name: http, containerPort: 10002}]
```"#,
            good: r#"Good:
```yaml
containers:
  - name: openim-api
    ports: [{name: http, containerPort: 10002}]
    readinessProbe:
      tcpSocket: {port: http}
```"#,
        },
        MissingRequests = "missing-requests", Error {
            summary: "A container or init container sets no request for a resource the policy requires (cpu and memory by default)",
            what: r#"Checks that every container and init container requests the resources the policy requires
(`resources.requests` in `policies/`; cpu and memory by default). Pod-level `spec.resources` count,
and so does a limit without a request: the API server copies it into the unset request."#,
            why: r#"the scheduler places pods by their requests; a pod without them lands on a full node, is the
first evicted under pressure, and makes capacity planning guesswork."#,
            bad: r#"Bad:
```yaml
containers:
  - name: openim-api
    image: openim/openim-api:v3.8.3
```"#,
            good: r#"Good:
```yaml
containers:
  - name: openim-api
    image: openim/openim-api:v3.8.3
    resources:
      requests: {cpu: 250m, memory: 256Mi}
```"#,
        },
        TooFewReplicas = "too-few-replicas", Error {
            summary: "A workload runs fewer than 2 replicas where the environment asks for high availability",
            what: r#"Where the environment asks for high availability (`highAvailability: true` in `policies/`), checks
that every Deployment, StatefulSet and ReplicaSet runs at least 2 replicas (its HPA's `minReplicas`
when autoscaled). A workload scaled to 0 on purpose is left alone."#,
            why: "one replica means downtime at every rollout, node drain and crash.",
            bad: r#"Bad:
```yaml
spec:
  replicas: 1
```"#,
            good: r#"Good:
```yaml
spec:
  replicas: 3
```"#,
        },
        VpaHpaConflict = "vpa-hpa-conflict", Error {
            summary: "A VerticalPodAutoscaler that applies its recommendations sets the cpu or memory of a workload an HPA scales on the same resource",
            what: r#"Checks that no VerticalPodAutoscaler that applies its recommendations (`updateMode` `Auto`, the
default, `Recreate` or `InPlaceOrRecreate`) sets the cpu or memory of a workload that a
HorizontalPodAutoscaler scales on the same resource (a `Resource` or `ContainerResource` metric; an
HPA with no metric scales on cpu)."#,
            why: r#"the VPA's own documentation warns against it: the HPA adds pods because usage is high relative
to the request, the VPA raises the request because usage is high, and the two chase each other.
A VPA in recommendation mode (`"Off"`), or one that controls only resources the HPA does not scale
on, is fine."#,
            bad: r#"Bad:
```yaml
# HPA: metrics: [{type: Resource, resource: {name: cpu, ...}}]
kind: VerticalPodAutoscaler
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: openim-api}
  updatePolicy: {updateMode: Auto}
```"#,
            good: r#"Good:
```yaml
kind: VerticalPodAutoscaler
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: openim-api}
  updatePolicy: {updateMode: "Off"}     # recommendations only
```"#,
        },
    }
}
