//! The rule families `netpol/`, `secrets/`, `refs/` and `images/`: one fixture per rule under
//! `tests/fixtures/check/<family>/<rule>/` with objects that must fire and objects that must not, and the
//! findings (code, file, line, column, message) snapshotted in its `expected.json`.

mod common;

use openim_gitops::check::Policy;

use common::load;

/// Runs the rule `<family>/<name>` on its fixture and compares with the snapshot.
fn snapshot(code: &str, policy: &Policy) -> Vec<openim_gitops::check::Finding> {
    snapshot_as(code, code, policy)
}

/// Runs the rule `code` on the fixture folder `fixture` and compares with its snapshot.
fn snapshot_as(fixture: &str, code: &str, policy: &Policy) -> Vec<openim_gitops::check::Finding> {
    let fx = load(fixture);
    let findings = fx.run(code, policy);
    fx.assert_snapshot(&findings);
    findings
}

mod netpol {
    use super::*;
    use openim_gitops::check::policy::AllowAll;

    #[test]
    fn no_default_deny() {
        snapshot("netpol/no-default-deny", &Policy::default());
    }
    #[test]
    fn workload_not_selected() {
        snapshot("netpol/workload-not-selected", &Policy::default());
    }
    #[test]
    fn allow_all() {
        let policy = Policy {
            allow_all: vec![AllowAll {
                name: "allow-kubernetes-api".into(),
                namespace: "a".into(),
                origin: None,
            }],
            ..Policy::default()
        };
        snapshot("netpol/allow-all", &policy);
    }
    #[test]
    fn policy_selects_nothing() {
        snapshot("netpol/policy-selects-nothing", &Policy::default());
    }
    #[test]
    fn peer_selects_nothing() {
        snapshot("netpol/peer-selects-nothing", &Policy::default());
    }
    #[test]
    fn port_not_exposed() {
        snapshot("netpol/port-not-exposed", &Policy::default());
    }
    #[test]
    fn invalid_cidr() {
        snapshot("netpol/invalid-cidr", &Policy::default());
    }
    #[test]
    fn dead_rules() {
        snapshot("netpol/dead-rules", &Policy::default());
    }
}

mod secrets {
    use super::*;

    #[test]
    fn plaintext_secret() {
        snapshot("secrets/plaintext-secret", &Policy::default());
    }
    #[test]
    fn configmap_credential() {
        snapshot("secrets/configmap-credential", &Policy::default());
    }
    #[test]
    fn env_literal() {
        snapshot("secrets/env-literal", &Policy::default());
    }
    #[test]
    fn known_token() {
        snapshot("secrets/known-token", &Policy::default());
    }
    #[test]
    fn high_entropy() {
        snapshot("secrets/high-entropy", &Policy::default());
    }
    #[test]
    fn default_password() {
        snapshot("secrets/default-password", &Policy::default());
    }
    #[test]
    fn command_line_credential() {
        snapshot("secrets/command-line-credential", &Policy::default());
    }
    #[test]
    fn metadata_credential() {
        snapshot("secrets/metadata-credential", &Policy::default());
    }
}

mod refs {
    use super::*;
    use openim_gitops::check::policy::External;

    fn external(kind: &str, name: &str, namespace: &str, keys: &[&str]) -> External {
        External {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            labels: Default::default(),
        }
    }

    #[test]
    fn service_selects_nothing() {
        snapshot("refs/service-selects-nothing", &Policy::default());
    }
    #[test]
    fn ingress_backend() {
        let policy = Policy {
            external: vec![external("Service", "auth", "a", &[])],
            ..Policy::default()
        };
        snapshot("refs/ingress-backend", &policy);
    }
    #[test]
    fn missing_secret() {
        let policy = Policy {
            external: vec![external("Secret", "vault-token", "", &["token"])],
            ..Policy::default()
        };
        snapshot("refs/missing-secret", &policy);
    }
    #[test]
    fn missing_configmap() {
        let policy = Policy {
            external: vec![external("ConfigMap", "cluster-info", "", &[])],
            ..Policy::default()
        };
        snapshot("refs/missing-configmap", &policy);
    }
    #[test]
    fn missing_pvc() {
        let policy = Policy {
            external: vec![external("PersistentVolumeClaim", "shared", "a", &[])],
            ..Policy::default()
        };
        snapshot("refs/missing-pvc", &policy);
    }
    #[test]
    fn missing_service_account() {
        snapshot("refs/missing-service-account", &Policy::default());
    }
    #[test]
    fn missing_role() {
        let policy = Policy {
            external: vec![external("ClusterRole", "kubeblocks-reader", "", &[])],
            ..Policy::default()
        };
        snapshot("refs/missing-role", &policy);
    }
    #[test]
    fn missing_scale_target() {
        let policy = Policy {
            external: vec![external("Rollout", "canary", "a", &[])],
            ..Policy::default()
        };
        snapshot("refs/missing-scale-target", &policy);
    }
    #[test]
    fn pdb_selects_nothing() {
        snapshot("refs/pdb-selects-nothing", &Policy::default());
    }
}

mod images {
    use super::*;

    #[test]
    fn latest_or_untagged() {
        snapshot("images/latest-or-untagged", &Policy::default());
    }
    #[test]
    fn owned_tag_rule_in_dev() {
        snapshot_as(
            "images/owned-tag-rule/dev",
            "images/owned-tag-rule",
            &Policy::default(),
        );
    }
    #[test]
    fn owned_tag_rule_in_test() {
        snapshot_as(
            "images/owned-tag-rule/test",
            "images/owned-tag-rule",
            &Policy::default(),
        );
    }
    #[test]
    fn owned_tag_rule_in_release() {
        snapshot_as(
            "images/owned-tag-rule/release",
            "images/owned-tag-rule",
            &Policy::default(),
        );
    }
    #[test]
    fn registry_not_allowed() {
        let policy = Policy {
            allowed_registries: vec!["ghcr.io/openimsdk/".into(), "docker.io/library/".into()],
            ..Policy::default()
        };
        snapshot("images/registry-not-allowed", &policy);
        // No list: any registry.
        let fx = load("images/registry-not-allowed");
        assert!(fx
            .run("images/registry-not-allowed", &Policy::default())
            .is_empty());
    }
    #[test]
    fn third_party_unpinned() {
        snapshot("images/third-party-unpinned", &Policy::default());
        let fx = load("images/third-party-unpinned");
        let policy = Policy {
            require_digests: true,
            ..Policy::default()
        };
        fx.assert_snapshot_as(
            "expected-require-digests.json",
            &fx.run("images/third-party-unpinned", &policy),
        );
    }
    #[test]
    fn third_party_unpinned_only_in_release() {
        // dev runs redis:7.2 too: no finding outside release.
        let fx = load("images/owned-tag-rule/dev");
        assert!(fx
            .run("images/third-party-unpinned", &Policy::default())
            .is_empty());
    }
    #[test]
    fn pull_always_in_release() {
        snapshot("images/pull-always-in-release", &Policy::default());
        let fx = load("images/owned-tag-rule/test");
        assert!(fx
            .run("images/pull-always-in-release", &Policy::default())
            .is_empty());
    }
}

/// The cases issue 5 names under "Why", each proved on the rule fixtures.
mod why {
    use super::*;
    use common::{fixture_dir, places, Fixture};

    /// The 1-based line of the first line of `file` (in the fixture folder) that contains `needle`.
    fn line_of(fixture: &str, file: &str, needle: &str) -> u32 {
        let text = std::fs::read_to_string(fixture_dir(fixture).join(file)).expect("fixture file");
        let i = text
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} in {file}"));
        i as u32 + 1
    }

    fn fired(fx: &Fixture, code: &str, policy: &Policy) -> Vec<(String, u32)> {
        places(fx, &fx.run(code, policy))
            .into_iter()
            .map(|(_, file, line)| (file, line))
            .collect()
    }

    #[test]
    fn an_empty_ingress_rule_allows_everything() {
        let fx = load("netpol/allow-all");
        let got = fired(&fx, "netpol/allow-all", &Policy::default());
        let line = line_of("netpol/allow-all", "policies.yaml", "- {}");
        assert!(got.contains(&("policies.yaml".into(), line)), "{got:?}");
    }

    #[test]
    fn any_address_allows_everything() {
        let fx = load("netpol/allow-all");
        let got = fired(&fx, "netpol/allow-all", &Policy::default());
        for needle in ["cidr: 0.0.0.0/0}", "cidr: \"::/0\""] {
            let line = line_of("netpol/allow-all", "policies.yaml", needle);
            assert!(
                got.contains(&("policies.yaml".into(), line)),
                "{needle}: {got:?}"
            );
        }
    }

    #[test]
    fn selection_is_namespace_aware() {
        // A policy for app=lonely in namespace b does not select the pods of namespace a.
        let fx = load("netpol/workload-not-selected");
        let got = fired(&fx, "netpol/workload-not-selected", &Policy::default());
        let lonely = line_of(
            "netpol/workload-not-selected",
            "workloads.yaml",
            "name: lonely",
        );
        assert!(got.contains(&("workloads.yaml".into(), lonely)), "{got:?}");
        // A default deny in namespace elsewhere does not cover namespace victim.
        let fx = load("netpol/no-default-deny");
        let got = fired(&fx, "netpol/no-default-deny", &Policy::default());
        let victim = line_of(
            "netpol/no-default-deny",
            "workloads.yaml",
            "namespace: victim",
        );
        assert!(got.contains(&("workloads.yaml".into(), victim)), "{got:?}");
    }

    #[test]
    fn match_expressions_select() {
        let fx = load("netpol/workload-not-selected");
        let got = fired(&fx, "netpol/workload-not-selected", &Policy::default());
        // api (In) and worker (NotIn, Exists) are selected; api-canary is excluded by DoesNotExist.
        for (name, selected) in [
            ("name: api", true),
            ("name: worker", true),
            ("name: api-canary", false),
        ] {
            let line = line_of("netpol/workload-not-selected", "workloads.yaml", name);
            assert_eq!(
                !got.contains(&("workloads.yaml".into(), line)),
                selected,
                "{name}: {got:?}"
            );
        }
    }

    #[test]
    fn a_plaintext_secret_is_reported() {
        let fx = load("secrets/plaintext-secret");
        let got = fired(&fx, "secrets/plaintext-secret", &Policy::default());
        let line = line_of(
            "secrets/plaintext-secret",
            "secrets.yaml",
            "username: cm9vdA==",
        ) - 1;
        assert!(got.contains(&("secrets.yaml".into(), line)), "{got:?}");
    }

    #[test]
    fn a_password_in_a_block_scalar_is_found_at_its_line() {
        let fx = load("secrets/configmap-credential");
        let findings = fx.run("secrets/configmap-credential", &Policy::default());
        let line = line_of(
            "secrets/configmap-credential",
            "configmaps.yaml",
            "password: 9f8Q",
        );
        let f = findings
            .iter()
            .find(|f| f.origin.line == line)
            .unwrap_or_else(|| panic!("no finding at line {line}"));
        assert_eq!(
            f.origin.col, 17,
            "the column of the value inside the block scalar"
        );
        // and in a file a ConfigMap is generated from
        let line = line_of(
            "secrets/configmap-credential",
            "config/share.yml",
            "secret: ",
        );
        assert!(findings.iter().any(|f| fx
            .sources
            .get(f.origin.file)
            .display
            .ends_with("config/share.yml")
            && f.origin.line == line));
    }

    #[test]
    fn a_token_in_a_later_document_is_found() {
        let fx = load("secrets/known-token");
        let got = fired(&fx, "secrets/known-token", &Policy::default());
        let line = line_of(
            "secrets/known-token",
            "configmaps.yaml",
            "aws_access_key_id",
        );
        assert!(got.contains(&("configmaps.yaml".into(), line)), "{got:?}");
        // and a credential in the second document of an embedded multi-document file
        let fx = load("secrets/configmap-credential");
        let got = fired(&fx, "secrets/configmap-credential", &Policy::default());
        let line = line_of(
            "secrets/configmap-credential",
            "configmaps.yaml",
            "password: Kq7m",
        );
        assert!(got.contains(&("configmaps.yaml".into(), line)), "{got:?}");
    }

    /// Decision: a value made only of placeholder words with a marker among them (`not-a-secret`,
    /// `your-password-here`, `dummy`, `<redacted>`), a mask (`****`), a reference (`${VAR}`, `$(VAR)`) or
    /// an empty string is not a credential; `changeme`, `password` and other defaults are reported as
    /// defaults; anything else with a digit or an unknown word is a credential (`not-a-secret-7731`).
    #[test]
    fn placeholders_are_not_credentials() {
        let fx = load("secrets/configmap-credential");
        let got = fired(&fx, "secrets/configmap-credential", &Policy::default());
        let line = line_of(
            "secrets/configmap-credential",
            "config/mongodb.yml",
            "not-a-secret",
        );
        assert!(!got.contains(&("mongodb.yml".into(), line)), "{got:?}");
        let line = line_of(
            "secrets/configmap-credential",
            "configmaps.yaml",
            "password: not-a-secret",
        );
        assert!(!got.contains(&("configmaps.yaml".into(), line)), "{got:?}");
        for f in ["secrets/configmap-credential", "secrets/default-password"] {
            let fx = load(f);
            for code in [
                "secrets/default-password",
                "secrets/known-token",
                "secrets/high-entropy",
            ] {
                let got = fired(&fx, code, &Policy::default());
                assert!(
                    !got.iter()
                        .any(|(file, l)| file == "mongodb.yml" && *l == line),
                    "{code}"
                );
            }
        }
    }

    #[test]
    fn an_env_password_with_a_literal_value_is_reported() {
        let fx = load("secrets/env-literal");
        let got = fired(&fx, "secrets/env-literal", &Policy::default());
        let line = line_of("secrets/env-literal", "workloads.yaml", "name: X_PASSWORD") + 1;
        assert!(got.contains(&("workloads.yaml".into(), line)), "{got:?}");
    }
}

/// No finding shows a secret: every value planted in the secrets fixtures is searched for in every
/// finding's message, help and related labels, with every rule of every family run on every fixture.
mod no_secret_values {
    use super::*;
    use openim_gitops::check::{self, Context};

    const PLANTED: &[&str] = &[
        // credentials
        "hJduRHHJEYXg4J",
        "dpmrcXgGCJbW",
        "56eCuNGMGmSrCGIZ",
        "9f8Qe2xLr4Tz",
        "R7k2PqW9zLm4",
        "Kq7mW2xR9p",
        "Zr8vQ2mK5wL9",
        "Xy7Lw3Kp9Qa2",
        "admin123x",
        // defaults, plain and base64
        "openIM123",
        "minioadmin",
        "changeme",
        "Y2hhbmdlbWU=",
        "aEpkdVJISEpFWVhnNEo=",
        // tokens, plain and base64
        "AKIAZDOC9IS0J8HT9LGM",
        "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d",
        "AIzaSQedUStPKR0CsTy4Qwb8DwkNhFdnXsiVpzz",
        "xoxb-91186252760-9QeWJKY40uvSwMFLZDe1f8rE",
        "eG94Yi05MTE4NjI1Mjc2MC05UWVXSktZNDB1dlN3TUZMWkRlMWY4ckU=",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcGVuaW0ifQ",
        "MIIEowIBAAKCAQEAnotarealkeyjustashapeforthetest",
        // random values
        "63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqsaj",
        "OzdmenCkhvMdgaKjIg8xNbe3nNyj",
        "AIxNKu8iS2G8NPRVdD53X83RZJzzzzgE",
        "UUwwNUhBMDY0R2lJakhHYjNDWGxNYVhaamxqRU5V",
        "QL05HA064GiIjHGb3CXlMaXZjljENU",
    ];

    #[test]
    fn no_finding_contains_a_planted_value() {
        let mut checked = 0;
        for rule in [
            "plaintext-secret",
            "configmap-credential",
            "env-literal",
            "known-token",
            "high-entropy",
            "default-password",
        ] {
            let fx = load(&format!("secrets/{rule}"));
            let policy = Policy::default();
            let ctx = Context::new(
                fx.layer.as_ref().map(|l| l.name.value.as_str()),
                &fx.resources,
                &fx.sources,
                fx.layer.as_ref(),
                &policy,
            );
            let findings = check::run(&ctx);
            assert!(
                !findings.is_empty(),
                "{rule}: the fixture must produce findings to search"
            );
            for f in &findings {
                checked += 1;
                let mut texts = vec![f.message.clone()];
                texts.extend(f.help.clone());
                texts.extend(f.related.iter().map(|(_, l)| l.clone()));
                for text in &texts {
                    for value in PLANTED {
                        // the whole value, and any 8 characters of it
                        let probes = (0..=value.len().saturating_sub(8))
                            .map(|i| &value[i..i + 8.min(value.len())]);
                        for p in std::iter::once(*value).chain(probes) {
                            assert!(
                                !text.contains(p),
                                "{}: `{text}` contains part of a planted value `{p}`",
                                f.code()
                            );
                        }
                    }
                }
            }
        }
        assert!(checked > 20, "only {checked} findings searched");
    }
}
