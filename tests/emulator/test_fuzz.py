"""Whatever arrives at /oauth/token or /api/*, the answer is an RFC-shaped JSON error or a success.

Never a 500, never an exception, and the server answers /healthz afterwards.
"""

from __future__ import annotations

import base64
import json
import re
import string
from typing import Any
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from m2m_contract.emulator import Emulator, EmulatorServer, EmulatorTransport, FakeClock

# RFC 6749 §5.2 / RFC 6750 §3: error = 1*( %x20-21 / %x23-5B / %x5D-7E )
ERROR_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")
TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
# Methods an HTTP/1.1 parser (httptools' llhttp) knows; others never reach the app over HTTP.
PARSER_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
                  "PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "PURGE"]
# Headers the HTTP client or server manage themselves (framing, routing).
FRAMING = {"content-length", "transfer-encoding", "host", "connection", "expect", "upgrade",
           "te", "keep-alive", "trailer", "proxy-connection"}
SMALL_BODY = 2048


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
        max_size=20
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                    max_size=4),
        max_leaves=10,
    )


PARAM_NAMES = st.sampled_from(
    ["client_id", "client_secret", "grant_type", "scope", "audience", "refresh_token"]
) | st.text(max_size=12)
PARAM_VALUES = st.sampled_from(
    ["demo-client", "demo-secret", "client_credentials", "refresh_token",
     "read:members", "https://sandbox.api.loyalty.com/", ""]
) | st.text(max_size=30)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A body and the content type it is sent with (sometimes a mismatched one)."""
    kind = draw(st.sampled_from(["json", "form", "bytes", "json-value"]))
    params = draw(st.dictionaries(PARAM_NAMES, PARAM_VALUES | json_values(), max_size=6))
    if kind == "json":
        body = json.dumps(params).encode()
    elif kind == "form":
        body = urlencode(
            [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in params.items()]
        ).encode()
    elif kind == "json-value":
        body = json.dumps(draw(json_values())).encode()
    else:
        body = draw(st.binary(max_size=SMALL_BODY))
    content_type = draw(
        st.sampled_from(
            [None, "application/json", "application/x-www-form-urlencoded",
             "application/json; charset=utf-16", "text/plain", "application/jwt+json",
             "multipart/form-data; boundary=x", "APPLICATION/JSON"]
        )
        | st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=40)
    )
    return body, content_type


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


AUTHORIZATION = (
    st.none()
    | st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=60)
    | st.builds(lambda s: f"Bearer {s}", st.text(alphabet=string.ascii_letters + "-._~+/=",
                                                  max_size=60))
    | st.builds(
        lambda h, c, s: f"Bearer {b64url(h)}.{b64url(c)}.{s}",
        st.binary(max_size=80) | st.builds(lambda v: json.dumps(v).encode(), json_values()),
        st.builds(lambda v: json.dumps(v).encode(), json_values()),
        st.text(alphabet=string.ascii_letters + "-_", max_size=40),
    )
    | st.builds(lambda s: "Basic " + base64.b64encode(s).decode(), st.binary(max_size=40))
)


def headers(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=20).filter(
        lambda n: n.lower() not in FRAMING and n.lower() != "content-type"
    )
    return st.lists(st.tuples(names, values), max_size=4)


HEADER_VALUES = st.text(alphabet=string.ascii_letters + string.digits + " -_.,;=:/\"'", max_size=40)
SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "-._~", max_size=20)
PATHS = st.sampled_from(["/oauth/token", "/api/members", "/api/appointments", "/api"]) | st.builds(
    lambda s: "/api/" + s, SEGMENT
)


def request_headers(
    content_type: str | None, authorization: str | None, extra: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    # Surrounding whitespace is not part of a field value (RFC 9110 §5.5); h11 refuses it.
    result = [(name, value.strip()) for name, value in extra]
    if content_type is not None:
        result.append(("content-type", content_type.strip()))
    if authorization is not None:
        result.append(("authorization", authorization.strip()))
    return result


def assert_rfc_shaped(response: httpx.Response, method: str) -> None:
    assert response.status_code < 500, response.text
    if method == "HEAD":
        assert response.content == b""
        return
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body, dict)
    if response.status_code == 200:
        assert "access_token" in body or body.get("ok") is True
        if "access_token" in body:
            assert body["token_type"] == "Bearer"
        return
    assert ERROR_CODE.fullmatch(body["error"]), body
    assert isinstance(body["error_description"], str)
    if response.status_code in (401, 403) and "www-authenticate" in response.headers:
        assert response.headers["www-authenticate"].startswith("Bearer ")


def new_emulator() -> Emulator:
    return Emulator(clock=FakeClock(), max_body=SMALL_BODY * 4)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    method=st.sampled_from(PARSER_METHODS) | st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12),
    path=PATHS,
    body=bodies(),
    authorization=AUTHORIZATION,
    extra=headers(HEADER_VALUES),
    query=st.text(max_size=30),
)
def test_in_process_door_answers_anything_with_rfc_shaped_json(
    method: str,
    path: str,
    body: tuple[bytes, str | None],
    authorization: str | None,
    extra: list[tuple[str, str]],
    query: str,
) -> None:
    content, content_type = body
    emulator = new_emulator()
    with httpx.Client(transport=EmulatorTransport(emulator), base_url="http://emulator") as client:
        response = client.request(
            method,
            path,
            params={"q": query} if query else None,
            content=content,
            headers=request_headers(content_type, authorization, extra),
        )
        assert_rfc_shaped(response, method)
        assert client.get("/healthz").status_code == 200
    assert len(emulator.journal) == 2


@settings(deadline=None, max_examples=20)
@given(size=st.integers(min_value=1, max_value=20_000), path=PATHS)
def test_in_process_door_answers_oversized_bodies_with_413(size: int, path: str) -> None:
    emulator = Emulator(clock=FakeClock(), max_body=1024)
    with httpx.Client(transport=EmulatorTransport(emulator), base_url="http://emulator") as client:
        response = client.post(
            path, content=b"{" * (1024 + size), headers={"content-type": "application/json"}
        )

    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


@settings(deadline=None, max_examples=25)
@given(
    method=st.sampled_from(PARSER_METHODS),
    path=PATHS,
    body=bodies(),
    authorization=AUTHORIZATION.filter(lambda a: a is None or a.isascii()),
    extra=headers(HEADER_VALUES),
)
def test_http_door_answers_anything_with_rfc_shaped_json(
    http_server: EmulatorServer,
    http_client: httpx.Client,
    method: str,
    path: str,
    body: tuple[bytes, str | None],
    authorization: str | None,
    extra: list[tuple[str, str]],
) -> None:
    content, content_type = body
    http_server.emulator.reset()
    response = http_client.request(
        method, path, content=content, headers=request_headers(content_type, authorization, extra)
    )
    assert_rfc_shaped(response, method)
    assert http_client.get("/healthz").status_code == 200


@settings(deadline=None, max_examples=5)
@given(extra=st.integers(min_value=1, max_value=200_000), path=PATHS)
def test_http_door_answers_oversized_bodies_with_413(
    http_server: EmulatorServer, http_client: httpx.Client, extra: int, path: str
) -> None:
    limit = http_server.emulator.max_body
    response = http_client.post(
        path, content=b"x" * (limit + extra), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"
    assert http_client.get("/healthz").status_code == 200
