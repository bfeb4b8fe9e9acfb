"""A loopback HTTP server that misbehaves in time, for the deadline tests. Bounded.

It drips its answer one byte every `interval` seconds (in the headers or in the body), says
nothing at all, never reads the request, or answers at once; it stops when its `with` block
ends, when the client hangs up, or after `lifetime` seconds, whichever comes first.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Literal

Behaviour = Literal["drip_headers", "drip_body", "silent", "deaf", "503_then_drip", "answer"]

HEAD_DRIP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Drip: "
BODY_DRIP_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n")
UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
               b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")


class SlowServer:
    """`with SlowServer("drip_headers") as server:` then talk to `server.url`."""

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        interval: float = 0.5,
        lifetime: float = 20.0,
        answer: bytes = b"",
    ) -> None:
        self.behaviour, self.interval, self.lifetime, self.answer = (
            behaviour, interval, lifetime, answer)
        self.connections = 0
        self.bytes_sent = 0
        self.request_lines: list[bytes] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._until = time.monotonic() + lifetime

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> SlowServer:
        self._spawn(self._accept)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(2.0)
        self._listener.close()

    # -- inside --------------------------------------------------------------------------

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._until

    def _accept(self) -> None:
        while self._running():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
                number = self.connections
            self._spawn(self._serve, conn, number)

    def _serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(0.05)
        with conn:
            try:
                if self.behaviour == "deaf":
                    self._wait()
                    return
                self._read_head(conn)
                if self.behaviour == "silent":
                    self._wait()
                elif self.behaviour == "answer":
                    self._send(conn, self.answer)
                elif self.behaviour == "503_then_drip" and number == 1:
                    self._send(conn, UNAVAILABLE)
                elif self.behaviour == "drip_body":
                    self._send(conn, BODY_DRIP_HEAD)
                    self._drip(conn, itertools.chain(b'{"access_token": "', itertools.repeat(97)))
                else:
                    self._drip(conn, itertools.chain(HEAD_DRIP, itertools.repeat(97)))
            except OSError:
                return  # the client hung up

    def _read_head(self, conn: socket.socket) -> None:
        seen = b""
        while b"\r\n\r\n" not in seen and self._running():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            seen += chunk
        with self._lock:
            self.request_lines.append(seen.split(b"\r\n", 1)[0])

    def _wait(self) -> None:
        while self._running():
            self._stop.wait(0.05)

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.bytes_sent += len(data)

    def _drip(self, conn: socket.socket, data: Iterator[int]) -> None:
        for byte in data:
            if self._stop.wait(self.interval) or not self._running():
                return
            self._send(conn, bytes([byte]))
