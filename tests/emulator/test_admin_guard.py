"""The admin API's lock: no cross-site request, no rebound Host, no forged peer, and a token
whenever the server listens beyond loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from m2m_contract.emulator import (
    AdminAccess,
    Emulator,
    EmulatorApp,
    EmulatorServer,
    FakeClock,
    Request,
)

from .conftest import Door

FAULT = {"target": "token", "action": "respond", "status": 307, "times": None,
         "headers": {"Location": "https://attacker.example/oauth/token"}}  # fmt: skip
JSON = {"content-type": "application/json"}
TOKEN = "a-long-enough-admin-token"


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (to connect from a non-loopback peer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_mutation_not_sent_as_json_is_refused_and_arms_nothing(
    door: Door, content_type: str | None
) -> None:
    # What a web page can send anywhere without the browser asking the server first.
    headers = {"content-type": content_type} if content_type else {}

    response = door.client.post("/__admin/faults", content=json.dumps(FAULT), headers=headers)

    assert response.status_code == 415
    assert "application/json" in response.json()["error_description"]
    assert door.emulator.faults.pending() == []
    assert door.token_response().status_code == 200


def test_a_reset_without_json_is_refused_too(door: Door) -> None:
    door.token()

    refused = door.client.post("/__admin/reset")

    assert refused.status_code == 415
    kept, journaled = door.emulator.journal.snapshot()  # not reset; the refusal, as a stray
    assert kept.kind == "token"
    assert (journaled.kind, journaled.refused, journaled.response.status) == ("other", "admin", 415)


@pytest.mark.parametrize(
    "origin", ["https://attacker.example", "null", "http://127.0.0.1:1", "http://localhost.evil"]
)
def test_a_request_from_a_foreign_origin_is_refused(door: Door, origin: str) -> None:
    response = door.client.post(
        "/__admin/faults", json=FAULT, headers={"origin": origin}
    )

    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert door.emulator.faults.pending() == []


def test_a_request_from_the_servers_own_origin_is_answered(door: Door) -> None:
    origin = str(door.client.base_url).rstrip("/")

    response = door.client.get("/__admin/faults", headers={"origin": origin})

    assert response.status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8080", "10.0.0.1"])
def test_over_http_a_rebound_host_is_refused(http_door: Door, host: str) -> None:
    # DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends its Host.
    response = http_door.client.post("/__admin/faults", json=FAULT, headers={"host": host})

    assert response.status_code == 403
    assert "Host" in response.json()["error_description"]
    assert http_door.emulator.faults.pending() == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"])
def test_over_http_loopback_host_names_are_answered(http_door: Door, host: str) -> None:
    port = http_door.client.base_url.port

    response = http_door.client.get("/__admin/faults", headers={"host": f"{host}:{port}"})

    assert response.status_code == 200


@pytest.mark.parametrize("peer", ["", "10.0.0.5", "192.0.2.2", "::ffff:10.1.2.3"])
def test_in_process_a_request_from_no_or_a_foreign_peer_is_refused(peer: str) -> None:
    emulator = Emulator()

    response = emulator.handle(
        Request("POST", "/__admin/faults", headers=tuple(JSON.items()),
                body=json.dumps(FAULT).encode(), client_host=peer)
    )  # fmt: skip

    assert response.status == 403
    assert emulator.faults.pending() == []


def _asgi_call(app: EmulatorApp, scope: dict[str, Any]) -> tuple[int, bytes]:
    """Call the HTTP door's ASGI app directly, as uvicorn does, and collect the answer."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("client", [None, ("10.0.0.5", 40000)], ids=["unknown", "remote"])
def test_the_http_door_judges_the_socket_peer_not_forwarding_headers(
    client: tuple[str, int] | None,
) -> None:
    app = EmulatorApp(Emulator())
    forged = [(b"x-forwarded-for", b"127.0.0.1"), (b"forwarded", b"for=127.0.0.1"),
              (b"x-real-ip", b"127.0.0.1")]  # fmt: skip
    scope = {"type": "http", "method": "GET", "path": "/__admin/journal", "query_string": b"",
             "headers": forged, "client": client}  # fmt: skip
    try:
        status, body = _asgi_call(app, scope)
    finally:
        app.close()

    assert status == 403
    assert json.loads(body)["error_description"] == "The admin API is loopback-only"


def test_forwarding_headers_never_change_the_peer_even_with_forwarded_allow_ips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn trusts every proxy with this
    forged = {"x-forwarded-for": "127.0.0.1", "forwarded": "for=127.0.0.1"}
    emulator = Emulator(clock=FakeClock())
    with EmulatorServer(emulator, host="0.0.0.0", admin_token=TOKEN) as server:
        root = f"http://{address}:{server.port}"
        health = httpx.get(f"{root}/healthz", headers=forged)
        forwarded = httpx.get(f"{root}/__admin/faults", headers=forged)
        bearer = {"authorization": f"Bearer {TOKEN}"}
        with_token = httpx.get(f"{root}/__admin/faults", headers=bearer)

    assert health.status_code == 200
    assert emulator.journal.snapshot()[-1].request.client_host == address  # the socket's peer
    assert forwarded.status_code == 401
    assert with_token.status_code == 200


def test_listening_beyond_loopback_without_a_token_turns_the_admin_api_off() -> None:
    with EmulatorServer(Emulator(clock=FakeClock()), host="0.0.0.0") as server:
        local = httpx.get(f"{server.base_url}/__admin/faults")
        health = httpx.get(f"{server.base_url}/healthz")

    assert server.base_url.startswith("http://127.0.0.1:")
    assert local.status_code == 403
    assert "no admin token" in local.json()["error_description"]
    assert health.status_code == 200


def test_with_a_token_the_admin_api_needs_it_from_loopback_too() -> None:
    with EmulatorServer(Emulator(clock=FakeClock()), admin_token=TOKEN) as server:
        url = f"{server.base_url}/__admin/faults"
        without = httpx.get(url)
        wrong = httpx.get(url, headers={"authorization": "Bearer wrong-token-of-some-length"})
        basic = httpx.get(url, auth=("admin", TOKEN))
        right = httpx.post(url, json=FAULT, headers={"authorization": f"Bearer {TOKEN}"})
        armed = server.emulator.faults.pending()

    assert [r.status_code for r in (without, wrong, basic)] == [401, 401, 401]
    assert right.status_code == 201 and len(armed) == 1
    assert TOKEN not in without.text


def test_admin_access_never_shows_its_token() -> None:
    assert TOKEN not in repr(AdminAccess(token=TOKEN))
