"""The conformance suite: every applicable check of every selected scenario.

Run by `m2m-contract verify`, and by plain pytest through suites/conformance/.
"""

from __future__ import annotations

import pytest

from m2m_contract.harness import ConformanceSession
from m2m_contract.pytest_plugin import check_case


@pytest.mark.conformance
def test_conformance(
    m2m_case: tuple[str, str], m2m_conformance: ConformanceSession, request: pytest.FixtureRequest
) -> None:
    check_case(m2m_conformance, m2m_case, request.node)
