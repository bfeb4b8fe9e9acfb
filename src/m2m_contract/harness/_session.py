"""A conformance session: runs the selected scenarios once, side by side, and judges checks.

A Ctrl-C (KeyboardInterrupt in the thread waiting on the scenarios) or an error in one
scenario sets the session's abort event: every running client is killed at once, none
waiting is started, and the exception goes on once every scenario thread has ended, with
`unfinished` saying how many scenarios never finished.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace

from .._secrets import redact
from ..contract import CATALOGUE, STALL_BUDGET, Check, Observation, checks_of
from ..report import CaseResult, ScenarioRun, diagram, ending, evidence, last_lines
from ._runner import DEFAULT_TIMEOUT, BootSlots, ClientRunner, run_scenario
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
        self._runs: dict[str, ScenarioRun] = {}
        self.abort = threading.Event()  # set: stop every client now (Ctrl-C)
        self.unfinished = 0  # scenarios an abort left without an observation

    def prepare(self, scenarios: Iterable[str]) -> None:
        """Run every scenario not yet run, side by side (each has its own emulator and port)."""
        with self._lock:
            todo = [s for s in dict.fromkeys(scenarios) if s not in self._observations]
            if not todo:
                return
            todo.sort(key=lambda s: FIRST.index(s) if s in FIRST else len(FIRST))
            boot = BootSlots(BOOTING)
            pool = ThreadPoolExecutor(
                max_workers=min(MAX_PARALLEL, len(todo)), thread_name_prefix="m2m-scenario"
            )
            try:
                futures = {
                    pool.submit(
                        run_scenario,
                        SCENARIOS[name],
                        self.runner,
                        tls=self.options.tls,
                        timeout=self.options.timeout,
                        stall_budget=self.options.stall_budget,
                        boot=boot,
                        rank=rank,
                        abort=self.abort,
                    ): name
                    for rank, name in enumerate(todo)
                }
                for done, future in enumerate(as_completed(futures), 1):
                    self._observations[futures[future]] = future.result()
                    if self.progress is not None:
                        self.progress(done, len(todo))
            except BaseException:  # Ctrl-C, or a scenario that raised: stop the others now
                self.abort.set()
                self.unfinished = sum(name not in self._observations for name in todo)
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)  # quick once aborted

    def start_failure(self) -> str | None:
        """Why no scenario tested the client, when the client never got going in any: it
        could not be started, or it exited 126/127 (a shell's "cannot execute" and "not
        found") before any request. None when at least one scenario saw it run."""
        runs = list(self._observations.values())
        if not runs:
            return None
        errors = [o.outcome.error for o in runs]
        if all(error is not None for error in errors):
            return f"the client could not start in any scenario: {errors[0]}"
        codes = {o.outcome.exit_code for o in runs}
        silent = all(
            not (o.token_calls or o.api_calls or o.other_calls or o.handshakes) for o in runs
        )
        if not silent or not codes <= {126, 127}:
            return None
        obs = runs[0]
        said = last_lines(obs, hider(obs), count=1)
        what = f": {said[0]}" if said else ""
        return (
            f"the client exited with status {obs.outcome.exit_code} in every scenario before "
            f"any request (126/127: a command that cannot run or is not found){what}"
        )

    def observation(self, scenario: str) -> Observation:
        self.prepare([scenario])
        return self._observations[scenario]

    def results(self, scenarios: Iterable[str]) -> list[CaseResult]:
        """Run `scenarios` side by side, then judge every check that applies to them."""
        names = list(dict.fromkeys(scenarios))
        self.prepare(names)
        return [self.judge(s, c) for s, c in cases(names, self.options.profile)]

    def run_of(self, scenario: str) -> ScenarioRun:
        run = self._runs.get(scenario)
        if run is None:  # once per scenario: every check of it carries the same run
            run = self._runs[scenario] = scenario_run(self.observation(scenario))
        return run

    def judge(self, scenario: str, check_id: str) -> CaseResult:
        check: Check[Observation] = CATALOGUE[check_id]
        result = judge(check, self.observation(scenario), strict=self.options.strict)
        if (scenario, check_id) in self.options.baseline:
            if result.status in ("failed", "warning"):
                result = replace(result, baseline="expected")
            elif result.status == "passed":
                result = replace(result, baseline="stale")
        return result
