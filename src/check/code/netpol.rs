//! The `netpol/` rules: NetworkPolicies as the API server and the network plugin read them.

use super::{family, Doc};

family! {
    /// The `netpol/` rules: NetworkPolicies as the API server and the network plugin read them.
    Netpol = "netpol" {
        AllowAll = "allow-all", Error {
            summary: "a NetworkPolicy rule allows every source or destination",
            what: r#"Checks that no NetworkPolicy rule allows everything: a rule without peers (`ingress: [{}]`, a missing
or empty `from`/`to`), an `ipBlock` of `0.0.0.0/0` or `::/0`, an empty peer, or a `namespaceSelector: {}`
without a narrowing `podSelector` (every pod of every namespace). A policy the policy file lists under
`allow_all` may do so."#,
            why: r#"one such rule undoes the default deny for the pods the policy selects, and reviewers easily read
`{}` as "nothing"."#,
            bad: r#"Bad:
```yaml
ingress:
  - {}
egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
```"#,
            good: r#"Good:
```yaml
ingress:
  - from: [{podSelector: {matchLabels: {app: openim-api}}}]
    ports: [{port: 10002}]
```"#,
        },
        DeadRules = "dead-rules", Error {
            summary: "a NetworkPolicy has rules for a direction its policyTypes leave out: Kubernetes ignores them",
            what: r#"Checks that a NetworkPolicy has no rules for a direction its `policyTypes` leave out: Kubernetes
ignores `ingress` rules of a policy whose `policyTypes` is `[Egress]`, and the other way round."#,
            why: r#"the rules read as if they allowed (and the policy as if it isolated) traffic it does not touch;
usually `Ingress` or `Egress` was forgotten in `policyTypes`."#,
            bad: r#"Bad:
```yaml
spec:
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {matchLabels: {app: openim-api}}}]}]
```"#,
            good: "Good: `policyTypes: [Ingress, Egress]`, or no `ingress` rules.",
        },
        InvalidCidr = "invalid-cidr", Error {
            summary: "an `ipBlock` CIDR is not an address range: the API server rejects the policy",
            what: r#"Checks that every `ipBlock` CIDR (`cidr` and each `except`) is an address range such as
`10.0.0.0/8` or `fd00::/8`, in every rule of every NetworkPolicy."#,
            why: r#"the API server rejects the whole policy, so the isolation it was written for never exists;
until then every other check reads a policy the cluster will not have."#,
            bad: "Bad: `ipBlock: {cidr: 10.0.0.0}` (no prefix length), `cidr: 10.0.0.0/33`, `cidr: 300.1.0.0/16`.",
            good: "Good: `ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}`.",
        },
        NoDefaultDeny = "no-default-deny", Error {
            summary: "a namespace that runs workloads has no default-deny NetworkPolicy for ingress and egress",
            what: r#"Checks that every namespace that runs pods has a default deny for both directions: a NetworkPolicy
with an empty `podSelector` (every pod of the namespace) whose `policyTypes` include `Ingress`, and one
(the same or another) whose `policyTypes` include `Egress`."#,
            why: r#"without it, a pod no policy selects accepts and opens any connection; a new workload, or a
label typo, silently leaves the network open. With it, everything not allowed explicitly is denied."#,
            bad: r#"Bad (a namespace whose only policy selects one app):
```yaml
kind: NetworkPolicy
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [...]
```"#,
            good: r#"Good:
```yaml
kind: NetworkPolicy
metadata: {name: default-deny-all}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
```"#,
        },
        PeerSelectsNothing = "peer-selects-nothing", Error {
            summary: "a NetworkPolicy peer's podSelector matches no pod the tree runs",
            what: r#"Checks that every peer `podSelector` matches some pod: in the policy's namespace, or in the namespaces
its `namespaceSelector` names by `kubernetes.io/metadata.name` when the tree renders them. Peers in
namespaces the tree does not render (kube-system, the ingress controller's) are not checked."#,
            why: r#"a peer that matches nothing allows nothing; the traffic it was written for is blocked, usually
because of a misspelt label or a renamed app."#,
            bad: "Bad: `from: [{podSelector: {matchLabels: {app.kubernetes.io/name: openim-chat-apii}}}]`.",
            good: "Good: `from: [{podSelector: {matchLabels: {app.kubernetes.io/name: openim-chat-api}}}]`.",
        },
        PolicySelectsNothing = "policy-selects-nothing", Error {
            summary: "a NetworkPolicy's podSelector matches no pod the tree runs in its namespace",
            what: r#"Checks that a NetworkPolicy's `podSelector` matches some pod the tree runs in the policy's namespace
(an empty selector, every pod, is always fine)."#,
            why: r#"a policy that selects nothing protects nothing; usually a label was misspelt or changed, and the
workload it was written for is either unprotected or cut off."#,
            bad: "Bad: `podSelector: {matchLabels: {app.kubernetes.io/name: openim-apii}}`.",
            good: r#"Good: `podSelector: {matchLabels: {app.kubernetes.io/name: openim-api}}`, the label of the Deployment's
pod template."#,
        },
        PortNotExposed = "port-not-exposed", Error {
            summary: "a NetworkPolicy allows a port that no container of the pods it concerns declares",
            what: r#"Checks that every port a NetworkPolicy rule allows (`port` by number, with `endPort` a range, or by
name, with its protocol, TCP by default) is declared by some container of the pods it concerns: for
ingress the pods the policy selects, for egress the pods its peers name. Rules whose pods the tree
cannot tell (an `ipBlock`, other namespaces, pods an operator makes) are not checked."#,
            why: r#"a port no container listens on is a leftover or a typo, and the port that is really needed stays
closed."#,
            bad: "Bad (the container declares `http` on 10002): `ports: [{port: 10020}]`.",
            good: "Good: `ports: [{port: 10002, protocol: TCP}]` or `ports: [{port: http}]`.",
        },
        WorkloadNotSelected = "workload-not-selected", Error {
            summary: "no NetworkPolicy of its namespace selects a workload's pods for ingress or for egress",
            what: r#"Checks that the pods of every workload are selected, for ingress and for egress, by some NetworkPolicy
of their own namespace (a policy of another namespace does not count; `matchExpressions` count; a
policy without `policyTypes` counts for egress only when it has egress rules)."#,
            why: r#"a pod that no policy selects for a direction is not isolated in that direction: all traffic is
allowed, whatever the other policies say."#,
            bad: r#"Bad (the policy lives in another namespace than the Deployment, or lists only `Ingress`):
```yaml
kind: NetworkPolicy
metadata: {name: api, namespace: other}
spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress]}
```"#,
            good: r#"Good:
```yaml
kind: NetworkPolicy
metadata: {name: api, namespace: openim}
spec: {podSelector: {matchLabels: {app: api}}, policyTypes: [Ingress, Egress], ingress: [...], egress: [...]}
```"#,
        },
    }
}
