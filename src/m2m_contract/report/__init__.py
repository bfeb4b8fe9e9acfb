"""One report path for both suites: the model, and its terminal, JSON, JUnit, Markdown and
HTML renderings.

The model (`build`) is a JSON-able dict: the JSON report itself, and what every renderer
reads. Renderers are pure functions over it and treat each string in it as untrusted:
escaped for their format, control characters made visible.
"""

from ._catalogue import catalogue_lines, catalogue_markdown
from ._diagram import mermaid, sequence_svg
from ._evidence import diagram, ending, evidence, last_lines
from ._html import render_html
from ._junit import render_junit
from ._markdown import render_markdown
from ._model import CaseResult, ScenarioRun, build, counts, results_of, verdict_of
from ._terminal import render_terminal, verdict_line
from ._text import visible
from ._write import Outputs, ReportPathError, checked_path

__all__ = [
    "CaseResult",
    "Outputs",
    "ReportPathError",
    "ScenarioRun",
    "build",
    "catalogue_lines",
    "catalogue_markdown",
    "checked_path",
    "counts",
    "diagram",
    "ending",
    "evidence",
    "last_lines",
    "mermaid",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_terminal",
    "results_of",
    "sequence_svg",
    "verdict_line",
    "verdict_of",
    "visible",
]
