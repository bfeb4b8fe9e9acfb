"""The reference client behind a faulty network: a real TCP proxy between it and the emulator.

For each fault, sync and async: the client either gets a token that verifies or raises the
right typed error, within its deadline; it leaves no thread, task or connection behind; and a
cut-off answer never lands in its cache (the next get_token returns a complete token).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import httpx
import pytest

from m2m_contract.client import ClientCredentials, Token, TokenEndpointUnreachableError
from m2m_contract.emulator import Emulator, EmulatorServer

from .conftest import SSL, assert_no_new_threads, prepare, threads_now, wait_for, within
from .fault_proxy import Action, FaultProxy

Mode = Literal["sync", "async"]
TIMEOUT = 0.5  # per HTTP request: a stalled answer costs this much (a busy CI still answers)
DEADLINE = 2.0  # for one token fetch, retries included
MAX_ATTEMPTS = 5
GRACE = 5.0  # on top of the deadline before a run counts as hung (a slow CI, not a target)


@dataclass(frozen=True)
class Case:
    faults: tuple[tuple[Action, int | None], ...]  # (action, times) on the token endpoint
    error: type[Exception] | None = None  # None: a token is expected
    timed_out: bool | None = False  # None: either (a busy upstream may be slow to answer)
    attempts: int = 1  # token requests the client makes when it succeeds


CASES: dict[str, Case] = {
    "reset-once": Case((("reset", 1),), attempts=2),
    "reset-always": Case((("reset", None),), TokenEndpointUnreachableError),
    "stall-once": Case((("stall", 1),), attempts=2),
    "stall-always": Case((("stall", None),), TokenEndpointUnreachableError, timed_out=True),
    "close-mid-body-once": Case((("close_mid_body", 1),), attempts=2),
    "close-mid-body-always": Case(
        (("close_mid_body", None),), TokenEndpointUnreachableError, timed_out=None
    ),
    "throttle-always": Case((("throttle", None),)),
    "each-fault-in-turn": Case(
        (("reset", 1), ("stall", 1), ("close_mid_body", 1), ("throttle", 1)), attempts=4
    ),
}


@pytest.fixture
def emulator(served: EmulatorServer) -> Emulator:
    prepare(served.emulator)
    return served.emulator


@pytest.fixture
def proxy(served: EmulatorServer) -> Iterator[FaultProxy]:
    with FaultProxy(served.host, served.port, stall_limit=10.0, lifetime=60.0) as running:
        yield running


def make_auth(proxy: FaultProxy) -> ClientCredentials:
    return ClientCredentials(
        f"{proxy.base_url}/oauth/token",
        "demo-client",
        "demo-secret",
        scope="read:members",
        timeout=TIMEOUT,
        deadline=DEADLINE,
        max_attempts=MAX_ATTEMPTS,
        backoff_base=0.02,
        backoff_cap=0.1,
    )


@dataclass
class Run:
    """What one scenario saw: the first outcome, the token after the network healed, the
    status of an API call made with it, and the asyncio tasks still alive at the end."""

    first: Token | Exception
    healed: Token
    api_status: int
    stray_tasks: int = 0


def scenario(auth: ClientCredentials, proxy: FaultProxy, mode: Mode) -> Run:
    api_url = f"{proxy.base_url}/api/members"
    if mode == "sync":
        first: Token | Exception
        try:
            first = auth.get_token()
        except Exception as exc:  # the outcome under test
            first = exc
        proxy.clear()
        healed = auth.get_token()
        with httpx.Client(auth=auth, verify=SSL, timeout=5) as http:
            return Run(first, healed, http.get(api_url).status_code)

    async def main() -> Run:
        try:
            first: Token | Exception = await auth.aget_token()
        except Exception as exc:  # the outcome under test
            first = exc
        proxy.clear()
        healed = await auth.aget_token()
        async with httpx.AsyncClient(auth=auth, verify=SSL, timeout=5) as http:
            status = (await http.get(api_url)).status_code
        stray = len(asyncio.all_tasks() - {asyncio.current_task()})
        return Run(first, healed, status, stray)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", list(CASES))
def test_token_fetch_through_a_faulty_network_succeeds_or_fails_typed_in_time(
    name: str, mode: Mode, emulator: Emulator, proxy: FaultProxy
) -> None:
    case = CASES[name]
    for action, times in case.faults:
        proxy.arm(action, "token", times)
    auth = make_auth(proxy)
    before = threads_now()

    run = within(2 * DEADLINE + GRACE, lambda: scenario(auth, proxy, mode))

    attempts = [s for s in proxy.seen if s.path == "/oauth/token"]
    if case.error is None:
        assert isinstance(run.first, Token), run.first
        assert run.healed == run.first  # served from the cache: no second fetch
        # One per fault, one that succeeds; a slow CI may time out one more (never a timing test).
        assert case.attempts <= len(attempts) <= MAX_ATTEMPTS
    else:
        assert isinstance(run.first, case.error), run.first
        assert isinstance(run.first, TokenEndpointUnreachableError)
        assert case.timed_out is None or run.first.timed_out is case.timed_out
        assert 1 <= run.first.attempts <= MAX_ATTEMPTS
        assert len(attempts) >= run.first.attempts + 1  # then the healed fetch
    # Never poisoned: what the cache holds is a whole token the emulator issued and accepts.
    issued = {
        e.response.json()["access_token"]
        for e in emulator.journal.token_requests()
        if e.response.status == 200
    }
    assert run.healed.access_token in issued
    assert emulator.verify(run.healed.access_token).claims["azp"] == "demo-client"
    assert run.api_status == 200
    # Nothing left behind: no thread, no task, no open connection through the proxy.
    assert run.stray_tasks == 0
    assert_no_new_threads(before)
    wait_for(lambda: proxy.open_connections == 0)


API_FAULTS: dict[Action, type[Exception] | None] = {
    "reset": httpx.TransportError,
    "stall": httpx.TimeoutException,
    "close_mid_body": httpx.TransportError,
    "throttle": None,
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("action", list(API_FAULTS))
def test_a_faulty_api_call_reaches_the_caller_and_keeps_the_cached_token(
    action: Action, mode: Mode, emulator: Emulator, proxy: FaultProxy
) -> None:
    """A network fault on an API call is the caller's to handle (httpx raises it); the token
    stays cached, so the next call goes out with it and no new token is fetched."""
    auth = make_auth(proxy)
    api_url = f"{proxy.base_url}/api/members"
    before = threads_now()

    def calls() -> list[int | type[Exception]]:
        outcomes: list[int | type[Exception]] = []
        if mode == "sync":
            with httpx.Client(auth=auth, verify=SSL, timeout=10) as http:
                http.get(api_url)
                proxy.arm(action, "api")
                for timeout in (TIMEOUT, 10):  # the faulty call, then one that must work
                    try:
                        outcomes.append(http.get(api_url, timeout=timeout).status_code)
                    except httpx.HTTPError as exc:
                        outcomes.append(type(exc))
            return outcomes

        async def main() -> list[int | type[Exception]]:
            async with httpx.AsyncClient(auth=auth, verify=SSL, timeout=10) as http:
                await http.get(api_url)
                proxy.arm(action, "api")
                for timeout in (TIMEOUT, 10):  # the faulty call, then one that must work
                    try:
                        outcomes.append((await http.get(api_url, timeout=timeout)).status_code)
                    except httpx.HTTPError as exc:
                        outcomes.append(type(exc))
            assert asyncio.all_tasks() == {asyncio.current_task()}
            return outcomes

        return asyncio.run(main())

    first, second = within(DEADLINE + TIMEOUT + GRACE, calls)

    expected = API_FAULTS[action]
    if expected is None:
        assert first == 200
    else:
        assert isinstance(first, type) and issubclass(first, expected), first
    assert second == 200
    assert len(emulator.journal.token_requests()) == 1  # the token outlived the fault
    assert_no_new_threads(before)
    wait_for(lambda: proxy.open_connections == 0)
