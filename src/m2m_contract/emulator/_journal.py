"""The journal: every exchange the emulator answered, bounded, with a redacted printed form."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .._redact import redact, redact_header
from ._http import Request, Response

Kind = Literal["token", "api", "jwks", "discovery", "health", "admin", "handshake", "other"]

DEFAULT_JOURNAL_SIZE = 10_000


@dataclass(frozen=True)
class Exchange:
    """One request and the answer it got.

    `at` is when the request arrived and `answered` when its answer was sent (monotonic
    seconds); `answered` is None when none was: a reset or stalled connection, or a TLS
    handshake (kind "handshake", journaled when the ClientHello arrives).
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

    def printable(self) -> dict[str, Any]:
        """A dict safe to print or log: secrets, credentials and tokens are redacted."""
        req, resp = self.request, self.response
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": round(self.at, 6),
            "answered": None if self.answered is None else round(self.answered, 6),
            "request": {
                "method": req.method,
                "path": redact(req.path, self.secrets),
                "query": redact(req.query_string, self.secrets),
                "headers": [[k, redact_header(k, v, self.secrets)] for k, v in req.headers],
                "body": redact(req.body.decode("utf-8", "replace"), self.secrets),
            },
            "response": {
                "status": resp.status,
                "headers": [[k, redact_header(k, v, self.secrets)] for k, v in resp.headers],
                "body": redact(resp.body.decode("utf-8", "replace"), self.secrets),
            },
            "fault": self.fault,
        }

    def __repr__(self) -> str:
        return (
            f"Exchange(#{self.seq} {self.kind} {self.request.method}"
            f" {redact(self.request.path, self.secrets)}"
            f" -> {self.response.status})"
        )


class Journal:
    """A thread-safe ring buffer of exchanges (the oldest drop out past `maxlen`)."""

    def __init__(self, maxlen: int = DEFAULT_JOURNAL_SIZE) -> None:
        if maxlen < 1:
            raise ValueError("the journal needs room for at least one exchange")
        self._lock = threading.Lock()
        self._items: deque[Exchange] = deque(maxlen=maxlen)
        self._seq = 0

    @property
    def maxlen(self) -> int:
        return self._items.maxlen or 0

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(exchange)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self._items)

    def of_kind(self, kind: Kind) -> list[Exchange]:
        return [e for e in self.snapshot() if e.kind == kind]

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
