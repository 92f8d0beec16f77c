//! The rule families `netpol/`, `secrets/`, `refs/` and `images/`: one fixture per rule under
//! `tests/fixtures/check/<family>/<rule>/` with objects that must fire and objects that must not, and the
//! findings (code, file, line, column, message) snapshotted in its `expected.json`.

mod common;

use openim_gitops::check::Policy;

use common::load;

/// Runs the rule `<family>/<name>` on its fixture and compares with the snapshot.
fn snapshot(code: &str, policy: &Policy) -> Vec<openim_gitops::check::Finding> {
    let fx = load(code);
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
