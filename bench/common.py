"""What every benchmark here shares: servers started as subprocesses, wrk runs, the machine.

- `Server`: one server under test in its own process group on a loopback port; started,
  waited for (bounded), its CPU time read from /proc, always stopped (SIGTERM, then SIGKILL).
- `run_wrk`: one wrk run with a Lua script that prints a `PREFIX {json}` line at the end
  (bench/token_load.lua and bench/soak.lua do), parsed, with the CPU the server, wrk and
  everything else used meanwhile (other agents share this machine's cores).
- `describe_machine`: cores, CPU, memory, kernel, tool and library versions.
- `busy_cores` / `wait_quiet`: how loaded the machine is, and a bounded wait for it to calm.

Loopback only; every wait and every subprocess is bounded.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
WRK_EXTRA_TIMEOUT_S = 60.0
BUSY_CORES = 0.2  # other processes busier than this (in cores) mark a run as disturbed


class SetupError(Exception):
    """The benchmark cannot run here (missing tool, server that does not start, ...)."""


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    """One server under test, started as a subprocess in its own process group."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    token_path: str = "/oauth/token"
    ready_path: str = "/healthz"
    version: str = ""
    notes: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_path

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
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

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait (bounded) until the ready path answers 200."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SetupError(
                        f"{self.name} exited with status {self.proc.returncode} before it was "
                        f"ready; command: {self.command}\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.base_url + self.ready_path, timeout=2.0).status_code == 200:
                        return
                time.sleep(0.1)
        raise SetupError(
            f"{self.name} did not answer {self.ready_path} within {timeout_s:.0f} s; "
            f"command: {self.command}\n{self.log_tail()}"
        )

    def cpu_seconds(self) -> float:
        """User + system CPU time of every live process in the server's process group."""
        return process_group_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def rss_kib(self) -> int:
        """The server process's resident set (VmRSS)."""
        assert self.proc is not None
        return proc_status_kib(self.proc.pid, "VmRSS")

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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything left in the group


def free_port(taken: set[int]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise SetupError("could not find a free loopback port")


def proc_status_kib(pid: int, name: str) -> int:
    """A kB field of /proc/PID/status, e.g. VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise SetupError(f"no {name} in /proc/{pid}/status")


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


# -- the machine's load ----------------------------------------------------------------------


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


def busy_cores(seconds: float) -> float:
    """How many cores processes keep busy now (sampled over `seconds`)."""
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


# -- wrk -------------------------------------------------------------------------------------


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SetupError(
            "wrk (the load generator) is not installed: run `bash bench/setup_peers.sh` "
            "(it installs wrk with apt-get) or `apt-get install wrk`"
        )
    return wrk


@dataclass(frozen=True)
class Wrk:
    """One wrk configuration: `-t threads -c connections`, a Lua script and what it prints."""

    threads: int
    connections: int
    script: Path
    prefix: str = "WRK_JSON "

    def argv(self, wrk: str, seconds: int, url: str, args: Sequence[str] = ()) -> list[str]:
        argv = [wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s", "--latency",
                "--timeout", "10s", "-s", str(self.script), url]  # fmt: skip
        return [*argv, "--", *args] if args else argv


def run_wrk(
    wrk: str,
    load: Wrk,
    server: Server,
    seconds: int,
    *,
    url: str | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    on_tick: Callable[[float], None] | None = None,
    tick_s: float = 1.0,
) -> dict[str, Any]:
    """Run wrk for `seconds`; return the script's JSON plus the CPU each side used."""
    argv = load.argv(wrk, seconds, url or server.base_url, args)
    cpu_before = server.cpu_seconds()
    busy_before = machine_busy_seconds()
    children_before = children_cpu_seconds()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    started, limit = time.monotonic(), seconds + WRK_EXTRA_TIMEOUT_S
    while proc.poll() is None:
        if time.monotonic() - started > limit:
            proc.kill()
            proc.wait()
            raise SetupError(f"wrk did not finish in time: {shlex.join(argv)}")
        if on_tick is not None:
            on_tick(time.monotonic() - started)
        time.sleep(tick_s if on_tick is not None else 0.05)
    output = proc.stdout.read() if proc.stdout else ""
    if proc.stdout:
        proc.stdout.close()
    cpu_used = server.cpu_seconds() - cpu_before
    wrk_cpu = children_cpu_seconds() - children_before
    busy = machine_busy_seconds() - busy_before
    if proc.returncode != 0:
        raise SetupError(f"wrk failed (status {proc.returncode}): {shlex.join(argv)}\n{output}")
    line = next((x for x in output.splitlines() if x.startswith(load.prefix)), None)
    if line is None:
        raise SetupError(f"wrk printed no {load.prefix!r} line:\n{output[-2000:]}")
    data: dict[str, Any] = json.loads(line[len(load.prefix) :])
    duration = data["duration_us"] / 1e6
    data["wrk_command"] = shlex.join(argv)
    data["server_cpu_s"] = round(cpu_used, 2)
    data["wrk_cpu_s"] = round(wrk_cpu, 2)
    # CPU used by everything else on the machine during the run, in cores.
    other = max(0.0, busy - cpu_used - wrk_cpu) / duration if duration > 0 else None
    data["other_cores"] = None if other is None else round(other, 2)
    return data


# -- the machine -----------------------------------------------------------------------------


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except OSError:
        return "unknown"
    out = (done.stdout or done.stderr).strip().splitlines()
    return out[0] if out else "unknown"


def _proc_field(path: str, name: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    return ""


def dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe_machine() -> dict[str, Any]:
    """The machine and the tools the figures depend on (absent tools say "unknown")."""
    node = shutil.which("node")
    wrk = shutil.which("wrk")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name") or platform.processor(),
        "mem_total_kib": int((_proc_field("/proc/meminfo", "MemTotal") or "0 kB").split()[0]),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _first_line([node, "--version"]) if node else "unknown",
        "wrk": _first_line([wrk, "--version"]).split(" Copyright")[0] if wrk else "unknown",
        "httpx": dist_version("httpx"),
        "uvicorn": dist_version("uvicorn"),
        "httptools": dist_version("httptools"),
        "uvloop": dist_version("uvloop"),
        "m2m-contract": dist_version("m2m-contract"),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
