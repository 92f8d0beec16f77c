//! The `schema/` rules: objects against their schemas, names, labels, quantities and ports.

use super::{family, Doc};

family! {
    /// The `schema/` rules: objects against their schemas, names, labels, quantities and ports.
    Schema = "schema" {
        DeprecatedApi = "deprecated-api", Warning {
            summary: "The object's apiVersion is served by the target Kubernetes version but removed in a later one",
            what: r#"Reports an object whose `apiVersion` the target Kubernetes minor still serves but a later minor
removes, with that minor and the apiVersion to use instead (`schemas/kubernetes/removed-apis.json`)."#,
            why: "the manifests work today and break on the cluster's next upgrade; moving before it is cheap.",
            bad: r#"Bad (with `--kube-version 1.25`):
```yaml
apiVersion: autoscaling/v2beta2   # removed in Kubernetes 1.26
kind: HorizontalPodAutoscaler
```"#,
            good: r#"Good:
```yaml
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
```"#,
        },
        DuplicateContainerName = "duplicate-container-name", Error {
            summary: "Two containers (init and ephemeral included) of one pod share a name",
            what: "Checks that the containers, init containers and ephemeral containers of a pod have distinct names.",
            why: r#"Kubernetes refuses the pod; and a strategic merge patch (which merges containers by name) would
patch only one of them, so an overlay can silently miss a container."#,
            bad: r#"Bad:
```yaml
initContainers: [{name: api, image: busybox}]
containers: [{name: api, image: openim/openim-api}]
```"#,
            good: r#"Good:
```yaml
initContainers: [{name: wait-for-db, image: busybox}]
containers: [{name: api, image: openim/openim-api}]
```"#,
        },
        DuplicatePort = "duplicate-port", Error {
            summary: "A pod or Service declares the same port number and protocol, or the same port name, twice",
            what: r#"Checks for ports declared twice: the same port name within a container or a Service, the same
`containerPort`/protocol in two places of one pod, the same Service `port`/protocol twice."#,
            why: r#"Kubernetes refuses duplicate Service ports and container port names; a duplicate container port
makes named ports and strategic merge patches (which merge ports by `containerPort`) ambiguous."#,
            bad: r#"Bad:
```yaml
ports:
  - {name: http, containerPort: 10002}
  - {name: metrics, containerPort: 10002}
```"#,
            good: r#"Good:
```yaml
ports:
  - {name: http, containerPort: 10002}
  - {name: metrics, containerPort: 12002}
```"#,
        },
        Invalid = "invalid", Error {
            summary: "The object does not match the vendored Kubernetes or CRD schema of its kind",
            what: r#"Validates every object against the schema of its `apiVersion` and `kind`: the built-in kinds of the
target Kubernetes minor (`--kube-version`, default the newest vendored; `schemas/kubernetes/`), else
the `openAPIV3Schema` of a served version of a CustomResourceDefinition among the checked objects,
else a vendored CRD schema (`schemas/crds/`): wrong types, missing required fields, unknown
(misspelt) fields, values outside an enum the schema declares.

A CRD's schema is read as the API server reads a structural schema: `nullable`,
`x-kubernetes-int-or-string`, `x-kubernetes-embedded-resource` and
`x-kubernetes-preserve-unknown-fields` are honoured. Where the API server would prune an unknown
field silently, it is an error here, as `kubectl apply`'s strict field validation (its default, and
Argo CD's) reports it: the field is lost either way. A finding about a custom resource names the CRD
and points at its schema too."#,
            why: r#"the API server rejects such an object at sync time, after the commit; a misspelt field such as
`resource:` is silently dropped by client-side tools and the container runs without limits."#,
            bad: r#"Bad:
```yaml
spec:
  replicas: "3"                        # a string
  template:
    spec:
      containers:
        - image: openim/openim-api     # no name
          ports: [{containerPort: "10002"}]
          resource: {}                 # misspelt `resources`
```"#,
            good: r#"Good:
```yaml
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: openim-api
          image: openim/openim-api
          ports: [{containerPort: 10002}]
          resources: {}
```"#,
        },
        InvalidLabel = "invalid-label", Error {
            summary: "A label key or value, annotation key or selector term breaks the Kubernetes label syntax",
            what: r#"Checks label syntax wherever labels appear: `metadata.labels` (objects and templates), annotation
keys, `matchLabels` and `matchExpressions` of every selector, and a Service's `spec.selector`."#,
            why: r#"keys and values have a strict syntax (at most 63 characters, an optional DNS prefix); the
schemas accept any string and the API server refuses the object."#,
            bad: r#"Bad:
```yaml
labels:
  app.kubernetes.io/version: v3.8.3+build.1   # `+` is not allowed
  team/: im                                   # empty name after the prefix
```"#,
            good: r#"Good:
```yaml
labels:
  app.kubernetes.io/version: v3.8.3-build.1
  openim.io/team: im
```"#,
        },
        InvalidName = "invalid-name", Error {
            summary: "An object, namespace, container, volume or port name breaks the DNS-1123/IANA syntax Kubernetes requires",
            what: r#"Checks names Kubernetes constrains: `metadata.name` by kind (a label for Services and Namespaces, a
subdomain for most kinds, at most 52 characters for CronJobs), `metadata.namespace`, container and
volume names (RFC 1123 labels), named container ports and named `targetPort`s (IANA service names),
Service port names, and names on every port of a Service with several ports."#,
            why: r#"the schemas say "string"; the API server refuses `OpenIM_API` or a port named `grpc-gateway-port`
(over 15 characters) at sync time."#,
            bad: r#"Bad:
```yaml
metadata: {name: OpenIM_API}
ports: [{name: grpc-gateway-port, containerPort: 10170}]
```"#,
            good: r#"Good:
```yaml
metadata: {name: openim-api}
ports: [{name: grpc-gateway, containerPort: 10170}]
```"#,
        },
        InvalidQuantity = "invalid-quantity", Error {
            summary: "A resource quantity (cpu, memory, storage, quota) is not a Kubernetes quantity, or is negative",
            what: r#"Checks that every resource quantity (container and pod `requests`/`limits`, volume claims,
`emptyDir.sizeLimit`, ResourceQuota `hard`, LimitRange limits, KubeBlocks component resources) is a
Kubernetes quantity and not negative."#,
            why: r#"the vendored schemas accept any string for a quantity; the API server refuses `lots` or `1GB`
and the sync fails after the commit."#,
            bad: r#"Bad:
```yaml
resources:
  requests: {cpu: lots, memory: 1GB}
```"#,
            good: r#"Good:
```yaml
resources:
  requests: {cpu: 250m, memory: 1Gi}
```"#,
        },
        PortOutOfRange = "port-out-of-range", Error {
            summary: "A port number is outside 1-65535 (or a NetworkPolicy endPort is below its port)",
            what: r#"Checks port numbers: container, host and probe ports, Service `port`/`targetPort`/`nodePort`,
NetworkPolicy `port`/`endPort`, Ingress backend ports must lie in 1-65535 (0 means "unset" where
Kubernetes allows it), and a NetworkPolicy `endPort` must not be below its `port`."#,
            why: r#"the vendored schemas only say "integer"; `port: 70000` passes them and fails at sync time."#,
            bad: r#"Bad:
```yaml
ports:
  - port: 70000
```"#,
            good: r#"Good:
```yaml
ports:
  - port: 7000
```"#,
        },
        RemovedApi = "removed-api", Error {
            summary: "The object's apiVersion is one the target Kubernetes version no longer serves (--kube-version)",
            what: r#"Reports an object whose `apiVersion` the target Kubernetes minor (`--kube-version`, default the
newest vendored) no longer serves, with the minor that removed it and the apiVersion to use instead,
as pluto and kubent do. The table is `schemas/kubernetes/removed-apis.json` (from Kubernetes'
Deprecated API Migration Guide). Such an object gets this finding instead of `schema/unknown-kind`."#,
            why: r#"the API server refuses the object, so the sync fails after the commit; and an upgrade of the
cluster breaks manifests that applied fine the day before."#,
            bad: r#"Bad:
```yaml
apiVersion: extensions/v1beta1   # removed in Kubernetes 1.22
kind: Ingress
```"#,
            good: r#"Good:
```yaml
apiVersion: networking.k8s.io/v1
kind: Ingress
```"#,
        },
        SelectorMismatch = "selector-mismatch", Error {
            summary: "A workload's selector does not match its own pod template's labels, or is empty",
            what: r#"Checks that the `spec.selector` of a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job selects
the pods of its own template: every `matchLabels` entry and `matchExpressions` term must hold for
the template's labels, and the selector must not be empty."#,
            why: r#"the API server refuses a workload whose selector misses its template ("selector does not match
template labels"), and the selector is immutable afterwards; an overlay that changes a template label
breaks it without touching the selector."#,
            bad: r#"Bad:
```yaml
selector: {matchLabels: {app: openim-api}}
template:
  metadata: {labels: {app: openim-apis}}
```"#,
            good: r#"Good:
```yaml
selector: {matchLabels: {app: openim-api}}
template:
  metadata: {labels: {app: openim-api}}
```"#,
        },
        UnknownKind = "unknown-kind", Error {
            summary: "No schema is vendored for the object's apiVersion and kind, and the policy does not allow it",
            what: r#"Reports objects whose `apiVersion` and `kind` have no schema for the target Kubernetes minor
(`--kube-version`): not a built-in kind it serves, not a vendored CRD, not a custom resource whose CRD
is in the checked tree; unless the policy allows the kind (`allow.kinds`). An apiVersion Kubernetes
removed is `schema/removed-api` instead."#,
            why: r#"a typo in `kind` or `apiVersion` is refused by the cluster, and an object nothing can validate
hides every other mistake in it."#,
            bad: r#"Bad:
```yaml
apiVersion: apps/v1
kind: Deploymnet
```"#,
            good: r#"Good:
```yaml
apiVersion: apps/v1
kind: Deployment
```"#,
        },
        UnknownTargetPort = "unknown-target-port", Error {
            summary: "A Service's named targetPort is declared by no container of the pods it selects",
            what: r#"Checks that a Service's named `targetPort` is declared (as a named container port) by some container
of the pods the Service selects. Services that select no pod are left to `refs/`."#,
            why: r#"a named target port that no container declares makes the Service's endpoints empty: traffic
fails although every pod is ready."#,
            bad: r#"Bad:
```yaml
# Service
ports: [{name: http, port: 80, targetPort: web}]
# its pods
ports: [{name: http, containerPort: 10002}]
```"#,
            good: r#"Good:
```yaml
ports: [{name: http, port: 80, targetPort: http}]
```"#,
        },
    }
}
