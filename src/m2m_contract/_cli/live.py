"""`m2m-contract live`: the live smoke test of the tenant, from any directory.

It runs the packaged live suite (`m2m_contract.suite.test_live`, the same checks as
`pytest --live`) against the tenant of the M2M_LIVE_* variables, recording scrubbed cassettes
with --record, or replays the cassettes of --cassettes DIR offline with --replay.

Exit status: 0 no failed MUST check, 1 failures (the tenant unreachable included), 2 usage
error (a variable missing, unless --optional; a bad option or path).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._suite import run_suite


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "live",
        help="check the sandbox tenant (the live smoke test), or replay its cassettes",
        description="Check the tenant named by M2M_LIVE_TOKEN_URL (default: the LoyaltyOne "
        "sandbox), M2M_LIVE_CLIENT_ID and M2M_LIVE_CLIENT_SECRET (and optionally "
        "M2M_LIVE_SCOPE, M2M_LIVE_AUDIENCE, M2M_LIVE_API_URL, M2M_LIVE_CA_BUNDLE) with three "
        "token requests; --record keeps scrubbed cassettes, --replay judges them again offline.",
        epilog="exit status: 0 no failed MUST check, 1 failures (or the tenant unreachable), "
        "2 usage error",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--record", action="store_true",
                      help="record scrubbed cassettes of this run into --cassettes DIR")
    mode.add_argument("--replay", action="store_true",
                      help="judge the cassettes of --cassettes DIR offline (network blocked)")
    parser.add_argument("--cassettes", metavar="DIR", default="cassettes",
                        help="the cassette folder (default: ./cassettes)")
    parser.add_argument("--optional", action="store_true",
                        help="skip (exit 0, saying why) when the M2M_LIVE_* secrets are absent, "
                        "e.g. in pull requests from forks (or set M2M_LIVE_OPTIONAL=1)")
    parser.add_argument("--report-json", metavar="PATH", help="write the JSON report here")
    parser.add_argument("--junitxml", metavar="PATH", help="write a JUnit XML report here")
    parser.add_argument("--report-markdown", metavar="PATH",
                        help="write a GitHub-flavoured Markdown report here")
    parser.add_argument("--report-html", metavar="PATH", help="write an HTML report here")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also say what each skipped check had to judge")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pytest

    from ..live.pytest_plugin import OPTIONAL, STATE, Live, settings
    from ..report import Outputs, ReportPathError, checked_path, render_terminal
    from ..report._write import shown_path
    from ._output import emit, warn

    def fail(message: str) -> int:
        print(f"m2m-contract live: {message}", file=sys.stderr)
        return 2

    try:
        outputs = Outputs(*(
            checked_path(flag, value) if value else None
            for flag, value in (
                ("--report-json", args.report_json),
                ("--junitxml", args.junitxml),
                ("--report-markdown", args.report_markdown),
                ("--report-html", args.report_html),
            )
        ))
    except ReportPathError as exc:
        return fail(str(exc))
    cassettes = Path(args.cassettes).resolve()
    if args.replay and not cassettes.is_dir():
        return fail(f"--cassettes {args.cassettes}: no such folder to replay")
    mode = "replay" if args.replay else "record" if args.record else "live"
    live = Live(mode, cassettes, outputs, command=True, verbose=args.verbose)  # type: ignore[arg-type]
    if mode != "replay":
        optional = args.optional or os.environ.get(OPTIONAL, "") not in ("", "0")
        try:
            settings(live, optional=optional)
        except pytest.UsageError as exc:
            return fail(str(exc).replace("--m2m-live-optional", "--optional"))
        if live.skip is not None:
            print(f"m2m-contract live: {live.skip.replace('--m2m-live-optional', '--optional')}",
                  file=sys.stderr)
            return 0
    code = run_suite("test_live.py", "m2m_contract.live.pytest_plugin", STATE, live)
    if live.error is not None:
        print(f"m2m-contract live: {live.error}", file=sys.stderr)
        return 1
    if live.model is None:
        return fail(f"the live suite did not run (pytest exit status {int(code)})")
    text = render_terminal(live.model, verbose=live.verbose)
    problem = emit(text)
    if problem is not None:
        verdict = text.rstrip().splitlines()[-1] if text.strip() else ""
        warn(f"m2m-contract live: cannot print the verdict to stdout ({problem}); it is: "
             f"{verdict}")
    for path in outputs.paths():
        warn(f"report written to {shown_path(path)}")
    if problem is not None:
        return 2
    return 1 if live.model["verdict"] == "failed" else 0
