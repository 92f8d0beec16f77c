#!/usr/bin/env bash
# The entry of the `-release` pre-commit hooks: runs the released openim-gitops binary of this hook
# repository's version (its Cargo.toml), installed by scripts/install.sh into ~/.cache/openim-gitops
# on first use (download, SHA-256 check), instead of building it with cargo.
#
# OPENIM_GITOPS_REPO (default openimsdk/openim-gitops) names the repository whose releases to use;
# OPENIM_GITOPS_RELEASE_URL replaces its download URL (a mirror).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n 1)"
args=(--version "$version" --repo "${OPENIM_GITOPS_REPO:-openimsdk/openim-gitops}")
if [ -n "${OPENIM_GITOPS_RELEASE_URL:-}" ]; then args+=(--base-url "$OPENIM_GITOPS_RELEASE_URL"); fi
status=0
dir="$(bash "$here/scripts/install.sh" "${args[@]}")" || status=$?
if [ "$status" -eq 3 ]; then
  echo "openim-gitops: no released binary of $version for this machine: use the hooks without -release (they build it with cargo)" >&2
fi
[ "$status" -eq 0 ] || exit 2
exec "$dir/openim-gitops" "$@"
