"""The cassette hygiene check and `m2m-contract cassettes check`: leaks are found and named."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from m2m_contract.cli import main
from m2m_contract.live import check_cassettes, check_text

ROOT = Path(__file__).parents[2]
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWNsaWVudEBjbGllbnRzIn0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw"
UNSIGNED = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWNsaWVudEBjbGllbnRzIn0.REDACTED"


def cassette(body: str | bytes, headers: dict[str, list[str]] | None = None) -> str:
    """A one-interaction YAML cassette whose response has `body`."""
    response_body = (
        f"!!binary |\n        {base64.b64encode(body).decode()}"
        if isinstance(body, bytes)
        else json.dumps(body)
    )
    lines = [
        "interactions:",
        "- request:",
        "    body: ''",
        "    headers: {}",
        "    method: POST",
        "    uri: https://tenant.example/oauth/token",
        "  response:",
        "    body:",
        f"      string: {response_body}",
        f"    headers: {json.dumps(headers or {})}",
        "    status: {code: 200, message: OK}",
        "version: 1",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (JWT, "a signed JWT"),
        ('{"client_secret": "hunter2-secret"}', "a client_secret in a JSON body"),
        ("client_id=c&client_secret=hunter2", "a client_secret in a form body"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "Bearer credentials"),
        ("Authorization: Basic cGFydG5lcjpodW50ZXIy", "Basic credentials"),
        ('{"client_secret":"Rhunter2"}', "a secret field in a JSON body"),
        ('{"refresh_token":"v1.MRrt-abc"}', "a secret field in a JSON body"),
        ("refresh_token=v1.abc&x=1", "a secret field in a form body"),
        ('{"access_token":"opaque-token-value"}', "an access token that is not scrubbed"),
    ],
)
def test_each_kind_of_leak_is_found(text: str, kind: str) -> None:
    assert kind in check_text(text)


def test_scrubbed_traffic_is_clean() -> None:
    clean = (
        f'{{"client_secret":"REDACTED","access_token":"{UNSIGNED}","refresh_token":"REDACTED"}} '
        "client_secret=REDACTED&grant_type=refresh_token Authorization: Bearer REDACTED "
        "Basic REDACTED client_secret_basic"
    )
    assert check_text(clean) == []


def test_leaks_hidden_from_grep_are_found_in_the_replayed_traffic(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_text(cassette(f'{{"access_token":"{JWT}"}}'.encode()))
    gzipped = base64.b64encode(gzip.compress(JWT.encode())).decode()
    (tmp_path / "gzip.yaml").write_text(
        cassette("", {"content-encoding": ["gzip"]}).replace(
            'string: ""', f"string: !!binary |\n        {gzipped}"
        )
    )
    escaped = json.dumps({"client_secret": "hunter2-secret"}).replace('"', '\\"')
    (tmp_path / "escaped.yaml").write_text(
        cassette("").replace('string: ""', f'string: "{escaped}"')
    )
    (tmp_path / "header.yaml").write_text(cassette("", {"Authorization": ["Basic abc"]}))
    found = {(f.path.name, f.where, f.kind) for f in check_cassettes(tmp_path)}
    assert found == {
        ("binary.yaml", "interaction 1 response body", "a signed JWT"),
        ("binary.yaml", "interaction 1 response body", "an access token that is not scrubbed"),
        ("gzip.yaml", "interaction 1 response body", "a signed JWT"),
        ("escaped.yaml", "interaction 1 response body", "a client_secret in a JSON body"),
        ("escaped.yaml", "interaction 1 response body", "a secret field in a JSON body"),
        (
            "header.yaml",
            "interaction 1 response header authorization",
            "a credential header that is not redacted",
        ),
    }


def test_findings_name_the_place_never_the_value(tmp_path: Path) -> None:
    (tmp_path / "leak.yaml").write_text(cassette('{"client_secret":"hunter2-secret"}'))
    assert all("hunter2" not in str(f) for f in check_cassettes(tmp_path))


def test_an_unreadable_cassette_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("interactions: [unclosed\n")
    (tmp_path / "unsafe.yaml").write_text("interactions: !!python/object/apply:os.system [ls]\n")
    kinds = {f.path.name: f.kind for f in check_cassettes(tmp_path)}
    assert kinds["broken.yaml"].startswith("not a readable cassette")
    assert kinds["unsafe.yaml"].startswith("not a readable cassette")


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
    assert f"{tmp_path / 'leak.yaml'}: line 9: a signed JWT" in out and JWT not in out
    assert main(["cassettes", "check", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_the_shipped_cassettes_are_clean() -> None:
    assert check_cassettes(ROOT / "cassettes") == []
    assert main(["cassettes", "check", str(ROOT / "cassettes")]) == 0
