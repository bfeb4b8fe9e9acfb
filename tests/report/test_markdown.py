"""The Markdown step summary, read back through a GFM renderer (marked, as GitHub would)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from m2m_contract.report import render_markdown
from m2m_contract.report._markdown import STEP_SUMMARY_LIMIT
from m2m_contract.report._text import visible

from . import node
from .markup import Element, parse, rows
from .samples import HOSTILE, SECRET, failing_report, hostile_report, passing_report

# What the summary may produce: GFM's own elements and the <details> it writes itself.
ALLOWED = {
    "#root", "h2", "h3", "h4", "p", "strong", "em", "code", "pre", "table", "thead", "tbody",
    "tr", "th", "td", "details", "summary", "blockquote", "br",
}  # fmt: skip
ALLOWED_ATTRS = {("th", "align"), ("td", "align"), ("code", "class")}


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[str, Element]]:
    reports = {
        "failing": failing_report(),
        "passing": passing_report(),
        "hostile": hostile_report(),
    }
    texts = {name: render_markdown(report) for name, report in reports.items()}
    html = node.run("markdown", list(texts.values()))
    return {name: (texts[name], parse(h["html"])) for name, h in zip(texts, html, strict=True)}


def test_the_heading_states_verdict_client_and_profile(rendered: Any) -> None:
    _text, html = rendered["failing"]
    (h2,) = html.iter("h2")
    assert h2.text == "❌ m2m-contract conformance: failed"
    first = html.iter("p")[0].text
    assert "7 checks failed in 3 of 5 scenarios" in first
    assert "client node partner-client.js" in first and "profile loyaltyone" in first
    assert rendered["passing"][1].iter("h2")[0].text == "✅ m2m-contract conformance: passed"


def test_the_table_has_one_row_per_scenario_with_its_verdict_counts_and_exit(
    rendered: Any,
) -> None:
    _text, html = rendered["failing"]
    report = failing_report()
    (table,) = html.iter("table")
    got = rows(table)
    assert got[0] == ["Scenario", "Verdict", "Passed", "Failed", "Warnings", "Skipped", "Exit",
                      "Time"]  # fmt: skip
    for row, sc in zip(got[1:], report["scenarios"], strict=False):
        c = sc["counts"]
        verdict = {"FAIL": "❌ FAIL", "warn": "⚠️ warn", "ok": "✅ ok"}[sc["verdict"]]
        assert row[:7] == [sc["name"], verdict, str(c["passed"]), str(c["failed"]),
                           str(c["warnings"]), str(c["skipped"]), sc["exit"]]  # fmt: skip
    total = report["summary"]
    assert got[-1][2:6] == [str(total[k]) for k in ("passed", "failed", "warnings", "skipped")]
    assert len(got) == len(report["scenarios"]) + 2


def test_every_failed_check_has_its_message_evidence_and_mermaid_diagram(rendered: Any) -> None:
    text, html = rendered["failing"]
    failed = [c for c in failing_report()["checks"] if c["status"] == "failed"]
    headings = [h.text for h in html.iter("h4")]
    assert headings == [f"❌ {c['id']} in {c['scenario']}" for c in failed_in_order(failed)]
    for check in failed:
        assert f"What was seen: {check['message']}" in html.text
        assert check["evidence"].splitlines()[0] in text
    mermaid_blocks = [c for c in html.iter("code") if "language-mermaid" in c.classes()]
    assert len(mermaid_blocks) == len([c for c in failing_report()["checks"] if "diagram" in c])


def failed_in_order(failed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = [sc["name"] for sc in failing_report()["scenarios"]]
    return sorted(failed, key=lambda c: (order.index(c["scenario"]), c["severity"] != "MUST"))


def test_warnings_and_client_output_are_collapsed(rendered: Any) -> None:
    _text, html = rendered["failing"]
    summaries = [d.iter("summary")[0].text for d in html.iter("details")]
    warnings = [c for c in failing_report()["checks"] if c["status"] == "warning"]
    assert sum(s.startswith("⚠️ token-request-json-body in ") for s in summaries) == len(warnings)
    outputs = [s for s in summaries if s.startswith("Client output of ")]
    assert outputs == [
        "Client output of happy-path: last 4 lines (secrets redacted)",
        "Client output of expiry: last 7 lines, 14 earlier lines not kept (secrets redacted)",
        "Client output of rate-limited: last 3 lines (secrets redacted)",
    ]
    assert not any(d.attrs.get("open") is not None for d in html.iter("details"))


def test_a_passing_report_lists_no_failure_or_warning(rendered: Any) -> None:
    text, html = rendered["passing"]
    assert not html.iter("h3") and not html.iter("details") and "```" not in text
    passed = passing_report()["summary"]["passed"]
    assert passed > 0
    assert rows(html.iter("table")[0])[-1][2:6] == [str(passed), "0", "0", "0"]


def test_hostile_strings_render_as_text_never_as_markup(rendered: Any) -> None:
    text, html = rendered["hostile"]
    for element in html.iter():
        assert element.tag in ALLOWED, element.tag
        for name in element.attrs:
            assert (element.tag, name) in ALLOWED_ATTRS, (element.tag, name)
    assert visible(HOSTILE) in html.text  # the message, in full, as text
    assert "\x1b" not in text and "\r" not in text


def test_table_cells_escape_pipes_and_newlines(rendered: Any) -> None:
    text, html = rendered["hostile"]
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table_lines) == 4  # header, rule, one scenario, total: no line was split
    got = rows(html.iter("table")[0])
    assert all(len(row) == 8 for row in got)
    assert got[1][0].startswith("<script>alert(1)</script>") and "| pipe" in got[1][0]


def test_no_secret_reaches_the_summary(rendered: Any) -> None:
    for text, _html in rendered.values():
        assert SECRET not in text
    assert "client_secret=REDACTED" in rendered["failing"][0]


def big_report(n: int) -> dict[str, Any]:
    report = failing_report()
    template = next(c for c in report["checks"] if c["status"] == "failed")
    for i in range(n):
        check = copy.deepcopy(template)
        check["id"] = f"generated-{i}"
        check["evidence"] = f"line {i}\n" + "x" * 30_000
        report["checks"].append(check)
    return report


def test_a_huge_report_stays_under_the_step_summary_limit_with_a_note() -> None:
    text = render_markdown(big_report(80))  # ~ 80 x 20 kB of evidence
    assert len(text.encode()) <= STEP_SUMMARY_LIMIT
    assert "This summary was cut to stay under GitHub's step-summary limit" in text
    assert text.count("```") % 2 == 0  # no block was cut in half
    assert "| `happy-path` |" in text  # the verdict table always comes first


def test_a_small_limit_keeps_the_heading_and_table_and_says_what_was_left_out() -> None:
    text = render_markdown(failing_report(), limit=4_000)
    assert len(text.encode()) <= 4_000
    assert text.startswith("## ❌ m2m-contract conformance: failed")
    assert "| `bad-credentials` |" in text
    cut = text.split("This summary was cut to stay under GitHub's step-summary limit: ")[1]
    assert int(cut.split()[0]) > 0


def test_evidence_longer_than_its_cap_is_cut_with_a_note() -> None:
    text = render_markdown(big_report(1))
    assert "characters cut" in text
