"""Soak: sustained token and API traffic against `m2m-contract serve`, its memory watched.

Run (from the repository root; wrk must be installed, `bash bench/setup_peers.sh` does it)::

    .venv/bin/python bench/soak.py                 # 60 s; writes bench/results/soak.json

What it does:

1. Starts ``m2m-contract serve --host 127.0.0.1 --port P --journal-size N`` as a subprocess
   (its own process group, through bench/common.py), waits for ``/healthz`` (bounded), and
   gets one access token for the built-in demo client.
2. Drives it with wrk and ``bench/soak.lua``, which mixes the two kinds of traffic a CI fleet
   sends: every ``--token-every``-th request is a JSON client_credentials POST (scope rotating
   over the demo client's scopes), the others are API GETs with the bearer token (rotating
   over /api/members, /api/appointments, /api/transactions). It counts answers by kind and
   status, and per wall-clock second.
3. Warms up (``--warmup`` s, enough to fill the journal ring), then runs wrk for
   ``--duration`` s while reading the server's VmRSS (/proc/PID/status) and CPU time every
   ``--sample-interval`` s.
4. Reads the journal over the admin API (``held`` of a one-exchange page) to confirm it
   holds exactly ``--journal-size`` exchanges, stops the server (SIGTERM, then SIGKILL),
   prints a summary and writes ``bench/results/soak.json``.

Targets (reported, not asserted): zero non-2xx answers and zero socket errors (no fault is
armed, every request is valid), and a flat RSS: growth over the measured run of at most
max(5 %, 4 MiB) of the RSS after warm-up. The machine's load average is recorded before
and after: the load generator and the server share its cores with anything else running.
Exit status 0 when the run is valid (no error, journal bounded), 1 otherwise, 2 when it
cannot run. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from common import (
    RESULTS_DIR,
    Server,
    SetupError,
    Wrk,
    describe_machine,
    find_wrk,
    free_port,
    proc_status_kib,
    run_wrk,
    write_json,
)

DEFAULT_OUTPUT = RESULTS_DIR / "soak.json"
FLAT_SHARE, FLAT_FLOOR_KIB = 0.05, 4096
LUA_SCRIPT = Path(__file__).resolve().parent / "soak.lua"  # which requests, how answers count
SETTINGS = ("duration", "warmup", "threads", "connections", "token_every", "journal_size",
            "sample_interval")  # fmt: skip


def start_server(journal_size: int, tmp: Path) -> Server:
    """`m2m-contract serve` of this venv on a free loopback port, answering /healthz."""
    exe = Path(sys.executable).with_name("m2m-contract")
    if not exe.exists():
        raise SetupError("m2m-contract is not installed; run: .venv/bin/pip install -e .")
    port = free_port(set())
    argv = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--journal-size", str(journal_size)]  # fmt: skip
    server = Server("m2m-contract", argv, port, tmp / "soak-server.log")
    server.start()
    server.wait_ready()
    return server


def get_token(server: Server) -> str:
    """An access token for the demo client, checked against the API."""
    with httpx.Client(base_url=server.base_url, timeout=5, trust_env=False) as http:
        answer = http.post(
            "/oauth/token",
            json={"client_id": "demo-client", "client_secret": "demo-secret",
                  "grant_type": "client_credentials"},
        )  # fmt: skip
        token: str = answer.json()["access_token"]
        check = http.get("/api/members", headers={"Authorization": f"Bearer {token}"})
    if check.status_code != 200:
        raise SetupError(f"the API refused the soak's token: {check.status_code}")
    return token


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarise(
    load: dict[str, Any],
    samples: list[dict[str, float]],
    idle_kib: int,
    warm_kib: int,
    end_kib: int,
    held: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    duration = load["duration_us"] / 1e6
    lat = load["latency_us"]
    errors = load["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    per_second = [v for _, v in sorted((int(k), v) for k, v in load["seconds"].items())][1:-1]
    rss = [int(s["rss_kib"]) for s in samples]
    drift = end_kib - warm_kib
    flat_limit = max(FLAT_SHARE * warm_kib, FLAT_FLOOR_KIB)
    return {
        "requests": load["requests"],
        "duration_s": round(duration, 3),
        "requests_per_s": round(load["requests"] / duration, 1),
        "token_answers": load["counts"]["token_ok"],
        "api_answers": load["counts"]["api_ok"],
        "tokens_per_s": round(load["counts"]["token_ok"] / duration, 1),
        "api_calls_per_s": round(load["counts"]["api_ok"] / duration, 1),
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "p99_9_ms": lat["p99_9"] / 1000,
        "max_ms": lat["max"] / 1000,
        "non_2xx": load["counts"]["other"],
        "statuses": load["statuses"],
        "socket_errors": socket_errors,
        "errors": errors,
        "per_second_min": min(per_second, default=0),
        "per_second_max": max(per_second, default=0),
        "per_second_median": statistics.median(per_second) if per_second else 0,
        "per_second": per_second,
        "rss_kib": {
            "idle_start": idle_kib,
            "after_warmup": warm_kib,
            "end": end_kib,
            "min": min(rss, default=0),
            "max": max(rss, default=0),
            "drift": drift,
            "drift_pct": round(100 * drift / warm_kib, 2),
        },
        "rss_samples": samples,
        "journal": {"size_setting": args.journal_size, "held_at_end": held},
        "targets": {
            "zero_errors": load["counts"]["other"] == 0 and socket_errors == 0,
            "rss_flat": drift <= flat_limit,
            "flat_limit_kib": int(flat_limit),
            "journal_bounded": held == args.journal_size,
        },
    }


def soak(args: argparse.Namespace) -> dict[str, Any]:
    wrk = find_wrk()
    load = Wrk(args.threads, args.connections, LUA_SCRIPT, prefix="SOAK_JSON ")
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    with tempfile.TemporaryDirectory(prefix="m2m-soak-") as tmp:
        server = start_server(args.journal_size, Path(tmp))
        try:
            assert server.proc is not None
            pid = server.proc.pid
            token = get_token(server)
            env = {"SOAK_TOKEN": token, "SOAK_TOKEN_EVERY": str(args.token_every)}
            idle_kib = proc_status_kib(pid, "VmRSS")
            print(f"soak: server {server.base_url} (pid {pid}), RSS idle {idle_kib} KiB; "
                  f"warm-up {args.warmup} s", flush=True)  # fmt: skip
            run_wrk(wrk, load, server, args.warmup, env=env)
            warm_kib = proc_status_kib(pid, "VmRSS")
            samples: list[dict[str, float]] = []
            cpu0 = cpu_seconds(pid)

            def tick(elapsed: float) -> None:
                samples.append({"t_s": round(elapsed, 2),
                                "rss_kib": proc_status_kib(pid, "VmRSS"),
                                "cpu_s": round(cpu_seconds(pid) - cpu0, 2)})  # fmt: skip

            print(f"soak: RSS after warm-up {warm_kib} KiB; measuring {args.duration} s",
                  flush=True)  # fmt: skip
            measured = run_wrk(wrk, load, server, args.duration, env=env, on_tick=tick,
                               tick_s=args.sample_interval)  # fmt: skip
            cpu = cpu_seconds(pid) - cpu0
            end_kib = proc_status_kib(pid, "VmRSS")
            with httpx.Client(base_url=server.base_url, timeout=60, trust_env=False) as http:
                held = int(http.get("/__admin/journal", params={"limit": 1}).json()["held"])
        finally:
            server.stop()
    result = summarise(measured, samples, idle_kib, warm_kib, end_kib, held, args)
    result["server_cpu_s"] = round(cpu, 2)
    result["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    return {
        "benchmark": "soak",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python bench/soak.py " + " ".join(sys.argv[1:]),
        "machine": describe_machine(),
        "settings": {
            k: getattr(args, k)
            for k in SETTINGS
        },
        "server_command": server.command,
        "wrk_command": measured["wrk_command"],
        "results": result,
        "valid": result["targets"]["zero_errors"] and result["targets"]["journal_bounded"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="measured seconds (60)")
    parser.add_argument("--warmup", type=int, default=10, help="seconds before measuring (10)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--token-every",
        type=int,
        default=5,
        help="every N-th request is a token request, the rest API calls (5)",
    )
    parser.add_argument("--journal-size", type=int, default=10_000)
    parser.add_argument("--sample-interval", type=float, default=1.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        report = soak(args)
    except SetupError as exc:
        print(f"soak: cannot run: {exc}", file=sys.stderr)
        return 2
    write_json(args.output, report)
    r = report["results"]
    print(
        f"soak: {r['requests']} requests in {r['duration_s']} s = {r['requests_per_s']}/s "
        f"({r['tokens_per_s']} tokens/s, {r['api_calls_per_s']} API calls/s); "
        f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms; non-2xx {r['non_2xx']}, "
        f"socket errors {r['socket_errors']}"
    )
    rss = r["rss_kib"]
    print(
        f"soak: RSS idle {rss['idle_start']} KiB, after warm-up {rss['after_warmup']} KiB, "
        f"end {rss['end']} KiB (drift {rss['drift']} KiB, {rss['drift_pct']} %); journal "
        f"holds {r['journal']['held_at_end']} of {r['journal']['size_setting']}"
    )
    print(f"soak: wrote {args.output}")
    return 0 if report["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
