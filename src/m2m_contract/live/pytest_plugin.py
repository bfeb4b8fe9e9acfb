"""The live smoke test's pytest plugin (pytest11 entry point `m2m_contract_live`).

`--live` talks to the tenant named by the M2M_LIVE_* variables; with pytest-recording's
`--record-mode` (any mode but none) it also records scrubbed cassettes. Without `--live`, the
live suite (`m2m_contract.suite.test_live`) replays its cassettes with the network blocked.

Failures are loud: `--live` without its variables is a usage error naming them (unless
`--m2m-live-optional` or M2M_LIVE_OPTIONAL=1 asks to skip, e.g. for pull requests from forks),
and a tenant that cannot be reached ends the run with one error. Verdicts go through the one
report path (m2m_contract.report): a terminal section, and JSON, JUnit, Markdown or HTML files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..contract import CATALOGUE, BadRecording, checks_of
from ..report import (
    CaseResult,
    Outputs,
    ReportPathError,
    ScenarioRun,
    build,
    checked_path,
    render_terminal,
)
from ._cassettes import CassetteMissing, Mode, ReplayError
from ._hygiene import check_cassettes
from ._session import TOKEN_REQUESTS, LiveRun
from ._settings import BadSettings, LiveSettings, MissingSettings

CASSETTES = "cassettes"  # the one test that is not a server-contract check
OPTIONAL = "M2M_LIVE_OPTIONAL"


@dataclass
class Live:
    """What one live run is asked to do, and what it found (in config.stash)."""

    mode: Mode
    cassettes: Path
    outputs: Outputs = field(default_factory=Outputs)
    settings: LiveSettings | None = None
    skip: str | None = None  # why the live tests are skipped (secrets absent, optional run)
    ignored_record_mode: str | None = None
    command: bool = False  # `m2m-contract live`: print the verdict ourselves
    verbose: bool = False
    results: list[CaseResult] = field(default_factory=list)
    run: LiveRun | None = None
    model: dict[str, Any] | None = None
    error: str | None = None  # what ended the run before any check (the tenant unreachable)


STATE = pytest.StashKey[Live]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("m2m-contract-live", "m2m-contract live smoke test")
    group.addoption(
        "--live",
        dest="m2m_live",
        action="store_true",
        help=f"talk to the tenant of the M2M_LIVE_* variables ({TOKEN_REQUESTS} token requests "
        "in all); add --record-mode=rewrite to record scrubbed cassettes. Without it, the live "
        "suite replays its cassettes offline",
    )
    group.addoption(
        "--m2m-live-optional",
        action="store_true",
        help=f"with --live: skip (saying why) instead of failing when the M2M_LIVE_* secrets "
        f"are absent, e.g. in pull requests from forks (or set {OPTIONAL}=1)",
    )
    group.addoption(
        "--m2m-live-cassettes",
        metavar="DIR",
        help="the live suite's cassette directory (default: cassettes/ in the rootdir)",
    )
    for fmt, what in (("json", "JSON"), ("markdown", "Markdown (GitHub)"), ("html", "HTML")):
        group.addoption(
            f"--m2m-live-report-{fmt}", metavar="PATH", help=f"write the {what} live report here"
        )
    group.addoption("--m2m-live-junitxml", metavar="PATH", help="write a JUnit XML live report")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "live: the sandbox smoke test (talks to the tenant with --live, replays cassettes "
        "otherwise)",
    )
    if STATE not in config.stash:
        config.stash[STATE] = _from_options(config)
    config.pluginmanager.register(_Collector(config.stash[STATE]), "m2m-contract-live-collector")


def _from_options(config: pytest.Config) -> Live:
    opt = config.option
    live = bool(opt.m2m_live)
    record_mode = config.getoption("record_mode", default=None)  # pytest-recording's option
    recording = record_mode not in (None, "none")
    if live and getattr(opt, "numprocesses", None) and not hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "--live talks to the real tenant: run it without -n (pytest-xdist), so that one "
            "token serves every check (Auth0 counts and rate-limits token requests)"
        )
    mode: Mode = ("record" if recording else "live") if live else "replay"
    base = config.invocation_params.dir
    cassettes = base / opt.m2m_live_cassettes if opt.m2m_live_cassettes else (
        config.rootpath / CASSETTES
    )
    try:
        outputs = Outputs(*(
            checked_path(flag, value, base) if value else None
            for flag, value in (
                ("--m2m-live-report-json", opt.m2m_live_report_json),
                ("--m2m-live-junitxml", opt.m2m_live_junitxml),
                ("--m2m-live-report-markdown", opt.m2m_live_report_markdown),
                ("--m2m-live-report-html", opt.m2m_live_report_html),
            )
        ))
    except ReportPathError as exc:
        raise pytest.UsageError(str(exc)) from None
    state = Live(mode, cassettes, outputs,
                 ignored_record_mode=record_mode if recording and not live else None)
    if mode != "replay":
        optional = bool(opt.m2m_live_optional) or os.environ.get(OPTIONAL, "") not in ("", "0")
        settings(state, optional=optional)
    return state


def settings(state: Live, *, optional: bool) -> None:
    """Read the live settings into `state`: missing ones fail the run (or skip it, when the
    run is optional); unusable ones always fail it. Raises pytest.UsageError."""
    try:
        state.settings = LiveSettings.from_env(os.environ)
    except MissingSettings as exc:
        if not optional:
            raise pytest.UsageError(
                f"--live: {exc}; where the secrets may be absent (pull requests from forks), "
                f"add --m2m-live-optional (or {OPTIONAL}=1) to skip instead"
            ) from None
        state.skip = f"--live skipped: {exc} ({OPTIONAL} / --m2m-live-optional)"
    except BadSettings as exc:
        raise pytest.UsageError(f"--live: {exc}") from None


def cassette_dir(config: pytest.Config) -> Path:
    """The live suite's cassette directory for this run."""
    return config.stash[STATE].cassettes


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "m2m_live_case" in metafunc.fixturenames:
        ids = [c.id for c in checks_of("live")] + [CASSETTES]
        metafunc.parametrize("m2m_live_case", ids, ids=ids)


@pytest.fixture(scope="session")
def m2m_live(request: pytest.FixtureRequest) -> LiveRun:
    """The live run: the tenant's answers, live, recorded or replayed, each fetched once."""
    state = request.config.stash[STATE]
    if state.skip is not None:
        pytest.skip(state.skip)
    run = LiveRun(state.mode, state.cassettes, state.settings)
    state.run = run
    if state.mode != "replay":
        outcome = run.token()  # the first exchange: a tenant out of reach stops the run here
        if outcome.answer is None:
            state.error = f"the tenant cannot be reached: {outcome.error}"
            pytest.exit(f"--live: {state.error}", returncode=pytest.ExitCode.TESTS_FAILED)
    return run


def judge(run: LiveRun, check_id: str) -> CaseResult:
    """Run one check over the run's exchanges; any problem becomes a verdict, never a leak."""
    check = CATALOGUE[check_id]
    try:
        result = check.judge(run)
    except CassetteMissing as exc:
        status, message = "skipped", str(exc)
    except (ReplayError, BadSettings, BadRecording) as exc:
        status, message = "failed", str(exc)
    except Exception as exc:
        status, message = "failed", f"the check could not run ({type(exc).__name__}: {exc})"
    else:
        status, message = check.status(result), result.message
    return CaseResult(check.id, "live", status, check.severity, check.clause,  # type: ignore[arg-type]
                      run.safe(message), title=check.title)


def check_live(run: LiveRun, case: str, config: pytest.Config) -> None:
    """Judge one check (or the cassettes' hygiene) and turn the verdict into a pytest outcome
    (a warning passes)."""
    state = config.stash[STATE]
    result = _cassettes(state) if case == CASSETTES else judge(run, case)
    state.results.append(result)
    detail = f"{result.id} ({result.severity}, {result.clause}): {result.message}"
    if result.status == "failed":
        pytest.fail(detail, pytrace=False)
    if result.status == "skipped":
        pytest.skip(result.message)


def _cassettes(state: Live) -> CaseResult:
    """After the checks, so that a recording run checks what it has just written."""
    if not state.cassettes.is_dir():
        status, message = "skipped", f"no cassette directory {state.cassettes}"
    else:
        findings = check_cassettes(state.cassettes)
        status = "failed" if findings else "passed"
        message = "; ".join(str(f) for f in findings[:5]) + (
            f" (and {len(findings) - 5} more)" if len(findings) > 5 else ""
        ) if findings else f"no secret, credential or signed token in {state.cassettes}"
    return CaseResult(CASSETTES + "-clean", "live", status, "MUST",  # type: ignore[arg-type]
                      "partner prerequisites", message,
                      title="the recorded cassettes hold no secret, credential or signed token")


class _Collector:
    def __init__(self, state: Live) -> None:
        self.state = state

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if not state.results or hasattr(session.config, "workerinput"):
            return
        run = state.run
        tenant = run.token_url if run is not None and run.token_url else "the tenant"
        state.model = build(
            state.results,
            [ScenarioRun("live", _what(state, tenant), state.mode, 0.0)],
            suite="live",
            client=tenant,
            profile="server contract",
            strict=False,
        )
        recorded = min(run.recorded_at.values(), default=None) if run is not None else None
        state.model.update(
            mode=state.mode,
            token_url=run.token_url if run is not None else None,
            recorded_at=recorded if state.mode == "replay" else None,
            cassettes=str(state.cassettes),
        )
        state.outputs.write(state.model)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        state = self.state
        if state.model is None or state.command:
            return
        terminalreporter.section("m2m-contract live")
        terminalreporter.write_line(render_terminal(state.model, verbose=state.verbose))


def _what(state: Live, tenant: str) -> str:
    """What the run did, in a line: live, recorded, or replayed (from when)."""
    run = state.run
    if state.mode == "replay":
        recorded = min(run.recorded_at.values(), default="at an unknown time") if run else "?"
        line = (
            f"replayed from {state.cassettes} (recorded {recorded} against {tenant}) with the "
            "network blocked; the signature verdict is the one reached at recording time, and "
            "expiry is not compared with the current time"
        )
        if state.ignored_record_mode:
            line += f"; --record-mode={state.ignored_record_mode} is ignored without --live"
        return line
    made = run.token_requests if run is not None else 0
    saved = f"; recorded to {state.cassettes}" if state.mode == "record" else ""
    return f"live against {tenant}: {made} of {TOKEN_REQUESTS} token requests{saved}"
