"""`m2m-contract verify`: run the conformance suite and give a CI-ready verdict.

Exit status: 0 no failed MUST check (warnings allowed unless --strict), 1 failures,
2 usage or setup error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..contract import PROFILES

SUITE_DIR = Path(__file__).parents[1] / "harness" / "_suite"


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
        "--tls",
        action="store_true",
        help="serve the emulator over HTTPS (throwaway CA in M2M_CA_BUNDLE)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this scenario (repeatable)",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="loyaltyone",
        help="contract profile (default %(default)s)",
    )
    parser.add_argument("--strict", action="store_true", help="warnings fail the run")
    parser.add_argument(
        "--baseline", metavar="FILE", help="expected failures, one scenario:check-id per line"
    )
    parser.add_argument("--report-json", metavar="PATH", help="write the JSON report here")
    parser.add_argument("--junitxml", metavar="PATH", help="write a JUnit XML report here")
    parser.add_argument(
        "--scenario-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="kill the client after this long (default %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list every check")
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="after '--': the client command and its arguments"
    )
    parser.set_defaults(run=run)


def pytest_args(args: argparse.Namespace) -> list[str] | str:
    """The pytest command line for `args`, or a usage error message."""
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if command and args.client_cmd:
        return "give the client command either after '--' or with --client-cmd, not both"
    client_cmd = shlex.join(command) if command else args.client_cmd
    if client_cmd is not None and args.client_py is not None:
        return "use a client command or --client-py, not both"
    out = [
        str(SUITE_DIR / "test_conformance.py"),
        "-c",
        str(SUITE_DIR / "pytest.ini"),
        "--rootdir",
        str(SUITE_DIR),
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--no-header",
        "-q" if not args.verbose else "-v",
        "--tb=no",
        "--assert=plain",
        "-rN",
        "--m2m-profile",
        args.profile,
        "--m2m-scenario-timeout",
        str(args.scenario_timeout),
    ]
    if client_cmd is not None:
        out += ["--client-cmd", client_cmd]
    if args.client_py is not None:
        out += ["--client-py", args.client_py]
    for name in args.scenario:
        out += ["--scenario", name]
    for flag, value in (
        ("--m2m-baseline", args.baseline),
        ("--m2m-report-json", args.report_json),
        ("--junitxml", args.junitxml),
    ):
        if value:
            out += [flag, str(Path(value).resolve())]
    if args.tls:
        out.append("--tls")
    if args.strict:
        out.append("--m2m-strict")
    return out


def run(args: argparse.Namespace) -> int:
    import pytest

    argv = pytest_args(args)
    if isinstance(argv, str):
        print(f"m2m-contract verify: {argv}", file=sys.stderr)
        return 2
    code = pytest.main(argv)
    if code == pytest.ExitCode.OK:
        return 0
    if code == pytest.ExitCode.TESTS_FAILED:
        return 1
    return 2
