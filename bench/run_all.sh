#!/usr/bin/env bash
# Rerun every benchmark, then regenerate docs/benchmarks.md and its charts. About 10 minutes.
#
# Usage: bash bench/run_all.sh
# Needs the venv with the bench extra (.venv/bin/pip install -e '.[dev,bench]'); installs wrk
# and oauth2-mock-server through bench/setup_peers.sh. Run it on a quiet machine: every
# benchmark shares the same 2 cores with whatever else is running.
# A benchmark that fails does not stop the others; the exit status is 1 if any failed, and
# the report is still regenerated from whatever results exist.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
status=0

step() {
  printf '\n== %s\n' "$*"
  "$@" || { printf 'run_all: failed: %s\n' "$*" >&2; status=1; }
}

step bash bench/setup_peers.sh
step "$PY" bench/emulator_http.py
step "$PY" bench/client_bench.py
step "$PY" bench/verify_time.py
step "$PY" bench/flips.py --runs 5 --load
step "$PY" bench/soak.py
step "$PY" bench/report.py --measure-tests
exit "$status"
