"""Headless Chromium for the report tests: screenshots and a DOM measured by a script.

Run as `python -m tests.report.browser docs/images/report-html.png` to refresh the docs'
screenshot of the sample failing report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
WIDTH = 1280
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing resolves: no request can leave
]
_MEASURE = """<script>
const rects = [...document.querySelectorAll("svg.m2m-seq")].map((svg) => {
  const r = svg.getBoundingClientRect();
  const box = [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY];
  return {box, shown: svg.checkVisibility({visibilityProperty: true})};
});
const out = document.createElement("pre");
out.id = "m2m-measure";
// status tags outside a closed <details> that do not show on the page
const pageWidth = document.documentElement.scrollWidth;
const hiddenTags = [...document.querySelectorAll(".tag")].filter((tag) => {
  if (tag.closest("details:not([open])")) return false;
  const r = tag.getBoundingClientRect();
  const onPage = r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= pageWidth;
  return !onPage || !tag.checkVisibility({visibilityProperty: true, opacityProperty: true});
}).length;
const height = document.documentElement.scrollHeight;
out.textContent = JSON.stringify({height, rects, hiddenTags});
document.body.append(out);
</script>"""


def chromium() -> str:
    """The browser's path; a missing browser fails the test (CI installs it)."""
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        pytest.fail("chromium is not installed (apt-get install chromium); CI installs it")
    return path


def _run(args: list[str], timeout: float = 90) -> str:
    with tempfile.TemporaryDirectory(prefix="m2m-chromium-") as profile:
        done = subprocess.run(
            [chromium(), *_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(page: Path, budget_ms: int = 20_000) -> str:
    """The page's DOM once its scripts settled (virtual time, so no real wait)."""
    return _run(["--dump-dom", f"--virtual-time-budget={budget_ms}", page.as_uri()], 120)


def screenshot(page: Path, png: Path, height: int, width: int = WIDTH) -> None:
    """A `width` x `height` screenshot of the page (a file:// URL, nothing else)."""
    _run([f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()])
    if not png.exists():
        pytest.fail(f"chromium wrote no screenshot of {page}")


@dataclass(frozen=True)
class Layout:
    """The page as Chromium laid it out."""

    height: int
    diagrams: list[tuple[list[float], bool]]  # each diagram's box in page pixels, and shown
    hidden_tags: int  # status tags that should show but do not
    dom: str  # the document as Chromium holds it after loading


def measure(html: str, workdir: Path, width: int = WIDTH) -> Layout:
    """The page's layout; a diagram in a closed <details> is not shown.

    A copy of the page runs a measuring script; the report's own policy forbids scripts,
    so the copy drops that one meta element.
    """
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    copy = html[:start] + html[html.index(">", start) + 1 :]
    copy = copy.replace("</body>", _MEASURE + "</body>")
    page = workdir / "measure.html"
    page.write_text(copy, encoding="utf-8")
    dom = _run(["--dump-dom", f"--window-size={width},900", page.as_uri()])
    marker = '<pre id="m2m-measure">'
    found = dom[dom.index(marker) + len(marker) :]
    data = json.loads(unescape(found[: found.index("</pre>")]))
    diagrams = [(r["box"], bool(r["shown"])) for r in data["rects"]]
    return Layout(int(data["height"]), diagrams, int(data["hiddenTags"]), dom)


def main(target: str) -> None:
    """Write the docs' screenshot: the top of the sample failing report."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from m2m_contract.report import render_html
    from tests.report.samples import failing_report

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(render_html(failing_report()), encoding="utf-8")
        screenshot(page, Path(target).resolve(), 1480)


if __name__ == "__main__":
    main(sys.argv[1])
