"""Text as every message and report shows it: control characters visible, cut to a width.

Shared by the check messages (contract) and the terminal, JUnit, Markdown, HTML and diagram
renderers (report), so a request path with decoded newlines, an ANSI colour code or a bidi
override breaks none of them. Pure code with no imports of the package: both layers use it.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b", "\x00": "\\0"}
_ESCAPED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
_KEPT = {"\u200d"}  # the zero-width joiner holds emoji sequences together


def visible(value: object, *, keep_newlines: bool = False) -> str:
    """`value` as text whose control and format characters show as escapes (\\n, \\x1b).

    A request path with decoded newlines, an ANSI colour code or a bidi override can then
    break no line, table, diagram or terminal. Newlines survive only with `keep_newlines`
    (multi-line evidence and output), and tabs with them.
    """
    text = value if isinstance(value, str) else "" if value is None else str(value)
    out: list[str] = []
    for char in text:
        if keep_newlines and char in "\n\t":
            out.append(char)
        elif char in _NAMED:
            out.append(_NAMED[char])
        elif char in _KEPT:
            out.append(char)
        elif unicodedata.category(char) in _ESCAPED_CATEGORIES or char in "\ufffe\uffff":
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def cells(text: str) -> int:
    """Display width in monospace cells: wide (East Asian, emoji) characters take two."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def ellipsize(text: str, limit: int) -> str:
    """`text` cut to at most `limit` display cells, ending in an ellipsis when cut."""
    if cells(text) <= limit:
        return text
    out: list[str] = []
    width = 0
    for char in text:
        step = cells(char)
        if width + step > limit - 1:
            break
        out.append(char)
        width += step
    return "".join(out) + "…"


def counted(number: int, noun: str) -> str:
    """'1 scenario', '2 scenarios': a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
