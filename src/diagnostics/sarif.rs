//! SARIF 2.1.0, for code scanning: one run, a rule entry per code, a result per finding.

use super::group;
use crate::check::Report as CheckReport;
use crate::check::{Code, Doc, Finding, Severity as FindingSeverity};
use crate::node::{FileRole, Origin, Sources};

fn sarif_level(s: FindingSeverity) -> &'static str {
    match s {
        FindingSeverity::Error => "error",
        FindingSeverity::Warning => "warning",
        FindingSeverity::Info => "note",
    }
}

fn sarif_location(sources: &Sources, o: Origin) -> serde_json::Value {
    let file = sources.get(o.file);
    let (end_line, end_col) = file.line_col(o.end as usize);
    let artifact = if file.display.starts_with('/') {
        serde_json::json!({ "uri": format!("file://{}", file.display) })
    } else {
        serde_json::json!({ "uri": file.display, "uriBaseId": "%SRCROOT%" })
    };
    let mut region = serde_json::json!({ "startLine": o.line, "startColumn": o.col });
    if (end_line, end_col) >= (o.line, o.col) {
        region["endLine"] = end_line.into();
        region["endColumn"] = end_col.into();
    }
    serde_json::json!({ "physicalLocation": { "artifactLocation": artifact, "region": region } })
}

/// A fingerprint that survives unrelated edits: code, file, object and message, no line numbers.
pub fn fingerprint(sources: &Sources, f: &Finding) -> String {
    use sha2::{Digest, Sha256};
    static LINES: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = LINES.get_or_init(|| regex::Regex::new(r"(:\d+(:\d+)?\b)|(\blines? \d+)").ok());
    let message = match re {
        Some(re) => re.replace_all(&f.message, "").into_owned(),
        None => f.message.clone(),
    };
    let object = f
        .resource
        .as_ref()
        .map(|id| format!("{}/{}/{}/{}", id.group, id.kind, id.namespace, id.name))
        .unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        f.code().as_str(),
        sources.get(f.origin.file).display.as_str(),
        &object,
        &message,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SARIF 2.1.0 form: one run, a rule entry per code, one result per finding (the same finding in
/// several environments once, with `properties.environments`), waived findings with a suppression.
pub fn findings_sarif(sources: &Sources, report: &CheckReport) -> serde_json::Value {
    let rules: Vec<&Doc> = Code::all().filter_map(Code::doc).collect();
    let rule_index = |code: Code| rules.iter().position(|r| r.code == code.as_str());
    let rule_entries: Vec<_> = rules
        .iter()
        .map(|r| {
            let anchor = r.code.replace('/', "");
            serde_json::json!({
                "id": r.code,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.what },
                // The rule's whole documentation, as `openim-gitops rule` prints it: code scanning
                // shows it beside each alert.
                "help": {
                    "text": format!("{}\nAlso in docs/checks.md#{anchor}, and from `openim-gitops rule {}`.", r.markdown(), r.code),
                    "markdown": format!("{}\nAlso in [docs/checks.md](docs/checks.md#{anchor}), and from `openim-gitops rule {}`.", r.markdown(), r.code),
                },
                "defaultConfiguration": { "level": sarif_level(r.default_severity) },
                "properties": { "tags": [r.family()] },
            })
        })
        .collect();
    let result = |f: &Finding, envs: &[&str]| {
        let mut v = serde_json::json!({
            "ruleId": f.code(),
            "level": sarif_level(f.severity),
            "message": { "text": f.message },
            "locations": [sarif_location(sources, f.origin)],
            "partialFingerprints": { "openimGitops/v1": fingerprint(sources, f) },
        });
        if let Some(i) = rule_index(f.code()) {
            v["ruleIndex"] = i.into();
        }
        if !f.related.is_empty() {
            v["relatedLocations"] = f
                .related
                .iter()
                .enumerate()
                .map(|(i, (o, label))| {
                    let mut l = sarif_location(sources, *o);
                    l["id"] = i.into();
                    l["message"] = serde_json::json!({ "text": label });
                    l
                })
                .collect::<Vec<_>>()
                .into();
        }
        let mut props = serde_json::Map::new();
        if !envs.is_empty() {
            props.insert("environments".into(), envs.into());
        }
        if let Some(id) = &f.resource {
            props.insert("resource".into(), id.to_string().into());
        }
        if let Some(h) = &f.help {
            props.insert("help".into(), h.clone().into());
        }
        if !props.is_empty() {
            v["properties"] = props.into();
        }
        v
    };
    let mut results: Vec<serde_json::Value> = group(sources, report)
        .iter()
        .map(|g| result(g.finding, &g.envs))
        .collect();
    for c in &report.checked {
        for w in &c.waived {
            let envs: Vec<&str> = c.env.as_deref().into_iter().collect();
            let mut v = result(&w.finding, &envs);
            let kind = if sources.get(w.waiver.file).role == FileRole::Policy {
                "external"
            } else {
                "inSource"
            };
            v["suppressions"] = serde_json::json!([{
                "kind": kind,
                "status": "accepted",
                "justification": format!("{} (until {})", w.reason, w.until),
                "location": sarif_location(sources, w.waiver),
            }]);
            results.push(v);
        }
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "openim-gitops",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_entries,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}
