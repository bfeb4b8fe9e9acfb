"""The live smoke test of the sandbox tenant: one test per server-contract check.

`pytest suites/live --live` talks to the tenant of the M2M_LIVE_* variables (three token
requests, one token for every check); add `--record-mode=rewrite` to record the scrubbed
cassettes in cassettes/. Without `--live` the checks replay those cassettes offline, with the
network blocked. See docs/live.md.
"""

from __future__ import annotations

import pytest

from m2m_contract.live import LiveRun, check_cassettes
from m2m_contract.live.pytest_plugin import cassette_dir, check_live


@pytest.mark.live
def test_server_contract(
    m2m_live_check: str, m2m_live: LiveRun, request: pytest.FixtureRequest
) -> None:
    check_live(m2m_live, m2m_live_check, request.node)


@pytest.mark.live
def test_cassettes_hold_no_signed_token_secret_or_credential(
    request: pytest.FixtureRequest,
) -> None:
    # After the checks, so that a recording run checks what it has just written.
    directory = cassette_dir(request.config)
    if not directory.is_dir():
        pytest.skip(f"no cassette directory {directory}")
    findings = check_cassettes(directory)
    assert not findings, "\n".join(str(f) for f in findings)
