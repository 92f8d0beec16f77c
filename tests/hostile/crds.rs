//! CustomResourceDefinitions in a checked tree are untrusted: their schemas are compiled into
//! validators and their `x-kubernetes-validations` run as CEL. Deep, huge, catastrophic, referring and
//! expensive schemas and rules each end, quickly and within a bounded address space, in a finding
//! at the line to fix (or an error with a line), never in a hang, an abort or a stack overflow.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::Findings;
use crate::support::{both, OUTSIDE_PLANT};

/// The address space a run may use (KiB for `ulimit -v`): an unbounded allocation aborts instead.
const MEMORY_KIB: u64 = 2 * 1024 * 1024;
/// How long a run may take (an unoptimised build on a loaded machine).
const DEADLINE: Duration = Duration::from_secs(60);

/// A CRD of `Widget` (`example.com/v1`) whose `openAPIV3Schema` is `schema` (JSON, on line 14), then
/// a Widget whose `spec` is `spec` (JSON, on line 20).
fn crd(schema: &serde_json::Value, spec: &serde_json::Value) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {{kind: Widget, plural: widgets}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {schema}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec: {spec}
"
    )
}

/// A schema whose `spec` has these properties.
fn spec_schema(properties: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": properties}}
    })
}

/// `openim-gitops check --format json ARGS` in `dir`, under [`MEMORY_KIB`], stopped (and failed) at
/// [`DEADLINE`].
fn check(dir: &Path, args: &[&str]) -> (Output, Duration) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_openim-gitops"))
        .args(["check", "--format", "json"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("OPENIM_GITOPS_TODAY", "2026-06-15")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openim-gitops");
    let start = Instant::now();
    // Read the output while waiting, so a full pipe never stalls the run.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).map(|_| b)
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        stderr.read_to_end(&mut b).map(|_| b)
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("check {args:?} still ran after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    let output = Output {
        status,
        stdout: out.join().expect("stdout").expect("read stdout"),
        stderr: err.join().expect("stderr").expect("read stderr"),
    };
    (output, took)
}

/// Checks `crd.yaml` holding `text`: a report (exit 0 or 1), its findings, how long it took.
fn findings(text: &str) -> (Findings, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("crd.yaml"), text).expect("write");
    let (o, took) = check(dir.path(), &["crd.yaml"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", both(&o));
    (Findings::parse(&String::from_utf8_lossy(&o.stdout)), took)
}

/// `(code, line, message)` of the findings whose code starts with `prefix`.
fn with(found: &Findings, prefix: &str) -> Vec<(String, u64, String)> {
    found
        .iter()
        .filter(|f| f.code.starts_with(prefix))
        .map(|f| (f.code.clone(), f.line, f.message.clone()))
        .collect()
}

/// The one finding whose code starts with `prefix`: `(code, line, message)`.
fn only(found: &Findings, prefix: &str) -> (String, u64, String) {
    let mut hits = with(found, prefix);
    assert_eq!(hits.len(), 1, "{found:#?}");
    hits.remove(0)
}

#[test]
fn a_deeply_nested_schema_validates_or_is_an_error_at_its_line() {
    // 55 levels (110 of YAML): the leaf is checked where it is.
    let nested = |levels: usize| {
        let mut schema = serde_json::json!({"type": "integer"});
        let mut value = serde_json::json!("not a number");
        for _ in 0..levels {
            schema = serde_json::json!({"type": "object", "properties": {"a": schema}});
            value = serde_json::json!({ "a": value });
        }
        (
            serde_json::json!({"type": "object", "properties": {"spec": schema}}),
            value,
        )
    };
    let (schema, value) = nested(55);
    let (found, took) = findings(&crd(&schema, &value));
    let invalid = found.of("schema/invalid");
    assert_eq!(invalid.len(), 1, "{found:#?}");
    assert_eq!(invalid[0].line, 20);
    assert!(
        invalid[0].message.contains("expected an integer"),
        "{found:#?}"
    );
    assert!(took < DEADLINE / 2, "{took:?}");

    // Deeper than the loader reads: an error at the schema's line, exit 2.
    let (schema, value) = nested(200);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("crd.yaml"), crd(&schema, &value)).expect("write");
    let (o, _) = check(dir.path(), &["crd.yaml"]);
    let found = Findings::parse(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(
        with(&found, "load/")
            .iter()
            .map(|f| (f.0.as_str(), f.1))
            .collect::<Vec<_>>(),
        [("load/invalid-yaml", 14)],
        "{}",
        both(&o)
    );
}

#[test]
fn a_huge_schema_is_compiled_and_checked_quickly() {
    let mut properties: serde_json::Map<String, serde_json::Value> = (0..20_000)
        .map(|i| (format!("p{i}"), serde_json::json!({"type": "string"})))
        .collect();
    let values: Vec<String> = (0..100_000).map(|i| format!("v{i}")).collect();
    properties.insert(
        "e".into(),
        serde_json::json!({"type": "string", "enum": values}),
    );
    let schema = spec_schema(serde_json::Value::Object(properties));
    let (found, took) = findings(&crd(
        &schema,
        &serde_json::json!({"p19999": 1, "e": "v100000"}),
    ));
    let invalid: Vec<String> = found
        .of("schema/invalid")
        .iter()
        .map(|f| format!("{}: {}", f.line, f.message))
        .collect();
    assert_eq!(
        invalid,
        [
            "20: `spec.p19999`: expected a string, found an integer",
            "20: `spec.e`: the value is not one of \"v0\", \"v1\" or 99998 other candidates",
        ],
        "{found:#?}"
    );
    assert!(took < DEADLINE / 2, "{took:?}");
}

#[test]
fn catastrophic_patterns_match_in_linear_time() {
    let schema = spec_schema(serde_json::json!({
        "s": {"type": "string", "pattern": "^(a+)+$"},
        "t": {"type": "string", "pattern": "^(a|a)*b$"},
        "u": {"type": "string", "pattern": "^(x+x+)+y$"},
    }));
    let long = |c: &str, end: &str| format!("{}{end}", c.repeat(50_000));
    let spec = serde_json::json!({"s": long("a", "!"), "t": long("a", ""), "u": long("x", "")});
    let (found, took) = findings(&crd(&schema, &spec));
    let lines: Vec<u64> = found.lines("schema/invalid");
    assert_eq!(lines, [20, 20, 20], "{found:#?}");
    assert!(
        found
            .of("schema/invalid")
            .iter()
            .all(|f| f.message.contains("does not match")),
        "{found:#?}"
    );
    assert!(took < DEADLINE / 2, "{took:?}");
}

#[test]
fn patterns_the_api_server_refuses_are_a_finding_not_a_backtracking_validator() {
    for (pattern, why) in [
        (r"^(a)\1$", "backreference"),
        ("^(?=a)a$", "look-around"),
        ("(?<!a)b", "look-around"),
        ("a{1000}{1000}{1000}", "exceeds size limit"),
    ] {
        let schema = spec_schema(serde_json::json!({"s": {"type": "string", "pattern": pattern}}));
        let (found, took) = findings(&crd(&schema, &serde_json::json!({"s": "aa"})));
        let invalid = found.of("schema/invalid");
        assert_eq!(invalid.len(), 1, "{pattern}: {found:#?}");
        let m = &invalid[0].message;
        assert!(
            m.contains("does not compile")
                && m.contains("`openAPIV3Schema.properties.spec.properties.s.pattern` is not a pattern the API server accepts")
                && m.contains(why),
            "{pattern}: {m}"
        );
        assert!(took < DEADLINE / 2, "{took:?}");
    }
}

#[test]
fn references_are_refused_and_never_followed() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret.json");
    std::fs::write(
        &secret,
        format!("{{\"type\": \"object\", \"description\": \"{OUTSIDE_PLANT}\"}}"),
    )
    .expect("write");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let cases = [
        (
            serde_json::json!({"type": "object", "properties": {"spec": {"$ref": format!("file://{}", secret.display())}}}),
            "openAPIV3Schema.properties.spec.$ref",
            "$ref",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"spec": {"$ref": format!("http://127.0.0.1:{port}/schema.json")}}}),
            "openAPIV3Schema.properties.spec.$ref",
            "$ref",
        ),
        // Itself, and two definitions that refer to each other.
        (
            serde_json::json!({"$ref": "#"}),
            "openAPIV3Schema.$ref",
            "$ref",
        ),
        (
            serde_json::json!({"type": "object", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                               "properties": {"spec": {"$ref": "#/$defs/a"}}}),
            "openAPIV3Schema.$defs",
            "$defs",
        ),
        (
            serde_json::json!({"type": "object", "$dynamicAnchor": "x", "properties": {"spec": {"$dynamicRef": "#x"}}}),
            "openAPIV3Schema.$dynamicAnchor",
            "$dynamicAnchor",
        ),
    ];
    for (schema, at, keyword) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("crd.yaml"),
            crd(&schema, &serde_json::json!({"a": {"b": 1}})),
        )
        .expect("write");
        let (o, took) = check(dir.path(), &["crd.yaml"]);
        assert_eq!(o.status.code(), Some(1), "{}", both(&o));
        let all = both(&o);
        assert!(!all.contains(OUTSIDE_PLANT), "{all}");
        let found = Findings::parse(&String::from_utf8_lossy(&o.stdout));
        let refused: Vec<&str> = found
            .of("schema/invalid")
            .iter()
            // At the Widget's `kind`.
            .filter(|f| f.line == 17)
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(
            refused,
            [format!(
                "the schema of example.com/v1 Widget does not compile: `{at}`: the API server refuses a CRD schema that uses `{keyword}`"
            )],
            "{found:#?}"
        );
        assert!(took < DEADLINE / 2, "{took:?}");
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the check connected to the address a $ref names"
    );
}

/// A CRD whose `spec` carries one CEL rule, with a Widget whose `spec.l` lists `n` integers.
fn with_rule(rule: &str, n: usize) -> String {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "properties": {"l": {"type": "array", "items": {"type": "integer"}}},
            "x-kubernetes-validations": [{"rule": rule}]
        }}
    });
    crd(
        &schema,
        &serde_json::json!({ "l": (0..n).collect::<Vec<_>>() }),
    )
}

#[test]
fn expensive_cel_rules_are_a_finding_without_running() {
    let rule = "self.l.all(a, self.l.all(b, self.l.all(c, self.l.all(d, a + b + c + d >= 0))))";
    let (found, took) = findings(&with_rule(rule, 200));
    let (code, line, message) = only(&found, "policy/");
    assert_eq!((code.as_str(), line), ("policy/crd-validation-rule", 20));
    assert!(
        message.contains("is not evaluated: over lists of up to 200 entries")
            && message.contains("more than the 10000000 a rule may take"),
        "{message}"
    );
    assert!(took < DEADLINE / 2, "{took:?}");

    // The same rule over a short list runs (and holds).
    let (found, _) = findings(&with_rule(rule, 10));
    assert!(with(&found, "policy/").is_empty(), "{found:#?}");

    // A list literal iterated inside another is counted too.
    let literal = format!("[{}]", vec!["1"; 100].join(","));
    let nested =
        format!("{literal}.all(a, {literal}.all(b, {literal}.all(c, {literal}.all(d, a == b))))");
    let (found, took) = findings(&with_rule(&nested, 1));
    let (_, _, message) = only(&found, "policy/");
    assert!(message.contains("is not evaluated"), "{message}");
    assert!(took < DEADLINE / 2, "{took:?}");
}

#[test]
fn deeply_nested_cel_is_a_compile_finding_not_a_stack_overflow() {
    for (rule, why) in [
        (
            format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000)),
            "nests brackets more than 32 deep",
        ),
        (
            format!("{}1{} != []", "[".repeat(1_000), "]".repeat(1_000)),
            "nests brackets more than 32 deep",
        ),
        (
            format!("{} > 0", vec!["1"; 10_000].join(" + ")),
            "nests operations more than 128 deep",
        ),
        (
            (0..100).fold("true".to_string(), |r, i| format!("self.l.all(x{i}, {r})")),
            "nests brackets more than 32 deep",
        ),
    ] {
        let (found, took) = findings(&with_rule(&rule, 3));
        let (code, line, message) = only(&found, "policy/");
        assert_eq!((code.as_str(), line), ("policy/broken-policy", 14));
        assert_eq!(
            message,
            format!("the CRD rule does not compile: the expression {why}")
        );
        assert!(took < DEADLINE / 2, "{took:?}");
    }
}

#[test]
fn an_expensive_policy_rule_is_not_evaluated() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
    std::fs::write(
        dir.path().join("policies/loops.yaml"),
        "apiVersion: gitops.openim.io/v1
kind: Policy
custom:
  - name: loops
    expression: \"object.data.all(a, object.data.all(b, object.data.all(c, object.data.all(d, a != '') )))\"
    message: loops
    match: {kinds: [ConfigMap]}
",
    )
    .expect("write policy");
    let keys: String = (0..300).map(|i| format!("  k{i}: v\n")).collect();
    std::fs::write(
        dir.path().join("cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: x}}\ndata:\n{keys}"
        ),
    )
    .expect("write");
    let (o, took) = check(dir.path(), &["--policy", "policies", "cm.yaml"]);
    assert_ne!(o.status.code(), Some(2), "{}", both(&o));
    let found = Findings::parse(&String::from_utf8_lossy(&o.stdout));
    let (code, _, message) = only(&found, "policy/");
    assert_eq!(code, "policy/not-evaluated", "{found:#?}");
    assert!(
        message.contains("ConfigMap c: the rule `object.data.all(a,")
            && message.contains("over lists of up to 300 entries"),
        "{message}"
    );
    assert!(took < DEADLINE / 2, "{took:?}");
}
