"""`m2m-contract cassettes check [DIR]`: the cassette hygiene check, for a partner's CI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..live import check_cassettes, check_file


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "cassettes",
        help="check recorded cassettes for secrets, credentials and signed tokens",
        description="Commands for the live suite's recorded traffic.",
    )
    commands = parser.add_subparsers(dest="cassettes_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="fail if any cassette holds a signed JWT, a secret or credentials",
        description="Search every file under DIR (default: cassettes) for signed JWTs, client "
        "secrets, refresh tokens and Basic/Bearer credentials, in the text and in the traffic "
        "each cassette replays (binary, escaped and compressed bodies included). Exit 0 when "
        "clean, 1 when something was found, 2 when DIR does not exist.",
    )
    check.add_argument("directory", nargs="?", default="cassettes", metavar="DIR")
    check.set_defaults(run=_check)


def _check(args: argparse.Namespace) -> int:
    target = Path(args.directory)
    if target.is_file():
        findings, count = check_file(target), 1
    elif target.is_dir():
        findings = check_cassettes(target)
        count = sum(1 for p in target.rglob("*") if p.is_file())
    else:
        print(f"m2m-contract cassettes check: no such directory: {target}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    if findings:
        files = len({f.path for f in findings})
        print(
            f"{len(findings)} finding(s) in {files} file(s): remove the cassette(s) and record "
            "again with the scrubbing live suite (docs/live.md)"
        )
        return 1
    print(f"{target}: {count} file(s) checked; no signed token, secret or credential found")
    return 0
