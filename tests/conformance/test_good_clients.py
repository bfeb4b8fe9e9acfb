"""No false alarms: well-behaved clients pass every scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2m_contract.harness import (
    SCENARIOS,
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


def runner_of(client: str) -> ClientRunner:
    if client == "py:good":
        return clients.runner("good")
    if client == "py:authlib":
        return clients.runner("authlib", target="authlib_client")
    return CommandRunner.from_string(client)


@pytest.mark.parametrize("name", list(GOOD))
def test_well_behaved_client_passes_every_scenario(name: str) -> None:
    client, allowed_warnings = GOOD[name]
    session = ConformanceSession(runner_of(client), Options())
    results = session.results(SCENARIOS)
    failed = [f"{r.scenario}:{r.id}: {r.message}" for r in results if r.status == "failed"]
    assert not failed
    warnings = {r.id for r in results if r.status == "warning"}
    assert warnings <= allowed_warnings
    assert sum(r.status == "passed" for r in results) > 250


def test_authlib_form_body_passes_cleanly_under_the_rfc6749_profile() -> None:
    session = ConformanceSession(
        clients.runner("authlib", target="authlib_client"), Options(profile="rfc6749")
    )
    results = session.results(["happy-path", "token-reuse"])
    assert {r.status for r in results} <= {"passed", "skipped"}


def test_strict_turns_the_authlib_form_body_warning_into_a_failure() -> None:
    session = ConformanceSession(
        clients.runner("authlib", target="authlib_client"), Options(strict=True)
    )
    result = session.judge("happy-path", "token-request-json-body")
    assert result.status == "failed"
    assert "form-urlencoded" in result.message


def test_a_command_that_cannot_start_fails_client_finishes_not_the_scenario_checks(
    tmp_path: Path,
) -> None:
    program = tmp_path / "not-a-program"
    program.write_text("this is not an executable format\n")
    program.chmod(0o755)
    session = ConformanceSession(CommandRunner((str(program),)), Options())
    results = {r.id: r for r in session.results(["bad-credentials"])}
    assert results["client-finishes"].status == "failed"
    assert "could not run" in results["client-finishes"].message
    assert results["client-fails-cleanly"].status == "skipped"


def test_sys_exit_without_a_status_is_success_for_a_python_client() -> None:
    session = ConformanceSession(clients.runner("exits", target="exits"), Options())
    assert session.judge("happy-path", "client-succeeds").status == "passed"
