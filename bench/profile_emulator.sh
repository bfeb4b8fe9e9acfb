#!/usr/bin/env bash
# Profile `m2m-contract serve` under the benchmark's wrk load with py-spy, and print where the
# server's time goes (self and inclusive share of samples, top functions).
#
# Usage: bash bench/profile_emulator.sh [--nocache] [OUTDIR]
#   --nocache  run the emulator with its signature cache sized 0 (every token signed afresh),
#              as the diagnostic variant of bench/emulator_http.py does.
#   OUTDIR     where profile.svg (flame graph) and profile.raw (collapsed stacks) go
#              (default: a new temporary directory).
# Needs wrk (bash bench/setup_peers.sh) and py-spy (pip install -e '.[bench]').
# Loopback only; the server is always stopped; wrk and py-spy are bounded in time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PY="$REPO/.venv/bin/python"
[[ -x "$PY" ]] || PY="$(command -v python3)"
NOCACHE=0
if [[ "${1:-}" == "--nocache" ]]; then NOCACHE=1; shift; fi
OUT="${1:-$(mktemp -d -t m2m-profile-XXXXXX)}"
mkdir -p "$OUT"

command -v wrk >/dev/null || { echo "wrk is missing: run bash bench/setup_peers.sh" >&2; exit 2; }
SPY="$(dirname "$PY")/py-spy"
[[ -x "$SPY" ]] || SPY="$(command -v py-spy || true)"
[[ -n "$SPY" ]] || { echo "py-spy is missing: pip install -e '.[bench]'" >&2; exit 2; }

PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
if [[ "$NOCACHE" == 1 ]]; then
  BOOT="$(cd "$HERE" && "$PY" -c 'import emulator_http as e; print(e.NOCACHE_BOOTSTRAP)')"
  "$PY" -c "$BOOT" serve --host 127.0.0.1 --port "$PORT" >"$OUT/server.log" 2>&1 &
else
  "$PY" -m m2m_contract serve --host 127.0.0.1 --port "$PORT" >"$OUT/server.log" 2>&1 &
fi
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  "$PY" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/healthz').status_code!=200)" \
    2>/dev/null && break
  sleep 0.2
done

URL="http://127.0.0.1:$PORT"
wrk -t2 -c32 -d3s -s "$HERE/token_load.lua" "$URL" -- /oauth/token >/dev/null   # warm-up
wrk -t2 -c32 -d12s --latency -s "$HERE/token_load.lua" "$URL" -- /oauth/token >"$OUT/wrk.txt" &
WRK=$!
sleep 1
"$SPY" record --pid "$SERVER" --duration 8 --rate 200 --nonblocking --format raw \
  --output "$OUT/profile.raw" >"$OUT/py-spy.log" 2>&1
"$SPY" record --pid "$SERVER" --duration 1 --rate 200 --nonblocking \
  --output "$OUT/profile.svg" >>"$OUT/py-spy.log" 2>&1 || true
wait "$WRK"
grep -E "Requests/sec|50%|99%" "$OUT/wrk.txt"

"$PY" - "$OUT/profile.raw" <<'EOF'
import collections
import re
import sys

self_time: collections.Counter[str] = collections.Counter()
inclusive: collections.Counter[str] = collections.Counter()
total = 0
with open(sys.argv[1], encoding="utf-8") as fh:
    for line in fh:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        self_time[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
print(f"\n{total} samples; top self time:")
for frame, n in self_time.most_common(15):
    print(f"  {100 * n / total:5.1f}%  {frame}")
print("top inclusive time:")
for frame, n in inclusive.most_common(30):
    print(f"  {100 * n / total:5.1f}%  {frame}")
EOF
echo "profile: $OUT/profile.raw (collapsed stacks), $OUT/profile.svg (flame graph, 1 s)"
