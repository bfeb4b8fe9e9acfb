"""The vocabulary of secrets and tokens: names, shapes, every spelling of a known value, the
structural redaction, and the stream scanner's memory bound and speed."""

from __future__ import annotations

import base64
import json
import random
import secrets
import string
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from m2m_contract import _secrets as S
from m2m_contract._secrets import (
    REDACTED,
    Finding,
    Known,
    find_structural,
    is_credential_cookie,
    is_credential_header,
    is_placeholder,
    is_secret_key,
    is_token_key,
    looks_like_token,
    normalise_key,
    redact,
    redact_header,
    redact_json,
    spellings,
    unsign,
)

# A realistic alphabet for secrets: URL-unreserved marks, characters that need encoding
# (space, /, +, =, %, quotes, backslash) and non-ASCII letters.
ALPHABET = string.ascii_letters + string.digits + '-_~.!*+/=@$% "\\' + "äéßøü漢字"
CLIENT_ID = "partner-client"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any], signature: bytes) -> str:
    """A compact JWS as Auth0 issues it (RS256 header); the signature bytes are given."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(signature)}"


def token_urlsafe(rng: random.Random, n: int) -> str:
    """What `secrets.token_urlsafe(n)` returns, from a seeded generator (a stable test)."""
    return b64url(rng.randbytes(n))


def visible(text: str) -> str:
    """`text` as the searches see it: no escape sequences, no line breaks."""
    return S._normalise(text)[0]


def ansi_between_characters(text: str) -> str:
    return "".join(f"\x1b[3{i % 8}m{c}" for i, c in enumerate(text)) + "\x1b[0m"


# Where a spelling can sit: (name, wrap). `cut` says where a line break may split it.
Context = Callable[[str, int], str]
CONTEXTS: list[tuple[str, Context]] = [
    ("JSON body", lambda s, _: f'{{"grant_type":"client_credentials","note":"{s}","n":1}}'),
    ("form body", lambda s, _: f"grant_type=client_credentials&note={s}&scope=read"),
    ("URL path", lambda s, _: f"GET /api/members/{s}/profile HTTP/1.1"),
    ("query key", lambda s, _: f"/api/members?{s}=1&page=2"),
    ("query value", lambda s, _: f"/api/members?q={s}&page=2"),
    ("header value", lambda s, _: f"X-Debug: {s}"),
    ("free text", lambda s, _: f"the client is configured with {s} for now."),
    ("stdout with ANSI codes", lambda s, _: f"\x1b[32mINFO\x1b[0m {ansi_between_characters(s)}\n"),
    ("split across two lines", lambda s, cut: f"value: {s[:cut]}\r\n{s[cut:]} (wrapped)\n"),
]

secret_values = st.text(alphabet=ALPHABET, min_size=S.MIN_SPELLED, max_size=64).filter(
    lambda v: not v.startswith(REDACTED) and len(set(v)) >= 3
)
opaque_tokens = st.binary(min_size=16, max_size=48).map(b64url)
jwt_tokens = st.builds(
    make_jwt,
    st.fixed_dictionaries(
        {
            "sub": st.text(ALPHABET, max_size=20),
            "iat": st.integers(0, 2**31),
            "scope": st.just("read"),
        }
    ),
    st.binary(min_size=32, max_size=256),
)
values = st.one_of(
    secret_values.map(lambda v: ("secret", v)),
    st.one_of(opaque_tokens, jwt_tokens).map(lambda v: ("token", v)),
)


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "accessToken",
        "AccessToken",
        "access-token",
        "ACCESS_TOKEN",
        "access.token",
        " Access Token ",
    ],
)
def test_a_key_is_recognised_in_every_case_style(name: str) -> None:
    assert normalise_key(name) == "access_token"
    assert is_token_key(name) and not is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "client_secret",
        "clientSecret",
        "CLIENT-SECRET",
        "client_assertion",
        "password",
        "passwd",
        "api_key",
        "apiKey",
        "APIKey",
        "X-API-Key",
        "private_key",
        "app_secret",
        "db_password",
        "clientsecret",
    ],
)
def test_secret_fields_are_secret_keys(name: str) -> None:
    assert is_secret_key(name) and not is_token_key(name)


@pytest.mark.parametrize(
    "name",
    ["access_token", "id_token", "IDToken", "refresh_token", "token", "csrf_token", "X-Auth-Token"],
)
def test_token_fields_are_token_keys(name: str) -> None:
    assert is_token_key(name) and not is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "token_type",
        "tokenType",
        "expires_in",
        "token_endpoint",
        "tokenUrl",
        "scope",
        "client_id",
        "grant_type",
        "public_key",
        "key_id",
        "tokens",
        "password_policy",
        "secret_name",
    ],
)
def test_neighbouring_fields_are_neither(name: str) -> None:
    assert not is_secret_key(name) and not is_token_key(name)


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("Authorization", True),
        ("proxy-authorization", True),
        ("Cookie", True),
        ("Set-Cookie", True),
        ("X-Api-Key", True),
        ("X-Access-Token", True),
        ("X-Client-Secret", True),
        ("Content-Type", False),
        ("X-Request-Id", False),
        ("WWW-Authenticate", False),
        ("Token-Type", False),
    ],
)
def test_credential_headers(name: str, credential: bool) -> None:
    assert is_credential_header(name) is credential


def test_a_cookie_is_a_credential_by_its_name_or_its_value() -> None:
    assert is_credential_cookie("sessionid", "x")
    assert is_credential_cookie("refreshToken", "x")
    assert is_credential_cookie("theme", token_urlsafe(random.Random(1), 24))
    assert not is_credential_cookie("theme", "dark")
    assert not is_credential_cookie("lang", "en-GB")


# -- shapes --------------------------------------------------------------------------------

RNG = random.Random(20240501)
REAL_TOKENS = (
    [token_urlsafe(RNG, 24) for _ in range(500)]
    + [RNG.randbytes(16).hex() for _ in range(500)]
    + [base64.b64encode(RNG.randbytes(24)).decode() for _ in range(200)]
    + [make_jwt({"sub": "partner@clients", "iat": i}, RNG.randbytes(256)) for i in range(50)]
    + [
        secrets.token_hex(16),
        "v1.M" + token_urlsafe(RNG, 60),
        "550e8400-e29b-41d4-a716-446655440000",
    ]
)
NOT_TOKENS = [
    "internationalization",
    "Supercalifragilisticexpialidocious",
    "antidisestablishmentarianism",
    "getExternalStoragePublicDirectory",
    "test_secrets_vocabulary_module",
    "HTTPServerRequestHandler",
    "/usr/lib/python3.11/site-packages/m2m_contract/_secrets.py",
    "src/m2m_contract/live/_scrub.py",
    "/usr/lib/x86_64-linux-gnu/libssl.so.3",
    "node_modules/@types/node/index.d.ts",
    "2024.05.01-rc1+build.20240501",
    "v10.22.333-alpha.4+sha.5114f85",
    "1.2.3-beta.11",
    "https://loyaltyone-sandbox-pin.auth0.com/oauth/token",
    "loyaltyone-sandbox-pin.auth0.com",
    "2024-05-01T12:00:00.123456Z",
    "20240501120000123456789",
    "deadbeefdeadbeefdeadbeef",
    "REDACTED",
    "xxxxxxxxxxxxxxxxxxxxxxxx",
    "<token>",
    "<your-access-token-here>",
    "YOUR_CLIENT_SECRET",
    "********************",
    "${ACCESS_TOKEN_FROM_VAULT}",
    "{{client_secret}}",
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.REDACTED",
    "the quick brown fox jumps over the lazy dog",
]


def test_real_tokens_look_like_tokens() -> None:
    missed = [i for i, token in enumerate(REAL_TOKENS) if not looks_like_token(token)]
    assert missed == []


@pytest.mark.parametrize("value", NOT_TOKENS)
def test_words_paths_versions_urls_timestamps_and_placeholders_are_no_tokens(value: str) -> None:
    assert not looks_like_token(value)


@pytest.mark.parametrize(
    "value",
    [
        "REDACTED",
        "REDACTED-by-the-scrubber",
        "xxxxxxxx",
        "********",
        "<token>",
        "{{token}}",
        "${TOKEN}",
        "YOUR_CLIENT_SECRET",
        "your-api-key",
        "changeme",
        "",
        "   ",
        "[FILTERED]",
    ],
)
def test_placeholders_are_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_real_values_are_no_placeholders() -> None:
    assert not any(is_placeholder(token) for token in REAL_TOKENS)
    assert not is_placeholder("hunter2-secret")


def test_the_jwt_pattern_finds_a_compact_jws_and_unsign_keeps_its_claims() -> None:
    token = make_jwt({"sub": "partner@clients"}, RNG.randbytes(256))
    match = S.JWT.search(f"Authorization: Bearer {token}\n")
    assert match is not None and match.group() == token
    header, claims, _ = token.split(".")
    assert unsign(token) == f"{header}.{claims}.REDACTED"
    assert not looks_like_token(unsign(token))
    assert unsign("opaque-token-value") == REDACTED


def test_unsign_drops_a_token_whose_claims_hold_a_known_value() -> None:
    leaky = make_jwt({"sub": "the-client-secret-value"}, RNG.randbytes(64))
    assert unsign(leaky, ["the-client-secret-value"]) == REDACTED


# -- spellings -----------------------------------------------------------------------------


def test_a_secret_has_every_spelling_and_each_is_named() -> None:
    names = set(spellings("s3cr3t Välue/with+marks~~~!", client_id=CLIENT_ID).values())
    assert names == {
        S.PLAIN,
        S.JSON_ESCAPED,
        S.JSON_U,
        S.PERCENT,
        S.FORM,
        S.PERCENT_ALL,
        S.B64,
        S.B64_UNPADDED,
        S.B64URL,
        S.B64URL_UNPADDED,
        S.B64_BLOB,
        S.B64URL_BLOB,
        S.BASIC,
        S.HEX,
        S.PREFIX,
        S.SUFFIX,
    }


def test_a_jwt_token_is_sought_by_its_signature_not_by_its_shared_header() -> None:
    token = make_jwt({"sub": "partner@clients"}, RNG.randbytes(256))
    found = spellings(token, kind="token")
    assert {S.SIGNATURE, S.SIGNATURE_PREFIX, S.SIGNATURE_SUFFIX} <= set(found.values())
    assert S.PREFIX not in found.values() and token[:12] not in found


def test_short_values_are_sought_only_as_they_are_and_tiny_ones_not_at_all() -> None:
    assert spellings("abc") == {}
    assert spellings("abc1234") == {"abc1234": S.PLAIN}
    assert spellings("REDACTED-value") == {}
    known = Known(secrets=["abc", "abc1234"])
    assert len(known) == 1
    assert known.find(base64.b64encode(b"abc1234").decode()) == []
    assert known.find("xabc1234x") == [Finding("a secret", S.PLAIN)]


@given(values, st.integers(min_value=1))
def test_every_spelling_in_every_context_is_found_and_redacted(
    value: tuple[S.Kind, str], seed: int
) -> None:
    kind, text = value
    label = f"the {kind}"
    known = Known()
    known.add(label, text, kind=kind, client_id=CLIENT_ID)
    table = spellings(text, kind=kind, client_id=CLIENT_ID)
    for spelled, name in table.items():
        for where, wrap in CONTEXTS:
            leaked = wrap(spelled, seed % (len(spelled) - 1) + 1)
            found, shown = known.find(leaked), visible(leaked)
            # The context may complete a longer spelling (base64 then "=1" is padded base64).
            longer = {n for t, n in table.items() if spelled in t and t in shown}
            assert {f.spelling for f in found} & {name, *longer}, (name, where)
            assert {f.label for f in found} == {label}
            for clean in (known.redact(leaked), redact(leaked, known)):
                assert known.find(clean) == [], (name, where)
                left = visible(clean)
                assert not any(s in left for s in table), (name, where)


@given(secret_values.filter(lambda v: len(v) >= 12), st.text(alphabet=ALPHABET, max_size=400))
def test_text_without_the_value_yields_no_finding(value: str, text: str) -> None:
    assume(not any(spelled in text for spelled in spellings(value, client_id=CLIENT_ID)))
    known = Known(secrets=[value], client_id=CLIENT_ID)
    assert known.find(text) == []
    assert known.redact(text) == text


def test_random_values_are_not_found_in_unrelated_text() -> None:
    rng = random.Random(7)
    noise = "".join(rng.choice(ALPHABET) for _ in range(200_000))
    values = [token_urlsafe(rng, 12) for _ in range(50)] + [
        rng.randbytes(8).hex() for _ in range(50)
    ]
    assert Known(secrets=values, client_id=CLIENT_ID).find(noise) == []


def test_the_longest_spelling_present_is_reported() -> None:
    value = "a-long-client-secret-value"
    known = Known(secrets=[("the client secret", value)])
    assert known.find(f"x {value} y") == [Finding("the client secret", S.PLAIN)]
    assert known.find(f"x {value[:15]}") == [Finding("the client secret", S.PREFIX)]


def test_a_cut_value_is_redacted_as_far_as_it_goes() -> None:
    value = "a-long-client-secret-value"
    known = Known(secrets=[value])
    assert known.redact(f"[{value[:20]}] [{value[-15:]}]") == "[REDACTED] [REDACTED]"


def test_one_finding_per_label_and_spelling_and_never_the_value() -> None:
    value = "a-long-client-secret-value"
    known = Known(secrets=[("the client secret", value)], tokens=["t0ken-value-0123456789"])
    found = known.find(f"{value} {value} {base64.b64encode(value.encode()).decode()}")
    assert found == [Finding("the client secret", S.PLAIN), Finding("the client secret", S.B64)]
    shown = f"{found!r} {[str(f) for f in found]} {known!r}"
    assert value not in shown and "t0ken" not in shown
    assert repr(known) == "Known(1 secrets, 1 tokens)" and len(known) == 2 and known


def test_bytes_are_searched_like_text() -> None:
    value = "a-long-client-secret-value"
    known = Known(secrets=[value])
    leaked = f"out: {ansi_between_characters(value)}\n".encode()
    assert known.find(leaked) == [Finding("a secret", S.PLAIN)]


def test_tokens_added_from_many_threads_are_all_found() -> None:
    known = Known(secrets=["the-client-secret-value"])
    tokens = [[token_urlsafe(random.Random(t * 100 + i), 24) for i in range(20)] for t in range(8)]

    def issue(batch: list[str]) -> None:
        for token in batch:
            known.add("an access token", token, kind="token")
            assert Finding("an access token", S.PLAIN, "token") in known.find(f"Bearer {token}")

    threads = [threading.Thread(target=issue, args=(batch,)) for batch in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(known) == 161
    text = " ".join(token for batch in tokens for token in batch)
    assert known.redact(text) == " ".join([REDACTED] * 160)


def test_learn_adds_the_tokens_of_a_token_response() -> None:
    known = Known()
    response = {"access_token": "opaque-access-token-1234", "token_type": "Bearer"}
    known.learn({**response, "x": [{"idToken": "id-token-value-5678"}]})
    assert len(known) == 2
    issued = Finding("the issued access_token", S.PLAIN, "token")
    assert known.find("opaque-access-token-1234") == [issued]
    assert known.find("Bearer") == []


# -- structural redaction ------------------------------------------------------------------

SECRET_KEYS = [
    "client_secret",
    "clientSecret",
    "ClientSecret",
    "client-secret",
    "CLIENT_SECRET",
    "client.secret",
    "password",
    "apiKey",
    "X-Api-Key",
    "private_key",
    "client_assertion",
]
TOKEN_KEYS = [
    "access_token",
    "accessToken",
    "AccessToken",
    "access-token",
    "ACCESS_TOKEN",
    "refresh_token",
    "id_token",
    "idToken",
    "token",
]
field_values = st.text(alphabet=ALPHABET, min_size=1, max_size=40).filter(
    lambda v: not is_placeholder(v)
)
plain_notes = st.text(alphabet=string.ascii_letters + string.digits + " -", max_size=20)


@st.composite
def documents(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """A JSON document holding secret and token fields at random depths, and their keys."""
    keys = draw(st.lists(st.sampled_from(SECRET_KEYS + TOKEN_KEYS), min_size=1, max_size=4))
    doc: Any = {"note": draw(plain_notes), "token_type": "Bearer", "expires_in": 3600}
    for key in keys:
        leaf: Any = {key: draw(field_values), "note": draw(plain_notes)}
        for wrap in draw(st.lists(st.sampled_from(["dict", "list"]), max_size=4)):
            leaf = {"nested": leaf} if wrap == "dict" else [draw(plain_notes), leaf]
        doc[f"part{len(doc)}"] = leaf
    return doc, keys


def fields(doc: Any) -> list[tuple[str, Any]]:
    """Every (key, value) pair of a parsed document, at any depth."""
    if isinstance(doc, list):
        return [pair for item in doc for pair in fields(item)]
    if isinstance(doc, dict):
        return [(k, v) for k, v in doc.items()] + [p for v in doc.values() for p in fields(v)]
    return []


@given(documents(), st.booleans(), st.sampled_from([None, 2]))
def test_secret_and_token_fields_are_redacted_in_every_key_style_at_any_depth(
    document: tuple[Any, list[str]], ascii_only: bool, indent: int | None
) -> None:
    doc, keys = document
    clean = json.loads(redact(json.dumps(doc, ensure_ascii=ascii_only, indent=indent)))
    pairs = fields(clean)
    assert {k for k, v in pairs if v == REDACTED} == set(keys)
    assert [v for k, v in pairs if k == "note"] == [v for k, v in fields(doc) if k == "note"]
    assert (clean["token_type"], clean["expires_in"]) == ("Bearer", 3600)


@given(documents(), st.integers(min_value=1, max_value=3))
def test_json_inside_json_strings_is_redacted_at_every_level(
    document: tuple[Any, list[str]], levels: int
) -> None:
    doc, keys = document
    text = json.dumps(doc)
    for _ in range(levels):
        text = json.dumps({"body": text})
    clean = json.loads(redact(text))
    for _ in range(levels):
        clean = json.loads(clean["body"])
    assert {k for k, v in fields(clean) if v == REDACTED} == set(keys)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ('{"client_secret": "a\\"b\\\\", "n": 1}', '{"client_secret": "REDACTED", "n": 1}'),
        (
            '{"client_secret":12345,"access_token":null,"password":true}',
            '{"client_secret":"REDACTED","access_token":null,"password":true}',
        ),
        (
            "{'client_secret': 'hunter2-secret', 'scope': 'read'}",
            "{'client_secret': 'REDACTED', 'scope': 'read'}",
        ),
        ('{"client_secret": {"nested": "x"}}', '{"client_secret": {"nested": "x"}}'),
        ('{"client_secret": ""}', '{"client_secret": ""}'),
        (
            "client_id=c&client_secret=hunter2&scope=read",
            "client_id=c&client_secret=REDACTED&scope=read",
        ),
        ("GET /cb?access_token=abc.def-ghi&state=1", "GET /cb?access_token=REDACTED&state=1"),
        ("clientSecret=x1%2Fy&a=1", "clientSecret=REDACTED&a=1"),
        ("client%5Fsecret=abc123", "client%5Fsecret=REDACTED"),
        ("--client-secret=hunter2 --verbose", "--client-secret=REDACTED --verbose"),
        ('client_secret="hunter two"', 'client_secret="REDACTED"'),
        ("Authorization: Bearer abcdefgh12345", "Authorization: Bearer REDACTED"),
        ("Authorization: bearer abcdefghijklmnopqrstuvwxyz", "Authorization: bearer REDACTED"),
        ("Basic ZGVtbzpzZWNyZXQ=", "Basic REDACTED"),
    ],
)
def test_fields_forms_and_credentials_are_redacted(text: str, clean: str) -> None:
    assert redact(text) == clean
    assert redact(clean) == clean


@pytest.mark.parametrize(
    "prose",
    [
        "expected 'Authorization: Bearer <token>'",
        'Bearer realm="m2m-contract"',
        'WWW-Authenticate: Bearer realm="api", error="invalid_token"',
        "the API uses Bearer authentication, never Basic authorization",
        "token_type must be Bearer and expires_in=3600",
        "POST to the token_endpoint with grant_type=client_credentials&scope=read",
        "client_secret=REDACTED and Bearer REDACTED",
        "set token=<token> or password=${PASSWORD}",
    ],
)
def test_prose_and_placeholders_are_left_alone(prose: str) -> None:
    assert redact(prose) == prose
    assert find_structural(prose) == []


def test_a_jwt_in_text_is_redacted_or_unsigned() -> None:
    token = make_jwt({"sub": "partner@clients"}, RNG.randbytes(256))
    text = f"got {token} back"
    assert redact(text) == "got REDACTED back"
    assert redact(text, on_token=unsign) == f"got {unsign(token)} back"
    assert redact(f'{{"access_token": "{token}"}}', on_token=unsign) == (
        f'{{"access_token": "{unsign(token)}"}}'
    )
    assert find_structural(text) == [Finding("a JWT", "in text", "token")]


# What the cassette hygiene check reports today must be found (tests/live/test_hygiene.py).
HYGIENE_LEAKS = [
    (
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWNsaWVudEBjbGllbnRzIn0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw",
        "a JWT",
    ),
    ('{"client_secret": "hunter2-secret"}', "the client_secret field's value"),
    ("client_id=c&client_secret=hunter2", "the client_secret field's value"),
    ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "Bearer credentials"),
    ("Authorization: Basic cGFydG5lcjpodW50ZXIy", "Basic credentials"),
    ('{"client_secret":"Rhunter2"}', "the client_secret field's value"),
    ('{"refresh_token":"v1.MRrt-abc"}', "the refresh_token field's value"),
    ("refresh_token=v1.abc&x=1", "the refresh_token field's value"),
    ('{"access_token":"opaque-token-value"}', "the access_token field's value"),
]


@pytest.mark.parametrize(("text", "label"), HYGIENE_LEAKS)
def test_every_leak_the_hygiene_check_knows_is_found_and_redacted(text: str, label: str) -> None:
    assert label in {f.label for f in find_structural(text)}
    assert find_structural(redact(text)) == []


@given(
    st.lists(
        st.sampled_from([t for t, _ in HYGIENE_LEAKS] + ["Bearer <token>", " & ", "\n", '", "'])
        | st.text(alphabet=ALPHABET, max_size=20),
        max_size=8,
    )
)
def test_redaction_is_idempotent_and_leaves_nothing_structural(pieces: list[str]) -> None:
    text = "".join(pieces)
    once = redact(text)
    assert redact(once) == once
    assert find_structural(once) == []


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Authorization", "Bearer abcdefgh12345", "Bearer REDACTED"),
        ("authorization", "Basic ZGVtbzpzZWNyZXQ=", "Basic REDACTED"),
        ("Authorization", "abcdefgh12345", REDACTED),
        ("Authorization", "weird-scheme-is-a-secret part2", REDACTED),
        ("Proxy-Authorization", "Digest username=x", "Digest REDACTED"),
        ("Cookie", "sid=abc; theme=dark", REDACTED),
        ("Set-Cookie", "sid=abc; HttpOnly", REDACTED),
        ("X-Access-Token", "opaque-token", REDACTED),
        ("X-Client-Secret", "hunter2", REDACTED),
        ("Content-Type", "application/json", "application/json"),
        ("X-Debug", "client_secret=hunter2", "client_secret=REDACTED"),
    ],
)
def test_headers_keep_only_their_scheme_or_go_through_redact(
    name: str, value: str, shown: str
) -> None:
    assert redact_header(name, value) == shown


def test_a_known_value_is_hidden_in_any_header() -> None:
    assert redact_header("X-Debug", "v=the-secret-value", ["the-secret-value"]) == "v=REDACTED"


def test_parsed_json_is_redacted_by_key_at_any_depth() -> None:
    token = make_jwt({"sub": "partner@clients"}, RNG.randbytes(64))
    doc = {
        "clientSecret": "hunter2",
        "deep": [{"ACCESS_TOKEN": token, "refresh_token": 42, "id_token": None}],
        "note": f"echo {token} and the-secret-value",
        "the-secret-value": "as a key",
        "token_type": "Bearer",
    }
    clean = redact_json(doc, ["the-secret-value"])
    assert clean == {
        "clientSecret": REDACTED,
        "deep": [{"ACCESS_TOKEN": REDACTED, "refresh_token": REDACTED, "id_token": None}],
        "note": "echo REDACTED and REDACTED",
        REDACTED: "as a key",
        "token_type": "Bearer",
    }
    assert redact_json(doc, on_token=unsign)["deep"][0]["ACCESS_TOKEN"] == unsign(token)


def test_callers_holding_plain_values_keep_working() -> None:
    assert redact("id=the-secret-value", ["the-secret-value"]) == "id=REDACTED"
    assert redact("id=the-secret-value", "the-secret-value") == "id=REDACTED"
    assert redact("id=the-secret-value") == "id=the-secret-value"


def test_a_value_with_a_lone_surrogate_is_sought_as_it_is() -> None:
    value = "abc\udc80defghij-secret"  # what bytes decoded with surrogateescape can hold
    known = Known(secrets=[value])
    assert known.find(f"x {value} y") == [Finding("a secret", S.PLAIN)]
    assert known.find(b"x abc\x80defghij-secret y") == [Finding("a secret", S.PLAIN)]
    assert known.redact(f"x {value} y") == "x REDACTED y"


def test_a_password_beginning_with_your_is_no_placeholder() -> None:
    assert not is_placeholder("yourCompany2024!")
    assert redact('{"password": "yourCompany2024!"}') == '{"password": "REDACTED"}'


# -- what the scrubber and the cassette check ask besides ----------------------------------


def test_is_scrubbed_says_what_redaction_leaves() -> None:
    token = make_jwt({"sub": "partner@clients"}, RNG.randbytes(64))
    assert S.is_scrubbed(REDACTED) and S.is_scrubbed("<token>") and S.is_scrubbed(unsign(token))
    assert not S.is_scrubbed(token) and not S.is_scrubbed("hunter2-secret")


def test_a_signed_or_percent_encoded_cookie_is_a_credential_and_auth0_a_session() -> None:
    signed = "s%3Av0%3A" + token_urlsafe(random.Random(2), 24)  # Express: s:v0:<id>.<sig>
    assert is_credential_cookie("did", signed)
    assert is_credential_cookie("auth0", "x") and is_credential_cookie("session2", "x")
    assert not is_credential_cookie("did", "s%3Av0%3Ashort") and not is_credential_cookie("v2", "x")


def test_learn_skips_placeholders_and_unsigned_tokens() -> None:
    known = Known()
    token = make_jwt({"sub": "partner@clients"}, RNG.randbytes(64))
    known.learn({"access_token": unsign(token), "password": "null", "id_token": "<token>"})
    assert len(known) == 0


def test_a_form_key_is_named_decoded() -> None:
    assert find_structural("client%5Fsecret=hunter2") == [
        Finding("the client_secret field's value", "in a form", "secret")
    ]


OPAQUE = token_urlsafe(random.Random(3), 32)


@pytest.mark.parametrize(
    ("url", "clean", "label"),
    [
        (
            "https://partner-client:hunter2@tenant.example/oauth/token",
            "https://partner-client:REDACTED@tenant.example/oauth/token",
            "the password in a URL's userinfo",
        ),
        (
            f"https://api.example/members?{OPAQUE}=1&page=2",
            "https://api.example/members?REDACTED=1&page=2",
            "a token-shaped query key",
        ),
        (
            f"/callback?code={OPAQUE}&state=xyz",
            "/callback?code=REDACTED&state=xyz",
            "a token-shaped query value",
        ),
        (
            f"https://app.example/cb#access_token={OPAQUE}&token_type=Bearer",
            "https://app.example/cb#access_token=REDACTED&token_type=Bearer",
            "the access_token field's value",
        ),
        (
            "https://x.example/?client%5Fsecret=a%2Fb&n=1",
            "https://x.example/?client%5Fsecret=REDACTED&n=1",
            "the client_secret field's value",
        ),
        (
            "https://x.example/?q=Bearer+abcdefghijklmnop",
            "https://x.example/?q=Bearer+REDACTED",
            "Bearer credentials",
        ),
    ],
)
def test_a_url_loses_its_credentials_and_keeps_its_layout(url: str, clean: str, label: str) -> None:
    assert S.redact_url(url) == clean
    assert S.redact_url(clean) == clean
    assert [f.label for f in S.find_url(url)] == [label]
    assert S.find_url(clean) == []


def test_a_jwt_in_a_url_is_unsigned_by_on_token_and_known_values_go_anywhere() -> None:
    token = make_jwt({"sub": "partner@clients"}, RNG.randbytes(64))
    assert S.redact_url(f"/cb?id_token={token}", on_token=unsign) == f"/cb?id_token={unsign(token)}"
    secret = "the-secret-value"
    url = f"https://u-{secret}@h.example/{secret}?k{quote_plus(secret)}=1#{secret}"
    clean = "https://u-REDACTED@h.example/REDACTED?REDACTED=1#REDACTED"
    assert S.redact_url(url, [secret]) == clean


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/oauth/token",
        "https://api.example/members?page=2&sort=name&q=hello+world",
        "https://user@host.example/path;v=1",
        "mailto:partner@example.com",
        "/relative/path?state=xyz#top",
        "",
    ],
)
def test_an_ordinary_url_is_left_as_it_is(url: str) -> None:
    assert S.redact_url(url) == url and S.find_url(url) == []


def test_urls_are_found_in_text_and_url_headers_named() -> None:
    text = 'see "https://a.example/x?y=1", then <http://b.example/>.'
    assert [m.group() for m in S.URL.finditer(text)] == [
        "https://a.example/x?y=1",
        "http://b.example/",
    ]
    assert S.is_url_header("Location") and S.is_url_header("content-location")
    assert not S.is_url_header("Link") and not S.is_url_header("X-Location-Id")
