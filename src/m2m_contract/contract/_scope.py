"""RFC 6749 §3.3: scope = scope-token *( SP scope-token ); scope-token = 1*NQCHAR."""

from __future__ import annotations

import re
from typing import Any

# NQCHAR = %x21 / %x23-5B / %x5D-7E (printable ASCII except space, '"' and '\')
_TOKEN = r"[\x21\x23-\x5B\x5D-\x7E]+"
SCOPE = re.compile(rf"{_TOKEN}(?: {_TOKEN})*")


def is_valid_scope(value: str) -> bool:
    """True when `value` matches the RFC 6749 §3.3 grammar exactly."""
    return SCOPE.fullmatch(value) is not None


def scope_problem(value: Any) -> str | None:
    """Say what is wrong with a `scope` parameter as sent, or None when it is well formed."""
    if isinstance(value, list):
        return "scope was sent as a JSON array; send one space-separated string"
    if not isinstance(value, str):
        return f"scope was sent as a JSON {type(value).__name__}; send one space-separated string"
    if value == "":
        return None
    if value != value.strip(" "):
        return "scope has leading or trailing spaces"
    if "  " in value:
        return "scope has several spaces in a row; separate scopes by exactly one space"
    if "," in value:
        # Commas are NQCHARs, but no scope of this contract holds one: they are separators.
        return "scope uses commas as separators; separate scopes by one space"
    if any(ch in value for ch in "\t\r\n"):
        return "scope uses tabs or line breaks; separate scopes by one space"
    if not is_valid_scope(value):
        return "scope has characters RFC 6749 §3.3 does not allow (space-separated NQCHAR tokens)"
    tokens = value.split(" ")
    if len(set(tokens)) != len(tokens):
        return "scope repeats a scope token"
    return None


def scope_tokens(value: Any) -> tuple[str, ...]:
    """The scope tokens a parameter names, however it was sent (for comparisons)."""
    if isinstance(value, str):
        return tuple(t for t in re.split(r"[\s,]+", value) if t)
    if isinstance(value, list):
        return tuple(t for item in value if isinstance(item, str) for t in item.split() if t)
    return ()
