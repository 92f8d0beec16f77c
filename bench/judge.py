#!/usr/bin/env python3
"""False alarms of `openim-gitops check PATHS` on the real-world corpus (tests/fixtures/realworld/).

Runs the binary on each repository of the corpus exactly as tests/realworld.rs does, keys every finding
by (file, line, code, a short hash of its message) and reads the judgement kept for it in
tests/fixtures/realworld/judgements.tsv:

    file<TAB>line<TAB>code<TAB>message hash<TAB>verdict<TAB>reason

where the verdict is `true` (the finding is right about the manifest and about Kubernetes),
`false-alarm` (its claim is wrong, or it flags what a competent reviewer would call harmless by the
rule's own stated purpose) or `debatable` (the reason says why). It prints the findings with no
judgement, the judgements that match no finding (stale), and per code and overall: findings, judged,
false alarms, rate. Exit 1 when a finding is unjudged or a judgement is stale, so the file stays
complete and current.

    python3 bench/judge.py [--ours BINARY] [--markdown]
    python3 bench/judge.py --oracle     # append the oracle's verdicts for unjudged mechanical findings
    python3 bench/judge.py --todo       # list the unjudged findings (code, file, line, message)
    python3 bench/judge.py --prune      # drop the stale judgements (after a rule stopped a false alarm)

The oracle covers the large mechanical families (resources/missing-*, images/latest-or-untagged,
netpol/workload-not-selected, load/duplicate-object). It reads the YAML itself with PyYAML, never our
code, and checks the one fact each finding claims (a container without limits, an image without a tag,
no NetworkPolicy of the namespace whose podSelector matches the pod template's labels, two definitions
of the same object); its rows say `oracle:` in the reason. Every other code is judged by reading the
manifest. Messages are hashed, never stored; nothing from the manifests is printed beyond file names,
lines, kinds, names and the findings' own (already redacted) messages.
"""

import argparse
import collections
import hashlib
import json
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
CORPUS = os.path.join(ROOT, "tests", "fixtures", "realworld")
JUDGEMENTS = os.path.join(CORPUS, "judgements.tsv")
# The section of docs/checks.md that reports the result (tests/check_codes.rs appends it there).
SECTION = os.path.join(CORPUS, "false-alarms.md")
VERDICTS = ("true", "false-alarm", "debatable")
ORACLE_CODES = (
    "resources/missing-limits",
    "resources/missing-requests",
    "resources/missing-liveness-probe",
    "resources/missing-readiness-probe",
    "images/latest-or-untagged",
    "netpol/workload-not-selected",
    "load/duplicate-object",
)


def message_hash(message):
    return hashlib.sha256(message.encode("utf-8")).hexdigest()[:10]


def repositories():
    return sorted(
        d for d in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, d)) and d != "environments"
    )


def run(binary):
    """Every finding of every repository, as tests/realworld.rs produces them."""
    env = dict(os.environ, NO_COLOR="1", OPENIM_GITOPS_TODAY="2026-06-15")
    out = []
    for repo in repositories():
        p = subprocess.run(
            [binary, "check", "--format", "json", repo, "--root", os.path.join(CORPUS, "environments")],
            cwd=CORPUS,
            capture_output=True,
            text=True,
            env=env,
        )
        if p.returncode not in (0, 1):
            sys.exit(f"{repo}: exit {p.returncode}: {p.stderr}")
        out.extend(json.loads(p.stdout)["findings"])
    return out


def key(f):
    return (f["file"], str(f["line"]), f["code"], message_hash(f["message"]))


def read_judgements():
    rows = []
    if not os.path.exists(JUDGEMENTS):
        return rows
    with open(JUDGEMENTS, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 6 or parts[4] not in VERDICTS or not parts[5].strip():
                sys.exit(f"{JUDGEMENTS}:{n}: want file, line, code, hash, verdict ({'/'.join(VERDICTS)}), reason")
            rows.append(tuple(parts))
    return rows


# ---------------------------------------------------------------------------------------------------
# The oracle: an independent reading of the manifests.

_docs_cache = {}


def documents(rel):
    """[(first line, last line, object)] of the objects of a corpus file (List items expanded), 1-based."""
    if rel in _docs_cache:
        return _docs_cache[rel]
    path = os.path.join(CORPUS, rel)
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        nodes = []
    for node in nodes:
        if not isinstance(node, yaml.MappingNode):
            continue
        try:
            obj = yaml.SafeLoader(yaml.serialize(node)).get_single_data()
        except Exception:  # noqa: BLE001 (not constructible: the oracle does not judge it)
            continue
        if not isinstance(obj, dict):
            continue
        if str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list):
            items = [v for k, v in node.value if k.value == "items"][0]
            for item_node, item in zip(items.value, obj["items"]):
                if isinstance(item, dict):
                    out.append((item_node.start_mark.line + 1, item_node.end_mark.line + 1, item))
            continue
        out.append((node.start_mark.line + 1, node.end_mark.line + 1, obj))
    _docs_cache[rel] = out
    return out


def all_objects(repo):
    """Every object of every YAML or JSON file of a repository outside hidden folders: (file, line, obj)."""
    out = []
    base = os.path.join(CORPUS, repo)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith((".yaml", ".yml", ".json")):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), CORPUS)
            for first, _last, obj in documents(rel):
                out.append((rel, first, obj))
    return out


def group_of(obj):
    api = str(obj.get("apiVersion", ""))
    return api.split("/")[0] if "/" in api else ""


def meta(obj):
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def namespace_of(obj):
    return meta(obj).get("namespace") or "default"


def pod_spec(obj):
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    tmpl = spec.get("template") or {}
    return tmpl.get("spec") if isinstance(tmpl, dict) else None


def pod_labels(obj):
    if obj.get("kind") == "Pod":
        return meta(obj).get("labels") or {}
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def find_object(f):
    """The object a finding speaks of, among the documents of its file covering its line."""
    res = f.get("resource") or {}
    line = int(f["line"])
    for first, last, obj in documents(f["file"]):
        if obj.get("kind") != res.get("kind"):
            continue
        name = meta(obj).get("name") or meta(obj).get("generateName")
        if name != res.get("name"):
            continue
        if first <= line <= last:
            return obj
    return None


def selector_matches(sel, labels):
    """Kubernetes LabelSelector semantics: matchLabels AND every matchExpression; {} matches all."""
    if not isinstance(sel, dict):
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        op, k, vals = e.get("operator"), e.get("key"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def oracle_resources(f, obj):
    m = re.match(r"(init )?container `([^`]+)` of (\S+) (\S+) (.*)$", f["message"])
    if not m:
        return None
    init, cname, claim = m.group(1), m.group(2), m.group(5)
    spec = pod_spec(obj)
    if not isinstance(spec, dict):
        return ("false-alarm", "oracle: the object has no pod template")
    field = "initContainers" if init else "containers"
    cs = [c for c in spec.get(field) or [] if isinstance(c, dict) and c.get("name") == cname]
    if len(cs) != 1:
        return ("false-alarm", f"oracle: no {field[:-1]} `{cname}` in the pod template")
    c = cs[0]
    res = c.get("resources") or {}
    where = f"{'init container' if init else 'container'} `{cname}` of {obj['kind']}/{meta(obj).get('name')}"
    if f["code"] in ("resources/missing-limits", "resources/missing-requests"):
        section = "limits" if f["code"].endswith("limits") else "requests"
        got = dict((spec.get("resources") or {}).get(section) or {}, **(res.get(section) or {}))
        if section == "requests":
            # The API server defaults an unset request to the limit.
            lim = res.get("limits") or {}
            got = dict(lim, **got)
        want = []
        if "cpu" in claim:
            want.append("cpu")
        if "memory" in claim:
            want.append("memory")
        present = [w for w in want if w in got]
        if not want:
            return None
        if present:
            own = (res.get(section) or {}) if section == "limits" else dict((spec.get("resources") or {}).get(section) or {}, **(res.get(section) or {}))
            if present[0] in own:
                return ("false-alarm", f"oracle: {where} sets {section}.{present[0]} (the finding says it does not)")
            return (
                "false-alarm",
                f"oracle: {where} sets limits.{present[0]} and no request for it: the API server copies the "
                "limit into the unset request, so the pod is scheduled with that request",
            )
        return ("true", f"oracle: {where} has no resources.{section} {' or '.join(want)} (checked in the pod template{'; an unset request is not defaulted from a limit here' if section == 'requests' else ''})")
    probe = "livenessProbe" if "liveness" in f["code"] else "readinessProbe"
    if init and c.get("restartPolicy") != "Always":
        return ("false-alarm", f"oracle: {where} is a plain init container, which may not have probes")
    if c.get(probe):
        return ("false-alarm", f"oracle: {where} sets {probe}")
    if obj.get("kind") in ("Job", "CronJob") or spec.get("restartPolicy") in ("Never", "OnFailure"):
        return ("debatable", f"oracle: {where} has no {probe}, but its pods run to completion (restartPolicy {spec.get('restartPolicy') or 'of a Job'})")
    return ("true", f"oracle: {where} has no {probe} (a long-running pod: restartPolicy {spec.get('restartPolicy') or 'Always (default)'})")


def parse_image(ref):
    """(tag, digest) of an image reference; the tag is after the last `:` of the last path segment."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    last = ref.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    return tag, digest


def oracle_image(f, obj):
    m = re.match(r"the image `([^`]*)` of (?:init )?container `([^`]+)` of (\S+) (.*)$", f["message"])
    if not m:
        return None
    image, cname, claim = m.group(1), m.group(2), m.group(4)
    spec = pod_spec(obj) or {}
    cs = [
        c
        for field in ("containers", "initContainers", "ephemeralContainers")
        for c in spec.get(field) or []
        if isinstance(c, dict) and c.get("name") == cname
    ]
    if not cs or all(c.get("image") != image for c in cs):
        return ("false-alarm", f"oracle: container `{cname}` does not have the image the finding names")
    tag, digest = parse_image(image)
    if digest:
        return ("false-alarm", f"oracle: the image of container `{cname}` is pinned by digest")
    if "no tag" in claim and tag is None:
        return ("true", f"oracle: the image of container `{cname}` has no tag and no digest: the runtime pulls `latest`")
    if "latest" in claim and tag == "latest":
        return ("true", f"oracle: the image of container `{cname}` has the tag `latest` and no digest")
    return ("false-alarm", f"oracle: the image of container `{cname}` has tag `{tag}`, not what the finding says")


_repo_objects = {}


def repo_objects(repo):
    if repo not in _repo_objects:
        _repo_objects[repo] = all_objects(repo)
    return _repo_objects[repo]


def oracle_netpol(f, obj):
    repo = f["file"].split("/", 1)[0]
    ns = namespace_of(obj)
    labels = pod_labels(obj)
    if not isinstance(labels, dict):
        labels = {}
    selecting = []
    for rel, line, o in repo_objects(repo):
        if o.get("kind") != "NetworkPolicy" or namespace_of(o) != ns:
            continue
        sel = (o.get("spec") or {}).get("podSelector")
        if selector_matches(sel if sel is not None else {}, labels):
            selecting.append(f"{rel}:{line}")
    if selecting:
        return ("false-alarm", f"oracle: the NetworkPolicy at {selecting[0]} selects these pods")
    n = sum(1 for _, _, o in repo_objects(repo) if o.get("kind") == "NetworkPolicy" and namespace_of(o) == ns)
    return (
        "true",
        f"oracle: none of the {n} NetworkPolicies of namespace `{ns}` in the repository (any file, outside "
        f"hidden folders) has a podSelector matching the pod labels {sorted(labels)}: Kubernetes admits all traffic",
    )


def oracle_duplicate(f, obj):
    rel = [r for r in f.get("related") or [] if r.get("file")]
    if not rel:
        return ("false-alarm", "oracle: the finding names no first definition")
    first = rel[0]
    res = f.get("resource") or {}
    others = [
        o
        for a, b, o in documents(first["file"])
        if a <= int(first["line"]) <= b
        and o.get("kind") == res.get("kind")
        and meta(o).get("name") == res.get("name")
    ]
    if not others:
        return ("false-alarm", "oracle: the first definition named is not the same object")
    other = others[0]
    if (group_of(other), namespace_of(other)) != (group_of(obj), namespace_of(obj)):
        return ("false-alarm", "oracle: the two definitions differ in API group or namespace")
    same_file = first["file"] == f["file"]
    where = "in the same file" if same_file else f"in {first['file']}"
    if other == obj:
        return (
            "debatable",
            f"oracle: {res.get('kind')}/{res.get('name')} is defined again {where}, with identical content: "
            "applying both changes nothing (a copy, e.g. an aggregated manifest beside its parts)",
        )
    return (
        "true",
        f"oracle: {res.get('kind')}/{res.get('name')} is defined again {where} with different content: "
        "applied together, the later one replaces the earlier",
    )


def oracle(f):
    obj = find_object(f)
    if obj is None:
        return ("false-alarm", "oracle: no object of that kind and name at that line")
    code = f["code"]
    if code.startswith("resources/"):
        return oracle_resources(f, obj)
    if code == "images/latest-or-untagged":
        return oracle_image(f, obj)
    if code == "netpol/workload-not-selected":
        return oracle_netpol(f, obj)
    if code == "load/duplicate-object":
        return oracle_duplicate(f, obj)
    return None


# ---------------------------------------------------------------------------------------------------


def rate(c):
    return f"{100.0 * c['false-alarm'] / c['judged']:.1f}%" if c["judged"] else "-"


# False alarms this review found and the rules no longer raise (the judgements of the findings they were
# are gone with them); kept here so the docs say what was fixed.
FIXED = [
    ("resources/missing-requests", 18, "a container with limits and no requests: the API server copies a limit into an unset request"),
    ("refs/missing-role", 1, "a ClusterRole written with a `metadata.namespace` (ignored by the API server) was not found by its binding"),
    ("load/not-an-object", 3, "other tools' files in a folder: Grafana's provisioning file (`apiVersion: 1`, no kind) and the kube-scheduler's old policy file (`v1` `Policy`)"),
    ("netpol/peer-selects-nothing, netpol/policy-selects-nothing, refs/pdb-selects-nothing, refs/service-selects-nothing", 15, "the pods prometheus-operator makes for a `Prometheus` or `Alertmanager` (its labels and `spec.podMetadata.labels`) were unknown"),
    ("refs/missing-secret", 1, "the Secret a cert-manager `Certificate` writes (`spec.secretName`) was unknown"),
    ("refs/missing-configmap", 5, "the ConfigMaps a kustomization's `configMapGenerator` makes, beside the resources that mount them, were unknown"),
    ("images/latest-or-untagged", 11, "bare image names that a skaffold configuration of the repository builds as artifacts and replaces with the tagged image it built"),
]


def section(per, total, rows, findings):
    """The Markdown section of docs/checks.md: how the corpus was judged, the table, the false alarms."""
    out = []
    w = out.append
    w("## False alarms on real repositories\n\n")
    w("`check PATHS` on four public repositories as they ship (`tests/fixtures/realworld/`: Kubernetes'\n"
      "examples, kube-prometheus, Online Boutique (microservices-demo) and podinfo, with the built-in policy),\n"
      "every finding judged, not a sample. The rules that check one mechanical fact (`resources/missing-*`,\n"
      "`images/latest-or-untagged`, `netpol/workload-not-selected`, `load/duplicate-object`) were judged by an\n"
      "oracle of their own in `bench/judge.py`, which reads the YAML with PyYAML, never this tool's code, and\n"
      "checks the fact each finding claims (and was overruled by a reading where the fact holds but the object\n"
      "is not what it seems); every other finding by reading the manifest against the rule and Kubernetes'\n"
      "behaviour. A false alarm is a finding whose claim is wrong about the manifest or about Kubernetes, or that\n"
      "flags what a competent reviewer would call harmless by the rule's own purpose; `debatable` marks a\n"
      "finding that is right as written but arguable (a copy of an identical object, a custom resource with no\n"
      "schema, a Secret holding no secret, a selector of pods made outside the tree). The verdict and reason of\n"
      "every finding are in `tests/fixtures/realworld/judgements.tsv`; `python3 bench/judge.py` re-runs the\n"
      "check and fails when a finding has no verdict or a verdict no finding.\n\n")
    w("| code | findings | judged | true | debatable | false alarms | rate |\n")
    w("|---|---:|---:|---:|---:|---:|---:|\n")
    for code in sorted(per):
        c = per[code]
        w(f"| `{code}` | {c['findings']} | {c['judged']} | {c['true']} | {c['debatable']} | {c['false-alarm']} | {rate(c)} |\n")
    c = total
    w(f"| **all** | {c['findings']} | {c['judged']} | {c['true']} | {c['debatable']} | {c['false-alarm']} | {rate(c)} |\n\n")
    w(f"Overall: {c['false-alarm']} false alarms in {c['judged']} findings ({rate(c)}); {c['debatable']} more are\n"
      "debatable, each with its reason in the judgements file.\n\n")
    w("False alarms found by this review and fixed in the rules (each with a test in\n"
      "`tests/check_false_alarms.rs` that fails before the fix):\n\n")
    for code, n, what in FIXED:
        w(f"- {', '.join('`' + x.strip() + '`' for x in code.split(','))} ({n}): {what}.\n")
    left = collections.defaultdict(list)
    for r in rows:
        if r[4] == "false-alarm":
            left[r[5]].append((r[2], f"{r[0]}:{r[1]}"))
    if left:
        w("\nFalse alarms that remain (judged, not fixed):\n\n")
        for reason, hits in sorted(left.items()):
            codes = ", ".join(f"`{c}`" for c in sorted({c for c, _ in hits}))
            where = ", ".join(f"`{x}`" for _, x in hits[:3]) + (f" and {len(hits) - 3} more" if len(hits) > 3 else "")
            w(f"- {codes} ({len(hits)}: {where}): {reason}.\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", default=os.path.join(ROOT, "target", "debug", "openim-gitops"))
    ap.add_argument("--markdown", action="store_true", help="print the per-code table as Markdown")
    ap.add_argument("--oracle", action="store_true", help="append oracle verdicts for unjudged mechanical findings")
    ap.add_argument("--todo", action="store_true", help="list unjudged findings")
    ap.add_argument("--prune", action="store_true", help="drop stale judgements from the file")
    args = ap.parse_args()

    # The binary runs from the corpus folder: a relative path is read from here first.
    findings = run(os.path.abspath(args.ours))
    rows = read_judgements()
    by_key = collections.defaultdict(list)
    for r in rows:
        by_key[tuple(r[:4])].append(r)
    found = collections.Counter(key(f) for f in findings)
    judged = collections.Counter(tuple(r[:4]) for r in rows)
    unjudged = [f for f in findings if found[key(f)] > judged[key(f)]]
    # one entry per missing copy
    seen = collections.Counter()
    missing = []
    for f in unjudged:
        seen[key(f)] += 1
        if seen[key(f)] <= found[key(f)] - judged[key(f)]:
            missing.append(f)
    stale = [k for k in judged if judged[k] > found[k]]

    if args.oracle:
        added = 0
        with open(JUDGEMENTS, "a", encoding="utf-8") as fh:
            for f in missing:
                if f["code"] not in ORACLE_CODES:
                    continue
                v = oracle(f)
                if v is None:
                    print(f"no oracle verdict: {f['code']} {f['file']}:{f['line']}", file=sys.stderr)
                    continue
                fh.write("\t".join(key(f) + v) + "\n")
                added += 1
        print(f"{added} oracle judgements appended")
        return 0

    if args.prune:
        extra = collections.Counter({k: judged[k] - found[k] for k in stale})
        kept = []
        with open(JUDGEMENTS, encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                k = tuple(parts[:4])
                if len(parts) == 6 and not line.startswith("#") and extra[k] > 0:
                    extra[k] -= 1
                    print(f"dropped: {parts[2]} {parts[0]}:{parts[1]} ({parts[4]})")
                    continue
                kept.append(line)
        with open(JUDGEMENTS, "w", encoding="utf-8") as fh:
            fh.writelines(kept)
        return 0

    if args.todo:
        for f in sorted(missing, key=lambda f: (f["code"], f["file"], f["line"])):
            print(f"{f['code']}\t{f['file']}:{f['line']}\t{message_hash(f['message'])}\t{f['message']}")
        return 0 if not missing else 1

    verdict_of = {}
    for k, rs in by_key.items():
        verdict_of[k] = [r[4] for r in rs]
    per = collections.defaultdict(collections.Counter)
    taken = collections.Counter()
    for f in findings:
        k = key(f)
        c = per[f["code"]]
        c["findings"] += 1
        vs = verdict_of.get(k, [])
        if taken[k] < len(vs):
            c["judged"] += 1
            c[vs[taken[k]]] += 1
            taken[k] += 1
    total = collections.Counter()
    for c in per.values():
        total.update(c)

    text = section(per, total, rows, findings)
    if args.markdown:
        print(text, end="")
        return 0
    for f in missing:
        print(f"unjudged: {f['code']} {f['file']}:{f['line']} {message_hash(f['message'])}")
    for k in stale:
        print(f"stale: {k[2]} {k[0]}:{k[1]} {k[3]}")
    print(f"{'code':40} {'findings':>8} {'judged':>7} {'false':>6} {'debat.':>6} {'rate':>6}")
    for code in sorted(per):
        c = per[code]
        print(f"{code:40} {c['findings']:8} {c['judged']:7} {c['false-alarm']:6} {c['debatable']:6} {rate(c):>6}")
    c = total
    print(f"{'all':40} {c['findings']:8} {c['judged']:7} {c['false-alarm']:6} {c['debatable']:6} {rate(c):>6}")
    current = text
    if not (missing or stale):
        try:
            with open(SECTION, encoding="utf-8") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = None
    if current != text:
        print(f"{os.path.relpath(SECTION, ROOT)} is out of date: python3 bench/judge.py --markdown > it, then "
              "UPDATE_SNAPSHOTS=1 cargo test --test check_codes")
        return 1
    return 1 if missing or stale else 0


if __name__ == "__main__":
    sys.exit(main())
