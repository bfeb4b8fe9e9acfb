"""With an admin token set (as `verify` sets a random one its client never sees), a loopback
client without it cannot use the admin API, and every admin request refused is journaled as
a request to a path of no route, so that whoever judges the client sees it was sent."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from m2m_contract._secrets import Known
from m2m_contract.emulator import Emulator, EmulatorServer, FakeClock, Fault

from .conftest import token_body

TOKEN = "an-admin-token-the-client-never-sees"
JSON = {"content-type": "application/json"}
SECRET = "demo-secret"


@pytest.fixture
def locked() -> Iterator[tuple[EmulatorServer, httpx.Client]]:
    with (
        EmulatorServer(Emulator(clock=FakeClock()), admin_token=TOKEN) as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        yield server, client


def test_a_loopback_client_without_the_token_cannot_wipe_the_journal_or_the_faults(
    locked: tuple[EmulatorServer, httpx.Client],
) -> None:
    server, client = locked
    emulator = server.emulator
    emulator.add_fault(Fault.respond("token", 503))
    client.post(f"/oauth/token?client_secret={SECRET}", json=token_body())

    faults = client.delete("/__admin/faults", headers=JSON)
    journal = client.delete("/__admin/journal", headers=JSON)

    assert faults.status_code == journal.status_code == 401
    assert emulator.faults.pending() == []  # the one armed was used, not disarmed
    kinds = [(e.kind, e.refused, e.response.status) for e in emulator.journal]
    assert kinds == [("token", None, 503), ("other", "admin", 401), ("other", "admin", 401)]
    assert [e.request.method for e in emulator.journal][1:] == ["DELETE", "DELETE"]


def test_an_armed_fault_survives_a_refused_delete(
    locked: tuple[EmulatorServer, httpx.Client],
) -> None:
    server, client = locked
    server.emulator.add_fault(Fault.respond("token", 503, times=None))

    client.delete("/__admin/faults", headers=JSON)

    assert len(server.emulator.faults.pending()) == 1


def test_a_secret_sent_to_the_admin_api_is_journaled_where_it_can_be_found(
    locked: tuple[EmulatorServer, httpx.Client],
) -> None:
    server, client = locked

    refused = client.get("/__admin/journal", params={"s": SECRET})

    assert refused.status_code == 401
    (exchange,) = server.emulator.journal.snapshot()
    assert (exchange.kind, exchange.refused) == ("other", "admin")
    assert exchange.request.path == "/__admin/journal"
    assert Known(secrets=[("a client secret", SECRET)]).find(exchange.request.query_string)
    assert SECRET not in str(exchange.printable())  # the printed form stays redacted


def test_the_admin_token_lets_a_request_in_and_leaves_it_unjournaled(
    locked: tuple[EmulatorServer, httpx.Client],
) -> None:
    server, client = locked

    page = client.get("/__admin/journal", headers={"authorization": f"Bearer {TOKEN}"})

    assert page.status_code == 200
    assert len(server.emulator.journal) == 0


def test_a_wrong_admin_token_is_refused_and_journaled_without_showing_it(
    locked: tuple[EmulatorServer, httpx.Client],
) -> None:
    server, client = locked

    refused = client.post("/__admin/reset", headers={**JSON, "authorization": "Bearer guess"})

    assert refused.status_code == 401
    (exchange,) = server.emulator.journal.snapshot()
    assert exchange.refused == "admin"
    assert "guess" not in str(exchange.printable())
