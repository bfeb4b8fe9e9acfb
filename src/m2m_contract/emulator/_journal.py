"""The journal: every exchange the emulator answered, bounded in count and in bytes, with a
redacted printed form.

What a client sends is kept for assertions and checks, but never without bound: a path,
query, header or body longer than the `STORED_*` sizes is stored cut short, and the exchange
names the parts cut in `truncated`. The oldest exchanges drop out past `maxlen` exchanges or
`max_bytes` bytes, whichever comes first.
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
STORED_TEXT = 8 * 1024  # characters of a path, a query string or one header value
STORED_HEADERS = 32 * 1024  # characters of all of a message's header names and values
_OVERHEAD = 1024  # what the objects around the text cost, roughly, per exchange


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got.

    `at` is when the request arrived and `answered` when its answer was sent (monotonic
    seconds); `answered` is None when none was: a reset or stalled connection, or a TLS
    handshake (kind "handshake", journaled when the ClientHello arrives). `truncated` names
    the parts stored cut short ("request.headers", "request.body", ...).
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


def _cut_headers(headers: Headers) -> tuple[Headers, bool]:
    kept: list[tuple[str, str]] = []
    room, cut = STORED_HEADERS, False
    for name, value in headers:
        if len(value) > STORED_TEXT:
            value, cut = value[:STORED_TEXT], True
        if len(name) + len(value) > room:
            cut = True
            break
        room -= len(name) + len(value)
        kept.append((name[:STORED_TEXT], value))
    return tuple(kept), cut


def bounded(exchange: Exchange) -> Exchange:
    """The exchange as the journal stores it: every part within its `STORED_*` size."""
    req, resp = exchange.request, exchange.response
    small = (
        len(req.body) <= STORED_BODY
        and len(resp.body) <= STORED_BODY
        and len(req.path) <= STORED_TEXT
        and len(req.query_string) <= STORED_TEXT
        and _headers_size(req.headers) <= STORED_HEADERS
        and _headers_size(tuple(resp.headers)) <= STORED_HEADERS
        and all(len(v) <= STORED_TEXT for _, v in (*req.headers, *resp.headers))
    )
    if small:
        return exchange
    cut: list[str] = list(exchange.truncated)
    req_headers, headers_cut = _cut_headers(req.headers)
    resp_headers, resp_headers_cut = _cut_headers(tuple(resp.headers))
    for part, was_cut in (
        ("request.path", len(req.path) > STORED_TEXT),
        ("request.query", len(req.query_string) > STORED_TEXT),
        ("request.headers", headers_cut),
        ("request.body", len(req.body) > STORED_BODY),
        ("response.headers", resp_headers_cut),
        ("response.body", len(resp.body) > STORED_BODY),
    ):
        if was_cut and part not in cut:
            cut.append(part)
    # Slices copy: the journal keeps no reference to the whole of a large request.
    request = replace(
        req,
        path=req.path[:STORED_TEXT],
        query_string=req.query_string[:STORED_TEXT],
        headers=req_headers,
        body=req.body[:STORED_BODY],
    )
    response = replace(resp, headers=list(resp_headers), body=resp.body[:STORED_BODY])
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
    )
    try:
        return exchange.seq, exchange.kind, marshal.dumps(fields)
    except ValueError:  # params holding something JSON never gives: keep the rest
        return exchange.seq, exchange.kind, marshal.dumps((*fields[:5], None, *fields[6:]))


def _unpack(record: _Record) -> Exchange:
    seq, kind, at, req, resp, params, fault, secrets, answered, truncated = marshal.loads(
        record[2]
    )
    status, headers, body, delay, fate = resp
    response = Response(status, list(headers), body, delay, fate)
    return Exchange(
        seq, kind, at, Request(*req), response, params, fault, secrets, answered, truncated
    )


class Journal:
    """A thread-safe ring buffer of exchanges: the oldest drop out past `maxlen` exchanges or
    `max_bytes` bytes (each exchange is stored bounded first, see `bounded`)."""

    def __init__(
        self, maxlen: int = DEFAULT_JOURNAL_SIZE, max_bytes: int = DEFAULT_JOURNAL_BYTES
    ) -> None:
        if maxlen < 1:
            raise ValueError("the journal needs room for at least one exchange")
        if max_bytes < 1:
            raise ValueError("the journal needs room for at least one byte")
        self._lock = threading.Lock()
        self._items: deque[_Record] = deque()
        self._sizes: deque[int] = deque()
        self._maxlen, self._max_bytes = maxlen, max_bytes
        self._bytes = 0
        self._seq = 0

    @property
    def maxlen(self) -> int:
        return self._maxlen

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

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
        stored = bounded(exchange)
        size, record = stored.size, _pack(stored)
        with self._lock:
            self._items.append(record)
            self._sizes.append(size)
            self._bytes += size
            while len(self._items) > 1 and (
                len(self._items) > self._maxlen or self._bytes > self._max_bytes
            ):
                self._items.popleft()
                self._bytes -= self._sizes.popleft()

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
