//! Everything we render must read back identically in a YAML 1.1 reader (Kubernetes' is one; PyYAML is
//! another, independent one). PyYAML must be installed (`apt-get install python3-yaml`, or `pip install pyyaml`
//! in a virtual environment on PATH); `.ci/run` installs it in its virtual environment.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use openim_gitops::node::{FileRole, Key, Map, Node, Origin, Sources, Value};
use openim_gitops::render::emit;

const READER: &str = r#"
import json, sys, yaml
docs = json.loads(sys.stdin.read())
out = []
for text in docs:
    value = yaml.safe_load(text)
    out.append(json.dumps(value, sort_keys=True, default=lambda v: "NOT-A-STRING:" + type(v).__name__ + ":" + repr(v)))
print(json.dumps(out))
"#;

/// Reads each YAML text with PyYAML and returns its canonical JSON.
fn pyyaml(texts: &[String]) -> Vec<String> {
    let mut child = Command::new("python3")
        .args(["-c", READER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    let input = serde_json::to_string(texts).expect("json");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "PyYAML could not read our output (is it installed? apt-get install python3-yaml):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reader output")
}

/// Our own reading of a text, as the same canonical JSON.
fn ours(text: &str) -> String {
    let mut sources = Sources::new();
    let id = sources.add(
        std::path::Path::new("mem.yaml"),
        text.into(),
        FileRole::Other,
    );
    let docs = openim_gitops::load::yaml::parse(id, sources.get(id)).expect("our reader");
    let value = docs
        .first()
        .map(|d| d.root.to_json())
        .unwrap_or(serde_json::Value::Null);
    canonical(&value)
}

fn canonical(v: &serde_json::Value) -> String {
    // serde_json with preserve_order keeps insertion order; sort like Python's sort_keys.
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                serde_json::Value::Object(
                    keys.into_iter().map(|k| (k.clone(), sort(&m[k]))).collect(),
                )
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    let s = serde_json::to_string(&sort(v)).expect("json");
    // Python writes `1.0` for floats and escapes non-ASCII; normalise both sides through Python's form.
    s
}

fn python_canonical(texts: &[String]) -> Vec<String> {
    let script = r#"
import json, sys
print(json.dumps([json.dumps(json.loads(t), sort_keys=True) for t in json.loads(sys.stdin.read())]))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(texts).expect("json").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn golden_trees_read_back_the_same_in_a_yaml_1_1_reader() {
    let mut texts = Vec::new();
    for case in ["basic", "patches", "quoting"] {
        let dir = common::fixtures()
            .join("render")
            .join(case)
            .join("expected");
        for (rel, bytes) in common::read_tree(&dir) {
            if rel.ends_with(".yaml") {
                texts.push(String::from_utf8(bytes).expect("utf-8"));
            }
        }
    }
    assert!(texts.len() > 10, "the golden trees are missing");
    let theirs = pyyaml(&texts);
    let mine = python_canonical(&texts.iter().map(|t| ours(t)).collect::<Vec<_>>());
    for ((text, a), b) in texts.iter().zip(&theirs).zip(&mine) {
        assert!(
            !a.contains("NOT-A-STRING"),
            "PyYAML read a non-string where we meant one:\n{a}\n{text}"
        );
        assert_eq!(a, b, "a YAML 1.1 reader reads this differently:\n{text}");
    }
}

/// A small deterministic generator, so the test needs no seed file and fails the same way everywhere.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

#[test]
fn random_strings_read_back_the_same_in_a_yaml_1_1_reader() {
    let atoms = [
        "0", "1", "7", "9", "_", ":", ".", "-", "+", "e", "E", "x", "b", "o", "y", "n", "Y", "N",
        "yes", "no", "on", "off", "true", "null", "~", " ", "\t", "\n", "#", "&", "*", "!", "|",
        ">", "'", "\"", "%", "@", "`", "[", "]", "{", "}", ",", "?", "=", "<<", "inf", "nan",
        "NaN", ".inf", "T", "Z", "2024", "-01", "12:30", "a", "Mi", "m", "é", "即", "\u{85}",
        "\u{2028}", "\u{feff}", "\r", "\u{7}", "\\",
    ];
    let mut rng = Lcg(0x5eed);
    let origin = Origin {
        file: openim_gitops::node::FileId(0),
        start: 0,
        end: 0,
        line: 1,
        col: 1,
    };
    let mut strings = Vec::new();
    for _ in 0..3000 {
        let n = 1 + (rng.next() % 6) as usize;
        let s: String = (0..n).map(|_| rng.pick(&atoms)).collect();
        strings.push(s);
    }
    // One document per string, the string as both a key and a value.
    let texts: Vec<String> = strings
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert(
                Key {
                    name: s.clone(),
                    origin,
                },
                Node::new(Value::Str(s.clone()), origin),
            );
            m.insert(
                Key {
                    name: "list".into(),
                    origin,
                },
                Node::new(
                    Value::Seq(vec![Node::new(Value::Str(s.clone()), origin)]),
                    origin,
                ),
            );
            emit::document(&Node::new(Value::Map(m), origin))
        })
        .collect();
    let theirs = pyyaml(&texts);
    let wants: Vec<String> = strings
        .iter()
        .map(|s| {
            let mut want = serde_json::Map::new();
            want.insert(s.clone(), serde_json::Value::String(s.clone()));
            want.insert("list".into(), serde_json::json!([s]));
            serde_json::Value::Object(want).to_string()
        })
        .collect();
    let wants = python_canonical(&wants);
    let mine = python_canonical(&texts.iter().map(|t| ours(t)).collect::<Vec<_>>());
    for (i, s) in strings.iter().enumerate() {
        assert_eq!(
            theirs[i], wants[i],
            "the string {s:?} does not survive a YAML 1.1 reader; we wrote:\n{}",
            texts[i]
        );
        assert_eq!(
            theirs[i], mine[i],
            "our reader reads {s:?} differently:\n{}",
            texts[i]
        );
    }
}
