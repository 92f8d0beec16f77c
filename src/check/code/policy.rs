//! The built-in `policy/` codes: waivers, and user policies that cannot run or were not evaluated.

use super::{family, Doc};

family! {
    /// The built-in `policy/` codes: waivers, and user policies that cannot run or were not evaluated.
    /// A user policy's own violations are [`Code::User`](super::Code::User).
    Policy = "policy" {
        BrokenPolicy = "broken-policy", Error {
            summary: "A user policy does not compile or cannot be evaluated",
            what: r#"Reports a user policy that cannot run: a CEL expression that does not compile, a Rego file that
does not parse, a Rego rule that fails; and an expression that fails on an object when the
policy's `failurePolicy` is `Fail` (the API server then refuses the object)."#,
            why: "a policy that does not run protects nothing, and says nothing about it.",
            bad: r#"Bad: `expression: "object.spec.replicas <="`."#,
            good: r#"Good: `expression: "object.spec.replicas <= 5"`."#,
        },
        CrdValidationRule = "crd-validation-rule", Error {
            summary: "A custom resource breaks an `x-kubernetes-validations` rule of its CRD",
            what: r#"Reports a custom resource that breaks a CEL rule (`x-kubernetes-validations`) of its CRD, as the
API server would reject it. The rules of the CRDs in the tree and in `policies/` apply; rules that
compare with the old object (`oldSelf`) are transition rules and do not apply on creation."#,
            why: r#"schema validators (kubeconform, kubernetes-validate) ignore these rules, so a manifest passes
CI and is refused on sync."#,
            bad: r#"Bad (the CRD says `rule: "self.minReplicas <= self.maxReplicas"`):
```yaml
spec: {minReplicas: 5, maxReplicas: 3}
```"#,
            good: "Good: `spec: {minReplicas: 1, maxReplicas: 3}`.",
        },
        ExpiredWaiver = "expired-waiver", Error {
            summary: "A waiver's `until` date has passed: the findings it waived are reported again",
            what: r#"Reports a waiver (policy file or annotation) whose `until` date is before today (UTC). The findings
it covered are reported again."#,
            why: r#"a waiver is a debt with a due date; an expired one must be paid (fix the finding) or renewed on
purpose, never forgotten."#,
            bad: r#"Bad (on 2026-07-01):
```yaml
waivers:
  - {rule: resources/missing-limits, target: {kind: Deployment, name: openim-push},
     reason: "sizing in progress", until: 2026-06-30}
```"#,
            good: "Good: the limits are set and the waiver removed, or `until` moved after a review.",
        },
        InvalidWaiver = "invalid-waiver", Error {
            summary: "A waive annotation cannot be read, names no rule, or gives no reason or expiry",
            what: r#"Reports a `gitops.openim.io/waive` annotation line that is not `<code> until=<YYYY-MM-DD>: <reason>`,
names a code that does not exist, or has no reason or no valid date."#,
            why: "a waiver nobody can read or date is a permanent, silent exception.",
            bad: r#"Bad:
```yaml
annotations:
  gitops.openim.io/waive: resources/missing-limits
```"#,
            good: r#"Good:
```yaml
annotations:
  gitops.openim.io/waive: "resources/missing-limits until=2026-06-30: limits come with the sizing work in OPS-12"
```"#,
        },
        NotEvaluated = "not-evaluated", Info {
            summary: "A user policy, or part of one, needs what only a live cluster knows and was not evaluated",
            what: r#"Reports, once per environment, a user policy (or one of its expressions) that needs what only a
live cluster knows: the authorizer, the user making the request, or the old object of an update
(a policy that matches only UPDATE or DELETE). Such parts are not evaluated: nothing is guessed."#,
            why: r#"a silent skip would read as "passed"."#,
            bad: r#"Bad: `expression: "authorizer.group('apps').resource('deployments').check('scale').allowed()"`."#,
            good: r#"Good: know that this validation runs only in the cluster; waive or turn this code off if that is
intended."#,
        },
        UnusedWaiver = "unused-waiver", Warning {
            summary: "A waiver matches no finding in any environment checked",
            what: "Reports a waiver that waived nothing in any environment it applies to (of those checked).",
            why: r#"the problem was fixed or the waiver names the wrong object; either way a stale waiver would
silently cover the next real finding."#,
            bad: "Bad: a waiver of `resources/missing-limits` for a Deployment that now sets its limits.",
            good: "Good: the waiver removed.",
        },
    }
}
