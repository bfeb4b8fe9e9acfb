"""`m2m-contract checks`: list every check of both suites (or print docs/checks.md)."""

from __future__ import annotations

import argparse

from ._output import emit, warn


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "checks",
        help="list the contract's checks",
        description="List every check: id, suite (conformance: the client; live: the tenant), "
        "severity, clause and what it verifies.",
        epilog="exit status: 0; 2 if stdout cannot be written",
    )
    parser.add_argument("--markdown", action="store_true", help="print docs/checks.md")
    parser.set_defaults(run=_checks)


def _checks(args: argparse.Namespace) -> int:
    from ..report import catalogue_lines, catalogue_markdown

    problem = emit(catalogue_markdown() if args.markdown else "\n".join(catalogue_lines()))
    if problem is not None:
        warn(f"m2m-contract checks: cannot write to stdout ({problem})")
        return 2
    return 0
