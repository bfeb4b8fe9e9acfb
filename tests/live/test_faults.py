"""The live suite reports a broken tenant, live and again when replaying the recording."""

from __future__ import annotations

import pytest

from m2m_contract.emulator import Emulator, Fault

from .conftest import (
    CHECKS,
    AcceptsWrongSecret,
    NoCacheControl,
    PublishesOtherKeys,
    Suite,
    serve,
)


def record_then_replay(suite: Suite, emulator: Emulator) -> tuple[pytest.RunResult, ...]:
    with serve(emulator) as server:
        recorded = suite.record(server)
    live = suite.statuses()
    replayed = suite.replay()
    assert suite.statuses() == live, "the replay judges the recording as the live run did"
    return recorded, replayed


def test_a_refresh_token_in_the_response_fails_both_refresh_token_checks(suite: Suite) -> None:
    emulator = Emulator()
    emulator.add_fault(Fault.refresh_token(times=None))
    recorded, replayed = record_then_replay(suite, emulator)
    for result in (recorded, replayed):
        result.assert_outcomes(passed=CHECKS + 1 - 2, failed=2)
        result.stdout.fnmatch_lines(
            [
                "*FAIL server-no-refresh-token (MUST, partner §1): the token response carries a "
                "refresh_token (value not shown)*",
                "*FAIL server-offline-access (MUST, partner §1): asking for offline_access got "
                "200 with a refresh_token*",
            ]
        )
    assert "REDACTED" in (suite.cassettes / "token.yaml").read_text(encoding="utf-8")


def test_a_wrong_secret_that_gets_a_token_fails(suite: Suite) -> None:
    recorded, replayed = record_then_replay(suite, AcceptsWrongSecret())
    for result in (recorded, replayed):
        result.assert_outcomes(passed=CHECKS + 1 - 1, failed=1)
        result.stdout.fnmatch_lines(
            [
                "*FAIL server-rejects-wrong-secret (MUST, RFC6749-5.2): a wrong client_secret got "
                "200 with an access_token: the server does not authenticate the client*"
            ]
        )


def test_a_token_the_jwks_cannot_verify_fails_live_and_in_replay(suite: Suite) -> None:
    recorded, replayed = record_then_replay(suite, PublishesOtherKeys())
    recorded.assert_outcomes(passed=CHECKS + 1 - 1, failed=1)
    recorded.stdout.fnmatch_lines(
        ["*FAIL server-token-signature (MUST, RFC7515-5.2): the token's kid * is not in the JWKS*"]
    )
    # Replay never fakes a pass: the verdict recorded with the JWKS is replayed, and says so.
    replayed.assert_outcomes(passed=CHECKS + 1 - 1, failed=1)
    replayed.stdout.fnmatch_lines(
        ["*FAIL server-token-signature*: failed at recording time (*): the token's kid *"]
    )


def test_a_missing_cache_control_is_a_reported_warning_not_a_failure(suite: Suite) -> None:
    recorded, replayed = record_then_replay(suite, NoCacheControl())
    for result in (recorded, replayed):
        assert result.ret == 0
        result.assert_outcomes(passed=CHECKS + 1)
        result.stdout.fnmatch_lines(
            [
                "*warn server-no-store (SHOULD, RFC6749-5.1): Cache-Control is missing*",
                "*0 failed, 1 warning, 16 passed, 0 skipped*",
            ]
        )
        assert "warnings summary" not in result.stdout.str()
        report = suite.report()
        summary = {"passed": 16, "failed": 0, "warnings": 1, "skipped": 0, "expected": 0}
        assert report["summary"] == summary
        assert suite.statuses()["server-no-store"] == "warning"


def test_an_api_that_rejects_the_token_fails(suite: Suite) -> None:
    emulator = Emulator()
    emulator.add_fault(
        Fault.respond(
            "api",
            401,
            json={"error": "invalid_token"},
            headers={"www-authenticate": 'Bearer error="invalid_token"'},
        )
    )
    recorded, _ = record_then_replay(suite, emulator)
    recorded.stdout.fnmatch_lines(
        ["*FAIL server-api-accepts-token*: the API rejected the token: 401 invalid_token*"]
    )
