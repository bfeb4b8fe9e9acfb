"""docs/checks.md and `m2m-contract checks`: the catalogue of both suites, generated."""

from __future__ import annotations

from ..contract import CATALOGUE


def catalogue_lines() -> list[str]:
    """One line per check: id, suite, severity, clause, title."""
    width = max(len(c.id) for c in CATALOGUE.values())
    return [
        f"{c.id:<{width}}  {c.suite:<11}  {c.severity:<6}  {c.clause:<22}  {c.title}"
        for c in CATALOGUE.values()
    ]


def catalogue_markdown() -> str:
    """docs/checks.md, generated from the catalogue."""
    out = [
        "# The checks",
        "",
        "Generated from `m2m_contract.contract` by `m2m-contract checks --markdown`; do not edit.",
        "",
        "MUST checks fail a run; SHOULD checks warn (and fail under `--strict`). Clauses: "
        "*partner §N* is the partner document (client-credentials-auth-flow.md), RFC6749-x / "
        "RFC6750-x / RFC6585-x / RFC7515-x are sections of those RFCs, *Auth0* is Auth0's "
        "documented guidance.",
        "",
        "The **conformance** suite judges a client (`m2m-contract verify`); the **live** suite "
        "judges the tenant (`pytest --live`, `m2m-contract live`).",
        "",
        "| id | suite | severity | clause | what it verifies | scenarios | profiles |",
        "|---|---|---|---|---|---|---|",
    ]
    for check in CATALOGUE.values():
        if check.suite == "live":
            scenarios = "live"
        elif check.scenarios:
            scenarios = ", ".join(sorted(check.scenarios))
        else:
            scenarios = "every scenario"
        profiles = ", ".join(sorted(check.profiles))
        out.append(
            f"| `{check.id}` | {check.suite} | {check.severity} | {check.clause} | "
            f"{check.title} | {scenarios} | {profiles} |"
        )
    return "\n".join(out) + "\n"
