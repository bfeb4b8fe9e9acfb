"""`m2m-contract verify` end to end, as a CI runs it: a subprocess, exit status, reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CURL = ["sh", str(ROOT / "tests/conformance/programs/curl_client.sh")]


def verify(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "m2m_contract", "verify", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_conforming_client_exits_0_and_writes_json_and_junit(tmp_path: Path) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    done = verify(
        "--scenario",
        "happy-path",
        "--scenario",
        "bad-credentials",
        "--report-json",
        str(report),
        "--junitxml",
        str(junit),
        "--",
        *CURL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    assert set(data) == {"client", "profile", "strict", "summary", "checks"}
    assert data["profile"] == "loyaltyone" and data["strict"] is False
    assert set(data["summary"]) == {"passed", "failed", "warnings", "skipped"}
    assert data["summary"]["failed"] == 0 and data["summary"]["passed"] > 40
    assert {c["scenario"] for c in data["checks"]} == {"happy-path", "bad-credentials"}
    first = data["checks"][0]
    assert {"id", "scenario", "status", "severity", "clause", "message", "evidence"} <= set(first)
    assert "<testsuite" in junit.read_text()
    assert "happy-path" in done.stdout and "0 failed" in done.stdout


def test_a_broken_client_exits_1_with_redacted_evidence_and_a_mermaid_diagram(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.json"
    done = verify(
        "--client-py",
        "tests.conformance.clients:comma_scope",
        "--scenario",
        "scope-list",
        "--report-json",
        str(report),
    )
    assert done.returncode == 1
    assert "token-request-scope-format" in done.stdout
    data = json.loads(report.read_text())
    failed = [c for c in data["checks"] if c["status"] == "failed"]
    scope = next(c for c in failed if c["id"] == "token-request-scope-format")
    assert "comma" in scope["message"] and scope["clause"] == "RFC6749-3.3"
    assert "!! #1" in scope["evidence"] and 'client_secret: "***"' in scope["evidence"]
    assert scope["mermaid"].startswith("sequenceDiagram")
    assert "client_secret=" not in json.dumps(data)


def test_warnings_pass_unless_strict() -> None:
    args = ("--client-py", "tests.conformance.clients:form_body", "--scenario", "happy-path")
    relaxed = verify(*args)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "warn" in relaxed.stdout and "token-request-json-body" in relaxed.stdout
    assert verify(*args, "--strict").returncode == 1
    assert verify(*args, "--profile", "rfc6749").stdout.count("token-request-json-body") == 0


def test_baseline_accepts_listed_failures_and_rejects_stale_entries(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.txt"
    baseline.write_text(
        "# known\nscope-list:token-request-scope-format\nscope-list:client-succeeds\n"
    )
    args = ("--client-py", "tests.conformance.clients:comma_scope", "--scenario", "scope-list")
    listed = verify(*args, "--baseline", str(baseline))
    assert listed.returncode == 0, listed.stdout
    assert "baseline: expected" in listed.stdout
    stale = verify(
        "--client-py",
        "tests.conformance.clients:good",
        "--scenario",
        "scope-list",
        "--baseline",
        str(baseline),
    )
    assert stale.returncode == 1
    assert "stale" in stale.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", "no-such-client-binary"], "'no-such-client-binary' is not an executable"),
        (["--client-py", "no_such_module:main"], "cannot import 'no_such_module'"),
        (["--client-py", "tests.conformance.clients:good", "--client-cmd", "true"], "not both"),
        (["--baseline", "/nonexistent/baseline.txt"], "cannot read the baseline"),
        (["--report-json", "/nonexistent/dir/report.json"], "cannot write"),
        (["--scenario-timeout", "nan"], "must be a positive number of seconds"),
        (["--scenario", "no-such-scenario"], "unknown scenario(s) no-such-scenario"),
    ],
)
def test_setup_errors_exit_2_with_a_clear_message_and_no_traceback(
    args: list[str], message: str
) -> None:
    done = verify(*args)
    assert done.returncode == 2
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_hanging_client_is_killed_at_the_scenario_limit() -> None:
    done = verify(
        "--scenario", "happy-path", "--scenario-timeout", "1", "--", "sleep", "60", timeout=30
    )
    assert done.returncode == 1
    assert "client-finishes" in done.stdout and "killed" in done.stdout


def test_a_command_client_over_tls_gets_the_ca_bundle() -> None:
    done = verify("--tls", "--scenario", "happy-path", "--scenario", "token-reuse", "--", *CURL)
    assert done.returncode == 0, done.stdout
