"""What the HTTP door refuses is journaled too: a request its parser cannot read, a head over
its limits or too slow, is a request the client sent, and what it carries (a secret in a
URL with a raw space, say) must be seen by whoever reads the journal.

The door hands over the raw bytes it read of the request head (up to its head limit) and
those after it in the same read (the start of a body); they are split into a `Request` as
leniently as bytes allow, so that every line read lands in a part of it (a request line that
is none becomes the path, a line with no colon a header with an empty name), and the parts
never read whole are named in `truncated`. Requests the door read bytes of but cannot hand
over are counted (`Journal.unjournaled`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ._core import Emulator
from ._http import Request, Response
from ._protocol import RefusedHead

_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}")


def request_line(line: str) -> tuple[str, str]:
    """(method, target) of a request line; a line that is none is the target as a whole."""
    method, space, rest = line.partition(" ")
    if not space or not _METHOD.fullmatch(method):
        return "", line
    target, space, version = rest.rpartition(" ")
    if not space or not version.startswith("HTTP/"):
        target = rest  # no version (HTTP/0.9 style), or a space inside the target
    return method, target


def split_head(head: bytes) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """(method, path, query string, headers) of a raw request head, however malformed.

    The path is percent-decoded, as uvicorn decodes the path of a request it accepts.
    """
    lines = head.decode("latin-1").split("\n")
    method, target = request_line(lines[0].removesuffix("\r"))
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line = raw.removesuffix("\r")
        if not line:
            continue  # the blank line that ends the head (or a stray one)
        name, colon, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()) if colon else ("", line))
    path, _, query = target.partition("?")
    if "%" in path:
        path = unquote(path, errors="replace")
    return method, path, query, tuple(headers)


def _declared_length(headers: tuple[tuple[str, str], ...]) -> int | None:
    for name, value in headers:
        if name == "content-length":
            value = value.strip()
            return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None
    return None


def _cut_parts(
    refused: RefusedHead, query: str, headers: tuple[tuple[str, str], ...]
) -> tuple[str, ...]:
    """The parts of the request the door did not read whole."""
    if not refused.complete:
        if b"\n" not in refused.head:  # the request line itself was cut
            return ("request.query",) if query else ("request.path",)
        return ("request.headers",)
    names = {name for name, _ in headers}
    declared = _declared_length(headers)
    if declared is not None and declared > len(refused.rest):
        return ("request.body",)
    if "transfer-encoding" in names and not refused.rest.endswith(b"0\r\n\r\n"):
        return ("request.body",)
    return ()


def journal_refused_head(emulator: Emulator, refused: RefusedHead) -> None:
    """Journal `refused` in `emulator`'s journal as a request the door turned away."""
    method, path, query, headers = split_head(refused.head)
    request = Request(method, path, query, headers, refused.rest, refused.peer)
    response = Response(
        refused.status,
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in refused.headers],
        refused.body,
    )
    emulator.record_refusal(request, response, _cut_parts(refused, query, headers))


class DoorJournal:
    """The door's reports to one emulator's journal (called on the event loop)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def refused(self, refused: RefusedHead) -> None:
        journal_refused_head(self.emulator, refused)

    def unjournaled(self) -> None:
        self.emulator.journal.count_unjournaled()
