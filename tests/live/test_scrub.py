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

import brotli
import httpx
import jwt
import pytest
import vcr
import zstandard
from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request as VcrRequest
from vcr.serializers import yamlserializer

from m2m_contract._secrets import Known, spellings, unsign
from m2m_contract.emulator import Emulator, EmulatorServer, Request, Response
from m2m_contract.live import Scrubber, _codecs, check_file, vcr_config
from m2m_contract.live._cassettes import Recorder
from m2m_contract.live._scrub import DECOMPRESSORS, ScrubError, decode

URL = "https://tenant.example/oauth/token"
CLIENT = "partner-client"
CLAIMS = {"iss": "https://tenant.example/", "sub": f"{CLIENT}@clients", "exp": 2, "iat": 1}
HEADER = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
OPAQUE = "e2FOQooYb0pMEW2vSZ_X6A3-H69CLVDNLRhu2bnk1uM"
JSON_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "Application/JSON ; charset=utf-8",
    "application/vnd.api+json",
    "text/plain",
    "",
]
FORM_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
]
CODINGS = ["identity", "gzip", "x-gzip", "deflate", "raw-deflate", "br", "zstd", "gzip, br"]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def a_token(signature: str) -> str:
    return f"{b64(HEADER)}.{b64(CLAIMS)}.{signature}"


def compress(body: bytes, coding: str) -> tuple[bytes, str | None]:
    """`body` under `coding` (stacked codings applied left to right) and its header value."""
    if coding == "identity":
        return body, None
    for one in coding.split(", "):
        if one in ("gzip", "x-gzip"):
            body = gzip.compress(body)
        elif one == "deflate":
            body = zlib.compress(body)
        elif one == "raw-deflate":
            squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body = squeezer.compress(body) + squeezer.flush()
        elif one == "br":
            body = brotli.compress(body)
        else:
            body = zstandard.ZstdCompressor().compress(body)
    return body, coding.replace("raw-deflate", "deflate")


def request_body(secret: str, encoding: str) -> bytes:
    params = {"client_id": CLIENT, "client_secret": secret, "grant_type": "client_credentials"}
    if encoding == "json":
        return json.dumps(params, ensure_ascii=False).encode()
    if encoding == "json-ascii":
        return json.dumps(params, indent=2).encode()
    if encoding == "json-nested":
        return json.dumps({"credentials": {"clientSecret": secret, "client": params}}).encode()
    return urlencode(params).encode()  # form, or a form-looking text body


def record(request: VcrRequest, response: dict[str, Any], *secrets: str) -> str:
    """One interaction recorded through VCR.py with the live suite's hooks; the file text."""
    recorder = vcr.VCR(**vcr_config(list(secrets)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cassette.yaml"
        with recorder.use_cassette(str(path), record_mode="all") as cassette:
            cassette.append(request, response)
        assert check_file(path) == []
        return path.read_text(encoding="utf-8")


def answer(body: bytes, headers: dict[str, list[str]], code: int = 200) -> dict[str, Any]:
    return {"status": {"code": code, "message": "OK"}, "headers": headers, "body": {"string": body}}


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
    token_answer = {
        "access_token": a_token(signature),
        "token_type": "Bearer",
        "expires_in": 1,
        "refresh_token": refresh,
        "echo": f"you sent {secret}",
    }
    body, content_encoding = compress(json.dumps(token_answer).encode(), coding)
    response_headers = {"content-type": [answer_type], "content-length": [str(len(body))]}
    if content_encoding:
        response_headers["content-encoding"] = [content_encoding]
    return record(request, answer(body, response_headers), secret)


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
CONTROL = ("control-secret-value", "S" * 43, "Rr" * 16)


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
    forbidden = [*spellings(secret, client_id=CLIENT), token, signature, refresh, basic]
    # A value that is part of every cassette (hypothesis may try "application/json") is no leak.
    forbidden = [f for f in forbidden if f not in control]
    for text in (written, *replayed_strings(written)):
        assert not [f for f in forbidden if f in text]
    # Line breaks and escape codes are noise to the vocabulary (text wraps): they stay.
    if not any(s in control for s in spellings(secret)) and not set(secret) & set("\r\n\x1b"):
        assert written == control, "the cassette does not depend on the secret or the token"


def test_json_with_a_charset_parameter_is_scrubbed_unlike_vcrs_own_filter() -> None:
    scrubber = Scrubber()
    body = b'{"client_id": "c", "client_secret": "s3cr3t-value"}'
    assert scrubber.body(body, "application/json; charset=utf-8") == (
        b'{"client_id":"c","client_secret":"REDACTED"}'
    )


def test_a_body_with_nothing_to_hide_is_written_as_it_came() -> None:
    body = b'{\n  "keys": [],\n  "note": "Bearer <token>"\n}\n'
    assert Scrubber().body(body, "application/json") == body


def test_credential_headers_keep_only_their_scheme() -> None:
    headers = Scrubber().headers(
        {
            "Authorization": ["Basic cGFydG5lcjpzM2NyM3Q="],
            "proxy-authorization": ["Bearer abc.def.ghi"],
            "set-cookie": ["did=s%3Av0%3Aabc; Path=/"],
            "x-note": ["Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"],
            "X-Auth-Token": [OPAQUE],
        }
    )
    assert headers == {
        "Authorization": ["Basic REDACTED"],
        "proxy-authorization": ["Bearer REDACTED"],
        "set-cookie": ["REDACTED"],
        "x-note": ["Bearer REDACTED"],
        "X-Auth-Token": ["REDACTED"],
    }


def test_a_scrubbed_token_keeps_its_claims_but_no_longer_verifies() -> None:
    emulator = Emulator()
    token = emulator.issue_token()
    scrubbed = unsign(token)
    assert scrubbed.endswith(".REDACTED") and scrubbed.rsplit(".", 1)[0] == token.rsplit(".", 1)[0]
    assert jwt.decode(scrubbed, options={"verify_signature": False})["sub"] == "demo-client@clients"
    key = emulator.keys.public_key(emulator.keys.signing_kid)
    assert key is not None
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(scrubbed, key, algorithms=["RS256"], audience=emulator.tenant.protected_audience)


@pytest.mark.parametrize("coding", CODINGS)
def test_a_compressed_response_is_decoded_scrubbed_and_written_decoded(coding: str) -> None:
    signature = "s" * 40
    plain = json.dumps({"access_token": a_token(signature), "refreshToken": OPAQUE}).encode()
    body, content_encoding = compress(plain, coding)
    headers = {"Content-Length": [str(len(body))], "Content-Type": ["application/json"]}
    if content_encoding:
        headers["Content-Encoding"] = [content_encoding]
    clean = Scrubber().response(answer(body, headers))
    written = clean["body"]["string"]
    assert json.loads(written) == {
        "access_token": unsign(a_token(signature)),
        "refreshToken": "REDACTED",
    }
    assert "Content-Encoding" not in clean["headers"]
    assert clean["headers"]["Content-Length"] == [str(len(written))]


def test_a_compressed_request_body_is_decoded_and_scrubbed() -> None:
    body = gzip.compress(b"grant_type=client_credentials&client_secret=hunter2-secret")
    headers = {"content-encoding": "gzip", "content-length": str(len(body))}
    clean = Scrubber().request(VcrRequest("POST", URL, body, headers))
    assert clean.body == b"grant_type=client_credentials&client_secret=REDACTED"
    assert dict(clean.headers) == {"content-length": str(len(clean.body))}


def test_gzip_members_and_zstd_frames_are_all_decoded() -> None:
    assert decode(gzip.compress(b"one ") + gzip.compress(b"two"), "gzip") == b"one two"
    frames = zstandard.ZstdCompressor().compress(b"one ") + zstandard.ZstdCompressor().compress(
        b"two"
    )
    assert decode(frames, "zstd") == b"one two"
    assert set(DECOMPRESSORS) == {"identity", "gzip", "x-gzip", "deflate", "br", "zstd"}


@pytest.mark.parametrize(
    ("body", "coding", "message"),
    [
        (b"\xfd7zXZ\x00secret-token-material", "xz", "Content-Encoding 'xz' is unknown"),
        (b"secret-token-material", "gzip", "does not decode as Content-Encoding 'gzip'"),
        (gzip.compress(b"secret-token-material", mtime=0)[:-6], "gzip", "does not decode as"),
        (b"secret-token-material", "br", "does not decode as Content-Encoding 'br'"),
        (zstandard.ZstdCompressor().compress(b"x" * 99)[:-3], "zstd", "does not decode as"),
        (b"secret-token-material", "gzip, compress", "Content-Encoding 'compress' is unknown"),
    ],
)
def test_a_body_that_cannot_be_decoded_is_refused_naming_the_coding_never_the_body(
    body: bytes, coding: str, message: str
) -> None:
    response = answer(body, {"content-encoding": [coding]})
    with pytest.raises(ScrubError, match="refusing to record a response") as raised:
        Scrubber().response(response)
    assert message in str(raised.value) and "secret-token-material" not in str(raised.value)


def test_a_body_nested_too_deep_to_walk_is_refused() -> None:
    body = ("[" * 900 + "]" * 900).encode()
    with pytest.raises(ScrubError, match="refusing to record a response: the body is nested"):
        Scrubber().response(answer(body, {"content-type": ["application/json"]}))


def test_a_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_codecs, "MAX_DECODED", 1000)
    for coding in ("gzip", "deflate", "br", "zstd"):
        body, _ = compress(b"0" * 5000, coding)
        with pytest.raises(ScrubError, match=f"'{coding}': decoded, the body is over 1000 bytes"):
            decode(body, coding)


def test_a_missing_codec_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(_codecs.DECOMPRESSORS, "br")
    with pytest.raises(ScrubError, match="'br' needs the 'brotli' package, not installed"):
        decode(brotli.compress(b"x"), "br")


class ServesXz(Emulator):
    """A tenant whose JWKS comes compressed in a coding nobody decodes."""

    def handle(self, request: Request) -> Response:
        if request.path == "/.well-known/jwks.json":
            headers = [("content-type", "application/json"), ("content-encoding", "xz")]
            return Response(200, headers, b"\xfd7zXZ\x00 not really xz")
        return super().handle(request)


def test_recording_an_undecodable_answer_fails_naming_the_cassette_and_writes_nothing(
    tmp_path: Path,
) -> None:
    with EmulatorServer(ServesXz()) as server:
        recorder = Recorder("record", tmp_path, Scrubber())
        with (
            pytest.raises(ScrubError) as raised,
            recorder.cassette("jwks"),
            httpx.Client() as client,
        ):
            client.get(f"{server.emulator.issuer}.well-known/jwks.json")
    assert str(raised.value) == (
        f"{tmp_path / 'jwks.yaml'}: refusing to record a response: Content-Encoding 'xz' is "
        "unknown (known: identity, gzip, x-gzip, deflate, br, zstd)"
    )
    assert not (tmp_path / "jwks.yaml").exists()


def test_a_token_seen_in_a_response_is_hidden_wherever_it_appears_later() -> None:
    scrubber = Scrubber()
    scrubber.response(
        answer(json.dumps({"data": {"accessToken": "opaque-access-token-0123456789"}}).encode(), {})
    )
    token = "opaque-access-token-0123456789"
    later = VcrRequest(
        "POST",
        f"https://api.example/x?note={token}",
        f"echo={token}&b64={base64.b64encode(token.encode()).decode()}",
        {"x-debug": f"sent {quote_plus(token)}"},
    )
    clean = scrubber.request(later)
    assert Known(tokens=[token]).find(f"{clean.uri} {clean.body!r} {dict(clean.headers)}") == []


def test_tokens_in_set_cookie_and_location_are_learned_too() -> None:
    scrubber = Scrubber()
    cookie, code = "ck" + OPAQUE, "cd" + OPAQUE[::-1]
    response = answer(
        b"",
        {
            "set-cookie": [f"refresh_token={cookie}; Path=/; HttpOnly"],
            "location": [f"/callback?code={code}&state=xyz"],
        },
        302,
    )
    clean = scrubber.response(response)
    assert clean["headers"] == {
        "set-cookie": ["REDACTED"],
        "location": ["/callback?code=REDACTED&state=xyz"],
    }
    later = scrubber.request(VcrRequest("GET", "https://api.example/", f"{cookie} {code}", {}))
    assert later.body == b"REDACTED REDACTED"


def test_a_known_secret_in_userinfo_query_keys_and_header_names_is_hidden() -> None:
    secret = "hunter2-secret-value"
    scrubber = Scrubber([secret])
    request = VcrRequest(
        "GET",
        f"https://user-{secret}:{secret}@tenant.example/{secret}?{quote_plus(secret)}=1&a={secret}",
        None,
        {f"x-{secret}": "1"},
    )
    clean = scrubber.request(request)
    assert (
        clean.uri == "https://user-REDACTED:REDACTED@tenant.example/REDACTED?REDACTED=1&a=REDACTED"
    )
    assert dict(clean.headers) == {"x-REDACTED": "1"}


def test_claims_that_quote_a_known_secret_lose_the_whole_token() -> None:
    scrubber = Scrubber(["the-client-secret"])
    leaky = f"{b64(HEADER)}.{b64({'sub': 'the-client-secret'})}.{'x' * 30}"
    assert scrubber.token(leaky) == "REDACTED"


def test_a_multipart_body_keeps_its_layout_and_loses_its_secrets() -> None:
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nc\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="clientSecret"\r\n\r\nhunter2\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\n'
        'Content-Type: application/json\r\n\r\n{"refresh_token": "abc"}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    clean = Scrubber().body(body, f"multipart/form-data; boundary={boundary}")
    assert clean == body.replace(b"hunter2", b"REDACTED").replace(
        b'{"refresh_token": "abc"}', b'{"refresh_token":"REDACTED"}'
    )


def test_scrubbing_twice_changes_nothing_more() -> None:
    scrubber = Scrubber(["p@ss word&="])
    body = urlencode({"client_secret": "p@ss word&=", "refresh_token": "r" * 20}).encode()
    once = scrubber.body(body, "application/x-www-form-urlencoded")
    assert once == b"client_secret=REDACTED&refresh_token=REDACTED"
    assert scrubber.body(once, "application/x-www-form-urlencoded") == once


def test_what_the_scrubber_writes_vcr_replays(tmp_path: Path) -> None:
    token = a_token("s" * 43)
    body = gzip.compress(json.dumps({"access_token": token, "expires_in": 60}).encode())
    request = VcrRequest("POST", URL, b'{"client_secret":"hunter2-secret"}', {})
    headers = {"content-encoding": ["gzip"], "content-type": ["application/json"]}
    path = tmp_path / "replay.yaml"
    with vcr.VCR(**vcr_config(["hunter2-secret"])).use_cassette(str(path)) as cassette:
        cassette.append(request, answer(body, headers))
    with vcr.VCR(**vcr_config()).use_cassette(str(path), record_mode="none"), httpx.Client() as c:
        replayed = c.post(URL, content=b'{"client_secret":"another-secret"}')
    assert replayed.json() == {"access_token": unsign(token), "expires_in": 60}


def test_a_bare_scheme_or_a_short_value_is_not_learned_so_prose_survives() -> None:
    scrubber = Scrubber()
    for value in ("Bearer ", "Basic", "Bearer abc"):
        scrubber.request(VcrRequest("GET", URL, None, {"Authorization": value}))
    clean = scrubber.response(answer(b'{"token_type":"Bearer","note":"abc"}', {}))
    assert clean["body"]["string"] == b'{"token_type":"Bearer","note":"abc"}'
    assert len(scrubber.known) == 0
