"""The conformance harness: scenarios, client runners and sessions."""

from ._baseline import BaselineError, load_baseline
from ._runner import (
    DEFAULT_TIMEOUT,
    ClientRunner,
    CommandRunner,
    SetupError,
    python_client,
    run_scenario,
)
from ._scenarios import SCENARIOS, Scenario
from ._session import ConformanceSession, Options, cases, judge

__all__ = [
    "DEFAULT_TIMEOUT",
    "SCENARIOS",
    "BaselineError",
    "ClientRunner",
    "CommandRunner",
    "ConformanceSession",
    "Options",
    "Scenario",
    "SetupError",
    "cases",
    "judge",
    "load_baseline",
    "python_client",
    "run_scenario",
]
