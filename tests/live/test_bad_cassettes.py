"""The bad-cassette corpus (tests/live/bad_cassettes): `cassettes check` flags every bad one
and passes the clean control, and the scrubber, fed the same interactions through VCR.py's
recording, writes none of their leaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import vcr
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from m2m_contract._cli import main
from m2m_contract._secrets import Known
from m2m_contract.live import check_file, vcr_config
from m2m_contract.live._scrub import ScrubError, decode

CORPUS = Path(__file__).parent / "bad_cassettes"
CONTROL = CORPUS / "clean-control.yaml"
BAD = sorted(p for p in CORPUS.glob("*.yaml") if p != CONTROL)
COMMAND = Path(sys.executable).parent / "m2m-contract"
# What the corpus plants: the client secret of `partner-client`, opaque tokens, a signature.
CLIENT = "partner-client"
SECRET = "Qm3v9ZtX7pL2sR8wK4yB6nD1hF5jG0cA"
TOKENS = [
    "e2FOQooYb0pMEW2vSZ_X6A3-H69CLVDNLRhu2bnk1uM",
    "nZ6LLw0c6qaS4wU7DyOLqqBFrCWQ64XeIUekOcjEFaQ",
    "jfjou_zA9y8cpFUhorUhEl8-BIisu4XYx6TCNm4lpL4",
    "EKBuS-1frAdqDHxugfpUIDiocNbKKSWvID7Am8Beff8",
    "S9exA8qeM_54Pp1GJQaa1cvOjiXfVL8VH4QM37TISss",
    "WBhLz1MHa-PmFVnOGPIvQ82tjNP7DXlzOfKnvj3Xz28B3Abzj722I_uLNMvwCYTgNZ23QfeWEVtimpXZuD_pOw",
]
PLANTED = Known(secrets=[SECRET], tokens=TOKENS, client_id=CLIENT)
# The places the issue names, each hidden by one file of the corpus.
REQUIRED = {
    "secret in userinfo": "userinfo.yaml",
    "secret in a query key": "query-key.yaml",
    "percent-encoded in a form body": "form-percent-encoded.yaml",
    "JSON body under a camelCase key": "json-camelcase.yaml",
    "nested three deep": "json-nested.yaml",
    "multipart body": "multipart.yaml",
    "custom header": "custom-header.yaml",
    "cookie": "cookie.yaml",
    "token in Set-Cookie": "set-cookie-token.yaml",
    "token in Location": "location-token.yaml",
    "opaque token under accessToken": "opaque-access-token.yaml",
    "JWT in a text/plain body": "jwt-text-plain.yaml",
    "gzip body": "gzip.yaml",
    "brotli body": "brotli.yaml",
    "zstd body": "zstd.yaml",
    "deflate body hiding a refresh_token": "deflate-refresh-token.yaml",
    "!!binary body": "binary-body.yaml",
    "JSON-escaped secret": "json-escaped.yaml",
    "application/vnd.api+json body": "vnd-api-json.yaml",
    "Bearer header": "bearer-header.yaml",
    "Basic header": "basic-header.yaml",
}
# Leaks no VCR.py hook ever sees: outside the interactions, or not a cassette at all.
OUTSIDE_TRAFFIC = {"metadata.yaml", "yaml-comment.yaml", "duplicate-key.yaml"}
UNREADABLE = {"not-a-cassette.yaml"}
REFUSED = {"unknown-encoding.yaml": "xz"}


def run_cli(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), "cassettes", "check", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def traffic(text: str) -> tuple[list[Any], list[dict[str, Any]]]:
    requests, responses, *_ = deserialize(text, yamlserializer)
    return requests, responses


def replayed(requests: list[Any], responses: list[dict[str, Any]]) -> str:
    """Everything the interactions replay, bodies decoded: URLs, headers, bodies."""
    out: list[str] = []
    messages = [
        *((dict(q.headers), q.body, q.uri) for q in requests),
        *((r["headers"], r["body"]["string"], "") for r in responses),
    ]
    for headers, body, uri in messages:
        lists = {k: v if isinstance(v, list) else [v] for k, v in headers.items()}
        out += [uri, *(f"{k}: {v}" for k, values in lists.items() for v in values)]
        coding = next((v[0] for k, v in lists.items() if k.lower() == "content-encoding"), "")
        data = body.encode() if isinstance(body, str) else body or b""
        out.append(decode(data, coding).decode("utf-8", "replace") if coding else data.decode())
    return "\n".join(out)


def test_the_corpus_holds_every_required_leak_and_each_file_says_what_it_hides() -> None:
    assert len(BAD) >= 20
    assert set(REQUIRED.values()) <= {p.name for p in BAD}
    for path in [*BAD, CONTROL]:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# hides: ") and len(first) > len("# hides: ") + 10, path.name


def test_the_cli_flags_every_bad_cassette_of_the_directory_and_never_shows_a_value() -> None:
    result = run_cli(CORPUS)
    assert result.returncode == 1, result.stderr
    *findings, summary = result.stdout.splitlines()
    assert {line.split(": ", 1)[0] for line in findings} == {str(p) for p in BAD}
    assert str(CONTROL) not in result.stdout
    assert f"in {len(BAD)} file(s)" in summary
    assert PLANTED.find(result.stdout + result.stderr) == []


def test_the_cli_passes_the_clean_control() -> None:
    result = run_cli(CONTROL)
    assert result.returncode == 0, result.stdout
    assert "1 file(s) checked; no signed token, secret or credential found" in result.stdout


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_each_bad_cassette_alone_fails_the_check(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cassettes", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: ") and PLANTED.find(out) == []


@pytest.mark.parametrize(
    "path", [p for p in [*BAD, CONTROL] if p.name not in UNREADABLE], ids=lambda p: p.name
)
def test_recording_the_same_interactions_writes_none_of_their_leaks(
    path: Path, tmp_path: Path
) -> None:
    requests, responses = traffic(path.read_text(encoding="utf-8"))
    if path.name not in OUTSIDE_TRAFFIC | {CONTROL.name, *REFUSED}:
        assert PLANTED.find(replayed(requests, responses)), "the corpus file leaks nothing"
    written = tmp_path / path.name
    recorder = vcr.VCR(**vcr_config([SECRET]))  # the live suite knows the client secret only
    if path.name in REFUSED:
        with (
            pytest.raises(ScrubError, match=f"Content-Encoding '{REFUSED[path.name]}'"),
            recorder.use_cassette(str(written), record_mode="all") as cassette,
        ):
            for request, response in zip(requests, responses, strict=True):
                cassette.append(request, response)
        assert not written.exists()
        return
    with recorder.use_cassette(str(written), record_mode="all") as cassette:
        for request, response in zip(requests, responses, strict=True):
            cassette.append(request, response)
    text = written.read_text(encoding="utf-8")
    assert check_file(written) == []
    assert PLANTED.find(text) == []
    assert PLANTED.find(replayed(*traffic(text))) == []
    assert len(traffic(text)[0]) == len(requests)  # nothing dropped: every interaction replays


def test_only_the_cut_off_file_cannot_be_read() -> None:
    unreadable = set()
    for path in [*BAD, CONTROL]:
        try:
            traffic(path.read_text(encoding="utf-8"))
        except Exception:
            unreadable.add(path.name)
    assert unreadable == UNREADABLE
