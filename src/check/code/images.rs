//! The `images/` rules: tags, registries and pull policies of container images.

use super::{family, Doc};

family! {
    /// The `images/` rules: tags, registries and pull policies of container images.
    Images = "images" {
        LatestOrUntagged = "latest-or-untagged", Error {
            summary: "an image has the tag `latest`, or no tag, and no digest",
            what: r#"Checks that every container image has a tag other than `latest`, or a digest. The images a skaffold
configuration among the checked files builds (its artifacts) are left out: skaffold deploys them with
the tag of what it built."#,
            why: r#"`latest` (or no tag, which means `latest`) names whatever was pushed last: two nodes may run
different code, a rollback rolls back to nothing, and the rendered tree no longer says what runs."#,
            bad: "Bad: `image: redis`, `image: openim/openim-api:latest`.",
            good: "Good: `image: redis:7.2.4`, `image: openim/openim-api:release-v3.8.3`, or a `@sha256:` digest.",
        },
        OwnedTagRule = "owned-tag-rule", Error {
            summary: "an image the environment owns has a tag that breaks the environment's tag rule",
            what: r#"Checks that every image the environment owns (`tags.images` in `env.yaml`) carries a tag that keeps the
environment's rule: dev (`branch`) a branch made a legal OCI tag, never `HEAD` nor one that looks like
`rcN` or `release-v...`; test (`rc`) `rcN`; release `release-vX.Y.Z`. (`latest` and missing tags are
`images/latest-or-untagged`.)"#,
            why: r#"what runs in each environment is identified by its stage; a branch build in release, or a
release tag in dev, breaks the promise silently."#,
            bad: "Bad (release): `image: openim/openim-api:v3.8.3`, `...:rc2`, `...:main`.",
            good: "Good (release): `image: openim/openim-api:release-v3.8.3`, as the tag stage sets it.",
        },
        PullAlwaysInRelease = "pull-always-in-release", Warning {
            summary: "in release, `imagePullPolicy: Always` on an image whose tag never moves",
            what: r#"Checks, in release, that no container pulls an image whose tag never moves (a digest, `rcN`,
`release-vX.Y.Z`, a full version) with `imagePullPolicy: Always`."#,
            why: r#"it buys nothing but a dependency on the registry at every pod start: a registry outage then
stops pods from starting, rescheduling included. A warning: some clusters require it for
authorisation."#,
            bad: "Bad (release): `image: openim/openim-api:release-v3.8.3` with `imagePullPolicy: Always`.",
            good: "Good: `imagePullPolicy: IfNotPresent`.",
        },
        RegistryNotAllowed = "registry-not-allowed", Error {
            summary: "an image comes from a registry the policy does not allow",
            what: r#"Checks that every image comes from a registry the policy allows (`Policy.allowed_registries`:
prefixes such as `ghcr.io/openimsdk/` or `docker.io/library/`; none listed: any). Names without a
registry are Docker Hub's (`redis` is `docker.io/library/redis`)."#,
            why: r#"an image from an unexpected registry is a supply-chain risk, and may not be reachable from the
cluster."#,
            bad: "Bad (allowed: `ghcr.io/openimsdk/`): `image: openim/openim-api:v3.8.3`.",
            good: "Good: `image: ghcr.io/openimsdk/openim-api:v3.8.3` (an `images` entry with `newName` can move it).",
        },
        ThirdPartyUnpinned = "third-party-unpinned", Error {
            summary: "in release, a third-party image is not pinned to a version (or to a digest when the policy asks)",
            what: r#"Checks, in release, that every third-party image (one the environment does not own) is pinned: a
digest, or a tag that names a version rather than a line of them (`7.2.4`, `RELEASE.2024-01-16...`;
not `7`, `7.2`, `7.2-alpine`, `stable`). When the policy sets `require_digests`, only a digest pins."#,
            why: r#"a floating tag changes what release runs without any change in git; a node that pulls later
runs another version than the others."#,
            bad: "Bad: `image: redis:7.2`.",
            good: "Good: `image: redis:7.2.4`, or `redis:7.2.4@sha256:...` with `require_digests`.",
        },
    }
}
