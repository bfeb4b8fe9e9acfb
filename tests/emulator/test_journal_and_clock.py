"""The journal records every exchange (bounded), and the fake clock drives time."""

from __future__ import annotations

import math
from dataclasses import replace

import httpx
import pytest

from m2m_contract.emulator import (
    Emulator,
    EmulatorTransport,
    FakeClock,
    Journal,
    RateLimit,
    default_tenant,
)

from .conftest import Door, token_body


def test_journal_records_parsed_requests_and_answers_in_order(door: Door) -> None:
    door.token(scope="read:members")
    door.token_response(client_secret="wrong")
    door.client.get("/.well-known/jwks.json")
    door.api(None)

    exchanges = door.emulator.journal.snapshot()

    assert [(e.kind, e.response.status) for e in exchanges] == [
        ("token", 200), ("token", 401), ("jwks", 200), ("api", 401)
    ]
    assert [e.seq for e in exchanges] == sorted(e.seq for e in exchanges)
    assert exchanges[0].params == token_body(scope="read:members")
    assert exchanges[0].request.method == "POST"
    assert exchanges[0].request.content_type == "application/json"
    assert door.emulator.journal.token_requests() == exchanges[:2]
    assert door.emulator.journal.api_requests() == exchanges[3:]


def test_journal_keeps_params_of_form_requests_and_none_for_unparseable(door: Door) -> None:
    door.client.post("/oauth/token", data=token_body())
    door.client.post("/oauth/token", content=b"{", headers={"content-type": "application/json"})

    first, second = door.emulator.journal.token_requests()

    assert first.params == token_body()
    assert second.params is None


def test_journal_times_come_from_the_clock(inprocess_door: Door) -> None:
    inprocess_door.token()
    inprocess_door.clock.advance(30)
    inprocess_door.token()

    first, second = inprocess_door.emulator.journal

    assert second.at - first.at == 30


def test_journal_is_a_ring_buffer_of_the_latest_exchanges() -> None:
    emulator = Emulator(clock=FakeClock(), journal_size=3)
    with httpx.Client(transport=EmulatorTransport(emulator), base_url="http://e") as client:
        for _ in range(5):
            client.get("/healthz")

    assert len(emulator.journal) == 3
    assert [e.seq for e in emulator.journal] == [3, 4, 5]
    assert repr(emulator.journal) == "Journal(3 exchanges, maxlen=3)"


def test_default_journal_holds_ten_thousand_exchanges() -> None:
    assert Emulator().journal.maxlen == 10_000


def test_journal_needs_room_for_one_exchange() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Journal(0)


def test_reset_and_clear_empty_the_journal(door: Door) -> None:
    door.token()
    door.emulator.journal.clear()
    assert len(door.emulator.journal) == 0

    door.token()
    door.emulator.reset()
    assert list(door.emulator.journal) == []


def test_fault_names_are_journaled(door: Door) -> None:
    from m2m_contract.emulator import Fault

    door.emulator.add_fault(Fault.malformed("wrong_token_type"))
    door.token_response()

    assert door.emulator.journal.token_requests()[0].fault == "wrong_token_type"


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(start=1000.0)

    assert clock.time() == 1000.0 and clock.monotonic() == 0.0
    clock.advance(2.5)
    assert clock.time() == 1002.5 and clock.monotonic() == 2.5


@pytest.mark.parametrize("seconds", [-1.0, math.inf, math.nan])
def test_fake_clock_refuses_backwards_or_endless_moves(seconds: float) -> None:
    clock = FakeClock(start=1000.0)

    with pytest.raises(ValueError):
        clock.advance(seconds)

    assert clock.time() == 1000.0


def test_tokens_are_stamped_with_the_fake_clock(inprocess_door: Door) -> None:
    import jwt

    start = inprocess_door.clock.time()
    inprocess_door.clock.advance(3600)

    claims = jwt.decode(inprocess_door.token(), options={"verify_signature": False})

    assert claims["iat"] == int(start) + 3600


def test_a_clock_swapped_in_later_also_drives_the_rate_limiter() -> None:
    emulator = Emulator(replace(default_tenant(), rate_limit=RateLimit(1, 1.0)))
    emulator.clock = clock = FakeClock()
    body = {"client_id": "demo-client", "client_secret": "demo-secret",
            "grant_type": "client_credentials"}
    with httpx.Client(transport=EmulatorTransport(emulator)) as client:
        assert client.post(emulator.token_url, json=body).status_code == 200
        assert client.post(emulator.token_url, json=body).status_code == 429
        clock.advance(1)
        assert client.post(emulator.token_url, json=body).status_code == 200
