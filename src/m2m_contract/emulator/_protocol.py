"""The HTTP door's connection layer: uvicorn's HTTP protocol with the emulator's guards.

Every accepted connection gets TCP_NODELAY (whatever the event loop: asyncio only sets it
itself on sockets created with IPPROTO_TCP, so keep-alive answers would otherwise wait on
Nagle), and is registered by its peer address so that the app can reset it, which an ASGI
app cannot otherwise do.

The guards (`Limits`), applied before uvicorn's parser sees a byte, whichever parser it is:
a request head is bounded in bytes and header lines (431) and in time (408); the number of
open connections is capped (the oldest idle one makes room, or the newcomer gets 503). A
refused connection gets a complete JSON answer, is half-closed, and what the client still
sends is read and discarded for a moment: the client reads the answer instead of a reset.

What the door refuses is reported to a `DoorLog` (the emulator's journal): the bytes read of
a refused request head (its guard's 431 and 408, the parser's 400), kept as the guard counts
them, so that only a refusal costs more than a list append; and a count of the requests it
read bytes of but cannot hand over.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import socket
import struct
from dataclasses import dataclass
from typing import Any, Protocol

from ._limits import Limits

Peer = tuple[str, int]

# uvicorn's own answer to a request its parser refuses (send_400_response).
_PARSER_400 = ((b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"))


@dataclass(frozen=True)
class RefusedHead:
    """A request the door refused before the app saw it: the bytes read of its head (cut at
    the door's head limit when it was longer), whether the head's end was among them and
    nothing of it was cut, the bytes read after it, and the answer sent."""

    head: bytes
    complete: bool
    rest: bytes
    peer: str
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class DoorLog(Protocol):
    """Where the door reports what it refused."""

    def refused(self, refused: RefusedHead) -> None: ...

    def unjournaled(self) -> None: ...


class _NoLog:
    def refused(self, refused: RefusedHead) -> None:
        pass

    def unjournaled(self) -> None:
        pass


class Connections:
    """The open connections of one server: by peer address, and in the order they opened."""

    def __init__(self, limits: Limits, log: DoorLog | None = None) -> None:
        self.limits = limits
        self.log: DoorLog = log or _NoLog()
        self.cap = limits.connection_cap()
        self.by_peer: dict[Peer, asyncio.BaseTransport] = {}
        self.opened: dict[Any, None] = {}  # protocols, oldest first
        self.evicted = 0
        self.refused = 0

    def get(self, peer: Peer) -> asyncio.BaseTransport | None:
        return self.by_peer.get(peer)

    def values(self) -> list[asyncio.BaseTransport]:
        return list(self.by_peer.values())

    def admit(self, protocol: Any) -> bool:
        """Make room for `protocol` (closing the oldest idle connection) or refuse it."""
        if len(self.opened) >= self.cap:
            victim = next((p for p in self.opened if p.m2m_idle()), None)
            if victim is None:
                self.refused += 1
                self.opened[protocol] = None
                protocol.m2m_refuse(503, "The emulator has too many open connections; retry")
                return False
            self.evicted += 1
            victim.m2m_close()
        self.opened[protocol] = None
        return True


def _base(parser: str) -> type[asyncio.Protocol]:
    if parser == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    if parser == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    if parser != "auto":
        raise ValueError(f"parser must be auto, h11 or httptools, not {parser!r}")
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    return AutoHTTPProtocol


def refusal(status: int, description: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and JSON body of a door-level refusal (RFC 6749 style), closing."""
    body = json.dumps({"error": "invalid_request", "error_description": description}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return headers, body


def refusal_bytes(status: int, description: str) -> bytes:
    """A complete HTTP/1.1 refusal, written straight to a connection."""
    headers, body = refusal(status, description)
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode("ascii")]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def protocol_class(connections: Connections, parser: str = "auto") -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (`parser`: httptools when installed, else h11) with the guards."""
    base: Any = _base(parser)
    limits = connections.limits
    log = connections.log

    class EmulatorProtocol(base):  # type: ignore[misc]
        _m2m_peer: Peer | None = None
        _m2m_timer: asyncio.TimerHandle | None = None
        _m2m_refused = False
        _m2m_discarded = 0
        _m2m_head = True  # reading a request head: no request is being answered
        _m2m_head_bytes = 0
        _m2m_head_lines = 0
        _m2m_tail = b""  # the last bytes of the head so far (its end may straddle two reads)
        _m2m_last = b""  # the read that ended the head, and where in it the head ended
        _m2m_end = 0
        _m2m_logged = False  # what was read of this connection's request is accounted for

        def connection_made(self, transport: Any) -> None:
            self._m2m_kept: list[bytes] = []  # the head's bytes, as the guard counted them
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)
            peer = transport.get_extra_info("peername")
            if isinstance(peer, tuple) and len(peer) >= 2:
                self._m2m_peer = (str(peer[0]), int(peer[1]))
                connections.by_peer[self._m2m_peer] = transport
            self._m2m_new_head()
            if connections.admit(self):
                self._m2m_arm(limits.header_timeout)  # from the moment the connection opened

        def connection_lost(self, exc: Exception | None) -> None:
            if self._m2m_head_bytes and self._m2m_head and not self._m2m_refused:
                self._m2m_unjournaled()  # the client hung up in the middle of a head
            self._m2m_disarm()
            if self._m2m_peer is not None:
                connections.by_peer.pop(self._m2m_peer, None)
            connections.opened.pop(self, None)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._m2m_refused:
                if not self._m2m_logged and data:
                    self._m2m_unjournaled()  # refused at the cap, and sending anyway
                self._m2m_discarded += len(data)
                if self._m2m_discarded > limits.drain_bytes:
                    self.transport.abort()
                return
            if self._m2m_head and not self._m2m_count_head(data):
                return
            super().data_received(data)

        def _m2m_count_head(self, data: bytes) -> bool:
            """Count `data` into the request head; False (and a 431) once it is too big."""
            if not self._m2m_head_bytes and self._m2m_timer is None:
                self._m2m_arm(limits.header_timeout)  # the first byte of a keep-alive request
            window = self._m2m_tail + data
            end = window.find(b"\r\n\r\n")
            head = data if end < 0 else data[: max(0, end + 4 - len(self._m2m_tail))]
            self._m2m_kept.append(head)
            self._m2m_head_bytes += len(head)
            self._m2m_head_lines += head.count(b"\n")
            if self._m2m_head_bytes > limits.max_header_bytes:
                self._m2m_refuse_head(
                    431, f"The request head is over {limits.max_header_bytes} bytes", whole=False
                )
                return False
            if end >= 0:
                self._m2m_last, self._m2m_end = data, len(head)
            if self._m2m_head_lines > limits.max_headers + 2:  # request line and blank line
                self._m2m_refuse_head(
                    431, f"The request has more than {limits.max_headers} headers", end >= 0
                )
                return False
            if end >= 0:
                self._m2m_head = False
                self._m2m_disarm()
            else:
                self._m2m_tail = window[-3:]
            return True

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._m2m_new_head()

        def _m2m_new_head(self) -> None:
            self._m2m_head, self._m2m_head_bytes, self._m2m_head_lines = True, 0, 0
            self._m2m_tail = self._m2m_last = b""
            self._m2m_kept.clear()

        def send_400_response(self, msg: str) -> None:
            """uvicorn's answer to what its parser cannot read: journal what was read first."""
            cycle = getattr(self, "cycle", None)
            if cycle is not None and not cycle.response_complete:
                # A body, or a pipelined request behind one being answered: the bytes the
                # parser refused are not the head the guard kept.
                self._m2m_unjournaled()
            elif not self._m2m_logged:
                self._m2m_report(400, _PARSER_400, msg.encode(), whole=not self._m2m_head)
            super().send_400_response(msg)

        def _m2m_report(
            self, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, whole: bool
        ) -> None:
            """Hand the head read so far to the log (`whole`: its end was read, and kept)."""
            self._m2m_logged = True
            head = b"".join(self._m2m_kept)
            if len(head) > limits.max_header_bytes:
                head, whole = head[: limits.max_header_bytes], False
            rest = self._m2m_last[self._m2m_end :] if whole else b""
            peer = self._m2m_peer[0] if self._m2m_peer else ""
            self._m2m_kept.clear()
            self._m2m_last = b""
            log.refused(RefusedHead(head, whole, rest, peer, status, headers, body))

        def _m2m_unjournaled(self) -> None:
            if not self._m2m_logged:
                self._m2m_logged = True
                log.unjournaled()

        def _unsupported_upgrade_warning(self) -> None:
            """The app answers an upgrade request itself (400): nothing to warn about."""

        # -- timers, eviction and refusal --------------------------------------------

        def _m2m_arm(self, seconds: float) -> None:
            self._m2m_disarm()
            self._m2m_timer = self.loop.call_later(seconds, self._m2m_head_timeout)

        def _m2m_disarm(self) -> None:
            if self._m2m_timer is not None:
                self._m2m_timer.cancel()
                self._m2m_timer = None

        def _m2m_head_timeout(self) -> None:
            self._m2m_timer = None
            if not self._m2m_head or self._m2m_refused:
                return
            if self._m2m_head_bytes:
                self._m2m_refuse_head(
                    408,
                    f"The request head did not arrive within {limits.header_timeout:g} s",
                    whole=False,
                )
            else:
                self.m2m_close()  # opened, then nothing: no request to answer

        def m2m_idle(self) -> bool:
            """No request is being answered: the connection can be closed to make room."""
            return bool(self._m2m_head) and not self._m2m_refused

        def m2m_close(self) -> None:
            if self._m2m_head_bytes and self._m2m_head and not self._m2m_refused:
                self._m2m_unjournaled()  # closed to make room while it sent its head
            self._m2m_disarm()
            connections.opened.pop(self, None)
            if not self.transport.is_closing():
                self.transport.close()

        def _m2m_refuse_head(self, status: int, description: str, whole: bool) -> None:
            """Report the head read so far (`whole`: its end was read), then refuse it."""
            if not self._m2m_logged and not self._m2m_refused:
                headers, body = refusal(status, description)
                self._m2m_report(status, tuple(headers), body, whole)
            self.m2m_refuse(status, description)

        def m2m_refuse(self, status: int, description: str) -> None:
            """Answer `status` and close, reading (and discarding) what the client still sends
            for `limits.linger` seconds so that it gets the answer rather than a reset."""
            self._m2m_refused = True
            self._m2m_disarm()
            transport = self.transport
            if transport.is_closing():
                return
            transport.write(refusal_bytes(status, description))
            if transport.can_write_eof():
                transport.write_eof()
            self._m2m_timer = self.loop.call_later(limits.linger, transport.close)

    return EmulatorProtocol


def reset(transport: asyncio.BaseTransport) -> None:
    """Close the connection with a TCP RST: the peer sees 'connection reset', no answer."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()
