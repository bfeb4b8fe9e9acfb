"""Reports a partner looks at: a Markdown step summary and one self-contained HTML file.

Every renderer is a pure function over the report model (a JSON-able dict) and treats
each string in it as untrusted: escaped for its format, control characters made visible.
"""

from ._diagram import mermaid, sequence_svg
from ._html import render_html
from ._markdown import render_markdown

__all__ = ["mermaid", "render_html", "render_markdown", "sequence_svg"]
