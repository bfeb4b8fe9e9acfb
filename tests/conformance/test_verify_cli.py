"""`m2m-contract verify` end to end, as a CI runs it: a subprocess, exit status, reports,
and nothing but the verdict on the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CURL = ["sh", str(ROOT / "tests/conformance/programs/curl_client.sh")]
FIXED_KEYS = {"client", "profile", "strict", "summary", "checks"}


def verify(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "m2m_contract", "verify", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_a_conforming_client_exits_0_and_every_report_agrees_with_the_terminal(
    tmp_path: Path,
) -> None:
    out = tmp_path / "reports"  # missing parent folders are created
    done = verify(
        "--scenario", "happy-path", "--scenario", "bad-credentials",
        "--report-json", str(out / "r.json"), "--junitxml", str(out / "j.xml"),
        "--report-markdown", str(out / "r.md"), "--report-html", str(out / "r.html"),
        "--", *CURL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((out / "r.json").read_text())
    assert set(data) >= FIXED_KEYS and data["suite"] == "conformance"
    assert {"passed", "failed", "warnings", "skipped"} <= set(data["summary"])
    assert data["summary"]["failed"] == 0 and data["verdict"] == "passed"
    assert [s["name"] for s in data["scenarios"]] == ["happy-path", "bad-credentials"]
    first = data["checks"][0]
    assert {"id", "scenario", "status", "severity", "clause", "message", "evidence"} <= set(first)
    junit = ET.parse(out / "j.xml").getroot()
    assert junit.get("tests") == str(len(data["checks"])) and junit.get("failures") == "0"
    markdown = (out / "r.md").read_text()
    assert "happy-path" in markdown and "| **Total** |" in markdown
    assert (out / "r.html").read_text().startswith("<!DOCTYPE html>")
    summary = data["summary"]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("m2m-contract conformance: PASS")
    assert f"{summary['passed']} passed" in last and f"{summary['skipped']} skipped" in last
    # No pytest progress or summary: only the verdict.
    assert "passed in" not in done.stdout and "...." not in done.stdout
    assert "test session starts" not in done.stdout


def test_a_broken_client_exits_1_with_its_evidence_in_the_terminal(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = verify(
        "--client-py", "tests.conformance.clients:comma_scope", "--scenario", "scope-list",
        "--report-json", str(report),
    )
    assert done.returncode == 1
    assert "FAIL token-request-scope-format (MUST, RFC6749-3.3) in scope-list" in done.stdout
    assert "!! +0.00 s token request 1: POST /oauth/token json{" in done.stdout
    assert "client output (last" in done.stdout and "token request failed" in done.stdout
    data = json.loads(report.read_text())
    scope = next(c for c in data["checks"] if c["id"] == "token-request-scope-format")
    assert "comma" in scope["message"] and scope["clause"] == "RFC6749-3.3"
    assert scope["mermaid"].startswith("sequenceDiagram") and "+0.00 s" in scope["mermaid"]
    assert scope["diagram"]["note"].startswith("token-request-scope-format:")


def test_a_client_missing_a_module_shows_why_in_the_terminal_once(tmp_path: Path) -> None:
    program = tmp_path / "client.py"
    program.write_text("import no_such_oauth_library\n")
    done = verify("--scenario", "happy-path", "--scenario", "token-reuse", "--",
                  sys.executable, str(program))
    assert done.returncode == 1
    assert "ModuleNotFoundError: No module named 'no_such_oauth_library'" in done.stdout
    assert "client-requests-token" in done.stdout
    assert done.stdout.count("FAIL client-requests-token") == 1  # one block, both scenarios


def test_warnings_pass_unless_strict() -> None:
    args = ("--client-py", "tests.conformance.clients:form_body", "--scenario", "happy-path")
    relaxed = verify(*args)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "warn token-request-json-body" in relaxed.stdout
    assert "(-v shows the evidence" in relaxed.stdout
    assert "!!" in verify(*args, "-v").stdout
    assert verify(*args, "--strict").returncode == 1
    assert "token-request-json-body" not in verify(*args, "--profile", "rfc6749").stdout


def test_a_baseline_passes_listed_failures_and_fails_stale_entries(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.txt"
    baseline.write_text(
        "# known\nscope-list:token-request-scope-format\nscope-list:client-succeeds\n"
    )
    args = ("--client-py", "tests.conformance.clients:comma_scope", "--scenario", "scope-list")
    listed = verify(*args, "--baseline", str(baseline))
    assert listed.returncode == 0, listed.stdout
    assert "  scope-list  ok    [baseline: 2 expected]" in listed.stdout.splitlines()
    assert "2 expected by the baseline" in listed.stdout.splitlines()[-1]
    stale = verify("--client-py", "tests.conformance.clients:good", "--scenario", "scope-list",
                   "--baseline", str(baseline))
    assert stale.returncode == 1
    assert "stale baseline entry" in stale.stdout
    assert "scope-list  FAIL" in stale.stdout


def test_pytest_addopts_from_the_environment_do_not_reach_the_suite() -> None:
    done = verify("--scenario", "happy-path", "--scenario", "no-scope",
                  env={"PYTEST_ADDOPTS": "-x --cov --no-such-option"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no-scope" in done.stdout and "PASS" in done.stdout.splitlines()[-1]


def test_a_closed_pipe_ends_verify_and_checks_quietly() -> None:
    for command in (f"{sys.executable} -m m2m_contract verify --scenario happy-path | head -1",
                    f"{sys.executable} -m m2m_contract checks | head -1"):
        done = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, check=False)
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
        assert len(done.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", "no-such-client-binary"], "'no-such-client-binary' is not an executable"),
        (["--client-py", "no_such_module:main"], "cannot import 'no_such_module'"),
        (["--client-py", "tests.conformance.clients:good", "--client-cmd", "true"], "not both"),
        (["--baseline", "/nonexistent/baseline.txt"], "cannot read the baseline"),
        (["--report-json", "/proc/report.json"], "--report-json /proc/report.json: cannot"),
        (["--report-html", "/tmp"], "--report-html /tmp: is a directory"),
        (["--junitxml", "/proc/1/x/j.xml"], "--junitxml /proc/1/x/j.xml: cannot create"),
        (["--scenario-timeout", "0"], "--scenario-timeout must be a positive number"),
        (["--scenario-timeout", "nan"], "--scenario-timeout must be a positive number"),
        (["--scenario", "no-such-scenario"], "unknown scenario(s) no-such-scenario"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_no_traceback(args: list[str], message: str) -> None:
    done = verify(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "m2m-scenario" not in done.stderr


def test_a_hanging_client_is_killed_at_the_limit_and_told_which_option_sets_it() -> None:
    done = verify("--scenario", "happy-path", "--scenario-timeout", "1", "--", "sleep", "60",
                  timeout=60)
    assert done.returncode == 1
    assert "1 s limit (--scenario-timeout)" in done.stdout


def test_a_command_client_over_tls_gets_the_ca_bundle() -> None:
    done = verify("--tls", "--scenario", "happy-path", "--scenario", "token-reuse", "--", *CURL)
    assert done.returncode == 0, done.stdout
