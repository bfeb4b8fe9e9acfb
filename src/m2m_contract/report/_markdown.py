"""The report as GitHub-flavoured Markdown for `$GITHUB_STEP_SUMMARY`.

The verdict and the scenario table first, then each failed check with its evidence and a
Mermaid diagram, warnings and client output collapsed. Everything is kept under GitHub's
1 MiB step-summary limit: sections that do not fit are left out, and a note says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

from ._diagram import mermaid
from ._text import counted, ellipsize, visible

STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes GitHub accepts for one step's summary
CELL = 120  # display cells of one table cell
EVIDENCE = 20_000  # characters of one check's evidence
OUTPUT_LINE = 400  # characters of one output line

# Backslash-escaped wherever untrusted text lands in Markdown: emphasis, links, code,
# tables, HTML, entities, strikethrough, math, emoji. No newline can occur (visible()), and
# such text never starts a line, so line-start syntax (lists, headings, quotes) stays inert.
_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~&$:@])")
_VERDICT = {"FAIL": "❌ FAIL", "warn": "⚠️ warn", "ok": "✅ ok"}
_KEYS = ("passed", "failed", "warnings", "skipped")


def _text(value: object, limit: int | None = None) -> str:
    """Untrusted text as inline Markdown that renders exactly as written."""
    shown = visible(value)
    if limit is not None:
        shown = ellipsize(shown, limit)
    return _SPECIAL.sub(r"\\\1", shown)


def _code(value: object, limit: int | None = None, *, cell: bool = False) -> str:
    """Untrusted text as a code span; in a table cell '|' is escaped (GFM reads it first)."""
    shown = visible(value)
    if limit is not None:
        shown = ellipsize(shown, limit)
    if not shown:
        return ""
    fence = "`" * (max((len(m) for m in re.findall(r"`+", shown)), default=0) + 1)
    if shown.startswith(("`", " ")) or shown.endswith(("`", " ")):
        shown = f" {shown} "
    if cell:
        shown = shown.replace("|", "\\|")
    return f"{fence}{shown}{fence}"


def _html(value: object, limit: int) -> str:
    """Untrusted text inside the raw HTML of a <summary>."""
    return escape(ellipsize(visible(value), limit), quote=True)


def _fenced(text: str, info: str = "text") -> str:
    """A fenced block no line of `text` can close: the fence outgrows every backtick run."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def headline(report: Mapping[str, Any]) -> str:
    """What the verdict comes to, in one line (the Markdown and HTML reports' headline)."""
    scenarios = [sc for sc in report.get("scenarios") or [] if isinstance(sc, Mapping)]
    failing = sum(sc.get("verdict") == "FAIL" for sc in scenarios)
    failed = _int((report.get("summary") or {}).get("failed"))
    if failed:
        return (f"{counted(failed, 'check')} failed in {failing} of "
                f"{counted(len(scenarios), 'scenario')}")
    return f"every check passed in {counted(len(scenarios), 'scenario')}"


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else _text(value, 20)


def _table(report: Mapping[str, Any], scenarios: list[Mapping[str, Any]], budget: int) -> str:
    lines = [
        "| Scenario | Verdict | Passed | Failed | Warnings | Skipped | Exit | Time |",
        "|---|---|--:|--:|--:|--:|---|--:|",
    ]
    used = 0
    for n, sc in enumerate(scenarios):
        counts = sc.get("counts") or {}
        verdict = _VERDICT.get(str(sc.get("verdict")), _text(sc.get("verdict"), 12))
        row = (
            f"| {_code(sc.get('name'), CELL, cell=True)} | {verdict} | "
            + " | ".join(str(_int(counts.get(k))) for k in _KEYS)
            + f" | {_code(sc.get('exit'), CELL, cell=True)} | {_seconds(sc.get('duration'))} |"
        )
        used += len(row.encode()) + 1
        if used > budget:
            lines.append(f"| … {counted(len(scenarios) - n, 'more scenario')} | | | | | | | |")
            break
        lines.append(row)
    summary = report.get("summary") or {}
    total = " | ".join(f"**{_int(summary.get(k))}**" for k in _KEYS)
    lines.append(f"| **Total** | | {total} | | |")
    return "\n".join(lines)


def _check_body(check: Mapping[str, Any]) -> str:
    facts = [f"**{_text(check.get('severity'), 12)}**", _text(check.get("clause"), CELL)]
    if check.get("title"):
        facts.append(_text(check.get("title"), 240))
    if check.get("baseline") == "expected":
        facts.append("listed in the baseline as an expected failure")
    parts = [" · ".join(facts), f"**What was seen:** {_text(check.get('message'), 2_000)}"]
    evidence = visible(check.get("evidence"), keep_newlines=True)
    if evidence:
        if len(evidence) > EVIDENCE:
            evidence = evidence[:EVIDENCE] + f"\n… {len(evidence) - EVIDENCE:,} characters cut"
        parts.append(_fenced(evidence))
    diagram = check.get("diagram")
    if isinstance(diagram, Mapping):
        parts.append(_fenced(mermaid(diagram), "mermaid"))
    return "\n\n".join(parts)


def _output(sc: Mapping[str, Any]) -> str:
    output = sc.get("output") or {}
    lines = [ellipsize(visible(line), OUTPUT_LINE) for line in output.get("lines") or []]
    dropped = _int(output.get("dropped_lines"))
    more = f", {counted(dropped, 'earlier line')} not kept" if dropped else ""
    body = _fenced("\n".join(lines)) if lines else "The client printed nothing."
    return (
        f"<details><summary>Client output of <code>{_html(sc.get('name'), CELL)}</code>: "
        f"last {counted(len(lines), 'line')}{more} (secrets redacted)</summary>\n\n"
        f"{body}\n\n</details>"
    )


def _sections(
    scenarios: list[Mapping[str, Any]], checks: list[Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """(failure sections with each failing scenario's output, warning sections)."""
    failures: list[str] = []
    warnings: list[str] = []
    for sc in scenarios:
        name = visible(sc.get("name"))
        mine = [c for c in checks if visible(c.get("scenario")) == name]
        failed = [c for c in mine if c.get("status") == "failed"]
        failed.sort(key=lambda c: c.get("severity") != "MUST")
        for c in failed:
            failures.append(
                f"#### ❌ {_code(c.get('id'), CELL)} in {_code(name, CELL)}\n\n{_check_body(c)}"
            )
        if failed or sc.get("verdict") == "FAIL":
            failures.append(_output(sc))
        for c in mine:
            if c.get("status") == "warning":
                warnings.append(
                    f"<details><summary>⚠️ <code>{_html(c.get('id'), CELL)}</code> in "
                    f"<code>{_html(name, CELL)}</code> ({_html(c.get('severity'), 12)}, "
                    f"{_html(c.get('clause'), CELL)})</summary>\n\n{_check_body(c)}\n\n</details>"
                )
    return failures, warnings


def render_markdown(report: Mapping[str, Any], *, limit: int = STEP_SUMMARY_LIMIT - 4096) -> str:
    """The report as Markdown of at most `limit` UTF-8 bytes (default: under GitHub's 1 MiB)."""
    scenarios = [sc for sc in report.get("scenarios") or [] if isinstance(sc, Mapping)]
    checks = [c for c in report.get("checks") or [] if isinstance(c, Mapping)]
    passed = report.get("verdict") == "passed"
    suite = visible(report.get("suite") or "conformance")
    who = "tenant" if suite == "live" else "client"
    head = [
        f"## {'✅' if passed else '❌'} m2m-contract {_text(suite, 20)}: "
        f"{'passed' if passed else 'failed'}",
        f"**{headline(report)}** · {who} {_code(report.get('client'), 200)} · profile "
        f"{_code(report.get('profile'), 60)}"
        f" · {'strict: SHOULD warnings fail' if report.get('strict') else 'not strict'}",
        _table(report, scenarios, limit // 4),
    ]
    failures, warnings = _sections(scenarios, checks)
    blocks = list(head)
    if failures:
        blocks.append("### ❌ Failures")
        blocks += failures
    if warnings:
        blocks.append(f"### ⚠️ Warnings ({len(warnings)})")
        blocks += warnings

    out: list[str] = []
    size = 0
    note_room = 400
    for i, block in enumerate(blocks):
        cost = len(block.encode()) + 2
        if i >= len(head) and size + cost + note_room > limit:
            left = sum(1 for b in blocks[i:] if not b.startswith("### "))
            out.append(
                f"> [!NOTE]\n> This summary was cut to stay under GitHub's step-summary limit: "
                f"{counted(left, 'more section')} (failures, warnings, client output) are in "
                "the HTML and "
                "JSON reports."
            )
            break
        out.append(block)
        size += cost
    return "\n\n".join(out) + "\n"
