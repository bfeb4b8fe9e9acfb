"""The `m2m-contract` command: serve | verify | checks | token | reference-client | cassettes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__, _verify

Command = Callable[[argparse.Namespace], int]


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the Auth0 emulator over HTTP(S)",
        description="Serve the Auth0 emulator (token endpoint, JWKS, discovery, protected API, "
        "admin API on loopback) until interrupted.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port (0 picks a free one; default %(default)s)"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="tenant TOML file (default: the built-in demo tenant)"
    )
    parser.add_argument(
        "--keys",
        metavar="FILE",
        help="PEM file of RSA private keys (written if absent) for stable tokens",
    )
    parser.add_argument(
        "--issuer", help="the iss claim (default: the served URL with a trailing slash)"
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway CA; its bundle path is printed",
    )
    parser.add_argument(
        "--journal-size",
        type=int,
        default=10_000,
        help="exchanges kept in the journal (default %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ._serve import serve

    return serve(args)


def _add_checks(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "checks",
        help="list the contract's checks",
        description="List every check with its severity and clause.",
    )
    parser.add_argument("--markdown", action="store_true", help="print docs/checks.md")
    parser.set_defaults(run=_checks)


def _checks(args: argparse.Namespace) -> int:
    from .contract import CATALOGUE
    from .harness import catalogue_markdown

    if args.markdown:
        sys.stdout.write(catalogue_markdown())
        return 0
    for check in CATALOGUE.values():
        print(f"{check.id:<36} {check.severity:<6} {check.clause:<22} {check.title}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="m2m-contract",
        description="Contract tests and an Auth0 emulator for OAuth 2.0 Client Credentials.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_serve(sub)
    _verify.add_parser(sub)
    _add_checks(sub)
    from .client import _cli as client_cli  # the token and reference-client commands

    client_cli.add_parsers(sub)
    from .live._cli import add_parsers as add_cassettes_parser  # m2m-contract cassettes check
    add_cassettes_parser(sub)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
