"""docs/benchmarks-emulator.md: the emulator benchmark's method, and every figure of its last
run, from bench/results/emulator_http.json alone (nothing on the page is copied by hand)."""

from __future__ import annotations

from typing import Any

from report_sections import INPROC_ROWS, NOCACHE, PEER, num, table

METHOD = """\
How fast does `m2m-contract serve` issue client_credentials tokens over loopback HTTP, next
to its closest peer, the npm package
[oauth2-mock-server](https://www.npmjs.com/package/oauth2-mock-server) 8.2.3 on Node,
measured in the same run with the same load generator? How long does one request on a
keep-alive connection take? And how close does the in-process door (the httpx transport)
come to the machine's RS256 signing limit?

Targets (from DESIGN.md; reported by the benchmark, never asserted in tests):
- over HTTP, on the README's plain install (`pip install .`, no extra) as on the full one:
  at least **1.5x** oauth2-mock-server's tokens/s, with a **p99 no worse**, in the same run;
- one request on a keep-alive connection: a **p50 under 2 ms** (no Nagle delay);
- in-process: at least **0.8x** the RS256 signatures/s of one core (`openssl speed rsa2048`).

## Run it

From the repository root:

```sh
bash bench/setup_peers.sh && .venv/bin/python bench/emulator_http.py
.venv/bin/python bench/report.py     # redraws docs/benchmarks.md and this page
```

It takes about four minutes (more when it waits for a busy machine; the first run also
creates the plain-install venvs). `bench/setup_peers.sh` is idempotent: it installs
oauth2-mock-server 8.2.3 with `npm ci` into `bench/.peers/` (gitignored) from the committed
`bench/peers/package.json` and `package-lock.json`, and `wrk` with `apt-get` when it is
missing. `bench/emulator_http.py` refuses to run (exit status 2, with the command to fix it)
when wrk, node or the peer is missing.

Options: `--variants full,plain,fallback,nocache` (the emulator installs to compare, default
all), `--plain-venv PATH` and `--fallback-venv PATH` (where those installs live, created on
first use; the m2m-contract in them is reinstalled from this tree on every run),
`--duration S` (per wrk run, default 10), `--connections N` (32), `--threads N` (2),
`--rounds N` (2), `--warmup S` (3), `--keepalive S` (the one-connection run, 5),
`--openssl-seconds S` (3), `--inprocess-seconds S` (5), `--wait-quiet S` (before each
measurement, wait up to S seconds, default 60, for other processes to leave the cores
alone; 0 never waits), `--output PATH`. Exit status: 0 when every measured request got a
2xx and no socket error occurred (whatever the targets say), 1 otherwise, 2 when the
benchmark could not run.

## What it measures

1. **Installs.** `full`: the venv running the benchmark (`pip install -e '.[dev]'`).
   `plain`: the README's install in a fresh venv, `pip install .` with no extra; uvicorn's
   fast parser (httptools) and event loop (uvloop) are dependencies wherever wheels exist.
   `fallback`: the same venv with httptools and uvloop uninstalled, as on a platform
   without their wheels: uvicorn then runs the pure-Python h11 parser on asyncio's loop.
   `nocache`: the full install with the signature cache sized 0 (below).
2. **Servers.** Each starts as a subprocess on a free `127.0.0.1` port
   (`bench/common.py`): `<venv>/bin/m2m-contract serve --host 127.0.0.1 --port P` — token
   path `/oauth/token`, readiness on `/healthz` — and `node bench/peers/oauth2_mock_server.mjs
   P`, an `OAuth2Server` with one fresh RS256 key, token path `/token`. One request checks
   that each answers the benchmark body with a 200 and an RS256-signed JWT. Every server is
   always stopped at the end (SIGTERM, then SIGKILL, to its process group).
3. **Load.** `wrk -t2 -c32 -d10s --latency --timeout 10s -s bench/token_load.lua URL -- PATH`:
   the same JSON body for every server, `Content-Type: application/json`,
   `{"client_id":"demo-client","client_secret":"demo-secret","grant_type":"client_credentials","scope":"read:members"}`.
   The request is built once per wrk thread: the script adds no per-request Lua work.
4. **Procedure.** A warm-up run per server (discarded), then `--rounds` measured runs per
   server, the order reversed every round so that a drift in the machine's speed favours
   no one. A non-2xx answer or a socket error marks the result invalid. The server's CPU
   time (its process group, from `/proc`) gives **server CPU µs per token**; the machine's
   (`/proc/stat`) and wrk's give **other cores**, the CPU anything else used meanwhile: a
   run where other processes used more than 0.2 cores is reported as disturbed. Then each
   server gets one keep-alive connection for `--keepalive` seconds (`wrk -t1 -c1`): the p50
   of one request, which Nagle's algorithm against delayed ACKs would push to about 40 ms.
5. **Figures.** tokens/s = all requests of all rounds / their total duration; p50 = the
   median of the rounds'; p99 = the **worst** round's (conservative for both sides). Ratios
   are taken within the run: other agents load this machine intermittently, and the peer's
   absolute figures move with them.
6. **Signing limit.** `openssl speed -seconds 3 rsa2048` sign/s (one core), and the same
   operation through Python's `cryptography` (what the emulator signs with).
7. **In-process.** One thread POSTs the body to
   `httpx.Client(transport=EmulatorTransport(Emulator()))` for 5 s after a warm-up; tokens/s
   and its ratio to the openssl sign rate; without the signature cache too, on one thread
   and on one per core.

### The signature cache, and the "no sig. cache" variant

The emulator remembers recent RS256 signatures (`KeySet` in `emulator/_keys.py`). RS256
(PKCS#1 v1.5) is deterministic and Auth0's client_credentials tokens carry no `jti`, so every
identical request within the same second gets the same token — from Auth0 and from the
emulator alike — and the cache changes no output. But the benchmark sends identical
requests, so the emulator signs about once per second instead of once per token, while
oauth2-mock-server signs every token: the headline rows measure HTTP and emulator overhead,
not signing. The *no sig. cache* variant starts the same `serve` command through `python -c`
with the cache sized 0 (`NOCACHE_BOOTSTRAP` in `bench/emulator_http.py`; nothing under
`src/` is changed), so that every token is signed as the peer's are.

### What makes the HTTP door fast

- **TCP_NODELAY on every accepted connection**, whatever the event loop. asyncio sets it
  only on sockets it creates with `IPPROTO_TCP`; on a listening socket made elsewhere, every
  keep-alive answer waited about 40 ms for the client's delayed ACK (Nagle), which held the
  plain install to a fraction of the peer's rate.
- **Signing off the event loop**: token requests run on a pool of one thread per core
  (`cryptography` releases the GIL while it signs), and `m2m-contract serve` shortens the
  interpreter's switch interval to 0.5 ms so that the loop does not wait 5 ms for the GIL.
- **A journal the garbage collector does not walk.** Ten thousand journaled exchanges as
  Python objects made every full collection traverse them, and the exchanges promoted into
  the oldest generation triggered one every few thousand requests: 50 ms pauses that set the
  p99. The journal holds each exchange marshalled to bytes (never tracked), and `serve`
  freezes what it loaded at start-up (`gc.freeze()`), so full collections stay rare and
  short.

### Where the emulator's time goes

`bash bench/profile_emulator.sh [--nocache] [OUTDIR]` starts the emulator, loads it with the
same wrk command, samples it with `py-spy record` for 8 s and prints the top functions by
self and inclusive time (collapsed stacks and a flame graph are kept in OUTDIR). py-spy is
in the `bench` extra. With the signature cache, most samples are in uvicorn's protocol
(writing answers, parsing requests) and the emulator's request handling; without it, most
are in `rs256_sign`, on the signing threads.
"""


def _runs(data: dict[str, Any]) -> list[str]:
    rows = []
    for name, server in data["servers"].items():
        for i, run in enumerate(server["runs"], 1):
            rows.append(
                [name, str(i), num(run["tokens_per_s"]), num(run["p50_ms"], 2),
                 num(run["p99_ms"], 2), num(run["p99_9_ms"], 2), str(run["non_2xx"]),
                 num(run.get("server_cpu_us_per_token") or 0), str(run["other_cores"])]
            )  # fmt: skip
        sm = server["summary"]
        rows.append(
            [f"**{name}**", "all", f"**{num(sm['tokens_per_s'])}**", num(sm["p50_ms"], 2),
             f"{num(sm['p99_ms'], 2)} (worst)", "", str(sm["non_2xx"]),
             num(sm.get("server_cpu_us_per_token") or 0), ""]
        )  # fmt: skip
    return table(
        ["server", "round", "tokens/s", "p50 ms", "p99 ms", "p99.9 ms", "non-2xx",
         "server CPU µs/token", "other cores"],
        rows,
    )  # fmt: skip


def _installs(data: dict[str, Any]) -> list[str]:
    rows = []
    for name, server in data["servers"].items():
        versions = server.get("versions", {})
        parts = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "m2m-contract" and v)
        missing = [k for k in ("httptools", "uvloop") if k in versions and not versions[k]]
        parts += "; no " + " or ".join(missing) if missing else ""
        rows.append([name, server.get("install", ""), parts or "-", f"`{server['command']}`"])
    return table(["server", "install", "versions", "command"], rows, numeric=False)


def _keepalive(data: dict[str, Any]) -> list[str]:
    target = data.get("keepalive_target_ms", 2.0)
    rows = []
    for name, server in data["servers"].items():
        keep = server.get("keepalive")
        if keep:
            met = "-" if name in (PEER, NOCACHE) else ("yes" if keep["p50_ms"] < target else "no")
            rows.append([name, num(keep["tokens_per_s"]), num(keep["p50_ms"], 2),
                         num(keep["p99_ms"], 2), met])  # fmt: skip
    return table(["server", "requests/s", "p50 ms", "p99 ms", f"p50 < {target:g} ms"], rows)


def _signing(data: dict[str, Any]) -> list[str]:
    sig = data.get("signing", {})
    openssl, python = sig.get("openssl", {}), sig.get("python_cryptography", {})
    if "sign_per_s" not in openssl:
        return [f"openssl: {openssl.get('error', 'not measured')}", ""]
    version = str(openssl.get("version", "")).split(" (")[0]
    rows = [[f"`openssl speed rsa2048`, one core ({version})", num(openssl["sign_per_s"]), "1.00"]]
    if python:
        rows.append([f"Python `cryptography` {python['cryptography']}", num(python["sign_per_s"]),
                     f"{python['sign_per_s'] / openssl['sign_per_s']:.2f}"])  # fmt: skip
    for key, label in INPROC_ROWS:
        if data.get(key):
            rows.append([label, num(data[key]["tokens_per_s"]),
                         f"{data[key]['ratio_to_openssl']:.2f}"])  # fmt: skip
    return table(["", "signatures (tokens)/s", "ratio to openssl (in-process target 0.8)"], rows)


def render(data: dict[str, Any] | None) -> str:
    lines = [
        "# Benchmark: the emulator's token endpoint vs oauth2-mock-server",
        "",
        "<!-- Generated by bench/report.py (bench/report_emulator.py) from "
        "bench/results/emulator_http.json: edit those, not this page. -->",
        "",
        METHOD,
    ]
    if data is None:
        lines += ["## This run", "", "No results yet: run `bench/emulator_http.py`.", ""]
        return "\n".join(lines).rstrip() + "\n"
    m, s = data["machine"], data["settings"]
    lines += [
        "## This run",
        "",
        f"`{data['command']}`, {data['timestamp'][:10]}: {m['nproc']} cores ({m['cpu_model']}), "
        f"Python {m['python']}, Node {m['node']}, {m['wrk']}; wrk -t{s['threads']} "
        f"-c{s['connections']} -d{s['duration_s']}s, {s['rounds']} rounds, "
        f"{s['warmup_s']} s of warm-up, {s['keepalive_s']} s on one connection. Other "
        f"processes used {m.get('busy_cores_before', 0)} cores just before it.",
        "",
        *_installs(data),
        "### Every round",
        "",
        *_runs(data),
    ]
    for comp in data["comparison"]:
        lines.append(
            f"- {comp['server']}: **{comp['tokens_per_s_ratio']:.2f}x** the peer's tokens/s "
            f"(target 1.5x: {'met' if comp['meets_tokens_target'] else 'NOT met'}), p99 "
            f"**{comp['p99_ratio']:.2f}x** (target ≤ 1: "
            f"{'met' if comp['meets_p99_target'] else 'NOT met'})"
        )
    lines += ["", "### One keep-alive connection", "", *_keepalive(data)]
    lines += ["### Signing limit and in-process rate", "", *_signing(data)]
    notes = [*data.get("warnings", []), *data.get("problems", [])]
    if notes:
        lines += ["### Notes on this run", "", *(f"- {n}" for n in notes), ""]
    return "\n".join(lines).rstrip() + "\n"
