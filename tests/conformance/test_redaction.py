"""What the tool shows of a client never holds a piece of its secret: output is redacted as
one text before it is split into lines, client values are redacted before they are cut or
escaped, and no message keeps a raw control character or runs on for kilobytes."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from m2m_contract._secrets import BASIC, Known, spellings
from m2m_contract.contract import CATALOGUE, Observation, Outcome, ProtocolSettings, observe
from m2m_contract.emulator import Exchange, Request, Response
from m2m_contract.harness._session import judge, scenario_run

ROOT = Path(__file__).parents[2]
CLIENT_ID = "m2m-contract-client"
SECRET = "6W_aiFsjdLoVnswhOo5DD-ippMXA9b39"
SETTINGS = ProtocolSettings(
    "http://127.0.0.1:1/oauth/token", CLIENT_ID, SECRET, "read:members",
    audience="https://api.example/",
)
PIECE = 12  # a 12-character run of any spelling of the secret counts as a leak here


def _pieces(secret: str) -> set[str]:
    """Every PIECE-character run of every spelling of `secret` (Basic credentials aside:
    their start is the base64 of the client id alone)."""
    runs: set[str] = set()
    for text, name in spellings(secret, client_id=CLIENT_ID).items():
        if name != BASIC:
            runs |= {text[i : i + PIECE] for i in range(len(text) - PIECE + 1)}
    return runs


def _leaked(text: str, secret: str = SECRET) -> list[str]:
    """The runs of the secret's spellings in `text`, read as a person would: line breaks
    (real or escaped as \\n) skipped and doubled backslashes undone."""
    norm = re.sub(r"\\+", lambda m: "\\", text)
    norm = norm.replace("\\n", "").replace("\n", "").replace("\\r", "").replace("\r", "")
    return sorted(p for p in _pieces(secret) if p in norm)


def _wrapped_leaks(secret: str) -> str:
    """A secret wrapped over lines three ways: a base64'd body at 76 columns (coreutils'
    `base64`), hex in two halves, and three plain pieces."""
    body = json.dumps({"client_id": CLIENT_ID, "client_secret": secret}).encode()
    hexed = secret.encode().hex()
    return (
        "debug: request body (base64):\n"
        + base64.encodebytes(body).decode()
        + f"{hexed[:32]}\n{hexed[32:]}\n"
        + f"{secret[:11]}\n{secret[11:21]}\n{secret[21:]}\n"
    )


def _token_call(seq: int, **params: object) -> Exchange:
    body = {"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "client_credentials",
            "scope": "read:members", "audience": "https://api.example/", **params}
    request = Request(
        "POST", "/oauth/token", "", (("content-type", "application/json"),),
        json.dumps(body).encode(),
    )
    return Exchange(seq, "token", float(seq), request, Response(400, [], b"{}"))


def _observe(*exchanges: Exchange, outcome: Outcome | None = None,
             scenario: str = "happy-path") -> Observation:
    return observe(scenario, SETTINGS, exchanges, outcome or Outcome(0))


def _split(secret: str, width: int = 8) -> str:
    return "\n".join(secret[i : i + width] for i in range(0, len(secret), width))


# -- output: redacted whole, then split (findings 1, 25) -----------------------------------


def test_a_secret_wrapped_over_output_lines_is_hidden_in_the_evidence_and_report_lines() -> None:
    obs = _observe(outcome=Outcome(1, stdout=_wrapped_leaks(SECRET)))
    result = judge(CATALOGUE["client-succeeds"], obs, strict=False)
    assert result.status == "failed"
    assert "REDACTED" in result.evidence
    assert _leaked(result.evidence) == []
    run = scenario_run(obs)
    assert _leaked("\n".join(run.output)) == []
    assert Known(secrets=[SECRET]).find("\n".join(run.output)) == []


def test_ordinary_output_lines_are_shown_as_printed_and_in_order() -> None:
    obs = _observe(outcome=Outcome(1, stdout="starting\nAPI call 1 200\n"))
    result = judge(CATALOGUE["client-succeeds"], obs, strict=False)
    assert "| starting\n     | API call 1 200" in result.evidence
    assert scenario_run(obs).output == ["starting", "API call 1 200"]


def test_stdout_and_stderr_are_shown_apart_so_stdouts_last_lines_are_its_own() -> None:
    noise = "".join(f"warning: {n}\n" for n in range(20))
    obs = _observe(outcome=Outcome(1, stdout="API call 1 200\n", stderr=noise))
    result = judge(CATALOGUE["client-succeeds"], obs, strict=False)
    assert "client output (last 1 line of stdout, redacted):\n     | API call 1 200" in (
        result.evidence
    )
    assert "client output (last 8 lines of stderr, redacted):" in result.evidence
    assert "its last stdout line: 'API call 1 200'" in result.message
    assert "its last stderr line: 'warning: 19'" in result.message
    lines = scenario_run(obs).output
    assert lines[0] == "API call 1 200"
    assert lines[1:] == [f"[stderr] warning: {n}" for n in range(20)]


# -- the last output line: redacted, then cut, then made visible (finding 2) ----------------


def test_the_last_output_line_is_redacted_before_it_is_cut() -> None:
    json_u = "".join(f"\\u{ord(c):04x}" for c in SECRET)
    hexcut = "error context " + "x" * 96 + " " + SECRET.encode().hex()
    for printed in (json_u, hexcut):
        obs = _observe(outcome=Outcome(1, stdout=printed + "\n"))
        for check in ("client-succeeds", "client-requests-token"):
            message = CATALOGUE[check].judge(obs).message
            assert "its last stdout line: '" in message
            assert "REDACTED" in message, message
            assert _leaked(message) == [], (check, message)


def test_a_last_line_that_holds_no_secret_is_quoted_with_its_controls_escaped() -> None:
    obs = _observe(outcome=Outcome(1, stderr="\x1b[31merror:\x1b[0m no route\n"))
    message = CATALOGUE["client-succeeds"].judge(obs).message
    assert "its last stderr line: '\\x1b[31merror:\\x1b[0m no route'" in message
    assert "\x1b" not in message


# -- client values in messages: redacted, escaped, cut (findings 3, 30, 32) -----------------


def test_a_secret_split_by_newlines_in_grant_type_audience_or_scope_is_never_shown() -> None:
    split = _split(SECRET)
    cases = {
        "token-request-grant-type": _token_call(1, grant_type=split),
        "token-request-audience": _token_call(1, audience=split),
        "token-request-scope-as-configured": _token_call(1, scope=split),
    }
    for check, exchange in cases.items():
        obs = _observe(exchange)
        result = CATALOGUE[check].judge(obs)
        assert result.ok is False, check
        assert "REDACTED" in result.message, result.message
        assert _leaked(result.message) == [], (check, result.message)
        assert "\n" not in result.message
        judged = judge(CATALOGUE[check], obs, strict=False)
        assert _leaked(judged.message + judged.evidence + json.dumps(judged.diagram)) == []


def test_a_scope_split_by_newlines_with_no_scope_configured_is_never_shown() -> None:
    settings = ProtocolSettings("http://127.0.0.1:1/oauth/token", CLIENT_ID, SECRET, "")
    obs = observe("no-scope", settings, [_token_call(1, scope=_split(SECRET))], Outcome(0))
    message = CATALOGUE["token-request-omits-empty-scope"].judge(obs).message
    assert "REDACTED" in message and _leaked(message) == []


def test_a_wrong_value_that_is_no_secret_is_quoted_as_sent() -> None:
    obs = _observe(_token_call(1, grant_type="client-credentials", audience="https://other/"))
    grant = CATALOGUE["token-request-grant-type"].judge(obs).message
    assert "grant_type is 'client-credentials'; expected 'client_credentials'" in grant
    audience = CATALOGUE["token-request-audience"].judge(obs).message
    assert "sends audience 'https://other/'; M2M_AUDIENCE is 'https://api.example/'" in audience
    listed = _observe(_token_call(1, audience=["a", "b"]))
    assert "sends audience '[\"a\", \"b\"]'" in CATALOGUE["token-request-audience"].judge(
        listed
    ).message
    good = _observe(_token_call(1))
    assert CATALOGUE["token-request-grant-type"].judge(good).ok is True
    assert CATALOGUE["token-request-audience"].judge(good).ok is True


def test_a_stray_path_is_cut_and_its_control_characters_escaped_in_message_and_evidence() -> (
    None
):
    path = "/x/\n\x1b[31m" + "A" * 8000
    stray = Exchange(1, "other", 1.0, Request("GET", path), Response(404))
    obs = _observe(stray)
    result = judge(CATALOGUE["token-request-path"], obs, strict=False)
    assert result.status == "failed"
    assert len(result.message) < 300, len(result.message)
    assert "'GET /x/\\n\\x1b[31mAAAA" in result.message and "…'" in result.message
    assert not re.search(r"[\x00-\x1f\x7f]", result.message)
    assert result.diagram is not None
    assert all(len(step["request"]) <= 400 for step in result.diagram["steps"])
    assert max(len(line) for line in result.evidence.splitlines()) < 450


def test_a_secret_in_a_stray_path_split_by_newlines_is_never_shown() -> None:
    stray = Exchange(1, "other", 1.0, Request("GET", "/x/" + _split(SECRET)), Response(404))
    message = CATALOGUE["token-request-path"].judge(_observe(stray)).message
    assert "REDACTED" in message and _leaked(message) == []


def test_repeated_parameter_names_and_a_content_type_are_shown_redacted() -> None:
    body = f'{{"{SECRET}": 1, "{SECRET}": 2, "grant_type": "client_credentials"}}'.encode()
    request = Request("POST", "/oauth/token", "", (("content-type", "application/json"),), body)
    repeats = _observe(Exchange(1, "token", 1.0, request, Response(400, [], b"{}")))
    message = CATALOGUE["token-request-no-repeated-params"].judge(repeats).message
    assert "repeats 'REDACTED'" in message and _leaked(message) == []
    odd = Request("POST", "/oauth/token", "", (("content-type", f"text/{SECRET}\n"),), b"x")
    shown = CATALOGUE["token-request-body-encoding"].judge(
        _observe(Exchange(1, "token", 1.0, odd, Response(400, [], b"{}")))
    ).message
    assert "Content-Type 'text/REDACTED\\n'" in shown and _leaked(shown) == []


# -- escape sequences between the characters of a secret (finding 4) -----------------------


def test_charset_designations_and_cursor_saves_between_characters_still_spell_the_secret() -> (
    None
):
    known = Known(secrets=[("the client secret", SECRET)])
    for code in ("\x1b(B", "\x1b)0", "\x1b7", "\x1b[0m"):
        text = "".join(ch + code for ch in SECRET)
        assert [str(f) for f in known.find(text)] == ["the client secret (plain)"], repr(code)
        assert known.find(text.encode()) != []
        scanner = known.scanner(block=7)  # escapes cut across blocks
        scanner.feed(text.encode())
        assert scanner.findings() != []
        assert SECRET[:4] not in known.redact(text).replace(code, "")


def test_charset_designations_in_output_fail_secret_not_in_output_and_are_not_shown() -> None:
    printed = "".join(ch + "\x1b(B" for ch in SECRET) + "\n"
    obs = _observe(outcome=Outcome(0, stdout=printed))
    result = judge(CATALOGUE["secret-not-in-output"], obs, strict=False)
    assert result.status == "failed"
    readable = scenario_run(obs).output
    assert _leaked("\n".join(readable).replace("\\x1b(B", "")) == []
    clean = _observe(outcome=Outcome(0, stdout="\x1b(Bdone\x1b(B\n"))
    assert CATALOGUE["secret-not-in-output"].judge(clean).ok is True


# -- end to end: every report of a client that leaks this way (findings 1, 2, 3, 25, 32) ----


CLIENT = r'''
import base64, json, os, sys, urllib.request
env = os.environ
secret = env["M2M_CLIENT_SECRET"]
with open(env["H9_SECRET_FILE"], "a") as out:
    out.write(secret + "\n")
def token(**extra):
    body = {"client_id": env["M2M_CLIENT_ID"], "client_secret": secret,
            "grant_type": "client_credentials", "scope": env["M2M_SCOPE"],
            "audience": env["M2M_AUDIENCE"], **extra}
    request = urllib.request.Request(env["M2M_TOKEN_URL"], json.dumps(body).encode(),
                                     {"content-type": "application/json"})
    try:
        return json.load(urllib.request.urlopen(request, timeout=5)).get("access_token")
    except OSError:
        return None
tok = token()
urllib.request.urlopen(urllib.request.Request(
    env["M2M_API_URL"], headers={"Authorization": "Bearer " + tok}), timeout=5).read()
split = "\n".join(secret[i:i + 8] for i in range(0, len(secret), 8))
token(grant_type=split, audience=split, scope=split)
try:
    urllib.request.urlopen(env["M2M_API_URL"].rsplit("/api", 1)[0] + "/x/%0A%1B[31m" + "A" * 6000)
except OSError:
    pass
body = json.dumps({"client_id": env["M2M_CLIENT_ID"], "client_secret": secret}).encode()
print("debug: request body (base64):")
print(base64.encodebytes(body).decode(), end="")
hexed = secret.encode().hex()
print(hexed[:32] + "\n" + hexed[32:])
print(secret[:11] + "\n" + secret[11:21] + "\n" + secret[21:])
print("".join("\\u%04x" % ord(c) for c in secret))
print("error context " + "x" * 96 + " " + hexed, file=sys.stderr)
sys.exit(1)
'''


def test_no_report_of_a_client_that_wraps_and_splits_its_secret_holds_a_piece_of_it(
    tmp_path: Path,
) -> None:
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    secrets = tmp_path / "secrets.txt"
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "m2m_contract", "verify", "--scenario", "happy-path",
         "--report-json", str(out / "r.json"), "--junitxml", str(out / "j.xml"),
         "--report-markdown", str(out / "r.md"), "--report-html", str(out / "r.html"),
         "-v", "--", sys.executable, str(client)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "H9_SECRET_FILE": str(secrets)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((out / "r.json").read_text())
    failed = {c["id"] for c in report["checks"] if c["status"] == "failed"}
    assert {"secret-not-in-output", "client-succeeds", "token-request-grant-type",
            "token-request-audience", "token-request-path"} <= failed, failed
    secret = secrets.read_text().split()[0]
    texts = {"terminal": done.stdout + done.stderr,
             **{p.name: p.read_text() for p in out.iterdir()}}
    for name, text in texts.items():
        assert _leaked(text, secret) == [], name
    for check in report["checks"]:
        assert not re.search(r"[\x00-\x1f\x7f]", check["message"]), check["message"]
        assert len(check["message"]) < 1000, check["id"]
    lines = report["scenarios"][0]["output"]["lines"]
    assert lines[-1].startswith("[stderr] error context ") and lines[-1].endswith("REDACTED")
    assert "REDACTED" in lines[-2]
