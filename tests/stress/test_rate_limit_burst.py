"""Rate limiting under concurrency is exact: a burst gets exactly the bucket's tokens.

The emulator runs on a fake clock, so no token drips back into a bucket during a burst:
whatever the interleaving, each client gets exactly `CAPACITY` tokens and a 429 for every
other request, with headers that count down without a gap or a repeat. Counts, not timings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
import pytest

from m2m_contract.emulator import (
    DEFAULT_AUDIENCE,
    DEFAULT_SCOPES,
    Client,
    Emulator,
    EmulatorServer,
    EmulatorTransport,
    FakeClock,
    RateLimit,
    Tenant,
    default_tenant,
)

from .conftest import SSL, prepare, within

CAPACITY = 10
PER_SECOND = 0.5  # one token back every 2 s: an empty bucket says Retry-After: 2
PER_CLIENT = 30  # requests each client sends in one burst
CLIENTS = ("demo-client", "other-client")
SECRETS = {"demo-client": "demo-secret", "other-client": "other-secret"}

Door = Literal["in-process threads", "http threads", "http asyncio"]
DOORS: list[Door] = ["in-process threads", "http threads", "http asyncio"]


def limited_tenant() -> Tenant:
    base = default_tenant()
    other = Client("other-client", "other-secret", grants={DEFAULT_AUDIENCE: DEFAULT_SCOPES})
    return dataclasses.replace(
        base, clients=(*base.clients, other), rate_limit=RateLimit(CAPACITY, PER_SECOND)
    )


def body(client_id: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_secret": SECRETS[client_id],
        "grant_type": "client_credentials",
        "scope": "read:members",
    }


def burst(door: Door, emulator: Emulator, senders: list[str]) -> list[httpx.Response]:
    """Send one token request per entry of `senders` (a client id), all at once."""
    if door == "http asyncio":
        return within(30, lambda: asyncio.run(_async_burst(emulator, senders)))
    if door == "in-process threads":
        client = httpx.Client(transport=EmulatorTransport(emulator), base_url=emulator.base_url)
    else:
        limits = httpx.Limits(max_connections=len(senders), max_keepalive_connections=0)
        client = httpx.Client(base_url=emulator.base_url, limits=limits, verify=SSL)
    barrier = threading.Barrier(len(senders))

    def send(client_id: str) -> httpx.Response:
        barrier.wait(timeout=10)  # everyone starts together: the requests really contend
        return client.post("/oauth/token", json=body(client_id))

    with client, ThreadPoolExecutor(len(senders)) as pool:
        return within(30, lambda: list(pool.map(send, senders)))


async def _async_burst(emulator: Emulator, senders: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(senders))
    async with httpx.AsyncClient(base_url=emulator.base_url, limits=limits, verify=SSL) as c:
        return list(await asyncio.gather(*(c.post("/oauth/token", json=body(s)) for s in senders)))


def by_client(senders: list[str], answers: list[httpx.Response]) -> dict[str, list[httpx.Response]]:
    grouped: dict[str, list[httpx.Response]] = {c: [] for c in CLIENTS}
    for sender, answer in zip(senders, answers, strict=True):
        grouped[sender].append(answer)
    return grouped


def check_burst(
    answers: list[httpx.Response],
    clock: FakeClock,
    *,
    allowed: int,
    spent_before: float,
    retry_after: int,
) -> None:
    """`allowed` 200s and 429s for the rest, with exact X-RateLimit-* and Retry-After."""
    now = clock.time()
    ok = [a for a in answers if a.status_code == 200]
    limited = [a for a in answers if a.status_code == 429]
    assert len(ok) == allowed, [a.status_code for a in answers]
    assert len(limited) == len(answers) - allowed
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {str(CAPACITY)}
    # The k-th token taken leaves `start - k` in the bucket, and it is full again after
    # (CAPACITY - left) / PER_SECOND seconds: each value exactly once, in any order.
    start = CAPACITY - spent_before
    left = [start - k for k in range(1, allowed + 1)]
    assert sorted(int(a.headers["x-ratelimit-remaining"]) for a in ok) == sorted(
        int(x) for x in left
    )
    assert sorted(int(a.headers["x-ratelimit-reset"]) for a in ok) == sorted(
        math.ceil(now + (CAPACITY - x) / PER_SECOND) for x in left
    )
    for answer in ok:
        assert answer.json()["access_token"].count(".") == 2
    empty = start - allowed
    for answer in limited:
        assert answer.json()["error"] == "too_many_requests"
        assert answer.headers["retry-after"] == str(retry_after)
        assert answer.headers["x-ratelimit-remaining"] == "0"
        assert answer.headers["x-ratelimit-reset"] == str(
            math.ceil(now + (CAPACITY - empty) / PER_SECOND)
        )


@pytest.fixture
def emulator(served: EmulatorServer) -> tuple[Emulator, FakeClock]:
    """The module's served emulator, on a fresh fake clock with the rate-limited tenant."""
    emu = served.emulator
    return emu, prepare(emu, limited_tenant())


@pytest.mark.parametrize("door", DOORS)
def test_a_concurrent_burst_gets_exactly_the_bucket_and_429s_for_the_rest(
    door: Door, emulator: tuple[Emulator, FakeClock]
) -> None:
    emu, clock = emulator
    senders = [CLIENTS[i % 2] for i in range(2 * PER_CLIENT)]  # both clients interleaved
    answers = burst(door, emu, senders)

    for client_id, theirs in by_client(senders, answers).items():
        assert len(theirs) == PER_CLIENT, client_id
        check_burst(theirs, clock, allowed=CAPACITY, spent_before=0, retry_after=2)
    journal = emu.journal.token_requests()
    assert len(journal) == 2 * PER_CLIENT
    assert sum(e.response.status == 200 for e in journal) == 2 * CAPACITY


@pytest.mark.parametrize("door", DOORS)
def test_after_a_burst_the_bucket_refills_by_exactly_the_elapsed_share(
    door: Door, emulator: tuple[Emulator, FakeClock]
) -> None:
    emu, clock = emulator
    burst(door, emu, ["demo-client"] * (CAPACITY + 5))
    clock.advance(5)  # 2.5 tokens back: two requests pass, and half a token is left

    answers = burst(door, emu, ["demo-client"] * 8)

    # Half a token left: one more arrives in ceil(0.5 / 0.5 s) = 1 s.
    check_burst(answers, clock, allowed=2, spent_before=CAPACITY - 2.5, retry_after=1)
    # The other client's bucket was never touched.
    fresh = burst(door, emu, ["other-client"] * (CAPACITY + 1))
    check_burst(fresh, clock, allowed=CAPACITY, spent_before=0, retry_after=2)


def test_wrong_secrets_and_right_ones_share_one_bucket_per_client_id(
    emulator: tuple[Emulator, FakeClock],
) -> None:
    """The bucket is taken before the secret is checked (as Auth0 counts every attempt):
    a burst mixing bad and good secrets still spends exactly CAPACITY, no more."""
    emu, _ = emulator
    transport = EmulatorTransport(emu)
    barrier = threading.Barrier(20)

    def send(i: int) -> int:
        secret = "demo-secret" if i % 2 else "wrong"
        payload = {**body("demo-client"), "client_secret": secret}
        with httpx.Client(transport=transport, base_url=emu.base_url) as client:
            barrier.wait(timeout=10)
            return client.post("/oauth/token", json=payload).status_code

    with ThreadPoolExecutor(20) as pool:
        seen = within(30, lambda: list(pool.map(send, range(20))))
    assert seen.count(429) == 20 - CAPACITY
    assert seen.count(200) + seen.count(401) == CAPACITY
