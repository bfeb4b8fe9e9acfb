"""The acceptance test of issue 3: the reference client passes every scenario, no warning."""

from __future__ import annotations

from m2m_contract.harness import SCENARIOS, ConformanceSession, Options, python_client


def test_reference_client_passes_every_scenario_with_no_failure_or_warning() -> None:
    session = ConformanceSession(python_client("m2m_contract.client:run_protocol"), Options())
    results = session.results(SCENARIOS)
    problems = [f"{r.scenario}:{r.id} {r.status}: {r.message}"
                for r in results if r.status in ("failed", "warning")]
    assert problems == []
    assert {r.scenario for r in results if r.status == "passed"} == set(SCENARIOS)
