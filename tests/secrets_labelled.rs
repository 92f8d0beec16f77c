//! The `secrets/` rules scored on a labelled set (`tests/fixtures/secrets-labelled/`, `labels.json`):
//! manifests that hold a credential in every shape real repositories use, and clean manifests that look
//! as if they might (public keys and certificates, hashes, references, switches, prose). A manifest
//! counts as found when a `secrets/` rule reports anything in it. Recall and precision must each be at
//! least 0.95, counting error-level findings (what the commit gate refuses) and counting every finding.
//! Only file names are printed, never a value. `bench/secrets_score.py` scores other scanners on the
//! same set; the figures are in BENCHMARKS.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod common;

use common::Check;

const SET: &str = "tests/fixtures/secrets-labelled";

fn labels() -> BTreeMap<String, bool> {
    let text = std::fs::read_to_string(Path::new(SET).join("labels.json")).expect("labels.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v["files"]
        .as_object()
        .expect("files")
        .iter()
        .map(|(k, l)| (k.clone(), l["secret"].as_bool().expect("a label")))
        .collect()
}

/// The files with a `secrets/` finding, at error level only or at any level.
fn flagged(error_only: bool) -> BTreeSet<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(SET)
        .expect("the set")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    Check::paths(paths)
        .root(Path::new(SET).join("environments"))
        .run()
        .iter()
        .filter(|f| f.code.starts_with("secrets/"))
        .filter(|f| !error_only || f.severity == "error")
        .filter_map(|f| {
            Path::new(&f.file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect()
}

fn assert_scores(error_only: bool) {
    let labels = labels();
    let found = flagged(error_only);
    let positives: BTreeSet<&String> = labels.iter().filter(|(_, s)| **s).map(|(f, _)| f).collect();
    let clean: BTreeSet<&String> = labels
        .iter()
        .filter(|(_, s)| !**s)
        .map(|(f, _)| f)
        .collect();
    assert!(
        positives.len() >= 80 && clean.len() >= 80,
        "{} / {}",
        positives.len(),
        clean.len()
    );
    let missed: Vec<&&String> = positives.iter().filter(|f| !found.contains(**f)).collect();
    let alarms: Vec<&&String> = clean.iter().filter(|f| found.contains(**f)).collect();
    let tp = positives.len() - missed.len();
    let recall = tp as f64 / positives.len() as f64;
    let precision = tp as f64 / (tp + alarms.len()) as f64;
    let level = if error_only {
        "error level"
    } else {
        "any level"
    };
    assert!(
        recall >= 0.95 && precision >= 0.95,
        "at {level}: recall {recall:.3}, precision {precision:.3}\nmissed: {missed:?}\nfalse alarms: {alarms:?}"
    );
}

#[test]
fn recall_and_precision_at_error_level() {
    assert_scores(true);
}

#[test]
fn recall_and_precision_counting_warnings() {
    assert_scores(false);
}
