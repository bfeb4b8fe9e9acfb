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
from ._http import Request, json_response
from ._protocol import Peer, protocol_class, reset

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

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        # One signing thread per core: more would only queue for the GIL.
        self._signers = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="m2m-sign")
        # Open connections by peer address (kept by the protocol, read on the event loop).
        self.connections: dict[Peer, asyncio.BaseTransport] = {}
        self.protocol = protocol_class(self.connections)
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
        """Stop the signing threads (once the server has stopped serving)."""
        self._signers.shutdown(wait=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive, self.emulator.max_body)
        if body is None:  # the same answer the core gives in-process
            description = f"Request body over {self.emulator.max_body} bytes"
            too_big = json_response(
                413,
                {"error": "invalid_request", "error_description": description},
                [("connection", "close")],
            )
            await _send(send, too_big.status, too_big.headers, too_big.body)
            return
        client = scope.get("client") or ("127.0.0.1", 0)
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=tuple(
                (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
            ),
            body=body,
            client_host=str(client[0]),
        )
        if request.path == "/oauth/token":
            # RS256 signing holds no GIL: off the event loop it runs on every core, and the
            # other connections are not kept waiting behind it.
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self._signers, self.emulator.handle, request)
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
        await _send(send, response.status, response.headers, response.body)


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


def _peer(scope: Scope) -> Peer:
    client = scope.get("client") or ("", 0)
    return (str(client[0]), int(client[1]))


async def _send(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if not any(k == b"content-length" for k, _ in raw):
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
