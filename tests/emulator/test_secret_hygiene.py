"""No secret and no token in logs, the journal's printed form, reprs or error messages."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from m2m_contract.emulator import (
    Client,
    Fault,
    Request,
    Response,
    Tenant,
    default_tenant,
)
from m2m_contract.emulator._token_request import parse_token_request

from .conftest import AUDIENCE, Door

SECRET = "s3cr3t-Value:with%25odd+chars"
CLIENT = "hygiene-client"


def forbidden(tokens: list[str]) -> list[str]:
    """Everything that must never be printed: the secret, its encodings, tokens and parts."""
    basic = base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
    values = [SECRET, "s3cr3t-Value", basic]
    for token in tokens:
        values += [token, token.split(".")[2]]
    return values


def assert_clean(text: str, tokens: list[str]) -> None:
    for value in forbidden(tokens):
        assert value not in text, f"{value[:12]}... leaked"


def tenant() -> Tenant:
    base = default_tenant()
    return replace(
        base,
        clients=(*base.clients, Client(CLIENT, SECRET, grants={AUDIENCE: base.apis[0].scopes})),
    )


def traffic(door: Door) -> list[str]:
    """Send every kind of request carrying the secret; return the tokens obtained."""
    door.use_tenant(tenant())
    body = {"client_id": CLIENT, "client_secret": SECRET, "grant_type": "client_credentials"}
    tokens = [door.client.post("/oauth/token", json=body).json()["access_token"]]
    tokens.append(door.client.post("/oauth/token", data=body).json()["access_token"])
    basic = door.client.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, auth=(CLIENT, SECRET)
    )
    assert basic.status_code == 401  # the secret's '%25' is not form-encoded by httpx
    door.emulator.add_fault(Fault.refresh_token())
    tokens.append(door.client.post("/oauth/token", json=body).json()["access_token"])
    # Mistakes a client might make: secret and token in the query, path and odd headers.
    door.client.post("/oauth/token", params={"client_secret": SECRET}, json=body)
    door.client.get(f"/api/members/{SECRET}", headers={"x-client-secret": SECRET})
    door.client.get(f"/api/{tokens[0]}", params={"access_token": tokens[0]})
    door.client.post("/oauth/token", json={**body, "client_secret": SECRET + "x"})
    door.client.post("/oauth/token", json=body, auth=(CLIENT, SECRET))  # both at once
    door.client.post("/oauth/token", content=json.dumps(body).encode() + b"{")
    for token in tokens:
        assert door.api(token).status_code == 200
    door.emulator.add_fault(Fault.drop("api"))
    with pytest.raises(httpx.RemoteProtocolError):
        door.api(tokens[0])
    return tokens


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger at DEBUG, uvicorn's own (which do not propagate) included."""
    caplog.set_level(logging.DEBUG)
    # Not uvicorn.access: the emulator turns it off (a handler attached here would turn it
    # back on, and an access log prints every URL a client sends).
    names = ["uvicorn", "uvicorn.error", "uvicorn.asgi", "m2m_contract", "httpx", "httpcore"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(caplog.handler)
        logger.setLevel(logging.DEBUG)
    yield caplog
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)


def test_logs_hold_no_secret_or_token(door: Door, all_logs: pytest.LogCaptureFixture) -> None:
    tokens = traffic(door)

    # httpx and httpcore log for the client, which put the secret in a URL on purpose; the
    # emulator's side (uvicorn, m2m_contract) must never log one, whatever the client sends.
    client_side = ("httpx", "httpcore")
    server_side = [r for r in all_logs.records if not r.name.startswith(client_side)]
    assert_clean("\n".join(r.getMessage() for r in server_side), tokens)


def test_well_behaved_exchange_logs_no_secret_anywhere(
    door: Door, all_logs: pytest.LogCaptureFixture
) -> None:
    door.use_tenant(tenant())
    body = {"client_id": CLIENT, "client_secret": SECRET, "grant_type": "client_credentials"}
    token = door.client.post("/oauth/token", json=body).json()["access_token"]
    door.api(token)
    door.client.post("/oauth/token", json={**body, "client_secret": "wrong"})

    assert all_logs.records  # httpx and httpcore did log at DEBUG
    assert_clean(all_logs.text, [token])


def test_journal_printed_form_holds_no_secret_or_token(door: Door) -> None:
    tokens = traffic(door)

    printed = json.dumps(door.emulator.journal.printable())

    assert_clean(printed, tokens)
    assert "REDACTED" in printed
    assert "hygiene-client" in printed  # the client id is not a secret


def test_admin_journal_holds_no_secret_or_token(http_door: Door) -> None:
    tokens = traffic(http_door)

    assert_clean(http_door.client.get("/__admin/journal").text, tokens)


def test_reprs_hold_no_secret_or_token(door: Door) -> None:
    tokens = traffic(door)
    journal = door.emulator.journal

    texts = [repr(journal), str(journal), repr(door.emulator.tenant), repr(door.emulator.keys)]
    for exchange in journal:
        texts += [repr(exchange), str(exchange), repr(exchange.request), repr(exchange.response)]
    texts.append(repr(tenant().client(CLIENT)))

    assert_clean("\n".join(texts), tokens)


def test_request_repr_hides_headers_body_and_tokens_in_the_path() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    request = Request(
        "POST",
        f"/api/{token}",
        query_string=f"client_secret={SECRET}",
        headers=(("authorization", f"Bearer {token}"),),
        body=json.dumps({"client_secret": SECRET}).encode(),
    )

    assert_clean(repr(request), [token])
    assert repr(Response(200, [], b'{"access_token":"x"}')) == "Response(200, 20 bytes)"


def test_parsed_token_request_repr_hides_the_secret() -> None:
    body = json.dumps({"client_id": CLIENT, "client_secret": SECRET}).encode()

    parsed = parse_token_request(
        Request("POST", "/oauth/token", headers=(("content-type", "application/json"),), body=body)
    )

    assert parsed.client_secret == SECRET
    assert_clean(repr(parsed), [])


def test_error_answers_never_echo_the_secret(door: Door) -> None:
    door.use_tenant(tenant())
    good = {"client_id": CLIENT, "client_secret": SECRET, "grant_type": "client_credentials"}
    bad_requests = [
        {**good, "client_secret": SECRET[:-1]},
        {**good, "grant_type": "password"},
        {**good, "scope": "admin"},
        {**good, "audience": "https://nowhere/"},
        {**good, "scope": 5},
        {**good, "grant_type": None},
    ]

    texts = [door.client.post("/oauth/token", json=b).text for b in bad_requests]
    texts.append(door.client.post("/oauth/token", json=good, auth=(CLIENT, SECRET)).text)
    texts.append(
        door.client.post(
            "/oauth/token", content=json.dumps(good).encode(), headers={"content-type": "x/y"}
        ).text
    )

    assert_clean("\n".join(texts), [])


def test_http_door_writes_no_access_log(http_door: Door, caplog: pytest.LogCaptureFixture) -> None:
    # An access log would print every URL, with any secret or token a client put there.
    caplog.set_level(logging.DEBUG)

    http_door.client.get("/api/members", params={"access_token": "eyJx.eyJy.z", "s": SECRET})

    assert [r for r in caplog.records if r.name.startswith("uvicorn")] == []
