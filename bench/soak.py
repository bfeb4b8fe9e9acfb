"""Soak: sustained token and API traffic against `m2m-contract serve`, its memory watched.

Run (from the repository root; wrk must be installed, `bash bench/setup_peers.sh` does it)::

    .venv/bin/python bench/soak.py                 # 60 s; writes bench/results/soak.json

What it does:

1. Starts ``m2m-contract serve --host 127.0.0.1 --port 0 --journal-size N`` as a subprocess
   (its own process group), reads the URL it announces, waits for ``/healthz`` (bounded), and
   gets one access token for the built-in demo client.
2. Drives it with wrk and ``bench/soak.lua``, which mixes the two kinds of traffic a CI fleet
   sends: every ``--token-every``-th request is a JSON client_credentials POST (scope rotating
   over the demo client's scopes), the others are API GETs with the bearer token (rotating
   over /api/members, /api/appointments, /api/transactions). It counts answers by kind and
   status, and per wall-clock second.
3. Warms up (``--warmup`` s, enough to fill the journal ring), then runs wrk for
   ``--duration`` s while reading the server's VmRSS (/proc/PID/status) and CPU time every
   ``--sample-interval`` s.
4. Reads the journal over the admin API to confirm it holds exactly ``--journal-size``
   exchanges, stops the server (SIGTERM, then SIGKILL), prints a summary and writes
   ``bench/results/soak.json``.

Targets (reported, not asserted): zero non-2xx answers and zero socket errors (no fault is
armed, every request is valid), and a flat RSS: growth over the measured run of at most
max(5 %, 4 MiB) of the RSS after warm-up. The machine's load average is recorded before
and after: the load generator and the server share its cores with anything else running.
Exit status 0 when the run is valid (no error, journal bounded), 1 otherwise, 2 when it
cannot run. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "soak.json"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
FLAT_SHARE, FLAT_FLOOR_KIB = 0.05, 4096
LUA_SCRIPT = BENCH_DIR / "soak.lua"  # the traffic: which requests, how answers are counted


class SetupError(Exception):
    """The soak cannot run here."""


def status_field(pid: int, name: str) -> int:
    """A kB field of /proc/PID/status, e.g. VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise SetupError(f"no {name} in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(journal_size: int) -> tuple[subprocess.Popen[str], str, list[str]]:
    script = Path(sys.executable).with_name("m2m-contract")
    exe = str(script) if script.exists() else shutil.which("m2m-contract")
    if not exe:
        raise SetupError("m2m-contract is not installed; run: .venv/bin/pip install -e .")
    argv = [exe, "serve", "--host", "127.0.0.1", "--port", "0", "--journal-size", str(journal_size)]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stdout = proc.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(READY_TIMEOUT_S)
    match = re.search(r"http://127\.0\.0\.1:\d+", lines[0] if lines else "")
    if not match:
        stop_server(proc)
        raise SetupError(f"the server did not announce its URL: {lines!r}")
    # Keep draining its output so a chatty server can never block on a full pipe.
    threading.Thread(target=stdout.read, daemon=True).start()
    return proc, match.group(0), argv


def stop_server(proc: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)


def wait_ready(url: str, proc: subprocess.Popen[str]) -> str:
    """Wait for /healthz, then return an access token for the demo client."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(base_url=url, timeout=5) as http:
        while True:
            if proc.poll() is not None:
                raise SetupError(f"the server exited with status {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get("/healthz").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SetupError("the server did not answer /healthz in time")
            time.sleep(0.1)
        answer = http.post(
            "/oauth/token",
            json={
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "grant_type": "client_credentials",
            },
        )
        token: str = answer.json()["access_token"]
        check = http.get("/api/members", headers={"Authorization": f"Bearer {token}"})
        if check.status_code != 200:
            raise SetupError(f"the API refused the soak's token: {check.status_code}")
        return token


def run_wrk(
    args: argparse.Namespace, url: str, script: Path, token: str, seconds: int, on_tick: Any = None
) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    argv = [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    env = {**os.environ, "SOAK_TOKEN": token, "SOAK_TOKEN_EVERY": str(args.token_every)}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    started, limit = time.monotonic(), seconds + 60
    while proc.poll() is None:
        if time.monotonic() - started > limit:
            proc.kill()
            raise SetupError("wrk did not finish in time")
        if on_tick is not None:
            on_tick(time.monotonic() - started)
        time.sleep(args.sample_interval if on_tick is not None else 0.2)
    output = proc.stdout.read() if proc.stdout else ""
    line = next((x for x in output.splitlines() if x.startswith("SOAK_JSON ")), None)
    if line is None:
        raise SetupError(f"wrk printed no result:\n{output[-2000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("SOAK_JSON "))
    result["wrk_command"] = " ".join(argv)
    return result


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "mem_total_kib": status_like("/proc/meminfo", "MemTotal"),
        "python": platform.python_version(),
        "wrk": wrk_version.split(" Copyright")[0].strip(),
        "uvicorn": importlib.metadata.version("uvicorn"),
        "m2m-contract": importlib.metadata.version("m2m-contract"),
    }


def status_like(path: str, name: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


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
    if shutil.which("wrk") is None:
        raise SetupError("wrk is not installed; run: bash bench/setup_peers.sh")
    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    proc, url, argv = start_server(args.journal_size)
    script = LUA_SCRIPT
    try:
        token = wait_ready(url, proc)
        idle_kib = status_field(proc.pid, "VmRSS")
        print(
            f"soak: server {url} (pid {proc.pid}), RSS idle {idle_kib} KiB; "
            f"warm-up {args.warmup} s",
            flush=True,
        )
        run_wrk(args, url, script, token, args.warmup)
        warm_kib = status_field(proc.pid, "VmRSS")
        samples: list[dict[str, float]] = []
        cpu0 = cpu_seconds(proc.pid)

        def tick(elapsed: float) -> None:
            samples.append(
                {
                    "t_s": round(elapsed, 2),
                    "rss_kib": status_field(proc.pid, "VmRSS"),
                    "cpu_s": round(cpu_seconds(proc.pid) - cpu0, 2),
                }
            )

        print(f"soak: RSS after warm-up {warm_kib} KiB; measuring {args.duration} s", flush=True)
        load = run_wrk(args, url, script, token, args.duration, on_tick=tick)
        cpu = cpu_seconds(proc.pid) - cpu0
        end_kib = status_field(proc.pid, "VmRSS")
        with httpx.Client(base_url=url, timeout=60) as http:
            held = len(http.get("/__admin/journal").json()["exchanges"])
    finally:
        stop_server(proc)
    result = summarise(load, samples, idle_kib, warm_kib, end_kib, held, args)
    result["server_cpu_s"] = round(cpu, 2)
    result["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    return {
        "benchmark": "soak",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python bench/soak.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "settings": {
            k: getattr(args, k)
            for k in (
                "duration",
                "warmup",
                "threads",
                "connections",
                "token_every",
                "journal_size",
                "sample_interval",
            )
        },
        "server_command": " ".join(argv),
        "wrk_command": load["wrk_command"],
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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
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
