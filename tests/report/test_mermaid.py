"""The Mermaid text, checked by Mermaid's own parser (mermaid 11.17.2 under Node.js).

Each diagram is parsed by `mermaid.parse()` and read back from the sequence diagram's
database: which participants, which messages of which arrow type, with which labels, so
a label that broke a line, opened a directive or declared a participant would show.
"""

from __future__ import annotations

import html
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from m2m_contract.report import mermaid, render_markdown
from m2m_contract.report._diagram import MERMAID_LABEL, Step, plan, timing
from m2m_contract.report._text import ellipsize

from . import node
from .browser import dump_dom
from .samples import HOSTILE, PARTICIPANTS, failing_report, hostile_report, step


def diagram(steps: list[dict[str, Any]], participants: Any = None) -> dict[str, Any]:
    return {"participants": participants or PARTICIPANTS, "steps": steps, "note": "n: x"}


def sample_diagrams() -> list[dict[str, Any]]:
    found = [c["diagram"] for r in (failing_report(), hostile_report()) for c in r["checks"]
             if "diagram" in c]  # fmt: skip
    hostile_ids = [{"id": i, "label": i} for i in ("end", "x y", "A-->>B", "Note", "", "日本")]
    found += [
        diagram([]),
        diagram([step(0.1 * i, "C", "R", f"GET /{i}", "200", i == 33) for i in range(40)]),
        diagram([step(0.0, "C", "C", "a timer", None)]),
        diagram([step(0.0, "Z", "C", "unknown ids", "ok")]),
        diagram([step(0.0, a["id"], b["id"], HOSTILE, HOSTILE, True)
                 for a, b in pairwise(hostile_ids)], hostile_ids),
        diagram([step(0.0, "C", "A", "x" * 10_000 + ";#%\n", "%%{init: {}}%%")]),
        diagram([step(0.0, "C", "A", "wrap: nowrap: style:a#1; classDef x", ":;#")]),
        diagram([step(0.0, "C", "A", "", "")]),
        diagram([step(0.0, "C", "A", "a<br>b<br/>c <b>bold</b>", "<script>alert(1)</script>")]),
    ]  # fmt: skip
    return found


@pytest.fixture(scope="module")
def parsed() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    models = sample_diagrams()
    return list(zip(models, node.run("mermaid", [mermaid(m) for m in models]), strict=True))


def expected_messages(model: dict[str, Any]) -> list[tuple[str, str]]:
    """(label of the request, label of the answer) per drawn step, as Mermaid shows them."""
    out = []
    for row in plan(model).rows:
        if isinstance(row, Step):
            request = ellipsize(f"{timing(row.at)} {row.request}", MERMAID_LABEL).strip()
            answer = "no answer" if row.answer is None else ellipsize(row.answer, MERMAID_LABEL)
            out.append((request or "\xa0", answer.strip() or "\xa0"))
    return out


def test_every_diagram_parses_as_a_sequence_diagram(parsed: list[Any]) -> None:
    failures = [(mermaid(m), r["error"]) for m, r in parsed if not r["ok"]]
    assert not failures
    assert {r["type"] for _m, r in parsed} == {"sequence"}


def test_no_label_sets_a_directive_or_config(parsed: list[Any]) -> None:
    assert all(r["config"] == {} for _m, r in parsed)


def test_participants_are_the_drawn_ones_with_their_labels(parsed: list[Any]) -> None:
    for model, result in parsed:
        labels = [label for _pid, label in plan(model).participants]
        shown = [node.shown(a["description"]) for a in result["actors"]]
        assert shown == [ellipsize(label, 40).strip() or "\xa0" for label in labels]


def test_labels_reach_mermaid_exactly_as_the_report_shows_them(parsed: list[Any]) -> None:
    for model, result in parsed:
        types = result["linetypes"]
        kinds = (types["SOLID"], types["DOTTED"], types["DOTTED_CROSS"])
        arrows = [m for m in result["messages"] if m["type"] in kinds]
        got = [node.shown(m["message"]) for m in arrows]
        want = [label for pair in expected_messages(model) for label in pair]
        assert got == want


def test_labels_keep_hash_semicolon_colon_and_percent(parsed: list[Any]) -> None:
    _model, result = parsed[-3]
    messages = [node.shown(m["message"]) for m in result["messages"]]
    assert "+0.00 s wrap: nowrap: style:a#1; classDef x" in messages
    assert ":;#" in messages


def test_the_note_over_all_participants_names_the_check(parsed: list[Any]) -> None:
    model, result = parsed[4]  # api-token-not-expired
    note = result["messages"][0]
    assert note["type"] == result["linetypes"]["NOTE"]
    assert node.shown(note["message"]) == model["note"]
    assert (note["from"], note["to"]) == ("C", "R")


def test_culprit_steps_sit_in_a_red_rect_with_a_culprit_note(parsed: list[Any]) -> None:
    model, result = parsed[4]
    types = result["linetypes"]
    kinds = [m["type"] for m in result["messages"]]
    culprits = sum(s["culprit"] for s in model["steps"])
    assert kinds.count(types["RECT_START"]) == kinds.count(types["RECT_END"]) == culprits == 2
    for start in (i for i, k in enumerate(kinds) if k == types["RECT_START"]):
        assert kinds[start + 1 : start + 5] == [
            types["SOLID"], types["DOTTED"], types["NOTE"], types["RECT_END"]
        ]  # fmt: skip
        assert "culprit" in result["messages"][start + 3]["message"]


def test_a_missing_answer_is_a_dotted_cross_arrow(parsed: list[Any]) -> None:
    def lost_api_call(model: dict[str, Any]) -> bool:
        last = model["steps"][-1] if model["steps"] else {}
        return last.get("answer", "") is None and last["from"] == "C" and last["to"] == "R"

    result = next(r for m, r in parsed if lost_api_call(m))
    last = [m for m in result["messages"] if m["type"] == result["linetypes"]["DOTTED_CROSS"]]
    assert [node.shown(m["message"]) for m in last] == ["no answer"]


def test_a_capped_diagram_says_how_many_steps_were_left_out(parsed: list[Any]) -> None:
    result = next(r for m, r in parsed if len(m["steps"]) == 40)
    notes = [node.shown(m["message"]) for m in result["messages"]
             if m["type"] == result["linetypes"]["NOTE"]]  # fmt: skip
    left_out = [n for n in notes if n.startswith("⋯")]
    assert sum(int(n.split()[1]) for n in left_out) == 16
    assert any("+3.30 s GET /33" in node.shown(m["message"]) for m in result["messages"])


def test_markdown_mermaid_blocks_parse_one_per_diagram() -> None:
    reports = [failing_report(), hostile_report()]
    rendered = node.run("markdown", [render_markdown(r) for r in reports])
    for report, result in zip(reports, rendered, strict=True):
        with_diagram = [c for c in report["checks"] if "diagram" in c]
        assert len(result["mermaid"]) == len(with_diagram)
        assert all(r["ok"] for r in node.run("mermaid", result["mermaid"]))


RENDER = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><pre id="out"></pre>
<script src="%s"></script>
<script>
mermaid.initialize({startOnLoad: false});
(async () => {
  const shown = [];
  for (const [i, text] of %s.entries()) {
    const {svg} = await mermaid.render(`d${i}`, text);
    const box = document.createElement("div");
    box.innerHTML = svg;
    shown.push([...box.querySelectorAll(".messageText")].map((e) => e.textContent));
  }
  document.getElementById("out").textContent = JSON.stringify(shown);
})();
</script></body></html>"""


def test_mermaid_in_a_browser_draws_every_label_as_written(tmp_path: Path) -> None:
    node.ensure_installed()
    models = sample_diagrams()
    texts = json.dumps([mermaid(m) for m in models]).replace("<", "\\u003c")
    script = node.HERE / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    page = tmp_path / "mermaid.html"
    page.write_text(RENDER % (script.as_uri(), texts), encoding="utf-8")
    dom = dump_dom(page)
    found = dom.split('<pre id="out">', 1)[1].split("</pre>", 1)[0]
    assert found, "mermaid drew nothing"
    shown = json.loads(html.unescape(found))
    for model, labels in zip(models, shown, strict=True):
        assert labels == [label for pair in expected_messages(model) for label in pair]
