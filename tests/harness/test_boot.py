"""Clients start a few at a time (starting is the CPU-heavy part), but a client that hangs
before its first request holds its slot only for BOOT_GRACE: the other scenarios start."""

from __future__ import annotations

import time
from pathlib import Path

from m2m_contract.harness import CommandRunner, ConformanceSession, Options
from m2m_contract.harness._runner import BOOT_GRACE
from m2m_contract.harness._session import BOOTING

SCENARIOS = ["happy-path", "scope-list", "no-scope", "offline-access", "token-reuse",
             "bad-credentials"]


def test_clients_that_hang_before_any_request_do_not_keep_the_others_from_starting(
    tmp_path: Path,
) -> None:
    started = tmp_path / "started"
    script = f"date +%s.%N >> {started}; exec sleep 60"
    session = ConformanceSession(CommandRunner(("sh", "-c", script)), Options(timeout=6))
    begun = time.time()
    session.prepare(SCENARIOS)
    times = sorted(float(line) - begun for line in started.read_text().split())
    assert len(times) == len(SCENARIOS)
    # Holding each slot for the 6 s limit, the last would start 12 s in; by the grace, ~4 s.
    rounds = -(-len(SCENARIOS) // BOOTING) - 1
    assert times[-1] < rounds * BOOT_GRACE + 3.5, times
