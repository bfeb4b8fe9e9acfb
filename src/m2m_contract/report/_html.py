"""The report as one self-contained HTML file a partner opens from a CI artifact.

Inline CSS and inline SVG only: no script, no font, image or stylesheet from anywhere, and
a Content-Security-Policy that would block them if one ever slipped in. Every string of
the model is escaped, its control characters made visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from ._diagram import sequence_svg
from ._markdown import headline
from ._text import counted, visible

EVIDENCE_LIMIT = 40_000  # characters of one check's evidence
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'"  # noqa: E501

_LIGHT = (
    "--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--subtle:#f6f8fa;"
    "--fail:#cf222e;--fail-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;--ok:#1a7f37;"
    "--ok-bg:#dafbe1;--skip:#59636e;--skip-bg:#eff2f5;--link:#0969da"
)
_DARK = (
    "--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--border:#3d444d;--subtle:#151b23;"
    "--fail:#ff7b72;--fail-bg:#3c1618;--warn:#d29922;--warn-bg:#3a2d0e;--ok:#3fb950;"
    "--ok-bg:#12261e;--skip:#9198a1;--skip-bg:#212830;--link:#4493f8"
)
_MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono','DejaVu Sans Mono',monospace"
_SANS = (
    "system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,'Liberation Sans',sans-serif"
)
_CSS = f"""
:root{{color-scheme:light dark;{_LIGHT}}}
@media (prefers-color-scheme:dark){{:root{{{_DARK}}}}}
*{{box-sizing:border-box}}
body{{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 {_SANS}}}
code,pre{{font-family:{_MONO};font-size:13px}}
a{{color:var(--link)}}
.wrap{{max-width:1140px;margin:0 auto;padding:0 24px}}
.skiplink{{position:absolute;left:-9999px}}
.skiplink:focus{{left:12px;top:12px;background:var(--bg);padding:6px 10px;z-index:1}}
.top{{background:var(--subtle);border-bottom:1px solid var(--border);border-top:6px solid var(--ok);
  padding:24px 0 22px}}
.top.failed{{border-top-color:var(--fail)}}
.kicker{{margin:0;color:var(--muted);font-size:13px;font-weight:600;letter-spacing:.05em;
  text-transform:uppercase}}
h1{{margin:6px 0 14px;font-size:26px;line-height:1.3;display:flex;flex-wrap:wrap;gap:6px 14px;
  align-items:center}}
.verdict{{display:inline-block;padding:3px 14px;border-radius:999px;font-size:17px;
  font-weight:800;letter-spacing:.03em;border:2px solid currentColor;white-space:nowrap}}
.verdict.failed{{color:var(--fail);background:var(--fail-bg)}}
.verdict.passed{{color:var(--ok);background:var(--ok-bg)}}
.meta{{display:grid;grid-template-columns:max-content 1fr;gap:2px 18px;margin:0 0 18px;
  font-size:14px}}
.meta dt{{color:var(--muted)}}
.meta dd{{margin:0;overflow-wrap:anywhere}}
.stats{{list-style:none;display:flex;flex-wrap:wrap;gap:12px;margin:0;padding:0}}
.stats li{{min-width:132px;padding:8px 14px;background:var(--bg);border:1px solid var(--border);
  border-left:5px solid var(--skip);border-radius:8px;color:var(--muted);font-size:14px}}
.stats b{{display:block;font-size:26px;line-height:1.15;color:var(--fg)}}
.stats .failed{{border-left-color:var(--fail)}}
.stats .warning{{border-left-color:var(--warn)}}
.stats .passed{{border-left-color:var(--ok)}}
main{{padding-bottom:32px}}
h2{{font-size:20px;margin:30px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--border)}}
.lead{{color:var(--muted);margin:-4px 0 12px;font-size:14px}}
table{{border-collapse:collapse;width:100%;font-size:14px}}
caption{{text-align:left;color:var(--muted);font-size:13px;padding-bottom:6px}}
th,td{{padding:7px 10px;border-bottom:1px solid var(--border);text-align:left;vertical-align:top}}
thead th{{background:var(--subtle);font-weight:600;white-space:nowrap}}
tbody th{{font-weight:600;font-family:{_MONO};font-size:13px;overflow-wrap:anywhere;
  min-width:21ch}}
td.n{{text-align:right;font-variant-numeric:tabular-nums;width:4.5em;white-space:nowrap}}
td.exit{{font-family:{_MONO};font-size:13px;overflow-wrap:anywhere;min-width:14ch}}
td.what{{color:var(--muted);overflow-wrap:anywhere}}
.tag{{display:inline-block;padding:0 9px;border-radius:999px;font-size:12px;font-weight:700;
  line-height:20px;border:1px solid currentColor;white-space:nowrap;vertical-align:middle}}
.tag.fail{{color:var(--fail);background:var(--fail-bg)}}
.tag.warn{{color:var(--warn);background:var(--warn-bg)}}
.tag.ok{{color:var(--ok);background:var(--ok-bg)}}
.tag.skip{{color:var(--skip);background:var(--skip-bg)}}
.tag.plain{{color:var(--muted);background:transparent;font-weight:600}}
.scenario{{margin:22px 0;border:1px solid var(--border);border-radius:10px;overflow:hidden}}
.scenario>header{{padding:12px 16px;background:var(--subtle)}}
.scenario h3{{margin:0;font-size:18px;display:flex;flex-wrap:wrap;gap:4px 10px;align-items:center}}
.scenario h3 code{{font-size:17px;overflow-wrap:anywhere}}
.scenario .facts{{margin:2px 0 0;color:var(--muted);font-size:14px;overflow-wrap:anywhere}}
.check{{padding:14px 16px 12px;border-top:1px solid var(--border);
  border-left:5px solid var(--fail)}}
.check.warning{{border-left-color:var(--warn)}}
.check h4{{margin:0;font-size:16px;display:flex;flex-wrap:wrap;gap:4px 10px;align-items:center}}
.check h4 code{{font-size:15px;overflow-wrap:anywhere}}
.check .title{{margin:2px 0 0;color:var(--muted);font-size:14px;overflow-wrap:anywhere}}
.message{{margin:10px 0;padding:8px 12px;border-radius:6px;background:var(--fail-bg);
  overflow-wrap:anywhere}}
.warning .message{{background:var(--warn-bg)}}
.label{{margin:12px 0 4px;font-size:13px;font-weight:700;color:var(--muted);
  text-transform:uppercase;letter-spacing:.04em}}
pre{{margin:0;padding:10px 12px;background:var(--subtle);border:1px solid var(--border);
  border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.45}}
pre .hit{{background:var(--fail-bg);color:var(--fail);font-weight:700}}
figure{{margin:8px 0 0;overflow-x:auto}}
figure svg{{display:block;max-width:100%;height:auto;border:1px solid var(--border);
  border-radius:8px}}
figcaption{{font-size:13px;color:var(--muted);margin-top:4px}}
details{{margin:8px 0}}
summary{{cursor:pointer;font-weight:600}}
.output{{padding:10px 16px 12px;border-top:1px solid var(--border)}}
.output pre{{margin-top:6px}}
.passed-list{{columns:2 340px;margin:6px 0 4px;padding-left:0;list-style:none;font-size:14px}}
.passed-list li{{break-inside:avoid;margin-bottom:2px}}
.passed-list .why{{color:var(--muted)}}
.all-good{{padding:14px 16px;border:1px solid var(--border);border-left:5px solid var(--ok);
  border-radius:8px;background:var(--ok-bg)}}
footer{{border-top:1px solid var(--border);color:var(--muted);font-size:13px;padding:6px 0 20px}}
@media print{{
:root{{{_LIGHT};color-scheme:light}}
body{{font-size:12px}}
.skiplink{{display:none}}
.top,.tag,.verdict,.check,.message,pre .hit{{-webkit-print-color-adjust:exact;
  print-color-adjust:exact}}
.check,figure{{break-inside:avoid}}
.scenario{{break-inside:auto}}
a{{color:inherit;text-decoration:none}}
}}
"""

_TAG = {"FAIL": ("fail", "✗ FAIL"), "warn": ("warn", "⚠ warn"), "ok": ("ok", "✓ ok")}
_STATUS = {
    "failed": ("fail", "✗ FAIL"),
    "warning": ("warn", "⚠ WARN"),
    "passed": ("ok", "✓ pass"),
    "skipped": ("skip", "○ skip"),
}


def _h(value: object) -> str:
    """One line of untrusted text as HTML text or attribute content."""
    return escape(visible(value), quote=True)


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _tag(kind: str, text: str) -> str:
    return f'<span class="tag {kind}">{escape(text)}</span>'


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else _h(value)


def _counts(counts: Mapping[str, Any]) -> str:
    keys = ("passed", "failed", "warnings", "skipped")
    return ", ".join(
        counted(_int(counts.get(k)), "warning") if k == "warnings" else f"{_int(counts.get(k))} {k}"
        for k in keys
    )


def _evidence(text: object) -> str:
    """Evidence lines; a line the harness marked '!!' (a culprit) is highlighted."""
    raw = visible(text, keep_newlines=True)
    if len(raw) > EVIDENCE_LIMIT:
        raw = raw[:EVIDENCE_LIMIT] + f"\n… {len(raw) - EVIDENCE_LIMIT:,} more characters cut"
    lines = []
    for line in raw.split("\n"):
        shown = escape(line, quote=True)
        lines.append(f'<span class="hit">{shown}</span>' if line.startswith("!!") else shown)
    return "\n".join(lines)


def _header(report: Mapping[str, Any]) -> str:
    verdict = "failed" if report.get("verdict") != "passed" else "passed"
    suite = visible(report.get("suite") or "conformance")
    who = "Tenant token URL" if suite == "live" else "Client under test"
    summary = report.get("summary") or {}
    stats = "".join(
        f'<li class="{css}"><b>{_int(summary.get(key))}</b>{label}</li>'
        for key, css, label in (
            ("failed", "failed", "failed"),
            ("warnings", "warning", "warnings"),
            ("passed", "passed", "passed"),
            ("skipped", "skipped", "skipped"),
        )
    )
    mark = "✗ FAILED" if verdict == "failed" else "✓ PASSED"
    return (
        f'<header class="top {verdict}"><div class="wrap">'
        f'<p class="kicker">m2m-contract · {_h(suite)} report</p>'
        f'<h1><span class="verdict {verdict}">{mark}</span>'
        f"<span>{escape(headline(report))}</span></h1>"
        f'<dl class="meta"><dt>{who}</dt><dd><code>{_h(report.get("client"))}</code></dd>'
        f"<dt>Profile</dt><dd>{_h(report.get('profile'))}</dd>"
        f"<dt>Strict</dt><dd>{'yes: SHOULD warnings fail the run' if report.get('strict') else 'no: SHOULD checks warn'}</dd>"  # noqa: E501
        f'</dl><ul class="stats" aria-label="Checks">{stats}</ul></div></header>'
    )


def _table(scenarios: list[Mapping[str, Any]], anchors: dict[str, str]) -> str:
    rows = []
    for sc in scenarios:
        name = visible(sc.get("name"))
        label = escape(name, quote=True)
        if name in anchors:
            label = f'<a href="#{anchors[name]}">{label}</a>'
        kind, text = _TAG.get(str(sc.get("verdict")), ("plain", visible(sc.get("verdict"))))
        counts = sc.get("counts") or {}
        cells = "".join(
            f'<td class="n">{_int(counts.get(k))}</td>'
            for k in ("passed", "failed", "warnings", "skipped")
        )
        rows.append(
            f'<tr><th scope="row">{label}</th><td>{_tag(kind, text)}</td>{cells}'
            f'<td class="exit">{_h(sc.get("exit"))}</td>'
            f'<td class="n">{_seconds(sc.get("duration"))}</td>'
            f'<td class="what">{_h(sc.get("summary"))}</td></tr>'
        )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("Scenario", "Verdict", "Passed", "Failed", "Warnings", "Skipped", "Exit",
                  "Time", "What the emulator does")
    )  # fmt: skip
    return (
        '<section aria-labelledby="scenarios"><h2 id="scenarios">Scenarios</h2>'
        f"<table><caption>{counted(len(scenarios), 'scenario')}, one row each; a scenario's "
        "name links "
        "to its failures and warnings.</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _check(check: Mapping[str, Any], anchor: str) -> str:
    status = str(check.get("status"))
    kind, text = _STATUS.get(status, ("plain", visible(status)))
    facts = [
        _tag("plain", visible(check.get("severity"))),
        _tag("plain", visible(check.get("clause"))),
    ]
    if check.get("baseline") == "expected":
        facts.append(_tag("skip", "baseline: expected failure"))
    parts = [
        f'<article class="check {"warning" if status == "warning" else "failed"}" '
        f'id="{anchor}" aria-labelledby="{anchor}-h">'
        f'<h4 id="{anchor}-h">{_tag(kind, text)} <code>{_h(check.get("id"))}</code>'
        f"{' '.join(facts)}</h4>"
        f'<p class="title">{_h(check.get("title"))}</p>'
        f'<p class="message">{_h(check.get("message"))}</p>'
    ]
    detail = []
    diagram = check.get("diagram")
    if isinstance(diagram, Mapping):
        detail.append(
            f'<figure class="diagram">{sequence_svg(diagram)}<figcaption>The exchanges of '
            "this scenario. Steps marked <b>!</b> on a red band break the check; ✕ is a "
            "request that got no answer. Hover a label for its full text.</figcaption></figure>"
        )
    if check.get("evidence"):
        detail.append(f'<p class="label">Evidence</p><pre>{_evidence(check.get("evidence"))}</pre>')
    if status == "warning" and detail:  # a warning's detail waits for a click
        detail = ["<details><summary>Diagram and evidence</summary>", *detail, "</details>"]
    return "".join(parts + detail) + "</article>"


def _output(sc: Mapping[str, Any]) -> str:
    output = sc.get("output") or {}
    lines = [visible(line) for line in output.get("lines") or []]
    dropped, dropped_bytes = _int(output.get("dropped_lines")), _int(output.get("dropped_bytes"))
    note = (f", {counted(dropped, 'earlier line')} ({dropped_bytes:,} bytes) not kept"
            if dropped else "")
    body = escape("\n".join(lines), quote=True) if lines else "(the client printed nothing)"
    return (
        f'<details class="output" open><summary>Client output: last '
        f"{counted(len(lines), 'line')}"
        f"{note}, secrets redacted</summary><pre>{body}</pre></details>"
    )


def _order(check: Mapping[str, Any]) -> tuple[int, int]:
    status = 0 if check.get("status") == "failed" else 1
    return status, 0 if check.get("severity") == "MUST" else 1


def _findings(
    scenarios: list[Mapping[str, Any]], by_scenario: dict[str, list[Mapping[str, Any]]]
) -> tuple[str, dict[str, str]]:
    anchors: dict[str, str] = {}
    sections = []
    for n, sc in enumerate(scenarios, start=1):
        name = visible(sc.get("name"))
        found = [c for c in by_scenario.get(name, []) if c.get("status") in ("failed", "warning")]
        if not found:
            continue
        anchor = anchors[name] = f"s{n}"
        found.sort(key=_order)
        kind, text = _TAG.get(str(sc.get("verdict")), ("plain", visible(sc.get("verdict"))))
        checks = "".join(_check(c, f"{anchor}c{i}") for i, c in enumerate(found, start=1))
        sections.append(
            f'<section class="scenario" id="{anchor}" aria-labelledby="{anchor}-h"><header>'
            f'<h3 id="{anchor}-h">{_tag(kind, text)} <code>{escape(name, quote=True)}</code></h3>'
            f'<p class="facts">{_h(sc.get("summary"))} · exit {_h(sc.get("exit"))} · '
            f"{_seconds(sc.get('duration'))} · {_counts(sc.get('counts') or {})}</p>"
            f"</header>{checks}{_output(sc)}</section>"
        )
    if not sections:
        body = '<p class="all-good">✓ No check failed or warned in any scenario.</p>'
    else:
        body = "".join(sections)
    return (
        '<section aria-labelledby="findings"><h2 id="findings">Failures and warnings</h2>'
        '<p class="lead">Per scenario: each check that failed (MUST, or SHOULD under --strict) '
        "or warned, the clause it enforces, what was seen, and the client's last output."
        f"</p>{body}</section>",
        anchors,
    )


def _passed(
    scenarios: list[Mapping[str, Any]], by_scenario: dict[str, list[Mapping[str, Any]]]
) -> str:
    blocks = []
    for sc in scenarios:
        name = visible(sc.get("name"))
        rest = [c for c in by_scenario.get(name, []) if c.get("status") in ("passed", "skipped")]
        if not rest:
            continue
        items = []
        for c in rest:
            kind, text = _STATUS[str(c.get("status"))]
            stale = (
                " " + _tag("warn", "baseline entry is stale: remove it")
                if c.get("baseline") == "stale"
                else ""
            )
            why = c.get("message") if c.get("status") == "skipped" else c.get("title")
            items.append(
                f"<li>{_tag(kind, text)} <code>{_h(c.get('id'))}</code>{stale} "
                f'<span class="why">{_h(c.get("severity"))} · {_h(c.get("clause"))} · '
                f"{_h(why)}</span></li>"
            )
        passed = sum(c.get("status") == "passed" for c in rest)
        blocks.append(
            f"<details><summary><code>{escape(name, quote=True)}</code>: {passed} passed, "
            f'{len(rest) - passed} skipped</summary><ul class="passed-list">{"".join(items)}'
            "</ul></details>"
        )
    return (
        '<section aria-labelledby="passed"><h2 id="passed">Checks that passed</h2>'
        f"{''.join(blocks) or '<p>None.</p>'}</section>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one HTML document (no script, nothing loaded from anywhere)."""
    scenarios = [sc for sc in report.get("scenarios") or [] if isinstance(sc, Mapping)]
    by_scenario: dict[str, list[Mapping[str, Any]]] = {}
    for check in report.get("checks") or []:
        if isinstance(check, Mapping):
            by_scenario.setdefault(visible(check.get("scenario")), []).append(check)
    known = {visible(sc.get("name")) for sc in scenarios}
    scenarios += [{"name": name, "verdict": "FAIL"} for name in by_scenario if name not in known]
    findings, anchors = _findings(scenarios, by_scenario)
    verdict = "PASSED" if report.get("verdict") == "passed" else "FAILED"
    title = f"{verdict} · m2m-contract {visible(report.get('suite') or 'conformance')} · "
    title += visible(report.get("client"))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title, quote=True)}</title><style>{_CSS}</style></head><body>"
        '<a class="skiplink" href="#main">Skip to the results</a>'
        f'{_header(report)}<main id="main" class="wrap">{_table(scenarios, anchors)}'
        f"{findings}{_passed(scenarios, by_scenario)}</main>"
        '<footer><p class="wrap">Written by m2m-contract. Secrets and tokens were redacted '
        "before this report was written; this file loads nothing from the network and runs "
        "no script.</p></footer></body></html>\n"
    )
