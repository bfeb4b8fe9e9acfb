"""A conformance session: runs the selected scenarios once, concurrently, and judges checks."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from ..contract import CATALOGUE, STALL_BUDGET, Check, Observation, checks_of
from ._report import CaseResult, judge
from ._runner import DEFAULT_TIMEOUT, ClientRunner, run_scenario
from ._scenarios import SCENARIOS

MAX_PARALLEL = 32  # every scenario at once: the longest ones wait on the clock, not the CPU


@dataclass(frozen=True)
class Options:
    profile: str = "loyaltyone"
    strict: bool = False
    tls: bool = False
    timeout: float = DEFAULT_TIMEOUT
    baseline: frozenset[tuple[str, str]] = frozenset()
    stall_budget: float = STALL_BUDGET  # the token-endpoint-stall limit (shortened in tests)


def cases(scenarios: Iterable[str], profile: str) -> list[tuple[str, str]]:
    """Every (scenario, check id) pair that applies under `profile`."""
    return [
        (scenario, check.id)
        for scenario in scenarios
        for check in checks_of("conformance")
        if check.applies(scenario, profile)
    ]


class ConformanceSession:
    """Holds the client runner and each scenario's observation (computed on first use)."""

    def __init__(self, runner: ClientRunner, options: Options) -> None:
        self.runner = runner
        self.options = options
        self._lock = threading.Lock()
        self._observations: dict[str, Observation] = {}

    def prepare(self, scenarios: Iterable[str]) -> None:
        """Run every scenario not yet run, side by side (each has its own emulator and port)."""
        with self._lock:
            todo = [s for s in dict.fromkeys(scenarios) if s not in self._observations]
            if not todo:
                return
            with ThreadPoolExecutor(
                max_workers=min(MAX_PARALLEL, len(todo)), thread_name_prefix="m2m-scenario"
            ) as pool:
                futures = {
                    name: pool.submit(
                        run_scenario,
                        SCENARIOS[name],
                        self.runner,
                        tls=self.options.tls,
                        timeout=self.options.timeout,
                        stall_budget=self.options.stall_budget,
                    )
                    for name in todo
                }
                for name, future in futures.items():
                    self._observations[name] = future.result()

    def observation(self, scenario: str) -> Observation:
        self.prepare([scenario])
        return self._observations[scenario]

    def results(self, scenarios: Iterable[str]) -> list[CaseResult]:
        """Run `scenarios` side by side, then judge every check that applies to them."""
        names = list(dict.fromkeys(scenarios))
        self.prepare(names)
        return [self.judge(s, c) for s, c in cases(names, self.options.profile)]

    def judge(self, scenario: str, check_id: str) -> CaseResult:
        check: Check[Observation] = CATALOGUE[check_id]
        result = judge(check, self.observation(scenario), strict=self.options.strict)
        if (scenario, check_id) in self.options.baseline:
            if result.status in ("failed", "warning"):
                result = replace(result, baseline="expected")
            elif result.status == "passed":
                result = replace(result, baseline="stale")
        return result
