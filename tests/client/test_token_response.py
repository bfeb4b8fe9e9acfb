"""Token responses are validated; refusals become typed errors; refresh tokens are ignored."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from m2m_contract.client import (
    AccessDeniedError,
    InvalidClientError,
    MalformedTokenResponseError,
    ScopeNotGrantedError,
    TokenRequestError,
)
from m2m_contract.client._token import parse_token
from m2m_contract.emulator import Api, Fault, default_tenant

from .conftest import Mode, Rig

GOOD = {"access_token": "abc.def.ghi", "token_type": "Bearer", "expires_in": 86400}


@pytest.mark.parametrize(
    ("changes", "expires_in"),
    [
        ({}, 86400.0),
        ({"token_type": "bearer"}, 86400.0),
        ({"token_type": "BEARER"}, 86400.0),
        ({"expires_in": "3600"}, 3600.0),
        ({"expires_in": " 60 "}, 60.0),
        ({"expires_in": 1.5}, 1.5),
        ({"scope": "read:members", "refresh_token": "r", "id_token": "x"}, 86400.0),
    ],
)
def test_valid_token_response_is_accepted(changes: dict[str, Any], expires_in: float) -> None:
    token = parse_token(json.dumps({**GOOD, **changes}).encode(), "application/json", 7.0)
    assert (token.access_token, token.expires_in, token.obtained_at) == (
        "abc.def.ghi", expires_in, 7.0)
    assert token.expires_at == 7.0 + expires_in
    assert token.authorization == "Bearer abc.def.ghi"
    assert not hasattr(token, "refresh_token")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>OK</html>", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (b'"token"', "JSON str"),
        (json.dumps({**GOOD, "access_token": None}).encode(), "missing"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "access_token"}).encode(), "missing"),
        (json.dumps({**GOOD, "access_token": ""}).encode(), "empty"),
        (json.dumps({**GOOD, "access_token": 12345}).encode(), "not a string"),
        (json.dumps({**GOOD, "access_token": "two words"}).encode(), "spaces"),
        (json.dumps({**GOOD, "access_token": "line\nbreak"}).encode(), "spaces"),
        (json.dumps({**GOOD, "access_token": "caf\u00e9"}).encode(), "printable ASCII"),
        (json.dumps({**GOOD, "token_type": "mac"}).encode(), "'mac'"),
        (json.dumps({**GOOD, "token_type": "Bearer "}).encode(), "token_type"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "token_type"}).encode(), "missing"),
        (json.dumps({**GOOD, "expires_in": 0}).encode(), "expires_in"),
        (json.dumps({**GOOD, "expires_in": -60}).encode(), "expires_in"),
        (json.dumps({**GOOD, "expires_in": "soon"}).encode(), "expires_in"),
        (json.dumps({**GOOD, "expires_in": True}).encode(), "expires_in"),
        (json.dumps({**GOOD, "expires_in": None}).encode(), "expires_in"),
        (b'{"access_token":"a","token_type":"Bearer","expires_in":NaN}', "expires_in"),
        # a 400-digit integer: too big for a float, it used to escape as an OverflowError
        (b'{"access_token":"a","token_type":"Bearer","expires_in":1' + b"0" * 400 + b"}",
         "expires_in"),
        (json.dumps({**GOOD, "expires_in": "\uff16\uff10"}).encode(), "expires_in"),  # fullwidth
        (json.dumps({k: v for k, v in GOOD.items() if k != "expires_in"}).encode(), "expires_in"),
    ],
)
def test_unusable_token_response_is_a_malformed_token_response_error(
    body: bytes, match: str
) -> None:
    with pytest.raises(MalformedTokenResponseError, match=match) as caught:
        parse_token(body, "application/json", 0.0)
    assert "abc.def.ghi" not in str(caught.value)


@pytest.mark.parametrize("kind", ["non_json", "no_access_token", "wrong_token_type"])
def test_malformed_answer_from_the_emulator_sends_no_api_request(
    rig: Rig, mode: Mode, kind: Any
) -> None:
    rig.emu.add_fault(Fault.malformed(kind))
    with pytest.raises(MalformedTokenResponseError):
        rig.get(rig.auth(), mode)
    assert len(rig.tokens()) == 1  # a 200 is not retried: it would mint another token
    assert rig.apis() == []


def test_token_repr_never_shows_the_access_token(rig: Rig) -> None:
    token = rig.auth().get_token()
    assert token.access_token not in repr(token)
    assert token.access_token not in str(token)
    assert "expires_in=86400" in repr(token)


def test_spurious_refresh_token_is_ignored_and_expiry_refetches_with_client_credentials(
    rig: Rig, mode: Mode
) -> None:
    rig.emu.tenant = dataclasses.replace(
        default_tenant(), apis=(Api(default_tenant().apis[0].identifier,
                                    default_tenant().apis[0].scopes, token_lifetime=60),))
    rig.emu.add_fault(Fault.refresh_token(times=None))
    auth = rig.auth(scope="read:members offline_access")
    for _ in range(3):
        assert rig.get(auth, mode).status_code == 200
        rig.clock.advance(61)
    assert len(rig.tokens()) == 3
    for exchange in rig.tokens():
        assert exchange.params is not None
        assert exchange.params["grant_type"] == "client_credentials"
        assert "refresh_token" not in exchange.params
        assert "refresh_token" in exchange.response.json()  # it was offered every time


def test_wrong_secret_is_an_invalid_client_error_and_never_retried(rig: Rig, mode: Mode) -> None:
    with pytest.raises(InvalidClientError) as caught:
        rig.get(rig.auth(client_secret="not-the-secret"), mode)
    error = caught.value
    assert (error.status, error.error, error.description) == (401, "access_denied", "Unauthorized")
    assert "check the client id and secret" in str(error)
    assert isinstance(error, TokenRequestError)
    assert len(rig.tokens()) == 1 and rig.apis() == [] and rig.sleeps == []


def test_scope_not_granted_names_the_missing_scopes(rig: Rig, mode: Mode) -> None:
    with pytest.raises(ScopeNotGrantedError) as caught:
        rig.token(rig.auth(scope="read:members admin:all delete:all"), mode)
    assert caught.value.scopes == ("admin:all", "delete:all")
    assert caught.value.status == 403
    assert isinstance(caught.value, AccessDeniedError)
    assert len(rig.tokens()) == 1 and rig.sleeps == []


def test_unknown_audience_is_access_denied_not_a_scope_problem(rig: Rig, mode: Mode) -> None:
    with pytest.raises(AccessDeniedError) as caught:
        rig.token(rig.auth(audience="https://elsewhere.example/"), mode)
    assert not isinstance(caught.value, ScopeNotGrantedError)
    assert "Service not enabled within domain" in str(caught.value)
    assert len(rig.tokens()) == 1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_request", "error_description": "Missing client_id"},
         TokenRequestError),
        (400, {"error": "invalid_scope", "error_description": "bad"}, ScopeNotGrantedError),
        (401, {"error": "invalid_client"}, InvalidClientError),
        (400, {"error": "invalid_client"}, InvalidClientError),
        (403, {"error": "unauthorized_client"}, AccessDeniedError),
        (404, None, TokenRequestError),
        (302, None, TokenRequestError),
    ],
)
def test_refusal_maps_to_a_typed_error_without_retry(
    rig: Rig, mode: Mode, status: int, body: Any, error: type[Exception]
) -> None:
    rig.emu.add_fault(Fault.respond("token", status, json=body, text=None if body else "no"))
    with pytest.raises(error):
        rig.get(rig.auth(), mode)
    assert len(rig.tokens()) == 1 and rig.apis() == [] and rig.sleeps == []


def test_server_text_quoted_in_an_error_is_redacted_and_trimmed(rig: Rig) -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    description = f"secret demo-secret and token {jwt_like} " + "x" * 500
    rig.emu.add_fault(Fault.respond("token", 400, json={"error": "invalid_request",
                                                        "error_description": description}))
    with pytest.raises(TokenRequestError) as caught:
        rig.auth().get_token()
    text = str(caught.value)
    assert "demo-secret" not in text and jwt_like not in text
    assert "REDACTED" in text and len(text) < 400
