"""The `m2m-contract` command: one module per subcommand, each with its parser and its body.

serve | verify | checks | token | reference-client | cassettes | live
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from . import cassettes, checks, client, live, serve, verify

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="m2m-contract",
        description="Contract tests and an Auth0 emulator for OAuth 2.0 Client Credentials.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.add_parser(sub)
    verify.add_parser(sub)
    checks.add_parser(sub)
    client.add_parsers(sub)
    cassettes.add_parsers(sub)
    live.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Command | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
