"""Properties of the scrubber over spellings, content types and places: after scrubbing,
neither `Known.find` nor `cassettes check` finds anything, and scrubbing twice changes
nothing. Tokens need no known value: in token places they go by key and by shape."""

from __future__ import annotations

import base64
import json
import random
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import vcr
from hypothesis import assume, given
from hypothesis import strategies as st
from vcr.request import Request

from m2m_contract._secrets import Known, is_placeholder, looks_like_token, spellings
from m2m_contract.live import Scrubber, check_file

from .test_scrub import compress

CLIENT = "partner-client"
# Characters a secret may hold: URL marks, characters that need encoding, non-ASCII letters.
ALPHABET = string.ascii_letters + string.digits + '-_~.!*+/=@$% "\\' + "äéßøü漢字"
HEADER_SAFE = set(string.printable) - set("\r\n\t\x0b\x0c")
COOKIE_SAFE = set(string.ascii_letters + string.digits + "!#$%&'()*+-./:<=>?@[]^_`{|}~")
QUERY_VALUE_SAFE = set(string.ascii_letters + string.digits + "-._~%+/=!$'()*,;:@")
QUERY_KEY_SAFE = QUERY_VALUE_SAFE - {"="}
USERINFO_SAFE = set(string.ascii_letters + string.digits + "-._~%!$'()*+,;=")
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "application/vnd.api+json",
              "text/plain", ""]  # fmt: skip
FORM_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
]
CODINGS = ["identity", "gzip", "x-gzip", "deflate", "raw-deflate", "br", "zstd", "gzip, br",
           "deflate, zstd"]  # fmt: skip
BOUNDARY = "pr0pertyB0undary"
PLACES = ["header", "cookie", "set-cookie", "query key", "query value", "userinfo", "location",
          "json", "form", "multipart", "text"]  # fmt: skip


@dataclass
class Exchange:
    """One interaction to record: where the value sits decides what the rest looks like."""

    uri: str = "https://tenant.example/oauth/token"
    request_headers: dict[str, str] | None = None
    request_body: bytes | None = b'{"grant_type":"client_credentials"}'
    response_headers: dict[str, list[str]] | None = None
    response_body: bytes = b'{"ok":true}'

    def vcr(self) -> tuple[Request, dict[str, Any]]:
        request = Request("POST", self.uri, self.request_body, self.request_headers or {})
        response = {
            "status": {"code": 200, "message": "OK"},
            "headers": {"content-type": ["application/json"], **(self.response_headers or {})},
            "body": {"string": self.response_body},
        }
        return request, response


def nest(value: Any, key: str, depth: int) -> Any:
    doc: Any = {key: value, "note": "kept"}
    for level in range(depth):
        doc = {f"level{level}": doc} if level % 2 == 0 else [{"n": level}, doc]
    return {"grant_type": "client_credentials", "data": doc}


def body_exchange(body: bytes, content_type: str, coding: str, *, in_request: bool) -> Exchange:
    data, encoding = compress(body, coding)
    headers = {"content-type": [content_type], "content-length": [str(len(data))]}
    if encoding:
        headers["content-encoding"] = [encoding]
    if in_request:
        return Exchange(request_headers={k: v[0] for k, v in headers.items()}, request_body=data)
    return Exchange(response_headers=headers, response_body=data)


@st.composite
def placed(draw: st.DrawFn, value: str, spelled: dict[str, str]) -> tuple[str, Exchange]:
    """`value` (or one of its spellings that the place can hold) put into one place."""
    texts = list(spelled)

    def fit(safe: set[str]) -> str:
        fitting = [t for t in texts if set(t) <= safe]
        return draw(st.sampled_from(fitting or [quote_plus(value, safe="")]))

    place = draw(st.sampled_from(PLACES))
    coding = draw(st.sampled_from(CODINGS))
    in_request = draw(st.booleans())
    if place == "header":
        return place, Exchange(request_headers={"x-debug": f"note {fit(HEADER_SAFE)}"})
    if place == "cookie":
        return place, Exchange(request_headers={"cookie": f"theme=dark; note={fit(COOKIE_SAFE)}"})
    if place == "set-cookie":
        cookie = f"note={fit(COOKIE_SAFE)}; Path=/; HttpOnly"
        return place, Exchange(response_headers={"set-cookie": [cookie]})
    if place == "query key":
        return place, Exchange(uri=f"https://api.example/x?{fit(QUERY_KEY_SAFE)}=1&page=2")
    if place == "query value":
        return place, Exchange(uri=f"https://api.example/x?q={fit(QUERY_VALUE_SAFE)}&page=2")
    if place == "userinfo":
        return place, Exchange(uri=f"https://partner:{fit(USERINFO_SAFE)}@tenant.example/x")
    if place == "location":
        location = f"https://partner.example/cb?state={fit(QUERY_VALUE_SAFE)}&n=1"
        return place, Exchange(response_headers={"location": [location]})
    text = draw(st.sampled_from(texts))
    key = draw(st.sampled_from(["note", "clientSecret", "CLIENT_SECRET", "password", "data"]))
    if place == "json":
        doc = nest(text, key, draw(st.integers(0, 4)))
        body = json.dumps(doc, ensure_ascii=draw(st.booleans())).encode()
        content_type = draw(st.sampled_from(JSON_TYPES))
    elif place == "form":
        body = f"grant_type=client_credentials&{key}={quote_plus(text)}&scope=read".encode()
        content_type = draw(st.sampled_from(FORM_TYPES))
    elif place == "multipart":
        body = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{text}\r\n'
            f"--{BOUNDARY}--\r\n"
        ).encode()
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
    else:
        body = f"the client is configured with {text} for now.\n".encode()
        content_type = "text/plain; charset=utf-8"
    return f"{place}, {content_type}, {coding}", body_exchange(
        body, content_type, coding, in_request=in_request
    )


def scrub(scrubber: Scrubber, exchange: Exchange) -> tuple[Request, dict[str, Any]]:
    request, response = exchange.vcr()
    return scrubber.request(request), scrubber.response(response)


def shown(request: Request, response: dict[str, Any]) -> str:
    """Every string of a scrubbed interaction (its bodies are decoded already)."""
    body = response["body"]["string"]
    parts = [request.uri, *map(str, request.headers.items()), (request.body or b"").decode()]
    parts += [*map(str, response["headers"].items()), body.decode("utf-8", "replace")]
    return "\n".join(parts)


def written(request: Request, response: dict[str, Any]) -> tuple[str, list[Any]]:
    """The interaction written as it is (no hooks); the file text and the check's findings."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cassette.yaml"
        with vcr.VCR().use_cassette(str(path), record_mode="all") as cassette:
            cassette.append(request, response)
        return path.read_text(encoding="utf-8"), check_file(path)


def assert_scrubbed_for_good(
    scrubber: Scrubber, clean: tuple[Request, dict[str, Any]], known: Known, where: str
) -> None:
    request, response = clean
    assert known.find(shown(request, response)) == [], where
    text, findings = written(request, response)
    assert findings == [], (where, findings)
    assert known.find(text) == [], where
    again_request, again_response = scrubber.request(request), scrubber.response(response)
    assert (again_request.uri, again_request.body, dict(again_request.headers)) == (
        request.uri,
        request.body,
        dict(request.headers),
    ), where
    assert again_response == response, where


secret_values = st.text(ALPHABET, min_size=8, max_size=40).filter(
    lambda v: len(set(v)) >= 4 and not is_placeholder(v)
)


@given(secret_values, st.data())
def test_a_known_secret_in_any_spelling_and_place_is_gone_for_good(
    secret: str, data: st.DataObject
) -> None:
    table = spellings(secret, client_id=CLIENT)
    spelled = data.draw(st.sampled_from(sorted(table)))
    where, exchange = data.draw(placed(secret, {spelled: table[spelled]}))
    known = Known(secrets=[secret], client_id=CLIENT)
    control = scrub(Scrubber(["control-secret-value"]), Exchange())
    control_text, _ = written(*control)
    assume(not known.find(shown(*control) + control_text))  # nor a piece of every cassette
    scrubber = Scrubber([secret], client_id=CLIENT)
    assert_scrubbed_for_good(scrubber, scrub(scrubber, exchange), known, where)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def a_jwt(seed: int) -> str:
    rng = random.Random(seed)
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    claims = b64url(json.dumps({"sub": f"{CLIENT}@clients", "iat": seed}).encode())
    return f"{header}.{claims}.{b64url(rng.randbytes(256))}"


tokens = st.one_of(
    st.binary(min_size=18, max_size=48).map(b64url).filter(looks_like_token),
    st.integers(0, 2**31).map(a_jwt),
)
TOKEN_KEYS = ["access_token", "accessToken", "AccessToken", "ACCESS_TOKEN", "access-token",
              "id_token", "idToken", "refresh_token", "refreshToken", "token",
              "x_auth_token"]  # fmt: skip


@st.composite
def token_places(draw: st.DrawFn, token: str) -> tuple[str, Exchange]:
    """`token` where a token goes: under a token key, in credentials, cookies, Location."""
    key = draw(st.sampled_from(TOKEN_KEYS))
    coding = draw(st.sampled_from(CODINGS))
    in_request = draw(st.booleans())
    place = draw(st.sampled_from(["json", "form", "multipart", "bearer", "header", "cookie",
                                  "set-cookie", "location", "query", "text"]))  # fmt: skip
    if place == "json":
        body = json.dumps(nest(token, key, draw(st.integers(0, 4)))).encode()
        content_type = draw(st.sampled_from(JSON_TYPES))
    elif place == "form":
        body = f"grant_type=client_credentials&{key}={token}".encode()
        content_type = draw(st.sampled_from(FORM_TYPES))
    elif place == "multipart":
        body = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{token}\r\n'
            f"--{BOUNDARY}--\r\n"
        ).encode()
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
    elif place == "text":
        assume(token.startswith("eyJ"))  # an opaque token in prose has no shape to go by
        body, content_type = f"debug: you sent {token} ok\n".encode(), "text/plain"
    elif place == "bearer":
        return place, Exchange(request_headers={"authorization": f"Bearer {token}"})
    elif place == "header":
        return place, Exchange(request_headers={f"x-{key.replace('_', '-')}": token})
    elif place == "cookie":
        return place, Exchange(request_headers={"cookie": f"theme=dark; {key}={token}"})
    elif place == "set-cookie":
        cookie = f"cookie{draw(st.integers(0, 9))}={token}; Path=/; Secure"
        return place, Exchange(response_headers={"set-cookie": [cookie]})
    elif place == "location":
        fragment = draw(st.booleans())
        location = f"/cb#{key}={token}&n=1" if fragment else f"/cb?code={token}&n=1"
        return place, Exchange(response_headers={"location": [location]})
    else:
        return place, Exchange(uri=f"https://api.example/x?{key}={token}&page=2")
    return f"{place}, {content_type}, {coding}", body_exchange(
        body, content_type, coding, in_request=in_request
    )


@given(tokens, st.data())
def test_a_token_in_any_token_place_is_found_by_the_check_and_gone_after_scrubbing(
    token: str, data: st.DataObject
) -> None:
    where, exchange = data.draw(token_places(token))
    _, findings = written(*exchange.vcr())
    assert findings, f"cassettes check misses a token in {where}"
    scrubber = Scrubber()  # no known value: the token goes by where it sits and its shape
    assert_scrubbed_for_good(scrubber, scrub(scrubber, exchange), Known(tokens=[token]), where)
