"""The HTML report: self-contained, escaped, and complete (read back with html.parser)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import pytest

from m2m_contract.report import render_html, render_markdown
from m2m_contract.report._text import visible

from .markup import Element, parse, rows
from .samples import HOSTILE, SECRET, failing_report, hostile_report, passing_report

SVG = {"svg", "title", "style", "rect", "g", "line", "polygon", "path", "text", "circle"}
HTML = {
    "#root", "html", "head", "meta", "title", "style", "body", "a", "header", "div", "p", "h1",
    "h2", "h3", "h4", "span", "dl", "dt", "dd", "code", "ul", "li", "b", "main", "section",
    "table", "caption", "thead", "tbody", "tr", "th", "td", "article", "figure", "figcaption",
    "details", "summary", "pre", "footer",
}  # fmt: skip
ATTRS = {
    "class", "id", "href", "lang", "charset", "http-equiv", "content", "name", "scope", "role",
    "aria-label", "aria-labelledby", "open", "xmlns", "width", "height", "viewbox", "x", "y",
    "rx", "cx", "cy", "r", "x1", "y1", "x2", "y2", "d", "points", "text-anchor",
    "stroke-dasharray",
}  # fmt: skip
SVG_NS = "http://www.w3.org/2000/svg"  # a namespace name, never fetched


@pytest.fixture(scope="module")
def pages() -> dict[str, tuple[str, Element]]:
    reports = {
        "failing": failing_report(),
        "passing": passing_report(),
        "hostile": hostile_report(),
    }
    return {name: (html, parse(html)) for name, r in reports.items() for html in [render_html(r)]}


@pytest.mark.parametrize("name", ["failing", "passing", "hostile"])
def test_only_the_reports_own_elements_and_attributes_appear(pages: Any, name: str) -> None:
    _html, root = pages[name]
    for element in root.iter():
        assert element.tag in HTML | SVG, element.tag
        for attr, value in element.attrs.items():
            assert attr in ATTRS, (element.tag, attr)
            if attr == "href":
                assert value.startswith("#") and value[1:].isalnum(), value


@pytest.mark.parametrize("name", ["failing", "passing", "hostile"])
def test_nothing_is_referenced_outside_the_file(pages: Any, name: str) -> None:
    html, root = pages[name]
    for element in root.iter():
        for attr, value in element.attrs.items():
            if (attr, value) == ("xmlns", SVG_NS):
                continue
            assert "//" not in value and "http" not in value.lower(), (attr, value)
    for style in root.iter("style"):
        css = style.text
        assert "url(" not in css and "@import" not in css and "//" not in css
    assert "<script" not in html.lower() and "<img" not in html.lower()
    (csp,) = [m for m in root.iter("meta") if m.attrs.get("http-equiv")]
    assert csp.attrs["content"].startswith("default-src 'none';")


def test_hostile_strings_stay_text_with_controls_made_visible(pages: Any) -> None:
    html, root = pages["hostile"]
    body = root.iter("main")[0]
    assert visible(HOSTILE) in body.text
    assert "\x1b" not in html and "\r" not in html and "\u202e" not in html
    assert "\\x1b[31m" in html and "\\u202e" in html
    assert root.iter("title")[0].text.startswith("FAILED · m2m-contract conformance · <script>")


def test_the_summary_shows_verdict_counts_client_and_profile(pages: Any) -> None:
    _html, root = pages["failing"]
    header = root.iter("header")[0]
    assert root.iter("h1")[0].text == "✗ FAILED7 checks failed in 3 of 5 scenarios"
    summary = failing_report()["summary"]
    stats = {li.classes()[0]: li.iter("b")[0].text for li in header.iter("li")}
    assert stats == {
        "failed": str(summary["failed"]),
        "warning": str(summary["warnings"]),
        "passed": str(summary["passed"]),
        "skipped": str(summary["skipped"]),
    }
    facts = dict(zip([dt.text for dt in header.iter("dt")], [dd.text for dd in header.iter("dd")],
                     strict=True))  # fmt: skip
    assert facts["Client under test"] == "node partner-client.js"
    assert facts["Profile"] == "loyaltyone"
    assert pages["passing"][1].iter("h1")[0].text.startswith("✓ PASSED")


def test_the_scenario_table_matches_the_reports_counts(pages: Any) -> None:
    _html, root = pages["failing"]
    got = rows(root.iter("table")[0])
    report = failing_report()
    assert len(got) == len(report["scenarios"]) + 1
    for row, sc in zip(got[1:], report["scenarios"], strict=True):
        c = sc["counts"]
        assert row[0] == sc["name"]
        assert row[2:6] == [str(c[k]) for k in ("passed", "failed", "warnings", "skipped")]
        assert row[6] == sc["exit"]


def articles(root: Element) -> dict[tuple[str, str], Element]:
    """Each finding's <article>, by (scenario, check id)."""
    found = {}
    for section in root.iter("section"):
        if "scenario" in section.classes():
            scenario = section.iter("h3")[0].iter("code")[0].text
            for article in section.iter("article"):
                found[(scenario, article.iter("h4")[0].iter("code")[0].text)] = article
    return found


def test_every_failure_and_warning_appears_with_its_diagram_and_evidence(pages: Any) -> None:
    _html, root = pages["failing"]
    found = articles(root)
    findings = [c for c in failing_report()["checks"] if c["status"] in ("failed", "warning")]
    assert sorted(found) == sorted((c["scenario"], c["id"]) for c in findings)
    for check in findings:
        article = found[(check["scenario"], check["id"])]
        assert len(article.iter("svg")) == 1
        (pre,) = article.iter("pre")
        assert pre.text == check["evidence"]
        assert check["message"] in article.text and check["clause"] in article.text
        hits = [s.text for s in pre.iter("span") if "hit" in s.classes()]
        assert hits == [line for line in check["evidence"].splitlines() if line.startswith("!!")]
        warning = check["status"] == "warning"
        assert bool(article.iter("details")) == warning  # a warning's diagram waits for a click


def test_each_scenario_with_findings_shows_the_clients_output(pages: Any) -> None:
    _html, root = pages["failing"]
    shown = {}
    for section in root.iter("section"):
        if "scenario" in section.classes():
            (output,) = [d for d in section.iter("details") if "output" in d.classes()]
            shown[section.iter("h3")[0].iter("code")[0].text] = output.iter("pre")[0].text
    report = failing_report()
    assert shown == {sc["name"]: "\n".join(sc["output"]["lines"]) for sc in report["scenarios"]
                     if sc["verdict"] != "ok"}  # fmt: skip


def test_passing_checks_are_listed_compactly_per_scenario(pages: Any) -> None:
    _html, root = pages["failing"]
    (section,) = [s for s in root.iter("section") if s.attrs.get("aria-labelledby") == "passed"]
    listed = {d.iter("code")[0].text: len(d.iter("li")) for d in section.iter("details")}
    report = failing_report()
    assert listed == {sc["name"]: sc["counts"]["passed"] + sc["counts"]["skipped"]
                      for sc in report["scenarios"]}  # fmt: skip
    assert not any(d.attrs.get("open") is not None for d in section.iter("details"))


def test_the_page_has_headings_and_landmarks(pages: Any) -> None:
    _html, root = pages["failing"]
    assert len(root.iter("h1")) == 1
    body = root.iter("body")[0]
    landmarks = [e.tag for e in body.children if e.tag in ("header", "main", "footer")]
    assert landmarks == ["header", "main", "footer"]  # banner, main, contentinfo
    assert [h.text for h in root.iter("h2")] == [
        "Scenarios", "Failures and warnings", "Checks that passed"
    ]  # fmt: skip
    assert root.iter("html")[0].attrs["lang"] == "en"
    ids = [e.attrs["id"] for e in root.iter() if "id" in e.attrs]
    assert len(ids) == len(set(ids))
    labelled = [e.attrs["aria-labelledby"] for e in root.iter() if "aria-labelledby" in e.attrs]
    assert set(labelled) <= set(ids)


def test_a_check_of_an_unlisted_scenario_still_appears(pages: Any) -> None:
    report: dict[str, Any] = failing_report()
    orphan = dict(next(c for c in report["checks"] if c["status"] == "failed"))
    orphan["scenario"] = "not-in-the-table"
    report["checks"].append(orphan)
    assert ("not-in-the-table", orphan["id"]) in articles(parse(render_html(report)))


def test_the_file_holds_no_secret_in_any_spelling(pages: Any) -> None:
    spellings = {SECRET, quote(SECRET), base64.b64encode(SECRET.encode()).decode()}
    for html, _root in pages.values():
        assert not [s for s in spellings if s in html]
    assert "client_secret=REDACTED" in pages["failing"][0]


@pytest.mark.parametrize(
    "model",
    [
        {},
        {"scenarios": None, "checks": None, "summary": None},
        {"scenarios": [{}], "checks": [{}]},
        {
            "scenarios": [{"name": 3, "counts": None, "output": None, "duration": "x"}],
            "checks": [
                {
                    "status": "failed",
                    "scenario": 3,
                    "id": None,
                    "evidence": 5,
                    "diagram": {
                        "participants": "junk",
                        "steps": [{"at": float("nan"), "from": None, "to": 5}, "junk"],
                        "note": None,
                    },
                }
            ],
        },
    ],
)
def test_a_sparse_or_odd_model_still_renders(model: dict[str, Any]) -> None:
    root = parse(render_html(model))
    assert len(root.iter("h1")) == 1
    assert render_markdown(model).startswith("## ❌ m2m-contract conformance: failed")
