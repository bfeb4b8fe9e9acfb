"""`m2m-contract verify`: put a client through the conformance scenarios; a CI-ready verdict.

Every option is checked here first, in the names the user typed; then the packaged suite
(`m2m_contract.suite`) runs under pytest, isolated from the user's pytest configuration,
PYTEST_ADDOPTS and other installed plugins, with pytest's own terminal output off: the verdict
printed is ours.

Exit status: 0 no failed MUST check (warnings allowed unless --strict), 1 failures,
2 usage or setup error.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..contract import PROFILES

if TYPE_CHECKING:
    from ..pytest_plugin import Conformance

SUITE_DIR = Path(__file__).parents[1] / "suite"
ISOLATION = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "verify",
        help="put a client through the conformance scenarios",
        description="Run the conformance scenarios against a client (the reference client by "
        "default) and print a verdict. Give a command after '--' (or --client-cmd) to test "
        "a program in any language, or --client-py module:function for a Python callable.",
        epilog="exit status: 0 no failed MUST check, 1 failures, 2 usage or setup error",
    )
    parser.add_argument("--client-cmd", metavar="CMD", help="the client command, as one string")
    parser.add_argument(
        "--client-py", metavar="MODULE:FUNCTION", help="a Python function(env) -> exit status"
    )
    parser.add_argument(
        "--tls", action="store_true", help="serve the emulator over HTTPS (throwaway CA in "
        "M2M_CA_BUNDLE)"
    )
    parser.add_argument(
        "--scenario", action="append", default=[], metavar="NAME",
        help="run only this scenario (repeatable)",
    )
    parser.add_argument(
        "--profile", choices=PROFILES, default="loyaltyone",
        help="contract profile (default %(default)s)",
    )
    parser.add_argument("--strict", action="store_true", help="warnings fail the run")
    parser.add_argument(
        "--baseline", metavar="FILE", help="expected failures, one scenario:check-id per line"
    )
    parser.add_argument("--report-json", metavar="PATH", help="write the JSON report here")
    parser.add_argument("--junitxml", metavar="PATH", help="write a JUnit XML report here")
    parser.add_argument(
        "--report-markdown", metavar="PATH",
        help="write a GitHub-flavoured Markdown report here (for $GITHUB_STEP_SUMMARY)",
    )
    parser.add_argument(
        "--report-html", metavar="PATH", help="write a self-contained HTML report here"
    )
    parser.add_argument(
        "--scenario-timeout", type=float, default=30.0, metavar="SECONDS",
        help="kill the client after this long (default %(default)s; token-endpoint-stall "
        "has its own 18 s budget)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="show the evidence of warnings too, and what each skipped check had to judge",
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="after '--': the client command and its arguments"
    )
    parser.set_defaults(run=run)


class _Usage(Exception):
    """A usage or setup error: one line, exit status 2."""


def _conformance(args: argparse.Namespace) -> Conformance:
    """The run asked for, every option checked (raises _Usage naming the option typed)."""
    from ..harness import (
        SCENARIOS,
        BaselineError,
        CommandRunner,
        Options,
        SetupError,
        load_baseline,
        python_client,
    )
    from ..pytest_plugin import Conformance
    from ..report import Outputs, ReportPathError, checked_path

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if command and args.client_cmd:
        raise _Usage("give the client command either after '--' or with --client-cmd, not both")
    client_cmd = shlex.join(command) if command else args.client_cmd
    if client_cmd is not None and args.client_py is not None:
        raise _Usage("use a client command or --client-py, not both")
    if not math.isfinite(args.scenario_timeout) or args.scenario_timeout <= 0:
        raise _Usage(f"--scenario-timeout must be a positive number of seconds, not "
                     f"{args.scenario_timeout:g}")
    unknown = [s for s in args.scenario if s not in SCENARIOS]
    if unknown:
        raise _Usage(f"--scenario: unknown scenario(s) {', '.join(unknown)}; known: "
                     f"{', '.join(SCENARIOS)}")
    try:
        baseline = load_baseline(args.baseline) if args.baseline else frozenset()
        outputs = Outputs(*(
            checked_path(flag, value) if value else None
            for flag, value in (
                ("--report-json", args.report_json),
                ("--junitxml", args.junitxml),
                ("--report-markdown", args.report_markdown),
                ("--report-html", args.report_html),
            )
        ))
        if client_cmd is not None:
            runner = CommandRunner.from_string(client_cmd)
        else:
            runner = python_client(args.client_py or DEFAULT_CLIENT)
    except (BaselineError, ReportPathError) as exc:
        raise _Usage(str(exc)) from None
    except SetupError as exc:
        raise _Usage(str(exc).replace("--client-cmd", "the client command")
                     if command else str(exc)) from None
    label = client_cmd or args.client_py or "the reference client (m2m_contract.client)"
    return Conformance(
        Options(args.profile, args.strict, args.tls, args.scenario_timeout, baseline),
        list(dict.fromkeys(args.scenario)) or list(SCENARIOS),
        label,
        outputs,
        lambda: runner,
        verify=True,
        verbose=args.verbose,
        progress=_progress() if sys.stderr.isatty() else None,
    )


DEFAULT_CLIENT = "m2m_contract.client:run_protocol"


def _progress() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        sys.stderr.write(f"\rm2m-contract verify: {done}/{total} scenarios done{end}")
        sys.stderr.flush()

    return show


@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """No PYTEST_ADDOPTS, PYTEST_PLUGINS or autoloaded plugins while the suite runs."""
    saved = {name: os.environ.pop(name) for name in ISOLATION if name in os.environ}
    autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        os.environ.update(saved)
        if autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = autoload


def run(args: argparse.Namespace) -> int:
    import pytest

    from ..pytest_plugin import Preset
    from ..report import render_terminal
    from ._output import emit

    try:
        conformance = _conformance(args)
    except _Usage as exc:
        print(f"m2m-contract verify: {exc}", file=sys.stderr)
        return 2
    argv = [
        str(SUITE_DIR / "test_conformance.py"),
        "-c", str(SUITE_DIR / "pytest.ini"),
        "--rootdir", str(SUITE_DIR),
        "--confcutdir", str(SUITE_DIR),  # no conftest.py of the user's (or ours) above it
        "--import-mode=importlib",
        "-p", "no:terminal",
        "-p", "no:cacheprovider",
        "-p", "m2m_contract.pytest_plugin",
        "-W", "ignore",  # a partner's warnings are not the verdict
    ]
    with _isolated():
        code = pytest.main(argv, plugins=[Preset(conformance)])
    model = conformance.model
    if model is None:  # pytest stopped before any check ran
        why = conformance.errors[0].strip().splitlines()[-1] if conformance.errors else (
            f"pytest exit status {int(code)}"
        )
        print(f"m2m-contract verify: the suite did not run: {why}", file=sys.stderr)
        return 2
    emit(render_terminal(model, verbose=conformance.verbose))
    for path in conformance.outputs.paths():
        print(f"report written to {path}", file=sys.stderr)
    return 1 if model["verdict"] == "failed" else 0
