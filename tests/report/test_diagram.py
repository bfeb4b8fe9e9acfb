"""The sequence diagram: its SVG drawing and its plan (what is drawn, what is left out)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from m2m_contract.report import sequence_svg
from m2m_contract.report._diagram import MAX_STEPS, Gap, Step, plan
from m2m_contract.report._text import cells, ellipsize, visible

from .samples import HOSTILE, PARTICIPANTS, failing_report, hostile_report, step

NS = "{http://www.w3.org/2000/svg}"
SVG_ELEMENTS = {"svg", "title", "style", "rect", "g", "line", "polygon", "path", "text", "circle"}


def diagrams(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c["diagram"] for c in report["checks"] if "diagram" in c]


def diagram(steps: list[dict[str, Any]], note: str = "a-check: what broke") -> dict[str, Any]:
    return {"participants": PARTICIPANTS, "steps": steps, "note": note}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def groups(root: ET.Element, css: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{NS}g") if css in (g.get("class") or "").split()]


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter(f"{NS}text")]


def own_titles(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.findall(f"{NS}title")]


ALL = diagrams(failing_report()) + diagrams(hostile_report())


@pytest.mark.parametrize("model", ALL, ids=lambda d: d["note"][:30])
def test_svg_is_well_formed_xml_of_svg_elements_only(model: dict[str, Any]) -> None:
    root = parse(sequence_svg(model))
    assert root.tag == f"{NS}svg"
    assert {e.tag.removeprefix(NS) for e in root.iter()} <= SVG_ELEMENTS
    assert not [a for e in root.iter() for a in e.attrib if a.startswith("on") or "href" in a]


@pytest.mark.parametrize("model", ALL, ids=lambda d: d["note"][:30])
def test_svg_is_sized_to_its_content(model: dict[str, Any]) -> None:
    root = parse(sequence_svg(model))
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert 400 < width <= 1100
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in root.iter():
        tag = element.tag.removeprefix(NS)
        if tag in ("rect", "circle") and element.get("class") != "bg":
            x = float(element.get("x", element.get("cx", "0")))
            y = float(element.get("y", element.get("cy", "0")))
            assert x >= 0 and x + float(element.get("width", "0")) <= width
            assert y >= 0 and y + float(element.get("height", "0")) <= height
        if tag == "line":
            for axis, limit in (("x", width), ("y", height)):
                for end in "12":
                    assert 0 <= float(element.get(f"{axis}{end}", "0")) <= limit
        if tag == "text":
            # generous glyph widths: 7.3 px a monospace cell, 8.2 px a bold sans character
            parent = parents[parents[element]] if parents[element].tag == f"{NS}g" else None
            sans = any("head" in (p.get("class") or "") or "note" in (p.get("class") or "")
                       for p in (parents[element], parent) if p is not None)  # fmt: skip
            extent = cells("".join(element.itertext())) * (8.2 if sans else 7.3)
            x = float(element.get("x", "0"))
            anchor = element.get("text-anchor", "start")
            left = x - extent / 2 if anchor == "middle" else x - extent if anchor == "end" else x
            assert left >= -1 and left + extent <= width + 1, "".join(element.itertext())
            assert 0 < float(element.get("y", "0")) <= height


def test_every_step_has_a_request_arrow_and_a_dashed_answer_arrow() -> None:
    model = diagrams(failing_report())[4]  # api-token-not-expired: six steps
    root = parse(sequence_svg(model))
    assert len(groups(root, "request")) == len(model["steps"]) == 6
    answers = groups(root, "answer")
    assert len(answers) == 6
    assert all(a.find(f"{NS}line[@stroke-dasharray]") is not None for a in answers)
    assert all(g.find(f"{NS}line[@stroke-dasharray]") is None for g in groups(root, "request"))


def test_each_step_shows_its_time_since_the_first_exchange() -> None:
    model = diagrams(failing_report())[4]
    root = parse(sequence_svg(model))
    times = [t for g in root.iter(f"{NS}text") if g.get("class") == "time" for t in [g.text]]
    assert times == ["+0.00 s", "+0.02 s", "+1.13 s", "+2.25 s", "+3.37 s", "+4.48 s"]


def test_culprit_steps_are_banded_and_carry_a_marker_not_only_a_colour() -> None:
    model = diagrams(failing_report())[4]
    root = parse(sequence_svg(model))
    culprits = groups(root, "culprit")
    assert len(culprits) == sum(s["culprit"] for s in model["steps"]) == 2
    for g in culprits:
        assert g.find(f"{NS}rect[@class='band']") is not None
        mark = groups(g, "mark")
        assert len(mark) == 1 and texts(mark[0]) == ["!"]
        assert any("breaks the check" in t for t in own_titles(groups(g, "request")[0]))
    plain = [g for g in groups(root, "step") if g not in culprits]
    assert plain and not any(groups(g, "mark") for g in plain)


def test_a_missing_answer_is_drawn_as_a_cross_saying_no_answer() -> None:
    model = diagram([step(0.0, "C", "A", "POST /oauth/token json{}", "200 token"),
                     step(0.4, "C", "R", "GET /api/appointments", None)])  # fmt: skip
    root = parse(sequence_svg(model))
    lost = groups(root, "lost")
    assert len(lost) == 1
    assert lost[0].find(f"{NS}path[@class='cross']") is not None
    assert texts(lost[0]) == ["✕ no answer"]
    assert len(groups(root, "answer")) == 2


def test_the_note_naming_the_check_is_drawn_above_the_steps() -> None:
    model = diagrams(failing_report())[4]
    root = parse(sequence_svg(model))
    (note,) = groups(root, "note")
    assert " ".join(texts(note)) == model["note"]
    first_step = groups(root, "step")[0]
    note_bottom = max(float(r.get("y", "0")) + float(r.get("height", "0"))
                      for r in note.iter(f"{NS}rect"))  # fmt: skip
    assert note_bottom < min(float(t.get("y", "0")) for t in first_step.iter(f"{NS}text"))


def test_long_labels_end_in_an_ellipsis_with_the_full_text_as_tooltip() -> None:
    request = "GET /api/" + "x" * 500
    root = parse(sequence_svg(diagram([step(0.0, "C", "R", request, "200")])))
    (group,) = groups(root, "request")
    shown = texts(group)
    assert shown[-1].endswith("…") and len("".join(shown)) < 300
    assert own_titles(group) == [f"+0.00 s {request} → 200"]


def test_only_participants_that_appear_in_steps_are_drawn() -> None:
    model = diagrams(failing_report())[0]  # a token request only: client and Auth0
    heads = [" ".join(texts(g)) for g in groups(parse(sequence_svg(model)), "head")]
    assert sorted(set(heads)) == ["Auth0 emulator", "Client"]
    assert len(heads) == 4  # each drawn at the top and at the bottom


def test_a_long_run_is_capped_keeping_the_culprit_and_counting_the_rest() -> None:
    steps = [step(0.1 * i, "C", "R", f"GET /api/{i}", "200", culprit=i == 35) for i in range(40)]
    root = parse(sequence_svg(diagram(steps)))
    drawn = groups(root, "step")
    assert len(drawn) == MAX_STEPS
    assert any("GET /api/35" in " ".join(texts(g)) for g in groups(root, "culprit"))
    gaps = [" ".join(texts(g)) for g in groups(root, "gap")]
    left_out = sum(int(text.split()[1]) for text in gaps)
    assert left_out == 40 - MAX_STEPS
    assert "(24 of 40 steps drawn)" in (root.findtext(f"{NS}title") or "")


def test_the_plan_orders_culprit_context_then_the_earliest_steps() -> None:
    steps = [step(float(i), "C", "R", f"GET /{i}", "200", culprit=i in (30, 31)) for i in range(40)]
    drawn = plan(diagram(steps), cap=6)
    indices = [row.index for row in drawn.rows if isinstance(row, Step)]
    assert indices == [0, 1, 29, 30, 31, 32]
    assert [r.count for r in drawn.rows if isinstance(r, Gap)] == [27, 7]


def test_no_steps_draws_the_note_and_says_nothing_was_exchanged() -> None:
    root = parse(sequence_svg(diagram([], note="client-finishes: no request at all")))
    assert groups(root, "note") and not groups(root, "step")
    assert "no exchanges recorded" in texts(root)
    assert [" ".join(texts(g)) for g in groups(root, "head")] == ["Client", "Client"]


def test_a_step_to_itself_is_drawn_as_a_loop() -> None:
    root = parse(sequence_svg(diagram([step(0.0, "C", "C", "retry timer", "fired")])))
    (request,) = groups(root, "request")
    assert request.find(f"{NS}path") is not None


def test_hostile_labels_stay_text_in_the_svg() -> None:
    svg = sequence_svg(diagrams(hostile_report())[0])
    root = parse(svg)
    shown = " ".join(texts(root)) + " ".join(t.text or "" for t in root.iter(f"{NS}title"))
    assert "<script>alert(1)</script>" in shown  # as text, after XML unescaping
    assert "<script" not in svg and "<img" not in svg
    assert "\x1b" not in svg and "\\x1b" in shown
    assert "\n%%" not in shown and "\\n" in shown


def test_visible_shows_control_and_format_characters_as_escapes() -> None:
    assert visible("a\nb\r\t\x1b[31m\x00\x7f\u202eZ\u2028\ud800") == (
        "a\\nb\\r\\t\\x1b[31m\\0\\x7f\\u202eZ\\u2028\\ud800"
    )
    assert visible("line 1\n\tline 2\x1b", keep_newlines=True) == "line 1\n\tline 2\\x1b"
    assert visible("日本語 🔑 ß") == "日本語 🔑 ß"
    assert visible(None) == "" and visible(3) == "3"


def test_ellipsize_counts_wide_characters_as_two_cells() -> None:
    assert ellipsize("abcdef", 6) == "abcdef"
    assert ellipsize("abcdefg", 6) == "abcde…"
    assert ellipsize("日本語日本語", 6) == "日本…"
    assert cells(ellipsize("🔑" * 50, 11)) <= 11


def test_svg_embeds_no_reference_to_anything_outside_it() -> None:
    for model in ALL:
        svg = sequence_svg(model)
        outside = svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "url(" not in outside and "@import" not in outside and "href" not in outside
        assert HOSTILE not in svg
