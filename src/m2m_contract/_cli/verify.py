"""`m2m-contract verify`: put a client through the conformance scenarios; a CI-ready verdict.

Every option is checked here first, in the names the user typed; then the packaged suite
(`m2m_contract.suite`) runs under pytest, isolated from the user's pytest configuration,
PYTEST_ADDOPTS and other installed plugins, with pytest's own terminal output off: the verdict
printed is ours.

Exit status: 0 no failed MUST check (warnings allowed unless --strict), 1 failures,
2 usage or setup error (also: the verdict or a report could not be written; the other
outputs still carry the run's result), 130 interrupted (Ctrl-C: every client killed at once).

The verdict goes to stdout, unless a report does (`--report-json /dev/stdout`): then the
verdict goes to stderr, so that stdout carries the report alone.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..contract import PROFILES
from ._output import emit, warn
from ._suite import run_suite

if TYPE_CHECKING:
    from ..pytest_plugin import Conformance



def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "verify",
        help="put a client through the conformance scenarios",
        description="Run the conformance scenarios against a client (the reference client by "
        "default) and print a verdict. Give a command after '--' (or --client-cmd) to test "
        "a program in any language, or --client-py module:function for a Python callable.",
        epilog="exit status: 0 no failed MUST check, 1 failures, 2 usage or setup error, "
        "130 interrupted",
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


REPORT_OPTIONS = {
    "json": "--report-json",
    "junit": "--junitxml",
    "markdown": "--report-markdown",
    "html": "--report-html",
}
NOTHING_AFTER_DASHES = (
    "nothing after '--': put the client command and its arguments there "
    "(e.g. -- ./my-client --its-flag), or leave '--' out to test the reference client"
)


def _client_files(client_cmd: str | None, client_py: str | None) -> list[tuple[Path, str]]:
    """The files the client is made of, that no report may overwrite: (path, what it is)."""
    import shutil

    files: list[tuple[Path, str]] = []
    if client_cmd is not None:
        argv = shlex.split(client_cmd)
        program = shutil.which(argv[0]) if argv else None
        if program is not None:
            files.append((Path(program), "the client command's program"))
        files += [(Path(a), "a file the client command names") for a in argv[1:]
                  if os.path.isfile(a)]
    if client_py is not None:
        module = client_py.partition(":")[0].split(".")
        roots = [os.getcwd(), *os.environ.get("PYTHONPATH", "").split(os.pathsep), *sys.path]
        for root in dict.fromkeys(r for r in roots if r):
            for candidate in (Path(root, *module[:-1], module[-1] + ".py"),
                              Path(root, *module, "__init__.py")):
                if os.path.isfile(candidate):
                    files.append((candidate, "the --client-py module's file"))
    return files


def _refuse_overlaps(
    reports: list[tuple[str, Path, str]],
    baseline: str | None,
    client: list[tuple[Path, str]],
) -> None:
    """No two reports to one destination, and no report over the baseline or the client."""
    from ..report._write import destination, shown_path

    seen: dict[tuple[object, ...], str] = {}
    for flag, path, value in reports:
        shown = f"{flag} {shown_path(value)}"
        where = destination(path)
        if where in seen:
            raise _Usage(f"{seen[where]} and {shown} are one file: the second report would "
                         "replace the first; give each report a path of its own")
        seen[where] = shown
        if baseline is not None and where == destination(Path(baseline)):
            raise _Usage(f"{shown} is the --baseline file: the report would overwrite it; "
                         "give the report another path")
        for file, what in client:
            if where == destination(file):
                raise _Usage(f"{shown} is {what} ({shown_path(file)}): the report would "
                             "overwrite it; give the report another path")


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
        if not command:
            raise _Usage(NOTHING_AFTER_DASHES)
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
        asked = {name: getattr(args, "junitxml" if name == "junit" else f"report_{name}")
                 for name in REPORT_OPTIONS}
        outputs = Outputs(**{
            name: checked_path(REPORT_OPTIONS[name], value) if value else None
            for name, value in asked.items()
        })
        if client_cmd is not None:
            runner = CommandRunner.from_string(client_cmd)
        else:
            runner = python_client(args.client_py or DEFAULT_CLIENT)
    except (BaselineError, ReportPathError) as exc:
        raise _Usage(str(exc)) from None
    except SetupError as exc:
        raise _Usage(str(exc).replace("--client-cmd", "the client command")
                     if command else str(exc)) from None
    _refuse_overlaps(
        [(REPORT_OPTIONS[name], path, asked[name]) for name, path in outputs.named()],
        args.baseline,
        _client_files(client_cmd, args.client_py),
    )
    label = client_cmd or args.client_py or "the reference client (m2m_contract.client)"
    return Conformance(
        Options(args.profile, args.strict, args.tls, args.scenario_timeout, baseline),
        list(dict.fromkeys(args.scenario)) or list(SCENARIOS),
        label,
        outputs,
        lambda: runner,
        verify=True,
        verbose=args.verbose,
        progress=_progress() if sys.stderr is not None and sys.stderr.isatty() else None,
    )


DEFAULT_CLIENT = "m2m_contract.client:run_protocol"


def _progress() -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        with contextlib.suppress(OSError, ValueError):  # a progress line is not worth a run
            sys.stderr.write(f"\rm2m-contract verify: {done}/{total} scenarios done{end}")
            sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> int:
    import pytest

    from ..pytest_plugin import STATE
    from ..report import visible

    try:
        conformance = _conformance(args)
    except _Usage as exc:
        warn(f"m2m-contract verify: {visible(str(exc))}")
        return 2
    code = run_suite("test_conformance.py", "m2m_contract.pytest_plugin", STATE, conformance)
    if conformance.interrupted is not None or code == pytest.ExitCode.INTERRUPTED:
        left = conformance.interrupted
        what = (f"{left} scenario{'' if left == 1 else 's'} not finished" if left
                else "before the verdict")
        warn(f"m2m-contract verify: interrupted: {what}; no verdict, no report written")
        return 130
    if conformance.setup_error is not None:
        warn(f"m2m-contract verify: {visible(conformance.setup_error)}")
        return 2
    if conformance.model is None:  # pytest stopped before any check ran
        why = conformance.errors[0].strip().splitlines()[-1] if conformance.errors else (
            f"pytest exit status {int(code)}"
        )
        warn(f"m2m-contract verify: the suite did not run: {visible(why)}")
        return 2
    return _finish(conformance)


def _finish(conformance: Conformance) -> int:
    """Print the verdict, then write the reports: a failure of either is one line on
    stderr and exit status 2, and never keeps the other from being written."""
    from ..report import render_terminal
    from ..report._write import RENDERERS, ReportWriteError, descriptor_of, shown_path, write_report

    model = conformance.model
    assert model is not None
    text = render_terminal(model, verbose=conformance.verbose)
    on_stdout = any(descriptor_of(path) == 1 for path in conformance.outputs.paths())
    problem = emit(text, sys.stderr if on_stdout else None)
    failed = problem is not None
    if problem is not None:
        verdict = text.rstrip().rsplit("\n", 1)[-1]
        warn(f"m2m-contract verify: cannot print the verdict ({problem}); it is: {verdict}")
    for name, path in conformance.outputs.named():
        try:
            write_report(path, RENDERERS[name](model))
        except ReportWriteError as exc:
            failed = True
            warn(f"m2m-contract verify: {REPORT_OPTIONS[name]} {shown_path(path)}: cannot "
                 f"write the report ({exc.reason}); the verdict stands")
        else:
            warn(f"report written to {shown_path(path)}")
    if failed:
        return 2
    return 1 if model["verdict"] == "failed" else 0
