"""`m2m-contract checks`: list the contract's checks (or print docs/checks.md)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "checks",
        help="list the contract's checks",
        description="List every check with its severity and clause.",
    )
    parser.add_argument("--markdown", action="store_true", help="print docs/checks.md")
    parser.set_defaults(run=_checks)


def _checks(args: argparse.Namespace) -> int:
    from ..contract import CATALOGUE
    from ..harness import catalogue_markdown

    if args.markdown:
        sys.stdout.write(catalogue_markdown())
        return 0
    for check in CATALOGUE.values():
        print(f"{check.id:<36} {check.severity:<6} {check.clause:<22} {check.title}")
    return 0
