"""Verdicts hold still: the timing-sensitive scenarios give every client the same verdict on
every run, while the CPU is loaded, for clients whose clocks are coarse or skewed.

Correct clients (expiry kept in whole seconds: floor, round, ceil; refresh margins of 0 and
0.5 s; a clock 0.3 s late) pass every time; clients that ignore the rule fail every time.
bench/flips.py runs the whole mutant corpus many times over; this is its quick, always-on part.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from m2m_contract.harness import ConformanceSession, Options

from ..conformance.test_mutants import runner_for

EXPIRY = ("expiry", "refresh-token-offered")
CLOCKED = (*EXPIRY, "rate-limited")
REPEATS = 3
# A correct client and the timing-sensitive scenarios its clock matters in.
CORRECT = {
    "floor-clock": ("clock=floor,margin=0", CLOCKED),
    "round-clock": ("clock=round,margin=0", CLOCKED),
    "ceil-clock": ("clock=ceil,margin=0", CLOCKED),
    "margin-0": ("margin=0", EXPIRY),
    "margin-0.5": ("margin=0.5", EXPIRY),
    "late-0.3": ("margin=-0.3", EXPIRY),
    "plain": ("", ("server-error", "concurrent-calls")),
}
# A defective client, its scenarios, and the check that must catch it on every run.
DEFECTIVE = {
    "ignores-expiry": (
        "refetch_on_expiry=False,retry_api_401=none", EXPIRY, "api-token-not-expired"
    ),
    "ignores-retry-after": (
        "honour_retry_after=False", ("rate-limited",), "rate-limit-retry-after"
    ),
    "no-backoff": ("backoff=0", ("server-error",), "server-error-backoff"),
    "token-per-thread": ("concurrency=per-thread", ("concurrent-calls",), "token-single-flight"),
}
LOAD = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass\n"


@pytest.fixture
def loaded_cpu() -> Iterator[None]:
    """Keep a core busy (a spinning process) for the test's duration; the clients of eleven
    sessions at once, and the rest of the suite on the other xdist worker, load the other.
    (bench/flips.py --load spins both cores, over the whole corpus.)"""
    spinners = [subprocess.Popen([sys.executable, "-c", LOAD]) for _ in range(1)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait(timeout=10)


def _verdicts(name: str, knobs: str, scenarios: tuple[str, ...]) -> dict[tuple[str, str], str]:
    session = ConformanceSession(runner_for(name, f"py:{knobs}"), Options())
    return {(r.scenario, r.id): r.status for r in session.results(scenarios)}


def test_timing_sensitive_verdicts_are_the_same_on_every_loaded_run(loaded_cpu: None) -> None:
    clients = {**CORRECT, **{name: (knobs, where) for name, (knobs, where, _) in DEFECTIVE.items()}}
    runs: dict[str, list[dict[tuple[str, str], str]]] = defaultdict(list)
    for _ in range(REPEATS):  # each round runs about as many scenarios at once as verify does
        with ThreadPoolExecutor(len(clients)) as pool:
            futures = {
                name: pool.submit(_verdicts, name, knobs, where)
                for name, (knobs, where) in clients.items()
            }
            for name, future in futures.items():
                runs[name].append(future.result(timeout=120))
    flips = {
        f"{name} {scenario}:{check} {[run[(scenario, check)] for run in results]}"
        for name, results in runs.items()
        for scenario, check in results[0]
        if len({run[(scenario, check)] for run in results}) > 1
    }
    assert not flips, f"verdicts changed between runs: {sorted(flips)}"
    for name in CORRECT:
        bad = {k: v for k, v in runs[name][0].items() if v in ("failed", "warning")}
        assert not bad, f"{name} is a correct client but got {bad}"
    for name, (_, _, check) in DEFECTIVE.items():
        caught = [k for k, v in runs[name][0].items() if k[1] == check and v != "passed"]
        assert caught and all(runs[name][0][k] in ("failed", "warning") for k in caught), (
            f"{name} was not caught by {check}"
        )
