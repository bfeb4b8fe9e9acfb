"""Cassette hygiene: find signed tokens, secrets and credentials in recorded traffic.

Each file is searched as text (what `grep` sees) and, for cassettes, as the traffic it
replays: bodies stored as YAML `!!binary`, escaped JSON strings and compressed bodies hide
from a grep, not from this check. Findings name the file and the place, never the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._scrub import decode_body

_SECRET_FIELDS = "client_secret|client_assertion|refresh_token|password"
_KEPT = r"REDACTED|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.REDACTED"
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # The repository's before-stop hook, verbatim...
    ("a signed JWT", re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}")),
    ("a client_secret in a JSON body", re.compile(r'"client_secret" *: *"[^R"][^"]*"')),
    ("a client_secret in a form body", re.compile(r'client_secret=[^R&"][^&" ]*')),
    ("Bearer credentials", re.compile(r"[Bb]earer [A-Za-z0-9._~+/-]{20,}")),
    ("Basic credentials", re.compile(r"[Bb]asic [A-Za-z0-9+/=]{12,}")),
    # ...and stricter: any secret field but REDACTED, any token field but a scrubbed one.
    (
        "a secret field in a JSON body",
        re.compile(rf'"(?:{_SECRET_FIELDS})"\s*:\s*"(?!REDACTED")(?:[^"\\]|\\.)+"'),
    ),
    (
        "a secret field in a form body",
        re.compile(rf'(?:{_SECRET_FIELDS})=(?!REDACTED(?:[&"\s]|$))[^&"\s]+'),
    ),
    (
        "an access token that is not scrubbed",
        re.compile(rf'"(?:access_token|id_token)"\s*:\s*"(?!(?:{_KEPT})")(?:[^"\\]|\\.)+"'),
    ),
)
_SCRUBBED_CREDENTIAL = re.compile(r"(?:\S+ )?REDACTED")
CASSETTE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Finding:
    """Something in a cassette that must not be there (the value itself is never kept)."""

    path: Path
    where: str
    kind: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.kind}"


def check_text(text: str) -> list[str]:
    """The kinds of leak found in `text`."""
    return [kind for kind, pattern in PATTERNS if pattern.search(text)]


def check_cassettes(directory: Path) -> list[Finding]:
    """Every finding in every file under `directory` (recursively)."""
    findings: list[Finding] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        findings += check_file(path)
    return findings


def check_file(path: Path) -> list[Finding]:
    raw = path.read_bytes()
    text = raw.decode("utf-8", "replace")
    found: dict[tuple[str, str], None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        for kind in check_text(line):
            found[(f"line {number}", kind)] = None
    if path.suffix.lower() in CASSETTE_SUFFIXES:
        try:
            interactions = _interactions(path, text)
        except ValueError as exc:
            found[("whole file", f"not a readable cassette, so not checkable ({exc})")] = None
        else:
            for where, kind in _check_interactions(interactions):
                found[(where, kind)] = None
    return [Finding(path, where, kind) for where, kind in found]


def _interactions(path: Path, text: str) -> list[Any]:
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        from vcr.serializers import yamlserializer  # a safe loader: no Python objects

        try:
            data = yamlserializer.deserialize(text)
        except Exception as exc:  # PyYAML's errors do not share a ValueError base
            raise ValueError(type(exc).__name__) from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise ValueError("no 'interactions' list")
    return list(data["interactions"])


def _check_interactions(interactions: list[Any]) -> Iterator[tuple[str, str]]:
    for number, interaction in enumerate(interactions, 1):
        if not isinstance(interaction, dict):
            continue
        for side in ("request", "response"):
            message = interaction.get(side)
            if not isinstance(message, dict):
                continue
            where = f"interaction {number} {side}"
            yield from _check_message(where, message)


def _check_message(where: str, message: dict[str, Any]) -> Iterator[tuple[str, str]]:
    headers = message.get("headers") or {}
    pairs = list(_header_pairs(headers))
    for name, value in pairs:
        lower = name.lower()
        credential = lower in ("authorization", "proxy-authorization", "cookie", "set-cookie")
        if credential and not _SCRUBBED_CREDENTIAL.fullmatch(value.strip()):
            yield f"{where} header {lower}", "a credential header that is not redacted"
        for kind in check_text(value):
            yield f"{where} header {lower}", kind
    for kind in check_text(str(message.get("uri", ""))):
        yield f"{where} URL", kind
    body = message.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    if body is None or body == "":
        return
    data = body if isinstance(body, bytes) else str(body).encode("utf-8", "surrogateescape")
    encoding = next((v for k, v in pairs if k.lower() == "content-encoding"), None)
    if encoding:
        decoded = decode_body(data, encoding)
        if decoded is None:
            yield f"{where} body", f"a {encoding[:20]!r}-compressed body that cannot be checked"
            return
        data = decoded
    for kind in check_text(data.decode("utf-8", "replace")):
        yield f"{where} body", kind


def _header_pairs(headers: Any) -> Iterable[tuple[str, str]]:
    if not isinstance(headers, dict):
        return
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            yield str(name), str(value)
