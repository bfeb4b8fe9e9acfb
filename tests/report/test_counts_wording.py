"""Counts in the Markdown and HTML reports read right in the singular: '1 scenario',
'1 line', '1 warning', never '1 scenarios'."""

from __future__ import annotations

import re
from typing import Any

from m2m_contract.report import render_html, render_markdown


def report(failed: int, *, lines: int = 1, dropped: int = 1) -> dict[str, Any]:
    check = {
        "id": "client-succeeds", "scenario": "happy-path", "status": "failed",
        "severity": "MUST", "clause": "partner §2", "title": "t", "message": "m",
        "evidence": "",
    }  # fmt: skip
    warning = {**check, "id": "token-request-json-body", "status": "warning",
               "severity": "SHOULD"}
    counts = {"passed": 3, "failed": failed, "warnings": 1, "skipped": 0}
    return {
        "suite": "conformance", "client": "./client", "profile": "loyaltyone",
        "strict": False, "verdict": "failed" if failed else "passed",
        "summary": counts,
        "scenarios": [{
            "name": "happy-path", "summary": "issues a token",
            "verdict": "FAIL" if failed else "warn", "counts": counts, "exit": "status 1",
            "duration": 0.5,
            "output": {"lines": ["out"] * lines, "dropped_lines": dropped,
                       "dropped_bytes": 10},
        }],
        "checks": [check, warning] if failed else [warning],
    }  # fmt: skip


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_one_scenario_reads_in_the_singular_in_both_reports() -> None:
    for model, headline in ((report(0), "every check passed in 1 scenario"),
                            (report(1), "1 check failed in 1 of 1 scenario")):
        markdown = render_markdown(model)
        html = text_of(render_html(model))
        assert f"**{headline}**" in markdown
        assert headline in html and "1 scenarios" not in html + markdown
        assert "1 scenario, one row each" in html


def test_one_line_one_earlier_line_and_one_warning_read_in_the_singular() -> None:
    model = report(1)
    markdown = render_markdown(model)
    html = text_of(render_html(model))
    assert "last 1 line, 1 earlier line not kept (secrets redacted)" in markdown
    assert "Client output: last 1 line, 1 earlier line (10 bytes) not kept" in html
    assert "3 passed, 1 failed, 1 warning, 0 skipped" in html
    assert "exit status 1" in html and "exit exited" not in html


def test_plural_counts_keep_their_plural() -> None:
    model = report(2, lines=3, dropped=2)
    model["scenarios"].append({**model["scenarios"][0], "name": "expiry"})
    markdown = render_markdown(model)
    html = text_of(render_html(model))
    assert "2 checks failed in 2 of 2 scenarios" in markdown
    assert "last 3 lines, 2 earlier lines not kept" in markdown
    assert "2 scenarios, one row each" in html
