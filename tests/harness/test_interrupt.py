"""Ctrl-C stops a conformance run at once: every running client killed, none waiting
started, and `verify` exits 130 with one line, instead of waiting out each scenario's limit.

Bounds are generous (the limits they replace are 30 s and more); the figures measured are
in the lead's report, not asserted here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from m2m_contract.harness import SCENARIOS, CommandRunner, ConformanceSession, Options, run_scenario
from m2m_contract.harness._runner import BootSlots, ScenarioAborted

from .test_process import survivors, within

ROOT = Path(__file__).parents[2]
# Finishes at once where one API call is asked for (happy-path), hangs everywhere else.
QUICK_OR_HANG = 'if [ "$M2M_API_CALLS" = 1 ]; then exit 0; fi; exec sleep 60'


@pytest.fixture
def mark() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    for pid in survivors(value):  # never leave a client behind, even when a test fails
        os.kill(pid, signal.SIGKILL)


def runner(mark: str, script: str = "exec sleep 60") -> CommandRunner:
    return CommandRunner(("sh", "-c", script), {"M2M_TEST_MARK": mark})


def test_ctrl_c_while_waiting_kills_the_running_clients_and_counts_the_unfinished(
    mark: str,
) -> None:
    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt  # as SIGINT does in the waiting thread

    session = ConformanceSession(runner(mark, QUICK_OR_HANG), Options(), interrupt)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        within(60, lambda: session.prepare(["happy-path", "expiry", "token-reuse"]))
    assert time.monotonic() - started < 15  # not the 30 s scenario limit
    assert session.unfinished == 2 and session.abort.is_set()
    assert survivors(mark) == []


def test_an_abort_keeps_a_scenario_waiting_to_boot_from_starting(
    mark: str, tmp_path: Path
) -> None:
    abort = threading.Event()
    threading.Timer(0.3, abort.set).start()
    ran = tmp_path / "ran"
    with pytest.raises(ScenarioAborted):
        within(30, lambda: run_scenario(
            SCENARIOS["happy-path"], runner(mark, f"touch {ran}"),
            boot=BootSlots(0), abort=abort,  # no slot ever frees
        ))
    assert not ran.exists()


@pytest.mark.parametrize("scenario", ["happy-path", "token-endpoint-stall"])
def test_an_abort_kills_a_running_client_at_once(mark: str, scenario: str) -> None:
    abort = threading.Event()
    threading.Timer(1.0, abort.set).start()
    started = time.monotonic()
    with pytest.raises(ScenarioAborted):
        within(60, lambda: run_scenario(SCENARIOS[scenario], runner(mark), abort=abort))
    assert time.monotonic() - started < 10  # the limit here is 30 s, or 30 + 18
    assert survivors(mark) == []


def _clients_running(mark: str, count: int) -> bool:
    found = 0
    for pid in survivors(mark):
        try:
            found += Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0")
        except OSError:
            continue
    return found >= count


def test_sigint_to_verify_exits_130_in_one_line_leaving_no_process(mark: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "m2m_contract", "verify", "--scenario", "happy-path",
         "--scenario", "token-reuse", "--", "sleep", "60"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "M2M_TEST_MARK": mark},
    )
    try:
        deadline = time.monotonic() + 60
        while not _clients_running(mark, 2):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert err == "m2m-contract verify: interrupted: 2 scenarios not finished; no verdict, " \
        "no report written\n"
    assert out == ""
    assert took < 10  # was every scenario's 30 s limit
    assert survivors(mark) == []
