"""The `m2m-contract` command: one module per subcommand, each with its parser and its body.

serve | verify | checks | token | reference-client | cassettes | live
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from .. import __version__
from . import cassettes, checks, client, live, serve, verify

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """A parser whose errors are one line naming the command, not the whole usage block
    (subcommand parsers are of the same class: argparse makes them so)."""

    def error(self, message: str) -> NoReturn:
        shown = message.replace("\r", "\\r").replace("\n", "\\n")
        self.exit(2, f"{self.prog}: error: {shown} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
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
    except KeyboardInterrupt:  # before or after the part of a command that handles it
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(f"{parser.prog} {args.command}: interrupted\n")
        return 130
