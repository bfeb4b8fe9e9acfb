"""The journal: every exchange the emulator answered, bounded in count and in bytes, with a
redacted printed form, and honest about what it did not keep.

What a client sends is kept for assertions and checks, but never without bound: a path,
query, header or body longer than the journal's part sizes is stored cut short, and the
exchange names the parts cut in `truncated`. The part sizes are at least what the HTTP door
accepts (a 32 KiB request head, the emulator's `max_body`), so a request the door accepted is
stored whole. The oldest exchanges drop out past `maxlen` exchanges or `max_bytes` bytes,
whichever comes first, and are counted in `dropped`; sequence numbers are never reused.
"""

from __future__ import annotations

import bisect
import functools
import marshal
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .._secrets import Known, redact, redact_header
from ._http import Headers, Request, Response

Kind = Literal["token", "api", "jwks", "discovery", "health", "admin", "handshake", "other"]

DEFAULT_JOURNAL_SIZE = 10_000
DEFAULT_JOURNAL_BYTES = 64 * 1024 * 1024
STORED_BODY = 64 * 1024  # bytes of a request or response body (the default body limit)
# Characters of a path, a query string, one header value and all of a message's header names
# and values: the HTTP door's default head limit (`Limits.max_header_bytes`), so that nothing
# of a head the door accepted is cut.
STORED_TEXT = 32 * 1024
STORED_HEADERS = STORED_TEXT
_OVERHEAD = 1024  # what the objects around the text cost, roughly, per exchange


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got.

    `at` is when the request arrived and `answered` when its answer was sent (monotonic
    seconds); `answered` is None when none was: a reset or stalled connection, or a TLS
    handshake (kind "handshake", journaled when the ClientHello arrives). `truncated` names
    the parts stored cut short or never read whole ("request.path", "request.query",
    "request.headers", "request.body", "response.headers", "response.body").

    `refused` says who turned the request away before the emulator's routes saw it: "admin"
    (the admin API's guard: no admin token, a foreign peer, Host or Origin; the request was
    journaled as kind "other"), "door" (the HTTP door: a request its parser could not read,
    a head over its limits or too slow, an upgrade, a body that stopped arriving; the request
    is as the door read it), or None.
    """

    seq: int
    kind: Kind
    at: float
    request: Request
    response: Response
    params: dict[str, Any] | None = None
    fault: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)
    answered: float | None = None
    truncated: tuple[str, ...] = ()
    refused: str | None = None

    @property
    def size(self) -> int:
        """Roughly how many bytes of memory the exchange holds."""
        req, resp = self.request, self.response
        text = len(req.path) + len(req.query_string) + _headers_size(req.headers)
        text += _headers_size(tuple(resp.headers))
        body = len(req.body) * (2 if self.params is not None else 1) + len(resp.body)
        return _OVERHEAD + text + body

    def printable(self) -> dict[str, Any]:
        """A dict safe to print or log: the tenant's secrets in every spelling (see
        `m2m_contract._secrets`), credentials and tokens are redacted."""
        req, resp, known = self.request, self.response, _known(self.secrets)
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": round(self.at, 6),
            "answered": None if self.answered is None else round(self.answered, 6),
            "request": {
                "method": req.method,
                "path": redact(req.path, known),
                "query": redact(req.query_string, known),
                "headers": [[k, redact_header(k, v, known)] for k, v in req.headers],
                "body": redact(req.body.decode("utf-8", "replace"), known),
            },
            "response": {
                "status": resp.status,
                "headers": [[k, redact_header(k, v, known)] for k, v in resp.headers],
                "body": redact(resp.body.decode("utf-8", "replace"), known),
            },
            "fault": self.fault,
            "truncated": list(self.truncated),
            "refused": self.refused,
        }

    def __repr__(self) -> str:
        return (
            f"Exchange(#{self.seq} {self.kind} {self.request.method}"
            f" {redact(self.request.path, _known(self.secrets))}"
            f" -> {self.response.status})"
        )


@functools.lru_cache(maxsize=16)
def _known(secrets: tuple[str, ...]) -> Known:
    """The tenant's client secrets, each sought in every spelling (built once per tenant)."""
    return Known(secrets=[("a client secret", secret) for secret in secrets])


def _headers_size(headers: Headers) -> int:
    return sum(len(k) + len(v) for k, v in headers)


def _cut_headers(headers: Headers, text: int) -> tuple[Headers, bool]:
    """The headers within `text` characters in all, the one that crosses it cut short."""
    kept: list[tuple[str, str]] = []
    room = text
    for name, value in headers:
        name = name[:room]
        room -= len(name)
        if len(value) > room:
            if room:
                kept.append((name, value[:room]))
            return tuple(kept), True
        room -= len(value)
        kept.append((name, value))
    return tuple(kept), False


def bounded(exchange: Exchange, text: int = STORED_TEXT, body: int = STORED_BODY) -> Exchange:
    """The exchange as the journal stores it: a path, a query string, a header value and all
    of a message's headers within `text` characters, a body within `body` bytes."""
    req, resp = exchange.request, exchange.response
    small = (
        len(req.body) <= body
        and len(resp.body) <= body
        and len(req.path) <= text
        and len(req.query_string) <= text
        and _headers_size(req.headers) <= text
        and _headers_size(tuple(resp.headers)) <= text
    )
    if small:  # every value is within `text` too, as all of them together are
        return exchange
    cut: list[str] = list(exchange.truncated)
    req_headers, headers_cut = _cut_headers(req.headers, text)
    resp_headers, resp_headers_cut = _cut_headers(tuple(resp.headers), text)
    for part, was_cut in (
        ("request.path", len(req.path) > text),
        ("request.query", len(req.query_string) > text),
        ("request.headers", headers_cut),
        ("request.body", len(req.body) > body),
        ("response.headers", resp_headers_cut),
        ("response.body", len(resp.body) > body),
    ):
        if was_cut and part not in cut:
            cut.append(part)
    # Slices copy: the journal keeps no reference to the whole of a large request.
    request = replace(
        req,
        path=req.path[:text],
        query_string=req.query_string[:text],
        headers=req_headers,
        body=req.body[:body],
    )
    response = replace(resp, headers=list(resp_headers), body=resp.body[:body])
    return replace(exchange, request=request, response=response, truncated=tuple(cut))


# How an exchange is held: marshalled to bytes, with its sequence number and kind beside it.
# Ten thousand Exchange objects, each with its Request, Response, lists and dicts (or even
# nested tuples, which the collector stops tracking only after promoting them), made every
# full garbage collection walk them and triggered one every few thousand requests: 50 ms
# pauses that set the p99 of a busy server. Bytes are never tracked.
_Record = tuple[int, str, bytes]


def _pack(exchange: Exchange) -> _Record:
    req, resp = exchange.request, exchange.response
    fields = (
        exchange.seq,
        exchange.kind,
        exchange.at,
        (req.method, req.path, req.query_string, req.headers, req.body, req.client_host),
        (resp.status, tuple(resp.headers), resp.body, resp.delay, resp.fate),
        exchange.params,
        exchange.fault,
        exchange.secrets,
        exchange.answered,
        exchange.truncated,
        exchange.refused,
    )
    try:
        return exchange.seq, exchange.kind, marshal.dumps(fields)
    except ValueError:  # params holding something JSON never gives: keep the rest
        return exchange.seq, exchange.kind, marshal.dumps((*fields[:5], None, *fields[6:]))


def _unpack(record: _Record) -> Exchange:
    seq, kind, at, req, resp, params, fault, secrets, answered, truncated, refused = (
        marshal.loads(record[2])
    )
    status, headers, body, delay, fate = resp
    response = Response(status, list(headers), body, delay, fate)
    return Exchange(
        seq, kind, at, Request(*req), response, params, fault, secrets, answered, truncated,
        refused,
    )  # fmt: skip


class Journal:
    """A thread-safe ring buffer of exchanges: the oldest drop out past `maxlen` exchanges or
    `max_bytes` bytes (each exchange is stored bounded first, see `bounded`), and are counted
    in `dropped`.

    `max_text` and `max_body` are the part sizes `bounded` cuts at; `widen()` raises them to
    a door's limits. Sequence numbers (`next_seq()`) count on across `clear()` and are never
    reused, and the exchanges are held in their order.
    """

    def __init__(
        self,
        maxlen: int = DEFAULT_JOURNAL_SIZE,
        max_bytes: int = DEFAULT_JOURNAL_BYTES,
        *,
        max_text: int = STORED_TEXT,
        max_body: int = STORED_BODY,
    ) -> None:
        if maxlen < 1:
            raise ValueError("the journal needs room for at least one exchange")
        if max_bytes < 1:
            raise ValueError("the journal needs room for at least one byte")
        if max_text < 1 or max_body < 1:
            raise ValueError("the journal needs room for at least one byte of each part")
        self._lock = threading.Lock()
        self._items: deque[_Record] = deque()
        self._sizes: deque[int] = deque()
        self._maxlen, self._max_bytes = maxlen, max_bytes
        self._max_text, self._max_body = max_text, max_body
        self._bytes = 0
        self._seq = 0
        self._dropped = 0
        self._unjournaled = 0
        self._appended = 0

    @property
    def maxlen(self) -> int:
        return self._maxlen

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def max_text(self) -> int:
        return self._max_text

    @property
    def max_body(self) -> int:
        return self._max_body

    def widen(self, *, max_text: int = 0, max_body: int = 0) -> None:
        """Raise the part sizes to at least `max_text` characters and `max_body` bytes (never
        lower them): a door that accepts larger requests has them journaled whole."""
        with self._lock:
            self._max_text = max(self._max_text, max_text)
            self._max_body = max(self._max_body, max_body)

    @property
    def dropped(self) -> int:
        """How many exchanges dropped out to keep the journal within `maxlen` and `max_bytes`
        since it was made (`clear()` removes exchanges without counting them, and leaves
        this count as it is)."""
        with self._lock:
            return self._dropped

    @property
    def appended(self) -> int:
        """How many exchanges were ever appended: it only grows (whatever drops out or is
        cleared), so a reader polling it sees every new exchange, even in a full journal."""
        with self._lock:
            return self._appended

    @property
    def unjournaled(self) -> int:
        """How many requests the HTTP door read (some bytes of) but could not journal: a
        request head half sent on a connection closed to make room or by the client, bytes
        sent on a connection refused at the connection cap, a body or pipelined request its
        parser refused while another request was being answered."""
        with self._lock:
            return self._unjournaled

    def count_unjournaled(self) -> None:
        with self._lock:
            self._unjournaled += 1

    @property
    def bytes(self) -> int:
        """Roughly how many bytes the exchanges held now take."""
        with self._lock:
            return self._bytes

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, exchange: Exchange) -> None:
        stored = bounded(exchange, self._max_text, self._max_body)
        size, record = stored.size, _pack(stored)
        items, sizes = self._items, self._sizes
        with self._lock:
            if not items or items[-1][0] < record[0]:
                items.append(record)
                sizes.append(size)
            else:  # numbered before one appended meanwhile (another thread): keep the order
                at = bisect.bisect_right(items, record[0], key=lambda r: r[0])
                items.insert(at, record)
                sizes.insert(at, size)
            self._bytes += size
            self._appended += 1
            while len(items) > 1 and (len(items) > self._maxlen or self._bytes > self._max_bytes):
                items.popleft()
                self._bytes -= sizes.popleft()
                self._dropped += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self._bytes = 0

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            records = list(self._items)
        return [_unpack(r) for r in records]

    def page(self, since: int = 0, limit: int | None = None) -> list[Exchange]:
        """The exchanges after sequence number `since`, oldest first, at most `limit`."""
        with self._lock:
            records = list(self._items)
        start = bisect.bisect_right(records, since, key=lambda r: r[0])
        return [_unpack(r) for r in records[start : None if limit is None else start + limit]]

    def of_kind(self, kind: Kind) -> list[Exchange]:
        with self._lock:
            records = [r for r in self._items if r[1] == kind]
        return [_unpack(r) for r in records]

    def token_requests(self) -> list[Exchange]:
        return self.of_kind("token")

    def api_requests(self) -> list[Exchange]:
        return self.of_kind("api")

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def printable(self) -> list[dict[str, Any]]:
        return [e.printable() for e in self.snapshot()]

    def __repr__(self) -> str:
        return f"Journal({len(self)} exchanges, maxlen={self.maxlen})"
