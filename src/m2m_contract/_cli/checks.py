"""`m2m-contract checks`: list every check of both suites (or print docs/checks.md)."""

from __future__ import annotations

import argparse

from ._output import emit


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "checks",
        help="list the contract's checks",
        description="List every check: id, suite (conformance: the client; live: the tenant), "
        "severity, clause and what it verifies.",
        epilog="exit status: 0",
    )
    parser.add_argument("--markdown", action="store_true", help="print docs/checks.md")
    parser.set_defaults(run=_checks)


def _checks(args: argparse.Namespace) -> int:
    from ..report import catalogue_lines, catalogue_markdown

    emit(catalogue_markdown() if args.markdown else "\n".join(catalogue_lines()))
    return 0
