"""Faults replace, delay, corrupt or drop answers, one-shot or sticky, through both doors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from m2m_contract.emulator import Fault, FaultError

from .conftest import Door


def test_one_shot_fault_answers_once_then_the_endpoint_recovers(door: Door) -> None:
    door.emulator.add_fault(
        Fault.respond(
            "token",
            503,
            json={"error": "temporarily_unavailable", "error_description": "Try later"},
            headers={"retry-after": "1"},
        )
    )

    faulted, recovered = door.token_response(), door.token_response()

    assert faulted.status_code == 503
    assert faulted.headers["retry-after"] == "1"
    assert faulted.headers["content-type"] == "application/json"
    assert faulted.json()["error"] == "temporarily_unavailable"
    assert recovered.status_code == 200
    assert [e.fault for e in door.emulator.journal.token_requests()] == ["respond", None]


def test_fault_with_times_applies_that_many_times(door: Door) -> None:
    door.emulator.add_fault(Fault.respond("token", 500, text="boom", times=2))

    statuses = [door.token_response().status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_sticky_fault_applies_until_cleared(door: Door) -> None:
    door.emulator.add_fault(Fault.respond("api", 401, json={"error": "invalid_token"}, times=None))
    token = door.token()

    statuses = [door.api(token).status_code for _ in range(4)]
    door.emulator.faults.clear()

    assert statuses == [401] * 4
    assert door.api(token).status_code == 200


def test_faults_are_used_in_the_order_they_were_armed(door: Door) -> None:
    door.emulator.add_fault(Fault.respond("token", 500, text="first"))
    door.emulator.add_fault(Fault.respond("token", 502, text="second"))

    bodies = [door.token_response().text for _ in range(3)]

    assert bodies[:2] == ["first", "second"]
    assert "access_token" in bodies[2]


def test_token_faults_leave_the_api_alone_and_vice_versa(door: Door) -> None:
    token = door.token()
    door.emulator.add_fault(Fault.respond("token", 500, text="token down"))

    assert door.api(token).status_code == 200
    assert door.token_response().status_code == 500


def test_html_fault_sends_a_text_html_body(door: Door) -> None:
    door.emulator.add_fault(Fault.html("token", 429, headers={"retry-after": "3"}))

    response = door.token_response()

    assert response.status_code == 429
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "3"
    assert response.text.startswith("<html>")


def test_fault_may_send_an_empty_204(door: Door) -> None:
    door.emulator.add_fault(Fault.respond("api", 204))

    response = door.api(None)

    assert response.status_code == 204
    assert response.content == b""
    assert door.client.get("/healthz").status_code == 200  # the connection is still sound


def test_delay_fault_answers_normally_after_the_delay(door: Door) -> None:
    door.emulator.add_fault(Fault.delayed("token", 0.01))
    door.emulator.add_fault(Fault.delayed("api", 0.01))

    token = door.token()

    assert door.api(token).status_code == 200
    assert [e.fault for e in door.emulator.journal] == ["pass", "pass"]


def test_respond_fault_can_be_delayed(door: Door) -> None:
    door.emulator.add_fault(Fault.respond("token", 500, text="slow", delay=0.01))

    assert door.token_response().text == "slow"


def test_non_json_fault_answers_200_with_an_html_body(door: Door) -> None:
    door.emulator.add_fault(Fault.malformed("non_json"))

    response = door.token_response()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_no_access_token_fault_drops_the_token(door: Door) -> None:
    door.emulator.add_fault(Fault.malformed("no_access_token"))

    body = door.token_response().json()

    assert "access_token" not in body
    assert body["token_type"] == "Bearer"


def test_wrong_token_type_fault_says_mac(door: Door) -> None:
    door.emulator.add_fault(Fault.malformed("wrong_token_type"))

    body = door.token_response().json()

    assert body["token_type"] == "mac"
    assert body["access_token"]


def test_refresh_token_fault_adds_a_spurious_refresh_token_once(door: Door) -> None:
    door.emulator.add_fault(Fault.refresh_token())

    first, second = door.token_response().json(), door.token_response().json()

    assert isinstance(first["refresh_token"], str) and first["refresh_token"]
    assert first["access_token"]
    assert "refresh_token" not in second


def test_malformed_fault_leaves_an_error_answer_alone(door: Door) -> None:
    door.emulator.add_fault(Fault.malformed("non_json"))

    response = door.token_response(client_secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "access_denied"


def test_dropped_token_connection_raises_remote_protocol_error(door: Door) -> None:
    door.emulator.add_fault(Fault.drop("token"))

    with pytest.raises(httpx.RemoteProtocolError):
        door.token_response()

    assert door.token_response().status_code == 200
    assert door.emulator.journal.token_requests()[0].fault == "drop"


def test_dropped_api_connection_raises_remote_protocol_error(door: Door) -> None:
    token = door.token()
    door.emulator.add_fault(Fault.drop("api", times=2))

    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            door.api(token)

    assert door.api(token).status_code == 200


def test_async_client_gets_faults_and_tokens(inprocess_door: Door) -> None:
    import asyncio

    from m2m_contract.emulator import EmulatorTransport

    emulator = inprocess_door.emulator
    emulator.add_fault(Fault.respond("token", 503, text="busy", delay=0.01))

    async def two_requests() -> list[int]:
        transport = EmulatorTransport(emulator)
        async with httpx.AsyncClient(transport=transport, base_url=emulator.base_url) as client:
            body = {"client_id": "demo-client", "client_secret": "demo-secret",
                    "grant_type": "client_credentials"}
            return [(await client.post("/oauth/token", json=body)).status_code for _ in range(2)]

    assert asyncio.run(two_requests()) == [503, 200]


# -- describing faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Fault("nowhere", "respond"), "target must be one of token, api"),  # type: ignore[arg-type]
        (lambda: Fault("token", "explode"), "action must be one of"),  # type: ignore[arg-type]
        (lambda: Fault.respond("token", 99), "status must be an HTTP status from 200 to 599"),
        (lambda: Fault.respond("token", 100), "from 200 to 599"),
        (lambda: Fault.respond("token", 204, text="x"), "a 204 answer has no body"),
        (lambda: Fault.respond("token", 500, headers={"x": "a\r\nb"}), "header 'x'"),
        (lambda: Fault.respond("token", 500, headers={"bad name": "v"}), "HTTP token"),
        (lambda: Fault.respond("token", 500, headers={"x": "€"}), "printable ASCII"),
        (lambda: Fault.delayed("token", -1), "delay must be from 0 to 300"),
        (lambda: Fault.drop("api", times=0), "times must be a positive count"),
        (lambda: Fault("api", "non_json"), "applies to the token endpoint only"),
        (lambda: Fault.malformed("refresh_token"), "malformed kind must be one of"),
        (lambda: Fault.respond("token", 500, json={1, 2}), "not JSON-serialisable"),
    ],
)
def test_impossible_fault_raises_fault_error(make: Any, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        make()


def test_from_json_builds_the_same_faults_as_python() -> None:
    assert Fault.from_json(
        {"target": "token", "status": 503, "json": {"error": "x"}, "headers": {"retry-after": "2"}}
    ) == Fault.respond("token", 503, json={"error": "x"}, headers={"retry-after": "2"})
    assert Fault.from_json({"target": "api", "action": "drop", "times": None}) == Fault.drop(
        "api", times=None
    )
    assert Fault.from_json({"target": "token", "action": "pass", "delay": 0.5}) == Fault.delayed(
        "token", 0.5
    )
    assert Fault.from_json({"target": "token", "action": "non_json"}) == Fault.malformed(
        "non_json"
    )
    assert Fault.from_json({"target": "token", "status": 502, "html": "<p>x</p>"}).headers == (
        ("content-type", "text/html; charset=utf-8"),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "a fault must be a JSON object"),
        ({"target": "token", "colour": "red"}, "unknown fault field"),
        ({"target": "token", "status": "500"}, "status must be an integer"),
        ({"target": "token", "status": True}, "status must be an integer"),
        ({"target": "token", "delay": "1"}, "delay must be a number"),
        ({"target": "token", "delay": 10**400}, "delay must be from 0 to 300"),
        ({"target": "token", "delay": float("nan")}, "delay must be from 0 to 300"),
        ({"target": "token", "times": 1.5}, "times must be an integer or null"),
        ({"target": "token", "headers": {"x": 1}}, "headers must be an object of strings"),
        ({"target": "token", "text": 5}, "text must be a string"),
        ({"action": "drop"}, "target must be one of"),
    ],
)
def test_bad_fault_json_raises_fault_error(data: Any, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        Fault.from_json(data)


def test_reset_connection_raises_a_read_error_and_is_journaled_unanswered(door: Door) -> None:
    door.emulator.add_fault(Fault.reset("token"))

    with pytest.raises(httpx.ReadError):
        door.token_response()

    assert door.token_response().status_code == 200
    first, second = door.emulator.journal.token_requests()
    assert (first.fault, first.response.fate, first.answered) == ("reset", "reset", None)
    assert second.answered is not None and second.answered >= second.at


def test_stalled_request_gets_no_answer_before_the_client_gives_up(door: Door) -> None:
    door.emulator.add_fault(Fault.stall("token"))

    with pytest.raises(httpx.ReadTimeout):
        door.client.post("/oauth/token", json={"grant_type": "client_credentials"}, timeout=0.3)

    assert door.token_response().status_code == 200
    stalled = door.emulator.journal.token_requests()[0]
    assert (stalled.fault, stalled.answered) == ("stall", None)
    assert stalled.params == {"grant_type": "client_credentials"}  # it was read, then held


def test_stopping_the_server_releases_a_stalled_connection_at_once() -> None:
    import threading
    import time

    from m2m_contract.emulator import Emulator, EmulatorServer

    emulator = Emulator()
    outcome: list[str] = []
    with EmulatorServer(emulator) as server:
        emulator.add_fault(Fault.stall("token", times=None))

        def client() -> None:
            try:
                httpx.post(f"{server.base_url}/oauth/token", json={}, timeout=30)
                outcome.append("answered")
            except httpx.HTTPError as exc:
                outcome.append(type(exc).__name__)

        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        deadline = time.monotonic() + 5
        while not emulator.journal.token_requests() and time.monotonic() < deadline:
            time.sleep(0.01)
        stopping = time.monotonic()
    thread.join(5)
    assert time.monotonic() - stopping < 3
    assert outcome and outcome[0] != "answered"


def test_rate_limited_fault_dates_its_headers_when_it_answers(door: Door) -> None:
    door.emulator.add_fault(Fault.rate_limited(retry_after=2))
    door.clock.advance(100.5)

    limited = door.token_response()

    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert limited.headers["retry-after"] == "2"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) == int(door.clock.time() + 2) + 1
    assert door.token_response().status_code == 200


def test_rate_limited_fault_from_json_keeps_its_retry_after() -> None:
    fault = Fault.from_json({"target": "token", "action": "rate_limited", "retry_after": 7})
    assert (fault.status, fault.retry_after) == (429, 7)
    with pytest.raises(FaultError, match="token endpoint only"):
        Fault.from_json({"target": "api", "action": "rate_limited"})
    with pytest.raises(FaultError, match="retry_after must be"):
        Fault.rate_limited(retry_after=10**6)


def test_the_api_can_count_a_tokens_life_from_the_instant_it_was_issued(door: Door) -> None:
    from dataclasses import replace

    from m2m_contract.emulator import default_tenant

    tenant = default_tenant()
    api = replace(tenant.apis[0], token_lifetime=10)
    door.use_tenant(replace(tenant, apis=(api,), api_expiry="issued", api_leeway=2.0))
    door.clock.advance(0.75)  # iat is stamped 0.75 s early, so exp is too
    token = door.token()

    door.clock.advance(11.9)  # 9.9 s past exp, 1.9 s past the lifetime counted from issue
    accepted = door.api(token)
    door.clock.advance(0.1)
    refused = door.api(token)

    assert accepted.status_code == 200
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers[
        "www-authenticate"
    ]
