"""Cassette hygiene: find in recorded traffic whatever the scrubber would have removed.

A cassette is read as the traffic it replays and walked by the scrubber's own `Walk`, with a
report instead of a pen: every part of every interaction (URL, each header and cookie, the
body decoded: `!!binary`, escaped JSON, compressed, form and multipart bodies included), and
the rest of the file (its metadata). So the check and the scrubber share one vocabulary of
secrets (`m2m_contract._secrets`): secret and token fields at any depth and in any case
style, credential headers and cookies, Bearer and Basic credentials, signed JWTs, the
password of a URL's `user:password@`, and token-shaped values in token places (cookies,
credential headers, URL query keys and values, `Location`). Tokens found are learned, so a
copy elsewhere in the file is found too. When the traffic holds nothing, each line of the
file is also searched as text (what `grep` sees: comments, and what a YAML parser drops, such
as a repeated key). A value `is_placeholder` allows (REDACTED..., `<token>`, `xxxx`, one of
PLACEHOLDERS) is never a finding. Findings name the file and the place, never the value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._secrets import URL, Known, find_structural, find_url
from .._secrets import Finding as Leak
from ._scrub import Headers, ScrubError, Walk, decode

__all__ = ["CASSETTE_SUFFIXES", "Finding", "check_cassettes", "check_file", "check_text"]

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
    """The kinds of leak found in free text (what the line search reports)."""
    found = find_structural(text)
    for url in URL.finditer(text):
        found += find_url(url.group())
    return list(dict.fromkeys(f.label for f in found))


def check_cassettes(directory: Path) -> list[Finding]:
    """Every finding in every file under `directory` (recursively)."""
    findings: list[Finding] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        findings += check_file(path)
    return findings


def check_file(path: Path) -> list[Finding]:
    """Every finding in one file; a cassette that cannot be read is one, not a crash."""
    found: dict[tuple[str, str], None] = {}
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        return [Finding(path, "whole file", f"cannot be read ({type(exc).__name__})")]
    if path.suffix.lower() in CASSETTE_SUFFIXES:
        try:
            document = _load(path, text)
        except ValueError as exc:
            found[("whole file", f"not a readable cassette, so not checkable ({exc})")] = None
        else:
            try:
                for where, leak in _check_document(document):
                    found[(where, str(leak))] = None
            except RecursionError:
                found[("whole file", "nested too deeply to be checked")] = None
    if not found:  # a safety net for what the traffic does not show, not a second report
        for number, line in enumerate(text.splitlines(), 1):
            for label in check_text(line):
                found[(f"line {number}", label)] = None
    return [Finding(path, where, kind) for where, kind in found]


def _load(path: Path, text: str) -> dict[str, Any]:
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            from vcr.serializers import yamlserializer  # a safe loader: no Python objects

            data = yamlserializer.deserialize(text)
    except Exception as exc:  # PyYAML's errors share no base with ValueError
        raise ValueError(type(exc).__name__) from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise ValueError("no 'interactions' list")
    return data


def _check_document(document: dict[str, Any]) -> Iterator[tuple[str, Leak]]:
    """Two walks: the first learns every token and secret, the second reports."""
    known, found = Known(), list[tuple[str, Leak]]()
    for report in (None, lambda where, leak: found.append((where, leak))):
        walk = Walk(known, report)
        for number, interaction in enumerate(document["interactions"], 1):
            _check_interaction(walk, number, interaction)
        for key, value in document.items():
            if key != "interactions":
                walk.json(value, f"the cassette's {key}")
    return iter(dict.fromkeys(found))


def _check_interaction(walk: Walk, number: int, interaction: Any) -> None:
    where = f"interaction {number}"
    if not isinstance(interaction, dict):
        walk.json(interaction, where)
        return
    for key, message in interaction.items():
        if key in ("request", "response") and isinstance(message, dict):
            _check_message(walk, f"{where} {key}", message)
        else:
            walk.json(message, f"{where} {key}")


def _check_message(walk: Walk, where: str, message: dict[str, Any]) -> None:
    headers = _headers(message.get("headers"))
    walk.headers(headers, where)
    for key, value in message.items():
        if key in ("uri", "url") and isinstance(value, str):
            walk.url(value, f"{where} URL")
        elif key not in ("headers", "body"):
            walk.json(value, f"{where} {key}")
    body = _body(message.get("body"))
    if not body:
        return
    encoding = next((v[0] for k, v in headers.items() if k.lower() == "content-encoding"), "")
    if encoding:
        try:
            body = decode(body, encoding)
        except ScrubError as exc:
            report = walk.report or _ignore
            report(f"{where} body", Leak(f"a body that cannot be decoded: {exc}", "not checked"))
            return
    content_type = next((v[0] for k, v in headers.items() if k.lower() == "content-type"), "")
    walk.body(body, content_type, f"{where} body")


def _ignore(where: str, leak: Leak) -> None:
    pass


def _headers(headers: Any) -> Headers:
    if not isinstance(headers, dict):
        return {}
    return {
        str(name): [str(v) for v in values] if isinstance(values, list) else [str(values)]
        for name, values in headers.items()
    }


def _body(body: Any) -> bytes | None:
    """A body as VCR.py stores it: text, `!!binary` bytes, a dict with `string`, a buffer."""
    if isinstance(body, dict):
        body = body.get("string")
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if hasattr(body, "getvalue"):
        return bytes(body.getvalue())
    if isinstance(body, list) or hasattr(body, "__next__"):
        return b"".join(p if isinstance(p, bytes) else str(p).encode() for p in body)
    return str(body).encode("utf-8", "surrogateescape")
