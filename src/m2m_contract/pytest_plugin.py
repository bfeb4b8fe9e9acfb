"""The m2m-contract pytest plugin (registered through the pytest11 entry point).

Emulator fixtures for anyone's tests, and the conformance options, parametrisation and
reporting behind `suites/conformance` and `m2m-contract verify`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .contract import PROFILES
from .emulator import Emulator, EmulatorServer, FakeClock
from .harness import (
    SCENARIOS,
    BaselineError,
    CaseResult,
    ClientRunner,
    CommandRunner,
    ConformanceSession,
    Options,
    SetupError,
    cases,
    load_baseline,
    python_client,
    table,
    write_json,
)

DEFAULT_CLIENT = "m2m_contract.client:run_protocol"


@dataclass
class _State:
    options: Options
    scenarios: list[str]
    client_cmd: str | None
    client_py: str
    report_json: str | None
    _runner: ClientRunner | None = None

    def runner(self) -> ClientRunner:
        if self._runner is None:
            try:
                runner: ClientRunner = (
                    CommandRunner.from_string(self.client_cmd)
                    if self.client_cmd is not None
                    else python_client(self.client_py)
                )
            except SetupError as exc:
                raise pytest.UsageError(str(exc)) from None
            self._runner = runner
        return self._runner

    @property
    def label(self) -> str:
        return self.client_cmd if self.client_cmd is not None else self.client_py


_STATE = pytest.StashKey[_State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("m2m-contract", "m2m-contract conformance")
    group.addoption(
        "--client-cmd",
        dest="m2m_client_cmd",
        metavar="CMD",
        help="run this command as the client under test (command-client protocol)",
    )
    group.addoption(
        "--client-py",
        dest="m2m_client_py",
        metavar="MODULE:FUNCTION",
        help="call this Python function(env) -> exit status as the client under test",
    )
    group.addoption(
        "--tls",
        dest="m2m_tls",
        action="store_true",
        help="serve the emulator over HTTPS with a throwaway CA (M2M_CA_BUNDLE)",
    )
    group.addoption(
        "--scenario",
        dest="m2m_scenarios",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this scenario (repeatable)",
    )
    group.addoption(
        "--m2m-profile",
        dest="m2m_profile",
        choices=PROFILES,
        default="loyaltyone",
        help="contract profile (default: loyaltyone, the partner document)",
    )
    group.addoption(
        "--m2m-strict",
        dest="m2m_strict",
        action="store_true",
        help="turn SHOULD warnings into failures",
    )
    group.addoption(
        "--m2m-baseline",
        dest="m2m_baseline",
        metavar="FILE",
        help="expected failures, one scenario:check-id per line",
    )
    group.addoption(
        "--m2m-report-json",
        dest="m2m_report_json",
        metavar="PATH",
        help="write the JSON conformance report here",
    )
    group.addoption(
        "--m2m-scenario-timeout",
        dest="m2m_timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="kill the client after this long (default 30)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a check of the client-credentials contract")
    opt = config.option
    if opt.m2m_client_cmd is not None and opt.m2m_client_py is not None:
        raise pytest.UsageError("use --client-cmd or --client-py, not both")
    unknown = [s for s in opt.m2m_scenarios if s not in SCENARIOS]
    if unknown:
        raise pytest.UsageError(
            f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
        )
    if not math.isfinite(opt.m2m_timeout) or opt.m2m_timeout <= 0:
        raise pytest.UsageError("--m2m-scenario-timeout must be a positive number of seconds")
    if opt.m2m_report_json:
        _check_writable(opt.m2m_report_json)
    try:
        baseline = load_baseline(opt.m2m_baseline) if opt.m2m_baseline else frozenset()
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    options = Options(opt.m2m_profile, opt.m2m_strict, opt.m2m_tls, opt.m2m_timeout, baseline)
    state = _State(
        options,
        list(dict.fromkeys(opt.m2m_scenarios)) or list(SCENARIOS),
        opt.m2m_client_cmd,
        opt.m2m_client_py or DEFAULT_CLIENT,
        opt.m2m_report_json,
    )
    config.stash[_STATE] = state
    if opt.m2m_client_cmd is not None or opt.m2m_client_py is not None:
        state.runner()  # a client that cannot start is a usage error, reported at once


def _check_writable(path: str) -> None:
    """Fail before the run, not after it, when the report cannot be written."""
    folder = Path(path).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise pytest.UsageError(f"--report-json: cannot write {path} (no writable folder {folder})")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "m2m_case" not in metafunc.fixturenames:
        return
    state = metafunc.config.stash[_STATE]
    pairs = cases(state.scenarios, state.options.profile)
    metafunc.parametrize("m2m_case", pairs, ids=[f"{s}:{c}" for s, c in pairs])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:  # `--dist loadgroup` then keeps each scenario on one worker
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("m2m_case") if callspec is not None else None
        if isinstance(case, tuple):
            item.add_marker(pytest.mark.xdist_group(str(case[0])))


@pytest.fixture(scope="session")
def m2m_conformance(request: pytest.FixtureRequest) -> ConformanceSession:
    """The conformance session: every collected scenario is run once, side by side.

    Under `-n N --dist loadgroup` each worker runs only the scenarios it is sent, when it
    is sent them; under plain `-n N` every worker runs them all, side by side, up front.
    """
    state = request.config.stash[_STATE]
    session = ConformanceSession(state.runner(), state.options)
    if request.config.getoption("dist", "no") == "loadgroup":
        return session
    wanted: list[str] = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("m2m_case") if callspec is not None else None
        if isinstance(case, tuple):
            wanted.append(str(case[0]))
    session.prepare(wanted)
    return session


def check_case(session: ConformanceSession, case: tuple[str, str], node: pytest.Item) -> None:
    """Judge one (scenario, check) and turn the verdict into a pytest outcome."""
    scenario, check_id = case
    result = session.judge(scenario, check_id)
    node.user_properties.append(("m2m_result", json.dumps(result.to_json())))
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


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == "m2m_result" and isinstance(value, str):
            _RESULTS.append(CaseResult(**json.loads(value)))


_RESULTS: list[CaseResult] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _RESULTS.clear()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if not _RESULTS or hasattr(config, "workerinput"):
        return
    state = config.stash[_STATE]
    terminalreporter.section("m2m-contract conformance")
    terminalreporter.write_line(
        table(
            _RESULTS, client=state.label, profile=state.options.profile, strict=state.options.strict
        )
    )
    if state.report_json:
        write_json(
            Path(state.report_json),
            _RESULTS,
            client=state.label,
            profile=state.options.profile,
            strict=state.options.strict,
        )
        terminalreporter.write_line(f"JSON report written to {state.report_json}")


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
