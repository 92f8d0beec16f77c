#!/usr/bin/env python3
"""Scores secret scanners on the labelled set `tests/fixtures/secrets-labelled/` (labels.json: which
manifests hold a credential). A manifest counts as flagged when the scanner reports anything in it;
recall = flagged positives / positives, precision = flagged positives / flagged.

    python3 bench/secrets_score.py [--ours BINARY] [--detect-secrets PATH]

`--ours` (default target/release/openim-gitops) runs `check --format json` on the set and counts
`secrets/` findings, at error level (what the commit gate refuses) and at any level. `--detect-secrets`
runs `detect-secrets scan --all-files` (PyPI; install it in a venv). No value is printed: only file
names, counts and scores.
"""

import argparse
import json
import os
import subprocess
import sys

SET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "secrets-labelled")


def score(labels, flagged):
    pos = {f for f, l in labels.items() if l["secret"]}
    neg = set(labels) - pos
    tp = len(pos & flagged)
    fp = len(neg & flagged)
    recall = tp / len(pos) if pos else 1.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    return tp, fp, recall, precision, sorted(pos - flagged), sorted(neg & flagged)


def manifests(set_dir):
    return sorted(os.path.join(set_dir, f) for f in os.listdir(set_dir) if f.endswith(".yaml"))


def ours(binary, set_dir, error_only):
    p = subprocess.run(
        [binary, "check", "--format", "json"] + manifests(set_dir), capture_output=True, text=True
    )
    if p.returncode not in (0, 1):
        sys.exit(f"check failed ({p.returncode}): {p.stderr[:2000]}")
    report = json.loads(p.stdout)
    flagged = set()
    for f in report["findings"]:
        if not f["code"].startswith("secrets/"):
            continue
        if error_only and f["severity"] != "error":
            continue
        flagged.add(os.path.basename(f["file"]))
    return flagged


def detect_secrets(exe, set_dir):
    p = subprocess.run(
        [exe, "scan", "--all-files"] + [os.path.basename(m) for m in manifests(set_dir)],
        capture_output=True,
        text=True,
        cwd=set_dir,
    )
    if p.returncode != 0:
        sys.exit(f"detect-secrets failed: {p.stderr[:2000]}")
    results = json.loads(p.stdout)["results"]
    return {os.path.basename(f) for f, hits in results.items() if hits}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", default="target/release/openim-gitops")
    ap.add_argument("--detect-secrets")
    ap.add_argument("--set", default=SET)
    ap.add_argument("--misses", action="store_true", help="list the files each scanner gets wrong")
    a = ap.parse_args()
    labels = json.load(open(os.path.join(a.set, "labels.json")))["files"]
    runs = [
        ("openim-gitops check, secrets/ at error level", ours(a.ours, a.set, True)),
        ("openim-gitops check, secrets/ at any level", ours(a.ours, a.set, False)),
    ]
    if a.detect_secrets:
        runs.append(("detect-secrets scan --all-files", detect_secrets(a.detect_secrets, a.set)))
    n_pos = sum(1 for l in labels.values() if l["secret"])
    print(f"{n_pos} manifests with a credential, {len(labels) - n_pos} clean")
    print("| scanner | found | false alarms | recall | precision |")
    print("|---|---|---|---|---|")
    for name, flagged in runs:
        tp, fp, r, p, missed, alarms = score(labels, flagged)
        print(f"| {name} | {tp}/{n_pos} | {fp} | {r:.3f} | {p:.3f} |")
        if a.misses:
            for m in missed:
                print(f"    missed: {m} ({labels[m]['shape']})")
            for m in alarms:
                print(f"    false alarm: {m} ({labels[m]['shape']})")


if __name__ == "__main__":
    main()
