"""The HTTP door's limits: what one connection may send, how long it may take, how many."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

# File descriptors kept free for everything else the process opens (logs, TLS files, ...).
_FD_RESERVE = 64


@dataclass(frozen=True)
class Limits:
    """Bounds on the HTTP door, so that no client can knock the emulator over.

    A request head (request line and headers) over `max_header_bytes`, or with more than
    `max_headers` header lines, gets `431`; one not complete `header_timeout` seconds after
    its first byte (or after the connection opened) gets `408`. A body that stops arriving
    for `body_timeout` seconds gets `408`. An idle keep-alive connection is closed after
    `idle_timeout` seconds. An oversized body (over the emulator's `max_body`) is read and
    discarded, up to `drain_bytes` and `drain_timeout`, before its `413` is sent, so that the
    client, still sending, receives the answer instead of a reset. At most `max_connections`
    connections are open (fewer when `ulimit -n` allows fewer): at the cap a new connection
    closes the oldest idle one, or is refused with `503` when every one is busy.
    """

    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_connections: int = 1024
    drain_bytes: int = 256 * 1024 * 1024
    drain_timeout: float = 30.0
    linger: float = 2.0  # how long a refused connection is read (and discarded) before closing

    def __post_init__(self) -> None:
        for name in ("max_header_bytes", "max_headers", "max_connections", "drain_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("header_timeout", "body_timeout", "idle_timeout", "drain_timeout", "linger"):
            if not 0 < getattr(self, name) < float("inf"):
                raise ValueError(f"{name} must be a positive number of seconds")

    def connection_cap(self) -> int:
        """`max_connections`, lowered to what the process's file descriptor limit leaves."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        try:
            in_use = len(os.listdir("/proc/self/fd"))
        except OSError:
            in_use = 0
        return max(1, min(self.max_connections, soft - in_use - _FD_RESERVE))
