"""The token request is exactly the partner document's, with form and Basic as options."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest

from m2m_contract.client import ClientCredentials, InsecureTokenURLError, normalise_scope
from m2m_contract.emulator import DEFAULT_AUDIENCE, Client, default_tenant

from .conftest import Mode, Rig


def test_json_body_is_exactly_the_partner_documents(rig: Rig, mode: Mode) -> None:
    rig.token(rig.auth(scope="read:appointments"), mode)
    (exchange,) = rig.tokens()
    request = exchange.request
    assert request.method == "POST" and request.path == "/oauth/token"
    assert request.header("content-type") == "application/json"
    assert request.header("authorization") is None
    assert request.query_string == ""
    assert json.loads(request.body) == {
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "grant_type": "client_credentials",
        "scope": "read:appointments",
    }
    assert exchange.response.status == 200


@pytest.mark.parametrize(
    ("scope", "sent"),
    [
        ("read:members read:appointments", "read:members read:appointments"),
        (["read:members", "read:appointments"], "read:members read:appointments"),
        (("read:members", "read:appointments"), "read:members read:appointments"),
        ({"read:members": 1}.keys(), "read:members"),
        (iter(["read:members", "write:transactions"]), "read:members write:transactions"),
        ("  read:members \t read:members\nread:appointments ", "read:members read:appointments"),
        (["read:members", "", "read:members", " read:appointments "],
         "read:members read:appointments"),
    ],
    ids=["string", "list", "tuple", "keys-view", "iterator", "messy-string", "messy-list"],
)
def test_scope_is_sent_as_one_space_separated_string(rig: Rig, scope: Any, sent: str) -> None:
    rig.auth(scope=scope).get_token()
    assert rig.tokens()[0].params == {
        "client_id": "demo-client", "client_secret": "demo-secret",
        "grant_type": "client_credentials", "scope": sent,
    }


def test_scope_from_a_set_is_sent_without_repeats(rig: Rig) -> None:
    rig.auth(scope={"read:members", "read:appointments"}).get_token()
    sent = rig.tokens()[0].params
    assert sent is not None
    assert sorted(sent["scope"].split(" ")) == ["read:appointments", "read:members"]


@pytest.mark.parametrize("scope", [None, "", "   ", [], ["", " "], ()])
def test_empty_scope_is_omitted(rig: Rig, mode: Mode, scope: Any) -> None:
    rig.token(rig.auth(scope=scope), mode)
    params = rig.tokens()[0].params
    assert params is not None and "scope" not in params


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        ("read:members,read:appointments", ValueError),
        (["read:members", 'say"hi'], ValueError),
        ("caf\u00e9", ValueError),
        (b"read:members", TypeError),
        (["read:members", 3], TypeError),
    ],
)
def test_scope_that_cannot_be_sent_well_is_refused(scope: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="scope"):
        normalise_scope(scope)


def test_audience_is_sent_only_when_given(rig: Rig, mode: Mode) -> None:
    rig.token(rig.auth(audience=DEFAULT_AUDIENCE), mode)
    rig.token(rig.auth(audience=""), mode)
    rig.token(rig.auth(), mode)
    first, empty, none = (e.params or {} for e in rig.tokens())
    assert first["audience"] == DEFAULT_AUDIENCE
    assert "audience" not in empty and "audience" not in none


def test_form_encoding_sends_the_same_parameters_urlencoded(rig: Rig, mode: Mode) -> None:
    rig.token(rig.auth(body_encoding="form", scope=["read:members", "read:appointments"]), mode)
    request = rig.tokens()[0].request
    assert request.header("content-type") == "application/x-www-form-urlencoded"
    assert parse_qsl(request.body.decode("ascii")) == [
        ("client_id", "demo-client"), ("client_secret", "demo-secret"),
        ("grant_type", "client_credentials"), ("scope", "read:members read:appointments"),
    ]
    assert rig.tokens()[0].response.status == 200


ODD_SECRET = "s3:cr+t %/&=é"
ODD_ID = "id:with+odd chars"


def _odd_tenant(rig: Rig) -> None:
    base = default_tenant()
    client = Client(ODD_ID, ODD_SECRET, grants=dict(base.clients[0].grants))
    rig.emu.tenant = dataclasses.replace(base, clients=(client,))


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_basic_auth_form_urlencodes_id_and_secret_before_base64(
    rig: Rig, mode: Mode, encoding: Any
) -> None:
    _odd_tenant(rig)
    auth = rig.auth(client_id=ODD_ID, client_secret=ODD_SECRET,
                    auth_method="client_secret_basic", body_encoding=encoding)
    rig.token(auth, mode)
    (exchange,) = rig.tokens()
    assert exchange.response.status == 200
    scheme, _, encoded = (exchange.request.header("authorization") or "").partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode("ascii").partition(":")
    assert user == "id%3Awith%2Bodd+chars"  # RFC 6749 §2.3.1: encoded, then base64
    assert (unquote_plus(user), unquote_plus(password)) == (ODD_ID, ODD_SECRET)
    assert b"client_secret" not in exchange.request.body
    assert "s3" not in exchange.request.body.decode("utf-8")


def test_client_secret_post_with_odd_characters_is_accepted(rig: Rig, mode: Mode) -> None:
    _odd_tenant(rig)
    rig.token(rig.auth(client_id=ODD_ID, client_secret=ODD_SECRET), mode)
    assert rig.tokens()[0].response.status == 200


def test_token_request_says_who_is_calling_and_wants_json(rig: Rig) -> None:
    rig.auth().get_token()
    request = rig.tokens()[0].request
    assert request.header("accept") == "application/json"
    assert (request.header("user-agent") or "").startswith("m2m-contract/")


@pytest.mark.parametrize(
    "url",
    [
        "http://loyaltyone-sandbox-pin.auth0.com/oauth/token",
        "http://10.0.0.5/oauth/token",
        "http://[2001:db8::1]/oauth/token",
        "http://localhost.example.com/oauth/token",
        "ftp://127.0.0.1/oauth/token",
        "/oauth/token",
        "",
        "https://tenant.example/oauth/token?client_secret=x",
    ],
)
def test_insecure_or_unusable_token_url_is_refused(url: str) -> None:
    with pytest.raises(InsecureTokenURLError) as caught:
        ClientCredentials(url, "id", "secret")
    assert isinstance(caught.value, ValueError)
    assert "client_secret=x" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/oauth/token",
        "http://127.9.9.9/oauth/token",
        "http://[::1]:8080/oauth/token",
        "http://[::ffff:127.0.0.1]/oauth/token",
        "http://localhost/oauth/token",
        "http://LOCALHOST:9/oauth/token",
        "https://loyaltyone-sandbox-pin.auth0.com/oauth/token",
    ],
)
def test_https_or_loopback_http_token_url_is_accepted(url: str) -> None:
    assert ClientCredentials(url, "id", "secret").token_url == url


def test_plain_http_refusal_explains_why_and_what_to_do() -> None:
    with pytest.raises(InsecureTokenURLError, match=r"in clear.*https://.*loopback"):
        ClientCredentials("http://auth.example/oauth/token", "id", "secret")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"body_encoding": "xml"}, "body_encoding"),
        ({"auth_method": "private_key_jwt"}, "auth_method"),
        ({"timeout": 0}, "timeout"),
        ({"deadline": -1}, "deadline"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"refresh_margin": -5}, "refresh_margin"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
        ({"clock": 42}, "clock"),
    ],
)
def test_unusable_option_is_refused_at_construction(
    options: dict[str, Any], match: str
) -> None:
    settings: dict[str, Any] = {"client_id": "id", "client_secret": "secret", **options}
    with pytest.raises((ValueError, TypeError), match=match):
        ClientCredentials("https://tenant.example/oauth/token", **settings)


def test_settings_are_readable_after_normalisation() -> None:
    scopes: Iterable[str] = ["b", "a", "b"]
    auth = ClientCredentials("https://t.example/oauth/token", "id", "secret", scope=scopes,
                             audience="https://api/")
    assert (auth.token_url, auth.client_id, auth.scope, auth.audience) == (
        "https://t.example/oauth/token", "id", "b a", "https://api/")
