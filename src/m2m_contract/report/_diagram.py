"""A check's exchanges as a sequence diagram: inline SVG drawn here, and Mermaid text.

Both read the report's diagram model (participants, steps, note) and treat every string
in it as untrusted: control characters become visible escapes, markup is escaped for the
target syntax, and long labels are cut with an ellipsis. Nothing is fetched or embedded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from ._text import cells, ellipsize, visible

MAX_STEPS = 24  # drawn per diagram; the rest are counted in a "left out" row
MERMAID_LABEL = 160  # display cells per Mermaid label: GitHub draws labels in full

@dataclass(frozen=True)
class Step:
    """One drawn exchange, its labels already made visible."""

    index: int
    at: float
    src: str
    dst: str
    request: str
    answer: str | None
    culprit: bool


@dataclass(frozen=True)
class Gap:
    """Steps left out of the drawing (the cap), shown as one row."""

    count: int
    trailing: bool


@dataclass(frozen=True)
class Plan:
    """What a diagram draws: participants in order, rows, the note, the total step count."""

    participants: list[tuple[str, str]]
    rows: list[Step | Gap]
    note: str
    total: int

    @property
    def drawn(self) -> int:
        return sum(1 for row in self.rows if isinstance(row, Step))


def _float(value: object) -> float:
    try:
        number = float(value) if isinstance(value, int | float | str) else 0.0
    except ValueError:
        return 0.0
    return number if abs(number) < 1e9 else 0.0  # also false for NaN


def _steps(diagram: Mapping[str, Any]) -> list[Step]:
    raw = diagram.get("steps") or []
    steps: list[Step] = []
    for i, item in enumerate(raw if isinstance(raw, Sequence) else []):
        if not isinstance(item, Mapping):
            continue
        answer = item.get("answer")
        steps.append(
            Step(
                i,
                _float(item.get("at")),
                visible(item.get("from")) or "?",
                visible(item.get("to")) or "?",
                visible(item.get("request")),
                None if answer is None else visible(answer),
                bool(item.get("culprit")),
            )
        )
    return steps


def _chosen(steps: list[Step], cap: int) -> list[int]:
    """Indices to draw: every culprit with its neighbours first, then the earliest steps."""
    if len(steps) <= cap:
        return list(range(len(steps)))
    keep: list[int] = []
    for priority in (0, 1):
        for i, step in enumerate(steps):
            if step.culprit:
                for j in (i,) if priority == 0 else (i - 1, i + 1):
                    if 0 <= j < len(steps) and j not in keep and len(keep) < cap:
                        keep.append(j)
    for j in range(len(steps)):
        if len(keep) >= cap:
            break
        if j not in keep:
            keep.append(j)
    return sorted(keep)


def plan(diagram: Mapping[str, Any], cap: int = MAX_STEPS) -> Plan:
    """Choose what to draw: the capped steps, gaps where some were left out, participants."""
    steps = _steps(diagram)
    chosen = _chosen(steps, max(cap, 1))
    rows: list[Step | Gap] = []
    previous = -1
    for i in chosen:
        if i - previous > 1:
            rows.append(Gap(i - previous - 1, trailing=False))
        rows.append(steps[i])
        previous = i
    if steps and previous < len(steps) - 1:
        rows.append(Gap(len(steps) - 1 - previous, trailing=True))

    labels: dict[str, str] = {}
    given = diagram.get("participants") or []
    for item in given if isinstance(given, Sequence) else []:
        if isinstance(item, Mapping):
            pid = visible(item.get("id"))
            labels.setdefault(pid, visible(item.get("label")) or pid)
    used = [s for r in rows if isinstance(r, Step) for s in (r.src, r.dst)]
    order = [pid for pid in labels if pid in used]
    order += [pid for pid in dict.fromkeys(used) if pid not in labels]
    if not order:  # nothing exchanged: the client alone carries the note
        first = next(iter(labels), "C")
        order = [first]
    participants = [(pid, labels.get(pid, pid)) for pid in order]
    return Plan(participants, rows, visible(diagram.get("note")), len(steps))


def timing(at: float) -> str:
    """A step's time since the scenario's first exchange, as the labels show it."""
    return f"+{at:.2f} s"


def left_out(gap: Gap) -> str:
    noun = "step" if gap.count == 1 else "steps"
    if gap.trailing:
        return f"⋯ {gap.count} more {noun} not drawn"
    return f"⋯ {gap.count} {noun} left out"


# --- Mermaid -------------------------------------------------------------------------

# Mermaid's sequence grammar ends a label at '#', ';' and a newline; it reads '%%{' as a
# directive anywhere in the text, '<br>' as a line break and its own '#NN;' entities.
# Every character that could mean something is written as such an entity instead.
_MERMAID_ENTITIES = {c: f"#{ord(c)};" for c in "#;%<>&`¶ﬂ"}
_KEYWORD_IDS = {
    "participant", "actor", "as", "loop", "alt", "else", "opt", "par", "and", "rect",
    "critical", "option", "break", "end", "note", "over", "left", "right", "of", "activate",
    "deactivate", "autonumber", "title", "box", "links", "link", "properties", "details",
    "create", "destroy",
}  # fmt: skip


def mermaid_text(value: str, limit: int = MERMAID_LABEL) -> str:
    """A label safe on one line of a Mermaid sequence diagram (shown as written)."""
    text = ellipsize(visible(value), limit)
    text = "".join(_MERMAID_ENTITIES.get(c, c) for c in text)
    # Mermaid strips the ';' of 'style...:...#...;' before parsing; so never spell 'style'.
    text = text.replace("style", "#115;tyle").replace("classDef", "#99;lassDef")
    if text.lower().startswith(("wrap:", "nowrap:")):
        text = f"#{ord(text[0])};{text[1:]}"
    return text.strip() or "#160;"


def _mermaid_ids(participants: list[tuple[str, str]]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for n, (pid, _label) in enumerate(participants, start=1):
        safe = pid.isascii() and pid.isalnum() and pid[:1].isalpha() and len(pid) <= 12
        alias = pid if safe and pid.lower() not in _KEYWORD_IDS else f"P{n}"
        while alias in ids.values():
            alias = f"{alias}_{n}"
        ids[pid] = alias
    return ids


def mermaid(diagram: Mapping[str, Any]) -> str:
    """The diagram as Mermaid `sequenceDiagram` text: timings in labels, culprits boxed."""
    drawing = plan(diagram)
    ids = _mermaid_ids(drawing.participants)
    first, last = ids[drawing.participants[0][0]], ids[drawing.participants[-1][0]]
    span = first if first == last else f"{first},{last}"
    out = ["sequenceDiagram"]
    out += [f"    participant {ids[pid]} as {mermaid_text(label, 40)}" for pid, label in
            drawing.participants]  # fmt: skip
    if drawing.note:
        out.append(f"    Note over {span}: {mermaid_text(drawing.note, 240)}")
    if not drawing.rows:
        out.append(f"    Note over {span}: no exchanges recorded")
    for row in drawing.rows:
        if isinstance(row, Gap):
            out.append(f"    Note over {span}: {left_out(row)}")
            continue
        src, dst = ids[row.src], ids[row.dst]
        lines = [f"{src}->>{dst}: {mermaid_text(f'{timing(row.at)} {row.request}')}"]
        if row.answer is None:
            lines.append(f"{dst}--x{src}: no answer")
        else:
            lines.append(f"{dst}-->>{src}: {mermaid_text(row.answer)}")
        if row.culprit:
            pair = src if src == dst else f"{src},{dst}"
            out.append("    rect rgba(220, 38, 38, 0.16)")
            out += [f"        {line}" for line in lines]
            out.append(f"        Note over {pair}: ⚠ culprit: this exchange breaks the check")
            out.append("    end")
        else:
            out += [f"    {line}" for line in lines]
    return "\n".join(out) + "\n"


# --- SVG ------------------------------------------------------------------------------

_MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace"  # noqa: E501
_SANS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif"  # noqa: E501
_CELL = 7.3  # px per monospace cell at 12 px
_SANS_CELL = 8.2  # px per character of 13 px bold sans (generous: text must not overflow)
_GUTTER = 112  # the timing column
_HEAD_H = 34
_LINE = 15  # between wrapped label lines
_GAP_H = 30
_PAD = 12
_LABEL_CELLS = 72  # the widest label before it is cut
_MIN_GAP = 150
_LOOP_W = 300  # a step to itself: its loop and label, right of the lifeline
_MAX_WIDTH = 1040  # px; a wider diagram only scales down on the page

_STYLE = f"""
.m2m-seq .bg{{fill:#ffffff}}
.m2m-seq text{{font-family:{_MONO};font-size:12px;fill:#1f2328}}
.m2m-seq .head rect{{fill:#f6f8fa;stroke:#59636e;stroke-width:1.2}}
.m2m-seq .head text{{font-family:{_SANS};font-size:13px;font-weight:600}}
.m2m-seq .life{{stroke:#afb8c1;stroke-width:1.2;stroke-dasharray:4 4}}
.m2m-seq .note rect{{fill:#fff8c5;stroke:#bf8700;stroke-width:1.2}}
.m2m-seq .note .bar{{fill:#bf8700;stroke:none}}
.m2m-seq .note text{{font-family:{_SANS};font-size:13px;font-weight:700;fill:#3b2300}}
.m2m-seq .arrow{{stroke:#424a53;stroke-width:1.4;fill:none}}
.m2m-seq .head-tip{{fill:#424a53}}
.m2m-seq .time{{fill:#59636e}}
.m2m-seq .request text,.m2m-seq .answer text{{paint-order:stroke;stroke:#ffffff;stroke-width:4px;
  stroke-linejoin:round}}
.m2m-seq .culprit .request text,.m2m-seq .culprit .answer text{{stroke:#ffebe9}}
.m2m-seq .lost text{{font-style:italic;fill:#59636e}}
.m2m-seq .lost .cross{{stroke:#59636e;stroke-width:2}}
.m2m-seq .gap text{{font-style:italic;fill:#59636e}}
.m2m-seq .gap line{{stroke:#afb8c1;stroke-dasharray:2 4}}
.m2m-seq .culprit .band{{fill:#ffebe9;stroke:#cf222e;stroke-width:1.2;stroke-dasharray:5 3}}
.m2m-seq .culprit .arrow{{stroke:#cf222e;stroke-width:2.4}}
.m2m-seq .culprit .head-tip{{fill:#cf222e}}
.m2m-seq .culprit text{{fill:#a40e26;font-weight:700}}
.m2m-seq .culprit .lost .cross{{stroke:#cf222e}}
.m2m-seq .mark circle{{fill:#cf222e}}
.m2m-seq .culprit .mark text{{fill:#ffffff;font-family:{_SANS};font-size:13px;font-weight:800}}
@media (prefers-color-scheme: dark){{
.m2m-seq .bg{{fill:#0d1117}}
.m2m-seq text{{fill:#e6edf3}}
.m2m-seq .head rect{{fill:#161b22;stroke:#8b949e}}
.m2m-seq .life{{stroke:#484f58}}
.m2m-seq .note rect{{fill:#2e2a1a;stroke:#d29922}}
.m2m-seq .note .bar{{fill:#d29922}}
.m2m-seq .note text{{fill:#f2cc60}}
.m2m-seq .arrow{{stroke:#c9d1d9}}
.m2m-seq .head-tip{{fill:#c9d1d9}}
.m2m-seq .time,.m2m-seq .lost text,.m2m-seq .gap text{{fill:#8b949e}}
.m2m-seq .lost .cross{{stroke:#8b949e}}
.m2m-seq .culprit .band{{fill:#3d1418;stroke:#f85149}}
.m2m-seq .culprit .arrow{{stroke:#f85149}}
.m2m-seq .culprit .head-tip{{fill:#f85149}}
.m2m-seq .culprit text{{fill:#ffa198}}
.m2m-seq .request text,.m2m-seq .answer text{{stroke:#0d1117}}
.m2m-seq .culprit .request text,.m2m-seq .culprit .answer text{{stroke:#3d1418}}
.m2m-seq .mark circle{{fill:#da3633}}
}}
"""


def _x(value: str) -> str:
    """Text or attribute content for XML (and HTML): quotes and markup escaped."""
    return escape(value, quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _pieces(word: str, width: int) -> list[str]:
    """`word` split into pieces of at most `width` cells (a URL longer than a line)."""
    pieces: list[str] = []
    piece, used = "", 0
    for char in word:
        step = cells(char)
        if piece and used + step > width:
            pieces.append(piece)
            piece, used = "", 0
        piece += char
        used += step
    return [*pieces, piece]


def _wrap(text: str, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap by display cells, at most `max_lines` (the last one cut with …)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        for piece in _pieces(word, width):
            candidate = f"{line} {piece}" if line else piece
            if cells(candidate) <= width:
                line = candidate
            else:
                lines.append(line)
                line = piece
    lines = [ln for ln in [*lines, line] if ln] or [""]
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        cut = ellipsize(last, width - 1)
        lines = [*lines[: max_lines - 1], cut if cut != last else last + "…"]
    return lines


def _lines(lines: list[str], x: float, y: float, anchor: str = "middle") -> str:
    """Label lines as <text> elements, `y` the first baseline."""
    return "".join(
        f'<text x="{_num(x)}" y="{_num(y + _LINE * i)}" text-anchor="{anchor}">{_x(line)}</text>'
        for i, line in enumerate(lines)
    )


def _arrow(x1: float, x2: float, y: float, *, dashed: bool = False) -> str:
    """A horizontal arrow (or a loop back to the same lifeline) with a filled head."""
    if abs(x2 - x1) < 1:
        path = f"M{_num(x1)},{_num(y - 8)} h36 v14 h-34"
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        tip = f"{_num(x1)},{_num(y + 6)} {_num(x1 + 9)},{_num(y + 1.5)} {_num(x1 + 9)},{_num(y + 10.5)}"  # noqa: E501
        return f'<path class="arrow" d="{path}"{dash}/><polygon class="head-tip" points="{tip}"/>'
    direction = 1 if x2 > x1 else -1
    end = x2 - direction * 9
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    tip = f"{_num(x2)},{_num(y)} {_num(end)},{_num(y - 4.5)} {_num(end)},{_num(y + 4.5)}"
    return (
        f'<line class="arrow" x1="{_num(x1)}" y1="{_num(y)}" x2="{_num(end)}" '
        f'y2="{_num(y)}"{dash}/>'
        f'<polygon class="head-tip" points="{tip}"/>'
    )


def _lost(x_from: float, x_to: float, y: float) -> str:
    """A missing answer: a short dashed stub from the server that ends in a cross."""
    direction = -1 if x_to < x_from else 1
    end = x_from + direction * 40
    cx = end + direction * 7
    return (
        f'<line class="arrow" x1="{_num(x_from)}" y1="{_num(y)}" x2="{_num(end)}" '
        f'y2="{_num(y)}" stroke-dasharray="6 4"/>'
        f'<path class="cross" d="M{_num(cx - 6)},{_num(y - 6)} l12,12 '
        f'M{_num(cx - 6)},{_num(y + 6)} l12,-12"/>'
    )


def _step(row: Step, x1: float, x2: float, y: float, room: int, width: float) -> tuple[str, float]:
    """One exchange drawn from `y` down: (its SVG, its height)."""
    loop = abs(x2 - x1) < 1
    mid, anchor = (x1 + 46, "start") if loop else ((x1 + x2) / 2, "middle")
    request = _wrap(row.request or "(request)", room, 3)
    answer = _wrap("✕ no answer" if row.answer is None else row.answer, room, 2)
    req_base = y + 16
    req_arrow = req_base + _LINE * (len(request) - 1) + 8
    ans_base = req_arrow + 18
    ans_arrow = ans_base + _LINE * (len(answer) - 1) + 8
    height = ans_arrow - y + 10
    title = f"{timing(row.at)} {row.request} → {row.answer or 'no answer'}"
    parts = [f'<g class="step{" culprit" if row.culprit else ""}">']
    if row.culprit:
        title += " (this exchange breaks the check)"
        parts.append(
            f'<rect class="band" x="6" y="{_num(y + 1)}" width="{_num(width - 12)}" '
            f'height="{_num(height - 4)}" rx="6"><title>{_x(title)}</title></rect>'
            f'<g class="mark"><circle cx="22" cy="{_num(req_base - 4)}" r="9"/>'
            f'<text x="22" y="{_num(req_base + 0.5)}" text-anchor="middle">!</text></g>'
        )
    parts.append(
        f'<text class="time" x="{_num(_GUTTER - 14)}" y="{_num(req_base)}" '
        f'text-anchor="end">{_x(timing(row.at))}</text>'
        f'<g class="request"><title>{_x(title)}</title>'
        f"{_lines(request, mid, req_base, anchor)}{_arrow(x1, x2, req_arrow)}</g>"
    )
    if row.answer is None:
        parts.append(
            '<g class="answer lost"><title>no answer: the exchange stalled, was reset or '
            f"refused</title>{_lines(answer, mid, ans_base, anchor)}"
            f"{_lost(x2, x1, ans_arrow)}</g>"
        )
    else:
        parts.append(
            f'<g class="answer"><title>{_x(row.answer)}</title>'
            f"{_lines(answer, mid, ans_base, anchor)}{_arrow(x2, x1, ans_arrow, dashed=True)}</g>"
        )
    return "".join(parts) + "</g>", height


def _gap(row: Gap, y: float, width: float) -> str:
    return (
        f'<g class="gap"><line x1="{_num(_GUTTER - 8)}" y1="{_num(y + 8)}" '
        f'x2="{_num(width - 16)}" y2="{_num(y + 8)}"/>'
        f'<text x="{_num(_GUTTER)}" y="{_num(y + 12)}">{_x(left_out(row))}</text></g>'
    )


def _head(label: str, x: float, top: float, box_w: float) -> str:
    shown = ellipsize(label, int((box_w - 2 * _PAD) / _SANS_CELL))
    tip = f"<title>{_x(label)}</title>" if shown != label else ""
    return (
        f'<g class="head">{tip}<rect x="{_num(x - box_w / 2)}" y="{_num(top)}" '
        f'width="{_num(box_w)}" height="{_HEAD_H}" rx="5"/>'
        f'<text x="{_num(x)}" y="{_num(top + 22)}" text-anchor="middle">{_x(shown)}</text></g>'
    )


def _note(text: str, x: float, y: float, w: float) -> tuple[str, float]:
    lines = _wrap(text or "(no note)", int((w - 2 * _PAD - 10) / _SANS_CELL), 4)
    h = 16 + 18 * len(lines)
    body = "".join(
        f'<text x="{_num(x + 10 + _PAD)}" y="{_num(y + 22 + 18 * i)}">{_x(line)}</text>'
        for i, line in enumerate(lines)
    )
    return (
        f'<g class="note"><title>{_x(text)}</title>'
        f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="6"/>'
        f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="6" height="{_num(h)}" rx="3"/>'
        f"{body}</g>"
    ), h


def sequence_svg(diagram: Mapping[str, Any]) -> str:
    """The diagram as a standalone SVG sequence diagram, sized to its content.

    Lifelines per participant, a request and a dashed answer arrow per step with its
    time, culprit steps banded in red with a "!" marker, a missing answer as a cross,
    and the note naming the check in a box above the steps. Labels wrap, then end in
    an ellipsis; the full text is the step's <title> (a tooltip).
    """
    drawing = plan(diagram)
    columns = {pid: i for i, (pid, _label) in enumerate(drawing.participants)}
    n = len(drawing.participants)
    head_cells = max(min(cells(label), 26) for _pid, label in drawing.participants)
    box_w = max(96.0, head_cells * _SANS_CELL + 2 * _PAD)

    gap = float(_MIN_GAP)
    for row in drawing.rows:
        if isinstance(row, Step) and row.src != row.dst:
            span = abs(columns[row.dst] - columns[row.src])
            need = min(max(cells(row.request), cells(row.answer or "")), _LABEL_CELLS)
            gap = max(gap, (need * _CELL + 2 * _PAD) / span)
    last_loops = any(isinstance(r, Step) and r.src == r.dst == drawing.participants[-1][0]
                     for r in drawing.rows)  # fmt: skip
    reserve = _LOOP_W - box_w / 2 if last_loops else 0.0  # a loop's label right of it
    widest = (_MAX_WIDTH - 16 - _GUTTER - box_w - reserve) / max(n - 1, 1)
    gap = max(min(gap, widest), box_w + 24)

    xs = [_GUTTER + box_w / 2 + i * gap for i in range(n)]
    note_x = _GUTTER - 8
    note_w = max(xs[-1] + box_w / 2 - note_x, 460.0)
    if last_loops:
        note_w = max(note_w, xs[-1] + _LOOP_W - note_x)
    width = note_x + note_w + 16

    note, note_h = _note(drawing.note, note_x, 16 + _HEAD_H + 14, note_w)
    y = 16 + _HEAD_H + 14 + note_h + 18
    body: list[str] = []
    for row in drawing.rows:
        if isinstance(row, Gap):
            body.append(_gap(row, y, width))
            y += _GAP_H
            continue
        span = max(abs(columns[row.dst] - columns[row.src]), 1)
        room = int((span * gap - 2 * _PAD) / _CELL)
        if row.src == row.dst:
            room = int((_LOOP_W - 46 - _PAD) / _CELL)
        svg, height = _step(row, xs[columns[row.src]], xs[columns[row.dst]], y, room, width)
        body.append(svg)
        y += height
    if not drawing.rows:
        body.append(f'<g class="gap"><text x="{_num(_GUTTER)}" y="{_num(y + 12)}">'
                    "no exchanges recorded</text></g>")  # fmt: skip
        y += _GAP_H

    bottom = y + 10
    height = bottom + _HEAD_H + 16
    heads: list[str] = []
    for (_pid, label), x in zip(drawing.participants, xs, strict=True):
        heads.append(
            f'<line class="life" x1="{_num(x)}" y1="{_num(16 + _HEAD_H)}" '
            f'x2="{_num(x)}" y2="{_num(bottom)}"/>'
        )
        heads += [_head(label, x, 16, box_w), _head(label, x, bottom, box_w)]
    summary = f"Sequence diagram: {drawing.note or 'exchanges'}"
    summary += f" ({drawing.drawn} of {drawing.total} steps drawn)"
    w, h = _num(width), _num(height)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="m2m-seq" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img">'
        f"<title>{_x(summary)}</title><style>{_STYLE}</style>"
        f'<rect class="bg" width="{w}" height="{h}" rx="8"/>'
        f"{''.join(heads)}{note}{''.join(body)}</svg>"
    )
