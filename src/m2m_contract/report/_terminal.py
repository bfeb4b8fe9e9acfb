"""The terminal verdict: one line per scenario, then the evidence of each failure.

A check that fails (or warns) with the same message in several scenarios is told once, naming
them. The last line is the verdict, alone, so `tail -n 1` shows it. Every string is made
visible (no raw control character reaches the terminal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._text import counted, visible


def _counts(summary: Mapping[str, Any]) -> str:
    parts = [
        f"{summary.get('failed', 0)} failed",
        counted(summary.get('warnings', 0), 'warning'),
        f"{summary.get('passed', 0)} passed",
        f"{summary.get('skipped', 0)} skipped (nothing to judge)",
    ]
    if summary.get("expected"):
        parts.insert(1, f"{summary['expected']} expected by the baseline")
    return ", ".join(parts)


def verdict_line(model: Mapping[str, Any]) -> str:
    """The run's verdict in one line: what fails the run, and the counts."""
    summary = model.get("summary", {})
    failed = [c for c in model.get("checks", []) if _fails(c)]
    scenarios = len({c["scenario"] for c in failed})
    if failed:
        head = f"FAIL: {counted(len(failed), 'check')} failed in {counted(scenarios, 'scenario')}"
    else:
        head = "PASS: no MUST check failed" + (" (strict: no warning)" if model.get("strict")
                                               else "")
    return f"m2m-contract {model.get('suite', 'conformance')}: {head} | {_counts(summary)}"


def _fails(check: Mapping[str, Any]) -> bool:
    if check.get("baseline") == "stale":
        return True
    return check.get("status") == "failed" and check.get("baseline") != "expected"


def _groups(
    checks: list[Mapping[str, Any]],
) -> list[tuple[Mapping[str, Any], list[str]]]:
    """(first check, scenarios) for each (id, status, message), in order of first appearance;
    messages that differ only in their numbers (timings, counts) count as one."""
    groups: dict[tuple[str, str, str], tuple[Mapping[str, Any], list[str]]] = {}
    for check in checks:
        message = _DIGITS.sub("#", _MORE.sub("", str(check["message"])))
        key = (str(check["id"]), str(check["status"]), message)
        if key in groups:
            groups[key][1].append(str(check["scenario"]))
        else:
            groups[key] = (check, [str(check["scenario"])])
    return list(groups.values())


_MORE = re.compile(r" \(and \d+ more\)")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def _where(scenarios: list[str]) -> str:
    if len(scenarios) <= 4:
        return ", ".join(scenarios)
    return f"{len(scenarios)} scenarios ({', '.join(scenarios[:3])}, ...)"


def _block(check: Mapping[str, Any], scenarios: list[str], *, evidence: bool) -> list[str]:
    mark = "FAIL" if _fails(check) else "warn"
    if check.get("baseline") == "stale":
        head = f"{mark} {check['id']} in {_where(scenarios)}: stale baseline entry"
        return [head, f"  the check passes now: remove {scenarios[0]}:{check['id']} from the "
                      "baseline so that it keeps guarding the fix"]
    lines = [
        f"{mark} {check['id']} ({check['severity']}, {check['clause']}) in {_where(scenarios)}",
        f"  {visible(check['message'])}",
    ]
    if evidence and check.get("evidence"):
        if len(scenarios) > 1:
            lines.append(f"  evidence from {scenarios[0]}:")
        lines += [f"  {line}" for line in visible(check["evidence"], keep_newlines=True)
                  .splitlines()]
    return lines


def render_terminal(model: Mapping[str, Any], *, verbose: bool = False) -> str:
    """The verdict as a partner reads it in a CI log."""
    checks: list[Mapping[str, Any]] = list(model.get("checks", []))
    scenarios = model.get("scenarios", [])
    strict = " | strict" if model.get("strict") else ""
    if model.get("suite") == "live":  # a handful of checks: each on its line, as it went
        lines = [f"m2m-contract live: tenant {visible(model.get('client'))}"]
        lines += [f"  {visible(s.get('summary'))}" for s in scenarios]
        for c in checks:
            mark = {"passed": "ok", "failed": "FAIL", "warning": "warn"}.get(c["status"], "-")
            lines.append(f"  {mark:<4} {c['id']} ({c['severity']}, {c['clause']}): "
                         f"{visible(c['message'])}")
        return "\n".join([*lines, "", verdict_line(model)])
    lines = [
        f"m2m-contract conformance: client {visible(model.get('client'))}"
        f" | profile {model.get('profile')}{strict} | {counted(len(scenarios), 'scenario')}",
        "",
    ]
    width = max((len(s["name"]) for s in scenarios), default=10)
    for sc in scenarios:
        own = [c for c in checks if c["scenario"] == sc["name"]]
        bad = [c["id"] for c in own if _fails(c)]
        warned = [c["id"] for c in own if c["status"] == "warning" and not c.get("baseline")]
        expected = [c["id"] for c in own if c.get("baseline") == "expected"]
        shown = ", ".join(dict.fromkeys(bad or warned))
        note = f"[baseline: {len(expected)} expected]" if expected else ""
        tail = " ".join(part for part in (shown, note) if part)
        lines.append(f"  {sc['name']:<{width}}  {sc['verdict']:<4}  {tail}".rstrip())
    failures = [c for c in checks if _fails(c)]
    warnings = [c for c in checks if c["status"] == "warning" and not c.get("baseline")]
    for check, where in _groups(failures):
        lines += ["", *_block(check, where, evidence=True)]
    for check, where in _groups(warnings):
        lines += ["", *_block(check, where, evidence=verbose)]
    if warnings and not verbose:
        lines += ["", "(-v shows the evidence of each warning)"]
    if verbose:
        skipped = [c for c in checks if c["status"] == "skipped"]
        if skipped:
            lines += ["", "skipped (nothing to judge):"]
            lines += [f"  {c['scenario']}:{c['id']}: {visible(c['message'])}" for c in skipped]
    lines += ["", verdict_line(model)]
    return "\n".join(lines)
