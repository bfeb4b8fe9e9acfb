"""The HTML report in a real browser: headless Chromium draws every diagram where it belongs.

The page is shot twice, as written and with its diagrams hidden (visibility keeps the
layout); the pixels that differ must fill each diagram's box, as Chromium laid it out,
and lie nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

from m2m_contract.report import render_html

from .browser import Layout, measure, screenshot
from .samples import SECRET, failing_report

HIDDEN = "<style>svg.m2m-seq{visibility:hidden}</style></head>"


def differing(a: Path, b: Path) -> Image.Image:
    """A black image, white where the two screenshots differ."""
    with Image.open(a) as first, Image.open(b) as second:
        diff = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
    return diff.convert("L").point(lambda v: 255 if v > 24 else 0)


def white(image: Image.Image) -> int:
    return image.histogram()[255]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    return measure(render_html(failing_report()), tmp_path_factory.mktemp("layout"))


def test_every_failure_diagram_is_drawn_inside_its_box_and_nothing_else_changes(
    tmp_path: Path, layout: Layout
) -> None:
    report = failing_report()
    html = render_html(report)
    height, boxes = layout.height, layout.diagrams
    assert layout.hidden_tags == 0  # every status tag outside a closed <details> shows
    with_diagram = [c for c in report["checks"] if "diagram" in c]
    failed = [c for c in with_diagram if c["status"] == "failed"]
    assert len(boxes) == len(with_diagram)
    shown = [box for box, visible in boxes if visible]
    assert len(shown) == len(failed)  # warnings' diagrams wait in a closed <details>
    assert 2_000 < height < 16_000

    page, hidden = tmp_path / "report.html", tmp_path / "hidden.html"
    page.write_text(html, encoding="utf-8")
    hidden.write_text(html.replace("</head>", HIDDEN, 1), encoding="utf-8")
    screenshot(page, tmp_path / "page.png", height)
    screenshot(hidden, tmp_path / "hidden.png", height)
    diff = differing(tmp_path / "page.png", tmp_path / "hidden.png")
    assert diff.size == (1280, height)

    outside = diff.copy()
    painter = ImageDraw.Draw(outside)
    for left, top, right, bottom in shown:
        box = (round(left), round(top), round(right), round(bottom))
        assert box[0] >= 0 and box[2] <= 1280  # inside the page's width
        inside = white(diff.crop(box))
        area = (box[2] - box[0]) * (box[3] - box[1])
        assert inside > 0.04 * area, (box, inside, area)  # lines, labels, bands: drawn
        painter.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=0)
    assert outside.getbbox() is None  # nothing but the diagrams changed
    assert white(diff) > 20_000 * len(shown)


def test_the_page_as_the_browser_holds_it_has_no_secret(layout: Layout) -> None:
    html = render_html(failing_report())
    assert "client_secret=REDACTED" in html  # redacted upstream, and shown as redacted
    assert SECRET not in html
    # the DOM after Chromium loaded the file: nothing fetched or added a secret
    assert layout.diagrams and "client_secret=REDACTED" in layout.dom
    assert SECRET not in layout.dom
