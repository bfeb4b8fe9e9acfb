"""Secret hygiene on constructed traffic: every part of every request is searched (URLs,
each header and its name, bodies) of token requests, API calls and anything else the client
sent, and the messages say where without showing the value."""

from __future__ import annotations

import base64
import json

from m2m_contract.contract import CATALOGUE, Observation, Outcome, ProtocolSettings, observe
from m2m_contract.emulator import Exchange, Request, Response
from m2m_contract.emulator._journal import Kind

SECRET = "s3cr3t-value-0123456789"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
SETTINGS = ProtocolSettings("http://127.0.0.1:1/oauth/token", "client", SECRET, "read:members")
BODY = json.dumps(
    {"client_id": "client", "client_secret": SECRET, "grant_type": "client_credentials"}
).encode()
ISSUED = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 86400})


def _token(seq: int, headers: tuple[tuple[str, str], ...] = (), body: bytes = BODY) -> Exchange:
    request = Request("POST", "/oauth/token", "", (("content-type", "application/json"),
                                                    *headers), body)
    return Exchange(seq, "token", 0.1 * seq, request, Response(200, [], ISSUED.encode()))


def _api(seq: int, headers: tuple[tuple[str, str], ...] = (), body: bytes = b"",
         query: str = "") -> Exchange:
    request = Request("GET", "/api/members", query,
                      (("authorization", f"Bearer {TOKEN}"), *headers), body)
    return Exchange(seq, "api", 0.1 * seq, request, Response(200, [], b"{}"))


def _other(seq: int, kind: Kind, path: str, query: str = "",
           headers: tuple[tuple[str, str], ...] = (), body: bytes = b"") -> Exchange:
    request = Request("POST" if body else "GET", path, query, headers, body)
    return Exchange(seq, kind, 0.1 * seq, request, Response(401 if kind == "admin" else 200, [],
                                                            b"{}"))


def _judge(*exchanges: Exchange) -> dict[str, tuple[bool | None, str]]:
    obs: Observation = observe("happy-path", SETTINGS, exchanges, Outcome(0))
    ids = ("secret-not-in-url", "secret-not-in-api-request", "token-not-in-url",
           "token-only-in-authorization", "token-request-path")
    results = {i: CATALOGUE[i].judge(obs) for i in ids}
    for result in results.values():
        assert SECRET not in result.message and TOKEN not in result.message
    return {i: (r.ok, r.message) for i, r in results.items()}


def _failing(results: dict[str, tuple[bool | None, str]]) -> set[str]:
    return {i for i, (ok, _) in results.items() if ok is False}


def test_a_secret_in_the_body_or_basic_header_of_a_token_request_and_a_bearer_token_pass() -> None:
    basic = "Basic " + base64.b64encode(f"client:{SECRET}".encode()).decode()
    assert _failing(_judge(_token(1), _token(2, (("authorization", basic),)), _api(3))) == set()


def test_a_secret_sent_with_a_request_for_the_discovery_document_fails() -> None:
    basic = "Basic " + base64.b64encode(f"client:{SECRET}".encode()).decode()
    for headers, body in (((("authorization", basic),), b""), ((("x-debug", SECRET),), b""),
                          ((), f"client_secret={SECRET}".encode())):
        discovery = _other(2, "discovery", "/.well-known/openid-configuration",
                           headers=headers, body=body)
        results = _judge(_token(1), discovery, _api(3))
        assert _failing(results) == {"secret-not-in-api-request"}
        assert "discovery request 1" in results["secret-not-in-api-request"][1]


def test_a_secret_in_a_header_name_fails_and_the_message_does_not_show_it() -> None:
    results = _judge(_token(1), _api(2, ((f"x-{SECRET}", "1"),)))
    assert _failing(results) == {"secret-not-in-api-request"}
    assert "REDACTED" in results["secret-not-in-api-request"][1]


def test_a_request_to_the_admin_api_is_a_stray_request_and_is_searched() -> None:
    admin = _other(2, "admin", "/__admin/journal", query=f"s={SECRET}")
    results = _judge(_token(1), admin, _api(3))
    assert _failing(results) == {"secret-not-in-url", "token-request-path"}
    assert "/__admin/journal" in results["token-request-path"][1]


def test_a_token_anywhere_but_an_api_calls_authorization_header_is_flagged() -> None:
    places = {
        "cookie": _api(2, (("cookie", f"session={TOKEN}"),)),
        "header": _api(2, (("x-access-token", TOKEN),)),
        "body": _api(2, body=json.dumps({"token": TOKEN}).encode()),
        "token request": _token(2, (("authorization", f"Bearer {TOKEN}"),)),
        "jwks": _other(2, "jwks", "/.well-known/jwks.json",
                       headers=(("authorization", f"Bearer {TOKEN}"),)),
    }
    for place, exchange in places.items():
        results = _judge(_token(1), exchange, _api(3))
        assert _failing(results) == {"token-only-in-authorization"}, place
    assert _failing(_judge(_token(1), _api(2, query=f"access_token={TOKEN}"))) == {
        "token-not-in-url"
    }
