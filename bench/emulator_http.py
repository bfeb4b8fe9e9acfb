"""Token throughput of the m2m-contract emulator next to oauth2-mock-server, in one run.

Run (from the repository root)::

    bash bench/setup_peers.sh && .venv/bin/python bench/emulator_http.py

What it does:

1. Starts both servers as subprocesses on free loopback ports:
   ``m2m-contract serve --host 127.0.0.1 --port P`` (token path ``/oauth/token``) and
   oauth2-mock-server 8.2.3 on Node (``bench/peers/oauth2_mock_server.mjs``, token path
   ``/token``). Waits for each to answer (bounded), and checks that the benchmark body gets a
   200 with an RS256-signed JWT from both.
2. Warms both up with wrk, then runs wrk on them alternately (``--rounds`` rounds, the order
   swapped every round) with the same settings (``-t2 -c32 -d10s --latency`` by default) and the
   same Lua script (``bench/token_load.lua``: a JSON client_credentials POST). A run with a
   non-2xx answer or a socket error makes the benchmark invalid (exit status 1).
3. Measures the machine's RS256 signing limit on one core (``openssl speed rsa2048``) and the
   emulator's in-process rate through its httpx transport (no sockets, one thread).
4. Prints a Markdown summary and writes ``bench/results/emulator_http.json``.

By default it also runs a diagnostic variant, "m2m-contract (no sig. cache)": the same
``serve`` command with the emulator's signature cache sized 0, over HTTP and in-process, so
that every token is signed afresh as oauth2-mock-server does (see NOCACHE_BOOTSTRAP).
Runs that other processes disturbed (more than BUSY_CORES of CPU) are reported; with
``--wait-quiet`` it first waits, bounded, for the machine to be quiet.

Targets (reported, never asserted): over HTTP, >= 1.5x oauth2-mock-server's tokens/s with a
p99 no worse; in-process, >= 0.8x the openssl RS256 sign rate.

Only loopback addresses are used; every wait and loop is bounded; the servers are always
stopped (their process groups get SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
LUA_SCRIPT = BENCH_DIR / "token_load.lua"
PEER_SCRIPT = BENCH_DIR / "peers" / "oauth2_mock_server.mjs"
PEER_PACKAGE_JSON = BENCH_DIR / ".peers" / "node_modules" / "oauth2-mock-server" / "package.json"
DEFAULT_OUTPUT = BENCH_DIR / "results" / "emulator_http.json"

LOOPBACK = "127.0.0.1"
EMULATOR = "m2m-contract"
EMULATOR_NOCACHE = "m2m-contract (no sig. cache)"
PEER = "oauth2-mock-server"
PEER_VERSION = "8.2.3"
TOKEN_BODY: dict[str, str] = {
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "grant_type": "client_credentials",
    "scope": "read:members",
}
INPROC_BASE_URL = "https://loyaltyone-sandbox-pin.auth0.com"

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
from m2m_contract.cli import main
sys.exit(main(sys.argv[1:]))
"""

TARGET_HTTP_RATIO = 1.5
TARGET_INPROC_RATIO = 0.8

# Other processes busier than this (in cores) mark a run, or the machine before it, as disturbed.
BUSY_CORES = 0.2
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
WRK_EXTRA_TIMEOUT_S = 60.0
INPROC_MAX_REQUESTS = 1_000_000
WRK_JSON_PREFIX = "WRK_JSON "
NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
URL_RE = re.compile(r"https?://127\.0\.0\.1:(\d+)")


class SetupError(Exception):
    """The benchmark cannot run here (missing tool, server that does not start, ...)."""


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


@dataclass
class Server:
    """One server under test, started as a subprocess in its own process group."""

    name: str
    version: str
    argv: list[str]
    port: int
    token_path: str
    ready_path: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    announced_url: str | None = None
    token_sample: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_path

    def start(self, env: dict[str, str]) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_DIR,
                env=env,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, client: httpx.Client, timeout_s: float) -> None:
        """Wait (bounded) until the ready path answers 200, then check one token request."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        ready = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(
                    f"{self.name} exited with status {self.proc.returncode} before it was "
                    f"ready; command: {shlex.join(self.argv)}\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(self.base_url + self.ready_path, timeout=2.0).status_code == 200:
                    ready = True
                    break
            time.sleep(0.1)
        if not ready:
            raise SetupError(
                f"{self.name} did not answer {self.ready_path} within {timeout_s:.0f} s; "
                f"command: {shlex.join(self.argv)}\n{self.log_tail()}"
            )
        match = URL_RE.search(self.log_tail(200))
        if match:
            self.announced_url = match.group(0)
            if int(match.group(1)) != self.port:
                raise SetupError(
                    f"{self.name} announced {self.announced_url}, expected port {self.port}"
                )
        self.token_sample = check_token(client, self.name, self.token_url)

    def cpu_seconds(self) -> float:
        """User + system CPU time of every live process in the server's process group."""
        if self.proc is None:
            return 0.0
        return process_group_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
                break
            except subprocess.TimeoutExpired:
                continue
        # Anything left in the group (e.g. worker processes) gets the same treatment.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent in processes (or stolen) since boot, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0.0
    # user nice system idle iowait irq softirq steal: count process time and steal (another
    # guest on the host); interrupts are left out, loopback traffic of the benchmark lands there.
    t = [int(v) for v in fields[:8]]
    return (t[0] + t[1] + t[2] + t[7]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_group_cpu_seconds(pgid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        # fields[0] is the state (field 3 of proc(5)): pgrp is field 5, utime 14, stime 15.
        if len(fields) > 12 and int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def free_port(taken: set[int]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise SetupError("could not find a free loopback port")


def b64url_json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def check_token(client: httpx.Client, name: str, url: str) -> dict[str, Any]:
    """POST the benchmark body once; it must get a 200 with a signed JWT. Returns its shape."""
    response = client.post(url, json=TOKEN_BODY, timeout=10.0)
    if response.status_code != 200:
        raise SetupError(
            f"{name}: POST {url} answered {response.status_code}: {response.text[:300]}"
        )
    body = response.json()
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or token.count(".") != 2:
        raise SetupError(f"{name}: POST {url} gave no JWT access_token: {response.text[:300]}")
    header_seg, payload_seg, _ = token.split(".")
    header = b64url_json(header_seg)
    payload = b64url_json(payload_seg)
    return {
        "status": response.status_code,
        "alg": header.get("alg"),
        "token_type": body.get("token_type"),
        "claims": sorted(payload) if isinstance(payload, dict) else [],
        "token_chars": len(token),
        "response_bytes": len(response.content),
    }


def emulator_argv(port: int, override: str | None) -> list[str]:
    if override:
        return [part.replace("{port}", str(port)) for part in shlex.split(override)]
    script = Path(sys.executable).parent / "m2m-contract"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "m2m_contract"]
    return [*base, *serve_args(port)]


def serve_args(port: int) -> list[str]:
    return ["serve", "--host", LOOPBACK, "--port", str(port)]


def emulator_version() -> str:
    try:
        return importlib.metadata.version("m2m-contract")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# --------------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkSettings:
    threads: int
    connections: int
    duration_s: int

    def argv(self, wrk: str, duration_s: int, url: str, path: str) -> list[str]:
        return [
            wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{duration_s}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            path,
        ]


def run_wrk(wrk: str, settings: WrkSettings, server: Server, duration_s: int) -> dict[str, Any]:
    argv = settings.argv(wrk, duration_s, server.base_url, server.token_path)
    cpu_before = server.cpu_seconds()
    busy_before = machine_busy_seconds()
    children_before = children_cpu_seconds()
    completed = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=duration_s + WRK_EXTRA_TIMEOUT_S,
        check=False,
    )
    cpu_used = server.cpu_seconds() - cpu_before
    wrk_cpu = children_cpu_seconds() - children_before
    busy = machine_busy_seconds() - busy_before
    if completed.returncode != 0:
        raise SetupError(
            f"wrk failed against {server.name} (status {completed.returncode}): "
            f"{shlex.join(argv)}\n{completed.stdout}\n{completed.stderr}"
        )
    data: dict[str, Any] | None = None
    for line in completed.stdout.splitlines():
        if line.startswith(WRK_JSON_PREFIX):
            data = json.loads(line[len(WRK_JSON_PREFIX) :])
    if data is None:
        raise SetupError(f"wrk printed no {WRK_JSON_PREFIX!r} line:\n{completed.stdout}")
    match = NON_2XX_RE.search(completed.stdout)
    non_2xx = int(match.group(1)) if match else 0
    errors: dict[str, int] = data["errors"]
    latency: dict[str, float] = data["latency_us"]
    duration = data["duration_us"] / 1e6
    requests = int(data["requests"])
    return {
        "server": server.name,
        "requests": requests,
        "duration_s": round(duration, 3),
        "tokens_per_s": round(requests / duration, 1) if duration > 0 else 0.0,
        "p50_ms": latency["p50"] / 1000,
        "p90_ms": latency["p90"] / 1000,
        "p99_ms": latency["p99"] / 1000,
        "p99_9_ms": latency["p99_9"] / 1000,
        "max_ms": latency["max"] / 1000,
        "mean_ms": round(latency["mean"] / 1000, 3),
        "non_2xx": max(non_2xx, errors["status"]),
        "socket_errors": {k: v for k, v in errors.items() if k != "status"},
        "server_cpu_s": round(cpu_used, 2),
        "server_cpu_us_per_token": round(cpu_used / requests * 1e6, 1) if requests else None,
        "wrk_cpu_s": round(wrk_cpu, 2),
        # CPU used by everything else on the machine during the run, in cores.
        "other_cores": round(max(0.0, busy - cpu_used - wrk_cpu) / duration, 2)
        if duration > 0
        else None,
        "wrk_command": shlex.join(argv),
    }


def run_is_clean(run: dict[str, Any]) -> bool:
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


# --------------------------------------------------------------------------------------------
# Signing limit and in-process rate
# --------------------------------------------------------------------------------------------


def openssl_rsa2048(seconds: int) -> dict[str, Any]:
    openssl = shutil.which("openssl")
    if openssl is None:
        return {"error": "openssl not found"}
    argv = [openssl, "speed", "-seconds", str(seconds), "rsa2048"]
    completed = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=seconds * 8 + 60,
        check=False,
    )
    header: list[str] | None = None
    values: list[str] | None = None
    for line in completed.stdout.splitlines():
        parts = line.split()
        if "sign/s" in parts:
            header = parts
        elif len(parts) > 3 and parts[0] == "rsa" and parts[1] == "2048" and parts[2] == "bits":
            values = parts[3:]
    if completed.returncode != 0 or header is None or values is None:
        return {"error": f"could not parse `{shlex.join(argv)}`: {completed.stdout[-500:]}"}
    table = dict(zip(header, values, strict=False))
    version = subprocess.run(
        [openssl, "version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return {
        "command": shlex.join(argv),
        "version": version,
        "sign_per_s": float(table["sign/s"]),
        "verify_per_s": float(table["verify/s"]),
    }


def python_rs256_sign_rate(seconds: float) -> dict[str, Any]:
    """RS256 signatures/s through `cryptography` (what the emulator signs with), one core."""
    from cryptography.hazmat.backends.openssl import backend
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"x" * 400
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while count < INPROC_MAX_REQUESTS and time.perf_counter() < deadline:
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    elapsed = time.perf_counter() - start
    return {
        "sign_per_s": round(count / elapsed, 1),
        "cryptography": importlib.metadata.version("cryptography"),
        "openssl": backend.openssl_version_text(),
    }


def in_process_rate(
    seconds: float, *, signature_cache: bool = True, workers: int = 1
) -> dict[str, Any]:
    """Tokens/s of the emulator through its httpx transport: no sockets, `workers` threads.

    With `signature_cache=False` the emulator gets a fresh key set whose signature cache is
    sized 0 for the duration, so that every token is signed afresh. Several workers share one
    emulator (each with its own httpx client), as the threads of a test suite would.
    """
    import threading

    from m2m_contract.emulator import Emulator, EmulatorTransport, KeySet, _keys

    saved: int | None = getattr(_keys.KeySet, "_CACHE_SIZE", None)
    uncached = not signature_cache and saved is not None
    if uncached:
        _keys.KeySet._CACHE_SIZE = 0
    counts = [0] * workers
    failures = [0] * workers
    try:
        emulator = Emulator(keys=KeySet.generate()) if uncached else Emulator()
        transport = EmulatorTransport(emulator)
        with httpx.Client(transport=transport, base_url=INPROC_BASE_URL) as client:
            sample = client.post("/oauth/token", json=TOKEN_BODY)
            if sample.status_code != 200:
                raise SetupError(
                    f"in-process POST /oauth/token answered {sample.status_code}: "
                    f"{sample.text[:300]}"
                )
            for _ in range(50):  # warm-up
                client.post("/oauth/token", json=TOKEN_BODY)
        start = time.perf_counter()
        deadline = start + seconds

        def work(index: int) -> None:
            with httpx.Client(transport=transport, base_url=INPROC_BASE_URL) as own:
                while counts[index] < INPROC_MAX_REQUESTS and time.perf_counter() < deadline:
                    if own.post("/oauth/token", json=TOKEN_BODY).status_code != 200:
                        failures[index] += 1
                    counts[index] += 1

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 30)
        elapsed = time.perf_counter() - start
    finally:
        if saved is not None:
            _keys.KeySet._CACHE_SIZE = saved
    count = sum(counts)
    return {
        "requests": count,
        "duration_s": round(elapsed, 3),
        "tokens_per_s": round(count / elapsed, 1),
        "non_200": sum(failures),
        "signature_cache": not uncached,
        "workers": workers,
        "base_url": INPROC_BASE_URL,
    }


# --------------------------------------------------------------------------------------------
# Machine and report
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def tool_version(argv: list[str]) -> str:
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL
        )
    except OSError:
        return "unknown"
    out = (completed.stdout or completed.stderr).strip().splitlines()
    return out[0] if out else "unknown"


def machine_info(wrk: str, node: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": tool_version([node, "--version"]),
        "wrk": tool_version([wrk, "--version"]).split(" Copyright")[0],
        "httpx": importlib.metadata.version("httpx"),
        "uvicorn": _dist_version("uvicorn"),
    }


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def _met(flag: bool) -> str:
    return "met" if flag else "NOT met"


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    m = result["machine"]
    names = list(result["servers"])
    lines = [
        f"## Token endpoint over loopback HTTP: {EMULATOR} vs {PEER} {PEER_VERSION}",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}; {m['wrk']}; node {m['node']}; "
        f"python {m['python']}.",
        f"Load: `wrk -t{s['threads']} -c{s['connections']} -d{s['duration_s']}s --latency`, "
        f"JSON client_credentials POST, {s['rounds']} rounds each, alternating.",
        "",
        "| server | round | tokens/s | p50 ms | p99 ms | p99.9 ms | non-2xx "
        "| server CPU µs/token | other cores |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        for i, run in enumerate(result["servers"][name]["runs"], 1):
            lines.append(
                f"| {name} | {i} | {run['tokens_per_s']:,.0f} | {run['p50_ms']:.2f} | "
                f"{run['p99_ms']:.2f} | {run['p99_9_ms']:.2f} | {run['non_2xx']} | "
                f"{run['server_cpu_us_per_token']} | {run['other_cores']} |"
            )
    for name in names:
        summ = result["servers"][name]["summary"]
        lines.append(
            f"| **{name}** | all | **{summ['tokens_per_s']:,.0f}** | {summ['p50_ms']:.2f} | "
            f"{summ['p99_ms']:.2f} (worst) | | {summ['non_2xx']} | "
            f"{summ['server_cpu_us_per_token']} | |"
        )
    lines.append("")
    for comp in result["comparison"]:
        lines += [
            f"- tokens/s {comp['server']} / {PEER}: **{comp['tokens_per_s_ratio']}x** "
            f"(target >= {TARGET_HTTP_RATIO}x: {_met(comp['meets_tokens_target'])}); "
            f"p99 ratio **{comp['p99_ratio']}x** (target <= 1.0x: "
            f"{_met(comp['meets_p99_target'])})"
        ]
    sig = result["signing"]
    if "sign_per_s" in sig.get("openssl", {}):
        lines.append(
            f"- RS256 signing limit, one core: `openssl speed rsa2048` "
            f"{sig['openssl']['sign_per_s']:,.0f} sign/s; python `cryptography` "
            f"{sig.get('python_cryptography', {}).get('sign_per_s', 'n/a')} sign/s"
        )
    for key, label in (
        ("in_process", "as shipped"),
        ("in_process_nocache", "no sig. cache"),
        ("in_process_nocache_threads", "no sig. cache, one thread per core"),
    ):
        inproc = result.get(key)
        if not inproc:
            continue
        if "tokens_per_s" in inproc:
            lines.append(
                f"- in-process ({EMULATOR} httpx transport, {label}): "
                f"**{inproc['tokens_per_s']:,.0f} tokens/s** = **{inproc['ratio_to_openssl']}x** "
                f"openssl sign/s (target >= {TARGET_INPROC_RATIO}x: "
                f"{_met(inproc['meets_target'])})"
            )
        elif "error" in inproc:
            lines.append(f"- in-process ({label}): {inproc['error']}")
    if result["problems"]:
        lines += ["", "Problems:", *(f"- {p}" for p in result["problems"])]
    return "\n".join(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--rounds", type=int, default=2, help="wrk runs per server (default 2)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds per server (default 3)")
    p.add_argument(
        "--openssl-seconds", type=int, default=3, help="openssl speed -seconds (default 3)"
    )
    p.add_argument(
        "--inprocess-seconds", type=float, default=5.0, help="in-process run (default 5 s)"
    )
    p.add_argument(
        "--no-nocache",
        dest="nocache",
        action="store_false",
        help="skip the diagnostic runs of the emulator with its signature cache sized 0",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        help="before each measurement, wait up to this many seconds for other processes to "
        f"use <= {BUSY_CORES} cores (default 60; 0 = never wait)",
    )
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results path")
    p.add_argument(
        "--emulator-cmd",
        default=None,
        help="development override for the emulator command; '{port}' is replaced "
        "(default: <venv>/bin/m2m-contract serve --host 127.0.0.1 --port PORT); "
        "disables the no-cache variant",
    )
    args = p.parse_args(argv)
    for name in ("duration", "connections", "threads", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if args.connections < args.threads:
        p.error("--connections must be >= --threads")
    if not 0 <= args.warmup <= 600 or args.duration > 600 or args.rounds > 20:
        p.error("keep --warmup <= 600, --duration <= 600 and --rounds <= 20")
    if not 0 <= args.wait_quiet <= 3600:
        p.error("keep 0 <= --wait-quiet <= 3600")
    if not 0 < args.inprocess_seconds <= 600 or not 1 <= args.openssl_seconds <= 60:
        p.error("keep 0 < --inprocess-seconds <= 600 and 1 <= --openssl-seconds <= 60")
    return args


def find_tools() -> tuple[str, str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SetupError(
            "wrk (the load generator) is not installed: run `bash bench/setup_peers.sh` "
            "(it installs wrk with apt-get) or `apt-get install wrk`"
        )
    node = shutil.which("node") or ("/usr/bin/node" if Path("/usr/bin/node").exists() else None)
    if node is None:
        raise SetupError("node is not installed (oauth2-mock-server needs Node >= 20.19)")
    if not PEER_PACKAGE_JSON.exists():
        raise SetupError(
            f"{PEER} is not installed in bench/.peers: run `bash bench/setup_peers.sh` first"
        )
    version = json.loads(PEER_PACKAGE_JSON.read_text())["version"]
    if version != PEER_VERSION:
        raise SetupError(f"{PEER} {version} installed, expected {PEER_VERSION}: rerun setup")
    return wrk, node


def build_servers(args: argparse.Namespace, node: str, tmp: Path) -> list[Server]:
    ports: set[int] = set()
    emu_port = free_port(ports)
    peer_port = free_port(ports)
    servers = [
        Server(
            name=EMULATOR,
            version=emulator_version(),
            argv=emulator_argv(emu_port, args.emulator_cmd),
            port=emu_port,
            token_path="/oauth/token",
            ready_path="/healthz",
            log_path=tmp / "emulator.log",
        ),
        Server(
            name=PEER,
            version=PEER_VERSION,
            argv=[node, str(PEER_SCRIPT), str(peer_port)],
            port=peer_port,
            token_path="/token",
            ready_path="/.well-known/openid-configuration",
            log_path=tmp / "peer.log",
        ),
    ]
    if args.nocache and not args.emulator_cmd:
        port = free_port(ports)
        servers.append(
            Server(
                name=EMULATOR_NOCACHE,
                version=emulator_version(),
                argv=[
                    sys.executable,
                    "-c",
                    NOCACHE_BOOTSTRAP,
                    *serve_args(port),
                ],
                port=port,
                token_path="/oauth/token",
                ready_path="/healthz",
                log_path=tmp / "emulator-nocache.log",
            )
        )
    return servers


def http_rounds(
    args: argparse.Namespace,
    wrk: str,
    servers: list[Server],
    problems: list[str],
    warnings: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Start the servers, warm them up, run wrk on them in turn; always stop them."""
    settings = WrkSettings(args.threads, args.connections, args.duration)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    try:
        with httpx.Client(trust_env=False) as client:
            for server in servers:
                print(f"starting {server.name}: {server.argv[0]} ...", flush=True)
                server.start(env)
            for server in servers:
                server.wait_ready(client, READY_TIMEOUT_S)
                print(
                    f"  {server.name} ready at {server.token_url} "
                    f"(token: {server.token_sample['alg']}, "
                    f"{server.token_sample['token_chars']} chars)",
                    flush=True,
                )
        if args.warmup > 0:
            for server in servers:
                print(f"warm-up {server.name} ({args.warmup} s)", flush=True)
                run_wrk(wrk, settings, server, args.warmup)
        for rnd in range(args.rounds):
            order = servers if rnd % 2 == 0 else list(reversed(servers))
            for server in order:
                if args.wait_quiet > 0:
                    wait_quiet(args.wait_quiet)
                one = run_wrk(wrk, settings, server, args.duration)
                runs[server.name].append(one)
                print(
                    f"round {rnd + 1}/{args.rounds} {server.name}: "
                    f"{one['tokens_per_s']:,.0f} tokens/s, p50 {one['p50_ms']:.2f} ms, "
                    f"p99 {one['p99_ms']:.2f} ms, non-2xx {one['non_2xx']}",
                    flush=True,
                )
                if not run_is_clean(one):
                    problems.append(
                        f"{server.name} round {rnd + 1}: {one['non_2xx']} non-2xx, "
                        f"socket errors {one['socket_errors']}"
                    )
                if (one["other_cores"] or 0) > BUSY_CORES:
                    warnings.append(
                        f"{server.name} round {rnd + 1} was disturbed: other processes used "
                        f"{one['other_cores']} cores during it"
                    )
    finally:
        for server in servers:
            server.stop()
    return runs


def measure_in_process(
    seconds: float,
    openssl_rate: float | None,
    problems: list[str],
    *,
    signature_cache: bool,
    workers: int = 1,
) -> dict[str, Any]:
    label = "as shipped" if signature_cache else "no signature cache"
    label += f", {workers} threads" if workers > 1 else ""
    print(f"in-process emulator, {label} ({seconds:g} s)", flush=True)
    try:
        inproc = in_process_rate(seconds, signature_cache=signature_cache, workers=workers)
    except (ImportError, SetupError, httpx.HTTPError) as exc:
        problems.append(f"in-process ({label}): {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    inproc["ratio_to_openssl"] = ratio(inproc["tokens_per_s"], openssl_rate)
    inproc["target_ratio"] = TARGET_INPROC_RATIO
    inproc["meets_target"] = (inproc["ratio_to_openssl"] or 0) >= TARGET_INPROC_RATIO
    if inproc["non_200"]:
        problems.append(f"in-process ({label}): {inproc['non_200']} answers were not 200")
    return inproc


def compare(name: str, summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ours, peer = summaries[name], summaries[PEER]
    tokens_ratio = ratio(ours["tokens_per_s"], peer["tokens_per_s"])
    p99_ratio = ratio(ours["p99_ms"], peer["p99_ms"])
    return {
        "server": name,
        "peer": PEER,
        "tokens_per_s_ratio": tokens_ratio,
        "p99_ratio": p99_ratio,
        "target_tokens_ratio": TARGET_HTTP_RATIO,
        "meets_tokens_target": (tokens_ratio or 0) >= TARGET_HTTP_RATIO,
        "meets_p99_target": p99_ratio is not None and p99_ratio <= 1.0,
    }


def busy_cores(seconds: float) -> float:
    """How many cores other processes keep busy now (sampled over `seconds`)."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - before) / seconds


def wait_quiet(limit_s: float) -> float:
    """Wait, at most `limit_s`, until other processes use <= BUSY_CORES; return the last load."""
    deadline = time.monotonic() + limit_s
    load = busy_cores(1.0)
    announced = False
    while load > BUSY_CORES and time.monotonic() < deadline:
        if not announced:
            print(f"  waiting (<= {limit_s:g} s) for other processes to quiet down", flush=True)
            announced = True
        load = busy_cores(2.0)
    return load


def run(args: argparse.Namespace) -> int:
    wrk, node = find_tools()
    http_problems: list[str] = []
    other_problems: list[str] = []
    busy_before = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else busy_cores(1.0)
    if busy_before > BUSY_CORES:
        other_problems.append(
            f"the machine was busy before the run ({busy_before:.2f} cores in use by other "
            "processes): they compete for the cores, so the figures may be disturbed"
        )
        print(f"warning: {other_problems[-1]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="m2m-bench-") as tmp:
        servers = build_servers(args, node, Path(tmp))
        runs = http_rounds(args, wrk, servers, http_problems, other_problems)

    if args.wait_quiet > 0:
        wait_quiet(args.wait_quiet)
    print(f"openssl speed rsa2048 ({args.openssl_seconds} s per operation)", flush=True)
    signing: dict[str, Any] = {"openssl": openssl_rsa2048(args.openssl_seconds)}
    signing["python_cryptography"] = python_rs256_sign_rate(float(args.openssl_seconds))
    openssl_rate: float | None = signing["openssl"].get("sign_per_s")
    if openssl_rate is None:
        other_problems.append(f"openssl: {signing['openssl'].get('error')}")
    if args.wait_quiet > 0:
        wait_quiet(args.wait_quiet)
    inproc = measure_in_process(
        args.inprocess_seconds, openssl_rate, other_problems, signature_cache=True
    )
    inproc_nocache = (
        measure_in_process(
            args.inprocess_seconds, openssl_rate, other_problems, signature_cache=False
        )
        if args.nocache
        else None
    )
    cores = os.cpu_count() or 1
    inproc_nocache_threads = (
        measure_in_process(
            args.inprocess_seconds,
            openssl_rate,
            other_problems,
            signature_cache=False,
            workers=cores,
        )
        if args.nocache and cores > 1
        else None
    )

    summaries = {s.name: summarise(runs[s.name]) for s in servers}
    result: dict[str, Any] = {
        "benchmark": "emulator_http",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(wrk, node) | {"busy_cores_before": round(busy_before, 2)},
        "settings": {
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "body": {**TOKEN_BODY, "client_secret": "<demo secret>"},
            "content_type": "application/json",
        },
        "servers": {
            s.name: {
                "version": s.version,
                "command": shlex.join(s.argv)
                if s.name != EMULATOR_NOCACHE
                else ("python -c NOCACHE_BOOTSTRAP " + shlex.join(s.argv[3:])),
                "token_url": s.token_url,
                "announced_url": s.announced_url,
                "token_sample": s.token_sample,
                "runs": runs[s.name],
                "summary": summaries[s.name],
            }
            for s in servers
        },
        "comparison": [compare(s.name, summaries) for s in servers if s.name != PEER],
        "signing": signing,
        "in_process": inproc,
        "in_process_nocache": inproc_nocache,
        "in_process_nocache_threads": inproc_nocache_threads,
        "problems": http_problems + other_problems,
        "valid": not http_problems,
    }
    write_json(args.output, result)
    print()
    print(markdown(result))
    print(f"\nresults written to {args.output}")
    return 0 if result["valid"] else 1


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
