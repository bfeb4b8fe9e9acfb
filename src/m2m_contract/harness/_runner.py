"""Client runners (any command, or a Python function in a process of its own) and running
one scenario end to end.

Every client runs as a process under `run_bounded`: its own session, its whole tree killed at
the scenario's limit or when it exits, its output read with a cap. A `--client-py` function
is run by `_pyclient.py` in a child Python, so output from every thread and file descriptor
is the client's, as it is for a command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import json
import os
import secrets
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .._secrets import Finding
from ..contract import (
    EXPIRY_TOLERANCE,
    STALL_BUDGET,
    Observation,
    Outcome,
    ProtocolSettings,
    known_values,
    observe,
)
from ..emulator import Emulator, EmulatorServer, Tenant
from ._process import OutputHook, ProcessResult, run_bounded
from ._pyclient import check_importable, pyclient_argv
from ._scenarios import Scenario, Stage, other_origin_faults

DEFAULT_TIMEOUT = 30.0
CLIENT_ID = "m2m-contract-client"
OUTPUT_CAP = 1 << 19  # bytes kept per stream: 1 MiB of output in all, head and tail
_ABORT_POLL = 0.05  # seconds between looks at the abort event while waiting
# A client holds its boot slot until its first request, or this long: one that hangs before
# any request (or takes its time) must not keep the other scenarios from starting.
BOOT_GRACE = 2.0


class SetupError(Exception):
    """The client cannot be run at all (not found, not importable): a usage error, not a failure."""


class ScenarioAborted(Exception):
    """The whole run was aborted (Ctrl-C) before this scenario finished: nothing to judge."""


class ClientRunner(Protocol):
    @property
    def label(self) -> str: ...

    def run(
        self,
        settings: ProtocolSettings,
        timeout: float,
        stop: threading.Event | None = None,
        on_output: OutputHook | None = None,
    ) -> Outcome: ...


@dataclass(frozen=True)
class CommandRunner:
    """A partner's program, started once per scenario with the M2M_* environment.

    `env` adds variables of its own (the tests' mutants use it to pick a defect).
    """

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None

    @classmethod
    def from_string(cls, command: str) -> CommandRunner:
        try:
            argv = tuple(shlex.split(command))
        except ValueError as exc:
            raise SetupError(f"--client-cmd cannot be parsed: {exc}") from None
        if not argv:
            raise SetupError("--client-cmd is empty")
        if shutil.which(argv[0]) is None:
            raise SetupError(
                f"--client-cmd: {argv[0]!r} is not an executable on PATH or a path to one"
            )
        return cls(argv)

    @property
    def label(self) -> str:
        return self.name or shlex.join(self.argv)

    def run(
        self,
        settings: ProtocolSettings,
        timeout: float,
        stop: threading.Event | None = None,
        on_output: OutputHook | None = None,
    ) -> Outcome:
        env = {**os.environ, **self.env, **settings.to_env()}
        result = run_bounded(
            self.argv, env=env, timeout=timeout, cap=OUTPUT_CAP, stop=stop, on_output=on_output
        )
        return _outcome(result, timeout)


def python_client(target: str, *, env: Mapping[str, str] | None = None) -> CommandRunner:
    """A Python function `module:function` (called with the environment, returning the exit
    status) as a client: checked importable now, run in a child Python per scenario."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise SetupError(f"--client-py must be module:function, not {target!r}")
    problem = check_importable(target, env={**os.environ, **(env or {})})
    if problem is not None:
        raise SetupError(f"--client-py: {problem}")
    return CommandRunner(tuple(pyclient_argv(target)), dict(env or {}), name=target)


def _outcome(result: ProcessResult, limit: float) -> Outcome:
    return Outcome(
        result.exit_code,
        timed_out=result.timed_out,
        stdout=result.stdout.text(),
        stderr=result.stderr.text(),
        error=result.error,
        limit=limit,
        dropped=result.stdout.dropped + result.stderr.dropped,
        elapsed=result.elapsed,
    )


def run_scenario(
    scenario: Scenario,
    runner: ClientRunner,
    *,
    tls: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    stall_budget: float = STALL_BUDGET,
    boot: BootSlots | None = None,
    rank: int = 0,
    abort: threading.Event | None = None,
) -> Observation:
    """Serve a fresh emulator set up for `scenario`, run the client once, observe.

    The client is given `timeout` seconds; in token-endpoint-stall, `stall_budget` seconds
    from its first token request on (tests shorten it; verify never does). `boot`, when
    given, is held from the client's start to its first request: scenarios run side by side
    start their clients a few at a time, so that none waits on the CPU to begin its clock,
    in order of `rank`.
    `abort` set (Ctrl-C) kills the client at once, or keeps it from starting: then
    ScenarioAborted is raised, not an observation of a run cut short.
    """
    secret = secrets.token_urlsafe(24)
    emulator = Emulator(scenario.build_tenant(CLIENT_ID, secret, EXPIRY_TOLERANCE))
    other = Emulator(Tenant()) if scenario.other_origin else None
    with contextlib.ExitStack() as stack:
        # A random admin token the client never sees: its admin requests are refused, and
        # journaled, like any request to a path of no route.
        server = stack.enter_context(
            EmulatorServer(
                emulator, tls=tls or scenario.untrusted_tls, admin_token=secrets.token_urlsafe(32)
            )
        )
        ca_bundle = str(server.ca_bundle) if server.ca_bundle else None
        if scenario.untrusted_tls:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="m2m-contract-ca-"))
            ca_bundle = str(_unrelated_ca(Path(folder)))
        stage = Stage(emulator)
        if other is not None:
            for fault in other_origin_faults():
                other.add_fault(fault)
            foreign = EmulatorServer(other, admin_token=secrets.token_urlsafe(32))
            stage = Stage(emulator, stack.enter_context(foreign).base_url)
        for fault in scenario.faults(stage):
            emulator.add_fault(fault)
        settings = ProtocolSettings(
            token_url=emulator.token_url,
            client_id=CLIENT_ID,
            client_secret=scenario.secret_override or secret,
            scope=scenario.scope,
            audience=scenario.audience,
            api_url=emulator.api_url,
            api_calls=scenario.api_calls,
            api_interval_ms=scenario.api_interval_ms,
            api_concurrency=scenario.api_concurrency,
            ca_bundle=ca_bundle,
        )
        scan = _LeakScan(settings, emulator)
        stack.enter_context(_booting(emulator, boot, rank, abort))
        if scenario.name == "token-endpoint-stall":
            with _budget_from_first_token_request(emulator, stall_budget, abort) as stop:
                outcome = runner.run(settings, timeout + stall_budget, stop, scan.feed)
            outcome = dataclasses.replace(outcome, limit=stall_budget)
        else:
            outcome = runner.run(settings, timeout, stop=abort, on_output=scan.feed)
        if abort is not None and abort.is_set():
            raise ScenarioAborted(scenario.name)
        outcome = dataclasses.replace(outcome, leaks=scan.leaks())
    journals = [emulator.journal] if other is None else [emulator.journal, other.journal]
    return observe(
        scenario.name,
        settings,
        emulator.journal.snapshot(),
        outcome,
        elsewhere=other.journal.snapshot() if other is not None else (),
        dropped=sum(j.dropped for j in journals),
        unjournaled=sum(j.unjournaled for j in journals),
    )


_LOOK_BACK = 256  # exchanges: more than the requests a client can have in flight at once


class _LeakScan:
    """Scans everything the client prints, as it prints it (kept or not), for its secret and
    for every token issued so far: a token is journaled before its answer is sent, so it is
    known here before the client could print it."""

    def __init__(self, settings: ProtocolSettings, emulator: Emulator) -> None:
        self.known = known_values(settings)
        self.emulator = emulator
        self.scanners = {"stdout": self.known.scanner(), "stderr": self.known.scanner()}
        self._appended = 0  # the journal's count when last read (it never goes down)
        self._seen: set[int] = set()  # the sequence numbers read
        self._last = 0

    def feed(self, stream: str, chunk: bytes) -> None:
        journal = self.emulator.journal
        if journal.appended != self._appended:
            self._appended = journal.appended
            # Numbered by one thread, appended after a later one by another: look back a little.
            for ex in journal.page(since=max(0, self._last - _LOOK_BACK)):
                if ex.seq in self._seen:
                    continue
                self._seen.add(ex.seq)
                self._last = max(self._last, ex.seq)
                token = _access_token(ex.response.body) if ex.kind == "token" else None
                if token:
                    self.known.add("an access token", token, kind="token")
        self.scanners[stream].feed(chunk)

    def leaks(self) -> tuple[tuple[str, Finding], ...]:
        self.feed("stdout", b"")  # tokens issued after the last output, for the final pass
        return tuple((name, f) for name, s in self.scanners.items() for f in s.findings())


def _access_token(body: bytes) -> str | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    token = value.get("access_token") if isinstance(value, dict) else None
    return token if isinstance(token, str) and token else None


class BootSlots:
    """Start-up slots for clients run side by side, given in order of rank (lowest first),
    not to whichever thread asks first: the scenarios that wait longest on the clock are
    ranked first, so they start first and the short ones run in their waits."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiting: list[int] = []
        self._changed = threading.Condition()

    def acquire(self, rank: int, abort: threading.Event | None = None) -> bool:
        """Wait for a slot until every lower rank has one; False once `abort` is set."""
        with self._changed:
            heapq.heappush(self._waiting, rank)
            try:
                while not (self._free > 0 and self._waiting[0] == rank):
                    if abort is not None and abort.is_set():
                        return False
                    self._changed.wait(_ABORT_POLL)
                if abort is not None and abort.is_set():
                    return False
                self._free -= 1
                return True
            finally:
                self._waiting.remove(rank)
                heapq.heapify(self._waiting)
                self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify_all()


@contextlib.contextmanager
def _booting(
    emulator: Emulator,
    boot: BootSlots | None,
    rank: int = 0,
    abort: threading.Event | None = None,
) -> Iterator[None]:
    """Hold a slot of `boot` until the emulator sees the client's first exchange (or the
    run ends, or BOOT_GRACE passes), so that clients starting side by side do not share the
    CPU while they start.
    Waiting for a slot ends with ScenarioAborted once `abort` is set."""
    if boot is None:
        if abort is not None and abort.is_set():
            raise ScenarioAborted("aborted before it started")
        yield
        return
    if not boot.acquire(rank, abort):
        raise ScenarioAborted("aborted before it started")
    done = threading.Event()
    released = threading.Lock()

    def release() -> None:
        if released.acquire(blocking=False):
            boot.release()

    def watch() -> None:
        until = time.monotonic() + BOOT_GRACE
        while not done.is_set() and not len(emulator.journal) and time.monotonic() < until:
            done.wait(0.01)
        release()

    watcher = threading.Thread(target=watch, name="m2m-boot", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        release()


@contextlib.contextmanager
def _budget_from_first_token_request(
    emulator: Emulator, budget: float, abort: threading.Event | None = None
) -> Iterator[threading.Event]:
    """An event set `budget` seconds after the emulator's first token request arrived, or
    as soon as `abort` is set."""
    stop, done = threading.Event(), threading.Event()

    def aborted() -> bool:
        return abort is not None and abort.is_set()

    def watch() -> None:
        while not done.is_set() and not aborted() and not emulator.journal.token_requests():
            done.wait(0.02)
        until = time.monotonic() + budget
        while not done.is_set() and not aborted() and (left := until - time.monotonic()) > 0:
            done.wait(min(_ABORT_POLL, left))
        if not done.is_set():
            stop.set()

    watcher = threading.Thread(target=watch, name="m2m-stall-budget", daemon=True)
    watcher.start()
    try:
        yield stop
    finally:
        done.set()
        watcher.join()


def _unrelated_ca(folder: Path) -> Path:
    """The bundle of a CA that signed nothing the emulator serves (untrusted-certificate)."""
    import trustme

    path = folder / "unrelated-ca.pem"
    trustme.CA(organization_name="m2m-contract unrelated CA").cert_pem.write_to_path(str(path))
    return path
