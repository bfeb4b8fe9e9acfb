"""Shared pieces of the stress tests: bounded runs, leak checks, token claims, a served tenant.

Every wait here is bounded, every server is on loopback, and nothing asserts on speed: a
bound only turns a hang or a missed deadline into a failure instead of a stuck suite.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from m2m_contract.emulator import Emulator, EmulatorServer, FakeClock, Tenant, default_tenant

T = TypeVar("T")
# One SSL context for every httpx client of these tests: each new one costs tens of ms.
SSL = httpx.create_ssl_context()


def within(seconds: float, work: Callable[[], T]) -> T:
    """Run `work` in a thread; fail if it is still running after `seconds` (a hang)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, name="stress-within", daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a hang or a missed deadline"
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (tests verify with the emulator where it matters)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def threads_now() -> set[threading.Thread]:
    # The emulator's HTTP door keeps a bounded pool of signing threads (one per core) for as
    # long as the server runs; they are the server's, not the client's under test.
    return {t for t in threading.enumerate() if not t.name.startswith("m2m-sign")}


def assert_no_new_threads(before: set[threading.Thread]) -> None:
    """Every thread started since `before` has ended (the bounded runner's own included)."""
    wait_for(lambda: not (threads_now() - before), timeout=5.0)


def prepare(emulator: Emulator, tenant: Tenant | None = None) -> FakeClock:
    """Give a (possibly shared) emulator a fresh fake clock, a tenant and no state."""
    clock = FakeClock()
    emulator.clock = clock
    emulator.tenant = tenant or default_tenant()  # after the clock: the rate limiter reads it
    emulator.reset()
    return clock


@pytest.fixture(scope="module")
def served() -> Iterator[EmulatorServer]:
    """One emulator over real HTTP on loopback for a module; tests prepare() it."""
    with EmulatorServer(Emulator(clock=FakeClock())) as server:
        yield server
