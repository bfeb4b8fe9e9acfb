"""The live suite: every server-contract check of the tenant, then the cassettes' hygiene."""

from __future__ import annotations

import pytest

from ..live import LiveRun
from ..live.pytest_plugin import check_live


@pytest.mark.live
def test_live(m2m_live_case: str, m2m_live: LiveRun, request: pytest.FixtureRequest) -> None:
    """One check of the server contract over the run's exchanges (or, last, the cassettes)."""
    check_live(m2m_live, m2m_live_case, request.config)
