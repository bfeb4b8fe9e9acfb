"""`m2m-contract serve` in a subprocess, for the tests that need a separate server process."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

STARTUP_TIMEOUT = 30.0


@dataclass
class Served:
    url: str
    lines: dict[str, str]  # "token endpoint" -> value, ...
    ca_bundle: str | None
    proc: subprocess.Popen[str]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("M2M_ADMIN_TOKEN", None)
    return {**env, **extra}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "m2m_contract", "serve", *args]


def banner(proc: subprocess.Popen[str], wanted: set[str]) -> tuple[str, dict[str, str]]:
    """Read the banner: the URL of its first line and the `key: value` lines after it."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    found: dict[str, str] = {}
    url = None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while url is None or not wanted <= found.keys():
        line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        if line is None:
            assert proc.stderr is not None
            pytest.fail(f"serve exited early ({proc.wait()}): {proc.stderr.read()}")
        if "listening on " in line:
            url = line.split("listening on ", 1)[1].strip()
        elif ":" in line:
            key, _, value = line.strip().partition(":")
            found[key.strip()] = value.strip()
    return url, found


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@contextmanager
def serve(*args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Run `m2m-contract serve --port 0 ARGS`, wait for its whole banner, always stop it."""
    proc = subprocess.Popen(
        command("--port", "0", *args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or clean_env(),
    )  # fmt: skip
    try:
        wanted = {"issuer", "admin API"}
        wanted |= {"CA bundle"} if "--tls" in args else set()
        wanted |= set() if "--config" in args else {"tenant"}
        url, lines = banner(proc, wanted)
        yield Served(url, lines, lines.get("CA bundle"), proc)
    finally:
        stop(proc)
