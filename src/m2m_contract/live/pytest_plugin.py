"""The live smoke test's pytest plugin (pytest11 entry point `m2m_contract_live`).

`--live` talks to the tenant named by the M2M_LIVE_* variables; with pytest-recording's
`--record-mode` (any mode but none) it also records scrubbed cassettes. Without `--live`,
the suite replays its cassettes with the network blocked, and never asks the network.
Verdicts are reported in a terminal section and, on request, a JSON file: a SHOULD that
does not hold is a warning there, never a pytest warning (the suite runs warnings-as-errors).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from ..contract import Status
from ._cassettes import CassetteMissing, Mode, ReplayError
from ._checks import LIVE_CHECKS
from ._session import LiveRun
from ._settings import BadSettings, LiveSettings, MissingSettings

_PROPERTY = "m2m_live_result"
_RUN_PROPERTY = "m2m_live_run"
_MARK = {"passed": "ok", "failed": "FAIL", "warning": "warn", "skipped": "-"}


@dataclass(frozen=True)
class LiveResult:
    """One check's verdict, as reported (the message is redacted)."""

    id: str
    status: Status
    severity: str
    clause: str
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class _State:
    mode: Mode
    cassettes: Path
    report_json: Path | None
    ignored_record_mode: str | None = None
    results: list[LiveResult] = field(default_factory=list)
    run_info: dict[str, str] = field(default_factory=dict)
    run: LiveRun | None = None


_STATE = pytest.StashKey[_State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("m2m-contract-live", "m2m-contract live smoke test (suites/live)")
    group.addoption(
        "--live",
        dest="m2m_live",
        action="store_true",
        help="talk to the tenant of the M2M_LIVE_* variables (at most 5 token requests); "
        "add --record-mode=rewrite to record scrubbed cassettes. Without it, the live suite "
        "replays its cassettes offline",
    )
    group.addoption(
        "--m2m-live-cassettes",
        dest="m2m_live_cassettes",
        metavar="DIR",
        help="the live suite's cassette directory (default: cassettes/ in the rootdir)",
    )
    group.addoption(
        "--m2m-live-report-json",
        dest="m2m_live_report_json",
        metavar="PATH",
        help="write the live verdicts (warnings included) as JSON here",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "live: the sandbox smoke test (talks to the tenant with --live, replays cassettes "
        "otherwise)",
    )
    live = bool(config.getoption("m2m_live"))
    record_mode = config.getoption("record_mode", default=None)  # pytest-recording's option
    recording = record_mode not in (None, "none")
    workers = getattr(config.option, "numprocesses", None)
    if live and workers and not hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "--live talks to the real tenant: run it without -n (pytest-xdist), so that one "
            "token serves every check (Auth0 counts and rate-limits token requests)"
        )
    mode: Mode = ("record" if recording else "live") if live else "replay"
    where = config.getoption("m2m_live_cassettes")
    invoked = config.invocation_params.dir
    cassettes = invoked / where if where else config.rootpath / "cassettes"
    report = config.getoption("m2m_live_report_json")
    state = _State(
        mode,
        cassettes,
        invoked / report if report else None,
        record_mode if recording and not live else None,
    )
    config.stash[_STATE] = state
    config.pluginmanager.register(_Reporter(state), "m2m-contract-live-reporter")


def cassette_dir(config: pytest.Config) -> Path:
    """The live suite's cassette directory for this run."""
    return config.stash[_STATE].cassettes


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "m2m_live_check" in metafunc.fixturenames:
        metafunc.parametrize("m2m_live_check", list(LIVE_CHECKS), ids=list(LIVE_CHECKS))


@pytest.fixture(scope="session")
def m2m_live(request: pytest.FixtureRequest) -> LiveRun:
    """The live run: the tenant's answers, live, recorded or replayed, each fetched once."""
    state = request.config.stash[_STATE]
    if state.mode == "replay":
        run = LiveRun("replay", state.cassettes)
    else:
        try:
            settings = LiveSettings.from_env(os.environ)
        except MissingSettings as exc:
            pytest.skip(f"--live: {exc}")
        except BadSettings as exc:
            pytest.fail(f"--live: {exc}", pytrace=False)
        run = LiveRun(state.mode, state.cassettes, settings)
    state.run = run
    return run


def judge(run: LiveRun, check_id: str) -> LiveResult:
    """Run one check over the run's exchanges; any problem becomes a verdict, never a leak."""
    check = LIVE_CHECKS[check_id]
    status: Status
    try:
        result = check.judge(run)
    except CassetteMissing as exc:
        status, message = "skipped", str(exc)
    except (ReplayError, BadSettings) as exc:
        status, message = "failed", str(exc)
    except Exception as exc:
        status, message = "failed", f"the check could not run ({type(exc).__name__}: {exc})"
    else:
        status, message = check.status(result), result.message
    return LiveResult(check.id, status, check.severity, check.clause, run.safe(message))


def check_live(run: LiveRun, check_id: str, node: pytest.Item) -> None:
    """Judge one check and turn the verdict into a pytest outcome (warnings pass)."""
    result = judge(run, check_id)
    recorded = min(run.recorded_at.values(), default="")
    info = {"token_url": run.token_url or "", "recorded_at": recorded}
    node.user_properties.append((_PROPERTY, json.dumps(result.to_json())))
    node.user_properties.append((_RUN_PROPERTY, json.dumps(info)))
    detail = f"{result.id} ({result.severity}, {result.clause}): {result.message}"
    if result.status == "failed":
        pytest.fail(detail, pytrace=False)
    if result.status == "skipped":
        pytest.skip(result.message)


class _Reporter:
    def __init__(self, state: _State) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == _PROPERTY and isinstance(value, str):
                self.state.results.append(LiveResult(**json.loads(value)))
            elif name == _RUN_PROPERTY and isinstance(value, str):
                info = {k: v for k, v in json.loads(value).items() if v}
                self.state.run_info.update(info)

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, config: pytest.Config
    ) -> None:
        state = self.state
        if not state.results or hasattr(config, "workerinput"):
            return
        order = {check_id: n for n, check_id in enumerate(LIVE_CHECKS)}
        results = sorted(state.results, key=lambda r: order.get(r.id, len(order)))
        terminalreporter.section("m2m-contract live")
        for line in summary_lines(state, results):
            terminalreporter.write_line(line)
        if state.report_json is not None:
            write_report(state.report_json, state, results)
            terminalreporter.write_line(f"JSON report written to {state.report_json}")


def summary_lines(state: _State, results: list[LiveResult]) -> list[str]:
    tenant = state.run_info.get("token_url", "the tenant")
    if state.mode == "replay":
        recorded = state.run_info.get("recorded_at", "at an unknown time")
        lines = [
            f"replayed from {state.cassettes} (recorded {recorded} against {tenant}) with the "
            "network blocked; the signature verdict is the one reached at recording time (the "
            "recorded token carries no signature), and expiry is not compared with the current "
            "time"
        ]
        if state.ignored_record_mode:
            lines.append(f"--record-mode={state.ignored_record_mode} is ignored without --live")
    else:
        requests = state.run.token_requests if state.run is not None else 0
        saved = f"; recorded to {state.cassettes}" if state.mode == "record" else ""
        lines = [f"live against {tenant}: {requests} token request(s){saved}"]
    for r in results:
        lines.append(f"  {_MARK[r.status]:<4} {r.id} ({r.severity}, {r.clause}): {r.message}")
    counts = _count(results)
    lines.append(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['warnings']} warnings, "
        f"{counts['skipped']} skipped"
    )
    return lines


def _count(results: list[LiveResult]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "warnings": 0, "skipped": 0}
    for r in results:
        counts["warnings" if r.status == "warning" else r.status] += 1
    return counts


def write_report(path: Path, state: _State, results: list[LiveResult]) -> None:
    payload = {
        "mode": state.mode,
        "token_url": state.run_info.get("token_url"),
        "recorded_at": state.run_info.get("recorded_at") if state.mode == "replay" else None,
        "cassettes": str(state.cassettes),
        "summary": _count(results),
        "checks": [r.to_json() for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
