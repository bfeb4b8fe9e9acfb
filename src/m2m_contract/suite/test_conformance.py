"""The conformance suite: every applicable check of every selected scenario, one test each."""

from __future__ import annotations

import pytest

from ..harness import ConformanceSession
from ..pytest_plugin import check_case


@pytest.mark.conformance
def test_conformance(
    m2m_case: tuple[str, str], m2m_conformance: ConformanceSession, request: pytest.FixtureRequest
) -> None:
    """One check of the client-credentials contract, judged over one scenario's run."""
    check_case(m2m_conformance, m2m_case, request.node)
