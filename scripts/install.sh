#!/usr/bin/env bash
# Installs a released openim-gitops binary: downloads the archive for this machine from a release,
# checks it against the release's SHA256SUMS, and keeps it in a cache folder so that the next run with
# the same version installs nothing. Prints the folder holding the `openim-gitops` binary on stdout;
# everything else goes to stderr.
#
#   scripts/install.sh --version 0.2.0 [--repo owner/name] [--base-url URL] [--cache DIR] [--target TRIPLE]
#
# The release is `<base-url>/openim-gitops-v<version>/`, holding `SHA256SUMS` and
# `openim-gitops-<version>-<target>.tar.gz` (made by .github/workflows/release.yml); the base URL is
# `https://github.com/<repo>/releases/download` unless given. The cache is
# `<cache>/openim-gitops/<version>/<target>/` (default cache: $RUNNER_TOOL_CACHE on GitHub Actions, else
# $XDG_CACHE_HOME or ~/.cache); a cached binary is used only while it still matches its checksum.
#
# Exit codes: 0 installed (or found in the cache); 3 no released binary for this version or machine
# (the caller may build from source); 1 anything else, a checksum mismatch above all (nothing is
# installed then); 2 usage.
#
# The checksum proves the archive is the one the release lists, not who built it: `gh attestation
# verify <archive> --repo <repo>` checks the build provenance the release workflow attests.
set -euo pipefail

say() { printf 'openim-gitops install: %s\n' "$*" >&2; }
die() { say "$1"; exit "${2:-1}"; }

version="" repo="" base_url="" cache="" target=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --version | --repo | --base-url | --cache | --target)
      [ "$#" -ge 2 ] || die "$1 needs a value" 2
      case "$1" in
        --version) version="$2" ;;
        --repo) repo="$2" ;;
        --base-url) base_url="$2" ;;
        --cache) cache="$2" ;;
        --target) target="$2" ;;
      esac
      shift 2
      ;;
    -h | --help) sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" 2 ;;
  esac
done

version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || die "--version must be X.Y.Z, not '$version'" 2

if [ -z "$base_url" ]; then
  [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die "--repo must be owner/name, not '$repo' (or give --base-url)" 2
  base_url="https://github.com/$repo/releases/download"
fi
base_url="${base_url%/}"
# Plain http only to this machine (a test's loopback server); anything else must be https.
case "$base_url" in
  https://*) ;;
  http://127.0.0.1:* | http://127.0.0.1/* | http://localhost:* | http://localhost/* | http://\[::1\]:*) ;;
  *) die "the release URL must be https: '$base_url'" 2 ;;
esac

if [ -z "$target" ]; then
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) target=x86_64-unknown-linux-musl ;;
    Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
    Darwin/arm64 | Darwin/aarch64) target=aarch64-apple-darwin ;;
    Darwin/x86_64) target=x86_64-apple-darwin ;;
    *) die "no released binary for $(uname -s) $(uname -m)" 3 ;;
  esac
fi
case "$target" in
  x86_64-unknown-linux-musl | aarch64-unknown-linux-musl | aarch64-apple-darwin | x86_64-apple-darwin) ;;
  *) die "no released binary for target '$target'" 3 ;;
esac

if [ -z "$cache" ]; then
  cache="${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}"
fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

dir="$cache/openim-gitops/$version/$target"
bin="$dir/openim-gitops"
# A cache entry is the binary and the checksum it had when it was installed.
if [ -x "$bin" ] && [ -f "$dir/openim-gitops.sha256" ]; then
  if [ "$(sha256 "$bin")" = "$(cat "$dir/openim-gitops.sha256")" ]; then
    say "$version ($target) from the cache $dir"
    printf '%s\n' "$dir"
    exit 0
  fi
  say "the cached binary in $dir no longer matches its checksum: downloading again"
fi

fetch() { # URL FILE; exit 3 when the server has no such file
  local status
  status="$(curl --silent --show-error --location --retry 3 --connect-timeout 20 \
    --output "$2" --write-out '%{http_code}' "$1")" || die "could not download $1"
  case "$status" in
    200) ;;
    404) die "no release asset at $1" 3 ;;
    *) die "$1 answered HTTP $status" ;;
  esac
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
archive="openim-gitops-$version-$target.tar.gz"
release="$base_url/openim-gitops-v$version"
say "downloading $release/$archive"
fetch "$release/SHA256SUMS" "$work/SHA256SUMS"
fetch "$release/$archive" "$work/$archive"

# The line for our archive: `<64 hex>  <name>` (sha256sum's format; `*<name>` for binary mode).
expected="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/SHA256SUMS")"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || die "SHA256SUMS of $version lists no checksum for $archive"
actual="$(sha256 "$work/$archive")"
[ "$actual" = "$expected" ] || die "checksum mismatch for $archive: expected $expected, got $actual; nothing installed"

mkdir "$work/x"
tar -xzf "$work/$archive" -C "$work/x"
unpacked="$work/x/openim-gitops-$version-$target/openim-gitops"
[ -f "$unpacked" ] && [ ! -L "$unpacked" ] || die "$archive holds no openim-gitops-$version-$target/openim-gitops"
chmod 755 "$unpacked"

# Moved in whole: a cache entry is complete or absent.
mkdir -p "$cache/openim-gitops/$version"
staged="$(mktemp -d "$cache/openim-gitops/$version/.$target.XXXXXX")"
cp "$unpacked" "$staged/openim-gitops"
sha256 "$staged/openim-gitops" >"$staged/openim-gitops.sha256"
rm -rf "$dir"
chmod 755 "$staged"
mv "$staged" "$dir"
say "installed $version ($target) into $dir (checksum $actual)"
printf '%s\n' "$dir"
