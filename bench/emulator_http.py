"""Token throughput of the m2m-contract emulator next to oauth2-mock-server, in one run.

Run (from the repository root)::

    bash bench/setup_peers.sh && .venv/bin/python bench/emulator_http.py

What it does:

1. Prepares the installs it compares (``--variants``): the venv running this script (the
   full install, ``pip install -e '.[dev]'``); the README's *plain* install, ``pip install .``
   with no extra, in a fresh venv (``--plain-venv``, created on first use, its copy of
   m2m-contract refreshed from this tree on every run); and the same without httptools and
   uvloop (``--fallback-venv``), as on a platform without their wheels.
2. Starts every server as a subprocess on a free loopback port: ``m2m-contract serve --host
   127.0.0.1 --port P`` from each install, the diagnostic variant "no sig. cache" (see
   NOCACHE_BOOTSTRAP), and oauth2-mock-server 8.2.3 on Node
   (``bench/peers/oauth2_mock_server.mjs``). Checks that the benchmark body gets a 200 and an
   RS256-signed JWT from each.
3. Warms each up with wrk, then runs wrk on them in turn (``--rounds`` rounds, the order
   reversed every round) with the same settings (``-t2 -c32 -d10s --latency`` by default)
   and the same Lua script (``bench/token_load.lua``: a JSON client_credentials POST); then
   one keep-alive connection each (``wrk -t1 -c1``) for the latency of a single request.
   A non-2xx answer or a socket error makes the benchmark invalid (exit status 1).
4. Measures the machine's RS256 signing limit and the in-process rate (bench/signing.py).
5. Writes ``bench/results/emulator_http.json``; ``bench/report.py`` turns it into
   docs/benchmarks.md and docs/benchmarks-emulator.md.

Targets (reported, never asserted): every install >= 1.5x oauth2-mock-server's tokens/s
with a p99 no worse, in the same run; a keep-alive request's p50 under 2 ms; in-process
>= 0.8x the openssl RS256 sign rate. Other processes share this machine's cores: ratios are
taken within one run, and runs they disturbed (more than BUSY_CORES) are flagged.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import signing
from common import (
    BENCH_DIR,
    BUSY_CORES,
    REPO_DIR,
    RESULTS_DIR,
    Server,
    SetupError,
    Wrk,
    busy_cores,
    describe_machine,
    find_wrk,
    free_port,
    run_wrk,
    wait_quiet,
    write_json,
)

LUA_SCRIPT = BENCH_DIR / "token_load.lua"
PEER_SCRIPT = BENCH_DIR / "peers" / "oauth2_mock_server.mjs"
PEER_PACKAGE_JSON = BENCH_DIR / ".peers" / "node_modules" / "oauth2-mock-server" / "package.json"
DEFAULT_OUTPUT = RESULTS_DIR / "emulator_http.json"

EMULATOR = "m2m-contract"
PLAIN = "m2m-contract, plain install"
FALLBACK = "m2m-contract, no httptools or uvloop"
NOCACHE = "m2m-contract (no sig. cache)"
PEER = "oauth2-mock-server"
PEER_VERSION = "8.2.3"
VARIANTS = {"full": EMULATOR, "plain": PLAIN, "fallback": FALLBACK, "nocache": NOCACHE}
INSTALLS = {
    EMULATOR: "the development venv: pip install -e '.[dev]'",
    PLAIN: "the README's install in a fresh venv: pip install . (no extra)",
    FALLBACK: "pip install . then pip uninstall httptools uvloop (h11 and asyncio)",
    NOCACHE: "the development venv, the signature cache sized 0",
}
TOKEN_BODY = signing.TOKEN_BODY
TARGET_HTTP_RATIO = 1.5
TARGET_KEEPALIVE_P50_MS = 2.0

# The emulator remembers recent RS256 signatures (PKCS#1 v1.5 is deterministic, so equal
# claims give equal tokens: within one second every identical request gets the same token,
# as from Auth0). The benchmark's identical requests hit that cache, so a diagnostic variant
# runs the same `serve` command with the cache sized 0, to show the rate when every token is
# signed afresh, as oauth2-mock-server does. Nothing under src/ is changed.
NOCACHE_BOOTSTRAP = """\
import sys
from m2m_contract.emulator import _keys
if hasattr(_keys.KeySet, "_CACHE_SIZE"):
    _keys.KeySet._CACHE_SIZE = 0
    print("bench: signature cache disabled", flush=True)
else:
    print("bench: no signature cache found to disable", flush=True)
from m2m_contract._cli import main
sys.exit(main(sys.argv[1:]))
"""


# -- installs --------------------------------------------------------------------------------


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SetupError(f"{shlex.join(argv)} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")


def ensure_venv(path: Path, *, fast_parts: bool) -> Path:
    """A venv holding `pip install REPO` (created once, this tree's code reinstalled every
    time); without httptools and uvloop unless `fast_parts`. Returns its bin directory."""
    python = path / "bin" / "python"
    if not python.exists():
        print(f"creating {path} (pip install {REPO_DIR})", flush=True)
        _run([sys.executable, "-m", "venv", str(path)])
    _run([str(python), "-m", "pip", "install", "-q", str(REPO_DIR)])
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
          str(REPO_DIR)])  # fmt: skip
    if not fast_parts:
        _run([str(python), "-m", "pip", "uninstall", "-y", "-q", "httptools", "uvloop"])
    return path / "bin"


def installed(bin_dir: Path) -> dict[str, str | None]:
    """The versions of what decides the HTTP door's speed, in the venv of `bin_dir`."""
    script = (
        "import importlib.metadata as m, json\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({n: v(n) for n in ('m2m-contract', 'uvicorn', 'httptools', 'uvloop',"
        " 'h11')}))\n"
    )
    done = subprocess.run([str(bin_dir / "python"), "-c", script], capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    found: dict[str, str | None] = json.loads(done.stdout)
    return found


# -- servers ---------------------------------------------------------------------------------


def serve_argv(bin_dir: Path, port: int) -> list[str]:
    return [str(bin_dir / "m2m-contract"), "serve", "--host", "127.0.0.1", "--port", str(port)]


def b64url_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def check_token(server: Server) -> dict[str, Any]:
    """POST the benchmark body once; it must get a 200 with a signed JWT. Returns its shape."""
    with httpx.Client(trust_env=False) as client:
        response = client.post(server.token_url, json=TOKEN_BODY, timeout=10.0)
    body = response.json() if response.status_code == 200 else {}
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or token.count(".") != 2:
        raise SetupError(
            f"{server.name}: POST {server.token_url} answered {response.status_code} "
            f"without a JWT: {response.text[:300]}"
        )
    header_seg, payload_seg, _ = token.split(".")
    return {
        "status": response.status_code,
        "alg": b64url_json(header_seg).get("alg"),
        "token_type": body.get("token_type"),
        "claims": sorted(b64url_json(payload_seg)),
        "token_chars": len(token),
        "response_bytes": len(response.content),
    }


def build_servers(args: argparse.Namespace, node: str, tmp: Path) -> list[Server]:
    ports: set[int] = set()
    here = Path(sys.executable).parent
    servers: list[Server] = []
    wanted = {VARIANTS[v] for v in args.variants}
    for name in (EMULATOR, PLAIN, FALLBACK, NOCACHE):
        if name not in wanted:
            continue
        port = free_port(ports)
        if name == PLAIN:
            bin_dir = ensure_venv(args.plain_venv, fast_parts=True)
        elif name == FALLBACK:
            bin_dir = ensure_venv(args.fallback_venv, fast_parts=False)
        else:
            bin_dir = here
        argv = serve_argv(bin_dir, port)
        if name == NOCACHE:
            argv = [sys.executable, "-c", NOCACHE_BOOTSTRAP, *argv[1:]]
        versions = installed(bin_dir)
        notes = {"install": INSTALLS[name], "versions": versions}
        log = tmp / f"{len(servers)}.log"
        version = versions.get("m2m-contract") or "?"
        servers.append(Server(name, argv, port, log, version=version, notes=notes))
    port = free_port(ports)
    servers.append(
        Server(PEER, [node, str(PEER_SCRIPT), str(port)], port, tmp / "peer.log",
               token_path="/token", ready_path="/.well-known/openid-configuration",
               version=PEER_VERSION, notes={"install": "npm ci of bench/peers (Node)"})
    )  # fmt: skip
    return servers


# -- runs ------------------------------------------------------------------------------------


def figures(raw: dict[str, Any]) -> dict[str, Any]:
    """One wrk run's JSON as the results keep it."""
    latency, errors = raw["latency_us"], raw["errors"]
    duration, requests = raw["duration_us"] / 1e6, int(raw["requests"])
    return {
        "requests": requests,
        "duration_s": round(duration, 3),
        "tokens_per_s": round(requests / duration, 1) if duration > 0 else 0.0,
        **{f"{k}_ms": latency[k] / 1000 for k in ("p50", "p90", "p99", "p99_9", "max")},
        "mean_ms": round(latency["mean"] / 1000, 3),
        "non_2xx": int(errors["status"]),
        "socket_errors": {k: v for k, v in errors.items() if k != "status"},
        "server_cpu_s": raw["server_cpu_s"],
        "server_cpu_us_per_token": round(raw["server_cpu_s"] / requests * 1e6, 1)
        if requests
        else None,
        "wrk_cpu_s": raw["wrk_cpu_s"],
        "other_cores": raw["other_cores"],
        "wrk_command": raw["wrk_command"],
    }


def clean(run: dict[str, Any]) -> bool:
    return run["non_2xx"] == 0 and not any(run["socket_errors"].values()) and run["requests"] > 0


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    requests = sum(r["requests"] for r in runs)
    duration = sum(r["duration_s"] for r in runs)
    cpu = sum(r["server_cpu_s"] for r in runs)
    return {
        "rounds": len(runs),
        "requests": requests,
        "tokens_per_s": round(requests / duration, 1) if duration else 0.0,
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
        "p99_ms": round(max(r["p99_ms"] for r in runs), 2),
        "p99_ms_median": round(statistics.median(r["p99_ms"] for r in runs), 2),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(sum(r["socket_errors"].values()) for r in runs),
        "server_cpu_us_per_token": round(cpu / requests * 1e6, 1) if requests else None,
    }


def measure(
    args: argparse.Namespace, servers: list[Server], problems: list[str], warnings: list[str]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Start the servers, warm them up, run wrk in rounds and one keep-alive run each."""
    wrk = find_wrk()
    load = Wrk(args.threads, args.connections, LUA_SCRIPT)
    single = Wrk(1, 1, LUA_SCRIPT)
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    keepalive: dict[str, dict[str, Any]] = {}
    try:
        for server in servers:
            print(f"starting {server.name}: {server.command}", flush=True)
            server.start()
        for server in servers:
            server.wait_ready()
            server.notes["token_sample"] = check_token(server)
        for server in servers:
            if args.warmup > 0:
                run_wrk(wrk, load, server, args.warmup, args=[server.token_path])
        for rnd in range(args.rounds):
            for server in servers if rnd % 2 == 0 else list(reversed(servers)):
                if args.wait_quiet > 0:
                    wait_quiet(args.wait_quiet)
                one = figures(run_wrk(wrk, load, server, args.duration, args=[server.token_path]))
                runs[server.name].append(one)
                print(f"round {rnd + 1}/{args.rounds} {server.name}: "
                      f"{one['tokens_per_s']:,.0f} tokens/s, p50 {one['p50_ms']:.2f} ms, "
                      f"p99 {one['p99_ms']:.2f} ms", flush=True)  # fmt: skip
                if not clean(one):
                    problems.append(f"{server.name} round {rnd + 1}: {one['non_2xx']} non-2xx, "
                                    f"socket errors {one['socket_errors']}")  # fmt: skip
                if (one["other_cores"] or 0) > BUSY_CORES:
                    warnings.append(f"{server.name} round {rnd + 1} was disturbed: other "
                                    f"processes used {one['other_cores']} cores")  # fmt: skip
        for server in servers:
            if args.wait_quiet > 0:
                wait_quiet(args.wait_quiet)
            raw = run_wrk(wrk, single, server, args.keepalive, args=[server.token_path])
            keepalive[server.name] = figures(raw)
            print(f"one keep-alive connection, {server.name}: p50 "
                  f"{keepalive[server.name]['p50_ms']:.2f} ms", flush=True)  # fmt: skip
            if not clean(keepalive[server.name]):
                problems.append(f"{server.name} keep-alive run: errors")
    finally:
        for server in servers:
            server.stop()
    return runs, keepalive


def compare(name: str, summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ours, peer = summaries[name], summaries[PEER]
    tokens = round(ours["tokens_per_s"] / peer["tokens_per_s"], 3) if peer["tokens_per_s"] else 0
    p99 = round(ours["p99_ms"] / peer["p99_ms"], 3) if peer["p99_ms"] else 0
    return {
        "server": name,
        "peer": PEER,
        "tokens_per_s_ratio": tokens,
        "p99_ratio": p99,
        "target_tokens_ratio": TARGET_HTTP_RATIO,
        "meets_tokens_target": tokens >= TARGET_HTTP_RATIO,
        "meets_p99_target": p99 <= 1.0,
    }


def in_process(args: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    if args.wait_quiet > 0:
        wait_quiet(args.wait_quiet)
    print(f"openssl speed rsa2048 ({args.openssl_seconds} s per operation)", flush=True)
    openssl = signing.openssl_rsa2048(args.openssl_seconds)
    if "error" in openssl:
        problems.append(f"openssl: {openssl['error']}")
    result: dict[str, Any] = {
        "signing": {
            "openssl": openssl,
            "python_cryptography": signing.python_rs256_sign_rate(float(args.openssl_seconds)),
        }
    }
    rate = openssl.get("sign_per_s")
    cores = os.cpu_count() or 1
    plans = [("in_process", True, 1)]
    if "nocache" in args.variants:  # the diagnostic variant, in-process too
        plans.append(("in_process_nocache", False, 1))
        if cores > 1:
            plans.append(("in_process_nocache_threads", False, cores))
    for key, cache, workers in plans:
        if args.wait_quiet > 0:
            wait_quiet(args.wait_quiet)
        print(f"in-process: {key} ({args.inprocess_seconds:g} s)", flush=True)
        one = signing.in_process_rate(args.inprocess_seconds, signature_cache=cache,
                                      workers=workers)  # fmt: skip
        one["ratio_to_openssl"] = round(one["tokens_per_s"] / rate, 3) if rate else None
        one["meets_target"] = (one["ratio_to_openssl"] or 0) >= 0.8
        if one["non_200"]:
            problems.append(f"{key}: {one['non_200']} answers were not 200")
        result[key] = one
    return result


def run(args: argparse.Namespace) -> int:
    node = shutil.which("node")
    if node is None:
        raise SetupError("node is not installed (oauth2-mock-server needs Node >= 20.19)")
    if not PEER_PACKAGE_JSON.exists():
        raise SetupError(f"{PEER} is not installed: run `bash bench/setup_peers.sh` first")
    version = json.loads(PEER_PACKAGE_JSON.read_text())["version"]
    if version != PEER_VERSION:
        raise SetupError(f"{PEER} {version} installed, expected {PEER_VERSION}: rerun setup")
    problems: list[str] = []
    warnings: list[str] = []
    busy_before = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else busy_cores(1.0)
    if busy_before > BUSY_CORES:
        warnings.append(f"the machine was busy before the run ({busy_before:.2f} cores in use)")
    with tempfile.TemporaryDirectory(prefix="m2m-bench-") as tmp:
        servers = build_servers(args, node, Path(tmp))
        runs, keepalive = measure(args, servers, problems, warnings)
    summaries = {s.name: summarise(runs[s.name]) for s in servers}
    result: dict[str, Any] = {
        "benchmark": "emulator_http",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "bench/emulator_http.py", *sys.argv[1:]]),
        "machine": describe_machine() | {"busy_cores_before": round(busy_before, 2)},
        "settings": {
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "keepalive_s": args.keepalive,
            "body": {**TOKEN_BODY, "client_secret": "<demo secret>"},
            "content_type": "application/json",
        },
        "servers": {
            s.name: {
                "version": s.version,
                "command": s.command if s.name != NOCACHE
                else "python -c NOCACHE_BOOTSTRAP " + shlex.join(s.argv[3:]),
                **s.notes,
                "runs": runs[s.name],
                "summary": summaries[s.name],
                "keepalive": keepalive[s.name],
            }
            for s in servers
        },
        "comparison": [compare(s.name, summaries) for s in servers if s.name != PEER],
        "keepalive_target_ms": TARGET_KEEPALIVE_P50_MS,
        **in_process(args, problems),
        "warnings": warnings,
        "problems": problems,
        "valid": not problems,
    }
    write_json(args.output, result)
    for comp in result["comparison"]:
        print(f"{comp['server']}: {comp['tokens_per_s_ratio']:.2f}x {PEER}'s tokens/s, "
              f"p99 {comp['p99_ratio']:.2f}x", flush=True)  # fmt: skip
    print(f"results written to {args.output}; `python bench/report.py` redraws the pages")
    return 0 if result["valid"] else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--rounds", type=int, default=2, help="wrk runs per server (default 2)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds per server (default 3)")
    p.add_argument("--keepalive", type=int, default=5,
                   help="seconds of the one-connection run per server (default 5)")  # fmt: skip
    p.add_argument("--variants", default="full,plain,fallback,nocache",
                   type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
                   help="emulator installs to compare: full, plain, fallback, nocache "
                   "(default all)")  # fmt: skip
    p.add_argument("--plain-venv", type=Path, default=Path(tempfile.gettempdir()) / "m2m-plain",
                   help="venv of the plain install (created on first use)")  # fmt: skip
    p.add_argument("--fallback-venv", type=Path,
                   default=Path(tempfile.gettempdir()) / "m2m-fallback",
                   help="venv of the plain install without httptools and uvloop")  # fmt: skip
    p.add_argument("--openssl-seconds", type=int, default=3, help="openssl speed -seconds")
    p.add_argument("--inprocess-seconds", type=float, default=5.0, help="in-process run, s")
    p.add_argument("--wait-quiet", type=float, default=60.0,
                   help="before each measurement, wait up to this many seconds for other "
                   f"processes to use <= {BUSY_CORES} cores (default 60; 0 = never wait)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results path")
    args = p.parse_args(argv)
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    for name in ("duration", "connections", "threads", "rounds", "keepalive"):
        if not 1 <= getattr(args, name) <= 600:
            p.error(f"--{name} must be from 1 to 600")
    if args.connections < args.threads:
        p.error("--connections must be >= --threads")
    if not 0 <= args.warmup <= 600 or not 0 <= args.wait_quiet <= 3600:
        p.error("keep 0 <= --warmup <= 600 and 0 <= --wait-quiet <= 3600")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except SetupError as exc:
        print(f"emulator_http: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emulator_http: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
