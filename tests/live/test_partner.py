"""The live suite from a partner's own repository: `pytest --live` through the plugin and the
public m2m_contract.suite, and `m2m-contract live` from their directory; recorded against a
local emulator, then replayed offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from m2m_contract.emulator import Emulator, EmulatorServer

from .conftest import CHECKS, ENV_NAMES, SECRET, server_env

PARTNER_TEST = "from m2m_contract.suite import test_live\n"


def test_a_partner_records_then_replays_the_live_suite_in_their_own_repository(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_sandbox.py").write_text(PARTNER_TEST)
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    with EmulatorServer(Emulator()) as server:
        for name, value in server_env(server).items():
            monkeypatch.setenv(name, value)
        recorded = pytester.runpytest_subprocess(
            "--live", "--record-mode=rewrite", "--m2m-live-cassettes", "recordings",
            "--m2m-live-report-json", "live.json",
        )
        assert len(server.emulator.journal.token_requests()) == 3
    recorded.assert_outcomes(passed=CHECKS + 1)
    recordings = pytester.path / "recordings"
    assert SECRET not in "".join(p.read_text() for p in recordings.iterdir())
    assert json.loads((pytester.path / "live.json").read_text())["mode"] == "record"

    for name in ENV_NAMES:  # offline, and without the secrets
        monkeypatch.delenv(name, raising=False)
    replayed = pytester.runpytest_subprocess("--m2m-live-cassettes", "recordings")
    replayed.assert_outcomes(passed=CHECKS + 1)
    replayed.stdout.fnmatch_lines(["*replayed from */recordings*", "*m2m-contract live: PASS*"])

    command = subprocess.run(
        [sys.executable, "-m", "m2m_contract", "live", "--replay", "--cassettes", "recordings",
         "--report-markdown", "live.md"],
        cwd=pytester.path, capture_output=True, text=True, timeout=120, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("M2M_LIVE_")},
    )
    assert command.returncode == 0, command.stdout + command.stderr
    assert command.stdout.strip().splitlines()[-1].startswith("m2m-contract live: PASS")
    assert "m2m-contract live" in (pytester.path / "live.md").read_text()
