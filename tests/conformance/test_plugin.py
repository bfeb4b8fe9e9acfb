"""The pytest route, in a partner's own repository (pytester): the public suite, options,
fixtures and reports; and what happens when no client is named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from m2m_contract.harness import cases

ROOT = Path(__file__).parents[2]
CURL = f"sh {ROOT / 'tests/conformance/programs/curl_client.sh'}"
SUITE = "from m2m_contract.suite import test_conformance\n"
FIXTURES = """
import httpx
from m2m_contract.emulator import EmulatorTransport

def test_in_process(m2m_emulator, m2m_clock):
    with httpx.Client(transport=EmulatorTransport(m2m_emulator)) as client:
        r = client.post(m2m_emulator.token_url, json={
            "client_id": "demo-client", "client_secret": "demo-secret",
            "grant_type": "client_credentials"})
        assert r.status_code == 200
        token = r.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get(m2m_emulator.api_url, headers=auth).status_code == 200
        m2m_clock.advance(86400)
        assert client.get(m2m_emulator.api_url, headers=auth).status_code == 401

def test_over_http(m2m_server):
    r = httpx.post(m2m_server.emulator.token_url, json={
        "client_id": "demo-client", "client_secret": "wrong",
        "grant_type": "client_credentials"})
    assert r.status_code == 401 and r.json()["error"] == "access_denied"
"""


def partner_repository(pytester: pytest.Pytester, ini: str = "") -> None:
    """A partner's repository: their own emulator tests, and the conformance suite imported."""
    pytester.makeini(f"[pytest]\n{ini}")
    pytester.makepyfile(test_m2m_conformance=SUITE, test_their_own=FIXTURES)


def test_a_partner_names_their_client_and_the_public_suite_tests_it(
    pytester: pytest.Pytester,
) -> None:
    partner_repository(pytester)
    result = pytester.runpytest_subprocess(
        "--m2m-client-cmd", CURL, "--m2m-scenario", "happy-path",
        "--m2m-report-json", "reports/out.json",
    )
    result.assert_outcomes(passed=len(cases(["happy-path"], "loyaltyone")) + 2)
    result.stdout.fnmatch_lines(["*m2m-contract conformance*", "*happy-path*ok*",
                                 "*m2m-contract conformance: PASS*"])
    report = json.loads((pytester.path / "reports/out.json").read_text())
    assert report["client"] == CURL and report["summary"]["failed"] == 0


def test_a_partner_can_name_their_client_in_the_pytest_configuration(
    pytester: pytest.Pytester,
) -> None:
    partner_repository(pytester, f"m2m_client_cmd = {CURL}\n")
    result = pytester.runpytest_subprocess("--m2m-scenario", "no-scope")
    result.assert_outcomes(passed=len(cases(["no-scope"], "loyaltyone")) + 2)


def test_with_no_client_named_the_suite_is_a_usage_error_not_a_false_green(
    pytester: pytest.Pytester,
) -> None:
    partner_repository(pytester)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*needs a client to test: give --m2m-client-cmd CMD*"])
    assert "passed" not in result.stdout.str()


def test_a_repository_using_only_the_emulator_fixtures_needs_no_client(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_their_own=FIXTURES)
    pytester.runpytest_subprocess().assert_outcomes(passed=2)


def test_every_option_the_plugins_add_is_prefixed_m2m_except_live(
    pytester: pytest.Pytester,
) -> None:
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    ours = re.findall(r"^\s+(--(?:m2m-|live|tls|scenario|client)[\w-]*)", help_text, re.M)
    assert "--m2m-client-cmd" in ours and "--live" in ours
    assert all(o.startswith("--m2m-") or o == "--live" for o in ours), ours


def test_failures_name_the_check_clause_and_evidence(pytester: pytest.Pytester) -> None:
    partner_repository(pytester)
    result = pytester.runpytest_subprocess(
        "--m2m-client-cmd", f"env M2M_MUTATION=comma-scope {CURL}", "--m2m-scenario",
        "scope-list", "-k", "conformance",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*token-request-scope-format (MUST, RFC6749-3.3): token request 1: scope uses "
            "commas*",
            "*!! +0.00 s token request 1: POST /oauth/token*",
        ]
    )


@pytest.mark.parametrize("dist", ["load", "loadgroup"])
def test_the_suite_under_xdist_runs_one_emulator_per_scenario_without_port_clashes(
    pytester: pytest.Pytester, dist: str
) -> None:
    partner_repository(pytester)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", dist, "--m2m-client-cmd", CURL, "--m2m-scenario", "happy-path",
        "--m2m-scenario", "no-scope", "-k", "conformance",
    )
    result.assert_outcomes(passed=len(cases(["happy-path", "no-scope"], "loyaltyone")))
    result.stdout.fnmatch_lines(["*happy-path*ok*", "*no-scope*ok*"])
