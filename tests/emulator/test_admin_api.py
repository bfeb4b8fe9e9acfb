"""The admin API under /__admin/ drives the emulator over HTTP, and only from loopback."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest

from m2m_contract.emulator import Emulator, Request

from .conftest import CLIENT_SECRET, Door

JSON = {"content-type": "application/json"}  # what every admin request that changes state sends


def test_post_fault_arms_it_and_get_lists_it(http_door: Door) -> None:
    fault = {"target": "token", "status": 503, "json": {"error": "temporarily_unavailable"},
             "headers": {"retry-after": "2"}, "times": 2}

    armed = http_door.client.post("/__admin/faults", json=fault)
    pending = http_door.client.get("/__admin/faults").json()

    assert armed.status_code == 201
    assert armed.json() == {
        "armed": [{"target": "token", "action": "respond", "status": 503, "delay": 0.0,
                   "times": 2}]
    }
    assert pending["faults"][0]["remaining"] == 2
    first = http_door.token_response()
    assert first.status_code == 503
    assert first.headers["retry-after"] == "2"
    assert http_door.client.get("/__admin/faults").json()["faults"][0]["remaining"] == 1


def test_post_a_list_of_faults_arms_them_in_order(http_door: Door) -> None:
    faults = [
        {"target": "token", "action": "non_json"},
        {"target": "token", "action": "refresh_token"},
        {"target": "api", "action": "drop", "times": None},
    ]

    assert http_door.client.post("/__admin/faults", json=faults).status_code == 201

    assert http_door.token_response().headers["content-type"].startswith("text/html")
    assert "refresh_token" in http_door.token_response().json()
    with pytest.raises(httpx.RemoteProtocolError):
        http_door.api("x")


def test_bad_fault_is_refused_with_400_and_nothing_is_armed(http_door: Door) -> None:
    faults = [{"target": "token", "status": 500}, {"target": "token", "status": 42}]

    response = http_door.client.post("/__admin/faults", json=faults)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "status must be an HTTP status from 200 to 599, not 42",
    }
    assert http_door.client.get("/__admin/faults").json() == {"faults": []}


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[" * 5000, b'{"target":"token","delay":1' + b"0" * 400 + b"}"],
    ids=["empty", "not-json", "deeply-nested", "huge-delay"],
)
def test_malformed_admin_body_is_400_not_500(http_door: Door, body: bytes) -> None:
    response = http_door.client.post("/__admin/faults", content=body, headers=JSON)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_delete_faults_disarms_everything(http_door: Door) -> None:
    http_door.client.post("/__admin/faults", json={"target": "token", "status": 500, "times": None})

    response = http_door.client.delete("/__admin/faults", headers=JSON)

    assert response.json() == {"faults": []}
    assert http_door.token_response().status_code == 200


def test_get_journal_returns_redacted_exchanges(http_door: Door) -> None:
    token = http_door.token()
    http_door.api(token)

    response = http_door.client.get("/__admin/journal")

    exchanges = response.json()["exchanges"]
    kinds = [(e["kind"], e["response"]["status"]) for e in exchanges]
    assert kinds == [("token", 200), ("api", 200)]
    assert exchanges[0]["request"]["method"] == "POST"
    assert exchanges[0]["request"]["path"] == "/oauth/token"
    text = response.text
    assert CLIENT_SECRET not in text
    assert token not in text
    assert token.split(".")[2] not in text
    assert "REDACTED" in text


def test_admin_requests_let_in_are_not_journaled(http_door: Door) -> None:
    http_door.client.get("/__admin/faults")
    http_door.client.get("/__admin/journal")

    assert http_door.client.get("/__admin/journal").json() == {
        "exchanges": [], "next": None, "held": 0, "dropped": 0, "unjournaled": 0
    }


def test_delete_journal_empties_it(http_door: Door) -> None:
    http_door.token()

    assert http_door.client.delete("/__admin/journal", headers=JSON).json() == {"exchanges": []}
    assert len(http_door.emulator.journal) == 0


def test_reset_forgets_faults_journal_and_revocations(http_door: Door) -> None:
    token = http_door.token()
    http_door.client.post("/__admin/revoke", json={"token": token})
    http_door.client.post("/__admin/faults", json={"target": "api", "status": 500, "times": None})

    response = http_door.client.post("/__admin/reset", headers=JSON)

    assert response.json() == {"reset": True}
    assert len(http_door.emulator.journal) == 0
    assert http_door.api(token).status_code == 200


def test_revoke_makes_the_api_reject_the_token(http_door: Door) -> None:
    token = http_door.token()

    response = http_door.client.post("/__admin/revoke", json={"token": token})

    assert response.json() == {"revoked": True}
    rejected = http_door.api(token)
    assert rejected.status_code == 401
    assert 'error="invalid_token"' in rejected.headers["www-authenticate"]


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 5}, ["x"]])
def test_revoke_without_a_token_is_400(http_door: Door, body: object) -> None:
    response = http_door.client.post("/__admin/revoke", json=body)

    assert response.status_code == 400
    assert "token" in response.json()["error_description"]


def test_clock_advance_expires_tokens(http_door: Door) -> None:
    token = http_door.token()
    before = http_door.clock.time()

    response = http_door.client.post("/__admin/clock", json={"advance": 86400})

    assert response.json() == {"time": before + 86400}
    assert http_door.api(token).status_code == 401


@pytest.mark.parametrize(
    "body",
    [b'{"advance": -1}', b'{"advance": "60"}', b'{"advance": true}', b'{"advance": 1e400}',
     b'{"advance": NaN}', b'{"advance": 1' + b"0" * 400 + b"}", b"{}"],
    ids=["negative", "string", "bool", "infinite", "nan", "huge-int", "missing"],
)
def test_bad_clock_advance_is_400_and_leaves_the_clock_usable(
    http_door: Door, body: bytes
) -> None:
    response = http_door.client.post("/__admin/clock", content=body, headers=JSON)

    assert response.status_code == 400
    assert "advance" in response.json()["error_description"]
    assert http_door.token_response().status_code == 200


def test_clock_advance_on_the_system_clock_is_409() -> None:
    emulator = Emulator()  # SystemClock

    response = emulator.handle(
        Request("POST", "/__admin/clock", headers=(("content-type", "application/json"),),
                body=b'{"advance": 1}')
    )

    assert response.status == 409


def test_keys_rotate_promotes_the_next_key_and_publishes_a_new_next_one(http_door: Door) -> None:
    keys = http_door.emulator.keys
    old_token = http_door.token()
    old_kid, next_kid = keys.signing_kid, keys.next_kid

    response = http_door.client.post("/__admin/keys/rotate", headers=JSON)

    assert response.json() == {"kid": next_kid, "next": keys.next_kid}
    jwks = http_door.client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [old_kid, next_kid, keys.next_kid]
    assert jwt.get_unverified_header(http_door.token())["kid"] == next_kid
    assert http_door.api(old_token).status_code == 200  # the previous key stays published


def test_unknown_admin_route_is_404_and_wrong_method_405(http_door: Door) -> None:
    assert http_door.client.get("/__admin/nothing").status_code == 404
    assert http_door.client.put("/__admin/faults", headers=JSON).status_code == 405
    assert http_door.client.get("/__admin/reset").status_code == 405


@pytest.mark.parametrize("host", ["10.0.0.5", "192.168.1.20", "2001:db8::1", "example.com", ""])
def test_admin_api_refuses_non_loopback_clients(host: str) -> None:
    emulator = Emulator()
    fault = json.dumps({"target": "token", "status": 500}).encode()

    for method, path, body in [
        ("POST", "/__admin/faults", fault),
        ("GET", "/__admin/journal", b""),
        ("POST", "/__admin/reset", b""),
        ("POST", "/__admin/keys/rotate", b""),
    ]:
        response = emulator.handle(Request(method, path, body=body, client_host=host))
        assert response.status == 403
        assert response.json()["error"] == "access_denied"
    assert emulator.faults.pending() == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
def test_admin_api_answers_loopback_clients(host: str) -> None:
    emulator = Emulator()

    response = emulator.handle(Request("GET", "/__admin/faults", client_host=host))

    assert response.status == 200
