"""Nothing written to a cassette holds a secret, a credential or a usable token."""

from __future__ import annotations

import base64
import gzip
import json
import tempfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

import jwt
import vcr
from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request as VcrRequest
from vcr.serializers import yamlserializer

from m2m_contract.emulator import Emulator
from m2m_contract.live import Scrubber, check_text, unsign, vcr_config
from m2m_contract.live._scrub import DECOMPRESSORS, spellings

URL = "https://tenant.example/oauth/token"
CLIENT = "partner-client"
CLAIMS = {"iss": "https://tenant.example/", "sub": f"{CLIENT}@clients", "exp": 2, "iat": 1}
HEADER = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
JSON_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "Application/JSON ; charset=utf-8",
    "text/plain",
    "",
]
FORM_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
]
CODINGS = ["identity", "gzip", "deflate", "raw-deflate", *(["br"] if "br" in DECOMPRESSORS else [])]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def a_token(signature: str) -> str:
    return f"{b64(HEADER)}.{b64(CLAIMS)}.{signature}"


def compress(body: bytes, coding: str) -> tuple[bytes, str | None]:
    if coding == "gzip":
        return gzip.compress(body), "gzip"
    if coding == "deflate":
        return zlib.compress(body), "deflate"
    if coding == "raw-deflate":
        squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return squeezer.compress(body) + squeezer.flush(), "deflate"
    if coding == "br":
        return DECOMPRESSORS["br"].__self__.compress(body), "br"  # pragma: no cover
    return body, None


def request_body(secret: str, encoding: str) -> bytes:
    params = {"client_id": CLIENT, "client_secret": secret, "grant_type": "client_credentials"}
    if encoding == "json":
        return json.dumps(params, ensure_ascii=False).encode()
    if encoding == "json-ascii":
        return json.dumps(params, indent=2).encode()
    if encoding == "json-nested":
        return json.dumps({"credentials": params}).encode()
    return urlencode(params).encode()  # form, or a form-looking text body


def write_cassette(
    secret: str,
    signature: str,
    refresh: str,
    *,
    encoding: str,
    content_type: str,
    basic: bool,
    coding: str,
    answer_type: str,
) -> str:
    """Record one token exchange through VCR.py with the live suite's hooks; the file text."""
    headers = {"content-type": content_type} if content_type else {}
    if basic:
        pair = f"{quote_plus(CLIENT)}:{quote_plus(secret)}".encode()
        headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
    request = VcrRequest("POST", URL, request_body(secret, encoding), headers)
    answer = {
        "access_token": a_token(signature),
        "token_type": "Bearer",
        "expires_in": 1,
        "refresh_token": refresh,
        "echo": f"you sent {secret}",
    }
    body, content_encoding = compress(json.dumps(answer).encode(), coding)
    response_headers = {"content-type": [answer_type], "content-length": [str(len(body))]}
    if content_encoding:
        response_headers["content-encoding"] = [content_encoding]
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": response_headers,
        "body": {"string": body},
    }
    recorder = vcr.VCR(**vcr_config([secret]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cassette.yaml"
        with recorder.use_cassette(str(path), record_mode="all") as cassette:
            cassette.append(request, response)
        return path.read_text(encoding="utf-8")


def replayed_strings(text: str) -> list[str]:
    """Every string the cassette replays: bodies, header values, URLs (YAML escapes undone)."""
    out: list[str] = []
    for interaction in yamlserializer.deserialize(text)["interactions"]:
        for side in ("request", "response"):
            message = interaction[side]
            body = message["body"]["string"] if side == "response" else message["body"]
            out.append(body.decode() if isinstance(body, bytes) else str(body))
            out += [str(v) for values in message["headers"].values() for v in values]
            out.append(str(message.get("uri", "")))
    return out


# Any Unicode a secret could hold (no lone surrogates: they cannot be sent as UTF-8).
secrets_ = st.text(st.characters(codec="utf-8"), min_size=8, max_size=48)
signatures = st.text(B64URL, min_size=20, max_size=342)
exchanges = st.fixed_dictionaries(
    {
        "encoding": st.sampled_from(["json", "json-ascii", "json-nested", "form", "text"]),
        "basic": st.booleans(),
        "coding": st.sampled_from(CODINGS),
        "answer_type": st.sampled_from(JSON_TYPES),
    }
)
CONTROL = ("control-secret-value", "S" * 43, "R" * 32)


@given(
    secret=secrets_, signature=signatures, refresh=signatures, exchange=exchanges, data=st.data()
)
def test_no_secret_or_token_reaches_a_cassette_whatever_the_encoding(
    secret: str, signature: str, refresh: str, exchange: dict[str, Any], data: st.DataObject
) -> None:
    form = exchange["encoding"] == "form"
    content_type = data.draw(st.sampled_from(FORM_TYPES if form else JSON_TYPES))
    if exchange["encoding"] == "text":
        content_type = "text/plain; charset=utf-8"
    written = write_cassette(secret, signature, refresh, content_type=content_type, **exchange)
    control = write_cassette(*CONTROL, content_type=content_type, **exchange)
    token = a_token(signature)
    basic = base64.b64encode(f"{quote_plus(CLIENT)}:{quote_plus(secret)}".encode()).decode()
    forbidden = [*spellings(secret), token, signature, refresh, basic]
    # A value that is part of every cassette (hypothesis may try "application/json") is no leak.
    forbidden = [f for f in forbidden if f not in control]
    for text in (written, *replayed_strings(written)):
        assert not [f for f in forbidden if f in text]
        assert check_text(text) == []
    if not any(s in control for s in spellings(secret)):
        assert written == control, "the cassette does not depend on the secret or the token"


def test_json_with_a_charset_parameter_is_scrubbed_unlike_vcrs_own_filter() -> None:
    scrubber = Scrubber()
    body = b'{"client_id": "c", "client_secret": "s3cr3t-value"}'
    assert scrubber.body(body, "application/json; charset=utf-8") == (
        b'{"client_id":"c","client_secret":"REDACTED"}'
    )


def test_credentials_headers_keep_only_their_scheme() -> None:
    headers = Scrubber().headers(
        {
            "Authorization": ["Basic cGFydG5lcjpzM2NyM3Q="],
            "proxy-authorization": ["Bearer abc.def.ghi"],
            "set-cookie": ["did=s%3Av0%3Aabc; Path=/"],
            "x-note": ["Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"],
        }
    )
    assert headers == {
        "Authorization": ["Basic REDACTED"],
        "proxy-authorization": ["Bearer REDACTED"],
        "set-cookie": ["REDACTED"],
        "x-note": ["Bearer REDACTED"],
    }


def test_a_scrubbed_token_keeps_its_claims_but_no_longer_verifies() -> None:
    emulator = Emulator()
    token = emulator.issue_token()
    scrubbed = unsign(token)
    assert scrubbed.endswith(".REDACTED") and scrubbed.rsplit(".", 1)[0] == token.rsplit(".", 1)[0]
    assert jwt.decode(scrubbed, options={"verify_signature": False})["sub"] == "demo-client@clients"
    key = emulator.keys.public_key(emulator.keys.signing_kid)
    assert key is not None
    try:
        jwt.decode(scrubbed, key, algorithms=["RS256"], audience=emulator.tenant.protected_audience)
    except jwt.PyJWTError:
        pass
    else:  # pragma: no cover
        raise AssertionError("a scrubbed token must not verify")


def test_a_gzip_response_is_decoded_before_scrubbing_and_written_decoded() -> None:
    signature = "s" * 40
    body = gzip.compress(json.dumps({"access_token": a_token(signature)}).encode())
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Encoding": ["gzip"], "Content-Length": [str(len(body))]},
        "body": {"string": body},
    }
    clean = Scrubber().response(response)
    text = clean["body"]["string"].decode()
    assert json.loads(text)["access_token"] == unsign(a_token(signature))
    assert "Content-Encoding" not in clean["headers"]
    assert clean["headers"]["content-length"] == [str(len(clean["body"]["string"]))]


def test_a_body_that_cannot_be_decoded_is_not_written() -> None:
    secret_bytes = b"\x8b\x1f compressed secret-token-material"
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-encoding": ["zstd"]},
        "body": {"string": secret_bytes},
    }
    clean = Scrubber().response(response)
    assert b"secret-token-material" not in clean["body"]["string"]
    assert clean["body"]["string"].startswith(b"REDACTED: a body compressed with 'zstd'")


def test_a_token_seen_in_a_response_is_hidden_wherever_it_appears_later() -> None:
    scrubber = Scrubber()
    token = "opaque-access-token-0123456789"
    scrubber.response(
        {
            "status": {"code": 200},
            "headers": {},
            "body": {"string": json.dumps({"access_token": token}).encode()},
        }
    )
    later = VcrRequest("GET", f"https://api.example/x?note={token}", f"echo {token}", {})
    clean = scrubber.request(later)
    assert token not in clean.uri and token.encode() not in clean.body


def test_claims_that_quote_a_known_secret_lose_the_whole_token() -> None:
    scrubber = Scrubber(["the-client-secret"])
    leaky = f"{b64(HEADER)}.{b64({'sub': 'the-client-secret'})}.{'x' * 30}"
    assert scrubber.token(leaky) == "REDACTED"


def test_scrubbing_twice_changes_nothing_more() -> None:
    scrubber = Scrubber(["p@ss word&="])
    body = urlencode({"client_secret": "p@ss word&=", "refresh_token": "r" * 20}).encode()
    once = scrubber.body(body, "application/x-www-form-urlencoded")
    assert once == b"client_secret=REDACTED&refresh_token=REDACTED"
    assert scrubber.body(once, "application/x-www-form-urlencoded") == once
