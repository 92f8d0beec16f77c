//! The `secrets/` rules: credentials written in the tree. Findings never show a value.

use super::{family, Doc};

family! {
    /// The `secrets/` rules: credentials written in the tree. Findings never show a value.
    Secrets = "secrets" {
        CommandLineCredential = "command-line-credential", Error {
            summary: "a container's args, command, exec probe or hook passes a credential as a literal (`--password=...`)",
            what: r#"Checks that no container passes a credential on its command line as a literal: `args`, `command`,
and the exec commands of probes and lifecycle hooks, as separate words or inside a `sh -c` script
(`--password=V`, `--db-password V`, `PGPASSWORD=V psql ...`), and the short options of the tools that
take one (`mysqladmin -pV`, `redis-cli -a V`, `curl -u user:V`). References (`$(DB_PASSWORD)`,
`$REDIS_PASSWORD`, `$(cat /run/secrets/pw)`), placeholders and switches (`--use-credentials=true`)
are fine."#,
            why: r#"a command line is in the manifest in git, in `kubectl describe`, and in every process listing
on the node."#,
            bad: r#"Bad:
```yaml
args: ["--password=9f8Qe2xLr4"]
```"#,
            good: r#"Good:
```yaml
env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]
args: ["--password=$(DB_PASSWORD)"]
```"#,
        },
        ConfigmapCredential = "configmap-credential", Error {
            summary: "a ConfigMap (or a config file embedded in one) sets a credential key to a literal value",
            what: r#"Checks that ConfigMaps carry no credentials: a key named like a credential (`DB_PASSWORD`, `apiKey`,
a kubeconfig's `client-key-data`) with a literal value, directly or inside a config file the ConfigMap
holds (YAML or JSON, any number of documents, block scalars included; properties, .env, ini and TOML
lines; Redis and Sentinel directives `requirepass`, `masterauth`, `sentinel auth-pass`; a Docker
config's `auth`). Empty values, references (`${VAR}`, `$(VAR)`, `{{ .x }}`, `<path:...>`, Grafana's
`$__file{...}`, a file path), switches (`yes`, `false`), names of keys or Secrets that hold the value
(`adminPasswordKey`, `existingSecret`) and placeholder phrases (`not-a-secret`, `your-password-here`,
`****`) are fine; known default passwords are left to `secrets/default-password`."#,
            why: r#"a ConfigMap is readable by anyone who may read the namespace's configuration and is committed as
is; OpenIM reads credentials from `IMENV_*` variables, which can come from a Secret."#,
            bad: r#"Bad:
```yaml
data:
  mongodb.yml: |
    password: 9f8Qe2xLr4
```"#,
            good: r#"Good: `password: ""` in the file, and `IMENV_MONGODB_PASSWORD` from `secretKeyRef`."#,
        },
        DefaultPassword = "default-password", Error {
            summary: "a credential is set to a well-known default password",
            what: r#"Checks that no credential is set to a well-known default password (OpenIM's `openIM123`, MinIO's
`minioadmin`, `admin`, `password`, `123456`, `changeme`, `root`, ...): in ConfigMaps and the config
files they hold, `env` literals, and plaintext Secrets (decoded). The finding does not say which one."#,
            why: "default passwords are the first thing anyone tries; a deployment that keeps one is open.",
            bad: "Bad: `secret: openIM123` in `share.yml`.",
            good: r#"Good: `secret: ""`, set from a Secret."#,
        },
        EnvLiteral = "env-literal", Error {
            summary: "an `env` entry named like a credential has a literal `value` instead of `valueFrom`",
            what: r#"Checks that `env` entries whose name says credential (`*_PASSWORD`, `*_SECRET`, `*_TOKEN`, `*_KEY`,
`*_CREDENTIALS`, ...) take their value from a Secret (`valueFrom`), not from a literal `value`.
Empty values and references (`$(OTHER_VAR)`) are fine; known defaults are `secrets/default-password`."#,
            why: "the literal ends up in git, in the rendered manifest and in `kubectl describe`.",
            bad: r#"Bad:
```yaml
env:
  - {name: IMENV_REDIS_PASSWORD, value: s3cr3t-value}
```"#,
            good: r#"Good:
```yaml
env:
  - name: IMENV_REDIS_PASSWORD
    valueFrom: {secretKeyRef: {name: openim-redis-credentials, key: password}}
```"#,
        },
        HighEntropy = "high-entropy", Warning {
            summary: "a value looks random enough to be a secret (Shannon entropy over base64 or hex)",
            what: r#"Checks the values that may hold secrets (ConfigMap and Secret data, base64 decoded; `env` values;
container `args` and `command`; annotations) for random-looking strings: runs of base64 characters of
20 or more with upper case, lower case and digits and an entropy of at least 0.87 * log2(length) bits
per character, and hex runs of 32 or more with an entropy of at least 3.0. Image digests, hashes after
`sha256:`, UUIDs, hex under keys that say commit/sha/hash/digest/checksum (`sha256sum`), and values
already reported (known tokens, credential-named keys) are left out, as is public material: PEM blocks
of certificates and public keys, a JSON Web Key's public members (`n`, `e`, `x`, `y`, `x5c`),
subresource-integrity hashes (`sha384-...`) and publishable keys (`pk_live_...`)."#,
            why: r#"most leaked secrets are random strings with no recognisable prefix; this catches them where a
key name does not give them away. It is a warning: a random-looking value may be an identifier."#,
            bad: "Bad: `SIGNING_SALT: hX9$...` style 32-character random strings in `env`.",
            good: "Good: `valueFrom.secretKeyRef`.",
        },
        KnownToken = "known-token", Error {
            summary: "a value has the shape of a known token or key (cloud keys, GitHub, Slack, JWT, private keys, ...)",
            what: r#"Checks every string of every object (Secret `data` and ConfigMap `binaryData` decoded first, SOPS-
encrypted files skipped) for the shapes of known tokens and keys: AWS access key IDs, GitHub
(`ghp_`, `gho_`, `github_pat_`), GitLab, Slack (`xoxb-`, webhooks), JWTs, PEM private keys, Google API
keys, Stripe, npm, SendGrid, Alibaba Cloud, Azure storage keys, and URLs with a password
(`user:pass@` after `mongodb://`, `:pass@` after `redis://`, unless the password is a reference such
as `$(PASSWORD)`)."#,
            why: "these formats are never placeholders; one in git is a leaked credential to revoke.",
            bad: r#"Bad: `args: ["--github-token=ghp_..."]`."#,
            good: "Good: the token in a Secret, `valueFrom.secretKeyRef`.",
        },
        MetadataCredential = "metadata-credential", Error {
            summary: "a label or annotation named like a credential (`db-password`) holds a literal value",
            what: r#"Checks that no label or annotation (of the object or of its pod template) named like a credential
holds a literal value (`db-password: ...`, `example.com/api-token: ...`). Keys that name a Secret
(`...-secret`) or a hash of one (`checksum/secret`) are fine, as are references and placeholders."#,
            why: r#"metadata is shown by every tool that lists objects (`kubectl get -o wide`, dashboards, audit
logs) and is readable by anyone who may list the object."#,
            bad: "Bad: `metadata: {annotations: {db-password: 9f8Qe2xLr4}}`.",
            good: "Good: the value in a Secret.",
        },
        PlaintextSecret = "plaintext-secret", Error {
            summary: "a Secret carries values in `data` or `stringData` (use an ExternalSecret, a SealedSecret or SOPS)",
            what: r#"Checks that no `Secret` in the rendered tree carries values: `data` or `stringData` with anything but
empty or placeholder values. SealedSecrets, ExternalSecrets and SOPS-encrypted files (a top-level
`sops:` block) are fine: what git holds is encrypted or a reference."#,
            why: r#"base64 is not encryption; a Secret in git is a secret published to everyone who can read the
repository, forever."#,
            bad: r#"Bad:
```yaml
kind: Secret
data: {password: b3BlbklNMTIz}
```"#,
            good: r#"Good:
```yaml
kind: ExternalSecret
spec: {target: {name: openim-mongodb-credentials}, data: [{secretKey: password, remoteRef: {key: mongodb, property: password}}]}
```"#,
        },
    }
}
