#!/usr/bin/env python3
"""The parser's bounds, measured on the release binary (docs/security.md, rule 4): wall time and peak
RSS (`/usr/bin/time -v`) of

- the 615-byte alias bomb and a 10-level one: `render` must stop with exit 2;
- a ConfigMap with 80,000 keys (1.3 MB): it must load;
- files of ordinary manifests (Deployments, Services, ConfigMaps) of 25, 50 and 100 MB: loading must be
  linear in the size.

Each input is an environment `dev` whose base is the one file. Loading is measured with `explain`, which
loads and overlays the environment and prints one object (no checks, nothing written), so the figure is
the load stage's. Usage:

    cargo build --release --locked
    python3 bench/limits.py [BINARY] [RUNS] [SIZES]   # default target/release/openim-gitops, 3 runs
                                                      # (median), files of 25,50,100 MB
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/openim-gitops")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SIZES = [int(x) for x in sys.argv[3].split(",") if x] if len(sys.argv) > 3 else [25, 50, 100]

ENV = """apiVersion: gitops.openim.io/v1
kind: Environment
metadata:
  name: dev
resources:
  - ../base/x.yaml
"""

CONFIGMAP_HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n"


def bomb(levels, pad_to=0):
    """A billion laughs: `levels` levels of nine aliases each (as tests/hostile/limits.rs builds it)."""
    lines = ['a: &a [%s]' % ",".join(['"lol"'] * 9)]
    names = "abcdefghijklmnopqrstuvwxyz"
    for i in range(1, levels):
        lines.append("%s: &%s [%s]" % (names[i], names[i], ",".join(["*" + names[i - 1]] * 9)))
    text = CONFIGMAP_HEAD + "".join("  %s\n" % l for l in lines)
    if pad_to:
        pad = max(pad_to - len(text) - 2, 0)
        text = "#" + "-" * pad + "\n" + text
    return text


def many_keys(n):
    """One ConfigMap with `n` keys (1.3 MB for 80,000, the size the issue measured), then a small one to
    explain, so the figure is the load's and not the printing of 80,000 keys."""
    return (
        CONFIGMAP_HEAD
        + "".join("  k%05d: v%05d\n" % (i, i) for i in range(n))
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: small\ndata:\n  a: b\n"
    )


def ordinary(i):
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  labels: {{app.kubernetes.io/name: app-{i}, app.kubernetes.io/part-of: bench}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: app-{i}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: app-{i}, app.kubernetes.io/part-of: bench}}
    spec:
      containers:
        - name: app
          image: registry.example/app-{i}:1.0.{i}
          args: ["--port=8080", "--log-level=info"]
          ports: [{{name: http, containerPort: 8080}}]
          env:
            - {{name: MODE, value: production}}
            - {{name: CONFIG, value: /etc/app/config.yaml}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          readinessProbe: {{httpGet: {{path: /ready, port: http}}}}
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
spec:
  selector: {{app.kubernetes.io/name: app-{i}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-{i}-config
data:
  config.yaml: |
    server:
      port: 8080
      name: app-{i}
    features: [a, b, c]
"""


def ordinary_file(megabytes):
    parts, size, i = [], 0, 0
    while size < megabytes * 1_000_000:
        p = ordinary(i)
        parts.append(p)
        size += len(p)
        i += 1
    return "".join(parts), i * 3


def measure(text, args):
    """Median wall seconds and peak RSS (MB) of `args` on an environment whose base is `text`."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "environments/dev"))
        os.makedirs(os.path.join(d, "environments/base"))
        with open(os.path.join(d, "environments/dev/env.yaml"), "w") as f:
            f.write(ENV)
        with open(os.path.join(d, "environments/base/x.yaml"), "w") as f:
            f.write(text)
        walls, cpus, rss, code = [], [], [], None
        for _ in range(RUNS):
            p = subprocess.run(
                ["/usr/bin/time", "-v", BIN] + args,
                cwd=d,
                capture_output=True,
                text=True,
                env={**os.environ, "NO_COLOR": "1"},
            )
            code = p.returncode
            wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
            parts = [float(x) for x in wall.split(":")]
            secs = sum(v * 60 ** (len(parts) - 1 - k) for k, v in enumerate(parts))
            walls.append(secs)
            user = float(re.search(r"User time \(seconds\): (\S+)", p.stderr).group(1))
            system = float(re.search(r"System time \(seconds\): (\S+)", p.stderr).group(1))
            cpus.append(user + system)
            rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024)
        return statistics.median(walls), statistics.median(cpus), max(rss), code


def main():
    print(f"binary: {BIN}; {RUNS} runs each, median wall time, highest peak RSS; load average {os.getloadavg()[0]:.1f}")
    print("| input | size | command | exit | wall | CPU (user + system) | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    render = ["render", "--env", "dev", "--out", "rendered"]
    small = CONFIGMAP_HEAD + "  a: b\n"
    wall, cpu, rss, code = measure(small, render)
    print(f"| baseline: one small ConfigMap | {len(small):,} B | render | {code} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MB |")
    for name, text in [("615-byte alias bomb (9 levels)", bomb(9, 615)), ("10-level alias bomb", bomb(10))]:
        wall, cpu, rss, code = measure(text, render)
        print(f"| {name} | {len(text):,} B | render | {code} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MB |")
    explain = ["explain", "--env", "dev", "ConfigMap/small"]
    text = many_keys(80_000)
    wall, cpu, rss, code = measure(text, explain)
    print(f"| 80,000 keys in one ConfigMap | {len(text) / 1e6:.2f} MB | explain | {code} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MB |")
    for mb in SIZES:
        text, objects = ordinary_file(mb)
        wall, cpu, rss, code = measure(text, ["explain", "--env", "dev", "ConfigMap/app-0-config"])
        mb = len(text) / 1e6
        print(
            f"| ordinary manifests, {objects:,} objects | {mb:.0f} MB | explain | {code} | {wall:.2f} s "
            f"({wall / mb * 1000:.0f} ms/MB) | {cpu:.2f} s ({cpu / mb * 1000:.0f} ms/MB) | {rss:.0f} MB |"
        )


if __name__ == "__main__":
    main()
