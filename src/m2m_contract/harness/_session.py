"""A conformance session: runs the selected scenarios once, side by side, and judges checks."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace

from .._secrets import redact
from ..contract import CATALOGUE, STALL_BUDGET, Check, Observation, checks_of
from ..report import CaseResult, ScenarioRun, diagram, ending, evidence, last_lines
from ._runner import DEFAULT_TIMEOUT, ClientRunner, run_scenario
from ._scenarios import SCENARIOS

MAX_PARALLEL = 32  # every scenario at once: the longest ones wait on the clock, not the CPU
BOOTING = os.cpu_count() or 2  # clients starting at once (starting is the CPU-heavy part)
# The scenarios that wait longest on the clock start first, so short ones run in their waits.
FIRST = ("token-endpoint-stall", "expiry", "refresh-token-offered", "rate-limited",
         "server-error")
Progress = Callable[[int, int], None]  # (scenarios done, scenarios in all)


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


def hider(obs: Observation) -> Callable[[str], str]:
    """Redaction of one run's secret and tokens (in any spelling), and of every credential
    shape, in any text."""
    known = obs.known
    return lambda text: redact(text, known)


def judge(check: Check[Observation], obs: Observation, *, strict: bool) -> CaseResult:
    """One check over one observation; a failure or warning carries its evidence."""
    result = check.run(obs)
    status = check.status(result, strict)
    hide = hider(obs)
    message = hide(result.message)
    ev, model = "", None
    if status in ("failed", "warning"):
        model = diagram(obs, result.culprits, f"{check.id}: {message}", hide)
        ev = evidence(obs, model, hide)
    return CaseResult(
        check.id,
        obs.scenario,
        status,
        check.severity,
        check.clause,
        message,
        ev,
        check.title,
        model,
    )


def scenario_run(obs: Observation) -> ScenarioRun:
    """How the client ran in `obs`, as the reports show it."""
    lines = [line for line in obs.outcome.output.splitlines() if line.strip()]
    shown = last_lines(obs, hider(obs), count=40)
    return ScenarioRun(
        obs.scenario,
        SCENARIOS[obs.scenario].summary,
        ending(obs, timed=False),
        obs.outcome.elapsed,
        shown,
        max(0, len(lines) - len(shown)),
        obs.outcome.dropped,
    )


class ConformanceSession:
    """Holds the client runner and each scenario's observation (computed on first use)."""

    def __init__(
        self, runner: ClientRunner, options: Options, progress: Progress | None = None
    ) -> None:
        self.runner = runner
        self.options = options
        self.progress = progress
        self._lock = threading.Lock()
        self._observations: dict[str, Observation] = {}

    def prepare(self, scenarios: Iterable[str]) -> None:
        """Run every scenario not yet run, side by side (each has its own emulator and port)."""
        with self._lock:
            todo = [s for s in dict.fromkeys(scenarios) if s not in self._observations]
            if not todo:
                return
            todo.sort(key=lambda s: FIRST.index(s) if s in FIRST else len(FIRST))
            boot = threading.Semaphore(BOOTING)
            with ThreadPoolExecutor(
                max_workers=min(MAX_PARALLEL, len(todo)), thread_name_prefix="m2m-scenario"
            ) as pool:
                futures = {
                    pool.submit(
                        run_scenario,
                        SCENARIOS[name],
                        self.runner,
                        tls=self.options.tls,
                        timeout=self.options.timeout,
                        stall_budget=self.options.stall_budget,
                        boot=boot,
                    ): name
                    for name in todo
                }
                for done, future in enumerate(as_completed(futures), 1):
                    self._observations[futures[future]] = future.result()
                    if self.progress is not None:
                        self.progress(done, len(todo))

    def observation(self, scenario: str) -> Observation:
        self.prepare([scenario])
        return self._observations[scenario]

    def results(self, scenarios: Iterable[str]) -> list[CaseResult]:
        """Run `scenarios` side by side, then judge every check that applies to them."""
        names = list(dict.fromkeys(scenarios))
        self.prepare(names)
        return [self.judge(s, c) for s, c in cases(names, self.options.profile)]

    def run_of(self, scenario: str) -> ScenarioRun:
        return scenario_run(self.observation(scenario))

    def judge(self, scenario: str, check_id: str) -> CaseResult:
        check: Check[Observation] = CATALOGUE[check_id]
        result = judge(check, self.observation(scenario), strict=self.options.strict)
        if (scenario, check_id) in self.options.baseline:
            if result.status in ("failed", "warning"):
                result = replace(result, baseline="expected")
            elif result.status == "passed":
                result = replace(result, baseline="stale")
        return result
