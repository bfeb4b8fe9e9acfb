"""Leaks are caught by value, wherever and however the client spells them, and the tool
itself leaks nothing: no report holds a run's secret in any spelling the vocabulary knows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from m2m_contract._secrets import Known
from m2m_contract.harness import CommandRunner, ConformanceSession, Options

from . import clients

ROOT = Path(__file__).parents[2]
# leak mode -> the check that must catch it (None: out of scope, and documented so)
LEAKS: dict[str, str | None] = {
    "print-plain": "secret-not-in-output",
    "print-base64": "secret-not-in-output",
    "print-percent": "secret-not-in-output",
    "print-quote": "secret-not-in-output",
    "print-hex": "secret-not-in-output",
    "print-split": "secret-not-in-output",
    "print-json-u": "secret-not-in-output",
    "stderr-only": "secret-not-in-output",
    "print-ansi": "secret-not-in-output",
    "print-prefix-20": "secret-not-in-output",
    "worker-thread": "secret-not-in-output",
    "os-write": "secret-not-in-output",
    "logging": "secret-not-in-output",
    "dunder-stdout": "secret-not-in-output",
    "grandchild": "secret-not-in-output",
    "api-header": "secret-not-in-api-request",
    "api-header-base64": "secret-not-in-api-request",
    "api-query": "secret-not-in-url",
    "api-query-base64": "secret-not-in-url",
    "api-cookie": "secret-not-in-api-request",
    "api-body": "secret-not-in-api-request",
    "token-url-query-value": "secret-not-in-url",
    "token-url-query-key": "secret-not-in-url",
    "token-request-header": "secret-not-in-api-request",
    "discovery-header": "secret-not-in-api-request",
    "discovery-basic": "secret-not-in-api-request",
    "discovery-body": "secret-not-in-api-request",
    "api-token-cookie": "token-only-in-authorization",
    "api-token-header": "token-only-in-authorization",
    "token-request-bearer": "token-only-in-authorization",
    "print-token": "token-not-in-output",
    "print-token-base64": "token-not-in-output",
    "print-token-signature": "token-not-in-output",
    "print-reversed": None,  # out of scope: docs/conformance.md says so
    "print-upper": None,
}


def _leaky(mode: str) -> CommandRunner:
    return clients.runner(f"leaks:{mode}", f"leak={mode}")


@pytest.mark.parametrize("mode", list(LEAKS))
def test_every_leak_mode_is_caught_by_its_check_or_documented_out_of_scope(mode: str) -> None:
    session = ConformanceSession(_leaky(mode), Options())
    results = {r.id: r for r in session.results(["happy-path"])}
    check = LEAKS[mode]
    bad = {i: r.message for i, r in results.items() if r.status in ("failed", "warning")}
    if check is None:
        assert not any("secret" in i or "token-not" in i for i in bad), bad
        docs = (ROOT / "docs/conformance.md").read_text()
        assert "Reversed or case-changed" in docs
        return
    assert check in bad, f"{mode} was not caught: {bad}"
    assert results[check].message.count("(") >= 1  # it names the spelling it saw
    others = {i for i in bad if i != check and ("secret" in i or "token-not" in i)}
    assert others <= {"token-not-in-output"}, others


def test_a_leaky_and_a_failing_client_leave_no_secret_in_any_report(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.txt"
    for name, knobs in (("leaky", "leak=print-plain,print_token=True,body=query-secret"),
                        ("failing", "leak=api-header,body=comma-scope")):
        out = tmp_path / name
        done = subprocess.run(
            [sys.executable, "-m", "m2m_contract", "verify", "--client-py",
             "tests.conformance.clients:run", "--scenario", "happy-path", "--scenario",
             "scope-list", "--report-json", str(out / "r.json"), "--junitxml",
             str(out / "j.xml"), "--report-markdown", str(out / "r.md"), "--report-html",
             str(out / "r.html"), "-v"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
            env={**__import__("os").environ, "M2M_KNOBS": knobs,
                 "M2M_SECRET_FILE": str(secrets), "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 1, done.stdout + done.stderr
        report = json.loads((out / "r.json").read_text())
        tokens = [line.split("token: ", 1)[1] for line in done.stdout.splitlines()
                  if "token: " in line]
        known = Known(secrets=secrets.read_text().split(), tokens=tokens,
                      client_id="m2m-contract-client")
        assert len(known) >= 2
        texts = [done.stdout, done.stderr, *(p.read_text() for p in out.iterdir())]
        for text in texts:
            assert known.find(text) == [], [str(f) for f in known.find(text)]
        assert any(c["status"] == "failed" for c in report["checks"])
