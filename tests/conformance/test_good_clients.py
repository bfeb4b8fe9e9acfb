"""No false alarms: well-behaved clients pass every scenario."""

from __future__ import annotations

import pytest

from m2m_contract.harness import (
    SCENARIOS,
    CallableRunner,
    ClientRunner,
    CommandRunner,
    ConformanceSession,
    Options,
)

from . import clients
from .test_mutants import CURL, NODE

GOOD: dict[str, tuple[str, frozenset[str]]] = {
    # name: (client, the warnings it may get under the loyaltyone profile)
    "python-httpx": ("py:good", frozenset()),
    "curl-partner-sample": (CURL, frozenset()),
    "node-fetch": (NODE, frozenset()),
    "authlib-client-secret-post": ("py:authlib", frozenset({"token-request-json-body"})),
}


def _runner(client: str) -> ClientRunner:
    if client == "py:good":
        return CallableRunner("good", clients.good)
    if client == "py:authlib":
        return CallableRunner("authlib", clients.authlib_client)
    return CommandRunner.from_string(client)


@pytest.mark.parametrize("name", list(GOOD))
def test_well_behaved_client_passes_every_scenario(name: str) -> None:
    client, allowed_warnings = GOOD[name]
    session = ConformanceSession(_runner(client), Options())
    results = session.results(SCENARIOS)
    failed = [f"{r.scenario}:{r.id}: {r.message}" for r in results if r.status == "failed"]
    assert not failed
    warnings = {r.id for r in results if r.status == "warning"}
    assert warnings <= allowed_warnings
    assert sum(r.status == "passed" for r in results) > 250


def test_authlib_form_body_passes_cleanly_under_the_rfc6749_profile() -> None:
    session = ConformanceSession(
        CallableRunner("authlib", clients.authlib_client), Options(profile="rfc6749")
    )
    results = session.results(["happy-path", "token-reuse"])
    assert {r.status for r in results} <= {"passed", "skipped"}


def test_strict_turns_the_authlib_form_body_warning_into_a_failure() -> None:
    session = ConformanceSession(
        CallableRunner("authlib", clients.authlib_client), Options(strict=True)
    )
    result = session.judge("happy-path", "token-request-json-body")
    assert result.status == "failed"
    assert "form-urlencoded" in result.message
