#!/usr/bin/env bash
# Install what bench/emulator_http.py compares against, idempotently:
#   - oauth2-mock-server (exact version pinned in bench/peers/package.json and its lock file)
#     into bench/.peers/node_modules (gitignored), with `npm ci`;
#   - wrk, the HTTP load generator, from Debian's packages when it is missing.
# Usage: bash bench/setup_peers.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS_SRC="$HERE/peers"
PEERS_DIR="$HERE/.peers"
WANT_VERSION="8.2.3"

say() { printf 'setup_peers: %s\n' "$*"; }
die() { printf 'setup_peers: error: %s\n' "$*" >&2; exit 1; }

# --- Node peer: oauth2-mock-server ----------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node is not installed (Node >= 20.19 is needed for oauth2-mock-server $WANT_VERSION)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

mkdir -p "$PEERS_DIR"
installed_version() {
  node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
    "$PEERS_DIR/node_modules/oauth2-mock-server/package.json" 2>/dev/null || true
}

if [[ "$(installed_version)" == "$WANT_VERSION" ]] \
  && cmp -s "$PEERS_SRC/package-lock.json" "$PEERS_DIR/package-lock.json" \
  && cmp -s "$PEERS_SRC/package.json" "$PEERS_DIR/package.json"; then
  say "oauth2-mock-server $WANT_VERSION already installed in $PEERS_DIR"
else
  say "installing oauth2-mock-server $WANT_VERSION into $PEERS_DIR (npm ci)"
  cp "$PEERS_SRC/package.json" "$PEERS_SRC/package-lock.json" "$PEERS_DIR/"
  (cd "$PEERS_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  got="$(installed_version)"
  [[ "$got" == "$WANT_VERSION" ]] || die "expected oauth2-mock-server $WANT_VERSION, found '${got:-nothing}'"
fi

# --- Load generator: wrk ----------------------------------------------------------------------
if command -v wrk >/dev/null 2>&1; then
  say "wrk present: $(command -v wrk)"
else
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing wrk with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq wrk >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    say "installing wrk with sudo apt-get"
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    die "wrk is missing; install it (Debian/Ubuntu: apt-get install wrk) and run this again"
  fi
  command -v wrk >/dev/null 2>&1 || die "wrk still not found after apt-get install"
fi

# --- openssl (for the RS256 signing-rate reference) ------------------------------------------
command -v openssl >/dev/null 2>&1 || say "warning: openssl not found; the signing-rate reference will be skipped"

say "ready"
