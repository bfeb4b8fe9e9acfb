"""journal-complete: a run whose journal lost anything the client sent (exchanges evicted,
requests never recorded, parts cut at the door) fails, so no check passes on what it never
saw; an honest client's run keeps everything."""

from __future__ import annotations

import sys
from pathlib import Path

from m2m_contract.contract import CATALOGUE, Outcome, ProtocolSettings, observe
from m2m_contract.emulator import Exchange, Request, Response
from m2m_contract.harness import CommandRunner, ConformanceSession, Options

SETTINGS = ProtocolSettings("http://127.0.0.1:1/oauth/token", "client", "s3cr3t-value-42", "")
CHECK = CATALOGUE["journal-complete"]

# A client that behaves, after doing what `MODE` says: a header past the door's 32 KiB limit
# (refused, recorded cut), or enough 60 KB bodies to push exchanges out of the 64 MiB journal.
CLIENT = r"""
import http.client, json, os, sys, urllib.parse
env = os.environ
url = urllib.parse.urlsplit(env["M2M_TOKEN_URL"])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
if env["MODE"] == "big-header":
    conn.request("GET", "/api/members", headers={"X-Trace": "a" * 40000})
    conn.getresponse().read()
    conn.close()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
elif env["MODE"] == "flood":
    for _ in range(1150):
        conn.request("POST", "/.well-known/jwks.json", body="a" * 60000)
        conn.getresponse().read()
body = {"client_id": env["M2M_CLIENT_ID"], "client_secret": env["M2M_CLIENT_SECRET"],
        "grant_type": "client_credentials"}
if env.get("M2M_SCOPE"):
    body["scope"] = env["M2M_SCOPE"]
conn.request("POST", url.path, body=json.dumps(body), headers={"Content-Type": "application/json"})
token = json.loads(conn.getresponse().read())["access_token"]
api = urllib.parse.urlsplit(env["M2M_API_URL"])
conn.request("GET", api.path, headers={"Authorization": f"Bearer {token}"})
sys.exit(0 if conn.getresponse().status == 200 else 1)
"""


def _exchange(seq: int, truncated: tuple[str, ...] = ()) -> Exchange:
    return Exchange(seq, "api", 0.1, Request("GET", "/api/members", "", (), b""),
                    Response(200, [], b"{}"), truncated=truncated)


def test_a_journal_that_kept_everything_passes() -> None:
    obs = observe("happy-path", SETTINGS, [_exchange(1, ("response.body",))], Outcome(0))
    assert CHECK.judge(obs).ok is True  # our own answers may be cut: they are not judged


def test_dropped_unrecorded_and_cut_requests_each_fail_and_say_so() -> None:
    cases = {"dropped out of the journal": (3, 0), "read but never recorded": (0, 1)}
    for says, (dropped, unjournaled) in cases.items():
        obs = observe("happy-path", SETTINGS, [_exchange(1)], Outcome(0), dropped=dropped,
                      unjournaled=unjournaled)
        result = CHECK.judge(obs)
        assert result.ok is False and says in result.message
    obs = observe("happy-path", SETTINGS, [_exchange(1), _exchange(2, ("request.headers",))],
                  Outcome(0))
    result = CHECK.judge(obs)
    assert result.ok is False and "headers cut" in result.message
    assert result.culprits == (2,)


def _run(tmp_path: Path, mode: str) -> dict[str, str]:
    program = tmp_path / "client.py"
    program.write_text(CLIENT)
    runner = CommandRunner((sys.executable, str(program)), {"MODE": mode}, name=mode)
    results = ConformanceSession(runner, Options()).results(["happy-path"])
    return {r.id: r.status for r in results}


def test_an_honest_client_keeps_journal_complete_passing(tmp_path: Path) -> None:
    statuses = _run(tmp_path, "honest")
    assert statuses["journal-complete"] == "passed"
    assert "failed" not in statuses.values()


def test_a_header_cut_at_the_door_fails_the_run(tmp_path: Path) -> None:
    assert _run(tmp_path, "big-header")["journal-complete"] == "failed"


def test_a_flood_that_evicts_exchanges_fails_the_run_although_every_other_check_passes(
    tmp_path: Path,
) -> None:
    statuses = _run(tmp_path, "flood")
    assert statuses["journal-complete"] == "failed"
    assert [i for i, s in statuses.items() if s == "failed"] == ["journal-complete"]
