//! One redaction rule for every output: values of Secrets and values the `secrets/` rules flag never
//! appear in check (every format), diff (every format), explain, netmap, error snippets, the commit
//! gate, or git and network errors; a hidden value that changed still shows as a changed marker.

use crate::support::{both, Target, CLEAN_ENV, DEPLOYMENT};

const AWS_KEY: &str = "AKIAZ7Q4PLANTED5XQ2R";
const URL_PASSWORD: &str = "Pl4ntedUrlPw9x";
const ENV_PASSWORD: &str = "Pl4ntedEnvPw7q";
const SECRET_VALUE: &str = "Pl4ntedSecretVal3";
const JSON_SECRET_VALUE: &str = "Pl4ntedJsonVal8";
const ANNOTATION_PASSWORD: &str = "Pl4ntedAnnotPw5";
const ARG_PASSWORD: &str = "Pl4ntedArgPw6";
const PLANTED: [&str; 5] = [
    AWS_KEY,
    URL_PASSWORD,
    ENV_PASSWORD,
    SECRET_VALUE,
    JSON_SECRET_VALUE,
];

fn assert_clean(args: &[&str], o: &std::process::Output) {
    let all = both(o);
    for p in PLANTED {
        assert!(!all.contains(p), "{args:?} printed `{p}`:\n{all}");
    }
}

/// A pull request that adds credentials in every shape the issue names.
fn plant(t: &Target) {
    t.write(
        "environments/base/config.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  aws_key: {AWS_KEY}\n  database_url: postgres://app:{URL_PASSWORD}@db:5432/app\n  level: debug\n"
        ),
    );
    t.write(
        "environments/base/secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret # with a comment\nmetadata:\n  name: app-secret\nstringData:\n  token: {SECRET_VALUE}\n"
        ),
    );
    t.write(
        "environments/base/json-secret.yaml",
        &format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {{\"name\": \"json-secret\"}}, \"stringData\": {{\"value\": \"{JSON_SECRET_VALUE}\"}}}}\n"
        ),
    );
    t.write(
        "environments/base/api.yaml",
        &DEPLOYMENT.replace(
            "          image: openim/openim-api:v3.8.3\n",
            &format!(
                "          image: openim/openim-api:v3.8.3\n          env:\n            - name: DB_PASSWORD\n              value: {ENV_PASSWORD}\n"
            ),
        ),
    );
}

#[test]
fn no_output_prints_a_planted_credential() {
    let t = Target::new();
    t.write("environments/dev/env.yaml", CLEAN_ENV);
    plant(&t);
    for args in [
        &["check", "--env", "dev"][..],
        &["check", "--env", "dev", "--format", "json"],
        &["check", "--env", "dev", "--format", "sarif"],
        &["check", "--env", "dev", "--format", "github"],
        &["explain", "--env", "dev", "ConfigMap/app-config"],
        &[
            "explain",
            "--env",
            "dev",
            "ConfigMap/app-config",
            "--format",
            "json",
        ],
        &["explain", "--env", "dev", "Deployment/api"],
        &["explain", "--env", "dev", "Secret/app-secret"],
        &[
            "explain",
            "--env",
            "dev",
            "Secret/json-secret",
            "--format",
            "json",
        ],
        &["netmap", "--env", "dev"],
        &["netmap", "--env", "dev", "--format", "json"],
    ] {
        let o = t.run(args);
        assert!(o.status.code().is_some(), "{args:?} ended by a signal");
        assert_clean(args, &o);
    }
    // The commit gate reads what is committed: the credentials are committed first.
    t.commit("credentials");
    for args in [
        &["render", "--env", "dev", "--commit"][..],
        &["render", "--env", "dev", "--commit", "--format", "json"],
    ] {
        let o = t.run(args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?} is refused: {}",
            both(&o)
        );
        assert_clean(args, &o);
    }
    // The check found them (so the rule that hides them is the rule that flags them).
    let o = t.run(&["check", "--env", "dev", "--format", "json"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for code in ["secrets/plaintext-secret", "secrets/known-token"] {
        assert!(text.contains(code), "{code} not reported:\n{text}");
    }
}

#[test]
fn diff_shows_hidden_values_changed_without_showing_them() {
    let t = Target::new();
    t.write("environments/dev/env.yaml", CLEAN_ENV);
    plant(&t);
    t.commit("credentials");
    // The pull request changes every planted value.
    for (rel, from) in [
        ("environments/base/config.yaml", AWS_KEY),
        ("environments/base/secret.yaml", SECRET_VALUE),
        ("environments/base/api.yaml", ENV_PASSWORD),
    ] {
        let text = std::fs::read_to_string(t.path().join(rel)).unwrap();
        t.write(
            rel,
            &text.replace(from, &format!("{}X", &from[..from.len() - 1])),
        );
    }
    for args in [
        &["diff", "--env", "dev", "--base", "HEAD", "--worktree"][..],
        &[
            "diff",
            "--env",
            "dev",
            "--base",
            "HEAD",
            "--worktree",
            "--format",
            "markdown",
        ],
        &[
            "diff",
            "--env",
            "dev",
            "--base",
            "HEAD",
            "--worktree",
            "--format",
            "json",
        ],
    ] {
        let o = t.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", both(&o));
        assert_clean(args, &o);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("<redacted "), "{args:?}: no marker:\n{out}");
        assert!(
            out.contains("app-secret") && out.contains("app-config"),
            "{out}"
        );
    }
}

/// An error next to a credential quotes the file with the credential masked, whatever marks the
/// Secret (a comment after `kind`, one-line JSON) and whether or not the object is a Secret.
#[test]
fn error_snippets_mask_credentials() {
    let t = Target::new();
    t.write("environments/dev/env.yaml", CLEAN_ENV);
    t.write(
        "environments/base/config.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  aws_key: {AWS_KEY}\n  db_password: {ENV_PASSWORD}\n  db_password: again\n"
        ),
    );
    t.write(
        "environments/base/secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret # comment\nmetadata:\n  name: s\nstringData:\n  token: {SECRET_VALUE}\n  token: again\n"
        ),
    );
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert_clean(&["render"], &o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("duplicate key `db_password`"), "{err}");
    assert!(err.contains("config.yaml:8"), "{err}");
    assert!(
        err.contains("db_password: **************"),
        "the snippet is shown, masked: {err}"
    );
}

/// A push to a URL with a password in it fails without printing the password.
#[test]
fn push_errors_drop_url_credentials() {
    let t = Target::new();
    t.write(
        "policies/policy.yaml",
        "apiVersion: gitops.openim.io/v1\nkind: Policy\ndefaults:\n  rules:\n    netpol/*: off\n    resources/*: off\n    images/*: off\n",
    );
    let o = t.run(&[
        "render",
        "--env",
        "dev",
        "--commit",
        "--allow-findings",
        "--push",
        "http://deploy:Pl4ntedPushPw@127.0.0.1:9/x.git",
    ]);
    assert_ne!(o.status.code(), Some(0), "{}", both(&o));
    assert!(o.status.code().is_some());
    let all = both(&o);
    assert!(!all.contains("Pl4ntedPushPw"), "{all}");
    assert!(!all.contains("deploy:"), "{all}");
}

/// A pull request plants credentials (in objects and in its commit message) that reach `promote`: the
/// pull-request body, in every format, shows none of them, though it shows the objects that hold them.
#[test]
fn promote_bodies_never_print_a_planted_credential() {
    let t = Target::new();
    t.write(
        "policies/policy.yaml",
        "apiVersion: gitops.openim.io/v1\nkind: Policy\ndefaults:\n  rules:\n    netpol/*: off\n    resources/*: off\n    images/*: off\n",
    );
    t.write(
        "environments/prod/env.yaml",
        &CLEAN_ENV
            .replace("name: dev", "name: prod")
            .replace("openim-dev", "openim-prod"),
    );
    t.commit("prod");
    plant(&t);
    t.write(
        "environments/base/worker.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\n  annotations:\n    db-password: {ANNOTATION_PASSWORD}\nspec:\n  selector:\n    matchLabels: {{app: worker}}\n  template:\n    metadata:\n      labels: {{app: worker}}\n    spec:\n      containers:\n        - name: worker\n          image: openim/openim-worker:v3.8.3\n          args: [\"--password={ARG_PASSWORD}\", \"--db-password\", \"{ARG_PASSWORD}\"]\n"
        ),
    );
    t.commit(&format!(
        "feat: connect to postgres://app:{URL_PASSWORD}@db:5432/app with {AWS_KEY}"
    ));
    let o = t.run(&["render", "--env", "dev", "--commit", "--allow-findings"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    for format in ["human", "json", "markdown"] {
        let args = [
            "promote",
            "--from",
            "dev",
            "--to",
            "prod",
            "--allow-findings",
            "--format",
            format,
        ];
        let o = t.run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", both(&o));
        let all = both(&o);
        for p in PLANTED.iter().chain(&[ANNOTATION_PASSWORD, ARG_PASSWORD]) {
            assert!(!all.contains(p), "{args:?} printed `{p}`:\n{all}");
        }
        // The body is about the objects that hold them.
        for name in ["app-config", "app-secret", "worker"] {
            assert!(all.contains(name), "{args:?} does not show {name}:\n{all}");
        }
    }
}

/// The network map names peers outside the tree by the selectors that admit them: a selector value that
/// a `secrets/` rule flags is drawn as its marker, in every format, and the map still has the peer.
#[test]
fn netmap_draws_a_credential_in_a_selector_as_its_marker() {
    const LABEL_PASSWORD: &str = "Pl4ntedLabelPw4";
    let t = Target::new();
    t.write("environments/dev/env.yaml", CLEAN_ENV);
    t.write("environments/base/api.yaml", DEPLOYMENT);
    t.write(
        "environments/base/policy.yaml",
        &format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: api\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress]\n  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels: {{kubernetes.io/metadata.name: elsewhere}}\n          podSelector:\n            matchLabels: {{db-password: {LABEL_PASSWORD}}}\n"
        ),
    );
    for format in ["human", "json", "mermaid", "dot"] {
        let o = t.run(&["netmap", "--env", "dev", "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{format}: {}", both(&o));
        let all = both(&o);
        assert!(!all.contains(LABEL_PASSWORD), "{format} printed it:\n{all}");
        assert!(
            all.contains("db-password"),
            "{format}: the peer is gone:\n{all}"
        );
        assert!(all.contains("redacted"), "{format}: no marker:\n{all}");
    }
}

/// A file is quoted without parsing only when nothing in it could be hidden; a file that spells a
/// Secret's kind or a credential's key through an escape, or is a Secret whose values look like plain
/// words, is still judged on its parsed objects: the snippet next to the value masks it.
#[test]
fn snippets_mask_credentials_whatever_spells_them() {
    const PLAIN_WORDS: &str = "plantedplainwords";
    let t = Target::new();
    let files = [
        (
            "escaped-kind.json",
            format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"Secr\\u0065t\", \"stringData\": {{\"v\": \"{SECRET_VALUE}\"}},\n\"metadata\": {{\"name\": \"Bad_Name\"}}}}\n"
            ),
            SECRET_VALUE,
        ),
        (
            "escaped-key.yaml",
            format!(
                "apiVersion: v1\nkind: ConfigMap\ndata:\n  \"db_pass\\u0077ord\": {ENV_PASSWORD}\nmetadata: {{name: Bad_Name}}\n"
            ),
            ENV_PASSWORD,
        ),
        (
            "plain-secret.yaml",
            format!(
                "apiVersion: v1\nkind: Secret\nstringData:\n  v: {PLAIN_WORDS}\nmetadata: {{name: Bad_Name}}\n"
            ),
            PLAIN_WORDS,
        ),
    ];
    for (name, text, planted) in &files {
        t.write(&format!("files/{name}"), text);
        let o = t.run(&["check", &format!("files/{name}")]);
        let all = both(&o);
        assert!(
            !all.contains(planted),
            "{name}: printed `{planted}`:\n{all}"
        );
        // Not vacuous: the invalid name is reported with its snippet, the value's line masked in it.
        assert!(all.contains("Bad_Name"), "{name}: no snippet:\n{all}");
        assert!(
            all.lines().any(|l| l.contains('│') && l.contains("****")),
            "{name}: no masked line quoted:\n{all}"
        );
    }
}
