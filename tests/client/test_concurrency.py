"""Any number of threads and tasks share one token fetch; nothing blocks across a request."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from m2m_contract.client import ClientCredentials, InvalidClientError, Token
from m2m_contract.emulator import Fault

from .conftest import Rig, wait_for, within


def test_64_threads_share_one_token_fetch(rig: Rig) -> None:
    rig.emu.add_fault(Fault.delayed("token", 0.05))  # the fetch is slow: all threads pile up
    auth = rig.auth()
    barrier = threading.Barrier(64)

    def call(_: int) -> int:
        with httpx.Client(transport=rig.transport, auth=auth) as http:
            barrier.wait()
            return http.get(rig.emu.api_url).status_code

    with ThreadPoolExecutor(64) as pool:
        statuses = list(pool.map(call, range(64)))
    assert statuses == [200] * 64
    assert len(rig.tokens()) == 1
    assert len(set(rig.bearers())) == 1


def test_1000_concurrent_tasks_share_one_token_fetch(rig: Rig) -> None:
    rig.emu.add_fault(Fault.delayed("token", 0.05))
    auth = rig.auth()

    async def main() -> list[int]:
        async with httpx.AsyncClient(transport=rig.transport, auth=auth) as http:
            answers = await asyncio.gather(*(http.get(rig.emu.api_url) for _ in range(1000)))
        return [a.status_code for a in answers]

    assert within(20, lambda: asyncio.run(main())) == [200] * 1000
    assert len(rig.tokens()) == 1


def test_threads_wait_for_a_fetch_led_by_an_async_task(rig: Rig) -> None:
    rig.emu.add_fault(Fault.delayed("token", 0.2))
    auth = rig.auth()
    leader = threading.Thread(target=lambda: asyncio.run(auth.aget_token()))
    leader.start()
    wait_for(lambda: len(rig.tokens()) == 1)  # the async fetch is in flight
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: auth.get_token(), range(8)))
    leader.join(5)
    assert len({t.access_token for t in tokens}) == 1
    assert len(rig.tokens()) == 1


def test_tasks_on_several_loops_wait_for_a_fetch_led_by_a_thread(rig: Rig) -> None:
    rig.emu.add_fault(Fault.delayed("token", 0.2))
    auth = rig.auth()
    leader = threading.Thread(target=auth.get_token)
    leader.start()
    wait_for(lambda: len(rig.tokens()) == 1)

    async def many() -> set[str]:
        tokens = await asyncio.gather(*(auth.aget_token() for _ in range(50)))
        return {t.access_token for t in tokens}

    with ThreadPoolExecutor(3) as pool:  # three threads, three event loops
        seen = set().union(*pool.map(lambda _: asyncio.run(many()), range(3)))
    leader.join(5)
    assert len(seen) == 1 and len(rig.tokens()) == 1


def test_every_waiter_gets_its_own_copy_of_a_shared_failure(rig: Rig) -> None:
    rig.emu.add_fault(Fault.respond("token", 401, json={"error": "access_denied",
                                                        "error_description": "Unauthorized"},
                                    delay=0.05))
    auth = rig.auth()

    async def main() -> list[BaseException | Token]:
        return await asyncio.gather(*(auth.aget_token() for _ in range(20)),
                                    return_exceptions=True)

    outcomes = within(5, lambda: asyncio.run(main()))
    assert all(isinstance(o, InvalidClientError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 20
    assert len(rig.tokens()) == 1


def test_cancelled_leader_hands_the_fetch_to_a_waiter(rig: Rig) -> None:
    rig.emu.add_fault(Fault.delayed("token", 0.3))
    auth = rig.auth()

    async def main() -> set[str]:
        leader = asyncio.create_task(auth.aget_token())
        await asyncio.sleep(0.05)
        waiters = [asyncio.create_task(auth.aget_token()) for _ in range(5)]
        await asyncio.sleep(0.01)
        leader.cancel()
        tokens = await asyncio.gather(*waiters)
        with pytest.raises(asyncio.CancelledError):
            await leader
        return {t.access_token for t in tokens}

    assert len(within(5, lambda: asyncio.run(main()))) == 1
    assert len(rig.tokens()) == 2  # the abandoned fetch, then the waiter's


def test_cancelled_waiter_does_not_disturb_the_fetch(rig: Rig) -> None:
    rig.emu.add_fault(Fault.delayed("token", 0.1))
    auth = rig.auth()

    async def main() -> Token:
        leader = asyncio.create_task(auth.aget_token())
        await asyncio.sleep(0.02)
        waiter = asyncio.create_task(auth.aget_token())
        await asyncio.sleep(0.01)
        waiter.cancel()
        return await leader

    assert within(5, lambda: asyncio.run(main())).access_token
    assert len(rig.tokens()) == 1


def test_no_lock_is_held_while_an_api_request_is_in_flight(rig: Rig) -> None:
    auth = rig.auth()
    auth.get_token()
    rig.emu.add_fault(Fault.delayed("api", 0.5))
    slow = threading.Thread(target=lambda: rig.get(auth, "sync"))
    slow.start()
    wait_for(lambda: len(rig.apis()) == 1)  # the flow is suspended at its yield
    started = time.monotonic()
    auth.invalidate()
    auth.get_token()  # a new fetch goes through at once
    assert time.monotonic() - started < 0.3
    slow.join(5)
    assert len(rig.tokens()) == 2


def test_blocking_call_on_the_event_loop_during_an_async_fetch_does_not_deadlock(
    rig: Rig,
) -> None:
    rig.emu.add_fault(Fault.delayed("token", 0.1))
    auth = rig.auth()

    async def main() -> tuple[Token, Token]:
        leader = asyncio.create_task(auth.aget_token())
        await asyncio.sleep(0.02)
        blocking = auth.get_token()  # misuse, but must not wait on its own loop forever
        return blocking, await leader

    blocking, led = within(5, lambda: asyncio.run(main()))
    assert blocking.access_token and led.access_token


def test_one_instance_serves_two_event_loops_in_turn(rig: Rig) -> None:
    auth: ClientCredentials = rig.auth()
    assert rig.get(auth, "async").status_code == 200
    auth.invalidate()
    assert rig.get(auth, "async").status_code == 200  # a new loop, a new fetch: no stale state
    assert len(rig.tokens()) == 2
