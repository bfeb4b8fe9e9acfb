"""The conformance harness: scenarios, client adapters, sessions and reports."""

from ._baseline import BaselineError, load_baseline
from ._report import CaseResult, catalogue_markdown, evidence, mermaid, table, write_json
from ._runner import (
    DEFAULT_TIMEOUT,
    ClientRunner,
    CommandRunner,
    SetupError,
    python_client,
    run_scenario,
)
from ._scenarios import SCENARIOS, Scenario
from ._session import ConformanceSession, Options, cases

__all__ = [
    "DEFAULT_TIMEOUT",
    "SCENARIOS",
    "BaselineError",
    "CaseResult",
    "ClientRunner",
    "CommandRunner",
    "ConformanceSession",
    "Options",
    "Scenario",
    "SetupError",
    "cases",
    "catalogue_markdown",
    "evidence",
    "load_baseline",
    "mermaid",
    "python_client",
    "run_scenario",
    "table",
    "write_json",
]
