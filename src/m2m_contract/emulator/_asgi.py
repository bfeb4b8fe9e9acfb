"""The HTTP door: a plain ASGI app over the core (served by uvicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._core import Emulator
from ._door_journal import DoorJournal
from ._http import Request, Response
from ._limits import Limits
from ._protocol import Connections, Peer, protocol_class, refusal, reset

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_DROP_NOTE = "ASGI callable returned without completing response."


class _QuietDrop(logging.Filter):
    """A dropped connection is a fault we asked for, not a server error worth logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _DROP_NOTE


logging.getLogger("uvicorn.error").addFilter(_QuietDrop())


class EmulatorApp:
    """ASGI 3 application answering every HTTP request through the emulator core."""

    def __init__(
        self, emulator: Emulator, limits: Limits | None = None, parser: str = "auto"
    ) -> None:
        self.emulator = emulator
        self.limits = limits or Limits()
        # Whatever this door accepts is journaled whole: a head up to its limit, a body up to
        # the emulator's.
        emulator.journal.widen(max_text=self.limits.max_header_bytes, max_body=emulator.max_body)
        # One signing thread per core: more would only queue for the GIL.
        self._signers = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="m2m-sign")
        # The admin API (a journal page is redacted and encoded there) never holds the loop.
        self._admin = ThreadPoolExecutor(1, thread_name_prefix="m2m-admin")
        # Open connections by peer address (kept by the protocol, read on the event loop);
        # what the protocol refuses is journaled.
        self.connections = Connections(self.limits, DoorJournal(emulator))
        self.protocol = protocol_class(self.connections, parser)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stalled: set[asyncio.Future[None]] = set()
        self._released = False

    def release_stalls(self) -> None:
        """Reset every connection a stall fault holds, and hold none from now on (thread-safe;
        called before the server stops, which would otherwise wait for them for ever)."""
        self._released = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                loop.call_soon_threadsafe(lambda: [f.cancel() for f in list(self._stalled)])

    def close(self) -> None:
        """Stop the signing and admin threads (once the server has stopped serving)."""
        self._signers.shutdown(wait=True)
        self._admin.shutdown(wait=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        if _upgrade(raw_headers) is not None:
            # No WebSocket (or other protocol) here: a plain JSON refusal, and the connection
            # closes, as the parser stopped reading it at the upgrade.
            chunked = _header(raw_headers, b"transfer-encoding") is not None
            unread = bool(_declared_length(raw_headers)) or chunked
            description = "Protocol upgrades (WebSocket, h2c) are not supported"
            await self._refuse(send, _request(scope, b""), 400, description, unread)
            return
        body, state = await self._read_body(raw_headers, receive)
        request = _request(scope, body)
        if state == "stopped":
            after = self.limits.body_timeout
            description = f"The request body stopped arriving for {after:g} s"
            await self._refuse(send, request, 408, description, True)
            return
        whole = state == "whole"
        loop = asyncio.get_running_loop()
        if request.path == "/oauth/token":
            # RS256 signing holds no GIL: off the event loop it runs on every core, and the
            # other connections are not kept waiting behind it.
            response = await loop.run_in_executor(self._signers, self.emulator.handle, request)
        elif request.path.startswith("/__admin"):
            response = await loop.run_in_executor(self._admin, self.emulator.handle, request)
        else:
            response = self.emulator.handle(request)
        if response.delay:
            await asyncio.sleep(response.delay)
        if response.fate == "stall":
            await self._stall(receive)
        if response.fate in ("reset", "stall"):
            transport = self.connections.get(_peer(scope))
            if transport is not None:
                reset(transport)
                await receive()  # the disconnect: uvicorn then knows no answer is due
            return
        if response.fate == "drop":
            # Start an answer, then return without its body: the server closes the connection.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"100")],
                }
            )
            return
        headers = response.headers
        if not whole:  # part of an oversized body is still unread: close after answering
            headers = [*headers, ("connection", "close")]
        await _send(send, response.status, headers, response.body)

    async def _read_body(
        self, headers: list[tuple[bytes, bytes]], receive: Receive
    ) -> tuple[bytes, str]:
        """The body and how it was read: "whole" (to its end), "drained" (the rest of an
        oversized body was discarded or never asked for) or "stopped" (what arrived before
        it stopped arriving for `body_timeout`).

        A body over the emulator's `max_body` is kept to its first `max_body + 1` bytes (the
        core answers 413) and the rest is read and discarded, up to `drain_bytes` and
        `drain_timeout`: a client still sending would otherwise get a reset, not the 413.
        One waiting for `100 Continue` with a declared length over the limit is not asked
        for its body at all.
        """
        limit, limits = self.emulator.max_body, self.limits
        declared = _declared_length(headers)
        if declared is not None and declared > limit and _expects_continue(headers):
            return b"", "drained"
        chunks: list[bytes] = []
        kept = size = 0
        drain_until: float | None = None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(limits.body_timeout) as waiting:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return b"".join(chunks), "whole"  # all the client sent
                    chunk: bytes = message.get("body", b"")
                    size += len(chunk)
                    if kept <= limit:
                        chunks.append(chunk[: limit + 1 - kept])
                        kept += len(chunks[-1])
                    if not message.get("more_body", False):
                        return b"".join(chunks), "whole"
                    now = loop.time()
                    if size > limit:
                        drain_until = drain_until or now + limits.drain_timeout
                        if size > limits.drain_bytes or now > drain_until:
                            return b"".join(chunks), "drained"
                    waiting.reschedule(now + limits.body_timeout)
        except TimeoutError:
            return b"".join(chunks), "stopped"

    async def _refuse(
        self, send: Send, request: Request, status: int, description: str, body_unread: bool
    ) -> None:
        """Journal `request` as refused at the door (`body_unread`: not all its body was
        read), then answer it with a door-level JSON error and close."""
        headers, body = refusal(status, description)
        response = Response(
            status, [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers], body
        )
        self.emulator.record_refusal(request, response, ("request.body",) if body_unread else ())
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _stall(self, receive: Receive) -> None:
        """Hold the request unanswered until the client goes away or the server stops."""
        self._loop = asyncio.get_running_loop()
        if self._released:
            return
        waiter: asyncio.Future[None] = asyncio.ensure_future(_until_disconnect(receive))
        self._stalled.add(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the app itself is being cancelled, not just released
        finally:
            self._stalled.discard(waiter)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _request(scope: Scope, body: bytes) -> Request:
    client = scope.get("client")  # the socket's peer; None (unknown) is never loopback
    return Request(
        method=scope["method"],
        path=scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=tuple(
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
        ),
        body=body,
        client_host=str(client[0]) if client else "",
    )


def _peer(scope: Scope) -> Peer:
    client = scope.get("client") or ("", 0)
    return (str(client[0]), int(client[1]))


async def _send(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if not any(k == b"content-length" for k, _ in raw):
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    value = (_header(headers, b"content-length") or b"").strip()
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _expects_continue(headers: list[tuple[bytes, bytes]]) -> bool:
    return (_header(headers, b"expect") or b"").strip().lower() == b"100-continue"


def _upgrade(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The protocol asked for in an `Upgrade` request (`Connection: upgrade`), if any."""
    connection = (_header(headers, b"connection") or b"").lower()
    upgrade = _header(headers, b"upgrade")
    if upgrade is None or b"upgrade" not in [t.strip() for t in connection.split(b",")]:
        return None
    return upgrade.strip().lower()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
