"""The pytest plugin in a partner's own repository (pytester): options, fixtures, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m2m_contract.harness import cases

ROOT = Path(__file__).parents[2]
CURL = f"sh {ROOT / 'tests/conformance/programs/curl_client.sh'}"
SUITE = "from m2m_contract.harness._suite.test_conformance import test_conformance\n"


def test_partner_suite_runs_their_command_through_the_plugin_options(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_partner=SUITE)
    result = pytester.runpytest_subprocess(
        "--client-cmd", CURL, "--scenario", "happy-path", "--m2m-report-json", "out.json"
    )
    result.assert_outcomes(passed=len(cases(["happy-path"], "loyaltyone")))
    result.stdout.fnmatch_lines(["*m2m-contract conformance*", "*happy-path*ok*"])
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["client"] == CURL and report["summary"]["failed"] == 0


def test_failures_name_the_check_clause_and_evidence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_partner=SUITE)
    result = pytester.runpytest_subprocess(
        "--client-cmd", f"env M2M_MUTATION=comma-scope {CURL}", "--scenario", "scope-list"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*token-request-scope-format (MUST, RFC6749-3.3): token request 1: scope uses commas*",
            "*!! #1*POST /oauth/token*",
        ]
    )


def test_unknown_command_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_partner=SUITE)
    result = pytester.runpytest_subprocess("--client-cmd", "definitely-not-installed-client")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'definitely-not-installed-client' is not an executable*"])


@pytest.mark.parametrize("dist", ["load", "loadgroup"])
def test_suite_under_xdist_runs_one_emulator_per_scenario_without_port_clashes(
    pytester: pytest.Pytester, dist: str
) -> None:
    pytester.makepyfile(test_partner=SUITE)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", dist, "--client-cmd", CURL,
        "--scenario", "happy-path", "--scenario", "no-scope",
    )
    result.assert_outcomes(passed=len(cases(["happy-path", "no-scope"], "loyaltyone")))


def test_emulator_fixtures_work_in_a_partner_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixtures="""
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
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)
