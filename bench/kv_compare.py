#!/usr/bin/env python3
"""Side by side with kubernetes-validate --strict on the real-world corpus (tests/fixtures/realworld/).

For every document of every file that `openim-gitops check PATHS` reads as a Kubernetes object, two
verdicts on its schema:

- kubernetes-validate (PyPI, its Python API: `validate(data, version, strict=True)`): valid, invalid
  (the first message), or no schema (a kind it does not know, custom resources among them);
- ours: the `schema/` and `load/` findings at error level located inside the document's lines
  (`schema/removed-api` among them; a deprecated API version is a warning and counts as valid).

Documents on which both say "valid" or both say "not valid" agree (the messages are not compared);
every other document is a disagreement, printed with the reason kept for it in
tests/fixtures/realworld/kv-disagreements.tsv (file, document line, reason). A disagreement with no
recorded reason, or a recorded reason that matches no disagreement any more, makes the run exit 1, so
the list stays complete and current.

    python3 bench/kv_compare.py [--ours BINARY] [--kube-version 1.37.0] [--markdown]

Needs `pip install kubernetes-validate pyyaml` (a venv). No value from the manifests is printed
beyond kinds, names, file names and lines.
"""

import argparse
import collections
import json
import os
import subprocess
import sys

import yaml
import kubernetes_validate

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures", "realworld"))
REASONS = os.path.join(CORPUS, "kv-disagreements.tsv")
# Codes that speak of an object's schema or its reading; the others (resources/, netpol/, ...) are
# policy, which kubernetes-validate does not judge.
SCHEMA_FAMILIES = ("schema/", "load/invalid-yaml", "load/not-an-object")


def ours(binary, repo, env):
    p = subprocess.run(
        [binary, "check", "--format", "json", repo, "--root", os.path.join(CORPUS, "environments")],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        env=env,
    )
    if p.returncode not in (0, 1):
        sys.exit(f"{repo}: exit {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)["findings"]


def documents(path):
    """(start line, object) of each mapping document with apiVersion and kind, 1-based lines."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    out = []
    for node in nodes:
        if node is None or not isinstance(node, yaml.MappingNode):
            continue
        try:
            obj = yaml.SafeLoader(yaml.serialize(node)).get_single_data()
        except Exception:  # noqa: BLE001 (a document PyYAML cannot construct: judged by the loader rows)
            continue
        if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
            continue
        out.append((node.start_mark.line + 1, obj))
    return out


def kv_verdict(obj, version):
    items = obj.get("items") if str(obj.get("kind", "")).endswith("List") else None
    objs = items if isinstance(items, list) else [obj]
    for o in objs:
        try:
            kubernetes_validate.validate(o, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return "no-schema", f"no schema for {o.get('apiVersion')}/{o.get('kind')}"
        except kubernetes_validate.ValidationError as e:
            return "invalid", e.message.splitlines()[0][:120]
        except Exception as e:  # noqa: BLE001
            return "invalid", f"{type(e).__name__}"
    return "valid", ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=os.path.join(HERE, "..", "target", "release", "openim-gitops"))
    ap.add_argument("--kube-version", default=kubernetes_validate.latest_version())
    ap.add_argument("--markdown", action="store_true", help="print the disagreements as a Markdown table")
    a = ap.parse_args()
    binary = os.path.abspath(a.ours)
    env = dict(os.environ, NO_COLOR="1", OPENIM_GITOPS_TODAY="2026-06-15")

    reasons = {}
    with open(REASONS, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            file, doc_line, reason = line.rstrip("\n").split("\t")
            reasons[(file, int(doc_line))] = reason

    repos = sorted(d for d in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, d)) and d != "environments")
    tally = collections.Counter()
    rows = []
    for repo in repos:
        by_file = collections.defaultdict(list)
        for f in ours(binary, repo, env):
            if f["code"].startswith(SCHEMA_FAMILIES):
                by_file[f["file"]].append(f)
        # The files ours read: every finding-bearing file plus every YAML/JSON file that is not skipped.
        # We ask ours which were read with --format json's per-file list when it has one; else walk.
        for dirpath, dirnames, filenames in os.walk(os.path.join(CORPUS, repo)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.endswith((".yaml", ".yml", ".json")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, CORPUS)
                docs = documents(path)
                if docs is None:
                    # Not YAML that PyYAML (kubernetes-validate's reader) reads: Helm templates and
                    # the like, which ours skips or reports under load/. Counted, not compared.
                    codes = sorted({f["code"] for f in by_file.get(rel, [])})
                    tally[f"file PyYAML cannot read; ours: {','.join(codes) or 'skipped or clean'}"] += 1
                    continue
                starts = [d[0] for d in docs]
                for i, (start, obj) in enumerate(docs):
                    end = starts[i + 1] if i + 1 < len(starts) else 10**9
                    mine = [f for f in by_file.get(rel, []) if start <= f["line"] < end]
                    kv, why = kv_verdict(obj, a.kube_version)
                    our = "invalid" if any(f["severity"] == "error" for f in mine) else "valid"
                    if kv == "no-schema":
                        # A custom resource: kubernetes-validate has nothing to say. Ours checks it
                        # against a vendored CRD or a CRD in the tree, or reports schema/unknown-kind.
                        codes = sorted({f["code"] for f in mine})
                        tally[f"kv has no schema; ours: {','.join(codes) or 'valid'}"] += 1
                        continue
                    if kv == our:
                        tally[f"agree ({kv})"] += 1
                        continue
                    tally["disagree"] += 1
                    codes = ",".join(sorted({f["code"] for f in mine})) or "-"
                    rows.append((rel, start, f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}", kv, why, our, codes))

    unexplained = [r for r in rows if (r[0], r[1]) not in reasons]
    stale = sorted(set(reasons) - {(r[0], r[1]) for r in rows})
    print(f"kubernetes-validate {kubernetes_validate.__version__ if hasattr(kubernetes_validate, '__version__') else ''} "
          f"--strict, Kubernetes {a.kube_version}, {len(repos)} repositories")
    for k in sorted(tally):
        print(f"  {k}: {tally[k]}")
    if a.markdown:
        print()
        print("| file | line | object | kubernetes-validate | ours | why |")
        print("|---|---|---|---|---|---|")
        for rel, line, obj, kv, why, our, codes in rows:
            print(f"| {rel} | {line} | {obj} | {kv}: {why} | {codes} | {reasons.get((rel, line), '**unexplained**')} |")
    else:
        for rel, line, obj, kv, why, our, codes in rows:
            print(f"{rel}:{line} {obj}: kubernetes-validate {kv} ({why}); ours {codes}\n    {reasons.get((rel, line), 'UNEXPLAINED')}")
    for s in stale:
        print(f"stale reason (no such disagreement now): {s[0]}:{s[1]}")
    if unexplained or stale:
        sys.exit(1)


if __name__ == "__main__":
    main()
