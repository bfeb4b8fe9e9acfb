"""Clients start a few at a time (starting is the CPU-heavy part), but a client that hangs
before its first request holds its slot only for BOOT_GRACE: the other scenarios start."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from m2m_contract.harness import CommandRunner, ConformanceSession, Options
from m2m_contract.harness._runner import BOOT_GRACE, BootSlots
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


def test_boot_slots_go_to_the_lowest_rank_waiting_not_to_whoever_asked_first() -> None:
    slots = BootSlots(1)
    assert slots.acquire(0)
    order: list[int] = []

    def start(rank: int) -> None:
        assert slots.acquire(rank)
        order.append(rank)
        slots.release()

    threads = [threading.Thread(target=start, args=(rank,)) for rank in (3, 1, 2)]
    for thread in threads:  # asking in the order 3, 1, 2
        thread.start()
        deadline = time.monotonic() + 5
        while thread.is_alive() and len(slots._waiting) < threads.index(thread) + 1:
            assert time.monotonic() < deadline
            time.sleep(0.005)
    slots.release()
    for thread in threads:
        thread.join(timeout=5)
    assert order == [1, 2, 3]


def test_waiting_for_a_boot_slot_ends_when_the_run_is_aborted() -> None:
    slots, abort = BootSlots(0), threading.Event()
    abort.set()
    assert slots.acquire(0, abort) is False
    assert slots._waiting == []
