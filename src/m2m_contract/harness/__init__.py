"""The conformance harness: scenarios, client adapters, sessions and reports."""

from ._baseline import BaselineError, load_baseline
from ._report import CaseResult, catalogue_markdown, evidence, mermaid, table, write_json
from ._runner import (
    DEFAULT_TIMEOUT,
    CallableRunner,
    ClientRunner,
    CommandRunner,
    SetupError,
    run_scenario,
)
from ._scenarios import SCENARIOS, Scenario
from ._session import ConformanceSession, Options, cases

__all__ = [
    "DEFAULT_TIMEOUT",
    "SCENARIOS",
    "BaselineError",
    "CallableRunner",
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
    "run_scenario",
    "table",
    "write_json",
]
