"""The cassette hygiene check and `m2m-contract cassettes check`: leaks are found and named."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from vcr.serializers import yamlserializer

from m2m_contract._cli import main
from m2m_contract._secrets import PLACEHOLDERS
from m2m_contract.live import check_cassettes, check_file, check_text

ROOT = Path(__file__).parents[2]
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWNsaWVudEBjbGllbnRzIn0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw"
UNSIGNED = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWNsaWVudEBjbGllbnRzIn0.REDACTED"
OPAQUE = "e2FOQooYb0pMEW2vSZ_X6A3-H69CLVDNLRhu2bnk1uM"


def cassette(
    body: str | bytes = "",
    headers: dict[str, list[str]] | None = None,
    *,
    uri: str = "https://tenant.example/oauth/token",
    request_headers: dict[str, list[str]] | None = None,
    request_body: str | bytes = "",
    **document: Any,
) -> str:
    """A one-interaction cassette, as VCR.py writes it."""
    interaction = {
        "request": {
            "body": request_body,
            "headers": request_headers or {},
            "method": "POST",
            "uri": uri,
        },
        "response": {
            "body": {"string": body},
            "headers": headers or {},
            "status": {"code": 200, "message": "OK"},
        },
    }
    return str(yamlserializer.serialize({"interactions": [interaction], "version": 1, **document}))


def found(tmp_path: Path, text: str) -> set[tuple[str, str]]:
    path = tmp_path / "cassette.yaml"
    path.write_text(text, encoding="utf-8")
    return {(f.where, f.kind) for f in check_file(path)}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (JWT, "a JWT"),
        ('{"client_secret": "hunter2-secret"}', "the client_secret field's value"),
        ("client_id=c&client_secret=hunter2", "the client_secret field's value"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "Bearer credentials"),
        ("Authorization: Basic cGFydG5lcjpodW50ZXIy", "Basic credentials"),
        ('{"refresh_token":"v1.MRrt-abc"}', "the refresh_token field's value"),
        ('{"accessToken":"opaque-token-value"}', "the access_token field's value"),
        ("see https://partner:hunter2@tenant.example/", "the password in a URL's userinfo"),
        (f"Location: https://app.example/cb?code={OPAQUE}", "a token-shaped query value"),
    ],
)
def test_each_kind_of_leak_is_found_in_text(text: str, kind: str) -> None:
    assert kind in check_text(text)


def test_scrubbed_traffic_is_clean() -> None:
    clean = (
        f'{{"client_secret":"REDACTED","access_token":"{UNSIGNED}","refresh_token":"REDACTED"}} '
        "client_secret=REDACTED&grant_type=refresh_token Authorization: Bearer REDACTED "
        "Basic REDACTED client_secret_basic https://partner:REDACTED@tenant.example/?code=REDACTED"
    )
    assert check_text(clean) == []


def test_leaks_hidden_from_grep_are_found_in_the_replayed_traffic(tmp_path: Path) -> None:
    binary = found(tmp_path, cassette(f'{{"access_token":"{JWT}"}}'.encode()))
    assert binary == {("interaction 1 response body", "the access_token field's value (in JSON)")}
    gzipped = gzip.compress(f"token: {JWT}".encode())
    assert found(tmp_path, cassette(gzipped, {"content-encoding": ["gzip"]})) == {
        ("interaction 1 response body", "a JWT (in text)")
    }
    escaped = json.dumps({"log": json.dumps({"client_secret": "hunter2-secret"})})
    assert found(tmp_path, cassette(escaped)) == {
        ("interaction 1 response body", "the client_secret field's value (in JSON)")
    }


@pytest.mark.parametrize(
    ("headers", "where", "kind"),
    [
        (
            {"Authorization": ["Basic abc"]},
            "authorization",
            "the authorization header's credentials",
        ),
        ({"X-Api-Key": ["k-123"]}, "x-api-key", "the x-api-key header's credentials"),
        ({"Cookie": [f"theme=dark; sid={OPAQUE}"]}, "cookie", "the sid cookie's value"),
        ({"Cookie": [f"theme={OPAQUE}"]}, "cookie", "a token-shaped cookie value"),
        (
            {"Set-Cookie": ["auth0=s%3Av0%3Aabc.def; Path=/"]},
            "set-cookie",
            "the auth0 cookie's value",
        ),
        ({"Location": [f"/cb?state={OPAQUE}"]}, "location", "a token-shaped query value"),
        ({"Location": [f"/cb#id_token={OPAQUE}"]}, "location", "the id_token field's value"),
        ({"X-Debug": [f"sent {JWT}"]}, "x-debug", "a JWT"),
    ],
)
def test_credentials_in_headers_cookies_and_urls_are_found(
    tmp_path: Path, headers: dict[str, list[str]], where: str, kind: str
) -> None:
    kinds = found(tmp_path, cassette("", headers))
    assert {w for w, _ in kinds} == {f"interaction 1 response header {where}"}
    assert any(k.startswith(kind) for _, k in kinds), kinds


def test_a_token_found_once_is_found_wherever_else_the_file_quotes_it(tmp_path: Path) -> None:
    text = cassette(
        json.dumps({"refresh_token": OPAQUE}),
        request_body=f"the one from yesterday was {OPAQUE[::-1]}, today {OPAQUE}",
    )
    assert found(tmp_path, text) == {
        ("interaction 1 response body", "the refresh_token field's value (in JSON)"),
        ("interaction 1 request body", "a token seen in the traffic (plain)"),
    }


def test_placeholders_are_allowed_everywhere(tmp_path: Path) -> None:
    placeholders = [p for p in PLACEHOLDERS if p != "..."] + [
        "REDACTED-demo-token",
        "<token>",
        "{{client_secret}}",
        "${ACCESS_TOKEN}",
        "xxxxxxxxxxxxxxxx",
        "YOUR_CLIENT_SECRET",
        UNSIGNED,
    ]
    for value in placeholders:
        text = cassette(
            json.dumps({"access_token": value, "data": {"clientSecret": value}}),
            {"Set-Cookie": [f"session={value}; Path=/"], "Location": [f"/cb?code={value}"]},
            uri=f"https://partner:{value}@tenant.example/?access_token={value}",
            request_headers={"Authorization": [f"Bearer {value}"], "X-Api-Key": [value]},
            request_body=f"client_secret={value}",
        )
        assert found(tmp_path, text) == set(), value


def test_ids_keys_digests_and_prose_are_no_findings(tmp_path: Path) -> None:
    text = cassette(
        json.dumps({"kid": "yX7xIr-xHnNMydSl3XT5gA-s2J5iv4XbNLUgnZkGH4M", "n": OPAQUE * 8}),
        {"X-Request-Id": ["550e8400-e29b-41d4-a716-446655440000"], "ETag": [f'W/"{OPAQUE}"']},
        request_body="expected 'Authorization: Bearer <token>'; token_type=Bearer",
        metadata={"signature": {"digest": "5380bceac58a8c03ae31ba2c328f3f5fdc1f255f0db8266df3"}},
    )
    assert found(tmp_path, text) == set()


def test_findings_name_the_place_never_the_value(tmp_path: Path) -> None:
    (tmp_path / "leak.yaml").write_text(
        cassette(
            '{"client_secret":"hunter2-secret"}',
            {"Set-Cookie": [f"{OPAQUE}=1"]},
            uri=f"https://u:hunter2-pass@x.example/?{OPAQUE}=1",
        )
    )
    shown = "\n".join(str(f) for f in check_cassettes(tmp_path))
    assert "hunter2" not in shown and OPAQUE not in shown and "interaction 1" in shown


def test_a_leak_the_parser_drops_is_found_on_its_line(tmp_path: Path) -> None:
    text = "# curl -d client_secret=hunter2-secret https://tenant.example/\n" + cassette()
    assert found(tmp_path, text) == {("line 1", "the client_secret field's value")}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("interactions: [unclosed\n", "ParserError"),
        ("interactions: !!python/object/apply:os.system [ls]\n", "ConstructorError"),
        ("just: a mapping\n", "no 'interactions' list"),
    ],
)
def test_an_unreadable_cassette_is_a_finding(tmp_path: Path, text: str, reason: str) -> None:
    assert found(tmp_path, text) == {
        ("whole file", f"not a readable cassette, so not checkable ({reason})")
    }


def test_a_cassette_nested_too_deep_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    text = "interactions: []\nmetadata: " + "[" * 900 + "]" * 900 + "\n"
    assert found(tmp_path, text) == {("whole file", "nested too deeply to be checked")}


def test_an_undecodable_body_is_a_finding(tmp_path: Path) -> None:
    text = cassette(b"\x00\x01not zstd", {"content-encoding": ["zstd"]})
    assert found(tmp_path, text) == {
        (
            "interaction 1 response body",
            "a body that cannot be decoded: the body does not decode as Content-Encoding "
            "'zstd' (not checked)",
        )
    }


def test_a_json_cassette_is_checked_like_a_yaml_one(tmp_path: Path) -> None:
    document = yamlserializer.deserialize(cassette(f'{{"id_token":"{JWT}"}}'))
    (tmp_path / "c.json").write_text(json.dumps(document), encoding="utf-8")
    assert {f.where for f in check_cassettes(tmp_path)} == {"interaction 1 response body"}


def test_the_command_exits_1_on_a_leak_0_when_clean_2_without_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ok.yaml").write_text(cassette(f'{{"access_token":"{UNSIGNED}"}}'))
    assert main(["cassettes", "check", str(tmp_path)]) == 0
    assert (
        "1 file(s) checked; no signed token, secret or credential found" in capsys.readouterr().out
    )
    (tmp_path / "leak.yaml").write_text(cassette(f'{{"access_token":"{JWT}"}}'))
    assert main(["cassettes", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{tmp_path / 'leak.yaml'}: interaction 1 response body: the access_token field's value "
        "(in JSON)" in out
    )
    assert JWT not in out and "1 finding(s) in 1 file(s)" in out
    assert main(["cassettes", "check", str(tmp_path / "leak.yaml")]) == 1
    assert main(["cassettes", "check", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_the_help_says_how_to_allow_a_placeholder(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["cassettes", "check", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "PLACEHOLDERS in m2m_contract/_secrets.py (add a spelling there to allow it)" in shown
    assert "starts with REDACTED" in shown and "Exit status: 0 clean, 1 findings, 2" in shown


def test_the_shipped_cassettes_are_clean() -> None:
    assert check_cassettes(ROOT / "cassettes") == []
    assert main(["cassettes", "check", str(ROOT / "cassettes")]) == 0


def test_a_basic_header_is_found_whatever_its_case() -> None:
    pair = base64.b64encode(b"partner:hunter2-secret").decode()
    assert "Basic credentials" in check_text(f"authorization: BASIC {pair}")
