//! Parsing is bounded: alias bombs, deep nesting, huge maps, huge files and patches that multiply an
//! object each end in an error at a file and line (exit 2), never an abort, and quickly.

use std::time::{Duration, Instant};

use crate::support::{assert_json_error, both, Target};

const ENV: &str = "apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: dev
resources:
  - ../base/x.yaml
";

const CONFIGMAP_HEAD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n";

/// A "billion laughs" with `levels` levels of nine aliases each, as a ConfigMap's data, padded with a
/// comment to `pad_to` bytes.
fn bomb(levels: usize, pad_to: usize) -> String {
    let mut lines = vec![format!("a: &a [{}]", ["\"lol\""; 9].join(","))];
    let names: Vec<char> = ('a'..='z').collect();
    for i in 1..levels {
        let prev = names[i - 1];
        lines.push(format!(
            "{}: &{} [{}]",
            names[i],
            names[i],
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    let body: String = lines.iter().map(|l| format!("  {l}\n")).collect();
    let text = format!("{CONFIGMAP_HEAD}{body}");
    let pad = pad_to.saturating_sub(text.len() + 2);
    if pad_to > 0 {
        format!("#{}\n{text}", "-".repeat(pad))
    } else {
        text
    }
}

fn run_on(resource: &str) -> (std::process::Output, Duration) {
    let t = Target::new();
    t.write("environments/dev/env.yaml", ENV);
    t.write("environments/base/x.yaml", resource);
    let start = Instant::now();
    let o = t.run(&[
        "render", "--env", "dev", "--format", "json", "--out", "rendered",
    ]);
    let took = start.elapsed();
    if o.status.code() != Some(0) {
        assert!(!t.path().join("rendered").exists(), "nothing written");
    }
    (o, took)
}

#[test]
fn the_615_byte_alias_bomb_is_an_error_at_its_line() {
    let text = bomb(9, 615);
    assert_eq!(text.len(), 615);
    let (o, took) = run_on(&text);
    // Line 12 is `f:`, whose first alias would pass the bound (a-e take 74,718 of ~100,615 nodes).
    assert_json_error(
        &o,
        "environments/base/x.yaml",
        12,
        "aliases in this file expand",
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn a_ten_level_alias_bomb_is_an_error_at_its_line() {
    let (o, _) = run_on(&bomb(10, 0));
    assert_json_error(
        &o,
        "environments/base/x.yaml",
        11,
        "aliases in this file expand",
    );
}

/// Aliases to one long string multiply bytes, not nodes: they are bounded too.
#[test]
fn aliases_to_a_long_string_are_bounded() {
    let long = "x".repeat(100_000);
    let aliases = vec!["*s"; 2_000].join(",");
    let text = format!("{CONFIGMAP_HEAD}  s: &s \"{long}\"\n  t: [{aliases}]\n");
    let (o, _) = run_on(&text);
    assert_json_error(
        &o,
        "environments/base/x.yaml",
        7,
        "aliases in this file expand",
    );
}

#[test]
fn twenty_thousand_nested_lists_are_an_error_not_a_stack_overflow() {
    let (o, _) = run_on(&format!("{}x\n", "- ".repeat(20_000)));
    assert_json_error(
        &o,
        "environments/base/x.yaml",
        1,
        "nested more than 128 deep",
    );
}

#[test]
fn deep_block_mappings_are_an_error_at_the_line_past_the_bound() {
    let text: String = (0..1_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let (o, _) = run_on(&text);
    // The 128th nested mapping is the value of line 128's key; the one past the bound starts on 129.
    assert_json_error(
        &o,
        "environments/base/x.yaml",
        129,
        "nested more than 128 deep",
    );
}

#[test]
fn twenty_thousand_nested_flow_lists_are_an_error() {
    let (o, _) = run_on(&format!("{}{}\n", "[".repeat(20_000), "]".repeat(20_000)));
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(v["errors"][0]["line"].as_u64(), Some(1));
}

#[test]
fn eighty_thousand_keys_load() {
    let keys: String = (0..80_000).map(|i| format!("  k{i}: v{i}\n")).collect();
    let (o, _) = run_on(&format!("{CONFIGMAP_HEAD}{keys}"));
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
}

#[test]
fn a_duplicate_among_many_keys_is_found_at_its_line() {
    let mut keys: String = (0..1_000).map(|i| format!("  k{i}: v{i}\n")).collect();
    keys.push_str("  k500: again\n");
    let (o, _) = run_on(&format!("{CONFIGMAP_HEAD}{keys}"));
    assert_json_error(
        &o,
        "environments/base/x.yaml",
        1_006,
        "duplicate key `k500`",
    );
}

/// Keys merged with `<<` under a big map keep the map's own keys first, as with a small one.
#[test]
fn merge_keys_into_a_big_map_keep_its_own_values() {
    let t = Target::new();
    t.write("environments/dev/env.yaml", ENV);
    let keys: String = (0..100).map(|i| format!("  k{i}: v{i}\n")).collect();
    t.write(
        "environments/base/x.yaml",
        &format!("{CONFIGMAP_HEAD}  <<: {{k1: merged, extra: merged}}\n{keys}"),
    );
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let text = std::fs::read_to_string(t.path().join("rendered/dev/_cluster/configmap/lol.yaml"))
        .or_else(|_| {
            let tree = crate::common::read_tree(&t.path().join("rendered"));
            let (_, v) = tree.iter().find(|(k, _)| k.ends_with("lol.yaml")).unwrap();
            Ok::<_, std::io::Error>(String::from_utf8_lossy(v).into_owned())
        })
        .unwrap();
    assert!(
        text.contains("k1: v1") && text.contains("extra: merged"),
        "{text}"
    );
}

/// `copy` doubles an object with each operation: the patch stops at the operation that passes the
/// bound, at its line.
#[test]
fn a_patch_that_doubles_an_object_is_stopped_at_its_line() {
    let t = Target::new();
    let ops: String = (0..40)
        .map(|i| format!("      - {{op: copy, from: /data, path: /data/x{i}}}\n"))
        .collect();
    t.write(
        "environments/dev/env.yaml",
        &format!("{ENV}patches:\n  - target: {{kind: ConfigMap, name: lol}}\n    patch:\n{ops}"),
    );
    t.write(
        "environments/base/x.yaml",
        &format!("{CONFIGMAP_HEAD}  a: b\n"),
    );
    let o = t.run(&[
        "render", "--env", "dev", "--format", "json", "--out", "rendered",
    ]);
    // Each copy doubles `data` (with the object around it, 2^18 + a few values pass 500,000 after
    // 18 copies): the 18th operation, on line 10 + 18 - 1.
    assert_json_error(&o, "environments/dev/env.yaml", 27, "holds more than");
}

/// A file past the size bound is refused before it is read.
#[test]
fn a_file_past_the_size_bound_is_refused() {
    let t = Target::new();
    t.write("environments/dev/env.yaml", ENV);
    let f = std::fs::File::create(t.path().join("environments/base/x.yaml")).unwrap();
    f.set_len(300 * 1024 * 1024).unwrap();
    drop(f);
    let start = Instant::now();
    let o = t.run(&["render", "--env", "dev", "--out", "rendered"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("larger than the 256 MiB"));
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// A 1 MB file on one line (minified JSON) with a mistake at its end: the report quotes a window of
/// the line around the mistake, never the whole line, in `check` and in `render`'s error; a credential
/// next to the mistake stays masked.
#[test]
fn a_one_megabyte_line_is_quoted_in_a_bounded_window() {
    const PLANT: &str = "Pl4ntedLongLinePw";
    let items: Vec<String> = (0..40_000)
        .map(|i| format!("\"k{i}\": \"value-{i}\""))
        .collect();
    let file = |tail: &str| {
        format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"x\"}}, \"data\": {{{}, \"db_password\": \"{PLANT}\", {tail}}}}}\n",
            items.join(", ")
        )
    };
    // A duplicate key (a load error: check reports it, render stops) and a value of the wrong type (a
    // schema finding of check; render has nothing to say).
    for (tail, render_code) in [("\"k7\": \"dup\"", 2), ("\"bad\": [1]", 0)] {
        let text = file(tail);
        assert!(text.len() > 950_000 && text.lines().count() == 1);
        let t = Target::new();
        t.write("environments/dev/env.yaml", ENV);
        t.write("environments/base/x.yaml", &text);
        for args in [
            &["check", "environments/base/x.yaml"][..],
            &["render", "--env", "dev", "--out", "rendered"],
        ] {
            let o = t.run(args);
            let all = both(&o);
            let expect = if args[0] == "check" { 1 } else { render_code };
            assert_eq!(
                o.status.code(),
                Some(expect),
                "{args:?}: {}",
                &all[..all.len().min(2000)]
            );
            assert!(all.len() < 4_000, "{args:?}: {} bytes of output", all.len());
            let widest = all.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            assert!(widest <= 200, "{args:?}: a line of {widest} characters");
            assert!(expect == 0 || all.contains("x.yaml:1:"), "{args:?}: {all}");
            assert!(!all.contains(PLANT), "{args:?}: {all}");
        }
    }
}
