"""Client adapters (command, Python callable) and running one scenario end to end."""

from __future__ import annotations

import importlib
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..contract import Observation, Outcome, Settings, observe
from ..emulator import Emulator, EmulatorServer
from ._capture import ThreadCapture
from ._scenarios import Scenario

DEFAULT_TIMEOUT = 30.0
CLIENT_ID = "m2m-contract-client"

ProtocolFunction = Callable[[Mapping[str, str]], "int | None"]


class SetupError(Exception):
    """The client cannot be run at all (not found, not importable): a usage error, not a failure."""


class ClientRunner(Protocol):
    @property
    def label(self) -> str: ...

    def run(self, settings: Settings, timeout: float, capture: ThreadCapture) -> Outcome: ...


@dataclass(frozen=True)
class CommandRunner:
    """A partner's program, started once per scenario with the M2M_* environment."""

    argv: tuple[str, ...]

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
        return shlex.join(self.argv)

    def run(self, settings: Settings, timeout: float, capture: ThreadCapture) -> Outcome:
        env = {**os.environ, **settings.env()}
        try:
            process = subprocess.Popen(
                self.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return Outcome(None, error=f"cannot start {self.argv[0]!r}: {exc.strerror}")
        try:
            output, _ = process.communicate(timeout=timeout)
            return Outcome(process.returncode, output=output.decode("utf-8", "replace"))
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            return Outcome(None, timed_out=True, output=output.decode("utf-8", "replace"))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


@dataclass(frozen=True)
class CallableRunner:
    """A Python function `fn(env) -> exit status`, run in-process with the same settings."""

    target: str
    function: ProtocolFunction

    @classmethod
    def from_string(cls, target: str) -> CallableRunner:
        module_name, sep, attr = target.partition(":")
        if not sep or not module_name or not attr:
            raise SetupError(f"--client-py must be module:function, not {target!r}")
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` would, so local modules import
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise SetupError(
                f"--client-py: cannot import {module_name!r} ({type(exc).__name__}: {exc})"
            ) from None
        function = getattr(module, attr, None)
        if not callable(function):
            raise SetupError(f"--client-py: {module_name!r} has no callable {attr!r}")
        return cls(target, function)

    @property
    def label(self) -> str:
        return self.target

    def run(self, settings: Settings, timeout: float, capture: ThreadCapture) -> Outcome:
        result: dict[str, object] = {}

        def work() -> None:
            with capture.capture() as buffer:
                try:
                    code = self.function(settings.env())
                    result["code"] = 0 if code is None else int(code)
                except SystemExit as exc:
                    status = exc.code  # sys.exit() and sys.exit(None) mean success
                    result["code"] = _exit_status(status)
                except Exception as exc:
                    buffer.write(f"{type(exc).__name__}: {exc}\n")
                    result["code"] = 1
                result["output"] = buffer.getvalue()

        thread = threading.Thread(target=work, name=f"m2m-client-{self.target}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            # A thread cannot be killed; it is abandoned (daemon) and the scenario fails.
            return Outcome(None, timed_out=True)
        code = result.get("code")
        return Outcome(code if isinstance(code, int) else 1, output=str(result.get("output", "")))


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def run_scenario(
    scenario: Scenario,
    runner: ClientRunner,
    *,
    capture: ThreadCapture,
    tls: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> Observation:
    """Serve a fresh emulator set up for `scenario`, run the client once, observe."""
    secret = secrets.token_urlsafe(24)
    emulator = Emulator(scenario.build_tenant(CLIENT_ID, secret))
    with EmulatorServer(emulator, tls=tls) as server:
        for fault in scenario.faults(emulator):
            emulator.add_fault(fault)
        settings = Settings(
            token_url=emulator.token_url,
            client_id=CLIENT_ID,
            client_secret=scenario.secret_override or secret,
            scope=scenario.scope,
            audience=scenario.audience,
            api_url=emulator.api_url,
            api_calls=scenario.api_calls,
            api_interval_ms=scenario.api_interval_ms,
            ca_bundle=str(server.ca_bundle) if server.ca_bundle else None,
        )
        outcome = runner.run(settings, timeout, capture)
        exchanges = emulator.journal.snapshot()
    return observe(scenario.name, settings, exchanges, outcome)
