"""Text as every report shows it: control characters visible, cut to a display width.

The functions live in m2m_contract._text, which the check messages use too (the contract
layer may not import the report layer); the renderers import them from here.
"""

from __future__ import annotations

from .._text import cells, counted, ellipsize, visible

__all__ = ["cells", "counted", "ellipsize", "visible"]
