"""A fault-injecting TCP proxy on loopback, for clients that must survive a bad network.

`FaultProxy` listens on 127.0.0.1 and forwards HTTP/1.1 to one upstream (the emulator's HTTP
door). It frames messages itself (request head + Content-Length body, answer likewise), so a
fault hits one *request*, even on a kept-alive connection, instead of whatever connection
happens to carry it. Faults are armed like the emulator's own: in order, for `times` requests
(None = until cleared), for the token endpoint, the API or any path:

- `reset`: answer nothing and close with an RST (SO_LINGER 0); the request never reaches
  the emulator;
- `stall`: forward nothing, answer nothing, until the client gives up (bounded: `stall_limit`);
- `close_mid_body`: forward the request, send the answer's head and half its body, close;
- `throttle`: forward the answer in small chunks with pauses (slow, but complete).

It runs its own event loop in one thread, stops itself after `lifetime` seconds at the latest,
and on stop() cancels every connection and closes every socket, so tests can check that
nothing leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

Action = Literal["pass", "reset", "stall", "close_mid_body", "throttle"]
Target = Literal["token", "api", "any"]

_MAX_HEAD = 64 * 1024
_START_TIMEOUT = 5.0


@dataclass
class Armed:
    action: Action
    target: Target
    remaining: int | None  # None: sticky

    def matches(self, path: str) -> bool:
        if self.target == "token":
            return path == "/oauth/token"
        if self.target == "api":
            return path == "/api" or path.startswith("/api/")
        return True


@dataclass(frozen=True)
class Seen:
    """One request the proxy handled, and what it did to it."""

    method: str
    path: str
    action: Action


class FaultProxy:
    """`with FaultProxy(host, port) as proxy: proxy.arm("reset", "token")`."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        stall_limit: float = 10.0,
        lifetime: float = 120.0,
        throttle_chunk: int = 64,
        throttle_pause: float = 0.002,
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.stall_limit, self.lifetime = stall_limit, lifetime
        self.throttle_chunk, self.throttle_pause = throttle_chunk, throttle_pause
        self._lock = threading.Lock()
        self._armed: deque[Armed] = deque()
        self._seen: list[Seen] = []
        self._connections = 0
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._port = 0

    # -- control, from the test's thread -------------------------------------------------

    def arm(self, action: Action, target: Target = "any", times: int | None = 1) -> None:
        with self._lock:
            self._armed.append(Armed(action, target, times))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    @property
    def open_connections(self) -> int:
        """Client connections not yet closed (0 once every client has hung up)."""
        with self._lock:
            return self._connections

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or not self._port:
            self.stop()
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended (lifetime)
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(_START_TIMEOUT)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the proxy's own thread ----------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self._ready.set()  # never leave start() waiting if the loop died early

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            with self._lock:
                self._connections += 1
            try:
                await self._serve(reader, writer)
            finally:
                handlers.discard(task)
                await _close(writer)
                with self._lock:
                    self._connections -= 1

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.lifetime)
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()

    def _take(self, path: str) -> Action:
        with self._lock:
            for armed in self._armed:
                if armed.matches(path):
                    if armed.remaining is not None:
                        armed.remaining -= 1
                        if armed.remaining <= 0:
                            self._armed.remove(armed)
                    return armed.action
        return "pass"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay requests on one client connection until either side closes it."""
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                request = await _read_message(reader)
                if request is None:
                    return
                head, body = request
                method, path = _request_line(head)
                action = self._take(path)
                with self._lock:
                    self._seen.append(Seen(method, path, action))
                if action == "reset":
                    _abort_with_rst(writer)
                    return
                if action == "stall":
                    # Wait for the client to hang up (its timeout), bounded by stall_limit.
                    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                        await asyncio.wait_for(reader.read(), self.stall_limit)
                    return
                if upstream is None:
                    upstream = await asyncio.open_connection(*self._upstream)
                upstream[1].write(head + body)
                await upstream[1].drain()
                answer = await _read_message(upstream[0], partial_ok=True)
                if answer is None:
                    return
                keep_open = await self._answer(writer, action, *answer)
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return  # the client went away: nothing left to relay
        finally:
            if upstream is not None:
                await _close(upstream[1])

    async def _answer(
        self, writer: asyncio.StreamWriter, action: Action, head: bytes, body: bytes
    ) -> bool:
        """Send one upstream answer as `action` says; False: close the connection now."""
        if action == "close_mid_body":
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            return False
        data = head + body
        if action == "throttle":
            for start in range(0, len(data), self.throttle_chunk):
                writer.write(data[start : start + self.throttle_chunk])
                await writer.drain()
                await asyncio.sleep(self.throttle_pause)
        else:
            writer.write(data)
            await writer.drain()
        complete = len(body) == _content_length(head)
        return complete and b"connection: close" not in head.lower()


async def _read_message(
    reader: asyncio.StreamReader, *, partial_ok: bool = False
) -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 message framed by Content-Length; None on a clean end of stream.

    With `partial_ok`, a body cut short (the emulator's own drop fault) is returned as is."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    if len(head) > _MAX_HEAD:
        raise ConnectionError("message head too large")
    length = _content_length(head)
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        if not partial_ok:
            raise
        body = exc.partial
    return head, body


def _request_line(head: bytes) -> tuple[str, str]:
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    method, _, rest = line.partition(" ")
    target = rest.split(" ", 1)[0]
    return method, target.split("?", 1)[0]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # Linger on, timeout 0: close() sends an RST instead of an orderly FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
