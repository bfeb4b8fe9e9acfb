"""Messages and evidence that say what really happened: which token request a call's token
came from, how the client ended (a signal, which limit), what advice fits a client that
retried, what an untrusted certificate let through, and a backoff threshold away from the
backoffs clients really use."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from m2m_contract.contract import CATALOGUE, MIN_BACKOFF, Observation, Outcome, observe
from m2m_contract.contract import ProtocolSettings as Settings
from m2m_contract.emulator import Exchange, Request, Response
from m2m_contract.harness import CommandRunner, ConformanceSession, Options
from m2m_contract.harness._session import hider, scenario_run
from m2m_contract.report import diagram, ending, evidence

from . import clients
from .test_mutants import NODE

SETTINGS = Settings("http://127.0.0.1:1/oauth/token", "m2m-contract-client", "s3cr3t-value-xyz",
                    "read:members")
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def _token(seq: int, at: float, *, status: int = 200, expires_in: int = 2,
           answered: float | None = None) -> Exchange:
    body = json.dumps({"client_id": "m2m-contract-client", "client_secret": "s3cr3t-value-xyz",
                       "grant_type": "client_credentials", "scope": "read:members"}).encode()
    answer = (
        json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": expires_in})
        if status == 200 else json.dumps({"error": "temporarily_unavailable"})
    ).encode()
    return Exchange(
        seq, "token", at,
        Request("POST", "/oauth/token", "", (("content-type", "application/json"),), body),
        Response(status, [("content-type", "application/json")], answer),
        answered=at + 0.001 if answered is None else answered,
    )


def _api(seq: int, at: float, authorization: str = f"Bearer {TOKEN}",
         status: int = 200) -> Exchange:
    return Exchange(seq, "api", at,
                    Request("GET", "/api/members", "", (("authorization", authorization),)),
                    Response(status, [], b"{}"), answered=at + 0.001)


def _observe(*exchanges: Exchange, outcome: Outcome | None = None,
             scenario: str = "happy-path") -> Observation:
    return observe(scenario, SETTINGS, exchanges, outcome or Outcome(0))


def _evidence(obs: Observation) -> str:
    hide = hider(obs)
    return evidence(obs, diagram(obs, (), "", hide), hide)


# -- a token issued twice is attributed to the request before the call (finding 23) --------


def test_a_call_is_attributed_to_the_latest_token_request_before_it_not_a_later_one() -> None:
    obs = _observe(_token(1, 0.0), _api(2, 0.5), _token(3, 0.6), _api(4, 0.7))
    first, second = obs.api_calls
    source = obs.token_source(first)
    assert source is not None and source.n == 1
    later = obs.token_source(second)
    assert later is not None and later.n == 2
    shown = _evidence(obs)
    assert "API call 1: GET /api/members [Bearer, the token of token request 1]" in shown
    assert "API call 2: GET /api/members [Bearer, the token of token request 2]" in shown


def test_expiry_counts_from_the_token_request_that_issued_the_token_before_the_call() -> None:
    # Token request 2 hands out the same token later; API call 1 came before it, 3 s after
    # token request 1's expires_in (2 s) ran out.
    late = _observe(_token(1, 0.0), _api(2, 5.0, status=401), _token(3, 6.0))
    result = CATALOGUE["api-token-not-expired"].judge(late)
    assert result.ok is False
    assert "presented the token of token request 1 3.00 s after its expires_in (2 s)" in (
        result.message
    )
    # A call after the re-issue counts from token request 2: on time.
    fresh = _observe(_token(1, 0.0), _token(2, 6.0), _api(3, 6.5))
    assert CATALOGUE["api-token-not-expired"].judge(fresh).ok is True


def test_a_token_presented_before_any_answer_issued_it_is_not_an_issued_token() -> None:
    obs = _observe(_api(1, 0.0, status=401), _token(2, 1.0))
    result = CATALOGUE["api-token-issued"].judge(obs)
    assert result.ok is False
    assert "before any token response had issued it" in result.message
    assert CATALOGUE["no-api-call-without-token"].judge(obs).ok is False
    ok = _observe(_token(1, 0.0), _api(2, 1.0))
    assert CATALOGUE["api-token-issued"].judge(ok).ok is True


# -- "Bearer" 1*SP b64token (finding 12) ----------------------------------------------------


def test_two_spaces_after_bearer_pass_the_bearer_checks_as_rfc_6750_allows() -> None:
    obs = _observe(_token(1, 0.0), _api(2, 0.5, f"Bearer  {TOKEN}"))
    for check in ("api-bearer-header", "api-token-issued", "api-token-not-expired"):
        assert CATALOGUE[check].judge(obs).ok is True, check
    assert obs.api_calls[0].bearer == TOKEN
    assert "[Bearer, the token of token request 1]" in _evidence(obs)
    glued = _observe(_token(1, 0.0), _api(2, 0.5, f"Bearer {TOKEN} x"))
    assert CATALOGUE["api-bearer-header"].judge(glued).ok is False


# -- how the client ended (findings 24, 26, 31) ---------------------------------------------


def test_a_client_killed_by_a_signal_is_told_so_everywhere() -> None:
    for code in (139, -11):
        obs = _observe(_token(1, 0.0), _api(2, 0.1), outcome=Outcome(code, elapsed=0.16))
        assert ending(obs) == (
            "was killed by signal 11 (SIGSEGV; exit status 139) after 0.16 s" if code > 0
            else "was killed by signal 11 (SIGSEGV) after 0.16 s"
        )
        message = CATALOGUE["client-succeeds"].judge(obs).message
        assert message.startswith("the client was killed by signal 11 (SIGSEGV"), message
        assert "expected exit 0" in message
        assert scenario_run(obs).exit == "signal 11 (SIGSEGV)"
    plain = _observe(outcome=Outcome(1, elapsed=0.2))
    assert ending(plain) == "exited with status 1 after 0.20 s"
    assert scenario_run(plain).exit == "status 1"
    assert scenario_run(_observe()).exit == "status 0"


def test_a_client_that_segfaults_after_a_good_run_reads_killed_by_signal(tmp_path: Path) -> None:
    program = tmp_path / "segv.py"
    program.write_text(
        "import os, signal, sys\n"
        "sys.path.insert(0, os.environ['H9_ROOT'])\n"
        "from tests.conformance.clients import run\n"
        "status = run(os.environ)\n"
        "os.kill(os.getpid(), signal.SIGSEGV) if status == 0 else sys.exit(status)\n"
    )
    runner = CommandRunner((sys.executable, str(program)),
                           {"H9_ROOT": str(Path(__file__).parents[2])})
    session = ConformanceSession(runner, Options())
    result = session.judge("happy-path", "client-succeeds")
    assert result.status == "failed"
    assert f"killed by signal {signal.SIGSEGV.value} (SIGSEGV" in result.message
    assert "client was killed by signal 11 (SIGSEGV" in result.evidence


def test_a_stall_kill_names_the_limit_that_fired_and_the_time_it_took() -> None:
    silent = _observe(outcome=Outcome(None, timed_out=True, limit=18.0, elapsed=48.03),
                      scenario="token-endpoint-stall")
    assert ending(silent) == (
        "was killed at the time limit (it sent no token request), 48.03 s after it started"
    )
    assert "18 s" not in ending(silent)
    waiting = _observe(_token(1, 2.0, answered=None),
                       outcome=Outcome(None, timed_out=True, limit=18.0, elapsed=20.1),
                       scenario="token-endpoint-stall")
    assert ending(waiting) == (
        "was killed 18 s after its first token request, 20.10 s after it started"
    )
    assert scenario_run(waiting).exit == "killed 18 s after its first token request"
    slow = _observe(outcome=Outcome(None, timed_out=True, limit=30.0, elapsed=30.2))
    assert ending(slow) == "was killed at the 30 s limit, 30.20 s after it started"


# -- the stall advice fits what the client did (finding 21) ---------------------------------


def _stalled(*starts: float) -> Observation:
    calls = [
        Exchange(n, "token", at, Request("POST", "/oauth/token", "", (), b"{}"),
                 Response(200, fate="stall"))
        for n, at in enumerate(starts, 1)
    ]
    outcome = Outcome(None, timed_out=True, limit=18.0, elapsed=18.5)
    return _observe(*calls, outcome=outcome, scenario="token-endpoint-stall")


def test_a_client_whose_retries_outlast_the_stall_budget_is_told_to_bound_the_whole_fetch() -> (
    None
):
    message = CATALOGUE["token-endpoint-stall-gives-up"].judge(_stalled(0.0, 10.3)).message
    assert "it sent 2 token requests" in message
    assert "its retries took it past the budget" in message
    assert "one deadline" in message
    assert "give the token request a timeout" not in message


def test_a_client_with_one_hung_token_request_is_told_to_give_it_a_timeout() -> None:
    message = CATALOGUE["token-endpoint-stall-gives-up"].judge(_stalled(0.0)).message
    assert "give the token request a timeout" in message
    assert "retries" not in message


# -- untrusted-certificate: the message says a token was issued (finding 27) ---------------


def test_exit_0_after_a_token_over_an_untrusted_certificate_says_the_token_was_issued() -> None:
    obs = _observe(_token(1, 0.0), _api(2, 0.1), outcome=Outcome(0),
                   scenario="untrusted-certificate")
    result = CATALOGUE["client-fails-cleanly"].judge(obs)
    assert result.ok is False
    assert "no usable token was issued" not in result.message
    assert "got a token over it (token request 1) and used it (API call 1 was accepted)" in (
        result.message
    )
    refused = _observe(outcome=Outcome(1), scenario="untrusted-certificate")
    assert CATALOGUE["client-fails-cleanly"].judge(refused).ok is True


def test_a_client_that_skips_certificate_checks_is_told_it_got_a_token_over_them() -> None:
    session = ConformanceSession(clients.runner("insecure", "verify_tls=False"), Options())
    result = session.judge("untrusted-certificate", "client-fails-cleanly")
    assert result.status == "failed"
    assert "accepted the untrusted certificate, got a token over it" in result.message
    assert "no usable token was issued" not in result.message


# -- server-error-backoff: 100 ms, away from common backoffs (finding 13) -------------------


def _retried_after(wait: float) -> Observation:
    return _observe(_token(1, 0.0, status=503, answered=0.01), _token(2, 0.01 + wait),
                    scenario="server-error")


def test_a_retry_within_100_ms_of_a_5xx_counts_as_no_backoff_and_a_slower_one_passes() -> None:
    assert MIN_BACKOFF == 0.1
    check = CATALOGUE["server-error-backoff"]
    assert check.judge(_retried_after(0.005)).ok is False
    assert "tolerance: a retry sooner than 100 ms counts as none" in check.judge(
        _retried_after(0.005)
    ).message
    for wait in (0.1, 0.2, 0.25):
        assert check.judge(_retried_after(wait)).ok is True, wait


def test_a_200_ms_backoff_and_the_node_client_pass_and_an_instant_retry_warns() -> None:
    verdicts = {}
    for name, runner in (
        ("200 ms", clients.runner("backoff-200ms", "backoff=0.2")),
        ("node", CommandRunner.from_string(NODE)),
        ("at once", clients.runner("backoff-0", "backoff=0")),
    ):
        session = ConformanceSession(runner, Options())
        verdicts[name] = session.judge("server-error", "server-error-backoff").status
    assert verdicts == {"200 ms": "passed", "node": "passed", "at once": "warning"}


def test_docs_state_the_backoff_tolerance_the_check_applies() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "conformance.md").read_text()
    assert f"a retry sooner than **{MIN_BACKOFF * 1000:.0f} ms** after a 5xx" in docs
    assert os.path.exists(Path(__file__).parent / "programs" / "node_client.mjs")
