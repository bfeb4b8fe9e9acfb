"""Messages that say what was seen, what was expected and what to change: one fixture client
for each message a partner once found misleading."""

from __future__ import annotations

from m2m_contract.harness import ConformanceSession, Options
from m2m_contract.report import CaseResult, build, render_terminal

from . import clients


def _results(spec: str, *scenarios: str) -> list[CaseResult]:
    session = ConformanceSession(clients.runner(f"message:{spec}", spec), Options())
    return session.results(scenarios)


def _one(results: list[CaseResult], scenario: str, check: str) -> CaseResult:
    return next(r for r in results if r.scenario == scenario and r.id == check)


def test_a_missing_audience_says_it_was_not_sent_and_names_m2m_audience() -> None:
    result = _one(_results("send_audience=False", "scope-list"), "scope-list",
                  "token-request-audience")
    assert result.status == "failed"
    assert "sends no audience; M2M_AUDIENCE is 'https://sandbox.api.loyalty.com/'" in (
        result.message
    )
    assert "None" not in result.message


def test_requests_are_numbered_in_their_own_sequence_not_the_journals() -> None:
    # openid-client reads discovery first: its only token request is still "token request 1".
    results = _results("discovery_first=True,body=comma-scope", "scope-list")
    scope = _one(results, "scope-list", "token-request-scope-format")
    assert scope.message.startswith("token request 1: scope uses commas")
    assert "discovery request 1" in scope.evidence and "token request 1:" in scope.evidence
    assert "#" not in scope.message


def test_a_literal_bearer_none_is_named_as_what_was_sent() -> None:
    result = _one(_results("bearer_junk_on_bad_response=True", "missing-access-token"),
                  "missing-access-token", "api-token-issued")
    assert "sends 'Authorization: Bearer None'" in result.message
    assert "never got from a token response" in result.message


def test_a_mac_token_presented_as_bearer_names_the_answer_it_came_from() -> None:
    result = _one(_results("accept_any_token_type=True", "wrong-token-type"),
                  "wrong-token-type", "api-token-issued")
    assert "the access_token of token request 1's answer, which said token_type 'mac'" in (
        result.message
    )


def test_an_expired_token_says_how_late_the_tolerance_and_what_the_api_answered() -> None:
    results = _results("refetch_on_expiry=False,retry_api_401=none", "expiry")
    result = _one(results, "expiry", "api-token-not-expired")
    assert "after its expires_in (2 s) ran out (tolerance 2 s; the API answered 401" in (
        result.message
    )
    assert result.diagram is not None
    culprit = next(s for s in result.diagram["steps"] if s["culprit"])
    assert culprit["at"] > 4 and culprit["answer"] == "401 invalid_token"
    assert result.diagram["note"].startswith("api-token-not-expired: API call 4")


def test_a_warning_repeated_in_every_scenario_is_told_once_naming_them() -> None:
    scenarios = ("happy-path", "no-scope", "token-reuse")
    session = ConformanceSession(clients.runner("form", "body=form"), Options())
    results = session.results(scenarios)
    model = build(results, [session.run_of(s) for s in scenarios], suite="conformance",
                  client="form", profile="loyaltyone", strict=False)
    text = render_terminal(model)
    assert text.count("warn token-request-json-body") == 1
    assert "in happy-path, no-scope, token-reuse" in text
    summary = model["summary"]
    assert text.splitlines()[-1].endswith(
        f"{summary['failed']} failed, {summary['warnings']} warnings, {summary['passed']} "
        f"passed, {summary['skipped']} skipped (nothing to judge)"
    )


def test_a_killed_client_is_told_the_limit_and_the_option() -> None:
    sleeper = ConformanceSession(clients.runner("sleeps", target="sleeps"), Options(timeout=1.0))
    killed = _one(sleeper.results(["happy-path"]), "happy-path", "client-finishes")
    assert "1 s limit (--scenario-timeout)" in killed.message and "killed" in killed.message


def test_exit_0_in_not_granted_scope_says_the_scope_was_never_sent() -> None:
    result = _one(_results("scope_override=", "not-granted-scope"), "not-granted-scope",
                  "client-fails-cleanly")
    assert "never sent the scopes it was configured with" in result.message
    assert "M2M_SCOPE 'read:members admin:everything'" in result.message


def test_an_instant_retry_after_a_429_names_both_requests_and_their_methods() -> None:
    result = _one(_results("basic_after_429=True", "rate-limited"), "rate-limited",
                  "rate-limit-retry-after")
    assert result.status == "failed"
    assert "token request 2 came" in result.message
    assert "after token request 1 was answered 429 with Retry-After: 2" in result.message
    assert "switching from client_secret in the body to HTTP Basic" in result.message


def test_control_characters_in_a_request_path_are_escaped_everywhere() -> None:
    spec = "api_path_suffix=%0A%1B%5B31minjected,scheme=Token"
    result = _one(_results(spec, "happy-path"), "happy-path", "api-bearer-header")
    assert result.diagram is not None
    assert "\n" not in result.diagram["steps"][-1]["request"]
    assert "\\n\\x1b[31minjected" in result.evidence
    assert "\x1b" not in result.evidence and "\x1b" not in result.message
