"""The protected API under /api/ validates bearer tokens per RFC 6750, through both doors."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import httpx
import pytest

from m2m_contract.emulator import Emulator, KeySet, SigningKey, default_tenant

from .conftest import CLIENT_ID, Door

REALM = 'realm="m2m-contract"'


def challenge(response: httpx.Response) -> str:
    value = response.headers["www-authenticate"]
    assert value.startswith("Bearer ")
    assert REALM in value
    return value


def assert_invalid_token(response: httpx.Response, words: str) -> None:
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in challenge(response)
    body = response.json()
    assert body["error"] == "invalid_token"
    assert words in body["error_description"].lower()


def test_valid_token_gets_200_naming_sub_and_scopes(door: Door) -> None:
    token = door.token(scope="read:members read:appointments")

    response = door.api(token, "/api/members/42")

    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "method": "GET",
        "path": "/api/members/42",
        "sub": f"{CLIENT_ID}@clients",
        "scopes": ["read:members", "read:appointments"],
    }


def test_scheme_name_is_case_insensitive(door: Door) -> None:
    token = door.token()

    response = door.client.get("/api/members", headers={"authorization": f"bearer {token}"})

    assert response.status_code == 200


def test_no_authorization_header_gets_401_without_error_code(door: Door) -> None:
    response = door.api(None)

    assert response.status_code == 401
    assert challenge(response) == f"Bearer {REALM}"  # RFC 6750 §3.1: no error code


def test_other_scheme_gets_401_without_error_code(door: Door) -> None:
    response = door.client.get("/api/members", headers={"authorization": "Basic ZGVtbzpzZWNyZXQ="})

    assert response.status_code == 401
    assert "error=" not in challenge(response)


@pytest.mark.parametrize("credentials", ["", "a b", "tok@en", "abc==def", "ü"])
def test_malformed_b64token_gets_400_invalid_request(door: Door, credentials: str) -> None:
    response = door.client.get(
        "/api/members", headers={b"authorization": f"Bearer {credentials}".strip().encode()}
    )

    assert response.status_code == 400
    assert 'error="invalid_request"' in challenge(response)
    assert response.json()["error"] == "invalid_request"


def test_two_authorization_headers_get_400_invalid_request(door: Door) -> None:
    token = door.token()

    response = door.client.get(
        "/api/members",
        headers=[("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}")],
    )

    assert response.status_code == 400


def test_tampered_signature_gets_401_invalid_token(door: Door) -> None:
    header, claims, signature = door.token().split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]

    assert_invalid_token(door.api(f"{header}.{claims}.{flipped}"), "signature")


def test_tampered_claims_get_401_invalid_token(door: Door) -> None:
    header, claims, signature = door.token().split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
    payload["scope"] += " admin"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()

    assert_invalid_token(door.api(f"{header}.{forged}.{signature}"), "signature")


def test_unknown_kid_gets_401_invalid_token(door: Door, spare_keys: list[SigningKey]) -> None:
    stranger = Emulator(keys=KeySet([spare_keys[0]]), clock=door.clock)
    stranger.base_url = door.emulator.base_url  # same issuer, other key

    assert_invalid_token(door.api(stranger.issue_token()), "kid")


def test_unsigned_token_gets_401_invalid_token(door: Door) -> None:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    token = part({"alg": "none", "typ": "JWT"}) + "." + part({"sub": "x"}) + ".c2ln"

    assert_invalid_token(door.api(token), "rs256")


def test_garbage_token_gets_401_invalid_token(door: Door) -> None:
    assert_invalid_token(door.api("not-a-jwt"), "not a jwt")
    assert_invalid_token(door.api("a.b.c"), "base64url")


def test_expired_token_gets_401_invalid_token(door: Door) -> None:
    token = door.token()
    door.clock.advance(86400 - 1)
    assert door.api(token).status_code == 200

    door.clock.advance(1)

    assert_invalid_token(door.api(token), "expired")


def test_token_from_another_issuer_gets_401_invalid_token(door: Door) -> None:
    door.use_tenant(replace(default_tenant(), issuer="https://someone-else.auth0.com/"))
    foreign = door.token()
    door.use_tenant(default_tenant())

    assert_invalid_token(door.api(foreign), "issuer")


def test_token_for_another_audience_gets_401_invalid_token(door: Door) -> None:
    token = door.emulator.issue_token(audience="https://other.api.example/")

    assert_invalid_token(door.api(token), "aud")


def test_revoked_token_gets_401_and_a_new_token_is_accepted(door: Door) -> None:
    token = door.token()
    door.emulator.revoke(token)

    assert_invalid_token(door.api(token), "revoked")
    door.clock.advance(1)  # a new iat, hence a different token
    assert door.api(door.token()).status_code == 200


def test_missing_route_scope_gets_403_insufficient_scope(door: Door) -> None:
    token = door.token(scope="read:appointments")

    response = door.api(token, "/api/members")

    assert response.status_code == 403
    value = challenge(response)
    assert 'error="insufficient_scope"' in value
    assert 'scope="read:members"' in value
    assert response.json()["error"] == "insufficient_scope"
    assert door.api(token, "/api/appointments").status_code == 200


def test_unlisted_route_accepts_any_valid_token(door: Door) -> None:
    token = door.token(scope="read:appointments")

    assert door.api(token, "/api/anything/else").status_code == 200
    assert door.api(token, "/api/membersX").status_code == 200  # a prefix is a path segment


def test_longest_route_prefix_decides_the_scope(door: Door) -> None:
    tenant = default_tenant()
    routes = {**tenant.api_routes, "/api/members/admin": ("write:transactions",)}
    door.use_tenant(replace(tenant, api_routes=routes))
    token = door.token(scope="read:members")

    assert door.api(token, "/api/members/1").status_code == 200
    assert door.api(token, "/api/members/admin/1").status_code == 403


def test_every_method_is_validated_the_same_way(door: Door) -> None:
    token = door.token()
    headers = {"authorization": f"Bearer {token}"}

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = door.client.request(method, "/api/members", headers=headers, content=b"{}")
        assert response.status_code == 200
        assert response.json()["method"] == method
    assert door.client.request("DELETE", "/api/members").status_code == 401


def test_deeply_nested_token_header_gets_401_not_500(door: Door) -> None:
    # json.loads raises RecursionError (not ValueError) past ~1000 levels of nesting.
    header = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()

    assert_invalid_token(door.api(f"{header}.e30.c2ln"), "base64url")


def test_invalid_token_description_keeps_its_acronyms(door: Door) -> None:
    response = door.api("not-a-jwt")

    assert response.json()["error_description"] == (
        "The token is not a JWT (it must have three dot-separated parts)"
    )
    assert 'error_description="The token is not a JWT' in response.headers["www-authenticate"]


def test_api_leeway_honours_a_token_until_leeway_seconds_past_exp(door: Door) -> None:
    door.use_tenant(replace(default_tenant(), api_leeway=1.0))
    token = door.token()
    door.clock.advance(86400 + 0.5)
    assert door.api(token).status_code == 200

    door.clock.advance(0.5)

    assert_invalid_token(door.api(token), "expired")
