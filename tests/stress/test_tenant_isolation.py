"""Many clients of one tenant at once: each gets, presents and is served as itself only.

Twenty applications, each with its own secret and grant, each a reference client shared by
several threads (or asyncio tasks), all fetching at the same moment (token answers are held
back a little so the fetches overlap) and then calling the API. Every token a client holds,
every token it presents and every answer it gets must name that client, and no one else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import httpx
import pytest

from m2m_contract.client import ClientCredentials
from m2m_contract.emulator import (
    DEFAULT_AUDIENCE,
    Client,
    Emulator,
    EmulatorTransport,
    Fault,
    Tenant,
    default_tenant,
)

from .conftest import SSL, claims, prepare, within

CLIENTS = 20
WORKERS = 3  # threads or tasks sharing each client's ClientCredentials
CALLS = 4  # API calls per worker

Door = Literal["in-process", "http"]
Runner = Literal["threads", "asyncio"]


def ids() -> list[str]:
    return [f"client-{n:02d}" for n in range(CLIENTS)]


def grant(client_id: str) -> tuple[str, ...]:
    """Different grants, so a token handed to the wrong client shows in its scope too."""
    extra = ("write:transactions",) if int(client_id[-2:]) % 2 else ("read:appointments",)
    return ("read:members", *extra)


def many_clients_tenant() -> Tenant:
    clients = tuple(
        Client(cid, f"secret-of-{cid}", grants={DEFAULT_AUDIENCE: grant(cid)}) for cid in ids()
    )
    return dataclasses.replace(default_tenant(), clients=clients)


@dataclasses.dataclass
class Outcome:
    client_id: str
    tokens: list[str]  # every token get_token()/aget_token() returned to this client's workers
    subs: list[str]  # the `sub` every API answer echoed back to this client's workers


def make_auth(emu: Emulator, door: Door, client_id: str) -> ClientCredentials:
    return ClientCredentials(
        emu.token_url,
        client_id,
        f"secret-of-{client_id}",
        scope=" ".join(grant(client_id)),
        transport=EmulatorTransport(emu) if door == "in-process" else None,
        verify=SSL,
    )


def run_threads(emu: Emulator, door: Door) -> list[Outcome]:
    outcomes = [Outcome(cid, [], []) for cid in ids()]
    auths = [make_auth(emu, door, o.client_id) for o in outcomes]
    transport = EmulatorTransport(emu) if door == "in-process" else None
    barrier = threading.Barrier(CLIENTS * WORKERS)
    lock = threading.Lock()

    def worker(index: int) -> None:
        outcome, auth = outcomes[index % CLIENTS], auths[index % CLIENTS]
        with httpx.Client(auth=auth, transport=transport, verify=SSL) as http:
            barrier.wait(timeout=10)
            token = auth.get_token().access_token
            subs = [http.get(emu.api_url).json()["sub"] for _ in range(CALLS)]
        with lock:
            outcome.tokens.append(token)
            outcome.subs.extend(subs)

    with ThreadPoolExecutor(CLIENTS * WORKERS) as pool:
        within(60, lambda: list(pool.map(worker, range(CLIENTS * WORKERS))))
    return outcomes


def run_tasks(emu: Emulator, door: Door) -> list[Outcome]:
    outcomes = [Outcome(cid, [], []) for cid in ids()]

    async def worker(outcome: Outcome, auth: ClientCredentials, http: httpx.AsyncClient) -> None:
        outcome.tokens.append((await auth.aget_token()).access_token)
        for _ in range(CALLS):
            outcome.subs.append((await http.get(emu.api_url)).json()["sub"])

    async def main() -> None:
        transport = EmulatorTransport(emu) if door == "in-process" else None
        auths = [make_auth(emu, door, o.client_id) for o in outcomes]
        https = [httpx.AsyncClient(auth=a, transport=transport, verify=SSL) for a in auths]
        try:
            await asyncio.gather(
                *(
                    worker(outcome, auth, http)
                    for outcome, auth, http in zip(outcomes, auths, https, strict=True)
                    for _ in range(WORKERS)
                )
            )
        finally:
            for http in https:
                await http.aclose()

    within(60, lambda: asyncio.run(main()))
    return outcomes


@pytest.fixture
def emulator(request: pytest.FixtureRequest, door: Door) -> Emulator:
    emu = request.getfixturevalue("served").emulator if door == "http" else Emulator()
    assert isinstance(emu, Emulator)
    prepare(emu, many_clients_tenant())
    # Every token answer waits a little: all twenty fetches are in flight together.
    emu.add_fault(Fault.delayed("token", 0.02, times=None))
    return emu


@pytest.mark.parametrize("runner", ["threads", "asyncio"])
@pytest.mark.parametrize("door", ["in-process", "http"])
def test_concurrent_clients_only_ever_see_their_own_tokens(
    emulator: Emulator, door: Door, runner: Runner
) -> None:
    outcomes = run_threads(emulator, door) if runner == "threads" else run_tasks(emulator, door)

    for outcome in outcomes:
        cid = outcome.client_id
        assert len(outcome.tokens) == WORKERS and len(outcome.subs) == WORKERS * CALLS
        assert len(set(outcome.tokens)) == 1, f"{cid}: its workers got different tokens"
        for token in outcome.tokens:
            got = emulator.verify(token).claims
            assert (got["sub"], got["azp"]) == (f"{cid}@clients", cid)
            assert got["scope"].split() == list(grant(cid))
        assert set(outcome.subs) == {f"{cid}@clients"}
    assert len({o.tokens[0] for o in outcomes}) == CLIENTS

    # The server's view: one fetch per client, and every API call carried a token of the
    # client that made it (the API echoes the token's sub, checked above; here, presence).
    fetches = Counter(e.params["client_id"] for e in emulator.journal.token_requests() if e.params)
    assert fetches == Counter({cid: 1 for cid in ids()})
    presented = Counter(
        claims((e.request.header("authorization") or "").removeprefix("Bearer "))["azp"]
        for e in emulator.journal.api_requests()
    )
    assert presented == Counter({cid: WORKERS * CALLS for cid in ids()})
