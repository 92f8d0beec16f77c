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
            allow_all: vec![AllowAll { name: "allow-kubernetes-api".into(), namespace: "a".into(), origin: None }],
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
        }
    }

    #[test]
    fn service_selects_nothing() {
        snapshot("refs/service-selects-nothing", &Policy::default());
    }
    #[test]
    fn ingress_backend() {
        let policy = Policy { external: vec![external("Service", "auth", "a", &[])], ..Policy::default() };
        snapshot("refs/ingress-backend", &policy);
    }
    #[test]
    fn missing_secret() {
        let policy = Policy { external: vec![external("Secret", "vault-token", "", &["token"])], ..Policy::default() };
        snapshot("refs/missing-secret", &policy);
    }
    #[test]
    fn missing_configmap() {
        let policy = Policy { external: vec![external("ConfigMap", "cluster-info", "", &[])], ..Policy::default() };
        snapshot("refs/missing-configmap", &policy);
    }
    #[test]
    fn missing_pvc() {
        let policy =
            Policy { external: vec![external("PersistentVolumeClaim", "shared", "a", &[])], ..Policy::default() };
        snapshot("refs/missing-pvc", &policy);
    }
    #[test]
    fn missing_service_account() {
        snapshot("refs/missing-service-account", &Policy::default());
    }
    #[test]
    fn missing_role() {
        let policy =
            Policy { external: vec![external("ClusterRole", "kubeblocks-reader", "", &[])], ..Policy::default() };
        snapshot("refs/missing-role", &policy);
    }
    #[test]
    fn missing_scale_target() {
        let policy = Policy { external: vec![external("Rollout", "canary", "a", &[])], ..Policy::default() };
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
        snapshot_as("images/owned-tag-rule/dev", "images/owned-tag-rule", &Policy::default());
    }
    #[test]
    fn owned_tag_rule_in_test() {
        snapshot_as("images/owned-tag-rule/test", "images/owned-tag-rule", &Policy::default());
    }
    #[test]
    fn owned_tag_rule_in_release() {
        snapshot_as("images/owned-tag-rule/release", "images/owned-tag-rule", &Policy::default());
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
        assert!(fx.run("images/registry-not-allowed", &Policy::default()).is_empty());
    }
    #[test]
    fn third_party_unpinned() {
        snapshot("images/third-party-unpinned", &Policy::default());
        let fx = load("images/third-party-unpinned");
        let policy = Policy { require_digests: true, ..Policy::default() };
        fx.assert_snapshot_as("expected-require-digests.json", &fx.run("images/third-party-unpinned", &policy));
    }
    #[test]
    fn third_party_unpinned_only_in_release() {
        // dev runs redis:7.2 too: no finding outside release.
        let fx = load("images/owned-tag-rule/dev");
        assert!(fx.run("images/third-party-unpinned", &Policy::default()).is_empty());
    }
    #[test]
    fn pull_always_in_release() {
        snapshot("images/pull-always-in-release", &Policy::default());
        let fx = load("images/owned-tag-rule/test");
        assert!(fx.run("images/pull-always-in-release", &Policy::default()).is_empty());
    }
}
