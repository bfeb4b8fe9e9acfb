"""The m2m-contract pytest plugin (registered through the pytest11 entry point).

Emulator fixtures for anyone's tests; and the conformance options, parametrisation and
reports behind `m2m_contract.suite.test_conformance` and `m2m-contract verify`. Every option
is prefixed --m2m-; the client can also be named in the ini file (m2m_client_cmd,
m2m_client_py). State lives in config.stash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .contract import PROFILES
from .emulator import Emulator, EmulatorServer, FakeClock
from .harness import (
    SCENARIOS,
    BaselineError,
    ClientRunner,
    CommandRunner,
    ConformanceSession,
    Options,
    SetupError,
    cases,
    load_baseline,
    python_client,
)
from .harness._session import Progress
from .report import (
    CaseResult,
    Outputs,
    ReportPathError,
    ScenarioRun,
    build,
    checked_path,
    render_terminal,
)
from .report._write import RENDERERS, ReportWriteError, shown_path, write_report

_RESULT, _RUN = "m2m_result", "m2m_run"
NO_CLIENT = (
    "the conformance suite needs a client to test: give --m2m-client-cmd CMD (a program in "
    "any language) or --m2m-client-py MODULE:FUNCTION, or set m2m_client_cmd / m2m_client_py "
    "in your pytest configuration; `m2m-contract verify` tests the reference client"
)


@dataclass
class Conformance:
    """What one conformance run is asked to do, and what it found (in config.stash).

    `m2m-contract verify` builds it itself (with its own option names in any error) and
    hands it over through `preset`; otherwise pytest_configure builds it from the options.
    """

    options: Options
    scenarios: list[str]
    label: str | None  # the client's label; None: no client named
    outputs: Outputs = field(default_factory=Outputs)
    runner_factory: Any = None  # () -> ClientRunner, called once when first needed
    verify: bool = False  # print the verdict ourselves (verify runs without pytest's terminal)
    verbose: bool = False
    progress: Progress | None = None
    results: list[CaseResult] = field(default_factory=list)
    runs: dict[str, ScenarioRun] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # what kept the suite from running
    model: dict[str, Any] | None = None
    interrupted: int | None = None  # Ctrl-C: how many scenarios were left unfinished
    setup_error: str | None = None  # the client never ran in any scenario: why
    # (path, one line) of each report that could not be written
    write_errors: list[tuple[Path, str]] = field(default_factory=list)
    _runner: ClientRunner | None = None

    def runner(self) -> ClientRunner:
        if self._runner is None:
            if self.runner_factory is None:
                raise pytest.UsageError(NO_CLIENT)
            try:
                self._runner = self.runner_factory()
            except SetupError as exc:
                raise pytest.UsageError(str(exc)) from None
        assert self._runner is not None
        return self._runner


STATE = pytest.StashKey[Conformance]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("m2m-contract", "m2m-contract conformance")
    add = group.addoption
    add("--m2m-client-cmd", metavar="CMD", help="the client under test: this command "
        "(command-client protocol)")
    add("--m2m-client-py", metavar="MODULE:FUNCTION", help="the client under test: this "
        "Python function(env) -> exit status, run in a child process")
    add("--m2m-tls", action="store_true", help="serve the emulator over HTTPS with a "
        "throwaway CA (M2M_CA_BUNDLE)")
    add("--m2m-scenario", action="append", default=[], metavar="NAME",
        help="run only this scenario (repeatable)")
    add("--m2m-profile", choices=PROFILES, default="loyaltyone",
        help="contract profile (default: loyaltyone, the partner document)")
    add("--m2m-strict", action="store_true", help="turn SHOULD warnings into failures")
    add("--m2m-baseline", metavar="FILE", help="expected failures, one scenario:check-id "
        "per line")
    add("--m2m-scenario-timeout", type=float, default=30.0, metavar="SECONDS",
        help="kill the client after this long (default 30)")
    for fmt, what in (("json", "JSON"), ("markdown", "Markdown (GitHub)"), ("html", "HTML")):
        add(f"--m2m-report-{fmt}", metavar="PATH", help=f"write the {what} report here")
    add("--m2m-junitxml", metavar="PATH", help="write a JUnit XML report of the checks here")
    parser.addini("m2m_client_cmd", "the conformance suite's client: a command")
    parser.addini("m2m_client_py", "the conformance suite's client: module:function")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a check of the client-credentials contract")
    if STATE not in config.stash:
        config.stash[STATE] = _from_options(config)
    config.pluginmanager.register(_Collector(config.stash[STATE]), "m2m-contract-collector")


def _from_options(config: pytest.Config) -> Conformance:
    opt = config.option
    cmd = opt.m2m_client_cmd or config.getini("m2m_client_cmd") or None
    py = opt.m2m_client_py or config.getini("m2m_client_py") or None
    if cmd and py:
        raise pytest.UsageError("give --m2m-client-cmd or --m2m-client-py, not both")
    unknown = [s for s in opt.m2m_scenario if s not in SCENARIOS]
    if unknown:
        raise pytest.UsageError(
            f"--m2m-scenario: unknown scenario(s) {', '.join(unknown)}; known: "
            f"{', '.join(SCENARIOS)}"
        )
    if not math.isfinite(opt.m2m_scenario_timeout) or opt.m2m_scenario_timeout <= 0:
        raise pytest.UsageError("--m2m-scenario-timeout must be a positive number of seconds")
    try:
        baseline = load_baseline(opt.m2m_baseline) if opt.m2m_baseline else frozenset()
        base = config.invocation_params.dir
        outputs = Outputs(*(
            checked_path(flag, value, base) if value else None
            for flag, value in (
                ("--m2m-report-json", opt.m2m_report_json),
                ("--m2m-junitxml", opt.m2m_junitxml),
                ("--m2m-report-markdown", opt.m2m_report_markdown),
                ("--m2m-report-html", opt.m2m_report_html),
            )
        ))
    except (BaselineError, ReportPathError) as exc:
        raise pytest.UsageError(str(exc)) from None
    options = Options(
        opt.m2m_profile, opt.m2m_strict, opt.m2m_tls, opt.m2m_scenario_timeout, baseline
    )
    factory: Any = None
    if cmd:
        factory = lambda: CommandRunner.from_string(cmd)  # noqa: E731
    elif py:
        factory = lambda: python_client(py)  # noqa: E731
    return Conformance(
        options,
        list(dict.fromkeys(opt.m2m_scenario)) or list(SCENARIOS),
        cmd or py,
        outputs,
        factory,
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "m2m_case" not in metafunc.fixturenames:
        return
    state = metafunc.config.stash[STATE]
    pairs = cases(state.scenarios, state.options.profile)
    metafunc.parametrize("m2m_case", pairs, ids=[f"{s}:{c}" for s, c in pairs])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    conformance = [item for item in items if _case_of(item) is not None]
    if conformance and config.stash[STATE].runner_factory is None:
        raise pytest.UsageError(NO_CLIENT)  # never a false green for an untested client
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in conformance:  # `--dist loadgroup` then keeps each scenario on one worker
        item.add_marker(pytest.mark.xdist_group(str(_case_of(item))))


def _case_of(item: pytest.Item) -> str | None:
    """The scenario of a conformance test item, or None for any other test."""
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("m2m_case") if callspec is not None else None
    return str(case[0]) if isinstance(case, tuple) else None


@pytest.fixture(scope="session")
def m2m_conformance(request: pytest.FixtureRequest) -> ConformanceSession:
    """The conformance session: every collected scenario is run once, side by side.

    Under `-n N --dist loadgroup` each worker runs only the scenarios it is sent, when it
    is sent them; otherwise every collected scenario runs up front, side by side.
    Ctrl-C stops every client at once and ends the session (pytest's "interrupted"); a
    client that could not start in any scenario ends it as a usage error, naming why: there
    is then nothing to judge.
    """
    state = request.config.stash[STATE]
    session = ConformanceSession(state.runner(), state.options, state.progress)
    if request.config.getoption("dist", "no") == "loadgroup":
        return session
    try:
        session.prepare(
            [s for item in request.session.items if (s := _case_of(item)) is not None]
        )
    except KeyboardInterrupt:
        state.interrupted = session.unfinished
        raise
    state.setup_error = session.start_failure()
    if state.setup_error is not None:
        pytest.exit(state.setup_error, returncode=pytest.ExitCode.USAGE_ERROR)
    return session


def check_case(session: ConformanceSession, case: tuple[str, str], node: pytest.Item) -> None:
    """Judge one (scenario, check) and turn the verdict into a pytest outcome."""
    scenario, check_id = case
    result = session.judge(scenario, check_id)
    node.user_properties.append((_RESULT, json.dumps(result.to_json())))
    node.user_properties.append((_RUN, json.dumps(session.run_of(scenario).to_json())))
    detail = f"{check_id} ({result.severity}, {result.clause}): {result.message}"
    if result.evidence:
        detail += "\n" + result.evidence
    if result.baseline == "stale":
        pytest.fail(
            f"stale baseline entry {scenario}:{check_id}: the check passes now; "
            f"remove it from the baseline",
            pytrace=False,
        )
    if result.baseline == "expected":
        pytest.xfail(f"in the baseline: {detail}")
    if result.status == "failed":
        pytest.fail(detail, pytrace=False)
    if result.status == "skipped":
        pytest.skip(result.message)


class _Collector:
    """Gathers each check's result and each scenario's run on the controller (workers under
    xdist send theirs in the reports' user_properties)."""

    def __init__(self, state: Conformance) -> None:
        self.state = state

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.state.errors.append(str(report.longrepr))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.when != "call":  # a fixture (the session) that failed
            self.state.errors.append(str(report.longrepr))
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == _RESULT and isinstance(value, str):
                self.state.results.append(CaseResult.from_json(json.loads(value)))
            elif name == _RUN and isinstance(value, str):
                run = ScenarioRun.from_json(json.loads(value))
                self.state.runs[run.name] = run


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None or not state.results or hasattr(config, "workerinput"):
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:  # some checks never ran: no verdict
        return
    order = {name: n for n, name in enumerate(SCENARIOS)}
    results = sorted(state.results, key=lambda r: order.get(r.scenario, len(order)))
    state.model = build(
        results,
        state.runs.values(),
        suite="conformance",
        client=state.label or "",
        profile=state.options.profile,
        strict=state.options.strict,
    )
    if state.verify:
        return  # verify writes the reports itself, once its verdict is printed
    for name, path in state.outputs.named():
        try:
            write_report(path, RENDERERS[name](state.model))
        except ReportWriteError as exc:
            option = "--m2m-junitxml" if name == "junit" else f"--m2m-report-{name}"
            state.write_errors.append(
                (path, f"{option} {shown_path(path)}: cannot write the report ({exc.reason})")
            )
    if state.write_errors and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    state = config.stash.get(STATE, None)
    if state is None or state.model is None or state.verify:
        return
    terminalreporter.section("m2m-contract conformance")
    terminalreporter.write_line(render_terminal(state.model, verbose=config.option.verbose > 0))
    failed = dict(state.write_errors)
    for path in state.outputs.paths():
        if path not in failed:
            terminalreporter.write_line(f"report written to {shown_path(path)}")
    for line in failed.values():
        terminalreporter.write_line(line)


# -- emulator fixtures -----------------------------------------------------------------------


@pytest.fixture
def m2m_clock() -> FakeClock:
    """A fake clock the emulator fixtures run on; `m2m_clock.advance(s)` moves time."""
    return FakeClock()


@pytest.fixture
def m2m_emulator(m2m_clock: FakeClock) -> Emulator:
    """A fresh emulator (built-in tenant, fake clock, base URL the partner sandbox's)."""
    return Emulator(clock=m2m_clock)


@pytest.fixture
def m2m_respx(m2m_emulator: Emulator) -> Iterator[Emulator]:
    """Route httpx traffic for the sandbox URL to `m2m_emulator` (respx), for the test."""
    from .emulator import respx_router

    with respx_router(m2m_emulator):
        yield m2m_emulator


@pytest.fixture
def m2m_server(m2m_emulator: Emulator) -> Iterator[EmulatorServer]:
    """`m2m_emulator` served over HTTP on a free loopback port for the test."""
    with EmulatorServer(m2m_emulator) as server:
        yield server


@pytest.fixture
def m2m_tls_server(m2m_emulator: Emulator) -> Iterator[EmulatorServer]:
    """`m2m_emulator` served over HTTPS (throwaway CA at `.ca_bundle`) on loopback."""
    with EmulatorServer(m2m_emulator, tls=True) as server:
        yield server


__all__ = ["STATE", "Conformance", "check_case"]
